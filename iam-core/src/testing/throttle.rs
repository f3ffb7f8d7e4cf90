//! Throttle counters and reservations.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Throttle counters: `Failure` counts up and keeps the latest time, `Reset` clears, keys are
/// independent.
pub async fn throttle_counters<S: Store>(store: S) {
    let fail = |key: &str, secs: i64| ThrottleWrite::Failure {
        key: key.to_owned(),
        at: Timestamp::from_secs(secs),
    };
    let state = |failures, secs| ThrottleState {
        failures,
        last_failure: Timestamp::from_secs(secs),
    };
    let throttle = |key: &'static str| {
        let store = &store;
        async move { store.throttle(key).await.expect("throttle read failed") }
    };
    let one = |t: ThrottleWrite| Commit {
        throttle: vec![t],
        ..Commit::default()
    };

    assert_eq!(throttle("login:alice").await, None);
    commit_ok(&store, one(fail("login:alice", 10)), "failure 1").await;
    assert_eq!(throttle("login:alice").await, Some(state(1, 10)));
    commit_ok(&store, one(fail("login:alice", 20)), "failure 2").await;
    assert_eq!(throttle("login:alice").await, Some(state(2, 20)));
    commit_ok(&store, one(fail("login:alice", 15)), "an earlier failure").await;
    assert_eq!(
        throttle("login:alice").await,
        Some(state(3, 20)),
        "a failure that happened earlier counts but does not move last_failure back"
    );
    assert_eq!(throttle("login:bob").await, None, "keys are independent");

    commit_ok(
        &store,
        Commit {
            throttle: vec![fail("login:bob", 5), fail("login:carol", 6)],
            ..Commit::default()
        },
        "two keys in one commit",
    )
    .await;
    assert_eq!(throttle("login:bob").await, Some(state(1, 5)));
    assert_eq!(throttle("login:carol").await, Some(state(1, 6)));

    commit_ok(
        &store,
        one(ThrottleWrite::Reset {
            key: "login:alice".into(),
        }),
        "reset",
    )
    .await;
    assert_eq!(throttle("login:alice").await, None);
    assert_eq!(
        throttle("login:bob").await,
        Some(state(1, 5)),
        "reset touches one key"
    );
    commit_ok(
        &store,
        one(ThrottleWrite::Reset {
            key: "login:nobody".into(),
        }),
        "reset of an absent key",
    )
    .await;
    commit_ok(&store, one(fail("login:alice", 30)), "failure after reset").await;
    assert_eq!(
        throttle("login:alice").await,
        Some(state(1, 30)),
        "counting restarts after a reset"
    );
}

