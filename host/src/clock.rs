//! Time as the host and its guests see it: a trait with the system clock for production and a
//! manual clock for the test kit. Everything time-driven in the runtime (ticks, WASI clocks,
//! `proxy_get_current_time_nanoseconds`) reads one of these, never `std::time` directly.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// A source of wall-clock and monotonic time.
pub trait Clock: Send + Sync {
    /// Wall-clock time (WASI `REALTIME`).
    fn now_system(&self) -> SystemTime;
    /// Time since an arbitrary fixed origin that never goes backwards (WASI `MONOTONIC`).
    fn now_monotonic(&self) -> Duration;
}

/// The real clock.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_system(&self) -> SystemTime {
        SystemTime::now()
    }
    fn now_monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when told to: `advance` moves both readings forward, `set` moves the
/// wall clock only (as an NTP step would) and leaves monotonic time alone.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<(SystemTime, Duration)>,
}

impl ManualClock {
    /// A manual clock whose wall time starts at `start` and monotonic time at zero.
    pub fn new(start: SystemTime) -> Self {
        Self {
            state: Mutex::new((start, Duration::ZERO)),
        }
    }

    /// A manual clock starting at `secs` seconds after the Unix epoch.
    pub fn at_unix_secs(secs: u64) -> Self {
        Self::new(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// Moves wall and monotonic time forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut s = self.lock();
        s.0 += d;
        s.1 += d;
    }

    /// Sets the wall clock; monotonic time is unchanged.
    pub fn set(&self, t: SystemTime) {
        self.lock().0 = t;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (SystemTime, Duration)> {
        // A poisoned lock still holds a valid pair of times.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now_system(&self) -> SystemTime {
        self.lock().0
    }
    fn now_monotonic(&self) -> Duration {
        self.lock().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let c = ManualClock::at_unix_secs(1_700_000_000);
        let t0 = c.now_system();
        assert_eq!(c.now_monotonic(), Duration::ZERO);
        c.advance(Duration::from_secs(5));
        assert_eq!(c.now_system(), t0 + Duration::from_secs(5));
        assert_eq!(c.now_monotonic(), Duration::from_secs(5));
        c.set(t0);
        assert_eq!(c.now_system(), t0);
        assert_eq!(c.now_monotonic(), Duration::from_secs(5));
    }
}
