//! Keys PostgreSQL text cannot hold (NUL) are found nowhere instead of failing reads.

mod common;

use common::TestSchema;
use iam_core::audit::AuditQuery;
use iam_core::store::{Commit, ListQuery, Record, RecordKind, Store, StoreError, Write};

fn account(id: &str, parent: Option<&str>) -> Record {
    Record {
        kind: RecordKind::Account,
        id: id.to_owned(),
        version: 0,
        parent: parent.map(str::to_owned),
        lookup: Some(format!("name-{id}")),
        expires_at: None,
        body: "{}".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_in_keys_matches_nothing() {
    if !common::server_available("nul_in_keys_matches_nothing").await {
        return;
    }
    let schema = TestSchema::new();
    let store = schema.open().await;
    store
        .commit(Commit {
            writes: ["a", "a\u{1}", "ab", "b"]
                .into_iter()
                .map(|id| Write::Insert(account(id, Some("p"))))
                .collect(),
            ..Commit::default()
        })
        .await
        .expect("setup");
    let k = RecordKind::Account;
    assert_eq!(store.get(k, "a\0").await, Ok(None));
    assert_eq!(store.find(k, "name-a\0").await, Ok(None));
    assert_eq!(store.throttle("login:a\0").await, Ok(None));
    let list = |parent: Option<&str>, after: Option<&str>| {
        let store = &store;
        let q = ListQuery {
            parent: parent.map(str::to_owned),
            after: after.map(str::to_owned),
            limit: None,
        };
        async move {
            store
                .list(k, &q)
                .await
                .expect("list")
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert!(list(Some("p\0"), None).await.is_empty());
    assert_eq!(list(None, Some("a\0zz")).await, ["a\u{1}", "ab", "b"]);
    assert_eq!(list(None, Some("a")).await, ["a\u{1}", "ab", "b"]);
    let q = AuditQuery {
        account: Some("a\0".into()),
        ..AuditQuery::default()
    };
    assert_eq!(store.audit(&q).await, Ok(Vec::new()));

    // Writing such a key fails as a backend error and leaves nothing behind.
    let bad = store
        .commit(Commit {
            writes: vec![
                Write::Insert(account("c", None)),
                Write::Insert(account("d\0", None)),
            ],
            ..Commit::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::Backend(_))), "{bad:?}");
    assert_eq!(store.get(k, "c").await, Ok(None));
}
