//! Races between two stores on one schema (as two processes would race): the audit chain stays
//! one line and a refresh token rotates once.

mod common;

use iam_core::Caller;
use std::sync::Arc;

use common::TestSchema;
use iam_core::audit::{verify_chain, AuditDraft, AuditKind, AuditQuery};
use iam_core::clock::Timestamp;
use iam_core::store::{Commit, Store};
use iam_core::{Denial, Error, LoginRequest, NewAccount};

const RACERS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_append_to_one_unbroken_chain() {
    if !common::server_available("two_stores_append_to_one_unbroken_chain").await {
        return;
    }
    let schema = TestSchema::new();
    let stores = [Arc::new(schema.open().await), Arc::new(schema.open().await)];
    let handles: Vec<_> = (0..RACERS)
        .map(|i| {
            let store = Arc::clone(&stores[i % 2]);
            tokio::spawn(async move {
                let batch = (0..=i % 3)
                    .map(|j| {
                        AuditDraft::new(AuditKind::LoginFailed, Timestamp::from_secs(1))
                            .account(&format!("acc_{i}"))
                            .detail("part", j.to_string())
                    })
                    .collect();
                store
                    .commit(Commit {
                        audit: batch,
                        ..Commit::default()
                    })
                    .await
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task").expect("audit commit");
    }
    let expected: usize = (0..RACERS).map(|i| i % 3 + 1).sum();
    for store in &stores {
        let events = store.audit(&AuditQuery::default()).await.expect("audit");
        assert_eq!(events.len(), expected);
        assert_eq!(verify_chain(&events), Ok(expected as u64));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_token_rotates_once_across_instances() {
    if !common::server_available("a_refresh_token_rotates_once_across_instances").await {
        return;
    }
    let schema = TestSchema::new();
    let (a, b) = schema.two_instances().await;
    a.create_account(
        NewAccount::human("rotor", "correct horse battery"),
        Caller::System,
    )
    .await
    .expect("create account");
    let login = a
        .login(&LoginRequest::password("rotor", "correct horse battery"))
        .await
        .expect("login");
    let token = login.tokens.refresh_token.expose().to_owned();
    let handles: Vec<_> = (0..RACERS)
        .map(|i| {
            let iam = if i % 2 == 0 { a.clone() } else { b.clone() };
            let token = token.clone();
            tokio::spawn(async move { iam.refresh(&token).await })
        })
        .collect();
    let mut winners = Vec::new();
    for h in handles {
        match h.await.expect("task") {
            Ok(pair) => winners.push(pair),
            Err(Error::Denied(Denial::RefreshTokenReused | Denial::SessionRevoked)) => {}
            Err(e) => panic!("a losing rotation must be refused, got {e}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one rotation across both instances"
    );
    // Reuse revoked the session; both instances know it.
    let access = winners[0].access_token.expose().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    for iam in [&a, &b] {
        while iam.verify_cached(&access).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "the revoked session's token still verifies"
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert_eq!(
            iam.verify_cached(&access).err(),
            Some(Denial::SessionRevoked)
        );
    }
}
