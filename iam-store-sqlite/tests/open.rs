//! Opening databases: fresh files, reopening, and every way a path can be wrong.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use iam_core::store::{Commit, Record, RecordKind, Store, StoreError, Write};
use iam_store_sqlite::{SqliteStore, SqliteStoreError, SCHEMA_VERSION};
use sqlx::{Connection, SqliteConnection};

fn account(id: &str) -> Record {
    Record {
        kind: RecordKind::Account,
        id: id.to_owned(),
        version: 0,
        parent: None,
        lookup: Some(format!("user-{id}")),
        expires_at: None,
        body: "{}".to_owned(),
    }
}

/// A plain SQLite connection to `path`, bypassing the store.
async fn raw(path: &Path) -> SqliteConnection {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    SqliteConnection::connect_with(&options)
        .await
        .expect("raw connection")
}

async fn tables(path: &Path) -> Vec<String> {
    let mut conn = raw(path).await;
    sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list tables")
}

#[tokio::test]
async fn a_new_file_gets_the_schema_in_wal_mode_and_keeps_data_across_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("iam.db");
    let store = SqliteStore::open(&path).await.expect("create");
    assert_eq!(store.path(), path);
    assert_eq!(store.schema_version().await, Ok(SCHEMA_VERSION));
    store
        .commit(Commit {
            writes: vec![Write::Insert(account("acc_1"))],
            ..Commit::default()
        })
        .await
        .expect("commit");
    store.close().await;
    assert!(
        store.get(RecordKind::Account, "acc_1").await.is_err(),
        "a closed store refuses calls"
    );
    assert!(
        store
            .commit(Commit {
                writes: vec![Write::Insert(account("acc_2"))],
                ..Commit::default()
            })
            .await
            .is_err(),
        "a closed store refuses commits"
    );

    let again = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(again.schema_version().await, Ok(SCHEMA_VERSION));
    let got = again
        .get(RecordKind::Account, "acc_1")
        .await
        .expect("get")
        .expect("the record survives a reopen");
    assert_eq!(got.version, 1);
    again.close().await;

    let mut conn = raw(&path).await;
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("journal_mode");
    assert_eq!(journal, "wal", "WAL mode is recorded in the file");
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM iam_schema_version ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .expect("versions");
    assert_eq!(
        applied,
        (1..=SCHEMA_VERSION).collect::<Vec<_>>(),
        "each migration is applied once, however often the file is opened"
    );
}

#[tokio::test]
async fn an_empty_file_becomes_a_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("touched.db");
    std::fs::write(&path, b"").expect("touch");
    let store = SqliteStore::open(&path).await.expect("open an empty file");
    assert_eq!(store.schema_version().await, Ok(SCHEMA_VERSION));
}

#[tokio::test]
async fn a_text_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in [
        ("notes.txt", "this is not a database\n".repeat(500)),
        ("short.txt", "hi".to_owned()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &text).expect("write text");
        let err = SqliteStore::open(&path)
            .await
            .expect_err("a text file must be refused");
        assert!(
            matches!(&err, SqliteStoreError::NotADatabase { path: p, .. } if *p == path),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains("is not an iam SQLite database"));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read back"),
            text,
            "{name}: the refused file is left as it was"
        );
        assert!(matches!(StoreError::from(err), StoreError::Corrupt(_)));
    }
}

#[tokio::test]
async fn another_applications_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("other.db");
    {
        let mut conn = raw(&path).await;
        sqlx::query("CREATE TABLE notes (body TEXT)")
            .execute(&mut conn)
            .await
            .expect("create foreign table");
        conn.close().await.expect("close");
    }
    let err = SqliteStore::open(&path)
        .await
        .expect_err("a foreign database must be refused");
    match &err {
        SqliteStoreError::NotADatabase { reason, .. } => assert!(reason.contains("notes")),
        other => panic!("expected NotADatabase, got {other:?}"),
    }
    assert_eq!(tables(&path).await, ["notes"], "no iam table was added");
    let mut conn = raw(&path).await;
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("journal_mode");
    assert_eq!(
        journal, "delete",
        "its journal mode was not switched to WAL"
    );
}

#[tokio::test]
async fn a_newer_schema_is_refused_with_both_versions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("future.db");
    SqliteStore::open(&path)
        .await
        .expect("create")
        .close()
        .await;
    {
        let mut conn = raw(&path).await;
        sqlx::query("INSERT INTO iam_schema_version (version, applied_at) VALUES (?, 0)")
            .bind(SCHEMA_VERSION + 1)
            .execute(&mut conn)
            .await
            .expect("pretend a newer build migrated");
        conn.close().await.expect("close");
    }
    let err = SqliteStore::open(&path)
        .await
        .expect_err("a newer schema must be refused");
    let want = StoreError::SchemaTooNew {
        found: SCHEMA_VERSION + 1,
        supported: SCHEMA_VERSION,
    };
    assert!(
        matches!(&err, SqliteStoreError::Store(e) if *e == want),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer than the supported version"));
    assert_eq!(StoreError::from(err), want);
}

#[tokio::test]
async fn a_read_only_file_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ro.db");
    SqliteStore::open(&path)
        .await
        .expect("create")
        .close()
        .await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let err = SqliteStore::open(&path)
        .await
        .expect_err("a read-only file must be refused");
    assert!(
        matches!(&err, SqliteStoreError::ReadOnly { path: p } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains("read-only"));
    assert!(matches!(StoreError::from(err), StoreError::Backend(_)));
}

#[tokio::test]
async fn a_read_only_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    let existing = ro.join("iam.db");
    SqliteStore::open(&existing)
        .await
        .expect("create")
        .close()
        .await;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    for path in [existing, ro.join("new.db")] {
        let err = SqliteStore::open(&path)
            .await
            .expect_err("a database in a read-only directory must be refused");
        assert!(
            matches!(&err, SqliteStoreError::ReadOnly { path: p } if *p == path),
            "{err:?}"
        );
    }
    assert!(!ro.join("new.db").exists(), "nothing was created");
    // Let the temp dir clean itself up.
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
}

#[tokio::test]
async fn a_directory_or_a_missing_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = SqliteStore::open(dir.path())
        .await
        .expect_err("a directory must be refused");
    assert!(
        matches!(&err, SqliteStoreError::NotADatabase { reason, .. } if reason.contains("directory")),
        "{err:?}"
    );

    let missing = dir.path().join("nope").join("iam.db");
    let err = SqliteStore::open(&missing)
        .await
        .expect_err("a missing directory must be refused");
    assert!(
        matches!(&err, SqliteStoreError::CannotOpen { path, reason } if *path == missing && reason.contains("does not exist")),
        "{err:?}"
    );
    assert!(
        !dir.path().join("nope").exists(),
        "no directory was created"
    );

    let err = SqliteStore::open("")
        .await
        .expect_err("an empty path must be refused");
    assert!(
        matches!(err, SqliteStoreError::CannotOpen { .. }),
        "{err:?}"
    );
}
