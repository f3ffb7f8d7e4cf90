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
