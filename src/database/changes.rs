//! [`Changes`]: what the instances sharing a database announce to each other. Every change
//! to a keyed document raises its version and sends `store:version` on
//! [`CHANGES_CHANNEL`] (delivered when the change commits); each instance's listener
//! records the newest version seen per store, so a cache older than that is not used.
//!
//! A notification can only be missed while the listener is not connected, so a cache
//! vouches for itself only while it is, and only if it was checked in the listener's
//! current connection ([`Changes::epoch`]): when the connection drops, or comes back, every
//! cache is checked against the database again before it is used (a change made while
//! the listener was away is not missed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The channel changes are announced on.
pub const CHANGES_CHANNEL: &str = "llms_changes";

/// The longest pause between two attempts to connect the listener again.
const MAX_RETRY: Duration = Duration::from_secs(2);

/// The newest version announced for one store.
pub(super) type Announced = Arc<AtomicI64>;

/// What this instance has heard from the database. Cheap to clone.
#[derive(Clone, Default)]
pub struct Changes {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    connected: AtomicBool,
    /// Raised whenever the listener connects or loses its connection.
    epoch: AtomicU64,
    stores: Mutex<HashMap<String, Announced>>,
    connected_now: Notify,
}

impl Changes {
    /// The newest version announced for `store` (shared with the listener).
    pub(super) fn announced(&self, store: &str) -> Announced {
        let mut stores = self
            .inner
            .stores
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        stores.entry(store.to_owned()).or_default().clone()
    }

    /// The listener's connection now: `Some(epoch)` while connected, `None` while not
    /// (nothing announced can be relied on then).
    pub fn epoch(&self) -> Option<u64> {
        let epoch = self.inner.epoch.load(Ordering::Acquire);
        self.inner
            .connected
            .load(Ordering::Acquire)
            .then_some(epoch)
    }

    /// Waits up to `within` for the listener to be connected.
    pub async fn wait_connected(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.inner.connected_now.notified();
            if self.epoch().is_some() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.epoch().is_some();
            }
        }
    }

    /// Records an announcement (`store:version`); anything else on the channel is ignored.
    fn heard(&self, payload: &str) {
        let Some((store, version)) = payload.rsplit_once(':') else {
            return;
        };
        let Ok(version) = version.parse::<i64>() else {
            return;
        };
        self.announced(store).fetch_max(version, Ordering::AcqRel);
    }

    fn set_connected(&self, connected: bool) {
        // The epoch first: a reader that sees `connected` sees the new epoch with it.
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
        self.inner.connected.store(connected, Ordering::Release);
        if connected {
            self.inner.connected_now.notify_waiters();
        }
    }
}

/// The listening task; it stops when this is dropped, and from then on nothing announced
/// vouches for a cache.
pub(super) struct Listening {
    task: JoinHandle<()>,
    changes: Changes,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
        self.changes.set_connected(false);
    }
}

/// Starts listening on `pool`'s database, reconnecting whenever the connection is lost.
pub(super) fn listen(pool: PgPool) -> (Changes, Listening) {
    let changes = Changes::default();
    let task = tokio::spawn(run(changes.clone(), pool));
    let listening = Listening {
        task,
        changes: changes.clone(),
    };
    (changes, listening)
}

async fn run(changes: Changes, pool: PgPool) {
    let mut retry = Duration::from_millis(50);
    loop {
        match subscribe(&pool).await {
            Ok(mut listener) => {
                retry = Duration::from_millis(50);
                changes.set_connected(true);
                tracing::debug!("listening for changes from other instances");
                while let Ok(Some(notification)) = listener.try_recv().await {
                    changes.heard(notification.payload());
                }
                // The connection was lost (`Ok(None)` or an error): nothing heard can be
                // relied on until the listener is back and every cache has been checked.
                changes.set_connected(false);
                tracing::warn!("lost the database's change notifications; reconnecting");
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot listen for changes yet");
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(MAX_RETRY);
    }
}

async fn subscribe(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection is reported at once (`Ok(None)`), not after a reconnection that
    // may take long with the database down: this task reconnects, and counts the epochs.
    listener.eager_reconnect(false);
    listener.listen(CHANGES_CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_raise_a_stores_version_and_nothing_else() {
        let changes = Changes::default();
        let users = changes.announced("users");
        changes.heard("users:5");
        changes.heard("users:3");
        changes.heard("keys:9");
        changes.heard("nonsense");
        changes.heard("users:x");
        assert_eq!(users.load(Ordering::Acquire), 5);
        assert_eq!(changes.announced("keys").load(Ordering::Acquire), 9);
    }

    #[test]
    fn nothing_vouches_while_disconnected_and_each_connection_is_a_new_epoch() {
        let changes = Changes::default();
        assert_eq!(changes.epoch(), None);
        changes.set_connected(true);
        let first = changes.epoch().unwrap();
        changes.set_connected(false);
        assert_eq!(changes.epoch(), None);
        changes.set_connected(true);
        assert!(changes.epoch().unwrap() > first);
    }
}
