//! Standard output and standard error when the reader goes away. `nodescope check | head -1`
//! closes the pipe after one line; the rest of the report then has nowhere to go, and that is
//! no failure: as ripgrep does (crates/core/main.rs: a `BrokenPipe` error ends the process
//! quietly), nodescope prints no "Broken pipe" and exits with the status of its report. That
//! status is computed from the findings, never from a write, so it does not depend on how much
//! the reader took before it left (`check | head -c1` is as deterministic as `check`).

use std::io::{self, Write};

/// A writer that turns `BrokenPipe` into success and discards everything after it. Every
/// subcommand writes its report through one, so the rule is the same for all of them, JSON
/// encoders included (serde_json's error hides the `io::Error` kind from an error chain).
pub struct Quiet<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> Quiet<W> {
    pub fn new(inner: W) -> Self {
        Quiet {
            inner,
            closed: false,
        }
    }

    /// Whether the reader has gone away.
    pub fn closed(&self) -> bool {
        self.closed
    }

    fn quiet<T>(&mut self, r: io::Result<T>, ok: T) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(ok)
            }
            r => r,
        }
    }
}

impl<W: Write> Write for Quiet<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.quiet(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.quiet(r, ())
    }
}

/// Writes `nodescope: <msg>` as one line on standard error, node strings in it escaped
/// ([`crate::render::escape::esc`]); a closed or broken stderr is ignored (`eprintln!` would
/// panic on it).
pub fn note(msg: &str) {
    let line = format!(
        "nodescope: {}\n",
        crate::render::escape::esc(msg.trim_end())
    );
    let _ = io::stderr().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that leaves after `room` bytes.
    struct Pipe {
        got: Vec<u8>,
        room: usize,
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.got.len() >= self.room {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room - self.got.len());
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_swallows_the_rest_and_other_errors_pass() {
        let mut q = Quiet::new(Pipe {
            got: Vec::new(),
            room: 4,
        });
        q.write_all(b"line one\nline two\n").unwrap();
        serde_json::to_writer(&mut q, &serde_json::json!({"a": [1, 2, 3]})).unwrap();
        q.flush().unwrap();
        assert!(q.closed());
        assert_eq!(q.inner.got, b"line");

        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(28)) // ENOSPC
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut q = Quiet::new(Full);
        assert_eq!(q.write_all(b"x").unwrap_err().raw_os_error(), Some(28));
        assert!(!q.closed());
    }
}
