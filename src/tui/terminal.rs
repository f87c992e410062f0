//! The terminal's lifetime for `top`: raw mode and the alternate screen on the way in, the
//! user's terminal back on the way out, however the TUI ends.
//!
//! - quit: the event loop returns and [`Session::leave`] restores;
//! - panic: ratatui's panic hook (installed by `ratatui::try_init`) restores before the message;
//! - SIGTERM, SIGHUP, SIGINT: the handlers only record the signal (signal-hook's flag
//!   registration, async-signal-safe); the event loop sees it within one poll, leaves, and the
//!   process then dies of the same signal with its default action, so the parent (a shell,
//!   `timeout`, systemd) sees what it sent. A second signal while leaving ends the process at
//!   once (exit 128 + signal), in case restoring itself hangs.
//! - the terminal hanging up (an SSH session dropped, a tmux pane killed) counts as SIGHUP even
//!   when no SIGHUP arrives: the kernel sends it only to the terminal's session leader and
//!   foreground group, and a hung-up terminal otherwise reads as endless end-of-file, which
//!   the event loop would take as input ready, forever, at full CPU.
//!
//! Without a terminal on stdin and stdout nothing here is started: [`has_terminal`] is asked
//! first, so not one escape sequence reaches a pipe.

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The signals that end `top` with the terminal restored.
const ENDING: [i32; 3] = [SIGTERM, SIGHUP, SIGINT];

/// Whether stdin and stdout are both a terminal: the TUI reads keys from one and draws on the
/// other.
pub fn has_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The TUI's hold on the terminal.
pub struct Session {
    pub terminal: DefaultTerminal,
    /// The number of the first ending signal received; 0 while none.
    signal: Arc<AtomicUsize>,
}

impl Session {
    /// Installs the signal flags, then enters raw mode and the alternate screen.
    pub fn enter() -> anyhow::Result<Self> {
        let signal = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(AtomicBool::new(false));
        for sig in ENDING {
            // The order is signal-hook's idiom: the shutdown check runs before the flag is set,
            // so only a second signal terminates at once.
            signal_hook::flag::register_conditional_shutdown(
                sig,
                128 + sig,
                Arc::clone(&received),
            )?;
            signal_hook::flag::register(sig, Arc::clone(&received))?;
            signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)?;
        }
        match ratatui::try_init() {
            Ok(terminal) => {
                // The wheel scrolls the detail pane, as in htop and k9s; Shift-drag still
                // selects text in xterm-compatible terminals. A panic turns it off again with
                // the rest of the terminal state (ratatui's hook restores raw mode and the
                // screen; this one, chained before it, the mouse).
                let previous = std::panic::take_hook();
                std::panic::set_hook(Box::new(move |info| {
                    let _ = execute!(std::io::stdout(), DisableMouseCapture);
                    previous(info);
                }));
                let _ = execute!(std::io::stdout(), EnableMouseCapture);
                Ok(Session { terminal, signal })
            }
            Err(e) => {
                ratatui::restore();
                Err(anyhow::Error::new(e).context("setting up the terminal"))
            }
        }
    }

    /// The ending signal received, if any.
    pub fn signalled(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => i32::try_from(s).ok(),
        }
    }

    /// Whether the TUI should end now: an ending signal arrived, or the terminal hung up
    /// (recorded as SIGHUP, so the process ends as a hung-up process does).
    pub fn should_end(&self) -> bool {
        if self.signalled().is_some() {
            return true;
        }
        if stdin_hung_up() {
            let _ = self.signal.compare_exchange(
                0,
                SIGHUP as usize,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            return true;
        }
        false
    }

    /// Restores the terminal. After a signal, ends the process with that signal's default
    /// action; returns only when there was none (or the default did not end the process).
    pub fn leave(self) -> Option<i32> {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        ratatui::restore();
        let sig = self.signalled()?;
        let _ = signal_hook::low_level::emulate_default_handler(sig);
        Some(sig)
    }
}

/// Whether stdin, the terminal keys come from, has hung up: `poll` reports POLLHUP (or an
/// error) on a terminal whose other side closed (Linux `n_tty_poll`: `TTY_OTHER_CLOSED`;
/// `hung_up_tty_poll` after a hangup).
fn stdin_hung_up() -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::empty())];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
        && fds[0].revents().is_some_and(|r| {
            r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
        })
}
