//! The kernel log: every record in the /dev/kmsg ring, parsed into level, sequence number,
//! microseconds since boot and message (Documentation/ABI/testing/dev-kmsg).

use super::Errors;
use crate::model::KmsgRecord;
use crate::source::Host;

const C: &str = "kmsg";

pub(super) fn collect(host: &dyn Host, errs: &mut Errors) -> Vec<KmsgRecord> {
    match host.kmsg() {
        Ok(lines) => {
            let mut out = Vec::with_capacity(lines.len());
            let mut bad = 0usize;
            let mut first_bad = None;
            for (i, l) in lines.iter().enumerate() {
                match parse_record(l) {
                    Some(r) => out.push(r),
                    None => {
                        bad += 1;
                        first_bad.get_or_insert(i + 1);
                    }
                }
            }
            if bad > 0 {
                errs.invalid(
                    C,
                    "/dev/kmsg",
                    first_bad,
                    format!(
                        "{bad} record(s) not in `prio,seq,usec,flags;message` form were skipped"
                    ),
                );
            }
            out
        }
        Err(e) => {
            errs.host(C, &e);
            Vec::new()
        }
    }
}

/// Parses one record: `6,1234,5678901,-;message`. Newer kernels may append fields after the
/// flags (`6,1234,5678901,-,caller=T42;message`); they are ignored.
pub fn parse_record(line: &str) -> Option<KmsgRecord> {
    let (head, message) = line.split_once(';')?;
    let mut f = head.split(',');
    let prio: u32 = f.next()?.trim().parse().ok()?;
    let seq: u64 = f.next()?.parse().ok()?;
    let usec: u64 = f.next()?.parse().ok()?;
    f.next()?;
    Some(KmsgRecord {
        level: (prio & 7) as u8,
        facility: ((prio >> 3) & 0xff) as u8,
        seq,
        usec,
        message: message.trim_end_matches('\n').to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_with_and_without_caller() {
        let r = parse_record("6,812,5123456,-;eth0: renamed from veth1234").unwrap();
        assert_eq!((r.level, r.facility, r.seq, r.usec), (6, 0, 812, 5_123_456));
        assert_eq!(r.message, "eth0: renamed from veth1234");
        let r = parse_record("3,99,1,c,caller=T42;oom-kill:constraint=CONSTRAINT_MEMCG;x").unwrap();
        assert_eq!(r.level, 3);
        assert_eq!(r.message, "oom-kill:constraint=CONSTRAINT_MEMCG;x");
        let r = parse_record("30,5,7,-;systemd[1]: Started x").unwrap();
        assert_eq!((r.facility, r.level), (3, 6));
        assert!(parse_record("no separator").is_none());
        assert!(parse_record("x,1,2,-;m").is_none());
        assert!(parse_record("6,1,2;m").is_none());
    }
}
