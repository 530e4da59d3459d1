//! Time as the stores keep it: float Unix seconds (the reference's timestamps), and how
//! the command line and the pages print it.

/// The current time as float Unix seconds.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
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
