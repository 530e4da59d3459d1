//! Sign-in throttling: failed attempts are counted per username and per client address,
//! and each count imposes a growing wait before the next attempt is even checked.
//!
//! The schedule (waits after the last failure): 1 s after 2 failures, 3 s after 3-8, 5 s
//! after 9-24, 10 s after 25-99; from 100 failures an address is refused until the UTC day
//! ends. A username's wait stops growing at 10 s, so an attacker hammering one account from
//! one address cannot keep its owner out: the owner, from another address, only ever waits
//! the username's delay. Attempts still being checked are limited (2 per username; per
//! address 32, or 4 once it has failures), so a burst of parallel requests cannot slip past
//! the schedule together; an attempt abandoned mid-check (client gone) counts as a failure.
//!
//! Counters live in memory and are bounded: stale ones are dropped first, then the oldest.
//! Every key is a fixed 32 bytes (a SHA-256), whatever the client sent, so the bound on
//! entries is a bound on bytes. An address is counted by its network rather than by itself
//! where one client holds many: an IPv4-mapped IPv6 address as the IPv4 address, any other
//! IPv6 address by its /64 prefix (the block one subscriber or site is given).
//!
//! A refusal says whether it is the first one of its wait ([`Throttled::first`]): callers
//! record only those, so a client hammering while it waits grows the audit log with the
//! schedule, not with its request rate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::database::PgThrottle;

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

/// What the tables are keyed by: a SHA-256, so a 64 KiB username costs what a short one does.
type Key = [u8; 32];

fn key(domain: &[u8], text: &[u8]) -> Key {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    hasher.update(text);
    hasher.finalize().into()
}

/// The key of a username: case does not make a new one.
fn user_key(username: &str) -> Key {
    key(b"user\0", username.to_lowercase().as_bytes())
}

/// The key of a client address. An IP address is keyed by the network one client holds: an
/// IPv4 address by itself (also when written as IPv4-mapped IPv6), an IPv6 address by its
/// /64, since a subscriber is handed a whole /64 and could rotate through it at will. Any
/// other text (say `unknown (via 10.0.0.9)`, for a proxy that sent no usable address) is
/// keyed by the text itself, so it is counted apart from every real address.
fn address_key(address: &str) -> Key {
    match address.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => key(b"ipv4\0", &v4.octets()),
            None => key(b"ipv6/64\0", &v6.octets()[..8]),
        },
        Ok(IpAddr::V4(v4)) => key(b"ipv4\0", &v4.octets()),
        Err(_) => key(b"other\0", address.as_bytes()),
    }
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    last_failure: f64,
    /// A refusal during the current wait was already reported as [`Throttled::first`].
    refusal_reported: bool,
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
    counters: HashMap<Key, Counter>,
}

impl Table {
    fn current(&mut self, key: &Key, now: f64) -> Option<Counter> {
        match self.counters.get(key) {
            Some(c) if c.is_stale(now) => {
                self.counters.remove(key);
                None
            }
            other => other.copied(),
        }
    }

    fn add_failure(&mut self, key: &Key, now: f64) {
        if !self.counters.contains_key(key) && self.counters.len() >= MAX_ENTRIES {
            self.make_room(now);
        }
        let counter = self.counters.entry(*key).or_insert(Counter {
            failures: 0,
            last_failure: now,
            refusal_reported: false,
        });
        counter.failures = counter.failures.saturating_add(1);
        counter.last_failure = now;
        // A new failure starts a new wait, whose first refusal is worth recording.
        counter.refusal_reported = false;
    }

