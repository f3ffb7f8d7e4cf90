//! Commits: versions, uniqueness, read preconditions and all-or-nothing application.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Insert sets version 1, Update bumps it under a matching expectation and otherwise fails with
/// `Conflict`, Delete removes, writes in one commit apply in order.
pub async fn commit_versions<S: Store>(store: S) {
    let k = RecordKind::Account;
    let mut original = rec(k, "acc", Some("p"), Some("alice"), "{\"v\":1}");
    original.version = 42;
    commit_ok(&store, inserts([original.clone()]), "insert").await;
    assert_eq!(get(&store, k, "acc").await.map(|r| r.version), Some(1));

    let mut changed = rec(k, "acc", Some("q"), Some("alice"), "{\"v\":2}");
    changed.expires_at = Some(Timestamp::from_secs(99));
    changed.version = 1000;
    commit_ok(
        &store,
        Commit {
            writes: vec![update(changed.clone(), 1)],
            ..Commit::default()
        },
        "update at version 1",
    )
    .await;
    let v2 = Record {
        version: 2,
        ..changed.clone()
    };
    assert_eq!(
        get(&store, k, "acc").await.as_ref(),
        Some(&v2),
        "update replaces every field and bumps the version"
    );

    let stale = rec(k, "acc", None, Some("alice"), "{\"v\":\"stale\"}");
    assert_eq!(
        store
            .commit(Commit {
                writes: vec![update(stale.clone(), 1)],
                ..Commit::default()
            })
            .await,
        Err(StoreError::Conflict),
        "update with a stale version"
    );
    assert_eq!(get(&store, k, "acc").await.as_ref(), Some(&v2));
    assert_eq!(
        store
            .commit(Commit {
                writes: vec![update(rec(k, "missing", None, None, "{}"), 1)],
                ..Commit::default()
            })
            .await,
        Err(StoreError::Conflict),
        "update of a missing record"
    );
    assert_eq!(get(&store, k, "missing").await, None);

    assert_eq!(
        store
            .commit(Commit {
                writes: vec![delete(k, "acc", 1)],
                ..Commit::default()
            })
            .await,
        Err(StoreError::Conflict),
        "delete with a stale version"
    );
    assert_eq!(get(&store, k, "acc").await.as_ref(), Some(&v2));
    assert_eq!(
        store
            .commit(Commit {
                writes: vec![delete(k, "missing", 1)],
                ..Commit::default()
            })
            .await,
        Err(StoreError::Conflict),
        "delete of a missing record"
    );
    commit_ok(
        &store,
        Commit {
            writes: vec![delete(k, "acc", 2)],
            ..Commit::default()
        },
        "delete at version 2",
    )
    .await;
    assert_eq!(get(&store, k, "acc").await, None);
    assert_eq!(
        find(&store, k, "alice").await,
        None,
        "delete frees the lookup"
    );
    assert!(list(&store, k, ListQuery::default()).await.is_empty());
    assert!(list(&store, k, query(Some("q"), None, None))
        .await
        .is_empty());

    // A deleted id can be inserted again and starts over at version 1.
    commit_ok(&store, inserts([original.clone()]), "re-insert").await;
    assert_eq!(get(&store, k, "acc").await.map(|r| r.version), Some(1));

    // Writes inside one commit apply in order.
    commit_ok(
        &store,
        Commit {
            writes: vec![
                Write::Insert(rec(k, "seq", None, None, "{\"step\":1}")),
                update(rec(k, "seq", None, None, "{\"step\":2}"), 1),
                update(rec(k, "seq", None, None, "{\"step\":3}"), 2),
            ],
            ..Commit::default()
        },
        "insert then two updates in one commit",
    )
    .await;
    let seq = get(&store, k, "seq")
        .await
        .expect("record written in one commit");
    assert_eq!((seq.version, seq.body.as_str()), (3, "{\"step\":3}"));
    commit_ok(
        &store,
        Commit {
            writes: vec![
                delete(k, "seq", 3),
                Write::Insert(rec(k, "seq", None, None, "{\"step\":4}")),
            ],
            ..Commit::default()
        },
        "delete then insert in one commit",
    )
    .await;
    assert_eq!(get(&store, k, "seq").await.map(|r| r.version), Some(1));

    // An empty commit is fine and changes nothing.
    commit_ok(&store, Commit::default(), "empty commit").await;
    assert!(all_audit(&store).await.is_empty());
}

