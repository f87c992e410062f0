//! The command line, the single source of `--help`, the man page and the shell completions.

use crate::analyze::Severity;
use crate::render::Format;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  nodescope                                        the live view on a terminal, the report when piped
  nodescope check                                  diagnose this node (run as root)
  nodescope check -o json --fail-on critical       for scripts and CI health checks
  nodescope check --format npd --rule memory.kernel-oom-kill   a node-problem-detector plugin
  nodescope check --format prometheus > DIR/nodescope.prom     node_exporter textfile collector
  nodescope --root /host check                     inside `kubectl debug node/NAME` (auto-detected)
  nodescope capture --out node-a.tar.gz            record what nodescope reads, for later
  nodescope --bundle node-a.tar.gz check           analyze that capture on a laptop
  nodescope dns probe api.example.com --pod NS/POD  the queries a pod's resolver sends, timed
  nodescope gpu                                    GPUs, who holds them, why GPU pods are Pending
  nodescope disk                                   what fills the disk and its inodes, and the fixes
  nodescope explain memory.pressure                what a finding means and what to do";

const AFTER_LONG: &str = "\
Exit status (check):
  0  no finding at or above --fail-on (default: warning)
  1  the worst finding is a warning (or info, with --fail-on info)
  2  the worst finding is critical
  3  nodescope could not run: bad arguments, a --root or --bundle that is not a host

Environment:
  NODESCOPE_ROOT  the host root, as --root (ignored when --bundle is given)
  NO_COLOR        set and non-empty: no colour in the text report

Host root:
  Without --root or --bundle, nodescope reads / unless /host/proc/meminfo exists (the layout
  `kubectl debug node/NAME` creates), in which case it reads /host and says so on stderr.
  nodescope only reads: it never writes under the host root, never signals a process, and
  never reads process environments.";

/// Node-level Kubernetes diagnostics: which killer took the pod, why the node is under pressure,
/// and what to change.
#[derive(Debug, Parser)]
#[command(name = "nodescope", version, after_help = EXAMPLES, after_long_help = format!("{EXAMPLES}\n\n{AFTER_LONG}"))]
pub struct Cli {
    /// Read the live host under DIR (default: /, or /host when it holds a node).
    ///
    /// Use /host inside a `kubectl debug node/NAME` pod, where the node's root is mounted there.
    /// The directory must hold a proc/ tree. NODESCOPE_ROOT sets it too.
    #[arg(long, value_name = "DIR", conflicts_with = "bundle")]
    pub root: Option<PathBuf>,

    /// Analyze a capture instead of a live host: a bundle directory or a .tar.gz from `capture`.
    #[arg(long, value_name = "PATH")]
    pub bundle: Option<PathBuf>,

    /// Ask the API server with this kubeconfig (default: KUBECONFIG, the in-cluster service
    /// account, then the node's kubelet kubeconfig under the host root).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Do not ask the API server; every local rule still runs.
    #[arg(long, conflicts_with_all = ["kubeconfig", "cluster_dump"])]
    pub no_cluster: bool,

    /// Read the cluster from `kubectl get nodes,pods,events -o json` List documents in DIR
    /// (nodes.json, pods.json, events.json) instead of the API server.
    #[arg(long, value_name = "DIR")]
    pub cluster_dump: Option<PathBuf>,

    /// When to colour the text report (an explicit choice beats NO_COLOR).
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Colour choice for the text report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Colour, even when piped or NO_COLOR is set.
    Always,
    /// No colour.
    Never,
}

/// The options that say where the facts come from, declared on each command that reads a host
/// (and before the command, as `nodescope --bundle FILE check`; given in both places, the one
/// after the command wins).
#[derive(Debug, Clone, Default, Args)]
pub struct HostOpts {
    #[command(flatten)]
    pub root: RootOpt,
    /// Analyze a capture instead of a live host: a bundle directory or a .tar.gz from `capture`.
    #[arg(long, value_name = "PATH", conflicts_with = "root")]
    pub bundle: Option<PathBuf>,
}