    /// Marks the counter's current wait as reported; true when it was not yet.
    fn report_refusal(&mut self, key: &Key) -> bool {
        self.counters
            .get_mut(key)
            .is_some_and(|c| !std::mem::replace(&mut c.refusal_reported, true))
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

/// Takes the shared count of `key` into `table`: the database's failures and last failure
/// (a refusal already reported for that very count stays reported), or no counter.
fn adopt(table: &mut Table, key: Key, shared: Option<crate::database::Counted>) {
    match shared {
        Some((failures, last_failure)) => {
            let reported = table.counters.get(&key).is_some_and(|c| {
                c.refusal_reported && c.failures == failures && c.last_failure == last_failure
            });
            table.counters.insert(
                key,
                Counter {
                    failures,
                    last_failure,
                    refusal_reported: reported,
                },
            );
        }
        None => {
            table.counters.remove(&key);
        }
    }
}

/// Attempts one username may have being checked at once.
pub const MAX_IN_FLIGHT_PER_USER: u32 = 2;

/// Attempts an address with recorded failures may have being checked at once.
pub const MAX_IN_FLIGHT_PER_ADDRESS: u32 = 4;

/// Attempts an address without failures may have being checked at once (many people
/// behind one NAT signing in together).
pub const MAX_IN_FLIGHT_PER_CLEAN_ADDRESS: u32 = 32;

/// Attempts of one key being checked right now.
#[derive(Debug, Default, Clone, Copy)]
struct InFlight {
    count: u32,
    /// A refusal for being busy was already reported while these attempts run.
    refusal_reported: bool,
}

#[derive(Debug, Default)]
struct Tables {
    users: Table,
    addresses: Table,
    users_in_flight: HashMap<Key, InFlight>,
    addresses_in_flight: HashMap<Key, InFlight>,
}

fn busy(map: &HashMap<Key, InFlight>, key: &Key) -> u32 {
    map.get(key).map_or(0, |f| f.count)
}

fn release(map: &mut HashMap<Key, InFlight>, key: &Key) {
    if let Some(in_flight) = map.get_mut(key) {
        in_flight.count = in_flight.count.saturating_sub(1);
        if in_flight.count == 0 {
            map.remove(key);
        }
    }
}

/// Failure counters per username and per client address.
#[derive(Debug, Default)]
pub struct Throttle {
    tables: Mutex<Tables>,
    /// The counters every instance shares, when the stores live in a database: read before
    /// each attempt, written with each failure ([`Throttle::attempt`]).
    shared: Option<PgThrottle>,
}

/// Which limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The username's failures impose a wait.
    Account,
    /// The client address's failures impose a wait.
    Address,
    /// Too many attempts for the username or from the address are being checked at once.
    InFlight,
}

/// Refused by the throttle: retry after this many whole seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds to wait.
    pub retry_after: u64,
    /// The limit that refused it (the username's when both wait as long).
    pub limit: Limit,
    /// Whether this is the first refusal of the wait that caused it: the first since the
    /// failure that started the username's or the address's wait, or the first while their
    /// attempts in flight keep them busy. Record only these; the rest repeat them.
    pub first: bool,
}

/// One admitted sign-in attempt. Say how it ended with [`Attempt::succeeded`] or
/// [`Attempt::failed`]; dropped without either, it counts as failed.
#[derive(Debug)]
#[must_use = "an attempt counts as failed unless marked succeeded"]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    user_key: Key,
    address_key: Key,
    settled: bool,
}

