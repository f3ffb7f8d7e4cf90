//! Upstream login through the whole core over the in-memory store: the browser-bound,
//! single-use attempt; provisioning at the first login and signing in by the link later; the
//! sysadmin bootstrap at first login only; linking and unlinking by a signed-in user; refusals
//! that create nothing. (The ID token itself is validated by the HTTP adapter; its end-to-end
//! tests cover that part.)

mod common;

use std::time::Duration;

use common::{login, PW};
use iam_core::audit::{AuditKind, AuditQuery};
use iam_core::store::{ListQuery, RecordKind, Store};
use iam_core::upstream::{
    BootstrapAdmins, PendingUpstream, Provisioning, SealedClientSecret, UpstreamPurpose,
};
use iam_core::{
    Caller, Error, Iam, ManualClock, MemoryStore, NewAccount, SecretString, UpstreamClaims,
    UpstreamOutcome, UpstreamProvider, UpstreamRefusal,
};

const ISSUER: &str = "https://upstream.example";

async fn iam(provisioning: Provisioning) -> (Iam<MemoryStore, ManualClock>, ManualClock) {
    common::iam_with(|c| {
        let secret =
            SealedClientSecret::seal(&c.master_key, "corp", &SecretString::new("client-secret"))
                .expect("seal");
        let mut p = UpstreamProvider::new("corp", "Corp", ISSUER, "iam", secret);
        p.provisioning = provisioning;
        p.bootstrap_admins = BootstrapAdmins {
            subjects: vec!["boss-sub".into()],
            verified_emails: vec![],
        };
        c.upstream = vec![p];
    })
    .await
}

fn claims(subject: &str, username: &str) -> UpstreamClaims {
    UpstreamClaims {
        issuer: ISSUER.into(),
        subject: subject.into(),
        username: Some(username.into()),
        email: None,
        email_verified: false,
        name: None,
        groups: vec![],
        acr: Some("phr".into()),
    }
}

async fn audited(iam: &Iam<MemoryStore, ManualClock>) -> Vec<AuditKind> {
    iam.store()
        .audit(&AuditQuery::default())
        .await
        .expect("audit")
        .iter()
        .map(|e| e.draft.kind)
        .collect()
}

/// Begins and takes back a sign-in attempt in one browser.
async fn attempt(iam: &Iam<MemoryStore, ManualClock>) -> PendingUpstream {
    let start = iam
        .begin_upstream_login("corp", Some("resume-me".into()), None)
        .await
        .expect("begin");
    iam.take_upstream_attempt("corp", start.state.expose(), Some(start.binding.expose()))
        .await
        .expect("take")
        .expect("same browser")
}

async fn sign_in(iam: &Iam<MemoryStore, ManualClock>, c: &UpstreamClaims) -> UpstreamOutcome {
    let pending = attempt(iam).await;
    iam.complete_upstream_login(&pending, c, None)
        .await
        .expect("complete")
}