/// `--root`, alone on the commands that only read a live host (`capture`, `dns probe`).
#[derive(Debug, Clone, Default, Args)]
pub struct RootOpt {
    /// Read the live host under DIR (default: /, or /host when it holds a node; NODESCOPE_ROOT
    /// sets it too).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// The options that say where the cluster's facts come from, on the commands that ask it.
#[derive(Debug, Clone, Default, Args)]
pub struct ClusterOpts {
    /// Ask the API server with this kubeconfig (default: KUBECONFIG, the in-cluster service
    /// account, then the node's kubelet kubeconfig under the host root).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Do not ask the API server; every local rule still runs.
    #[arg(long, conflicts_with_all = ["kubeconfig", "cluster_dump"])]
    pub no_cluster: bool,
    /// Read the cluster from `kubectl get nodes,pods,events -o json` List documents in DIR
    /// (nodes.json, pods.json, events.json) instead of the API server.
    #[arg(long, value_name = "DIR")]
    pub cluster_dump: Option<PathBuf>,
}

/// `--color`, on the commands that colour what they print.
#[derive(Debug, Clone, Default, Args)]
pub struct ColorOpt {
    /// When to colour: auto (a terminal without NO_COLOR), always, never; an explicit choice
    /// beats NO_COLOR (no-color.org).
    #[arg(long, value_enum, value_name = "WHEN")]
    pub color: Option<Color>,
}

/// `--fail-on`: the least severity that makes the exit status non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any finding, informational ones included.
    Info,
    /// A warning or a critical finding.
    Warning,
    /// A critical finding only.
    Critical,
    /// Never: exit 0 whatever is found (3 still means nodescope could not run).
    Never,
}