/// Ids and lookups are unique per kind: inserts and lookup-changing updates that collide fail
/// with `Duplicate { kind }`; changing or clearing a lookup frees the old one.
pub async fn commit_uniqueness<S: Store>(store: S) {
    let a = RecordKind::Account;
    commit_ok(
        &store,
        inserts([
            rec(a, "acc1", None, Some("alice"), "{}"),
            rec(a, "acc2", None, Some("bob"), "{}"),
            rec(a, "nolookup1", None, None, "{}"),
            rec(a, "nolookup2", None, None, "{}"),
        ]),
        "setup",
    )
    .await;
    let dup = |r: Record| async { store.commit(inserts([r])).await };
    assert_eq!(
        dup(rec(a, "acc1", None, Some("carol"), "{}")).await,
        Err(StoreError::Duplicate { kind: a }),
        "insert with a taken id"
    );
    assert_eq!(find(&store, a, "carol").await, None);
    assert_eq!(
        dup(rec(a, "acc3", None, Some("alice"), "{}")).await,
        Err(StoreError::Duplicate { kind: a }),
        "insert with a taken lookup"
    );
    assert_eq!(get(&store, a, "acc3").await, None);
    commit_ok(
        &store,
        inserts([
            rec(RecordKind::Session, "acc1", None, Some("alice"), "{}"),
            rec(RecordKind::SigningKey, "k1", None, None, "{}"),
        ]),
        "the same id and lookup in another kind",
    )
    .await;
    assert_eq!(
        store
            .commit(inserts([rec(
                RecordKind::Session,
                "acc1",
                None,
                None,
                "{}"
            )]))
            .await,
        Err(StoreError::Duplicate {
            kind: RecordKind::Session
        }),
        "the duplicate names its kind"
    );

    // Two inserts with one lookup in one commit: neither lands.
    assert_eq!(
        store
            .commit(inserts([
                rec(a, "x1", None, Some("xavier"), "{}"),
                rec(a, "x2", None, Some("xavier"), "{}"),
            ]))
            .await,
        Err(StoreError::Duplicate { kind: a })
    );
    assert_eq!(get(&store, a, "x1").await, None);
    assert_eq!(find(&store, a, "xavier").await, None);

    // Changing a lookup.
    let keep = rec(a, "acc1", None, Some("alice"), "{\"same\":true}");
    commit_ok(
        &store,
        Commit {
            writes: vec![update(keep, 1)],
            ..Commit::default()
        },
        "update keeping its own lookup",
    )
    .await;
    assert_eq!(
        store
            .commit(Commit {
                writes: vec![update(rec(a, "acc1", None, Some("bob"), "{}"), 2)],
                ..Commit::default()
            })
            .await,
        Err(StoreError::Duplicate { kind: a }),
        "update to a lookup held by another record"
    );
    assert_eq!(find(&store, a, "alice").await.map(|r| r.version), Some(2));
    assert_eq!(
        find(&store, a, "bob").await.map(|r| r.id),
        Some("acc2".to_owned())
    );
    commit_ok(
        &store,
        Commit {
            writes: vec![update(rec(a, "acc1", None, Some("alicia"), "{}"), 2)],
            ..Commit::default()
        },
        "rename",
    )
    .await;
    assert_eq!(
        find(&store, a, "alice").await,
        None,
        "the old lookup is freed"
    );
    assert_eq!(
        find(&store, a, "alicia").await.map(|r| r.id),
        Some("acc1".to_owned())
    );
    commit_ok(
        &store,
        inserts([rec(a, "acc4", None, Some("alice"), "{}")]),
        "a freed lookup can be taken",
    )
    .await;
    commit_ok(
        &store,
        Commit {
            writes: vec![update(rec(a, "acc2", None, None, "{}"), 1)],
            ..Commit::default()
        },
        "clearing a lookup",
    )
    .await;
    assert_eq!(find(&store, a, "bob").await, None);
    commit_ok(
        &store,
        inserts([rec(a, "acc5", None, Some("bob"), "{}")]),
        "a cleared lookup can be taken",
    )
    .await;
    assert_eq!(
        find(&store, a, "bob").await.map(|r| r.id),
        Some("acc5".to_owned())
    );
}

