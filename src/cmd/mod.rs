//! One function per subcommand; this file only opens the host and dispatches.

mod capture;
mod check;
mod cluster;
mod debug;
mod disk;
mod dns;
mod fleet;
mod gpu;
pub mod pipe;
mod rules;
mod serve;

use crate::cli::{CheckArgs, Cli, Color, Command};
use crate::source::Host;
use crate::source::bundle::BundleHost;
use crate::source::live::{DetectedRoot, LiveHost};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The size of standard output's buffer: one write(2) per 64 KiB of a report.
pub const OUT_BUFFER: usize = 64 * 1024;

/// Exit code for "nodescope could not run" (README.md, "In CI and cron health checks").
pub const EXIT_CANNOT_RUN: u8 = 3;

/// Runs the parsed command line and returns the process exit code.
pub fn run(mut cli: Cli) -> anyhow::Result<ExitCode> {
    merge_command_options(&mut cli);
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    // Stdout is line-buffered: a 100-pod JSON report was 12,264 write(2) calls. Every report is
    // written whole at the end, so one buffer of 64 KiB serves (flushed below, and on drop).
    let mut out = pipe::Quiet::new(std::io::BufWriter::with_capacity(OUT_BUFFER, RawStdout));
    let code = match cli.command {
        Some(Command::Rules(ref args)) => rules::list(&mut out, args.format)?,
        Some(Command::Explain { ref id }) => rules::explain(&mut out, id)?,
        Some(Command::Completions { shell }) => {
            out.write_all(&crate::docs::completions(shell))?;
            ExitCode::SUCCESS
        }
        Some(Command::Debug(ref args)) => debug::run(
            &mut out,
            args.kubeconfig.as_deref().or(cli.kubeconfig.as_deref()),
            args,
        )?,
        Some(Command::Fleet(ref args)) => fleet::run(
            &mut out,
            args.kubeconfig.as_deref().or(cli.kubeconfig.as_deref()),
            args,
        )?,
        Some(Command::Capture(ref args)) => {
            if cli.bundle.is_some() {
                anyhow::bail!("capture records a live host; --bundle is already a capture");
            }
            let root = live_root(&cli);
            let plan = cluster::plan(&cli, Some(&root), None)?;
            capture::run(&root, args, plan)?
        }
        Some(Command::Serve(ref args)) => {
            // Fail now, with exit 3, rather than in the sampler; a bundle is opened this once.
            let opened = open_host(&cli)?;
            let live = live_root_if_live(&cli);

            // Each sample attaches the cluster exactly as `check` does, so that /findings is
            // what `check --format json` prints.
            let plan = cluster::plan(&cli, live.as_deref(), opened.bundle())?;
            let open: serve::OpenHost = Box::new(opened.reopener(&cli));
            serve::run(
                &args.listen,
                std::time::Duration::from_secs(args.interval.max(1)),
                open,
                plan,
                args.debug_timings,
            )?
        }
        Some(Command::Snapshot(_)) => {
            let host = open_host(&cli)?;
            let plan = cluster::plan(&cli, live_root_if_live(&cli).as_deref(), host.bundle())?;
            let (snap, _) = cluster::collect(&plan, host.host(), Default::default());
            crate::render::json::write_snapshot(&mut out, &snap)?;
            ExitCode::SUCCESS
        }
        Some(Command::Dns(ref args)) => match &args.command {
            Some(crate::cli::DnsCommand::Probe(p)) => {
                if cli.bundle.is_some() {
                    anyhow::bail!("dns probe sends packets from a live pod; a bundle has none");
                }
                let root = live_root(&cli);
                let host = LiveHost::new(&root)?;
                dns::probe(&mut out, &host, &root, p)?
            }
            None => {
                let host = open_host(&cli)?;
                dns::table(&mut out, host.host(), args)?
            }
        },
        Some(Command::Gpu(ref args)) => {
            let host = open_host(&cli)?;
            let plan = cluster::plan(&cli, live_root_if_live(&cli).as_deref(), host.bundle())?;
            gpu::run(&mut out, host.host(), args, plan)?
        }
        Some(Command::Disk(ref args)) => {
            let host = open_host(&cli)?;
            disk::run(&mut out, host.host(), args)?
        }
        Some(Command::Check(ref args)) => {
            let host = open_host(&cli)?;
            let plan = cluster::plan(&cli, live_root_if_live(&cli).as_deref(), host.bundle())?;
            match args.watch {
                None => check::run(&mut out, host.host(), args, color, plan)?,
                Some(seconds) => {
                    let redraw = std::io::stdout().is_terminal();
                    let open = host.reopener(&cli);
                    let every = std::time::Duration::from_secs_f64(seconds.clamp(0.2, 86_400.0));
                    check::watch(&mut out, &open, args, color, plan, every, redraw)?
                }
            }
        }
        Some(Command::Top(ref args)) if args.once => {
            let opened = open_host(&cli)?;
            let job = cluster::offline(&cluster::plan(&cli, None, opened.bundle())?);
            let enrich: Option<crate::tui::Enrich> =
                Some(Box::new(move |snap: &mut crate::model::Snapshot| {
                    cluster::finish(job, snap)
                }));
            let (w, h) = args.size;
            let frame = crate::tui::once(Box::new(opened.reopener(&cli)), enrich, w, h)?;
            out.write_all(frame.as_bytes())?;
            ExitCode::SUCCESS
        }
        Some(Command::Top(ref args)) => top(&cli, args.interval, color, args.debug_timings)?,
        None if crate::tui::terminal::has_terminal() => top(&cli, 2.0, color, false)?,
        None => {
            let host = open_host(&cli)?;
            let args = CheckArgs {
                format: crate::render::Format::Text,
                fail_on: crate::cli::FailOn::Warning,
                rules: Vec::new(),
                verbose: false,
                expand: false,
                cluster: false,
                watch: None,
                debug_timings: false,
                host: Default::default(),
                cluster_opts: Default::default(),
                color: Default::default(),
            };
            let plan = cluster::plan(&cli, live_root_if_live(&cli).as_deref(), host.bundle())?;
            check::run(&mut out, host.host(), &args, color, plan)?
        }
    };
    out.flush()?;
    Ok(code)
}

