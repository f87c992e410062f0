//! The real-log corpus: kernel OOM reports, kubelet eviction and node-condition lines, NVIDIA
//! Xid records, conntrack drops, hung tasks, lockups, filesystem and block I/O errors,
//! Kubernetes cgroup paths, and the GPU-memory / NCCL / shared-memory failures at the end of a
//! container's previous log as public bug reports and
//! upstream projects' test data show them, each parsed by the code path nodescope uses for
//! that source and compared with what the sample says must come out. One `#[test]` per
//! sample (tests/corpus/<family>/<name>.txt); tests/corpus/README.md describes the format
//! and lists every sample's source.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nodescope::collect::kernel_events::parse_kernel_events;
use nodescope::collect::{dns::is_table_full, gpu::parse_xid, oom::parse_oom_kills};
use nodescope::collect::{is_kubelet_syslog_line, parse_kmsg_record, parse_kubelet_log_line};
use nodescope::model::KmsgRecord;
use nodescope::model::cgroup_name::parse_cgroup_path;
use nodescope::model::health::KernelEventKind;

/// The capture time every kubelet sample is read at: klog headers carry no year.
const NOW: &str = "2026-11-22T03:00:00Z";

/// One sample file: its headers, the log, and what must be parsed from it.
struct Sample {
    wrapper: String,
    input: Vec<String>,
    expect: Vec<String>,
}

fn load(family: &str, name: &str) -> Sample {
    let path = format!(
        "{}/tests/corpus/{family}/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (head, rest) = text
        .split_once("\n--- input\n")
        .unwrap_or_else(|| panic!("{path}: no `--- input` section"));
    let (input, expect) = rest
        .split_once("\n--- expect\n")
        .or_else(|| rest.strip_suffix("\n--- expect").map(|i| (i, "")))
        .unwrap_or_else(|| panic!("{path}: no `--- expect` section"));
    let header = |key: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
            .map(str::trim)
    };
    assert!(
        header("source").is_some_and(|s| !s.is_empty()),
        "{path}: every sample names its source"
    );
    Sample {
        wrapper: header("wrapper")
            .unwrap_or_else(|| panic!("{path}: no `# wrapper:`"))
            .to_string(),
        input: input.lines().map(String::from).collect(),
        expect: expect
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect(),
    }
}

/// A kernel-log line in its wrapper → the /dev/kmsg record nodescope would have read
/// (`prio,seq,usec,flags;message`), parsed by nodescope's own record parser. The message is
/// the text after the wrapper, exactly as the kernel wrote it into the ring:
/// - `kmsg`: already a record;
/// - `plain`: the bare message (upstream tests that stripped the prefix);
/// - `dmesg`: `[  123.456789] ` (and `[ T123]` caller ids, which /dev/kmsg keeps out of the
///   message), the time becoming the record's microseconds;
/// - `dmesg-ctime`: `[Thu Dec  7 00:05:14 2017] ` (`dmesg -T`);
/// - `dmesg-iso`: `kern  :warn  : 2025-01-21T04:41:44,283302+00:00 ` (`dmesg -x --time-format iso`);
/// - `syslog`: `Mar  3 10:00:00 host kernel: ` with or without a `[  123.4] ` after it.
///
/// Lines of the wrapper that are no kernel record (another program's syslog line) are dropped.
fn to_kmsg(wrapper: &str, seq: usize, line: &str) -> Option<KmsgRecord> {
    let (usec, msg) = match wrapper {
        "kmsg" => return Some(parse_kmsg_record(line).expect("a kmsg record")),
        "plain" => (0, line),
        "dmesg" => dmesg_time(line)?,
        "dmesg-ctime" => (0, line.split_once("] ")?.1),
        "dmesg-iso" => {
            let at = line.find("+00:00 ")? + 7;
            (0, &line[at..])
        }
        "syslog" => {
            let (_, msg) = line.split_once(" kernel: ")?;
            dmesg_time(msg).unwrap_or((0, msg))
        }
        w => panic!("unknown kernel wrapper {w}"),
    };
    let record = format!("6,{seq},{usec},-;{msg}");
    Some(parse_kmsg_record(&record).expect("a kmsg record"))
}

