//! [`KnownClients`]: OAuth clients remembered between requests, so the token, introspection
//! and revocation endpoints authenticate a client without reading the store.
//!
//! What is remembered is only a hint, never the last word:
//! - An entry is valid while the revocation cache's
//!   [`client_generation`](crate::revocation::RevocationCache::client_generation) stays the one
//!   read *before* the client was read from the store. Every change to a client record commits a
//!   [`RevokedSubject::Client`](crate::revocation::RevokedSubject::Client) entry, which every
//!   instance's revocation feed applies, moving the generation; a feed that was lost reloads,
//!   which moves it too. While the revocation cache is not current, nothing remembered is used.
//! - A client that fails to authenticate against the remembered registration is read again
//!   from the store before it is refused, so a secret rotated on another instance works at once.
//! - Grants commit a check that the client record is still the version the decision read
//!   (`Write::Check`); a stale entry makes that commit conflict, and the retry reads the store.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::oauth::client::StoredClient;
use crate::store::Record;

/// Most clients remembered; when full, the table starts over.
pub const KNOWN_CLIENTS_CAPACITY: usize = 10_000;

/// A client as read from the store, and the client generation read before that read.
struct Known {
    read: (Record, StoredClient),
    generation: u64,
}

/// Clients read earlier, by id.
#[derive(Default)]
pub(crate) struct KnownClients {
    clients: RwLock<HashMap<String, Known>>,
}

impl KnownClients {
    /// The client `id` as last read, if that read happened at client generation `generation`
    /// (the current one).
    pub(crate) fn get(&self, id: &str, generation: u64) -> Option<(Record, StoredClient)> {
        self.clients
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .filter(|k| k.generation == generation)
            .map(|k| k.read.clone())
    }

    /// Remembers `read`, read from the store after client generation `generation` was read.
    pub(crate) fn remember(&self, read: &(Record, StoredClient), generation: u64) {
        let mut clients = self.clients.write().unwrap_or_else(PoisonError::into_inner);
        if clients.len() >= KNOWN_CLIENTS_CAPACITY && !clients.contains_key(&read.0.id) {
            clients.clear();
        }
        clients.insert(
            read.0.id.clone(),
            Known {
                read: read.clone(),
                generation,
            },
        );
    }

    /// Forgets the client `id` (read and found missing). Unknown ids, the common case for
    /// guessed ones, take only the read lock.
    pub(crate) fn forget(&self, id: &str) {
        let known = self
            .clients
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(id);
        if known {
            self.clients
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::rules::client_record;
    use crate::oauth::rules::fixtures::client;

    fn read(id: &str, version: u64) -> (Record, StoredClient) {
        let c = client(id);
        let mut r = client_record(&c).expect("record");
        r.version = version;
        (r, c)
    }

    #[test]
    fn an_entry_serves_only_its_own_generation() {
        let known = KnownClients::default();
        known.remember(&read("cli_1", 3), 7);
        assert_eq!(known.get("cli_1", 7).map(|(r, _)| r.version), Some(3));
        assert!(known.get("cli_1", 8).is_none(), "a client changed since");
        assert!(known.get("cli_2", 7).is_none());
        known.remember(&read("cli_1", 4), 8);
        assert_eq!(known.get("cli_1", 8).map(|(r, _)| r.version), Some(4));
        known.forget("cli_1");
        assert!(known.get("cli_1", 8).is_none());
    }

    #[test]
    fn the_table_stays_bounded() {
        let known = KnownClients::default();
        for i in 0..=KNOWN_CLIENTS_CAPACITY {
            known.remember(&read(&format!("cli_{i}"), 1), 0);
        }
        let held = known
            .clients
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        assert!(held <= KNOWN_CLIENTS_CAPACITY);
        assert!(known
            .get(&format!("cli_{KNOWN_CLIENTS_CAPACITY}"), 0)
            .is_some());
    }
}