/// A commit that fails leaves nothing behind: no record change, no throttle change, no
/// revocation (in the list or in a subscribed cache), no audit event, no gap in the chain.
pub async fn aborted_commit_leaves_nothing<S: Store>(store: S) {
    let a = RecordKind::Account;
    let cache = Arc::new(RevocationCache::new());
    store
        .subscribe(Arc::clone(&cache))
        .await
        .expect("subscribe");
    let until = Timestamp::from_secs(4_000_000_000);
    let r0 = grant("ses_kept", until);
    commit_ok(
        &store,
        Commit {
            writes: vec![
                Write::Insert(rec(a, "A", None, Some("alice"), "{\"a\":1}")),
                Write::Insert(rec(a, "B", None, Some("bob"), "{\"b\":1}")),
                Write::Insert(rec(a, "E", None, Some("eve"), "{}")),
            ],
            throttle: vec![
                ThrottleWrite::Failure {
                    key: "k".into(),
                    at: Timestamp::from_secs(10),
                },
                ThrottleWrite::Failure {
                    key: "k2".into(),
                    at: Timestamp::from_secs(10),
                },
            ],
            revocations: vec![RevocationChange::Put(r0.clone())],
            audit: vec![draft(AuditKind::AccountCreated, 1, Some("A"))],
        },
        "setup",
    )
    .await;
    let a_before = get(&store, a, "A").await;
    let b_before = get(&store, a, "B").await;
    let throttle_before = store.throttle("k").await.expect("throttle");
    let now = Timestamp::from_secs(20);

    let failing: [(Write, StoreError, &str); 4] = [
        (
            Write::Insert(rec(a, "D", None, Some("eve"), "{}")),
            StoreError::Duplicate { kind: a },
            "duplicate lookup last",
        ),
        (
            update(rec(a, "E", None, Some("eve"), "{}"), 9),
            StoreError::Conflict,
            "stale update last",
        ),
        (
            delete(a, "nope", 1),
            StoreError::Conflict,
            "delete of a missing record last",
        ),
        (
            Write::Insert(rec(a, "A", None, None, "{}")),
            StoreError::Duplicate { kind: a },
            "duplicate id last",
        ),
    ];
    for (bad, expected, what) in failing {
        let commit = Commit {
            writes: vec![
                Write::Insert(rec(a, "C", Some("A"), Some("carol"), "{}")),
                update(rec(a, "A", None, Some("alice2"), "{\"a\":2}"), 1),
                delete(a, "B", 1),
                bad,
            ],
            throttle: vec![
                ThrottleWrite::Failure {
                    key: "k".into(),
                    at: now,
                },
                ThrottleWrite::Failure {
                    key: "k3".into(),
                    at: now,
                },
                ThrottleWrite::Reset { key: "k2".into() },
            ],
            revocations: vec![
                RevocationChange::Put(grant("ses_new", until)),
                RevocationChange::Lift {
                    subject: RevokedSubject::Grant,
                    id: "ses_kept".into(),
                },
            ],
            audit: vec![
                draft(AuditKind::LoginFailed, 2, Some("A")),
                draft(AuditKind::LoginFailed, 3, Some("A")),
            ],
        };
        assert_eq!(store.commit(commit).await, Err(expected), "{what}");
        assert_eq!(
            get(&store, a, "C").await,
            None,
            "{what}: inserted record left behind"
        );
        assert_eq!(
            find(&store, a, "carol").await,
            None,
            "{what}: lookup left behind"
        );
        assert!(
            list(&store, a, query(Some("A"), None, None))
                .await
                .is_empty(),
            "{what}: listed record left behind"
        );
        assert_eq!(
            get(&store, a, "A").await,
            a_before,
            "{what}: update left behind"
        );
        assert_eq!(
            find(&store, a, "alice2").await,
            None,
            "{what}: lookup change left behind"
        );
        assert_eq!(
            get(&store, a, "B").await,
            b_before,
            "{what}: delete left behind"
        );
        assert_eq!(
            store.throttle("k").await.expect("throttle"),
            throttle_before,
            "{what}: throttle failure left behind"
        );
        assert_eq!(
            store.throttle("k3").await.expect("throttle"),
            None,
            "{what}: throttle key left behind"
        );
        assert!(
            store.throttle("k2").await.expect("throttle").is_some(),
            "{what}: throttle reset left behind"
        );
        assert_eq!(
            sorted_revocations(&store).await,
            vec![r0.clone()],
            "{what}: revocation change left behind"
        );
        assert_eq!(
            cache.check("acc", "ses_new", Timestamp::from_secs(1)),
            Ok(()),
            "{what}: an aborted revocation reached the cache"
        );
        assert_eq!(
            cache.check("acc", "ses_kept", Timestamp::from_secs(1)),
            Err(Denial::SessionRevoked),
            "{what}: an aborted lift reached the cache"
        );
        assert_eq!(
            all_audit(&store).await.len(),
            1,
            "{what}: audit event left behind"
        );
    }

    // The chain goes on without a gap after the aborted appends.
    commit_ok(
        &store,
        Commit {
            audit: vec![draft(AuditKind::LoginSucceeded, 4, Some("A"))],
            ..Commit::default()
        },
        "append after aborts",
    )
    .await;
    let events = all_audit(&store).await;
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(verify_chain(&events), Ok(2));
}

