//! Rows changed behind the store's back: malformed ones read back as `StoreError::Corrupt`,
//! and an edited or deleted audit event breaks `verify_audit_chain`.

use iam_core::Caller;
use std::path::Path;

use iam_core::clock::Timestamp;
use iam_core::store::{Commit, Record, RecordKind, Store, StoreError, Write};
use iam_core::{AuditQuery, Config, Error, Iam, MasterKey, NewAccount, PasswordPolicy};
use iam_store_sqlite::SqliteStore;
use sqlx::{Connection, SqliteConnection};

/// Runs `sql` on the file directly, as a foreign writer would.
async fn tamper(path: &Path, sql: &str) {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .expect("raw connection");
    let done = sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
    assert!(done.rows_affected() > 0, "{sql} changed nothing");
    conn.close().await.expect("close");
}

fn session(id: &str) -> Record {
    Record {
        kind: RecordKind::Session,
        id: id.to_owned(),
        version: 0,
        parent: None,
        lookup: None,
        expires_at: None,
        body: "{}".to_owned(),
    }
}

#[tokio::test]
async fn malformed_rows_read_back_as_corrupt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("iam.db");
    let store = SqliteStore::open(&path).await.expect("open");
    let writes = ["a", "b", "c", "d"]
        .into_iter()
        .map(|id| Write::Insert(session(id)))
        .collect();
    store
        .commit(Commit {
            writes,
            ..Commit::default()
        })
        .await
        .expect("commit");

    tamper(
        &path,
        "PRAGMA ignore_check_constraints = ON; UPDATE records SET version = -1 WHERE id = 'a'",
    )
    .await;
    assert!(matches!(
        store.get(RecordKind::Session, "a").await,
        Err(StoreError::Corrupt(_))
    ));
    tamper(&path, "UPDATE records SET body = x'00ff' WHERE id = 'b'").await;
    assert!(matches!(
        store.get(RecordKind::Session, "b").await,
        Err(StoreError::Corrupt(_))
    ));

    // An expired row of a kind this build does not know stops a prune, which then changes nothing.
    tamper(
        &path,
        "UPDATE records SET kind = 'gizmo', expires_at = 0 WHERE id = 'c';
         UPDATE records SET expires_at = 0 WHERE id = 'd'",
    )
    .await;
    let now = Timestamp::from_secs(10);
    assert!(matches!(
        store.prune(now, now).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(
        store
            .get(RecordKind::Session, "d")
            .await
            .expect("get")
            .is_some(),
        "the refused prune removed nothing"
    );

    tamper(&path, "INSERT INTO audit (seq, prev_hash, hash, at, kind, detail) VALUES (1, x'00', x'00', 0, 'login_failed', '{}')").await;
    assert!(matches!(
        store.audit(&AuditQuery::default()).await,
        Err(StoreError::Corrupt(_))
    ));
}

/// iam over a new SQLite file at `path`, with the accounts alice, bob and carol created (so
/// the audit chain holds the signing key's event, then theirs).
async fn iam_with_three_accounts(path: &Path) -> Iam<SqliteStore> {
    let mut config = Config::new(MasterKey::from_bytes([9; 32]));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    let iam = Iam::builder(SqliteStore::open(path).await.expect("open"), config)
        .open()
        .await
        .expect("iam");
    for name in ["alice", "bob", "carol"] {
        iam.create_account(
            NewAccount::human(name, "correct horse battery"),
            Caller::System,
        )
        .await
        .expect("create");
    }
    iam
}

#[tokio::test]
async fn an_edited_or_deleted_audit_event_breaks_the_chain() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("iam.db");
    let iam = iam_with_three_accounts(&path).await;
    assert_eq!(
        iam.verify_audit_chain(Caller::System)
            .await
            .expect("intact chain"),
        4
    );

    tamper(
        &path,
        r#"UPDATE audit SET detail = '{"username":"mallory"}' WHERE seq = 3"#,
    )
    .await;
    assert!(matches!(
        iam.verify_audit_chain(Caller::System).await,
        Err(Error::AuditChain(_))
    ));

    // Removing the edited event instead leaves a gap, which is caught as well.
    tamper(&path, "DELETE FROM audit WHERE seq = 3").await;
    assert!(matches!(
        iam.verify_audit_chain(Caller::System).await,
        Err(Error::AuditChain(_))
    ));
}

/// `bytes` as an SQL blob literal.
fn blob(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let hex = bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    format!("x'{hex}'")
}

/// SQL that overwrites the stored rows of `events` (links, hashes and details) with theirs.
fn overwrite_rows(events: &[iam_core::audit::AuditEvent]) -> String {
    use std::fmt::Write as _;
    events.iter().fold(String::new(), |mut sql, e| {
        let _ = write!(
            sql,
            "UPDATE audit SET prev_hash = {}, hash = {}, detail = '{}' WHERE seq = {};",
            blob(&e.prev_hash),
            blob(&e.hash),
            serde_json::to_string(&e.draft.detail).expect("detail"),
            e.seq
        );
        sql
    })
}

#[tokio::test]
async fn a_rewritten_or_cut_chain_contradicts_its_signed_checkpoints() {
    use iam_core::audit::{verify_export, AuditEvent, ChainBreak, ExportFault, PinnedKey};

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("iam.db");
    let iam = iam_with_three_accounts(&path).await;
    let signed = iam
        .sweep()
        .await
        .expect("sweep")
        .audit_checkpoint
        .expect("the first sweep signs the head");
    let pinned: Vec<PinnedKey> = iam
        .public_keys()
        .iter()
        .filter_map(|k| PinnedKey::parse(&k.paserk))
        .collect();
    let export = |iam: Iam<SqliteStore>| async move {
        iam.export_audit(Caller::System)
            .await
            .expect("export")
            .into_text()
            .await
            .expect("text")
    };
    assert!(verify_export(&export(iam.clone()).await, &pinned).is_ok());

    // Someone with write access to the file edits event 2 and recomputes every later hash, so
    // that the chain links again.
    let events = iam
        .store()
        .audit(&AuditQuery::default())
        .await
        .expect("events");
    let mut rewritten: Vec<AuditEvent> = vec![events[0].clone()];
    for e in &events[1..] {
        let mut draft = e.draft.clone();
        if e.seq == 2 {
            draft.detail.insert("username".into(), "mallory".into());
        }
        let prev = rewritten.last().expect("an event before");
        rewritten.push(AuditEvent::chain(prev.seq, prev.hash, draft));
    }
    let sql = overwrite_rows(&rewritten[1..]);
    tamper(&path, &sql).await;
    assert!(
        matches!(
            iam.verify_audit_chain(Caller::System).await,
            Err(Error::AuditChain(ChainBreak::CheckpointMismatch { seq })) if seq == signed
        ),
        "the links hold, the signed checkpoint does not"
    );
    let text = export(iam.clone()).await;
    assert_eq!(
        verify_export(&text, &pinned).err(),
        Some(ExportFault::Chain(ChainBreak::CheckpointMismatch {
            seq: signed
        }))
    );

    // Cutting the newest events off instead (the rows restored first).
    let restore = overwrite_rows(&events);
    tamper(&path, &restore).await;
    tamper(&path, &format!("DELETE FROM audit WHERE seq >= {signed}")).await;
    assert!(matches!(
        iam.verify_audit_chain(Caller::System).await,
        Err(Error::AuditChain(ChainBreak::CheckpointMismatch { .. }))
    ));
}
