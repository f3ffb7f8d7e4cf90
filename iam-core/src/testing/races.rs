//! Concurrent commits and service operations over one store (run on a multi-thread runtime).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Concurrent compare-and-swap writes: of [`RACERS`] updates at one version exactly one wins; of
/// [`RACERS`] inserts of one id, or of one lookup, exactly one lands.
pub async fn race_record_writes<S: Store>(store: S) {
    let store = Arc::new(store);
    let a = RecordKind::Account;
    commit_ok(
        &*store,
        inserts([rec(a, "hot", None, Some("hot"), "{}")]),
        "setup",
    )
    .await;

    let spawn_commits = |make: &dyn Fn(usize) -> Commit| {
        (0..RACERS)
            .map(|i| {
                let store = Arc::clone(&store);
                let commit = make(i);
                tokio::spawn(async move { store.commit(commit).await })
            })
            .collect::<Vec<_>>()
    };

    let results = join_all(spawn_commits(&|i| Commit {
        writes: vec![update(
            rec(a, "hot", None, Some("hot"), &format!("{{\"winner\":{i}}}")),
            1,
        )],
        ..Commit::default()
    }))
    .await;
    let winners: Vec<usize> = (0..RACERS).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one update at version 1 may win: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(StoreError::Conflict)),
        "losers get Conflict: {results:?}"
    );
    let hot = get(&*store, a, "hot").await.expect("record");
    assert_eq!(hot.version, 2);
    assert_eq!(hot.body, format!("{{\"winner\":{}}}", winners[0]));

    let results = join_all(spawn_commits(&|i| {
        inserts([rec(a, "same-id", None, Some(&format!("name{i}")), "{}")])
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "one insert per id: {results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.is_ok() || *r == Err(StoreError::Duplicate { kind: a })));

    let results = join_all(spawn_commits(&|i| {
        inserts([rec(a, &format!("id{i}"), None, Some("same-name"), "{}")])
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "one insert per lookup: {results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.is_ok() || *r == Err(StoreError::Duplicate { kind: a })));
    assert_eq!(
        list(&*store, a, ListQuery::default()).await.len(),
        3,
        "hot, same-id and one id*"
    );
}

/// [`RACERS`] concurrent failures on one throttle key all count.
pub async fn race_throttle_failures<S: Store>(store: S) {
    let store = Arc::new(store);
    let handles = (0..RACERS)
        .map(|i| {
            let store = Arc::clone(&store);
            let at = Timestamp::from_millis(1_000 + i64::try_from(i).unwrap_or(0));
            tokio::spawn(async move {
                store
                    .commit(Commit {
                        throttle: vec![ThrottleWrite::Failure {
                            key: "login:racer".into(),
                            at,
                        }],
                        ..Commit::default()
                    })
                    .await
            })
        })
        .collect();
    for r in join_all(handles).await {
        r.expect("throttle commit failed");
    }
    let state = store
        .throttle("login:racer")
        .await
        .expect("throttle")
        .expect("a counter after failures");
    assert_eq!(
        state.failures as usize, RACERS,
        "every concurrent failure must count"
    );
    assert_eq!(
        state.last_failure,
        Timestamp::from_millis(1_000 + i64::try_from(RACERS - 1).unwrap_or(0)),
        "last_failure is the latest failure"
    );
}

/// [`RACERS`] concurrent reservations on one key at one instant, each committed with an audit
/// event: the back-off admits exactly the attempts it has no wait for (the free failures and the
/// one whose failure starts the wait), refuses every other with the wait that failure imposes,
/// and the counter and the audit log record exactly the admitted ones.
pub async fn race_throttle_reservations<S: Store>(store: S) {
    let store = Arc::new(store);
    let policy = ThrottlePolicy {
        free_failures: 5,
        ..reservation_policy()
    };
    let budget = (0..=u32::MAX)
        .take_while(|n| policy.delay_after(*n).is_zero())
        .count();
    let wait = policy.delay_after(u32::try_from(budget).unwrap_or(u32::MAX));
    let at = Timestamp::from_secs(1_000);
    let handles = (0..RACERS)
        .map(|_| {
            let store = Arc::clone(&store);
            let reservation = reserve("login:racer", at, &policy);
            tokio::spawn(async move {
                store
                    .commit(Commit {
                        throttle: vec![reservation],
                        audit: vec![draft(AuditKind::LoginFailed, 1_000_000, None)],
                        ..Commit::default()
                    })
                    .await
            })
        })
        .collect();
    let results = join_all(handles).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        admitted, budget,
        "concurrent reservations admit exactly what the back-off allows"
    );
    for r in &results {
        assert!(
            r.is_ok() || *r == Err(StoreError::Throttled { retry_after: wait }),
            "a refused reservation reports the wait, got {r:?}"
        );
    }
    let state = store
        .throttle("login:racer")
        .await
        .expect("throttle")
        .expect("a counter after reservations");
    assert_eq!(
        state,
        ThrottleState {
            failures: u32::try_from(budget).unwrap_or(u32::MAX),
            last_failure: at
        },
        "the counter holds exactly the admitted attempts"
    );
    let events = all_audit(&*store).await;
    assert_eq!(
        events.len(),
        budget,
        "only admitted reservations commit their audit event"
    );
    assert_eq!(verify_chain(&events), Ok(budget as u64));
}

/// [`RACERS`] concurrent commits of one to three audit events each make one unbroken chain in
/// which every commit's events stand together and in order.
pub async fn race_audit_appends<S: Store>(store: S) {
    let store = Arc::new(store);
    let handles = (0..RACERS)
        .map(|i| {
            let store = Arc::clone(&store);
            let batch: Vec<AuditDraft> = (0..=i % 3)
                .map(|j| {
                    draft(AuditKind::LoginFailed, 1_000, Some(&format!("acc_{i}")))
                        .detail("part", j.to_string())
                })
                .collect();
            tokio::spawn(async move {
                store
                    .commit(Commit {
                        audit: batch,
                        ..Commit::default()
                    })
                    .await
            })
        })
        .collect();
    for r in join_all(handles).await {
        r.expect("audit commit failed");
    }
    let events = all_audit(&*store).await;
    let expected: usize = (0..RACERS).map(|i| i % 3 + 1).sum();
    assert_eq!(events.len(), expected, "every appended event is kept");
    assert_eq!(
        verify_chain(&events),
        Ok(expected as u64),
        "concurrent appends must keep one unbroken chain"
    );
    let mut seen = BTreeSet::new();
    let mut i = 0;
    while i < events.len() {
        let account = events[i]
            .draft
            .account
            .clone()
            .expect("racer events name an account");
        let n: usize = account
            .strip_prefix("acc_")
            .and_then(|n| n.parse().ok())
            .expect("racer account id");
        assert!(seen.insert(n), "commit {n} appears twice or is split");
        for j in 0..=n % 3 {
            let e = events.get(i + j).expect("a commit's events stand together");
            assert_eq!(
                e.draft.account.as_deref(),
                Some(account.as_str()),
                "commit {n} is interleaved"
            );
            assert_eq!(
                e.draft.detail.get("part").map(String::as_str),
                Some(j.to_string().as_str()),
                "commit {n}'s events are out of order"
            );
        }
        i += n % 3 + 1;
    }
    assert_eq!(seen.len(), RACERS);
}

/// Revocations committed concurrently all reach a subscribed cache.
pub async fn race_revocation_feed<S: Store>(store: S) {
    let store = Arc::new(store);
    let cache = Arc::new(RevocationCache::new());
    store
        .subscribe(Arc::clone(&cache))
        .await
        .expect("subscribe");
    let far = Timestamp::from_secs(4_000_000_000);
    let handles = (0..RACERS)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .commit(Commit {
                        revocations: vec![RevocationChange::Put(grant(&format!("ses_{i}"), far))],
                        ..Commit::default()
                    })
                    .await
            })
        })
        .collect();
    for r in join_all(handles).await {
        r.expect("revocation commit failed");
    }
    assert_eq!(
        store.revocations().await.expect("revocations").len(),
        RACERS
    );
    for i in 0..RACERS {
        assert_eq!(
            cache.check("acc", &format!("ses_{i}"), Timestamp::from_secs(1)),
            Err(Denial::SessionRevoked),
            "revocation {i} did not reach the subscribed cache"
        );
    }
}