/// Standard output without the line buffer std keeps in front of it: write(2) on descriptor 1.
/// std's stdout writes everything up to the last newline of what it is given and holds the
/// rest, so each 64 KiB of a report left in two writes (65,523 bytes, then 9). Nothing else
/// writes to standard output while a report is buffered, so nothing is reordered.
struct RawStdout;

impl Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use std::os::fd::AsFd;
        Ok(nix::unistd::write(std::io::stdout().as_fd(), buf)?)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The host, cluster and colour options are declared on each command that uses them and
/// before the command (`nodescope --bundle FILE check`, the documented form); the ones given
/// after the command win. Everything below reads them from `cli`.
fn merge_command_options(cli: &mut Cli) {
    use crate::cli::{ClusterOpts, ColorOpt, HostOpts, RootOpt};
    let none_h = HostOpts::default();
    let none_c = ClusterOpts::default();
    let none_r = ColorOpt::default();
    let (host, cluster, color): (&HostOpts, &ClusterOpts, &ColorOpt) = match &cli.command {
        Some(Command::Check(a)) => (&a.host, &a.cluster_opts, &a.color),
        Some(Command::Top(a)) => (&a.host, &a.cluster_opts, &a.color),
        Some(Command::Snapshot(a)) => (&a.host, &a.cluster_opts, &none_r),
        Some(Command::Gpu(a)) => (&a.host, &a.cluster_opts, &none_r),
        Some(Command::Serve(a)) => (&a.host, &a.cluster_opts, &none_r),
        Some(Command::Disk(a)) => (&a.host, &none_c, &none_r),
        Some(Command::Dns(a)) => (&a.host, &none_c, &none_r),
        _ => (&none_h, &none_c, &none_r),
    };
    let (host, cluster, color) = (host.clone(), cluster.clone(), color.clone());
    let root: RootOpt = match &cli.command {
        Some(Command::Capture(a)) => a.root.clone(),
        Some(Command::Dns(a)) => match &a.command {
            Some(crate::cli::DnsCommand::Probe(p)) => p.root.clone(),
            None => host.root.clone(),
        },
        _ => host.root.clone(),
    };
    let cluster = match &cli.command {
        Some(Command::Capture(a)) => a.cluster_opts.clone(),
        _ => cluster,
    };
    if root.root.is_some() {
        cli.root = root.root;
        cli.bundle = None;
    }
    if host.bundle.is_some() {
        cli.bundle = host.bundle;
        cli.root = None;
    }
    cli.kubeconfig = cluster.kubeconfig.or(cli.kubeconfig.take());
    cli.cluster_dump = cluster.cluster_dump.or(cli.cluster_dump.take());
    cli.no_cluster |= cluster.no_cluster;
    if let Some(c) = color.color {
        cli.color = c;
    }
}

