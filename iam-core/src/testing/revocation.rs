//! The revocation list and subscribed caches.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The revocation list (put, replace, lift; subjects as namespaces) and subscribed caches: filled
/// and current on subscribe, fed every later committed change.
pub async fn revocations_and_subscriptions<S: Store>(store: S) {
    assert!(sorted_revocations(&store).await.is_empty());
    let stale = Arc::new(RevocationCache::new());
    stale.load(vec![grant("ghost", Timestamp::MAX)]);
    stale.mark_stale();
    store
        .subscribe(Arc::clone(&stale))
        .await
        .expect("subscribe");
    assert!(stale.is_current(), "subscribe marks the cache current");
    assert_eq!(
        stale.check("acc", "ghost", Timestamp::from_secs(1)),
        Ok(()),
        "subscribe replaces what the cache held"
    );

    let t = Timestamp::from_secs;
    let far = Timestamp::from_secs(4_000_000_000);
    let g1 = grant("ses_1", far);
    let a1 = account_revocation("acc_1", t(5), far);
    commit_ok(
        &store,
        Commit {
            revocations: vec![
                RevocationChange::Put(g1.clone()),
                RevocationChange::Put(a1.clone()),
            ],
            ..Commit::default()
        },
        "put two",
    )
    .await;
    assert_eq!(
        sorted_revocations(&store).await,
        vec![a1.clone(), g1.clone()]
    );
    assert_eq!(
        stale.check("acc_9", "ses_1", t(1)),
        Err(Denial::SessionRevoked),
        "a subscribed cache receives later changes"
    );
    assert_eq!(
        stale.check("acc_1", "ses_9", t(5)),
        Err(Denial::TokenRevoked)
    );
    assert_eq!(
        stale.check("acc_1", "ses_9", Timestamp::from_millis(5_001)),
        Ok(())
    );

    let late = Arc::new(RevocationCache::new());
    store.subscribe(Arc::clone(&late)).await.expect("subscribe");
    assert!(late.is_current());
    assert_eq!(
        late.check("acc_9", "ses_1", t(1)),
        Err(Denial::SessionRevoked),
        "a cache subscribed later is loaded with the list"
    );
    assert_eq!(
        late.check("acc_1", "ses_9", t(5)),
        Err(Denial::TokenRevoked)
    );

    // Put replaces the entry for (subject, id).
    let a1_disabled = account_revocation("acc_1", Timestamp::MAX, Timestamp::MAX);
    commit_ok(
        &store,
        Commit {
            revocations: vec![RevocationChange::Put(a1_disabled.clone())],
            ..Commit::default()
        },
        "replace",
    )
    .await;
    assert_eq!(
        sorted_revocations(&store).await,
        vec![a1_disabled.clone(), g1.clone()]
    );
    for cache in [&stale, &late] {
        assert_eq!(
            cache.check("acc_1", "ses_9", t(99)),
            Err(Denial::AccountDisabled)
        );
    }

    // Subjects are separate namespaces.
    let same_id_grant = grant("acc_1", far);
    commit_ok(
        &store,
        Commit {
            revocations: vec![RevocationChange::Put(same_id_grant.clone())],
            ..Commit::default()
        },
        "a grant with an account's id",
    )
    .await;
    commit_ok(
        &store,
        Commit {
            revocations: vec![
                RevocationChange::Lift {
                    subject: RevokedSubject::Account,
                    id: "acc_1".into(),
                },
                RevocationChange::Lift {
                    subject: RevokedSubject::Grant,
                    id: "never-revoked".into(),
                },
            ],
            ..Commit::default()
        },
        "lift (one present, one absent)",
    )
    .await;
    assert_eq!(
        sorted_revocations(&store).await,
        vec![same_id_grant.clone(), g1.clone()],
        "lift removes only its (subject, id)"
    );
    for cache in [&stale, &late] {
        assert_eq!(
            cache.check("acc_1", "ses_9", t(99)),
            Ok(()),
            "the lift reached the cache"
        );
        assert_eq!(
            cache.check("acc_2", "acc_1", t(99)),
            Err(Denial::SessionRevoked)
        );
    }

    // A dropped cache does not disturb later commits; the others still receive changes.
    drop(late);
    let g2 = grant("ses_2", Timestamp::MIN);
    commit_ok(
        &store,
        Commit {
            revocations: vec![RevocationChange::Put(g2.clone())],
            ..Commit::default()
        },
        "commit after a subscriber was dropped",
    )
    .await;
    assert_eq!(
        stale.check("acc_2", "ses_2", t(1)),
        Err(Denial::SessionRevoked)
    );
    assert_eq!(
        sorted_revocations(&store).await,
        vec![same_id_grant, g1, g2],
        "extreme timestamps round-trip"
    );
}