#[tokio::test]
async fn an_attempt_is_bound_to_its_browser_and_used_once() {
    let (iam, clock) = iam(Provisioning::CreateOnFirstLogin).await;
    let start = iam
        .begin_upstream_login("corp", None, None)
        .await
        .expect("begin");
    let state = start.state.expose();
    let other = iam
        .begin_upstream_login("corp", None, None)
        .await
        .expect("another browser");
    assert_ne!(other.binding.expose(), start.binding.expose());
    assert_eq!(
        iam.take_upstream_attempt("corp", state, Some(other.binding.expose()))
            .await
            .expect("take")
            .err(),
        Some(UpstreamRefusal::StateFromOtherBrowser)
    );
    assert_eq!(
        iam.take_upstream_attempt("other", state, Some(start.binding.expose()))
            .await
            .expect("take")
            .err(),
        Some(UpstreamRefusal::UnknownProvider)
    );
    let pending = iam
        .take_upstream_attempt("corp", state, Some(start.binding.expose()))
        .await
        .expect("take")
        .expect("its own browser");
    assert_eq!(pending.nonce.expose(), start.nonce.expose());
    assert_eq!(pending.pkce_verifier.expose(), start.pkce_verifier.expose());
    assert_eq!(
        iam.take_upstream_attempt("corp", state, Some(start.binding.expose()))
            .await
            .expect("take")
            .err(),
        Some(UpstreamRefusal::StateInvalid),
        "used once"
    );
    // A second attempt in the same browser keeps its binding; an old one expires.
    let again = iam
        .begin_upstream_login("corp", None, Some(start.binding.expose()))
        .await
        .expect("begin");
    assert_eq!(again.binding.expose(), start.binding.expose());
    clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(
        iam.take_upstream_attempt("corp", again.state.expose(), Some(start.binding.expose()))
            .await
            .expect("take")
            .err(),
        Some(UpstreamRefusal::StateInvalid)
    );
    let refusals = audited(&iam)
        .await
        .into_iter()
        .filter(|k| *k == AuditKind::UpstreamRefused)
        .count();
    assert_eq!(refusals, 4);
    assert!(matches!(
        iam.begin_upstream_login("nope", None, None).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn first_login_provisions_later_logins_use_the_link_and_bootstrap_happens_once() {
    let (iam, _) = iam(Provisioning::CreateOnFirstLogin).await;
    let UpstreamOutcome::SignedIn(first) = sign_in(&iam, &claims("boss-sub", "boss")).await else {
        panic!("signed in");
    };
    assert!(first.provisioned);
    assert!(first.login.account.roles.contains("admin"), "bootstrap");
    assert_eq!(first.login.session.amr, vec!["fed".to_owned()]);
    assert_eq!(first.login.session.upstream_acr.as_deref(), Some("phr"));
    let who = iam
        .verify(first.login.tokens.access_token.expose())
        .await
        .expect("a working session");
    assert_eq!(who.amr, vec!["fed".to_owned()]);
    let account_id = first.login.account.id.clone();

    // The admin role is taken away; the next login by the link does not give it back.
    iam.revoke_role(Caller::System, &account_id, "admin")
        .await
        .expect("roles");
    let UpstreamOutcome::SignedIn(second) = sign_in(&iam, &claims("boss-sub", "boss")).await else {
        panic!("signed in");
    };
    assert!(!second.provisioned && !second.linked);
    assert_eq!(second.login.account.id, account_id);
    assert!(!second.login.account.roles.contains("admin"));
    let accounts = iam
        .store()
        .list(RecordKind::Account, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(accounts.len(), 1, "one account");
    let kinds = audited(&iam).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == AuditKind::UpstreamProvisioned)
            .count(),
        1
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == AuditKind::UpstreamLogin)
            .count(),
        2
    );
}

#[tokio::test]
async fn a_link_only_provider_refuses_strangers_and_signs_in_linked_users() {
    let (iam, _) = iam(Provisioning::LinkOnly).await;
    let stranger = sign_in(&iam, &claims("alice-sub", "alice")).await;
    assert!(matches!(
        stranger,
        UpstreamOutcome::Refused(UpstreamRefusal::NoLinkedAccount)
    ));
    assert!(iam
        .store()
        .list(RecordKind::Account, &ListQuery::default())
        .await
        .expect("list")
        .is_empty());

    // Alice signs in locally and links her upstream identity.
    iam.create_account(NewAccount::human("alice", PW), Caller::System)
        .await
        .expect("alice");
    let alice = login(&iam, "alice").await;
    let start = iam
        .begin_upstream_link(&alice, "corp", None)
        .await
        .expect("begin link");
    let pending = iam
        .take_upstream_attempt("corp", start.state.expose(), Some(start.binding.expose()))
        .await
        .expect("take")
        .expect("same browser");
    assert!(matches!(pending.purpose, UpstreamPurpose::Link { .. }));
    let c = claims("alice-sub", "ignored");
    // The callback arrives without the session that began the link: refused.
    assert!(matches!(
        iam.complete_upstream_login(&pending, &c, None)
            .await
            .expect("complete"),
        UpstreamOutcome::Refused(UpstreamRefusal::NotSignedIn)
    ));
    let UpstreamOutcome::Linked(link) = iam
        .complete_upstream_login(&pending, &c, Some(&alice))
        .await
        .expect("complete")
    else {
        panic!("linked");
    };
    assert_eq!(link.account_id, alice.account_id);
    let links = iam
        .upstream_links((&alice).into(), &alice.account_id)
        .await
        .expect("links");
    assert_eq!(links, vec![link.clone()]);

    let UpstreamOutcome::SignedIn(s) = sign_in(&iam, &c).await else {
        panic!("signed in");
    };
    assert_eq!(s.login.account.id, alice.account_id);

    // Unlinked: the upstream identity signs in no more.
    iam.unlink_upstream((&alice).into(), &alice.account_id, &link.id)
        .await
        .expect("unlink");
    assert!(matches!(
        sign_in(&iam, &c).await,
        UpstreamOutcome::Refused(UpstreamRefusal::NoLinkedAccount)
    ));
    assert!(matches!(
        iam.unlink_upstream((&alice).into(), &alice.account_id, &link.id)
            .await,
        Err(Error::NotFound(_))
    ));
    let kinds = audited(&iam).await;
    assert!(kinds.contains(&AuditKind::UpstreamLinked));
    assert!(kinds.contains(&AuditKind::UpstreamUnlinked));
}

#[tokio::test]
async fn the_client_secret_is_sealed_to_its_provider_and_key() {
    let (iam, _) = iam(Provisioning::LinkOnly).await;
    assert_eq!(
        iam.upstream_client_secret("corp").expect("opens").expose(),
        "client-secret"
    );
    let p = iam.upstream_provider("corp").expect("configured");
    assert!(p
        .client_secret
        .open(&iam.config().master_key, "other")
        .is_err());
    assert!(!format!("{p:?}").contains(p.client_secret.as_sealed()));
}
