//! The requests-per-minute limit of a key: a sliding window of the last minute's requests.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How long the window is.
const WINDOW: f64 = 60.0;

/// Requests per key in the last minute. A key's window holds at most its limit's worth of
/// instants, so the memory is bounded by the limits of the keys in use.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, VecDeque<f64>>>,
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one request of key `id` at `now` within `rpm` a minute: `Ok(())`, or
    /// `Err(seconds)` to wait before the next one is allowed (at least 1).
    pub fn take(&self, id: &str, rpm: u32, now: f64) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.entry(id.to_owned()).or_default();
        while window.front().is_some_and(|&at| now - at >= WINDOW) {
            window.pop_front();
        }
        if window.len() < rpm as usize {
            window.push_back(now);
            return Ok(());
        }
        let oldest = window.front().copied().unwrap_or(now);
        Err(((oldest + WINDOW - now).ceil() as u64).max(1))
    }

    /// Forgets the windows with nothing in the last minute (called now and then).
    pub fn forget_idle(&self, now: f64) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.retain(|_, window| window.back().is_some_and(|&at| now - at < WINDOW));
    }

    /// How many keys have a window.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.windows.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_makes_at_most_its_rpm_in_any_minute() {
        let limiter = RateLimiter::new();
        for i in 0..3 {
            assert_eq!(limiter.take("k", 3, 100.0 + f64::from(i)), Ok(()));
        }
        assert_eq!(limiter.take("k", 3, 110.0), Err(50));
        assert_eq!(limiter.take("other", 3, 110.0), Ok(()), "per key");
        assert_eq!(limiter.take("k", 3, 159.5), Err(1));
        assert_eq!(
            limiter.take("k", 3, 160.0),
            Ok(()),
            "the first left the window"
        );
        limiter.forget_idle(300.0);
        assert_eq!(limiter.len(), 0);
    }
}