/// The live root when the run reads a live host (not a bundle).
fn live_root_if_live(cli: &Cli) -> Option<PathBuf> {
    cli.bundle.is_none().then(|| live_root(cli))
}

/// Opens the TUI on the live host or the bundle.
fn top(cli: &Cli, interval: f64, color: bool, debug_timings: bool) -> anyhow::Result<ExitCode> {
    // Nothing reaches a pipe: no escape sequence, no half-drawn frame (exit 3, one line).
    if !crate::tui::terminal::has_terminal() {
        anyhow::bail!("top needs a terminal; `nodescope check` prints the report");
    }
    // Fail now, on a normal screen, with exit 3; a bundle is opened this once.
    let opened = open_host(cli)?;
    let interval = std::time::Duration::from_secs_f64(interval.max(0.2));
    let live = cli.bundle.is_none();
    let job = cluster::offline(&cluster::plan(cli, None, opened.bundle())?);
    let open: crate::tui::OpenHost = Box::new(opened.reopener(cli));
    // The TUI draws on the terminal itself; colour follows the terminal and NO_COLOR.
    let color = color
        || (matches!(cli.color, Color::Auto)
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()));
    let color = color && !matches!(cli.color, Color::Never);
    let enrich: Option<crate::tui::Enrich> =
        Some(Box::new(move |snap: &mut crate::model::Snapshot| {
            cluster::finish(job, snap)
        }));
    crate::tui::run(open, interval, live, color, enrich, debug_timings)
}

/// The live root: --root, else NODESCOPE_ROOT, else /host when it holds a node, else /.
fn live_root(cli: &Cli) -> PathBuf {
    if let Some(r) = &cli.root {
        return r.clone();
    }
    if let Some(r) = std::env::var_os("NODESCOPE_ROOT").filter(|v| !v.is_empty()) {
        return PathBuf::from(r);
    }
    match crate::source::live::detect_root() {
        DetectedRoot::HostMount => {
            pipe::note(
                "reading the node at /host (kubectl debug layout); use --root / to inspect this container instead",
            );
            return PathBuf::from(crate::source::live::KUBECTL_DEBUG_ROOT);
        }
        DetectedRoot::PodWithoutHost => pipe::note(
            "this is a container without the node's root at /host (kubectl debug's baseline or restricted \
             profile?): findings describe this container, not the node; use --profile=sysadmin or general",
        ),
        DetectedRoot::Here => {}
    }
    PathBuf::from("/")
}

/// The host a run reads: the live node, or a bundle opened once and shared by everything in
/// the run that reads it (collectors, the cluster part, every sample of `top` and `serve`).
enum Opened {
    Live(LiveHost),
    Bundle(Arc<BundleHost>),
}

impl Opened {
    fn host(&self) -> &dyn Host {
        match self {
            Opened::Live(h) => h,
            Opened::Bundle(b) => b.as_ref(),
        }
    }

    /// The bundle, for the cluster part to read its `cluster/*.json` from.
    fn bundle(&self) -> Option<Arc<BundleHost>> {
        match self {
            Opened::Live(_) => None,
            Opened::Bundle(b) => Some(Arc::clone(b)),
        }
    }

    /// A host for each sample of `top` and `serve`: the live node read afresh, or the same
    /// bundle again (never loaded twice).
    fn reopener(self, cli: &Cli) -> impl Fn() -> anyhow::Result<Box<dyn Host>> + Send + 'static {
        let root = match &self {
            Opened::Live(_) => live_root(cli),
            Opened::Bundle(_) => PathBuf::new(),
        };
        move || -> anyhow::Result<Box<dyn Host>> {
            match &self {
                Opened::Bundle(b) => Ok(Box::new(Arc::clone(b))),
                Opened::Live(_) => Ok(Box::new(LiveHost::new(&root)?)),
            }
        }
    }
}

fn open_host(cli: &Cli) -> anyhow::Result<Opened> {
    if let Some(b) = &cli.bundle {
        return Ok(Opened::Bundle(Arc::new(BundleHost::open(b)?)));
    }
    Ok(Opened::Live(LiveHost::new(&live_root(cli))?))
}