impl Attempt<'_> {
    /// [`Attempt::succeeded`], and the shared counter forgotten too, before it returns.
    pub async fn record_success(self) -> crate::error::Result<()> {
        let shared = self.throttle.shared.clone();
        let user = hex::encode(self.user_key);
        self.succeeded();
        match shared {
            Some(shared) => shared.clear_user(&user).await,
            None => Ok(()),
        }
    }

    /// [`Attempt::failed`], and the shared counters counted too, before it returns: the
    /// next attempt, on any instance, sees this failure.
    pub async fn record_failure(self, now: f64) -> crate::error::Result<()> {
        let shared = self.throttle.shared.clone();
        let (user, address) = (hex::encode(self.user_key), hex::encode(self.address_key));
        self.failed(now);
        match shared {
            Some(shared) => shared.add_failure(&user, &address, now).await,
            None => Ok(()),
        }
    }

    /// The password was right, and the attempt waits for its second factor: nothing is
    /// counted or forgotten (a wrong code will count; only a right one forgets).
    pub fn undecided(mut self) {
        self.settled = true;
        let mut tables = self.throttle.lock();
        self.finish(&mut tables);
    }

    /// The password was right: the username's failures are forgotten (the address's are
    /// not: one good account must not launder an address's guessing).
    pub fn succeeded(mut self) {
        self.settled = true;
        let mut tables = self.throttle.lock();
        tables.users.counters.remove(&self.user_key);
        self.finish(&mut tables);
    }

    /// The password was wrong (or the name unknown), at `now`.
    pub fn failed(mut self, now: f64) {
        self.settled = true;
        self.count_failure(now);
    }

    fn count_failure(&self, now: f64) {
        let mut tables = self.throttle.lock();
        tables.users.add_failure(&self.user_key, now);
        tables.addresses.add_failure(&self.address_key, now);
        self.finish(&mut tables);
    }

    fn finish(&self, tables: &mut Tables) {
        release(&mut tables.users_in_flight, &self.user_key);
        release(&mut tables.addresses_in_flight, &self.address_key);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let now = crate::time::now_secs();
            self.count_failure(now);
            // Abandoned mid-check (the client went away): a failure everywhere too.
            if let (Some(shared), Ok(runtime)) = (
                self.throttle.shared.clone(),
                tokio::runtime::Handle::try_current(),
            ) {
                let (user, address) = (hex::encode(self.user_key), hex::encode(self.address_key));
                runtime.spawn(async move {
                    if let Err(e) = shared.add_failure(&user, &address, now).await {
                        tracing::warn!(error = %e, "an abandoned sign-in was not counted everywhere");
                    }
                });
            }
        }
    }
}

impl Throttle {
    /// An empty throttle.
    pub fn new() -> Self {
        Self::default()
    }

    /// A throttle whose failure counters are `shared` by every instance.
    pub fn shared(shared: PgThrottle) -> Self {
        Self {
            shared: Some(shared),
            ..Self::default()
        }
    }