/// [`RACERS`] concurrent rotations of one refresh token through [`Iam`]: exactly one succeeds,
/// the others are refused (reuse detected), exactly one successor token exists, and the
/// session ends revoked.
pub async fn race_refresh_rotation<S: Store>(store: S) {
    let iam = open_iam(store).await;
    iam.create_account(
        NewAccount::human("rotor", "correct horse battery"),
        Caller::System,
    )
    .await
    .expect("create account");
    let login = iam
        .login(&LoginRequest::password("rotor", "correct horse battery"))
        .await
        .expect("login");
    let token = login.tokens.refresh_token.expose().to_owned();
    let handles = (0..RACERS)
        .map(|_| {
            let iam = iam.clone();
            let token = token.clone();
            tokio::spawn(async move { iam.refresh(&token).await })
        })
        .collect();
    let results = join_all(handles).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {RACERS} concurrent rotations may succeed"
    );
    let mut reused = 0;
    for r in &results {
        match r {
            Err(Error::Denied(Denial::RefreshTokenReused)) => reused += 1,
            // A racer that read the token before the rotation and the session after another
            // racer revoked it is refused as revoked: also a refusal, never a second family.
            Ok(_) | Err(Error::Denied(Denial::SessionRevoked)) => {}
            Err(e) => panic!("a losing rotation must be refused as reuse, got {e}"),
        }
    }
    assert!(reused >= 1, "reuse must be detected");
    let session = iam.session(&login.session.id).await.expect("session");
    assert!(
        session.revoked_at.is_some(),
        "reuse must revoke the session"
    );
    let refresh_records = iam
        .store()
        .list(
            RecordKind::RefreshToken,
            &ListQuery {
                parent: Some(login.session.id.clone()),
                ..ListQuery::default()
            },
        )
        .await
        .expect("list refresh tokens");
    assert_eq!(
        refresh_records.len(),
        2,
        "the original token and exactly one successor"
    );
    let successor = winners[0];
    assert_eq!(
        iam.verify_cached(successor.access_token.expose()).err(),
        Some(Denial::SessionRevoked),
        "the winner's access token dies with the session"
    );
    assert!(
        matches!(
            iam.refresh(successor.refresh_token.expose()).await,
            Err(Error::Denied(Denial::SessionRevoked))
        ),
        "the winner's refresh token dies with the session"
    );
}

