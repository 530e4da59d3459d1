//! The header timeout of one connection, kept without a timer per request.
//!
//! hyper enforces its header-read timeout with a sleep from its [`Timer`]: made afresh for
//! every request of a keep-alive connection, put into tokio's timer wheel when the next
//! request's headers are not there yet, and taken out again when they come. That is a heap
//! sleep and two locked wheel operations per request. Here hyper gets a [`Timer`] of the
//! connection's own instead: its sleeps only note their deadline in the connection's
//! [`HeaderDeadline`], and one [`Watchdog`], polled with the connection in its task, holds
//! the only tokio timer and moves it when it fires, at most once per timeout period. When
//! it fires at a noted deadline, the connection's task is polled, hyper polls its sleep,
//! and the sleep, past its deadline, ends the wait: hyper closes the connection as it does
//! with any timer, at the same moment.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// No deadline is noted.
const NONE: u64 = u64::MAX;

/// The deadline of the sleep a connection's hyper waits on, as nanoseconds since the
/// connection's `epoch`: hyper and the watchdog run in the connection's one task, so
/// relaxed atomics suffice (the type must be `Sync` for hyper).
#[derive(Debug)]
pub(super) struct HeaderDeadline {
    epoch: Instant,
    noted: AtomicU64,
}

impl HeaderDeadline {
    /// The deadline of a new connection, with none noted yet.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            noted: AtomicU64::new(NONE),
        })
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(NONE - 1)
    }

    /// Notes `at` as a sleep's deadline, keeping an earlier one.
    fn note(&self, at: Instant) {
        self.noted.fetch_min(self.nanos(at), Ordering::Relaxed);
    }

    /// Forgets `at`, when it is the deadline noted.
    fn forget(&self, at: Instant) {
        let _ =
            self.noted
                .compare_exchange(self.nanos(at), NONE, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The deadline noted, if any.
    fn noted(&self) -> Option<Instant> {
        match self.noted.load(Ordering::Relaxed) {
            NONE => None,
            nanos => Some(self.epoch + Duration::from_nanos(nanos)),
        }
    }
}

/// hyper's timer for one connection: its sleeps note their deadlines in the connection's
/// [`HeaderDeadline`] for its [`Watchdog`] to keep.
#[derive(Debug, Clone)]
pub(super) struct ConnectionTimer(pub(super) Arc<HeaderDeadline>);

impl Timer for ConnectionTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(NotedSleep {
            deadline,
            connection: Arc::clone(&self.0),
        })
    }
}

/// A sleep that is over once its deadline has passed, looked at whenever it is polled;
/// while waiting, its deadline is noted for the watchdog, which polls the connection then.
struct NotedSleep {
    deadline: Instant,
    connection: Arc<HeaderDeadline>,
}

impl Future for NotedSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        self.connection.note(self.deadline);
        Poll::Pending
    }
}

impl Sleep for NotedSleep {}

impl Drop for NotedSleep {
    fn drop(&mut self) {
        self.connection.forget(self.deadline);
    }
}

/// The one tokio timer of a connection: it fires at the deadline noted, or after `period`
/// when none is, and is polled in the connection's task, so that hyper's sleep is polled
/// again when its deadline passes.
pub(super) struct Watchdog {
    connection: Arc<HeaderDeadline>,
    period: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Watchdog {
    /// The watchdog of `connection`, which looks at least once every `period` (the header
    /// timeout: no sleep of hyper's can be due sooner than that after it is made).
    pub(super) fn new(connection: Arc<HeaderDeadline>, period: Duration) -> Self {
        Self {
            connection,
            period,
            timer: Box::pin(tokio::time::sleep(period)),
        }
    }

    /// Waits for the watchdog's next look, then sets the one after: the deadline noted if
    /// it is still ahead, else a period from now. (A deadline that has passed is hyper's to
    /// see now: the connection is polled with this.)
    pub(super) async fn fired(&mut self) {
        self.timer.as_mut().await;
        let now = Instant::now();
        let next = match self.connection.noted() {
            Some(deadline) if deadline > now => deadline,
            _ => now + self.period,
        };
        self.timer.as_mut().reset(next.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll_once(sleep: &mut Pin<Box<dyn Sleep>>) -> Poll<()> {
        let waker = std::task::Waker::noop();
        sleep.as_mut().poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn a_sleep_notes_its_deadline_while_it_waits_and_forgets_it_when_dropped() {
        let connection = HeaderDeadline::new();
        let timer = ConnectionTimer(Arc::clone(&connection));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut sleep = timer.sleep_until(deadline);
        assert_eq!(connection.noted(), None, "noted only once polled");
        assert_eq!(poll_once(&mut sleep), Poll::Pending);
        let noted = connection.noted().expect("noted");
        assert!(noted.duration_since(deadline) < Duration::from_micros(1));
        drop(sleep);
        assert_eq!(connection.noted(), None);
    }

    #[test]
    fn a_sleep_is_over_once_its_deadline_has_passed() {
        let timer = ConnectionTimer(HeaderDeadline::new());
        let mut sleep = timer.sleep(Duration::from_millis(20));
        assert_eq!(poll_once(&mut sleep), Poll::Pending);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(poll_once(&mut sleep), Poll::Ready(()));
    }

    #[test]
    fn the_earlier_of_two_deadlines_is_kept_and_a_later_one_forgotten_leaves_it() {
        let connection = HeaderDeadline::new();
        let timer = ConnectionTimer(Arc::clone(&connection));
        let now = Instant::now();
        let mut early = timer.sleep_until(now + Duration::from_secs(10));
        let mut late = timer.sleep_until(now + Duration::from_secs(20));
        assert_eq!(poll_once(&mut late), Poll::Pending);
        assert_eq!(poll_once(&mut early), Poll::Pending);
        drop(late);
        let noted = connection.noted().expect("the early one stays");
        assert!(noted < now + Duration::from_secs(11));
        drop(early);
        assert_eq!(connection.noted(), None);
    }

    #[tokio::test]
    async fn the_watchdog_fires_at_the_noted_deadline_else_every_period() {
        let period = Duration::from_millis(200);
        let connection = HeaderDeadline::new();
        let timer = ConnectionTimer(Arc::clone(&connection));
        let mut watchdog = Watchdog::new(Arc::clone(&connection), period);
        let started = Instant::now();
        watchdog.fired().await;
        let first = started.elapsed();
        assert!(first >= period && first < 2 * period, "a period: {first:?}");
        // Noted 50 ms into the next period, a sleep of a period is due 50 ms after it: the
        // watchdog looks at the period's end, then at the deadline.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut sleep = timer.sleep(period);
        let due = Instant::now() + period;
        assert_eq!(poll_once(&mut sleep), Poll::Pending);
        watchdog.fired().await;
        assert!(Instant::now() < due, "the period's end comes first");
        watchdog.fired().await;
        let late = Instant::now().saturating_duration_since(due);
        assert!(
            Instant::now() >= due - Duration::from_millis(2),
            "not before the deadline"
        );
        assert!(
            late < Duration::from_millis(100),
            "at the deadline: {late:?} late"
        );
        assert_eq!(poll_once(&mut sleep), Poll::Ready(()));
    }
}
