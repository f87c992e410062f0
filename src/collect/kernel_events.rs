//! Kernel-log records behind a node that stops answering: hung tasks, soft and hard lockups,
//! RCU stalls, filesystem errors, block-layer I/O errors and filesystems the kernel made
//! read-only. The patterns are node-problem-detector's kernel monitor
//! (kubernetes/node-problem-detector `config/kernel-monitor.json`: `TaskHung`, `Ext4Error`,
//! `IOError`, `XfsShutdown`, `FilesystemIsReadOnly`), widened to the wordings each kernel
//! version prints, as the samples under `tests/corpus/{hung-task,lockup,fs-error}` show:
//!
//! - `INFO: task docker:20744 blocked for more than 120 seconds.` (kernel/hung_task.c);
//! - `watchdog: BUG: soft lockup - CPU#7 stuck for 28s! [qemu-ga:864]` (`NMI watchdog:`
//!   before 4.15), `Watchdog detected hard LOCKUP on cpu 3` (kernel/watchdog.c);
//! - `rcu: INFO: rcu_sched detected stalls on CPUs/tasks:`, `INFO: rcu_sched self-detected
//!   stall on CPU`, `rcu_preempt detected expedited stalls` (kernel/rcu/tree_stall.h);
//! - `EXT4-fs error (device sdf): ...`, `EXT4-fs (sdf): I/O error while writing superblock`,
//!   `EXT4-fs warning (device dm-1): ext4_end_bio:316: I/O error -5 writing to inode ...`,
//!   `XFS (dm-4): metadata I/O error ...`, `XFS (sdb6): log I/O error -5`, `BTRFS error
//!   (device sda1): ...`;
//! - `EXT4-fs (sda1): Remounting filesystem read-only`, `XFS (dm-4): I/O Error Detected.
//!   Shutting down filesystem`, `XFS (sdb6): Filesystem has been shut down due to log error`,
//!   `BTRFS info (device sda1): forced readonly`;
//! - `blk_update_request: I/O error, dev sdd, sector 193211232 ...` (before 5.17),
//!   `I/O error, dev nvme0n1, sector 2048 op 0x1:(WRITE) ...` (5.17+), `print_req_error:`
//!   (4.17-5.x), `end_request: I/O error, dev sda, sector N` (before 3.17), `critical medium
//!   error, dev sdb, sector N`, `Buffer I/O error on dev dm-1, logical block N, ...`.
//!
//! Parsing only: which records matter for the node is for the rules to say.

use crate::model::KmsgRecord;
use crate::model::health::{KernelEvent, KernelEventKind};

/// The events in `records`, oldest first.
pub fn parse_kernel_events(records: &[KmsgRecord]) -> Vec<KernelEvent> {
    records
        .iter()
        .filter_map(|r| {
            Some(KernelEvent {
                seq: r.seq,
                usec: r.usec,
                kind: classify(&r.message)?,
                message: r.message.clone(),
            })
        })
        .collect()
}

/// What one record reports, if it is one of the kinds above.
pub fn classify(m: &str) -> Option<KernelEventKind> {
    hung_task(m)
        .or_else(|| soft_lockup(m))
        .or_else(|| hard_lockup(m))
        .or_else(|| rcu_stall(m))
        .or_else(|| read_only(m))
        .or_else(|| fs_error(m))
        .or_else(|| io_error(m))
}

/// `INFO: task <comm>:<pid> blocked for more than <n> seconds.` The command may itself hold
/// `:` (`runc:[1:CHILD]`), so the pid is what follows the last one.
fn hung_task(m: &str) -> Option<KernelEventKind> {
    let (head, tail) = m.split_once(" blocked for more than ")?;
    let task = &head[head.find("task ")? + 5..];
    let (comm, pid) = task.trim_end().rsplit_once(':')?;
    let seconds = tail.split_whitespace().next()?.parse().ok()?;
    Some(KernelEventKind::HungTask {
        comm: comm.to_string(),
        pid: pid.parse().ok()?,
        seconds,
    })
}

/// `... soft lockup - CPU#<n> stuck for <s>s! [<comm>:<pid>]`.
fn soft_lockup(m: &str) -> Option<KernelEventKind> {
    let at = m.find("soft lockup")?;
    let rest = &m[at..];
    let cpu_at = rest.find("CPU#")? + 4;
    let cpu = leading_number(&rest[cpu_at..])?;
    let stuck = &rest[rest.find("stuck for ")? + 10..];
    let seconds = leading_number(stuck)?;
    // `! [` opens the task: the command may itself hold brackets (`runc:[1:CHILD]`).
    let open = rest.find("! [")? + 3;
    let inner = rest[open..].trim_end().strip_suffix(']')?;
    let (comm, pid) = inner.rsplit_once(':')?;
    Some(KernelEventKind::SoftLockup {
        cpu: u32::try_from(cpu).ok()?,
        seconds,
        comm: comm.to_string(),
        pid: pid.parse().ok()?,
    })
}

/// `Watchdog detected hard LOCKUP on cpu <n>`.
fn hard_lockup(m: &str) -> Option<KernelEventKind> {
    let rest = &m[m.find("hard LOCKUP on cpu ")? + 19..];
    Some(KernelEventKind::HardLockup {
        cpu: u32::try_from(leading_number(rest)?).ok()?,
    })
}

