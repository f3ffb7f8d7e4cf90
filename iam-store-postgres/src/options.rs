//! [`PostgresStoreOptions`]: where the database is and how the store uses it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

use crate::error::PostgresStoreError;

/// The longest schema name accepted (leaves room for the notification channel name, which
/// PostgreSQL limits to 63 bytes).
pub const MAX_SCHEMA_NAME_LEN: usize = 40;

/// How to open a [`crate::PostgresStore`].
///
/// The connection settings (host, user, password, TLS, ...) come from a `postgres://` URL or a
/// ready [`PgConnectOptions`]; the public fields tune the pool and the revocation feed.
#[derive(Clone)]
pub struct PostgresStoreOptions {
    connect: PgConnectOptions,
    /// The schema holding iam's tables; created on open when missing (default `iam`). Several
    /// independent iam deployments can share one database under different schemas.
    pub schema: String,
    /// Connections in the pool (default 10). The revocation feed holds one more, of its own.
    pub max_connections: u32,
    /// How long a call waits for a free connection before it fails (default 10 s).
    pub acquire_timeout: Duration,
    /// How many times a commit that met a deadlock or serialization failure is run again before
    /// the error is returned (default 8).
    pub commit_retries: u32,
    /// How many commits of this store may wait for a transaction at once (default 4096); past
    /// that, `commit` fails at once with
    /// [`StoreError::Overloaded`](iam_core::store::StoreError::Overloaded) without starting.
    /// Bounds the memory that a burst of commits can hold.
    pub max_queued_commits: usize,
    /// How often the revocation feed checks its connection while no notice arrives (default
    /// 5 s). A feed that fails the check is treated as lost: subscribed caches fail closed until
    /// it is back and reloaded. Bounds how long a silently dead connection can go unnoticed.
    pub feed_heartbeat: Duration,
    /// The `application_name` the connections report (default `iam`); the revocation feed's
    /// connection reports it followed by ` revocation feed`. Shows in `pg_stat_activity`.
    pub application_name: String,
}

impl std::fmt::Debug for PostgresStoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connect options may hold a password: show only where they point.
        f.debug_struct("PostgresStoreOptions")
            .field("host", &self.connect.get_host())
            .field("port", &self.connect.get_port())
            .field("database", &self.connect.get_database())
            .field("username", &self.connect.get_username())
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("commit_retries", &self.commit_retries)
            .field("max_queued_commits", &self.max_queued_commits)
            .field("feed_heartbeat", &self.feed_heartbeat)
            .field("application_name", &self.application_name)
            .finish_non_exhaustive()
    }
}

impl PostgresStoreOptions {
    /// The defaults for the database at `url` (`postgres://user:password@host:port/database`).
    pub fn new(url: &str) -> Result<Self, PostgresStoreError> {
        let connect =
            PgConnectOptions::from_str(url).map_err(|e| PostgresStoreError::InvalidUrl {
                reason: e.to_string(),
            })?;
        Ok(Self::with_connect_options(connect))
    }

    /// The defaults for a database described by sqlx connect options.
    pub fn with_connect_options(connect: PgConnectOptions) -> Self {
        PostgresStoreOptions {
            connect,
            schema: "iam".to_owned(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
            commit_retries: 8,
            max_queued_commits: iam_sql_common::batch::DEFAULT_MAX_QUEUED_COMMITS,
            feed_heartbeat: Duration::from_secs(5),
            application_name: "iam".to_owned(),
        }
    }

    /// Uses `schema` instead of `iam`.
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Uses a pool of `n` connections.
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// Waits at most `timeout` for a free connection.
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// The connect options with the schema as the search path and `application_name` set
    /// (with `suffix` appended).
    pub(crate) fn connect_options(&self, suffix: &str) -> PgConnectOptions {
        self.connect
            .clone()
            .application_name(&format!("{}{suffix}", self.application_name))
            .options([("search_path", self.schema.as_str())])
    }

    /// Checks the schema name (it is spliced into DDL and the channel name, so it must be plain).
    pub(crate) fn validate(&self) -> Result<(), PostgresStoreError> {
        let name = &self.schema;
        let plain = !name.is_empty()
            && name.len() <= MAX_SCHEMA_NAME_LEN
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && !name.starts_with("pg_")
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if plain {
            Ok(())
        } else {
            Err(PostgresStoreError::InvalidSchemaName {
                name: name.clone(),
                max: MAX_SCHEMA_NAME_LEN,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        let base = PostgresStoreOptions::new("postgres://u:secret@localhost/db").expect("url");
        for good in ["iam", "iam_test_0f", "_x", "a"] {
            assert!(base.clone().schema(good).validate().is_ok(), "{good}");
        }
        for bad in [
            "",
            "Iam",
            "9iam",
            "pg_iam",
            "iam-x",
            "iam\"; drop",
            "a".repeat(41).as_str(),
        ] {
            assert!(base.clone().schema(bad).validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let o = PostgresStoreOptions::new("postgres://u:hunter2@localhost/db").expect("url");
        assert!(!format!("{o:?}").contains("hunter2"));
    }

    #[test]
    fn bad_url_does_not_echo_it() {
        let e = PostgresStoreOptions::new("postgres://u:hunter2@localhost:notaport/db")
            .expect_err("bad port");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