/// A commit of `writes` alone.
fn writes(writes: Vec<Write>) -> Commit {
    Commit {
        writes,
        ..Commit::default()
    }
}

/// A [`Write::Check`] of `kind`/`id` at `expected_version`.
fn check(kind: RecordKind, id: &str, expected_version: u64) -> Write {
    Write::Check {
        kind,
        id: id.to_owned(),
        expected_version,
    }
}

/// `Check` of a record at the version it has passes, changes nothing (the record keeps its
/// version and body), lets the commit's other writes, counters and audit events land, and sees
/// the commit's earlier writes (a record inserted or updated before it in the same commit).
pub async fn check_passes_when_unchanged<S: Store>(store: S) {
    let a = RecordKind::Account;
    commit_ok(
        &store,
        inserts([rec(a, "acc", None, Some("al"), "{}")]),
        "insert",
    )
    .await;
    let before = get(&store, a, "acc").await;
    commit_ok(
        &store,
        Commit {
            writes: vec![
                check(a, "acc", 1),
                Write::Insert(rec(RecordKind::Session, "ses", Some("acc"), None, "{}")),
            ],
            throttle: vec![ThrottleWrite::Failure {
                key: "k".into(),
                at: Timestamp::from_secs(1),
            }],
            audit: vec![draft(AuditKind::LoginSucceeded, 1, Some("acc"))],
            ..Commit::default()
        },
        "check at the current version",
    )
    .await;
    assert_eq!(
        get(&store, a, "acc").await,
        before,
        "a check changes nothing"
    );
    assert!(
        get(&store, RecordKind::Session, "ses").await.is_some(),
        "the checked commit's insert landed"
    );
    assert!(store.throttle("k").await.expect("throttle").is_some());
    assert_eq!(all_audit(&store).await.len(), 1);

    // Within one commit a check sees the writes before it.
    commit_ok(
        &store,
        writes(vec![
            Write::Insert(rec(a, "new", None, None, "{}")),
            check(a, "new", 1),
            update(rec(a, "acc", None, Some("al"), "{\"v\":2}"), 1),
            check(a, "acc", 2),
        ]),
        "check after an insert and an update in one commit",
    )
    .await;
    assert_eq!(get(&store, a, "acc").await.map(|r| r.version), Some(2));
}

