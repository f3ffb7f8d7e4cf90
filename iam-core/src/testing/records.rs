//! Record reads (`get`, `find`, `list`) and `prune`.

#[allow(clippy::wildcard_imports)]
use super::*;

/// `get`, `find` and `list`: exact round trip of every field, kinds as namespaces, ordering by
/// id in byte order, the parent filter, `after` paging and `limit`.
pub async fn records_get_find_list<S: Store>(store: S) {
    assert_eq!(get(&store, RecordKind::Account, "nobody").await, None);
    assert_eq!(find(&store, RecordKind::Account, "nobody").await, None);
    assert!(list(&store, RecordKind::Account, ListQuery::default())
        .await
        .is_empty());

    // Ids whose byte order differs from most locales' collation order.
    let account_ids = [
        "m",
        "B",
        "a",
        "a-b",
        "a_b",
        "a.b",
        "Z",
        "\u{e9}t\u{e9}",
        "b",
        "a0",
        "aa",
        "A",
    ];
    let mut records = Vec::new();
    for (i, id) in account_ids.iter().enumerate() {
        let mut r = rec(
            RecordKind::Account,
            id,
            None,
            Some(&format!("user{i}")),
            &format!("{{\"n\": {i},  \"name\":\"\u{e9}\u{1f600}\\u0000\"}}"),
        );
        r.version = 7; // ignored on insert
        records.push(r);
    }
    records[0].expires_at = Some(Timestamp::from_millis(1_700_000_000_123));
    records[1].expires_at = Some(Timestamp::MAX);
    records[2].expires_at = Some(Timestamp::MIN);
    commit_ok(&store, inserts(records.clone()), "insert accounts").await;

    for r in &records {
        let got = get(&store, RecordKind::Account, &r.id).await;
        let want = Record {
            version: 1,
            ..r.clone()
        };
        assert_eq!(
            got.as_ref(),
            Some(&want),
            "get must return the record exactly as inserted, with version 1"
        );
        let lookup = r.lookup.as_deref().expect("test records have lookups");
        assert_eq!(
            find(&store, RecordKind::Account, lookup).await.as_ref(),
            Some(&want),
            "find by lookup"
        );
    }

    // Kinds are separate namespaces for ids and lookups.
    commit_ok(
        &store,
        inserts([
            rec(RecordKind::Session, "m", Some("p1"), Some("user0"), "{}"),
            rec(RecordKind::Session, "s3", Some("p1"), None, "{}"),
            rec(RecordKind::Session, "s1", Some("p1"), None, "{}"),
            rec(RecordKind::Session, "s2", Some("p2"), None, "{}"),
            rec(RecordKind::Session, "s0", None, None, "{}"),
            rec(RecordKind::Session, "S9", Some("p1"), None, "{}"),
        ]),
        "insert sessions",
    )
    .await;
    assert_eq!(
        get(&store, RecordKind::Account, "m").await.map(|r| r.body),
        Some(records[0].body.clone()),
        "an id reused in another kind must not shadow the account"
    );
    assert_eq!(
        find(&store, RecordKind::Session, "user0")
            .await
            .map(|r| r.id),
        Some("m".to_owned()),
        "lookups are per kind"
    );
    assert_eq!(get(&store, RecordKind::RefreshToken, "m").await, None);
    assert_eq!(find(&store, RecordKind::SigningKey, "user0").await, None);

    // Ordering by id, byte-wise.
    let mut sorted: Vec<String> = account_ids.iter().map(|s| (*s).to_owned()).collect();
    sorted.sort();
    let everything = list(&store, RecordKind::Account, ListQuery::default()).await;
    assert_eq!(
        ids(&everything),
        sorted,
        "list must order by id in byte order"
    );
    assert!(everything.iter().all(|r| r.version == 1));
    assert_eq!(
        ids(&list(&store, RecordKind::Account, query(None, None, Some(3))).await),
        sorted[..3].to_vec(),
        "limit"
    );
    assert!(
        list(&store, RecordKind::Account, query(None, None, Some(0)))
            .await
            .is_empty(),
        "limit 0"
    );
    assert_eq!(
        ids(&list(
            &store,
            RecordKind::Account,
            query(None, Some(&sorted[4]), None)
        )
        .await),
        sorted[5..].to_vec(),
        "after an existing id"
    );
    assert_eq!(
        ids(&list(&store, RecordKind::Account, query(None, Some("a1"), None)).await),
        sorted
            .iter()
            .filter(|s| s.as_str() > "a1")
            .cloned()
            .collect::<Vec<_>>(),
        "after a value that is no id"
    );
    // Paging two at a time gives everything once, in order.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(
            &store,
            RecordKind::Account,
            query(None, after.as_deref(), Some(2)),
        )
        .await;
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        paged.extend(ids(&page));
    }
    assert_eq!(paged, sorted, "paging with after + limit");

    // The parent filter.
    assert_eq!(
        ids(&list(&store, RecordKind::Session, query(Some("p1"), None, None)).await),
        vec!["S9", "m", "s1", "s3"],
        "parent filter"
    );
    assert_eq!(
        ids(&list(
            &store,
            RecordKind::Session,
            query(Some("p1"), Some("m"), Some(1))
        )
        .await),
        vec!["s1"],
        "parent filter with after and limit"
    );
    assert!(
        list(&store, RecordKind::Session, query(Some("p3"), None, None))
            .await
            .is_empty()
    );
    assert_eq!(
        ids(&list(&store, RecordKind::Session, ListQuery::default()).await),
        vec!["S9", "m", "s0", "s1", "s2", "s3"],
        "no filter lists records without parent too"
    );
    assert!(
        list(&store, RecordKind::SigningKey, ListQuery::default())
            .await
            .is_empty(),
        "an empty kind lists nothing"
    );
}