impl FailOn {
    /// The severity at or above which the exit status is non-zero; `None` for `never`.
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Info => Some(Severity::Info),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Critical => Some(Severity::Critical),
            FailOn::Never => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose the node and report findings, worst first (the default command when piped).
    Check(CheckArgs),
    /// The live view: verdicts, gauges against the kubelet's thresholds, pods, findings,
    /// timeline, DNS, disk, GPU (the default command on a terminal).
    ///
    /// Samples the node every --interval seconds on a background thread; on a bundle it shows
    /// the captured state. Keys: 1-7 or Tab switch views, arrows or j/k move, / filters, s
    /// sorts, Enter details, e explains, ? lists every key, q quits. Needs a terminal on stdin
    /// and stdout (without one: exit 3; `check` prints the report; `--once` prints one frame
    /// without one). The terminal is restored
    /// on quit, SIGTERM, SIGHUP, SIGINT and panic.
    Top(TopArgs),
    /// Print everything collected from the node, as JSON.
    Snapshot(SnapshotArgs),
    /// List every rule: id, default severity, summary.
    Rules(RulesArgs),
    /// Explain a rule: what it means, why it matters, how to confirm it, what to change.
    ///
    /// `explain distributions` lists the Kubernetes distributions nodescope recognises, where
    /// each runs the kubelet and keeps its log, and how that was verified.
    Explain {
        /// The rule id, e.g. memory.pressure, in any case (see `nodescope rules`), or
        /// `distributions`.
        #[arg(value_parser = rule_ids(), hide_possible_values = true)]
        id: String,
    },
    /// Disk bytes and inodes: filesystems against the kubelet's thresholds, top consumers, fixes.
    ///
    /// Walks pod logs, emptyDir volumes and the runtime's image store within --budget seconds
    /// (a walk cut short shows its figure as a lower bound, marked +), finds files deleted but
    /// still held open, and lists the images no container uses where the runtime's metadata
    /// is readable. Exit status as for check, over the disk findings.
    Disk(DiskArgs),
    /// Pods' DNS: resolv.conf per pod, the queries one external lookup costs, conntrack.
    ///
    /// `dns probe NAME` sends, from a pod's network namespace, the queries its resolver would
    /// send, and shows each one's answer and latency.
    Dns(DnsArgs),
    /// GPUs: devices, driver, which pod holds each device, and why GPU pods are Pending.
    ///
    /// Pending pods come from the API server (or --cluster-dump, or a bundle's cluster/):
    /// each is evaluated against every node for the seven reasons (all-allocated,
    /// operator-unhealthy, labels-missing, untolerated-taint, affinity-mismatch,
    /// exceeds-node-capacity, mig-resource-mismatch), with the scheduler's own message and the
    /// one change that would schedule it.
    Gpu(GpuArgs),
    /// Record everything nodescope reads from this host into a .tar.gz bundle.
    ///
    /// The bundle holds the files the collectors read at their host paths, the kernel log,
    /// statvfs results and the findings at capture time; process environments, private keys
    /// and tokens are never written. `nodescope --bundle FILE check` analyzes it anywhere.
    Capture(CaptureArgs),
    /// Serve /metrics, /findings and /healthz from a periodic sample, for a DaemonSet.
    ///
    /// A sampler thread collects every --interval seconds as `check` does, the cluster
    /// included; every request is answered at once from the last completed sample.
    ///
    /// /metrics: the Prometheus text of `check --format prometheus`.
    ///
    /// /findings: the bytes `check --format json` prints (nodescope-check/1); its
    /// Last-Modified header is when the sample completed.
    ///
    /// /healthz: 200 "ok", or 503 with the reason once no sample has completed for 3 intervals
    /// (the first sample gets 3 intervals from start).
    ///
    /// /metrics and /findings answer 503 before the first sample and while the last one
    /// failed. GET and HEAD only (405 otherwise; 404 for other paths). Bounded for a port any
    /// pod can reach: a request head is at most 8 KiB and must arrive within 5 s (also the
    /// keep-alive idle timeout); at most 64 connections, a new one shedding the one quiet the
    /// longest; each connection closes after 30 s.
    Serve(ServeArgs),
    /// Every node's conditions and its agent's findings, through the API server.
    ///
    /// With the user's kubeconfig (--kubeconfig, KUBECONFIG, the in-cluster service account,
    /// ~/.kube/config): lists the nodes (--selector) and the agent pods of the nodescope
    /// DaemonSet (label app.kubernetes.io/name=nodescope, deploy/daemonset.yaml), and reads each
    /// agent's /findings through the API server's pod proxy on its container port named
    /// `metrics` (9808 by default), --concurrency at a time, each within 5 s, all within
    /// --timeout. One row per node: conditions, worst severity, findings grouped by rule, the
    /// sample's age. A node without an agent shows `no agent`; one whose agent did not answer
    /// in time `timeout`; a 403 `forbidden`. Exit status as for check, over every node's
    /// findings. Needs get/list on nodes and pods and get on pods/proxy.
    Fleet(FleetArgs),
    /// Run `check` on one node from here, in a short-lived pod, and relay its report.
    ///
    /// Creates pod nodescope-debug-<node>-<random> on NODE (also `node/NODE`, as in `kubectl
    /// nodescope node/NODE`) the way `kubectl debug node/NODE --profile=sysadmin` does
    /// (nodeName, hostPID, hostNetwork, every taint tolerated, restartPolicy Never, the node's
    /// root at /host) but read-only and with the agent's capabilities only; it runs
    /// `nodescope --root /host check ARGS...` (the arguments after `--`) from --image or the
    /// nodescope DaemonSet's image. The log is relayed as it comes, the pod is deleted on exit
    /// and on Ctrl-C (SIGINT, SIGTERM, SIGHUP), and the exit status is the report's (130
    /// when interrupted). Nothing else is created; deploy/rbac-debug.yaml is the RBAC it needs.
    #[command(
        after_help = "Examples:\n  nodescope debug node-a\n  kubectl nodescope node/node-a -- --format json --fail-on critical\n  nodescope debug node-a --image registry.example.com/nodescope:0.1.0 -n ops"
    )]
    Debug(DebugArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit non-zero when a finding at or above this severity exists.
    #[arg(long, value_enum, default_value_t = FailOn::Warning, value_name = "SEVERITY")]
    pub fail_on: FailOn,
    /// Report only these rules (repeatable), e.g. one node-problem-detector condition per rule.
    #[arg(long = "rule", value_name = "ID", value_parser = rule_ids(), hide_possible_values = true)]
    pub rules: Vec<String>,
    /// Text: show informational findings too (JSON and the other formats always carry them).
    #[arg(short, long)]
    pub verbose: bool,
    /// Text: list every subject of a group, not the first three and a count.
    #[arg(long)]
    pub expand: bool,
    /// Also report cluster-wide findings (Pending pods) for which this node is no candidate.
    #[arg(long)]
    pub cluster: bool,
    /// Repeat the report every SECONDS (2 when given alone) until interrupted: redrawn in place
    /// on a terminal, one report after another on a pipe (JSON: one document per sample).
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "2")]
    pub watch: Option<f64>,
    /// Print the wall time of each phase of a sample (each collector by name, the cluster
    /// part, analyze, render) in milliseconds on standard error.
    #[arg(long)]
    pub debug_timings: bool,
    #[command(flatten)]
    pub host: HostOpts,
    #[command(flatten)]
    pub cluster_opts: ClusterOpts,
    #[command(flatten)]
    pub color: ColorOpt,
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Output format (`json`: schema nodescope-fleet/1).
    #[arg(short = 'o', long, visible_alias = "output", value_enum, default_value_t = FleetFormat::Text)]
    pub format: FleetFormat,
    /// Only the nodes with these labels, as `kubectl get nodes -l` (e.g. pool=gpu,zone!=a).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// The namespace of the agent pods (default: every namespace).
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Agents asked at the same time.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Seconds the whole run may take; agents that have not answered by then show `timeout`.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// Exit non-zero when a node has a finding at or above this severity (`never`: exit 0).
    #[arg(long, value_enum, default_value_t = FailOn::Warning, value_name = "SEVERITY")]
    pub fail_on: FailOn,
    /// The kubeconfig to use (default: KUBECONFIG, the in-cluster service account, then
    /// ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// `fleet` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FleetFormat {
    Text,
    /// Schema nodescope-fleet/1.
    Json,
}

