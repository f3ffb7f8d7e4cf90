//! Runs a full scenario and scans everything observable (Debug output of every returned value and
//! error, error messages, audit events, every raw record the store holds) for the secrets used
//! in it: passwords, TOTP secrets and codes' seeds, refresh tokens, API-token secrets, service
//! tokens' signatures and vault plaintext. None may appear.

mod common;

use iam_core::Caller;
use std::fmt::Write as _;
use std::time::Duration;

use iam_core::audit::AuditQuery;
use iam_core::store::{ListQuery, RecordKind, Store};
use iam_core::{
    Clock, DbCredentials, Denial, ElevationOutcome, LoginRequest, NewAccount, SecretString,
    StepUpProof,
};

const PASSWORD: &str = "Password-For-The-Scan-1";
const NEW_PASSWORD: &str = "Another-Password-For-Scan-2";
const VAULT_PLAINTEXT: &str = "vault-plaintext-for-scan-3";

/// Everything a caller or an operator could see, as text.
#[derive(Default)]
struct Observed(String);

impl Observed {
    fn debug<T: std::fmt::Debug>(&mut self, value: &T) {
        let _ = writeln!(self.0, "{value:?}");
    }

    fn result<T: std::fmt::Debug>(&mut self, value: &Result<T, iam_core::Error>) {
        self.debug(value);
        if let Err(e) = value {
            let _ = writeln!(self.0, "{e}");
        }
    }
}

#[tokio::test]
async fn no_secret_reaches_debug_errors_audit_or_store() {
    let (iam, clock) = common::iam().await;
    let mut seen = Observed::default();
    let mut secrets: Vec<String> =
        vec![PASSWORD.into(), NEW_PASSWORD.into(), VAULT_PLAINTEXT.into()];

    let admin = iam
        .create_account(
            NewAccount::human("admin", PASSWORD).with_roles(["admin", "svc-x"]),
            Caller::System,
        )
        .await;
    seen.result(&admin);
    let admin = admin.expect("admin");
    let enrol = iam
        .enrol_totp(Caller::System, &admin.id)
        .await
        .expect("enrol");
    seen.debug(&enrol);
    secrets.push(enrol.secret_base32.expose().to_owned());
    secrets.push(enrol.uri.expose().to_owned());
    let app = totp_rs::TOTP::from_url(enrol.uri.expose()).expect("otpauth URI");
    let secs = || u64::try_from(clock.now().as_secs()).expect("positive");
    let confirmed = iam
        .confirm_totp(Caller::System, &admin.id, &app.generate(secs()))
        .await;
    seen.result(&confirmed);
    clock.advance(Duration::from_secs(30));

    // Failures of every kind, with secrets in the request.
    let bad = iam
        .login(&LoginRequest::password("admin", NEW_PASSWORD).with_totp(app.generate(secs())))
        .await;
    seen.result(&bad);
    let no_totp = iam.login(&LoginRequest::password("admin", PASSWORD)).await;
    seen.result(&no_totp);
    let unknown = iam.login(&LoginRequest::password("nobody", PASSWORD)).await;
    seen.result(&unknown);
    seen.debug(&LoginRequest::password("admin", PASSWORD).with_totp("123456"));

    let login = iam
        .login(&LoginRequest::password("admin", PASSWORD).with_totp(app.generate(secs())))
        .await
        .expect("login");
    seen.debug(&login);
    secrets.push(login.tokens.refresh_token.expose().to_owned());
    let principal = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    seen.debug(&principal);
    let pair = iam
        .refresh(login.tokens.refresh_token.expose())
        .await
        .expect("refresh");
    seen.debug(&pair);
    secrets.push(pair.refresh_token.expose().to_owned());
    seen.result(&iam.refresh(login.tokens.refresh_token.expose()).await); // reuse

    let login = iam
        .login(&LoginRequest::password("admin", PASSWORD).with_totp(app.generate(secs() + 30)))
        .await;
    seen.result(&login);
    clock.advance(Duration::from_secs(60));
    let login = iam
        .login(&LoginRequest::password("admin", PASSWORD).with_totp(app.generate(secs())))
        .await
        .expect("login again");
    secrets.push(login.tokens.refresh_token.expose().to_owned());
    let admin_p = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");

    let changed = iam
        .change_own_password(
            &admin_p,
            &SecretString::new(PASSWORD.to_owned()),
            &SecretString::new(NEW_PASSWORD.to_owned()),
        )
        .await;
    seen.result(&changed);

    let pat = iam
        .create_api_token(
            &admin_p,
            "scan",
            &["svc-x".into()],
            clock.now().plus(Duration::from_secs(3600)),
        )
        .await
        .expect("API token");
    seen.debug(&pat);
    secrets.push(pat.secret.expose().to_owned());
    seen.debug(&iam.verify_api_token(pat.secret.expose()).await);
    seen.result(&iam.list_api_tokens(Caller::System, &admin.id).await);

    let svc = iam
        .create_account(NewAccount::system("svc-x"), Caller::System)
        .await
        .expect("service account");
    let token = iam
        .issue_service_token(&admin_p, &svc.id)
        .await
        .expect("service token");
    seen.debug(&token);
    let creds = DbCredentials {
        host: "db".into(),
        port: 5432,
        database: "x".into(),
        user: "x".into(),
        password: SecretString::new(VAULT_PLAINTEXT.to_owned()),
    };
    seen.debug(&creds);
    seen.result(&iam.store_db_credentials(&admin_p, &svc.id, &creds).await);
    seen.result(&iam.fetch_db_credentials(&admin_p, &svc.id).await);

    iam.grant_elevatable_role(Caller::System, &admin.id, "ops")
        .await
        .expect("grant");
    let proof = StepUpProof {
        password: Some(SecretString::new(NEW_PASSWORD.to_owned())),
        totp_code: None,
        passkey: None,
    };
    seen.debug(&proof);
    let elevated = iam.elevate(&admin_p, "ops", None, &proof).await;
    seen.result(&elevated);
    assert!(matches!(elevated, Ok(ElevationOutcome::Active { .. })));
    let wrong = StepUpProof {
        password: Some(SecretString::new(PASSWORD.to_owned())),
        totp_code: None,
        passkey: None,
    };
    let denied = iam.elevate(&admin_p, "ops", None, &wrong).await;
    assert!(matches!(
        denied,
        Err(iam_core::Error::Denied(Denial::BadCredentials))
    ));
    seen.result(&denied);

    // The audit log and every raw record.
    let events = iam
        .audit_events(Caller::System, &AuditQuery::default())
        .await
        .expect("audit");
    seen.debug(&events);
    for kind in RecordKind::ALL {
        let records = iam
            .store()
            .list(kind, &ListQuery::default())
            .await
            .expect("list");
        seen.debug(&records);
    }
    seen.debug(&iam);
    seen.debug(iam.config());

    for secret in &secrets {
        assert!(
            !seen.0.contains(secret.as_str()),
            "a secret leaked into observable output: {}…",
            &secret[..6]
        );
    }
    // The scan saw real material (so an empty capture cannot pass).
    assert!(seen.0.contains(&admin.id) && seen.0.contains("LoginFailed"));
}
