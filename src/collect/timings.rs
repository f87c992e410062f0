//! Per-phase wall time of one sample (`--debug-timings` on `check`, `top` and `serve`): each
//! collector by name, then the cluster part, analysis and rendering, so the cost of a sample
//! can be read off one run (docs/performance.md, "Where the time goes").
//!
//! The recorder is off unless asked for, and then costs nothing: [`Timings::time`] calls its
//! closure and reads no clock.

use std::time::{Duration, Instant};

/// The phases of one sample in the order they ran, with their wall time.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    on: bool,
    phases: Vec<(&'static str, Duration)>,
}

impl Timings {
    /// A recorder that records nothing and reads no clock.
    pub fn off() -> Self {
        Timings::default()
    }

    /// A recorder that records every phase it is told of.
    pub fn on() -> Self {
        Timings {
            on: true,
            phases: Vec::with_capacity(24),
        }
    }

    /// On when `yes`, else off.
    pub fn when(yes: bool) -> Self {
        if yes { Timings::on() } else { Timings::off() }
    }

    /// Whether phases are recorded.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Runs `f` as the phase `name`, recording its wall time when on.
    pub fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        if !self.on {
            return f();
        }
        let started = Instant::now();
        let out = f();
        self.phases.push((name, started.elapsed()));
        out
    }

    /// The recorded phases, in the order they ran.
    pub fn phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    /// One line per phase, `timing <phase> <ms> ms`, for stderr (empty when off).
    pub fn lines(&self) -> String {
        self.phases
            .iter()
            .map(|(name, d)| format!("timing {name} {:.2} ms\n", ms(*d)))
            .collect()
    }

    /// All phases on one line, `<phase> <ms> ms, ...` (serve's log).
    pub fn one_line(&self) -> String {
        self.phases
            .iter()
            .map(|(name, d)| format!("{name} {:.2} ms", ms(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Milliseconds, with fractions.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The phases of many samples (`top` prints it when it exits): the first sample (a full
/// one) apart from the mean of the later ones (incremental).
#[derive(Debug, Default)]
pub struct Summary {
    first: Vec<(&'static str, Duration)>,
    later: Vec<(&'static str, Duration, u32)>,
    samples: u32,
}

impl Summary {
    /// Adds one sample's phases.
    pub fn add(&mut self, t: &Timings) {
        if !t.is_on() {
            return;
        }
        self.samples += 1;
        if self.samples == 1 {
            self.first = t.phases.clone();
            return;
        }
        for (name, d) in t.phases() {
            match self.later.iter_mut().find(|(n, ..)| n == name) {
                Some((_, sum, n)) => {
                    *sum += *d;
                    *n += 1;
                }
                None => self.later.push((name, *d, 1)),
            }
        }
    }

    /// Adds one phase that happens outside a sample (drawing a frame) to the later samples.
    pub fn add_phase(&mut self, name: &'static str, d: Duration) {
        match self.later.iter_mut().find(|(n, ..)| *n == name) {
            Some((_, sum, n)) => {
                *sum += d;
                *n += 1;
            }
            None => self.later.push((name, d, 1)),
        }
    }

    /// One line per phase: `timing <phase> first <ms> ms, mean <ms> ms over <n> later`.
    pub fn lines(&self) -> String {
        let mut names: Vec<&'static str> = self.first.iter().map(|(n, _)| *n).collect();
        for (n, ..) in &self.later {
            if !names.contains(n) {
                names.push(n);
            }
        }
        let mut out = String::new();
        for name in names {
            let first = self
                .first
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("-".to_string(), |(_, d)| format!("{:.2} ms", ms(*d)));
            let later = self
                .later
                .iter()
                .find(|(n, ..)| *n == name)
                .map_or("no later sample".to_string(), |(_, sum, n)| {
                    format!("mean {:.2} ms over {n} later", ms(*sum) / f64::from(*n))
                });
            out.push_str(&format!("timing {name} first {first}, {later}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_records_nothing_and_on_records_each_phase_in_order() {
        let mut off = Timings::off();
        assert_eq!(off.time("a", || 7), 7);
        assert!(off.phases().is_empty());
        assert_eq!(off.lines(), "");
        let mut on = Timings::on();
        on.time("processes", || ());
        on.time("disk", || ());
        let names: Vec<_> = on.phases().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["processes", "disk"]);
        let lines = on.lines();
        assert_eq!(lines.lines().count(), 2);
        assert!(lines.starts_with("timing processes "), "{lines}");
    }

    #[test]
    fn a_summary_keeps_the_first_sample_apart_from_the_mean_of_the_later() {
        let t = |d: u64| Timings {
            on: true,
            phases: vec![("processes", Duration::from_millis(d))],
        };
        let mut s = Summary::default();
        s.add(&t(10));
        s.add(&t(2));
        s.add(&t(4));
        s.add_phase("render", Duration::from_millis(1));
        assert_eq!(
            s.lines(),
            "timing processes first 10.00 ms, mean 3.00 ms over 2 later\n\
             timing render first -, mean 1.00 ms over 1 later\n"
        );
    }
}
