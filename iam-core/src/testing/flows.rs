//! Service flows end to end over the store.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The account model end to end over the store: service tokens replace each other, the vault
/// round-trips, API tokens revoke at once, elevation opens and ends, memberships index both
/// ways, and a due deletion sweeps the account's records (parent listings, lookups, deletes in
/// one commit) while the audit chain stays intact.
pub async fn account_model_flows<S: Store>(store: S) {
    use crate::clock::{Clock as _, ManualClock};
    use crate::secret::SecretString;
    use crate::{DbCredentials, ElevationOutcome, StepUpProof};
    use std::time::Duration;

    let clock = ManualClock::new(Timestamp::from_secs(1_767_225_600));
    let iam = Iam::builder(store, race_config())
        .clock(clock.clone())
        .open()
        .await
        .expect("Iam::open over the store failed");
    let pw = "account model password";
    let login = |name: &'static str| {
        let iam = iam.clone();
        async move {
            let l = iam
                .login(&LoginRequest::password(name, pw))
                .await
                .expect("login");
            let p = iam
                .verify(l.tokens.access_token.expose())
                .await
                .expect("verify");
            (p, l)
        }
    };
    iam.create_account(
        NewAccount::human("admin", pw).with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("create admin");
    let dora = iam
        .create_account(NewAccount::human("dora", pw), Caller::System)
        .await
        .expect("create dora");
    let (admin, _) = login("admin").await;
    let (dora_p, dora_login) = login("dora").await;

    let svc = iam
        .create_account(NewAccount::system("svc-app"), Caller::System)
        .await
        .expect("create service account");
    let first = iam
        .issue_service_token(&admin, &svc.id)
        .await
        .expect("issue");
    let second = iam
        .issue_service_token(&admin, &svc.id)
        .await
        .expect("reissue");
    assert_eq!(
        iam.verify(first.token.expose()).await,
        Err(Denial::SessionRevoked),
        "a new service token revokes the previous one"
    );
    let svc_p = iam
        .verify(second.token.expose())
        .await
        .expect("verify service token");
    let creds = DbCredentials {
        host: "db".into(),
        port: 5432,
        database: "app".into(),
        user: "app".into(),
        password: SecretString::new("vault secret".to_owned()),
    };
    iam.store_db_credentials(&admin, &svc.id, &creds)
        .await
        .expect("store credentials");
    assert_eq!(
        iam.fetch_db_credentials(&svc_p, &svc.id)
            .await
            .expect("fetch credentials"),
        creds
    );

    let pat = iam
        .create_api_token(
            &dora_p,
            "cli",
            &[],
            clock.now().plus(Duration::from_secs(86_400)),
        )
        .await
        .expect("create API token");
    assert!(iam.verify_api_token(pat.secret.expose()).await.is_ok());
    assert_eq!(
        iam.list_api_tokens(Caller::System, &dora.id)
            .await
            .expect("list")
            .len(),
        1
    );
    iam.revoke_api_token(Caller::Principal(&dora_p), &pat.info.id)
        .await
        .expect("revoke API token");
    assert_eq!(
        iam.verify_api_token(pat.secret.expose()).await,
        Err(Denial::TokenRevoked)
    );

    iam.grant_elevatable_role(Caller::System, &dora.id, "ops")
        .await
        .expect("grant elevatable");
    let proof = StepUpProof {
        password: Some(SecretString::new(pw.to_owned())),
        totp_code: None,
        passkey: None,
    };
    let Ok(ElevationOutcome::Active { access_token, .. }) =
        iam.elevate(&dora_p, "ops", None, &proof).await
    else {
        panic!("elevation did not open");
    };
    let elevated = iam.verify(access_token.expose()).await.expect("verify");
    assert!(elevated.has_role("ops"));
    clock.advance(Duration::from_millis(5));
    iam.end_elevation(&elevated, "ops").await.expect("end");
    assert_eq!(
        iam.verify(access_token.expose()).await,
        Err(Denial::TokenRevoked)
    );

    let org = iam.create_organization(&admin, "acme").await.expect("org");
    iam.set_membership(&admin, &org.id, &dora.id, "editor")
        .await
        .expect("add member");
    assert_eq!(
        iam.members_of(Caller::System, &org.id)
            .await
            .expect("members")
            .len(),
        2
    );
    assert_eq!(
        iam.memberships_of(Caller::System, &dora.id)
            .await
            .expect("memberships")
            .len(),
        1
    );

    iam.schedule_deletion(&dora_p, &dora.id)
        .await
        .expect("schedule deletion");
    clock.advance(iam.config().deletion_grace);
    let report = iam.sweep().await.expect("sweep");
    assert_eq!(report.deleted_accounts, vec![dora.id.clone()]);
    assert!(iam
        .account_by_username(Caller::System, "dora")
        .await
        .expect("lookup")
        .is_none());
    assert_eq!(
        iam.members_of(Caller::System, &org.id)
            .await
            .expect("members")
            .len(),
        1
    );
    assert!(iam
        .memberships_of(Caller::System, &dora.id)
        .await
        .expect("memberships")
        .is_empty());
    assert!(iam
        .list_sessions(Caller::System, &dora.id)
        .await
        .expect("sessions")
        .is_empty());
    assert!(iam
        .refresh(dora_login.tokens.refresh_token.expose())
        .await
        .is_err());
    iam.create_account(NewAccount::human("dora", pw), Caller::System)
        .await
        .expect("the username is free again");
    iam.verify_audit_chain(Caller::System)
        .await
        .expect("audit chain intact");
}