/// `prune`: removes exactly the records whose `expires_at` is at or before `now` (any kind, any
/// version, lookups freed), revocations whose `until` has passed and idle throttle counters;
/// keeps everything else and every audit event; reports the counts.
pub async fn prune_expired<S: Store>(store: S) {
    let at = |secs| Some(Timestamp::from_secs(secs));
    let expiring = |kind, id: &str, lookup: Option<&str>, secs| Record {
        expires_at: at(secs),
        ..rec(kind, id, Some("acc_a"), lookup, "{}")
    };
    commit_ok(
        &store,
        Commit {
            writes: vec![
                Write::Insert(expiring(RecordKind::Session, "ses_old", None, 100)),
                Write::Insert(expiring(RecordKind::Session, "ses_edge", None, 200)),
                Write::Insert(expiring(RecordKind::Session, "ses_new", None, 201)),
                Write::Insert(expiring(RecordKind::ApiToken, "tok_old", Some("pub_1"), 50)),
                Write::Insert(rec(RecordKind::Account, "acc_a", None, Some("alice"), "{}")),
            ],
            throttle: vec![
                ThrottleWrite::Failure {
                    key: "login:idle".into(),
                    at: Timestamp::from_secs(10),
                },
                ThrottleWrite::Failure {
                    key: "login:busy".into(),
                    at: Timestamp::from_secs(190),
                },
            ],
            revocations: vec![
                RevocationChange::Put(grant("ses_gone", Timestamp::from_secs(150))),
                RevocationChange::Put(grant("ses_kept", Timestamp::from_secs(300))),
            ],
            audit: vec![draft(AuditKind::SessionRevoked, 1_000, Some("acc_a"))],
        },
        "setup",
    )
    .await;
    let old = get(&store, RecordKind::Session, "ses_old")
        .await
        .expect("ses_old");
    commit_ok(
        &store,
        Commit {
            writes: vec![update(old.clone(), old.version)],
            ..Commit::default()
        },
        "bump a version",
    )
    .await;

    let report = store
        .prune(Timestamp::from_secs(200), Timestamp::from_secs(100))
        .await
        .expect("prune failed");
    assert_eq!(
        report,
        PruneReport {
            records: vec![(RecordKind::Session, 2), (RecordKind::ApiToken, 1)],
            throttles: 1,
            revocations: 1,
        },
        "prune reports what it removed, in RecordKind::ALL order"
    );
    assert_eq!(report.records_of(RecordKind::Session), 2);
    assert_eq!(report.records_of(RecordKind::Account), 0);
    assert_eq!(
        ids(&list(&store, RecordKind::Session, ListQuery::default()).await),
        ["ses_new"],
        "records expiring at or before now go, later ones stay"
    );
    assert!(get(&store, RecordKind::Account, "acc_a").await.is_some());
    assert!(
        find(&store, RecordKind::ApiToken, "pub_1").await.is_none(),
        "a pruned record's lookup is gone"
    );
    commit_ok(
        &store,
        inserts([expiring(RecordKind::ApiToken, "tok_2", Some("pub_1"), 900)]),
        "a pruned lookup can be reused",
    )
    .await;
    assert_eq!(store.throttle("login:idle").await.expect("throttle"), None);
    assert!(store
        .throttle("login:busy")
        .await
        .expect("throttle")
        .is_some());
    let left: Vec<String> = sorted_revocations(&store)
        .await
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, ["ses_kept"]);
    assert_eq!(
        all_audit(&store).await.len(),
        1,
        "audit events are never pruned"
    );

    let again = store
        .prune(Timestamp::from_secs(200), Timestamp::from_secs(100))
        .await
        .expect("prune failed");
    assert_eq!(
        again,
        PruneReport::default(),
        "a second prune finds nothing"
    );
}