/// `rcu_sched detected stalls on CPUs/tasks`, `rcu_sched self-detected stall on CPU`,
/// `rcu_preempt detected expedited stalls`, `rcu_sched_state detected stall on CPU 0` (3.x).
fn rcu_stall(m: &str) -> Option<KernelEventKind> {
    let at = m
        .find(" self-detected stall")
        .or_else(|| m.find(" detected stall"))
        .or_else(|| m.find(" detected expedited stall"))?;
    let flavor = m[..at].rsplit([' ', '\t']).next()?;
    flavor
        .starts_with("rcu")
        .then(|| KernelEventKind::RcuStall {
            flavor: flavor.to_string(),
        })
}

/// The filesystem and device of `EXT4-fs error (device sdf)`, `EXT4-fs (sdf)`,
/// `XFS (dm-4)`, `BTRFS error (device sda1)`, `BTRFS: error (device sda1)`.
fn fs_and_device(m: &str) -> Option<(String, String)> {
    let fs = if m.starts_with("EXT4-fs") {
        "ext4"
    } else if m.starts_with("EXT3-fs") {
        "ext3"
    } else if m.starts_with("XFS ") {
        "xfs"
    } else if m.starts_with("BTRFS") {
        "btrfs"
    } else {
        return None;
    };
    let open = m.find('(')?;
    let close = open + m[open..].find(')')?;
    let inner = &m[open + 1..close];
    let device = inner.strip_prefix("device ").unwrap_or(inner).trim();
    (!device.is_empty()).then(|| (fs.to_string(), device.to_string()))
}

fn read_only(m: &str) -> Option<KernelEventKind> {
    let (fs, device) = fs_and_device(m)?;
    let lower = m.to_ascii_lowercase();
    let ro = lower.contains("remounting filesystem read-only")
        || lower.contains("shutting down filesystem")
        || lower.contains("filesystem has been shut down")
        || lower.contains("forced readonly");
    ro.then_some(KernelEventKind::RemountedReadOnly { fs, device })
}

fn fs_error(m: &str) -> Option<KernelEventKind> {
    let (fs, device) = fs_and_device(m)?;
    let lower = m.to_ascii_lowercase();
    // An ext4 warning is an error only when it reports failed I/O (`ext4_end_bio: I/O error
    // -5 writing to inode`); others (`Directory index full`) are not.
    let is_error = if lower.contains(" warning ") {
        lower.contains("i/o error")
    } else {
        lower.contains("error") || lower.contains("corruption")
    };
    is_error.then_some(KernelEventKind::FsError { fs, device })
}

/// `<...> error, dev <device>, sector <n>` and `Buffer I/O error on dev[ice] <device>, ...`.
fn io_error(m: &str) -> Option<KernelEventKind> {
    let device = if let Some(at) = m.find("Buffer I/O error on dev") {
        let rest = &m[at + 23..];
        let rest = rest.strip_prefix("ice").unwrap_or(rest);
        rest.trim_start().split([',', ' ']).next()?
    } else {
        let at = m.find("error, dev ")?;
        let rest = &m[at + 11..];
        if !rest.contains("sector") {
            return None;
        }
        rest.split([',', ' ']).next()?
    };
    (!device.is_empty()).then(|| KernelEventKind::IoError {
        device: device.to_string(),
    })
}

fn leading_number(s: &str) -> Option<u64> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(m: &str) -> Option<KernelEventKind> {
        classify(m)
    }

    #[test]
    fn hung_tasks_with_colons_in_the_command() {
        assert_eq!(
            k("INFO: task runc:[1:CHILD]:4242 blocked for more than 122 seconds."),
            Some(KernelEventKind::HungTask {
                comm: "runc:[1:CHILD]".into(),
                pid: 4242,
                seconds: 122
            })
        );
        assert_eq!(k("task x blocked for more than 5 seconds."), None);
    }

    #[test]
    fn lockups_and_stalls() {
        assert_eq!(
            k("NMI watchdog: BUG: soft lockup - CPU#34 stuck for 22s! [runc:[1:CHILD]:185318]"),
            Some(KernelEventKind::SoftLockup {
                cpu: 34,
                seconds: 22,
                comm: "runc:[1:CHILD]".into(),
                pid: 185318
            })
        );
        assert_eq!(
            k("NMI watchdog: Watchdog detected hard LOCKUP on cpu 3"),
            Some(KernelEventKind::HardLockup { cpu: 3 })
        );
        assert_eq!(
            k("rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"),
            Some(KernelEventKind::RcuStall {
                flavor: "rcu_preempt".into()
            })
        );
        assert_eq!(k("rcu: rcu_sched kthread starved for 5252 jiffies!"), None);
    }

    #[test]
    fn filesystem_and_block_errors() {
        assert_eq!(
            k("EXT4-fs (sda1): Remounting filesystem read-only"),
            Some(KernelEventKind::RemountedReadOnly {
                fs: "ext4".into(),
                device: "sda1".into()
            })
        );
        assert_eq!(
            k("EXT4-fs error (device sdf) in ext4_orphan_add:188: Journal has aborted"),
            Some(KernelEventKind::FsError {
                fs: "ext4".into(),
                device: "sdf".into()
            })
        );
        assert_eq!(
            k("EXT4-fs warning (device sda1): ext4_dx_add_entry:2468: Directory index full!"),
            None
        );
        assert_eq!(
            k(
                "I/O error, dev nvme0n1, sector 2048 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 2"
            ),
            Some(KernelEventKind::IoError {
                device: "nvme0n1".into()
            })
        );
        assert_eq!(
            k("Buffer I/O error on device dm-0, logical block 2477053"),
            Some(KernelEventKind::IoError {
                device: "dm-0".into()
            })
        );
        assert_eq!(k("XFS (vda1): Ending clean mount"), None);
        assert_eq!(k("eth0: renamed from veth1234"), None);
    }
}
