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

/// Exit code for "nodescope could not run" (README.md, "In CI and cron health checks").
pub const EXIT_CANNOT_RUN: u8 = 3;

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let stdout = std::io::stdout();
    let mut out = pipe::Quiet::new(stdout.lock());
    let code = match cli.command {
        Some(Command::Rules) => rules::list(&mut out)?,
        Some(Command::Explain { ref id }) => rules::explain(&mut out, id)?,
        Some(Command::Completions { shell }) => {
            out.write_all(&crate::docs::completions(shell))?;
            ExitCode::SUCCESS
        }
        Some(Command::Debug(ref args)) => debug::run(&mut out, cli.kubeconfig.as_deref(), args)?,
        Some(Command::Fleet(ref args)) => fleet::run(&mut out, cli.kubeconfig.as_deref(), args)?,
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
            check::run(&mut out, host.host(), args, color, plan)?
        }
        Some(Command::Top(ref args)) => top(&cli, args.interval, color)?,
        None if crate::tui::terminal::has_terminal() => top(&cli, 2.0, color)?,
        None => {
            let host = open_host(&cli)?;
            let args = CheckArgs {
                format: crate::render::Format::Text,
                fail_on: crate::analyze::Severity::Warning,
                rules: Vec::new(),
            };
            let plan = cluster::plan(&cli, live_root_if_live(&cli).as_deref(), host.bundle())?;
            check::run(&mut out, host.host(), &args, color, plan)?
        }
    };
    out.flush()?;
    Ok(code)
}

/// The live root when the run reads a live host (not a bundle).
fn live_root_if_live(cli: &Cli) -> Option<PathBuf> {
    cli.bundle.is_none().then(|| live_root(cli))
}

/// Opens the TUI on the live host or the bundle.
fn top(cli: &Cli, interval: f64, color: bool) -> anyhow::Result<ExitCode> {
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
    crate::tui::run(open, interval, live, color, enrich)
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