/// `[  123.456789] msg` or `[   37.117660][ T9185] msg` → (microseconds, msg).
fn dmesg_time(line: &str) -> Option<(u64, &str)> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (t, mut msg) = rest.split_once(']')?;
    let (s, us) = t.trim().split_once('.')?;
    let usec = s.parse::<u64>().ok()? * 1_000_000 + us.parse::<u64>().ok()?;
    if let Some(r) = msg.strip_prefix('[') {
        msg = r.split_once(']')?.1;
    }
    Some((usec, msg.strip_prefix(' ').unwrap_or(msg)))
}

fn records(s: &Sample) -> Vec<KmsgRecord> {
    s.input
        .iter()
        .enumerate()
        .filter_map(|(i, l)| to_kmsg(&s.wrapper, i + 1, l))
        .collect()
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".into(), T::to_string)
}

/// Every kill, one line each: what nodescope tells about it, cgroups read back into pod UID and
/// container id the way the analysis reads them.
fn oom(s: &Sample) -> Vec<String> {
    parse_oom_kills(&records(s))
        .iter()
        .map(|k| {
            let cg = parse_cgroup_path(k.task_memcg.as_deref().or(k.oom_memcg.as_deref()).unwrap_or(""));
            format!(
                "kill pid={} comm={} global={} constraint={} chosen={} score={} group={} uid={} anon_rss_kb={} oom_memcg={} task_memcg={} kubepods={} pod={} container={}",
                k.pid,
                k.comm,
                k.global,
                opt(&k.constraint),
                opt(&k.chosen_pid),
                opt(&k.score),
                k.group_kill,
                opt(&k.uid),
                opt(&k.anon_rss_kb),
                opt(&k.oom_memcg),
                opt(&k.task_memcg),
                cg.in_kubepods,
                opt(&cg.pod_uid),
                opt(&cg.container.map(|(_, id)| id)),
            )
        })
        .collect()
}

/// Kubelet lines through the path of their source: `journal` (the message only),
/// `kubelet.log` (every line), `syslog` (only lines whose tag is the kubelet's).
fn kubelet(s: &Sample) -> Vec<String> {
    let now: jiff::Timestamp = NOW.parse().unwrap();
    let (source, syslog) = match s.wrapper.as_str() {
        "journal" => ("journal", false),
        "kubelet.log" => ("/var/log/kubelet.log", false),
        "syslog" => ("/var/log/syslog", true),
        w => panic!("unknown kubelet wrapper {w}"),
    };
    s.input
        .iter()
        .filter(|l| !syslog || is_kubelet_syslog_line(l))
        .filter_map(|l| parse_kubelet_log_line(l, None, source, now))
        .map(|e| {
            let step = serde_json::to_value(e.step).unwrap();
            format!(
                "event step={} resource={} pods=[{}] condition={} time={}",
                step.as_str().unwrap(),
                opt(&e.resource),
                e.pods.join(","),
                opt(&e.condition),
                opt(&e.time),
            )
        })
        .collect()
}

fn xid(s: &Sample) -> Vec<String> {
    records(s)
        .iter()
        .filter_map(parse_xid)
        .map(|x| format!("xid n={} device={} message={}", x.xid, x.device, x.message))
        .collect()
}

fn conntrack(s: &Sample) -> Vec<String> {
    records(s)
        .iter()
        .filter(|r| is_table_full(&r.message))
        .map(|r| format!("table_full usec={}", r.usec))
        .collect()
}

