//! At most so many open connections per client address, so that one client cannot hold
//! every connection slot of the server while others wait.
//!
//! An IPv4 address (also written as IPv4-mapped IPv6) counts by itself; an IPv6 address by
//! its /64, the block one subscriber is given and could rotate through. Trusted proxies
//! (`LLMS_TRUSTED_PROXIES`) carry many clients' connections and are not limited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// What a connection is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl ClientKey {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => {
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&v6.octets()[..8]);
                    Self::V6Prefix(prefix)
                }
            },
        }
    }
}

/// The open connections of each client.
#[derive(Debug)]
pub(crate) struct PerClient {
    limit: usize,
    exempt: Vec<IpAddr>,
    open: Mutex<HashMap<ClientKey, usize>>,
}

/// One open connection of a client, counted until dropped.
#[derive(Debug)]
pub(crate) struct ClientSlot {
    table: Arc<PerClient>,
    key: Option<ClientKey>,
}

impl PerClient {
    /// At most `limit` connections per client, none counted for the `exempt` addresses.
    pub fn new(limit: usize, exempt: Vec<IpAddr>) -> Arc<Self> {
        Arc::new(Self {
            limit,
            exempt,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a new connection from `ip`, or `None` when that client holds its limit.
    pub fn try_take(self: &Arc<Self>, ip: IpAddr) -> Option<ClientSlot> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self.exempt.contains(&ip) {
            return Some(ClientSlot {
                table: self.clone(),
                key: None,
            });
        }
        let key = ClientKey::of(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            table: self.clone(),
            key: Some(key),
        })
    }

    #[cfg(test)]
    fn clients(&self) -> usize {
        self.open.lock().unwrap().len()
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut open = self.table.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_holds_at_most_its_limit_and_gets_slots_back() {
        let table = PerClient::new(2, vec![ip("10.0.0.9")]);
        let a = table.try_take(ip("192.0.2.1")).unwrap();
        let _b = table.try_take(ip("::ffff:192.0.2.1")).unwrap();
        assert!(
            table.try_take(ip("192.0.2.1")).is_none(),
            "the third refused"
        );
        assert!(
            table.try_take(ip("192.0.2.2")).is_some(),
            "another client served"
        );
        drop(a);
        let _c = table.try_take(ip("192.0.2.1")).expect("a slot came back");
        // An IPv6 client counts by its /64.
        let _d = table.try_take(ip("2001:db8::1")).unwrap();
        let _e = table.try_take(ip("2001:db8::ffff")).unwrap();
        assert!(table.try_take(ip("2001:db8::1234")).is_none());
        assert!(table.try_take(ip("2001:db8:0:1::1")).is_some());
        // A trusted proxy is not limited.
        let proxied: Vec<_> = (0..5).map(|_| table.try_take(ip("10.0.0.9"))).collect();
        assert!(proxied.iter().all(Option::is_some));
    }

    #[test]
    fn a_client_with_no_open_connection_is_forgotten() {
        let table = PerClient::new(1, vec![]);
        let slots: Vec<_> = (0..50)
            .map(|i| table.try_take(IpAddr::from([192, 0, 2, i])).unwrap())
            .collect();
        assert_eq!(table.clients(), 50);
        drop(slots);
        assert_eq!(table.clients(), 0);
    }
}