/// Concurrent logins with a wrong password are each refused and each counted by the throttle.
pub async fn race_wrong_password_logins<S: Store>(store: S) {
    let iam = open_iam(store).await;
    iam.create_account(
        NewAccount::human("target", "correct horse battery"),
        Caller::System,
    )
    .await
    .expect("create account");
    let attempts = RACERS / 2;
    let handles = (0..attempts)
        .map(|i| {
            let iam = iam.clone();
            tokio::spawn(async move {
                iam.login(&LoginRequest::password(
                    "target",
                    format!("wrong password {i}"),
                ))
                .await
            })
        })
        .collect();
    for r in join_all(handles).await {
        assert!(
            matches!(r, Err(Error::Denied(Denial::BadCredentials))),
            "a wrong password is refused as bad credentials, got {r:?}"
        );
    }
    let state = iam
        .store()
        .throttle("login:target")
        .await
        .expect("throttle")
        .expect("failures are counted under login:<username>");
    assert_eq!(
        state.failures as usize, attempts,
        "every concurrent failure must count"
    );
    let failed = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                kind: Some(AuditKind::LoginFailed),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit");
    assert_eq!(failed.len(), attempts, "every failure is audited");
    assert!(iam.verify_audit_chain(Caller::System).await.is_ok());
}

