//! Where the gateway's log lines go. A thread that logs (a worker finishing a request and logging
//! its audit line) appends the formatted line to a shared buffer and goes on: no write to stderr
//! and no wake of another thread per line. A flusher thread writes the buffer out every
//! `interval`, or as soon as it holds `flush_at` bytes, as Envoy's access log files are flushed on
//! an interval or when their buffer fills. No line is dropped: when `cap` bytes are waiting for the
//! flusher, the next line waits for it. Dropping the `Flusher` writes what is left and stops the
//! thread; lines logged after that are discarded.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// When the flusher writes.
#[derive(Debug, Clone, Copy)]
pub struct FlushPolicy {
    /// At the latest this long after a line was logged.
    pub interval: Duration,
    /// At once when this many bytes are waiting.
    pub flush_at: usize,
    /// A line that would take the waiting bytes above this waits until they are written.
    pub cap: usize,
}

impl Default for FlushPolicy {
    fn default() -> Self {
        FlushPolicy {
            interval: Duration::from_millis(20),
            flush_at: 64 * 1024,
            cap: 4 * 1024 * 1024,
        }
    }
}

struct State {
    pending: Vec<u8>,
    /// Loggers waiting for the pending bytes to be taken.
    waiting: usize,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signals the flusher: `flush_at` reached, or closing.
    full: Condvar,
    /// Signals waiting loggers: the flusher took the pending bytes.
    drained: Condvar,
    policy: FlushPolicy,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A thread that panicked while appending left whole lines or none: keep logging.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The `MakeWriter` handed to `tracing_subscriber`: each event is one `write_all` of its line.
#[derive(Clone)]
pub struct BufferedLog {
    shared: Arc<Shared>,
}

/// The flusher thread. Dropping it writes everything logged so far and joins the thread.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts a flusher writing to `out` and returns the writer to log through.
pub fn buffered<W: Write + Send + 'static>(
    out: W,
    policy: FlushPolicy,
) -> std::io::Result<(BufferedLog, Flusher)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            pending: Vec::with_capacity(policy.flush_at),
            waiting: 0,
            closed: false,
        }),
        full: Condvar::new(),
        drained: Condvar::new(),
        policy,
    });
    let thread = std::thread::Builder::new()
        .name("log-flusher".into())
        .spawn({
            let shared = shared.clone();
            move || flush_loop(&shared, out)
        })?;
    Ok((
        BufferedLog {
            shared: shared.clone(),
        },
        Flusher {
            shared,
            thread: Some(thread),
        },
    ))
}

fn flush_loop<W: Write>(shared: &Shared, mut out: W) {
    let mut writing = Vec::with_capacity(shared.policy.flush_at);
    loop {
        let closed = {
            let policy = shared.policy;
            let (mut state, _) = shared
                .full
                .wait_timeout_while(shared.lock(), policy.interval, |state| {
                    !state.closed && state.waiting == 0 && state.pending.len() < policy.flush_at
                })
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::swap(&mut state.pending, &mut writing);
            if state.waiting > 0 {
                shared.drained.notify_all();
            }
            state.closed
        };
        if !writing.is_empty() {
            // A failing stderr (a closed pipe) cannot be reported anywhere: the batch is dropped
            // rather than held, or the loggers would end up waiting forever.
            let _ = out.write_all(&writing).and_then(|()| out.flush());
            writing.clear();
            // After a burst (loggers outpacing a slow stderr), give the memory back.
            if writing.capacity() > 4 * shared.policy.flush_at {
                writing.shrink_to(shared.policy.flush_at);
            }
        }
        // Once closed, loggers append nothing more: this pass took the last of it.
        if closed {
            return;
        }
    }
}

impl BufferedLog {
    fn append(&self, line: &[u8]) {
        let policy = self.shared.policy;
        let mut state = self.shared.lock();
        // Wait while the line would not fit, unless nothing is pending (a line longer than the
        // cap goes alone).
        while !state.closed
            && !state.pending.is_empty()
            && state.pending.len() + line.len() > policy.cap
        {
            state.waiting += 1;
            self.shared.full.notify_one();
            state = self
                .shared
                .drained
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.waiting -= 1;
        }
        if state.closed {
            // The process is exiting and the last flush is done or under way: nowhere to write.
            return;
        }
        state.pending.extend_from_slice(line);
        if state.pending.len() >= policy.flush_at {
            self.shared.full.notify_one();
        }
    }
}

