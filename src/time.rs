//! Time as the stores keep it: float Unix seconds (the reference's timestamps), and how
//! the command line and the pages print it.

/// The current time as float Unix seconds.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// [`now_secs`] from the kernel's coarse clock: as of its last tick, a few milliseconds at
/// most behind, and cheaper to read. For what every request checks and needs no finer
/// (a session's 30-day age and its 5-minute last-seen rewrite).
pub fn now_secs_coarse() -> f64 {
    use nix::time::{clock_gettime, ClockId};
    match clock_gettime(ClockId::CLOCK_REALTIME_COARSE) {
        Ok(now) => now.tv_sec() as f64 + now.tv_nsec() as f64 * 1e-9,
        Err(_) => now_secs(),
    }
}

/// Formats Unix seconds as local `YYYY-MM-DD HH:MM:SS`.
pub fn local_time(secs: f64) -> String {
    let secs = if secs.is_finite() { secs } else { 0.0 };
    chrono::DateTime::from_timestamp(secs.trunc() as i64, 0)
        .unwrap_or_default()
        .with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// "3 hours ago" for a time `then` seen from `now` (Unix seconds).
pub fn relative_time(then: f64, now: f64) -> String {
    let seconds = (now - then).max(0.0) as u64;
    let (value, unit) = match seconds {
        0..=59 => return "just now".to_owned(),
        60..=3599 => (seconds / 60, "minute"),
        3600..=86_399 => (seconds / 3600, "hour"),
        86_400..=2_591_999 => (seconds / 86_400, "day"),
        2_592_000..=31_535_999 => (seconds / 2_592_000, "month"),
        _ => (seconds / 31_536_000, "year"),
    };
    format!("{value} {unit}{} ago", if value == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_tells_the_same_time_within_a_tick() {
        let before = now_secs();
        let coarse = now_secs_coarse();
        let after = now_secs();
        // A tick is at most 10 ms (100 Hz); the coarse clock may lag by one.
        assert!(
            coarse >= before - 0.011 && coarse <= after,
            "{before} {coarse} {after}"
        );
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative_time(0.0, 30.0), "just now");
        assert_eq!(relative_time(0.0, 3.0 * 3600.0 + 5.0), "3 hours ago");
        assert_eq!(relative_time(0.0, 60.0), "1 minute ago");
        assert_eq!(relative_time(0.0, 2.0 * 86400.0), "2 days ago");
        assert_eq!(relative_time(100.0, 0.0), "just now");
    }
}