/// Concurrent creation of accounts with one username: exactly one account, the rest
/// [`Error::UsernameTaken`].
pub async fn race_account_creation<S: Store>(store: S) {
    let iam = open_iam(store).await;
    let handles = (0..RACERS / 2)
        .map(|i| {
            let iam = iam.clone();
            tokio::spawn(async move {
                iam.create_account(
                    NewAccount::human("contested", format!("password number {i}")),
                    Caller::System,
                )
                .await
            })
        })
        .collect();
    let results = join_all(handles).await;
    let created: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "exactly one account per username");
    for r in &results {
        assert!(
            matches!(r, Ok(_) | Err(Error::UsernameTaken)),
            "the others get UsernameTaken, got {r:?}"
        );
    }
    let accounts = iam
        .list_accounts(Caller::System, None, 1_000)
        .await
        .expect("list accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].id, created[0].id);
    assert_eq!(
        iam.account_by_username(Caller::System, "contested")
            .await
            .expect("lookup")
            .map(|a| a.id),
        Some(created[0].id.clone())
    );
    let audited = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                kind: Some(AuditKind::AccountCreated),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit");
    assert_eq!(audited.len(), 1, "only the created account is audited");
}

/// A [`Write::Check`] is atomic with its commit: of [`RACERS`] commits that each check one
/// record at version 1 and insert a record of their own, racing one update of the checked
/// record, every commit that lands is ordered before the update (its audit event precedes the
/// update's in the chain) and every other fails with `Conflict` and leaves nothing.
pub async fn race_check_and_update<S: Store>(store: S) {
    let store = Arc::new(store);
    let a = RecordKind::Account;
    commit_ok(
        &*store,
        inserts([rec(a, "acc", None, None, "{}")]),
        "insert",
    )
    .await;
    let updater = RACERS / 2;
    let handles = (0..RACERS)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let commit = if i == updater {
                    Commit {
                        writes: vec![update(rec(a, "acc", None, None, "{\"v\":2}"), 1)],
                        audit: vec![draft(AuditKind::LoginSucceeded, 1, Some("acc"))],
                        ..Commit::default()
                    }
                } else {
                    let id = format!("ses{i:03}");
                    Commit {
                        writes: vec![
                            Write::Check {
                                kind: a,
                                id: "acc".to_owned(),
                                expected_version: 1,
                            },
                            Write::Insert(rec(RecordKind::Session, &id, Some("acc"), None, "{}")),
                        ],
                        audit: vec![draft(AuditKind::LoginFailed, 1, Some(&id))],
                        ..Commit::default()
                    }
                };
                (i, store.commit(commit).await)
            })
        })
        .collect();
    let results = join_all(handles).await;
    let events = all_audit(&*store).await;
    assert_eq!(verify_chain(&events), Ok(events.len() as u64));
    let seq_of = |account: &str| {
        events
            .iter()
            .find(|e| e.draft.account.as_deref() == Some(account))
            .map(|e| e.seq)
    };
    let update_seq = seq_of("acc").expect("the one update lands");
    for (i, outcome) in results {
        if i == updater {
            assert_eq!(outcome, Ok(()), "nothing else writes the record");
            continue;
        }
        let id = format!("ses{i:03}");
        let landed = get(&*store, RecordKind::Session, &id).await.is_some();
        match outcome {
            Ok(()) => {
                assert!(landed, "{id}: a passed check's insert lands");
                let seq = seq_of(&id).expect("a passed check's audit event lands");
                assert!(
                    seq < update_seq,
                    "{id}: a commit whose check passed is ordered after the update of the \
                     checked record (event {seq} after {update_seq})"
                );
            }
            Err(e) => {
                assert_eq!(e, StoreError::Conflict, "{id}: a failed check conflicts");
                assert!(!landed, "{id}: a failed check's insert is left behind");
                assert_eq!(seq_of(&id), None, "{id}: audit event left behind");
            }
        }
    }
}

