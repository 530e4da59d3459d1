//! Sign-in throttling: failed attempts are counted per username and per client address,
//! and each count imposes a growing wait before the next attempt is even checked.
//!
//! The schedule (waits after the last failure): 1 s after 2 failures, 3 s after 3-8, 5 s
//! after 9-24, 10 s after 25-99; from 100 failures an address is refused until the UTC day
//! ends. A username's wait stops growing at 10 s, so an attacker hammering one account from
//! one address cannot keep its owner out: the owner, from another address, only ever waits
//! the username's delay. Every attempt is counted when it starts (and forgiven when it
//! succeeds), so parallel requests cannot slip through together.
//!
//! Counters live in memory and are bounded: stale ones are dropped first, then the oldest.

use std::collections::HashMap;
use std::sync::Mutex;

/// How many counters each table holds at most.
pub const MAX_ENTRIES: usize = 50_000;

/// Failures after which an address is refused for the rest of the day.
pub const DAY_BLOCK_FAILURES: u32 = 100;

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// Wait in seconds after `failures` failed attempts (`f64::INFINITY`: rest of the day).
pub fn delay_after(failures: u32) -> f64 {
    match failures {
        0..=1 => 0.0,
        2 => 1.0,
        3..=8 => 3.0,
        9..=24 => 5.0,
        25..=99 => 10.0,
        _ => f64::INFINITY,
    }
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    last_failure: f64,
}

impl Counter {
    /// Seconds until the next attempt is allowed (0 when allowed now).
    fn wait(&self, now: f64, day_block: bool) -> f64 {
        let delay = delay_after(self.failures);
        if delay.is_infinite() {
            if day_block {
                let day_end = ((self.last_failure / DAY).floor() + 1.0) * DAY;
                return (day_end - now).max(0.0);
            }
            return (self.last_failure + delay_after(DAY_BLOCK_FAILURES - 1) - now).max(0.0);
        }
        (self.last_failure + delay - now).max(0.0)
    }

    fn is_stale(&self, now: f64) -> bool {
        now - self.last_failure > DAY
            || (self.failures >= DAY_BLOCK_FAILURES
                && (now / DAY).floor() > (self.last_failure / DAY).floor())
    }
}

#[derive(Debug, Default)]
struct Table {
    counters: HashMap<String, Counter>,
}

impl Table {
    fn current(&mut self, key: &str, now: f64) -> Option<Counter> {
        match self.counters.get(key) {
            Some(c) if c.is_stale(now) => {
                self.counters.remove(key);
                None
            }
            other => other.copied(),
        }
    }

    fn add_failure(&mut self, key: &str, now: f64) {
        if !self.counters.contains_key(key) && self.counters.len() >= MAX_ENTRIES {
            self.make_room(now);
        }
        let counter = self.counters.entry(key.to_owned()).or_insert(Counter {
            failures: 0,
            last_failure: now,
        });
        counter.failures = counter.failures.saturating_add(1);
        counter.last_failure = now;
    }

    fn forgive_one(&mut self, key: &str) {
        if let Some(counter) = self.counters.get_mut(key) {
            counter.failures = counter.failures.saturating_sub(1);
            if counter.failures == 0 {
                self.counters.remove(key);
            }
        }
    }

    /// Drops stale counters; if still full, the oldest tenth.
    fn make_room(&mut self, now: f64) {
        self.counters.retain(|_, c| !c.is_stale(now));
        if self.counters.len() < MAX_ENTRIES {
            return;
        }
        let mut ages: Vec<f64> = self.counters.values().map(|c| c.last_failure).collect();
        let cut = ages.len() / 10;
        let (_, threshold, _) = ages.select_nth_unstable_by(cut, f64::total_cmp);
        let threshold = *threshold;
        self.counters.retain(|_, c| c.last_failure > threshold);
    }
}

/// The outcome of [`Throttle::begin`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// Go ahead and check the password; the attempt is already counted as a failure.
    Allowed,
    /// Refused without checking; retry after this many whole seconds.
    Throttled {
        /// Seconds to wait, at least 1.
        retry_after: u64,
    },
}

/// Failure counters per username and per client address.
#[derive(Debug, Default)]
pub struct Throttle {
    users: Mutex<Table>,
    addresses: Mutex<Table>,
}

fn lock(table: &Mutex<Table>) -> std::sync::MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(|p| p.into_inner())
}

impl Throttle {
    /// An empty throttle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts an attempt at `now` (Unix seconds): refused while either counter imposes a
    /// wait; otherwise counted as a failure until [`Throttle::succeeded`] forgives it.
    pub fn begin(&self, username: &str, address: &str, now: f64) -> Admission {
        let user_key = username.to_lowercase();
        let mut users = lock(&self.users);
        let mut addresses = lock(&self.addresses);
        let user_wait = users
            .current(&user_key, now)
            .map_or(0.0, |c| c.wait(now, false));
        let address_wait = addresses
            .current(address, now)
            .map_or(0.0, |c| c.wait(now, true));
        let wait = user_wait.max(address_wait);
        if wait > 0.0 {
            return Admission::Throttled {
                retry_after: (wait.ceil() as u64).max(1),
            };
        }
        users.add_failure(&user_key, now);
        addresses.add_failure(address, now);
        Admission::Allowed
    }

