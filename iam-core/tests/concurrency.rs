//! Races on the in-memory store.

mod common;

use iam_core::Caller;
use iam_core::{Denial, Error, LoginRequest, NewAccount};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_refreshes_of_one_token_give_one_success() {
    let (iam, _) = common::iam().await;
    iam.create_account(NewAccount::human("race", "race password"), Caller::System)
        .await
        .expect("create");
    let login = iam
        .login(&LoginRequest::password("race", "race password"))
        .await
        .expect("login");
    let token = login.tokens.refresh_token.expose().to_owned();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (iam, token, barrier) = (iam.clone(), token.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            iam.refresh(&token).await
        }));
    }
    let mut ok = 0;
    let mut reused = 0;
    let mut revoked = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => ok += 1,
            Err(Error::Denied(Denial::RefreshTokenReused)) => reused += 1,
            // A loser that read the token before the winner's rotation and the session after the
            // reuse detection sees the session already revoked.
            Err(Error::Denied(Denial::SessionRevoked)) => revoked += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(reused + revoked, 99);
    assert!(
        reused >= 1,
        "the first late presenter must trigger reuse detection"
    );
    let session = iam.session(&login.session.id).await.expect("session");
    assert!(session.revoked_at.is_some(), "reuse must end the session");
    assert!(iam
        .verify_cached(login.tokens.access_token.expose())
        .is_err());
    iam.verify_audit_chain(Caller::System)
        .await
        .expect("chain intact");
}