    /// [`Throttle::begin`], after taking the shared counters when there are any (the
    /// failures other instances saw count here too). `Err` when they cannot be read: the
    /// attempt is not checked then.
    pub async fn attempt(
        &self,
        username: &str,
        address: &str,
        now: f64,
    ) -> crate::error::Result<Result<Attempt<'_>, Throttled>> {
        if let Some(shared) = &self.shared {
            let (user_key, address_key) = (user_key(username), address_key(address));
            let (user, address_count) = shared
                .read(&hex::encode(user_key), &hex::encode(address_key))
                .await?;
            let mut tables = self.lock();
            adopt(&mut tables.users, user_key, user);
            adopt(&mut tables.addresses, address_key, address_count);
        }
        Ok(self.begin(username, address, now))
    }

    /// [`Throttle::clear_user`], and the shared counter too.
    pub async fn clear_user_everywhere(&self, username: &str) -> crate::error::Result<()> {
        self.clear_user(username);
        match &self.shared {
            Some(shared) => shared.clear_user(&hex::encode(user_key(username))).await,
            None => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts an attempt for `username` from `address` at `now` (Unix seconds): refused
    /// while either counter imposes a wait or too many attempts are being checked.
    /// `address` is the client address as [`crate::AuthState::client_ip`] gives it.
    pub fn begin(&self, username: &str, address: &str, now: f64) -> Result<Attempt<'_>, Throttled> {
        let user_key = user_key(username);
        let address_key = address_key(address);
        let mut guard = self.lock();
        let tables = &mut *guard;
        let user_wait = tables
            .users
            .current(&user_key, now)
            .map_or(0.0, |c| c.wait(now, false));
        let address_counter = tables.addresses.current(&address_key, now);
        let address_wait = address_counter.map_or(0.0, |c| c.wait(now, true));
        let address_limit = match address_counter {
            Some(c) if c.failures > 0 => MAX_IN_FLIGHT_PER_ADDRESS,
            _ => MAX_IN_FLIGHT_PER_CLEAN_ADDRESS,
        };
        let wait = user_wait.max(address_wait);
        if wait > 0.0 {
            // First if either waiting counter had a failure since its last reported refusal
            // (both are marked, so the next refusal of these waits is not).
            let user_first = user_wait > 0.0 && tables.users.report_refusal(&user_key);
            let address_first = address_wait > 0.0 && tables.addresses.report_refusal(&address_key);
            return Err(Throttled {
                retry_after: (wait.ceil() as u64).max(1),
                limit: if user_wait >= address_wait {
                    Limit::Account
                } else {
                    Limit::Address
                },
                first: user_first || address_first,
            });
        }
        let user_busy = busy(&tables.users_in_flight, &user_key) >= MAX_IN_FLIGHT_PER_USER;
        let address_busy = busy(&tables.addresses_in_flight, &address_key) >= address_limit;
        if user_busy || address_busy {
            let mut first = false;
            for (is_busy, map, key) in [
                (user_busy, &mut tables.users_in_flight, &user_key),
                (address_busy, &mut tables.addresses_in_flight, &address_key),
            ] {
                if let Some(in_flight) = map.get_mut(key).filter(|_| is_busy) {
                    first |= !std::mem::replace(&mut in_flight.refusal_reported, true);
                }
            }
            return Err(Throttled {
                retry_after: 1,
                limit: Limit::InFlight,
                first,
            });
        }
        tables.users_in_flight.entry(user_key).or_default().count += 1;
        tables
            .addresses_in_flight
            .entry(address_key)
            .or_default()
            .count += 1;
        Ok(Attempt {
            throttle: self,
            user_key,
            address_key,
            settled: false,
        })
    }

    /// Clears a username's counter (an admin unlocking the account).
    pub fn clear_user(&self, username: &str) {
        self.lock().users.counters.remove(&user_key(username));
    }

    /// How many counters are held (both tables), for tests and figures.
    pub fn len(&self) -> usize {
        let tables = self.lock();
        tables.users.counters.len() + tables.addresses.counters.len()
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

    /// One wrong-password attempt: `Ok(())` when it was checked, the wait when refused.
    fn fail(t: &Throttle, user: &str, ip: &str, now: f64) -> Result<(), u64> {
        match t.begin(user, ip, now) {
            Ok(attempt) => {
                attempt.failed(now);
                Ok(())
            }
            Err(Throttled { retry_after, .. }) => Err(retry_after),
        }
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
        assert_eq!(fail(&t, "bob", "1.1.1.1", T0), Ok(()));
        assert_eq!(fail(&t, "bob", "1.1.1.1", T0), Ok(()));
        assert_eq!(fail(&t, "bob", "1.1.1.1", T0 + 0.2), Err(1));
        assert_eq!(fail(&t, "bob", "1.1.1.1", T0 + 1.0), Ok(()));
        assert_eq!(fail(&t, "bob", "1.1.1.1", T0 + 1.5), Err(3));
    }

    #[test]
    fn usernames_are_counted_case_insensitively_and_across_addresses() {
        let t = Throttle::new();
        fail(&t, "Bob", "1.1.1.1", T0).unwrap();
        fail(&t, "bob", "2.2.2.2", T0).unwrap();
        assert!(fail(&t, "BOB", "3.3.3.3", T0).is_err());
    }

    #[test]
    fn success_clears_the_user_but_not_the_address_history() {
        let t = Throttle::new();
        fail(&t, "eve-target", "6.6.6.6", T0).unwrap();
        fail(&t, "alice", "6.6.6.6", T0).unwrap();
        t.begin("alice", "6.6.6.6", T0).unwrap_err();
        // After the wait, alice's right password clears her counter but not the address's.
        t.begin("alice", "6.6.6.6", T0 + 1.0).unwrap().succeeded();
        // The address keeps its two failures: a third makes the next wait 3 s.
        assert_eq!(fail(&t, "carol", "6.6.6.6", T0 + 1.0), Ok(()));
        assert_eq!(fail(&t, "dave", "6.6.6.6", T0 + 2.0), Err(2));
        // alice herself starts from zero anywhere else.
        assert_eq!(fail(&t, "alice", "7.7.7.7", T0 + 1.0), Ok(()));
    }

    #[test]
    fn parallel_attempts_are_limited() {
        let t = Throttle::new();
        // Abandoned attempts are recorded at the real current time.
        let now = crate::time::now_secs();
        let held: Vec<_> = (0..MAX_IN_FLIGHT_PER_CLEAN_ADDRESS)
            .map(|i| t.begin(&format!("u{i}"), "5.5.5.5", now).unwrap())
            .collect();
        assert_eq!(
            t.begin("another", "5.5.5.5", now).unwrap_err().retry_after,
            1
        );
        let _a = t.begin("same", "8.8.8.1", now).unwrap();
        let _b = t.begin("same", "8.8.8.2", now).unwrap();
        assert!(t.begin("same", "8.8.8.3", now).is_err());
        // Abandoned attempts count as failures: the address now waits.
        drop(held);
        assert!(fail(&t, "u99", "5.5.5.5", now + 0.5).is_err());
        // An address with failures gets fewer attempts in flight.
        fail(&t, "x1", "4.4.4.4", now).unwrap();
        let held: Vec<_> = (0..MAX_IN_FLIGHT_PER_ADDRESS)
            .map(|i| t.begin(&format!("v{i}"), "4.4.4.4", now).unwrap())
            .collect();
        assert!(t.begin("v9", "4.4.4.4", now).is_err());
        for attempt in held {
            attempt.succeeded();
        }
    }

    #[test]
    fn address_is_refused_for_the_day_after_100_failures() {
        let t = Throttle::new();
        let mut now = T0;
        let mut allowed = 0;
        while allowed < 100 {
            match fail(&t, &format!("user{allowed}"), "9.9.9.9", now) {
                Ok(()) => allowed += 1,
                Err(retry_after) => now += retry_after as f64,
            }
        }
        let retry_after = fail(&t, "x", "9.9.9.9", now + 60.0).unwrap_err();
        let day_end = ((now / DAY).floor() + 1.0) * DAY;
        assert_eq!(retry_after, (day_end - now - 60.0).ceil() as u64);
        // Next day: allowed again.
        assert_eq!(fail(&t, "x", "9.9.9.9", day_end + 1.0), Ok(()));
    }

    #[test]
    fn owner_gets_in_from_elsewhere_once_the_user_delay_passed() {
        let t = Throttle::new();
        let mut now = T0;
        // Attackers hammer alice from many addresses, as fast as they are let through.
        for i in 0..5_000 {
            let address = format!("6.6.{}.{}", i % 50, i % 7);
            if fail(&t, "alice", &address, now).is_err() {
                now += 0.25;
            }
        }
        // The owner, from another address, waits at most the username's cap of 10 s.
        let waited = match t.begin("alice", "10.0.0.5", now) {
            Ok(_) => panic!("the attack keeps alice's counter busy"),
            Err(Throttled { retry_after, .. }) => retry_after,
        };
        assert!(waited <= 10, "waited {waited}");
        t.begin("alice", "10.0.0.5", now + waited as f64)
            .expect("admitted after the username's delay")
            .succeeded();
        t.begin("alice", "10.0.0.5", now + waited as f64)
            .expect("a success clears the username's counter")
            .succeeded();
    }

    #[test]
    fn memory_is_bounded() {
        let t = Throttle::new();
        for i in 0..(MAX_ENTRIES + 5_000) {
            let _ = fail(
                &t,
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
        fail(&t, "bob", "1.1.1.1", T0).unwrap();
        fail(&t, "bob", "2.2.2.2", T0).unwrap();
        t.clear_user("bob");
        assert_eq!(fail(&t, "bob", "3.3.3.3", T0), Ok(()));
    }

    #[test]
    fn long_usernames_cost_no_more_memory_than_short_ones() {
        let t = Throttle::new();
        let long = "x".repeat(64 * 1024);
        for i in 0..300 {
            let _ = fail(&t, &format!("{i}{long}"), &format!("ip{i}"), T0);
        }
        let _held = t.begin(&format!("held{long}"), "ip-held", T0).unwrap();
        let tables = t.lock();
        assert_eq!(tables.users.counters.len(), 300);
        // Every key the tables hold, whatever its type, counted by its length in bytes.
        let key_bytes: usize = tables.users.counters.keys().map(|k| k.len()).sum::<usize>()
            + tables
                .addresses
                .counters
                .keys()
                .map(|k| k.len())
                .sum::<usize>()
            + tables
                .users_in_flight
                .keys()
                .map(|k| k.len())
                .sum::<usize>()
            + tables
                .addresses_in_flight
                .keys()
                .map(|k| k.len())
                .sum::<usize>();
        assert!(key_bytes <= 602 * 32, "{key_bytes} bytes of keys");
    }

    #[test]
    fn ipv6_addresses_are_counted_by_their_64_prefix() {
        let t = Throttle::new();
        // Two failures from one /64, each from a fresh address and for a fresh name.
        fail(&t, "a", "2001:db8:1:2::1", T0).unwrap();
        fail(&t, "b", "2001:db8:1:2:ffff:ffff:ffff:ffff", T0).unwrap();
        assert_eq!(fail(&t, "c", "2001:db8:1:2:1234::9", T0), Err(1));
        // The next /64 is somebody else.
        assert_eq!(fail(&t, "d", "2001:db8:1:3::1", T0), Ok(()));
        // IPv4, however written, is counted by the whole address.
        fail(&t, "e", "198.51.100.7", T0).unwrap();
        fail(&t, "f", "::ffff:198.51.100.7", T0).unwrap();
        assert_eq!(fail(&t, "g", "198.51.100.7", T0), Err(1));
        assert_eq!(fail(&t, "h", "198.51.100.8", T0), Ok(()));
        // Text that is not an address is counted apart from every address.
        fail(&t, "i", "unknown (via 10.0.0.9)", T0).unwrap();
        fail(&t, "j", "unknown (via 10.0.0.9)", T0).unwrap();
        assert_eq!(fail(&t, "k", "unknown (via 10.0.0.9)", T0), Err(1));
        assert_eq!(fail(&t, "l", "10.0.0.9", T0), Ok(()));
    }

    #[test]
    fn only_the_first_refusal_of_a_wait_is_reported() {
        let t = Throttle::new();
        let first = |user: &str, ip: &str, now: f64| t.begin(user, ip, now).unwrap_err().first;
        fail(&t, "bob", "1.1.1.1", T0).unwrap();
        fail(&t, "bob", "1.1.1.1", T0).unwrap();
        assert!(first("bob", "1.1.1.1", T0));
        for _ in 0..1_000 {
            assert!(!first("bob", "1.1.1.1", T0 + 0.5));
        }
        // Another address is held up by the same username's wait, already reported.
        assert!(!first("bob", "2.2.2.2", T0 + 0.5));
        // A failure starts a new wait, whose first refusal is reported again.
        fail(&t, "bob", "1.1.1.1", T0 + 1.0).unwrap();
        assert!(first("bob", "1.1.1.1", T0 + 1.5));
        assert!(!first("bob", "1.1.1.1", T0 + 2.0));
        // Spraying names from a waiting address: one report for the address's wait.
        fail(&t, "x", "4.4.4.4", T0).unwrap();
        fail(&t, "y", "4.4.4.4", T0).unwrap();
        assert!(first("carol", "4.4.4.4", T0));
        for i in 0..1_000 {
            assert!(!first(&format!("user{i}"), "4.4.4.4", T0 + 0.5));
        }
        // Refusals for being busy: once while the attempts run.
        let now = crate::time::now_secs();
        let held: Vec<_> = (0..MAX_IN_FLIGHT_PER_USER)
            .map(|_| t.begin("dave", "3.3.3.3", now).unwrap())
            .collect();
        assert!(first("dave", "3.3.3.3", now));
        assert!(!first("dave", "3.3.3.3", now));
        for attempt in held {
            attempt.succeeded();
        }
        let held: Vec<_> = (0..MAX_IN_FLIGHT_PER_USER)
            .map(|_| t.begin("dave", "3.3.3.3", now).unwrap())
            .collect();
        assert!(first("dave", "3.3.3.3", now));
        for attempt in held {
            attempt.succeeded();
        }
    }
}