/// Reservations: `Reserve` counts an attempt up front while the policy imposes no wait and
/// otherwise fails the whole commit with [`StoreError::Throttled`] (how long to wait), changing
/// nothing; several in one commit apply in order; `Refund` takes one failure back (the counter
/// goes at zero), `Reset` clears.
pub async fn throttle_reservations<S: Store>(store: S) {
    let policy = reservation_policy();
    let t0 = Timestamp::from_secs(1_000);
    let secs = |s| Duration::from_secs(s);
    let state = |failures, at: Timestamp| {
        Some(ThrottleState {
            failures,
            last_failure: at,
        })
    };
    let throttle = |key: &'static str| {
        let store = &store;
        async move { store.throttle(key).await.expect("throttle read failed") }
    };
    let run = |writes: Vec<ThrottleWrite>| {
        let store = &store;
        async move {
            store
                .commit(Commit {
                    throttle: writes,
                    ..Commit::default()
                })
                .await
        }
    };
    let throttled = |s| {
        Err(StoreError::Throttled {
            retry_after: Duration::from_secs(s),
        })
    };

    for n in 1..=3 {
        assert_eq!(
            run(vec![reserve("login:ann", t0, &policy)]).await,
            Ok(()),
            "free failures and the first paid one are admitted at once"
        );
        assert_eq!(
            throttle("login:ann").await,
            state(n, t0),
            "reservation {n} counts"
        );
    }
    assert_eq!(
        run(vec![reserve("login:ann", t0, &policy)]).await,
        throttled(10),
        "the third failure imposes the base delay"
    );
    assert_eq!(
        run(vec![reserve("login:ann", t0.plus(secs(4)), &policy)]).await,
        throttled(6),
        "the wait counts down from the last failure"
    );
    assert_eq!(
        throttle("login:ann").await,
        state(3, t0),
        "a refused reservation counts nothing"
    );
    let t1 = t0.plus(secs(10));
    assert_eq!(run(vec![reserve("login:ann", t1, &policy)]).await, Ok(()));
    assert_eq!(throttle("login:ann").await, state(4, t1));
    assert_eq!(
        run(vec![reserve("login:ann", t1.plus(secs(19)), &policy)]).await,
        throttled(1),
        "the delay doubles"
    );
    assert_eq!(throttle("login:bob").await, None, "keys are independent");

    assert_eq!(
        run(vec![ThrottleWrite::Refund {
            key: "login:ann".into()
        }])
        .await,
        Ok(())
    );
    assert_eq!(
        throttle("login:ann").await,
        state(3, t1),
        "a refund takes one failure back and keeps the time"
    );
    assert_eq!(
        run(vec![reserve("login:ann", t1, &policy)]).await,
        throttled(10),
        "the back-off follows the refunded count"
    );
    assert_eq!(run(vec![reserve("login:bob", t0, &policy)]).await, Ok(()));
    let refund_bob = ThrottleWrite::Refund {
        key: "login:bob".into(),
    };
    assert_eq!(run(vec![refund_bob.clone()]).await, Ok(()));
    assert_eq!(
        throttle("login:bob").await,
        None,
        "refunding the last failure removes the counter"
    );
    assert_eq!(
        run(vec![refund_bob]).await,
        Ok(()),
        "a refund without a counter changes nothing"
    );
    assert_eq!(throttle("login:bob").await, None);

    assert_eq!(
        run(vec![
            reserve("login:pair", t0, &policy),
            reserve("login:pair", t0, &policy),
        ])
        .await,
        Ok(()),
        "two reservations in one commit"
    );
    assert_eq!(throttle("login:pair").await, state(2, t0));
    assert_eq!(
        run(vec![
            reserve("login:pair", t0, &policy),
            reserve("login:pair", t0, &policy),
        ])
        .await,
        throttled(10),
        "the second reservation sees the first one's count"
    );
    assert_eq!(
        throttle("login:pair").await,
        state(2, t0),
        "the refused commit undid its first reservation too"
    );

    // A refused reservation aborts everything else in its commit.
    assert_eq!(run(vec![reserve("login:cy", t0, &policy)]).await, Ok(()));
    let a = RecordKind::Account;
    let refused = Commit {
        writes: vec![Write::Insert(rec(a, "X", None, Some("xavier"), "{}"))],
        throttle: vec![
            ThrottleWrite::Failure {
                key: "login:other".into(),
                at: t0,
            },
            ThrottleWrite::Refund {
                key: "login:pair".into(),
            },
            ThrottleWrite::Reset {
                key: "login:cy".into(),
            },
            reserve("login:fresh", t0, &policy),
            reserve("login:ann", t1, &policy),
        ],
        revocations: vec![RevocationChange::Put(grant(
            "ses_x",
            Timestamp::from_secs(4_000_000_000),
        ))],
        audit: vec![draft(AuditKind::LoginFailed, 1, Some("X"))],
    };
    assert_eq!(store.commit(refused).await, throttled(10));
    assert_eq!(get(&store, a, "X").await, None, "record write left behind");
    assert_eq!(find(&store, a, "xavier").await, None, "lookup left behind");
    assert_eq!(throttle("login:other").await, None, "failure left behind");
    assert_eq!(
        throttle("login:fresh").await,
        None,
        "reservation left behind"
    );
    assert_eq!(
        throttle("login:pair").await,
        state(2, t0),
        "refund left behind"
    );
    assert_eq!(
        throttle("login:cy").await,
        state(1, t0),
        "reset left behind"
    );
    assert_eq!(
        throttle("login:ann").await,
        state(3, t1),
        "refused reservation counted"
    );
    assert!(
        sorted_revocations(&store).await.is_empty(),
        "revocation left behind"
    );
    assert!(
        all_audit(&store).await.is_empty(),
        "audit event left behind"
    );

    assert_eq!(
        run(vec![ThrottleWrite::Reset {
            key: "login:ann".into()
        }])
        .await,
        Ok(())
    );
    assert_eq!(throttle("login:ann").await, None);
    assert_eq!(run(vec![reserve("login:ann", t1, &policy)]).await, Ok(()));
    assert_eq!(
        throttle("login:ann").await,
        state(1, t1),
        "counting restarts after a reset"
    );
}