/// Hung tasks, lockups, RCU stalls, filesystem and block I/O errors: every event the kernel
/// monitor parser yields, whatever the family (a hung-task sample may also hold an I/O error).
fn kernel_events(s: &Sample) -> Vec<String> {
    parse_kernel_events(&records(s))
        .iter()
        .map(|e| match &e.kind {
            KernelEventKind::HungTask { comm, pid, seconds } => {
                format!("hung_task comm={comm} pid={pid} seconds={seconds}")
            }
            KernelEventKind::SoftLockup {
                cpu,
                seconds,
                comm,
                pid,
            } => {
                format!("soft_lockup cpu={cpu} seconds={seconds} comm={comm} pid={pid}")
            }
            KernelEventKind::HardLockup { cpu } => format!("hard_lockup cpu={cpu}"),
            KernelEventKind::RcuStall { flavor } => format!("rcu_stall flavor={flavor}"),
            KernelEventKind::FsError { fs, device } => format!("fs_error fs={fs} device={device}"),
            KernelEventKind::IoError { device } => format!("io_error device={device}"),
            KernelEventKind::RemountedReadOnly { fs, device } => {
                format!("remounted_read_only fs={fs} device={device}")
            }
        })
        .collect()
}

/// The time every `program` line is stamped with when wrapped into the CRI log format.
const CRI_TIME: &str = "2024-05-01T03:00:00.123456789Z";

/// The end of a previous container log through the path `collect::prev_log` takes: the
/// lines [`Host::tail_lines`] keeps (`matching_lines` with the pattern table's needles), each
/// classified. `program` lines are what the program printed (what a bug report quotes); they
/// are wrapped the way containerd's CRI logger writes a full line to the kubelet's log file,
/// `<RFC3339Nano> <stream> F <line>` (containerd/containerd pkg/cri/io/logger.go
/// `redirectLogs`, tags from kubernetes/cri-api `LogTagFull`; read back by kubernetes
/// pkg/kubelet/kuberuntime/logs/logs.go `parseCRILog`). `cri` lines are log-file lines already.
///
/// [`Host::tail_lines`]: nodescope::source::Host::tail_lines
fn gpu_log(s: &Sample) -> Vec<String> {
    let lines: Vec<String> = match s.wrapper.as_str() {
        "program" => s
            .input
            .iter()
            .map(|l| format!("{CRI_TIME} stderr F {l}"))
            .collect(),
        "cri" => s.input.clone(),
        w => panic!("unknown previous-log wrapper {w}"),
    };
    let raw = lines.join("\n") + "\n";
    let needles = nodescope::collect::prev_log::needles();
    nodescope::source::matching_lines(raw.as_bytes(), &needles)
        .iter()
        .filter_map(|l| nodescope::collect::prev_log::classify(l))
        .map(|m| {
            let kind = serde_json::to_value(m.kind).unwrap();
            format!(
                "match kind={} pattern={} time={} line={}",
                kind.as_str().unwrap(),
                m.pattern,
                opt(&m.time),
                m.line
            )
        })
        .collect()
}

/// One cgroup path per line (as /proc/<pid>/cgroup, a kernel record or a runtime names it).
fn cgroup(s: &Sample) -> Vec<String> {
    assert_eq!(s.wrapper, "path");
    s.input
        .iter()
        .map(|p| {
            let cg = parse_cgroup_path(p.trim());
            format!(
                "cgroup kubepods={} pod={} runtime={} container={}",
                cg.in_kubepods,
                opt(&cg.pod_uid),
                opt(&cg.container.as_ref().and_then(|(rt, _)| *rt)),
                opt(&cg.container.map(|(_, id)| id)),
            )
        })
        .collect()
}

fn run(family: &str, name: &str) {
    let s = load(family, name);
    let got = match family {
        "oom" => oom(&s),
        "kubelet" => kubelet(&s),
        "xid" => xid(&s),
        "conntrack" => conntrack(&s),
        "cgroup" => cgroup(&s),
        "hung_task" | "lockup" | "fs_error" => kernel_events(&s),
        "gpu_log" => gpu_log(&s),
        f => panic!("unknown family {f}"),
    };
    assert_eq!(
        got.join("\n"),
        s.expect.join("\n"),
        "\n{family}/{name}: parsed (left) differs from expected (right)"
    );
}