#[derive(Debug, Args)]
pub struct DebugArgs {
    /// The node, NODE or node/NODE.
    pub node: String,
    /// The image to run (default: the image of the DaemonSet labelled
    /// app.kubernetes.io/name=nodescope).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// The namespace to create the pod in.
    #[arg(short = 'n', long, value_name = "NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Seconds the pod may take to start (image pull included).
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub start_timeout: u64,
    /// The kubeconfig to use (default: KUBECONFIG, the in-cluster service account, then
    /// ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Arguments for `check` on the node, after `--` (e.g. -- --format json).
    #[arg(last = true, value_name = "CHECK_ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Seconds between samples.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub interval: f64,
    /// Print one frame of the first view to standard output and exit (for a ticket); needs no
    /// terminal.
    #[arg(long)]
    pub once: bool,
    /// The frame's size for --once, COLUMNSxROWS.
    #[arg(long, value_name = "COLSxROWS", default_value = "100x30", value_parser = parse_size)]
    pub size: (u16, u16),
    /// Print the wall time of each phase of a sample (each collector by name, the cluster
    /// part, analyze, render) in milliseconds on standard error when it exits: the first
    /// (full) sample, and the mean of the later (incremental) ones.
    #[arg(long)]
    pub debug_timings: bool,
    #[command(flatten)]
    pub host: HostOpts,
    #[command(flatten)]
    pub cluster_opts: ClusterOpts,
    #[command(flatten)]
    pub color: ColorOpt,
}

#[derive(Debug, Args)]
pub struct GpuArgs {
    /// Output format (json: schema nodescope-gpu/1).
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", value_enum, default_value_t = GpuFormat::Text)]
    pub format: GpuFormat,
    /// Exit non-zero when a gpu.* finding at or above this severity exists.
    #[arg(long, value_enum, default_value_t = FailOn::Warning, value_name = "SEVERITY")]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub host: HostOpts,
    #[command(flatten)]
    pub cluster_opts: ClusterOpts,
}

/// `gpu` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GpuFormat {
    /// A human report.
    Text,
    /// Schema nodescope-gpu/1.
    Json,
}

#[derive(Debug, Args)]
pub struct DiskArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", value_enum, default_value_t = DiskFormat::Text)]
    pub format: DiskFormat,
    /// Seconds all directory walks together may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 20.0)]
    pub budget: f64,
    /// Exit non-zero when a disk finding at or above this severity exists.
    #[arg(long, value_enum, default_value_t = FailOn::Warning, value_name = "SEVERITY")]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub host: HostOpts,
}

/// `disk` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiskFormat {
    /// A human report.
    Text,
    /// Schema nodescope-disk/1.
    Json,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DnsArgs {
    #[command(subcommand)]
    pub command: Option<DnsCommand>,
    /// The external name to count queries for.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Output format (json: schema nodescope-dns/1).
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", value_enum, default_value_t = DnsFormat::Text)]
    pub format: DnsFormat,
    /// Exit non-zero when a dns.* or net.* finding at or above this severity exists.
    #[arg(long, value_enum, default_value_t = FailOn::Warning, value_name = "SEVERITY")]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub host: HostOpts,
}

