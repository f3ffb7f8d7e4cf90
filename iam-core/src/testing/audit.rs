//! The audit chain and its queries.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The audit chain: sequence from 1 without gaps, each event linked to the one before, drafts
/// returned exactly, and every [`AuditQuery`] filter (account, kind, from, to, after_seq, limit).
pub async fn audit_chain_and_queries<S: Store>(store: S) {
    assert!(all_audit(&store).await.is_empty());
    let mut d1 = draft(AuditKind::AccountCreated, 1_000, Some("acc_a"))
        .actor(Some("acc_admin"))
        .detail("username", "alice")
        .detail("roles", "");
    d1.detail
        .insert("unicode".into(), "\u{e9}\u{1f600}\"\\".into());
    let batches: Vec<Vec<AuditDraft>> = vec![
        vec![d1],
        vec![
            draft(AuditKind::LoginFailed, 2_000, Some("acc_a")).detail("reason", "bad_credentials"),
            draft(AuditKind::LoginFailed, 2_000, None).detail("username", "ghost"),
            draft(AuditKind::LoginSucceeded, 3_000, Some("acc_a"))
                .actor(Some("acc_a"))
                .session("ses_1"),
        ],
        vec![draft(AuditKind::AccountCreated, 4_000, Some("acc_b"))],
        vec![
            // Earlier than the event before it: the chain orders by seq, not by time.
            draft(AuditKind::TokenRefreshed, 3_500, Some("acc_a")).session("ses_1"),
            draft(AuditKind::LoginSucceeded, 5_000, Some("acc_b")).session("ses_2"),
        ],
        vec![draft(AuditKind::SessionRevoked, 6_000, Some("acc_a")).session("ses_1")],
        vec![
            draft(AuditKind::SigningKeyRotated, 7_000, None).detail("kid", "k4.pid.x"),
            draft(AuditKind::LoginFailed, 8_000, Some("acc_b")),
        ],
    ];
    let drafts: Vec<AuditDraft> = batches.iter().flatten().cloned().collect();
    for batch in batches {
        commit_ok(
            &store,
            Commit {
                audit: batch,
                ..Commit::default()
            },
            "audit append",
        )
        .await;
    }
    let events = all_audit(&store).await;
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<u64>>(),
        "sequence numbers run from 1 without gaps"
    );
    assert_eq!(
        events.iter().map(|e| e.draft.clone()).collect::<Vec<_>>(),
        drafts,
        "events hold their drafts exactly, in commit order"
    );
    assert_eq!(events[0].prev_hash, GENESIS);
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "each event links to the one before"
        );
    }
    assert_eq!(verify_chain(&events), Ok(10), "the chain verifies");

    let at = Timestamp::from_millis;
    let queries = [
        AuditQuery {
            account: Some("acc_a".into()),
            ..AuditQuery::default()
        },
        AuditQuery {
            account: Some("nobody".into()),
            ..AuditQuery::default()
        },
        AuditQuery {
            kind: Some(AuditKind::LoginFailed),
            ..AuditQuery::default()
        },
        AuditQuery {
            kind: Some(AuditKind::TotpRemoved),
            ..AuditQuery::default()
        },
        AuditQuery {
            from: Some(at(3_000)),
            ..AuditQuery::default()
        },
        AuditQuery {
            to: Some(at(3_000)),
            ..AuditQuery::default()
        },
        AuditQuery {
            from: Some(at(2_000)),
            to: Some(at(5_000)),
            ..AuditQuery::default()
        },
        AuditQuery {
            after_seq: Some(4),
            ..AuditQuery::default()
        },
        AuditQuery {
            after_seq: Some(10),
            ..AuditQuery::default()
        },
        AuditQuery {
            limit: Some(3),
            ..AuditQuery::default()
        },
        AuditQuery {
            limit: Some(0),
            ..AuditQuery::default()
        },
        AuditQuery {
            account: Some("acc_a".into()),
            limit: Some(2),
            ..AuditQuery::default()
        },
        AuditQuery {
            account: Some("acc_a".into()),
            kind: Some(AuditKind::LoginSucceeded),
            ..AuditQuery::default()
        },
        AuditQuery {
            kind: Some(AuditKind::LoginFailed),
            after_seq: Some(2),
            limit: Some(1),
            ..AuditQuery::default()
        },
        AuditQuery {
            account: Some("acc_b".into()),
            from: Some(at(4_000)),
            to: Some(at(8_000)),
            after_seq: Some(5),
            limit: Some(5),
            kind: None,
        },
    ];
    for q in &queries {
        let want: Vec<AuditEvent> = events
            .iter()
            .filter(|e| q.matches(e))
            .take(q.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        let got = store.audit(q).await.expect("audit query failed");
        assert_eq!(got, want, "audit query {q:?}");
    }
    // Spot checks that do not lean on `AuditQuery::matches`.
    let seqs = |q: AuditQuery| {
        let store = &store;
        async move {
            store
                .audit(&q)
                .await
                .expect("audit query failed")
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        seqs(AuditQuery {
            account: Some("acc_a".into()),
            ..AuditQuery::default()
        })
        .await,
        vec![1, 2, 4, 6, 8]
    );
    assert_eq!(
        seqs(AuditQuery {
            from: Some(at(3_000)),
            to: Some(at(6_000)),
            ..AuditQuery::default()
        })
        .await,
        vec![4, 5, 6, 7],
        "from is inclusive, to exclusive"
    );
    assert_eq!(
        seqs(AuditQuery {
            kind: Some(AuditKind::LoginFailed),
            after_seq: Some(2),
            ..AuditQuery::default()
        })
        .await,
        vec![3, 10]
    );
}

/// Signed checkpoints over the store: the first sweep signs the head and stores the checkpoint
/// (read back exactly); another falls due only after the interval; two instances racing to
/// sign make one checkpoint; after a key rotation (and after the old key has lapsed from the
/// ring) an export still verifies offline, every checkpoint under the key it names, the last
/// under the pinned new key; and the stored chain verifies against its checkpoints.
pub async fn audit_checkpoints<S: Store>(store: S) {
    use crate::audit::{verify_export, PinnedKey};
    use crate::clock::ManualClock;

    let store = Arc::new(store);
    let clock = ManualClock::new(Timestamp::from_secs(1_767_225_600));
    let every = Duration::from_secs(3600); // the sweep below runs one second early
    let mut config = race_config();
    config.audit_checkpoint_interval = Some(every);
    let open = |config: Config| {
        Iam::builder(Arc::clone(&store), config)
            .clock(clock.clone())
            .open()
    };
    let iam = open(config.clone())
        .await
        .expect("Iam::open over the store");
    for name in ["ann", "ben"] {
        iam.create_account(
            NewAccount::human(name, "checkpoint password"),
            Caller::System,
        )
        .await
        .expect("create account");
    }
    let first = iam
        .checkpoint_audit_if_due()
        .await
        .expect("first checkpoint")
        .expect("the first checkpoint is due at once");
    let head = all_audit(&*store).await.last().cloned().expect("events");
    assert_eq!(
        (first.seq, first.head),
        (head.seq, head.hash),
        "it signs the head"
    );
    assert_eq!(first.kid, iam.active_key_id());
    let stored = get(
        &*store,
        RecordKind::AuditCheckpoint,
        &format!("{:020}", first.seq),
    )
    .await
    .expect("the checkpoint is stored under its zero-padded sequence number");
    assert_eq!(
        serde_json::from_str::<crate::audit::AuditCheckpoint>(&stored.body).ok(),
        Some(first.clone()),
        "the stored checkpoint reads back exactly"
    );

    iam.create_account(
        NewAccount::human("cat", "checkpoint password"),
        Caller::System,
    )
    .await
    .expect("create account");
    clock.advance(Duration::from_secs(3599));
    let report = iam.sweep().await.expect("sweep");
    assert_eq!(report.audit_checkpoint, None, "not due before the interval");
    clock.advance(Duration::from_secs(1));

    // Two instances over one store race to sign: one checkpoint results.
    let other = open(config.clone()).await.expect("second instance");
    let racers: Vec<_> = [iam.clone(), other]
        .into_iter()
        .map(|i| tokio::spawn(async move { i.checkpoint_audit_if_due().await }))
        .collect();
    let made: Vec<_> = join_all(racers)
        .await
        .into_iter()
        .filter_map(|r| r.expect("racing checkpoint"))
        .collect();
    assert_eq!(made.len(), 1, "exactly one instance signs a due head");
    let second = made[0].clone();
    assert!(second.seq > first.seq);

    // Rotate; let the old key lapse from the ring (and from /keys).
    let old_kid = iam.active_key_id();
    let new_kid = iam
        .rotate_signing_key(Caller::System)
        .await
        .expect("rotate");
    clock.advance(config.service_token_ttl + Duration::from_secs(60));
    iam.reload_keys().await.expect("reload keys");
    assert!(
        iam.public_keys().iter().all(|k| k.kid != old_kid),
        "the old key is no longer published"
    );
    let export = iam
        .export_audit(Caller::System)
        .await
        .expect("export")
        .into_text()
        .await
        .expect("export text");
    let pinned = PinnedKey::parse(&iam.public_keys()[0].paserk).expect("published key");
    let verified = verify_export(&export, &[pinned]).expect("the export verifies");
    assert!(verified.pinned);
    assert_eq!(verified.signed_by(), new_kid);
    let kids: Vec<&str> = verified
        .checkpoints
        .iter()
        .map(|c| c.kid.as_str())
        .collect();
    assert_eq!(kids, [old_kid.as_str(), old_kid.as_str(), new_kid.as_str()]);
    assert_eq!(
        iam.verify_audit_chain(Caller::System).await.ok(),
        Some(verified.events + 1),
        "the chain verifies against its checkpoints (the export's own event follows)"
    );
}