impl Write for BufferedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BufferedLog {
    type Writer = BufferedLog;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.full.notify_one();
        self.shared.drained.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A `Write` whose bytes the test can read, counting the writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut sink = self.0.lock().unwrap();
            sink.0.extend_from_slice(buf);
            sink.1 += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }

        fn writes(&self) -> usize {
            self.0.lock().unwrap().1
        }
    }

    fn policy(interval_ms: u64, flush_at: usize, cap: usize) -> FlushPolicy {
        FlushPolicy {
            interval: Duration::from_millis(interval_ms),
            flush_at,
            cap,
        }
    }

    /// Polls `done` for up to ten seconds.
    fn eventually(done: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn a_line_is_written_within_the_interval_without_being_flushed_by_the_logger() {
        let sink = Sink::default();
        let (mut log, _flusher) = buffered(sink.clone(), policy(10, 1 << 20, 1 << 20)).unwrap();
        log.write_all(b"one\n").unwrap();
        assert!(eventually(|| sink.text() == "one\n"), "{:?}", sink.text());
    }

    #[test]
    fn lines_logged_together_go_out_in_one_write() {
        let sink = Sink::default();
        // An interval far beyond the test: only the flush at drop writes.
        let (log, flusher) = buffered(sink.clone(), policy(60_000, 1 << 20, 1 << 20)).unwrap();
        for i in 0..100 {
            log.clone()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        drop(flusher);
        let want: String = (0..100).map(|i| format!("line {i}\n")).collect();
        assert_eq!(sink.text(), want);
        assert_eq!(sink.writes(), 1);
    }

    #[test]
    fn reaching_flush_at_writes_before_the_interval() {
        let sink = Sink::default();
        let (mut log, _flusher) = buffered(sink.clone(), policy(60_000, 64, 1 << 20)).unwrap();
        log.write_all(&[b'x'; 63]).unwrap();
        log.write_all(b"\n").unwrap();
        assert!(eventually(|| sink.text().len() == 64));
    }

    #[test]
    fn many_threads_logging_past_the_cap_lose_no_line_and_split_none() {
        let sink = Sink::default();
        // A cap of a few lines: loggers wait for the flusher again and again.
        let (log, flusher) = buffered(sink.clone(), policy(60_000, 1 << 20, 200)).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        let line = format!("thread {t} line {i:04} {}\n", "-".repeat(i % 40));
                        log.clone().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(flusher);
        let text = sink.text();
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2000);
        lines.sort_unstable();
        let mut want: Vec<String> = (0..4)
            .flat_map(|t| {
                (0..500).map(move |i| format!("thread {t} line {i:04} {}", "-".repeat(i % 40)))
            })
            .collect();
        want.sort_unstable();
        assert_eq!(lines, want);
        assert!(sink.writes() > 1, "the cap forced writes before the end");
    }

    #[test]
    fn a_line_longer_than_the_cap_still_goes_out() {
        let sink = Sink::default();
        let (log, flusher) = buffered(sink.clone(), policy(60_000, 1 << 20, 8)).unwrap();
        log.clone().write_all(b"short\n").unwrap();
        log.clone()
            .write_all(b"a line longer than eight bytes\n")
            .unwrap();
        drop(flusher);
        assert_eq!(sink.text(), "short\na line longer than eight bytes\n");
    }

    #[test]
    fn logging_after_the_flusher_stopped_does_not_block() {
        let sink = Sink::default();
        let (log, flusher) = buffered(sink.clone(), policy(60_000, 1 << 20, 4)).unwrap();
        drop(flusher);
        log.clone().write_all(b"late line\n").unwrap();
        log.clone().write_all(b"another\n").unwrap();
        assert_eq!(sink.text(), "");
    }
}