macro_rules! corpus {
    ($($family:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        $(mod $family { $(#[test] fn $name() { super::run(stringify!($family), stringify!($name)); })* })*
        const LISTED: &[(&str, &str)] = &[$($((stringify!($family), stringify!($name)),)*)*];
    };
}

corpus! {
    oom: [
        aks_5_15_oom_group_victim_twice,
        cadvisor_comm_names_syslog,
        cadvisor_docker_gentoo_4_8_two_events,
        cadvisor_global_ubuntu_3_13,
        cadvisor_legacy_task_in,
        cadvisor_memcg_v1_ubuntu_3_13,
        cadvisor_vendor_no_killed_line,
        cpanel_ssp_76_centos6_uid,
        docker_for_linux_1001_5_4_suppressed,
        docker_for_linux_1001_ubuntu_children,
        doris_3525_centos7_child_uid,
        efs_csi_1218_v2_burst,
        efs_csi_1218_v2_memory_stat_dump,
        eks_ami_419_fedora_kubelet_killed,
        gpud_cpuset_constraint,
        gpud_dmesg_iso_lxc_nested,
        gpud_legacy_bare_killed,
        gpud_summary_only_docker,
        gpud_two_events_summary_then_global,
        istio_42734_centos7_task_in_only,
        k3s_12028_6_14_header,
        k8s_50632_rhel7_uid_alibaba,
        k8s_56891_centos7_header_only,
        k8s_56891_centos7_sacrificed_child,
        k8s_60492_gke_cos_npd_event,
        linux_mm_oom_group_4_19_rfc,
        linux_mm_oom_group_init_5_0_next,
        ltp_1080_rhel7_memcg_children,
        ltp_1080_rhel7_task_in_numbered,
        moby_38613_rhel7_header_and_dockerd,
        navigator_297_ubuntu_4_13_header,
        nodescope_ci_memcg_v1_6_18,
        npd_kernel_log_generator,
        npd_log_buffer_equivalence,
        sysbox_30_ubuntu_5_3_gcp_header,
    ],
    xid: [
        gpud_xid_119_gsp_timeout,
        gpud_xid_13_43_unknown_pid,
        gpud_xid_149_154_nvlink_gb200,
        gpud_xid_31_pid_only,
        gpud_xid_63_64_row_remap,
        gpud_xid_79_fallen_off_the_bus,
        gpud_xid_malformed,
        gpud_xid_old_driver_no_pci_prefix,
        nvsentinel_155_fallen_off_multiline,
    ],
    conntrack: [
        hotsos_101_nf_conntrack_twice,
        nixos_12987_kernel_prefix,
        nordvpn_36_raspberry_pi,
        ratelimit_suppressed_between_drops,
        rmerl_280_expectation_table,
        starphleet_352_older_kernel_burst,
        tcpcopy_42_ip_conntrack_2_6,
    ],
    cgroup: [
        cilium_docs_kind_besteffort,
        crio_nested_paths_test,
        dyrnq_14_system_slice_docker,
        ecs_agent_4508_not_kubernetes,
        eks_ami_419_podruntime_kubelet,
        gpud_pr70_lxc_payload,
        istio_42734_systemd_docker_scope,
        kind_guaranteed_cpu_v1,
        kind_inside_docker_proc_cgroup,
        kind_under_systemd_docker_scope,
        kubeasz_556_cgroupfs_guaranteed,
        kubedirector_356_cgroupfs,
        not_pods,
        pharos_440_centos_systemd_docker,
        talos_12526_cgroupfs_v2,
    ],
    hung_task: [
        k8s_23342_kworker_netns_syslog,
        npd_aufs_umount_hung,
        npd_docker_hung,
        nvme_link_drop_cascade,
    ],
    lockup: [
        harbor_14163_rcu_then_soft_lockup,
        harvester_564_kvm_vcpu_ctime,
        ironfish_701_hard_lockup,
        k8s_65142_kubelet_soft_lockup,
        kubeasz_300_runc_child_soft_lockup,
        tetragon_328_rcu_stall_starved,
    ],
    fs_error: [
        appstream_90_print_req_error,
        coreos_784_xfs_crc_quota,
        longhorn_2775_blk_update_request,
        longhorn_6650_ext4_journal_aborted,
        npd_845_xfs_shutdown,
        npd_readonly_filesystem,
        nvme_aspm_5x_read_error,
        talos_8733_xfs_log_shutdown,
        xcat_1175_xfs_log_force_and_blk,
    ],
    gpu_log: [
        ci_infra_490_nccl_shm_extend_pod,
        comfy_wan_565_cuda_error_oom,
        databricks_operator_62_oomkilled_by_a_sidecar,
        dotsocr_196_torch_oom_2_5,
        hd_bet_67_bus_error_core_dumped,
        hopsworks_1557_k8s_dataloader_shm,
        jax_13428_xla_resource_exhausted,
        jax_4994_xla_resource_exhausted_old,
        kserve_3791_nccl_shm_extend_2_1x,
        llamafactory_3250_nccl_system_error,
        nccl_1235_alloc_cuda_oom,
        nccl_1283_cuda_failure_invalid_argument,
        nccl_525_kubeflow_posix_fallocate,
        ncrfpp_121_thc_oom_0_3,
        pytorch_111187_nccl_cuda_error_not_oom,
        pytorch_16979_k8s_dataloader_bus_error,
        pytorch_18853_runtimeerror_oom_1_0,
        pytorch_35901_memory_summary,
        pytorch_4921_nccl_2_1_init_cu,
        qanything_302_info_gpu_blocks,
        qwen3_295_v0_kv_too_small,
        qwen3_873_cublas_alloc,
        torch_shm_allocate_source,
        trtllm_1060_ipc_utils,
        trtllm_1556_cuda_malloc_async,
        trtllm_1556_invalid_device_not_oom,
        ultralytics_12905_nccl_mem_alloc_info,
        vllm_10439_v0_no_cache_blocks,
        vllm_14574_info_model_loading,
        vllm_2140_torch_cuda_oom_2_1,
        vllm_34076_v1_kv_needed,
        wan2gp_1083_accelerator_error,
        xla_7201_nccl_cu_oom,
    ],
    kubelet: [
        distribution_tags_derived,
        k0s_docs_logrus_wrapper,
        k3s_2754_v1_20_critical_pods,
        k3s_888_no_pods_active,
        k8s_107024_observations_noise,
        k8s_115516_disk_pressure_flap,
        k8s_132001_journal_cat,
        k8s_132001_k0s_logrus_derived,
        k8s_132001_v1_3x_structured,
        k8s_19562_v1_1_node_ready,
        k8s_31192_v1_4_imagefs,
        k8s_52336_v1_7_observations_syslog,
        k8s_73572_iks_v1_13_critical_static,
        k8s_75144_v1_13_static_evicted,
        minikube_4084_v1_14_glog_syslog,
        source_structured_steps,
        startup_noise_structured,
    ],
}

/// Every file under tests/corpus is listed above (a sample nobody runs proves nothing), and
/// the corpus keeps its size.
#[test]
fn every_sample_file_is_a_test_and_there_are_at_least_80() {
    let root = format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR"));
    let mut on_disk = Vec::new();
    for fam in std::fs::read_dir(&root).unwrap() {
        let fam = fam.unwrap();
        if !fam.file_type().unwrap().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(fam.path()).unwrap() {
            let f = f.unwrap().file_name().into_string().unwrap();
            let stem = f
                .strip_suffix(".txt")
                .unwrap_or_else(|| panic!("{f}: not .txt"));
            on_disk.push((fam.file_name().into_string().unwrap(), stem.to_string()));
        }
    }
    on_disk.sort();
    let mut listed: Vec<(String, String)> = LISTED
        .iter()
        .map(|(f, n)| (f.to_string(), n.to_string()))
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    assert!(listed.len() >= 80, "{} samples", listed.len());
}