#[derive(Debug, Subcommand)]
pub enum DnsCommand {
    /// Send the queries a pod's resolver sends for NAME, from its network namespace.
    ///
    /// This is the only nodescope command that sends packets: DNS queries over UDP to the
    /// nameservers in the pod's resolv.conf, after entering the network namespace of one of the
    /// pod's processes (needs root). Each query is shown with its rcode and latency, timeouts
    /// marked; the last line says where the time went. Without --pod or --pid, probes from the
    /// node with the kubelet's resolv.conf.
    #[command(
        after_help = "Examples:\n  nodescope dns probe api.example.com --pod shop/checkout-5f7c9d8b6-m4kq2\n  nodescope dns probe kubernetes.default --pod shop/web-6d9f8c7b5-h2j4k --format json\n  nodescope dns probe api.example.com --pid 24608 --timeout 1"
    )]
    Probe(DnsProbeArgs),
}

#[derive(Debug, Args)]
pub struct DnsProbeArgs {
    /// The name to resolve, as the application would ask for it.
    pub name: String,
    /// The pod whose resolver to play, NAMESPACE/POD.
    #[arg(long, value_name = "NS/POD", conflicts_with = "pid")]
    pub pod: Option<String>,
    /// A process whose network namespace and /etc/resolv.conf to use.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Seconds to wait for each answer (default: the resolver's own timeout, 5 s unless set).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Output format (json: schema nodescope-dns-probe/1).
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", value_enum, default_value_t = DnsFormat::Text)]
    pub format: DnsFormat,
    /// Exit non-zero when the probe fails at or above this severity (dns.probe-failed is critical).
    #[arg(long, value_enum, default_value_t = FailOn::Warning, value_name = "SEVERITY")]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub root: RootOpt,
}

/// `dns` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DnsFormat {
    /// A human report.
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Output format (JSON, schema nodescope-snapshot/1).
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", value_enum, default_value_t = SnapshotFormat::Json)]
    pub format: SnapshotFormat,
    #[command(flatten)]
    pub host: HostOpts,
    #[command(flatten)]
    pub cluster_opts: ClusterOpts,
}

/// Snapshot output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnapshotFormat {
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:9808 or 127.0.0.1:0 (any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9808")]
    pub listen: String,
    /// Seconds from the end of one sample to the start of the next (at least 1); /healthz
    /// fails after 3 of them without a completed sample.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub interval: u64,
    /// Print the wall time of each phase of a sample (each collector by name, the cluster
    /// part, analyze, render) in milliseconds on standard error, one line per sample.
    #[arg(long)]
    pub debug_timings: bool,
    #[command(flatten)]
    pub host: HostOpts,
    #[command(flatten)]
    pub cluster_opts: ClusterOpts,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Where to write the bundle: a new file or a regular one to replace (a directory, device,
    /// FIFO, socket or symbolic link is refused), or `-` for standard output (default:
    /// nodescope-<hostname>-<time>.tar.gz here).
    ///
    /// `-o`/`--output` are the names this option had; they still work here (capture prints no
    /// format), but `-o FORMAT` is what every reporting command takes.
    #[arg(
        short = 'f',
        long = "out",
        value_name = "FILE",
        short_alias = 'o',
        alias = "output"
    )]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub root: RootOpt,
    #[command(flatten)]
    pub cluster_opts: ClusterOpts,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format: a table with a header row, or JSON (schema nodescope-rules/1).
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,
}

/// `rules` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    /// ID, SEVERITY, SUMMARY columns under a header row.
    Text,
    /// `{"schema": "nodescope-rules/1", "rules": [{"id", "severity", "summary"}]}`.
    Json,
}

/// The parser of `explain ID` and `check --rule ID`: any string (the command says which rule
/// is close to a wrong one, clap would list all fifty), with the rule ids as its possible
/// values so that the shell completions offer them.
#[derive(Clone)]
pub struct RuleIdParser;

impl clap::builder::TypedValueParser for RuleIdParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            crate::analyze::rules::RULES
                .iter()
                .map(|r| clap::builder::PossibleValue::new(r.id())),
        ))
    }
}

fn rule_ids() -> RuleIdParser {
    RuleIdParser
}

/// `COLSxROWS`, each at least 20 and at most 1000.
fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?}: want COLSxROWS, e.g. 100x30"))?;
    let n = |v: &str| {
        v.parse::<u16>()
            .ok()
            .filter(|n| (20..=1000).contains(n))
            .ok_or_else(|| format!("{v:?}: want a number from 20 to 1000"))
    };
    Ok((n(w)?, n(h)?))
}

/// The clap command, for the man page and completion generators.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