    /// The attempt begun for `username` from `address` had the right password: the
    /// username's counter is cleared and the address's pessimistic count is taken back.
    pub fn succeeded(&self, username: &str, address: &str) {
        lock(&self.users).counters.remove(&username.to_lowercase());
        lock(&self.addresses).forgive_one(address);
    }

    /// Clears a username's counter (an admin unlocking the account).
    pub fn clear_user(&self, username: &str) {
        lock(&self.users).counters.remove(&username.to_lowercase());
    }

    /// How many counters are held (both tables), for tests and figures.
    pub fn len(&self) -> usize {
        lock(&self.users).counters.len() + lock(&self.addresses).counters.len()
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: f64 = 1_800_000_000.0;

    fn fail(t: &Throttle, user: &str, ip: &str, now: f64) -> Admission {
        t.begin(user, ip, now)
    }

    #[test]
    fn schedule_grows() {
        assert_eq!(delay_after(1), 0.0);
        assert_eq!(delay_after(2), 1.0);
        assert_eq!(delay_after(8), 3.0);
        assert_eq!(delay_after(9), 5.0);
        assert_eq!(delay_after(99), 10.0);
        assert!(delay_after(100).is_infinite());
    }

    #[test]
    fn third_attempt_waits_a_second() {
        let t = Throttle::new();
        assert_eq!(fail(&t, "bob", "1.1.1.1", T0), Admission::Allowed);
        assert_eq!(fail(&t, "bob", "1.1.1.1", T0), Admission::Allowed);
        assert_eq!(
            fail(&t, "bob", "1.1.1.1", T0 + 0.2),
            Admission::Throttled { retry_after: 1 }
        );
        assert_eq!(fail(&t, "bob", "1.1.1.1", T0 + 1.0), Admission::Allowed);
        assert_eq!(
            fail(&t, "bob", "1.1.1.1", T0 + 1.5),
            Admission::Throttled { retry_after: 3 }
        );
    }

    #[test]
    fn usernames_are_counted_case_insensitively_and_across_addresses() {
        let t = Throttle::new();
        fail(&t, "Bob", "1.1.1.1", T0);
        fail(&t, "bob", "2.2.2.2", T0);
        assert!(matches!(
            fail(&t, "BOB", "3.3.3.3", T0),
            Admission::Throttled { .. }
        ));
    }

    #[test]
    fn success_clears_the_user_but_not_the_address_history() {
        let t = Throttle::new();
        fail(&t, "eve-target", "6.6.6.6", T0);
        fail(&t, "alice", "6.6.6.6", T0);
        t.succeeded("alice", "6.6.6.6");
        // alice's counter is gone; the address still has one failure (eve-target's).
        assert_eq!(fail(&t, "alice", "6.6.6.6", T0), Admission::Allowed);
        assert!(matches!(
            fail(&t, "carol", "6.6.6.6", T0),
            Admission::Throttled { .. }
        ));
    }

    #[test]
    fn address_is_refused_for_the_day_after_100_failures() {
        let t = Throttle::new();
        let mut now = T0;
        let mut allowed = 0;
        while allowed < 100 {
            match t.begin(&format!("user{allowed}"), "9.9.9.9", now) {
                Admission::Allowed => allowed += 1,
                Admission::Throttled { retry_after } => now += retry_after as f64,
            }
        }
        let Admission::Throttled { retry_after } = t.begin("x", "9.9.9.9", now + 60.0) else {
            panic!("expected a day block");
        };
        let day_end = ((now / DAY).floor() + 1.0) * DAY;
        assert_eq!(retry_after, (day_end - now - 60.0).ceil() as u64);
        // Next day: allowed again.
        assert_eq!(t.begin("x", "9.9.9.9", day_end + 1.0), Admission::Allowed);
    }

    #[test]
    fn owner_gets_in_from_elsewhere_once_the_user_delay_passed() {
        let t = Throttle::new();
        let mut now = T0;
        // Attackers hammer alice from many addresses, as fast as they are let through.
        for i in 0..5_000 {
            let address = format!("6.6.{}.{}", i % 50, i % 7);
            if let Admission::Throttled { .. } = t.begin("alice", &address, now) {
                now += 0.25;
            }
        }
        // The owner, from another address, waits at most the username's cap of 10 s.
        let owner = |at: f64| t.begin("alice", "10.0.0.5", at);
        let waited = match owner(now) {
            Admission::Allowed => 0,
            Admission::Throttled { retry_after } => retry_after,
        };
        assert!(waited > 0, "the attack keeps alice's counter busy");
        assert!(waited <= 10, "waited {waited}");
        assert_eq!(owner(now + waited as f64), Admission::Allowed);
        t.succeeded("alice", "10.0.0.5");
        assert_eq!(owner(now + waited as f64), Admission::Allowed);
    }

    #[test]
    fn memory_is_bounded() {
        let t = Throttle::new();
        for i in 0..(MAX_ENTRIES + 5_000) {
            t.begin(
                &format!("u{i}"),
                &format!("ip{}", i % 7),
                T0 + i as f64 * 1e-4,
            );
        }
        assert!(t.len() <= MAX_ENTRIES + 7, "{}", t.len());
    }

    #[test]
    fn clear_user_forgets_the_count() {
        let t = Throttle::new();
        fail(&t, "bob", "1.1.1.1", T0);
        fail(&t, "bob", "2.2.2.2", T0);
        t.clear_user("bob");
        assert_eq!(fail(&t, "bob", "3.3.3.3", T0), Admission::Allowed);
    }
}