/// Concurrent [`Iam::elevate`] and [`Iam::revoke_elevatable_role`] of the same role: an
/// elevation either opens before the role is revoked (its `ElevationActivated` event precedes
/// the `ElevatableRoleRevoked` one in the chain) or is refused with
/// [`Denial::ElevationNotAllowed`]; no elevation opens on the strength of a role already gone.
pub async fn race_elevation_and_role_revocation<S: Store>(store: S) {
    use crate::config::{ElevationPolicy, StepUp};
    use crate::{ElevationOutcome, StepUpProof};

    const ACCOUNTS: usize = 100;
    const ELEVATIONS: usize = 2;
    let mut config = race_config();
    config.elevation.insert(
        "ops".to_owned(),
        ElevationPolicy {
            step_up: StepUp::None,
            ..ElevationPolicy::default()
        },
    );
    let iam = Iam::builder(store, config)
        .open()
        .await
        .expect("Iam::open over the store failed");
    let pw = "elevation race password";
    let mut principals = Vec::with_capacity(ACCOUNTS);
    for n in 0..ACCOUNTS {
        let name = format!("elevator{n}");
        let account = iam
            .create_account(NewAccount::human(&name, pw), Caller::System)
            .await
            .expect("create account");
        iam.grant_elevatable_role(Caller::System, &account.id, "ops")
            .await
            .expect("grant elevatable role");
        let login = iam
            .login(&LoginRequest::password(&name, pw))
            .await
            .expect("login");
        let principal = iam
            .verify(login.tokens.access_token.expose())
            .await
            .expect("verify");
        principals.push(principal);
    }
    let mut elevations = Vec::new();
    let mut revocations = Vec::new();
    for p in &principals {
        for k in 0..=ELEVATIONS {
            let (iam, p) = (iam.clone(), p.clone());
            if k == ELEVATIONS / 2 {
                revocations.push(tokio::spawn(async move {
                    iam.revoke_elevatable_role(Caller::System, &p.account_id, "ops")
                        .await
                }));
            } else {
                elevations.push(tokio::spawn(async move {
                    let outcome = iam.elevate(&p, "ops", None, &StepUpProof::default()).await;
                    (p.account_id, outcome)
                }));
            }
        }
    }
    for r in join_all(revocations).await {
        let account = r.expect("revoking the role succeeds");
        assert!(!account.elevatable_roles.contains("ops"));
    }
    let mut opened: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (account, outcome) in join_all(elevations).await {
        match outcome {
            Ok(ElevationOutcome::Active { .. }) => *opened.entry(account).or_default() += 1,
            other => assert!(
                matches!(other, Err(Error::Denied(Denial::ElevationNotAllowed))),
                "an elevation racing the role's revocation opens or is not allowed, got {other:?}"
            ),
        }
    }
    let events = all_audit(iam.store()).await;
    assert_eq!(verify_chain(&events), Ok(events.len() as u64));
    for p in &principals {
        let of = |kind: AuditKind| {
            events
                .iter()
                .filter(move |e| {
                    e.draft.kind == kind && e.draft.account.as_deref() == Some(&p.account_id)
                })
                .map(|e| e.seq)
        };
        let revoked: Vec<u64> = of(AuditKind::ElevatableRoleRevoked).collect();
        assert_eq!(revoked.len(), 1, "the role is revoked once");
        let activated: Vec<u64> = of(AuditKind::ElevationActivated).collect();
        assert_eq!(
            activated.len(),
            opened.get(&p.account_id).copied().unwrap_or(0),
            "every opened elevation is audited, and only those"
        );
        for seq in activated {
            assert!(
                seq < revoked[0],
                "an elevation opened (event {seq}) after its role was revoked (event {})",
                revoked[0]
            );
        }
    }
}
