//! What the two stores' migrations share.

/// The indexes of schema version 1, the same on both databases; they serve the shared reads
/// (a record by lookup, records by parent, audit events by account, kind or time) and pruning
/// (records by expiry).
///
/// Part of migration 1 of both stores, which each database runs once: never change it (a new
/// index is a new migration).
pub const INDEXES_V1: &str = "
    CREATE UNIQUE INDEX records_lookup ON records (kind, lookup) WHERE lookup IS NOT NULL;
    CREATE INDEX records_parent ON records (kind, parent, id) WHERE parent IS NOT NULL;
    CREATE INDEX records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
    CREATE INDEX audit_account ON audit (account, seq) WHERE account IS NOT NULL;
    CREATE INDEX audit_kind ON audit (kind, seq);
    CREATE INDEX audit_at ON audit (at, seq);
";