/// `Check` of a record whose version differs from the expected one fails the whole commit with
/// `Conflict` and nothing of the commit lands; so does a check that an earlier write of the
/// same commit made stale, and a check at version 0.
pub async fn check_conflicts_when_changed<S: Store>(store: S) {
    let a = RecordKind::Account;
    commit_ok(&store, inserts([rec(a, "acc", None, None, "{}")]), "insert").await;
    commit_ok(
        &store,
        writes(vec![update(rec(a, "acc", None, None, "{\"v\":2}"), 1)]),
        "update",
    )
    .await;
    for (commit, what) in [
        (
            Commit {
                writes: vec![
                    Write::Insert(rec(RecordKind::Session, "ses", Some("acc"), None, "{}")),
                    check(a, "acc", 1),
                ],
                throttle: vec![ThrottleWrite::Failure {
                    key: "k".into(),
                    at: Timestamp::from_secs(1),
                }],
                revocations: vec![RevocationChange::Put(grant(
                    "ses",
                    Timestamp::from_secs(10),
                ))],
                audit: vec![draft(AuditKind::LoginSucceeded, 1, Some("acc"))],
            },
            "check at a version the record no longer has",
        ),
        (
            writes(vec![
                Write::Insert(rec(RecordKind::Session, "ses", Some("acc"), None, "{}")),
                check(a, "acc", 3),
            ]),
            "check at a version the record never had",
        ),
        (
            writes(vec![
                Write::Insert(rec(RecordKind::Session, "ses", Some("acc"), None, "{}")),
                update(rec(a, "acc", None, None, "{\"v\":3}"), 2),
                check(a, "acc", 2),
            ]),
            "check made stale by an earlier write of the commit",
        ),
        (
            writes(vec![
                Write::Insert(rec(RecordKind::Session, "ses", Some("acc"), None, "{}")),
                check(a, "acc", 0),
            ]),
            "check at version 0",
        ),
    ] {
        assert_eq!(
            store.commit(commit).await,
            Err(StoreError::Conflict),
            "{what}"
        );
        assert_eq!(
            get(&store, RecordKind::Session, "ses").await,
            None,
            "{what}: insert left behind"
        );
        assert_eq!(
            get(&store, a, "acc").await.map(|r| (r.version, r.body)),
            Some((2, "{\"v\":2}".to_owned())),
            "{what}: update left behind"
        );
        assert_eq!(store.throttle("k").await.expect("throttle"), None, "{what}");
        assert!(sorted_revocations(&store).await.is_empty(), "{what}");
        assert!(all_audit(&store).await.is_empty(), "{what}");
    }
}

/// `Check` of a record that was deleted (or never existed, in this or another kind) fails the
/// commit with `Conflict`, whatever the expected version; nothing of the commit lands.
pub async fn check_conflicts_when_deleted<S: Store>(store: S) {
    let a = RecordKind::Account;
    commit_ok(&store, inserts([rec(a, "acc", None, None, "{}")]), "insert").await;
    commit_ok(&store, writes(vec![delete(a, "acc", 1)]), "delete").await;
    for (bad, what) in [
        (check(a, "acc", 1), "check of a deleted record"),
        (check(a, "acc", 0), "check of a deleted record at version 0"),
        (check(a, "never", 1), "check of a missing record"),
        (
            check(RecordKind::Session, "acc", 1),
            "check of an id in another kind",
        ),
    ] {
        assert_eq!(
            store
                .commit(writes(vec![
                    Write::Insert(rec(RecordKind::Session, "ses", None, None, "{}")),
                    bad,
                ]))
                .await,
            Err(StoreError::Conflict),
            "{what}"
        );
        assert_eq!(
            get(&store, RecordKind::Session, "ses").await,
            None,
            "{what}: insert left behind"
        );
    }
    // A check of a record deleted earlier in the same commit conflicts too.
    commit_ok(&store, inserts([rec(a, "b", None, None, "{}")]), "insert b").await;
    assert_eq!(
        store
            .commit(writes(vec![delete(a, "b", 1), check(a, "b", 1)]))
            .await,
        Err(StoreError::Conflict),
        "check after a delete in one commit"
    );
    assert_eq!(get(&store, a, "b").await.map(|r| r.version), Some(1));
}
