use std::time::Duration;

use super::*;
use crate::fixtures::{self, audit_kinds, writes, NOW};
use crate::upstream::{BootstrapAdmins, ClaimMapping, IdTokenFault, SealedClientSecret};

const DAY: Duration = Duration::from_secs(24 * 3600);
const ISSUER: &str = "https://upstream.example";

fn provider(provisioning: Provisioning) -> UpstreamProvider {
    let mut claims = ClaimMapping {
        groups: Some("groups".into()),
        ..ClaimMapping::default()
    };
    claims
        .group_roles
        .insert("ops".into(), vec!["deploy".into(), "reports".into()]);
    claims.group_roles.insert("eng".into(), vec!["dev".into()]);
    UpstreamProvider {
        provisioning,
        claims,
        bootstrap_admins: BootstrapAdmins {
            subjects: vec!["boss-sub".into()],
            verified_emails: vec!["Root@Example.com".into()],
        },
        ..UpstreamProvider::new(
            "corp",
            "Corp",
            ISSUER,
            "iam-client",
            SealedClientSecret::from_sealed("x"),
        )
    }
}

fn claims(subject: &str) -> UpstreamClaims {
    UpstreamClaims {
        issuer: ISSUER.into(),
        subject: subject.into(),
        username: Some("Alice".into()),
        email: Some("alice@example.com".into()),
        email_verified: true,
        name: Some("Alice A.".into()),
        groups: vec!["ops".into(), "unmapped".into()],
        acr: Some("urn:upstream:mfa".into()),
    }
}

fn fresh() -> FreshSignIn {
    FreshSignIn {
        account_id: "acc_new".into(),
        session_id: "ses_new".into(),
        refresh_hash: "rhash".into(),
    }
}

fn link_of(c: &UpstreamClaims, account: &str) -> (Record, UpstreamLink) {
    let link = UpstreamLink {
        id: upstream_link_id(&c.issuer, &c.subject),
        provider: "corp".into(),
        issuer: c.issuer.clone(),
        subject: c.subject.clone(),
        account_id: account.into(),
        linked_at: NOW.minus(DAY),
        via: "user".into(),
    };
    (
        fixtures::record(RecordKind::UpstreamIdentity, &link.id, 2, &link),
        link,
    )
}

/// A human account `id` with `email`, verified locally or not.
fn with_email(id: &str, email: &str, verified: bool) -> (Record, StoredAccount) {
    let (_, mut a) = fixtures::account(id, AccountKind::Human, &[]);
    a.profile.email = Some(email.into());
    a.profile.email_verified = verified;
    let r = fixtures::record(RecordKind::Account, id, 4, &a);
    (r, a)
}

fn facts<'a>(p: &'a UpstreamProvider, c: &'a UpstreamClaims) -> UpstreamFacts<'a> {
    UpstreamFacts {
        provider: p,
        claims: c,
        link: None,
        linked_account: None,
        same_email: vec![],
        username_holder: None,
    }
}

fn decide(f: UpstreamFacts<'_>) -> Plan<SignInDecision> {
    decide_sign_in(f, fresh(), DAY, NOW).expect("decides")
}

fn refused(plan: &Plan<SignInDecision>) -> Option<&UpstreamRefusal> {
    match &plan.output {
        SignInDecision::Refused(why) => Some(why),
        SignInDecision::SignedIn { .. } => None,
    }
}

fn signed_in(plan: &Plan<SignInDecision>) -> (&StoredAccount, &Session, bool, bool) {
    match &plan.output {
        SignInDecision::SignedIn {
            account,
            session,
            provisioned,
            linked,
        } => (account, session, *provisioned, *linked),
        SignInDecision::Refused(why) => panic!("refused: {why:?}"),
    }
}

/// A refusal writes nothing: only its audit event.
fn assert_refused_only(plan: &Plan<SignInDecision>, why: &UpstreamRefusal) {
    assert_eq!(refused(plan), Some(why));
    assert!(writes(plan).is_empty(), "{:?}", writes(plan));
    assert_eq!(audit_kinds(plan), vec![AuditKind::UpstreamRefused]);
    let event = &plan.commit.audit[0];
    assert_eq!(
        event.detail.get("reason").map(String::as_str),
        Some(why.as_str())
    );
}

#[test]
fn a_first_login_provisions_an_account_with_mapped_roles() {
    let p = provider(Provisioning::CreateOnFirstLogin);
    let c = claims("alice-sub");
    let plan = decide(facts(&p, &c));
    let (account, session, provisioned, linked) = signed_in(&plan);
    assert!(provisioned && linked);
    assert_eq!(account.id, "acc_new");
    assert_eq!(account.username, "alice", "lowercased");
    assert_eq!(account.kind, AccountKind::Human);
    assert!(account.password_hash.is_none());
    assert_eq!(
        account.roles,
        fixtures::set(&["deploy", "reports"]),
        "ops maps to two roles; unmapped groups give none; no admin"
    );
    assert_eq!(account.profile.email.as_deref(), Some("alice@example.com"));
    assert!(account.profile.email_verified);
    assert_eq!(session.amr, vec!["fed".to_owned()]);
    assert_eq!(session.upstream_acr.as_deref(), Some("urn:upstream:mfa"));
    assert_eq!(session.expires_at, NOW.plus(DAY));
    let link_id = upstream_link_id(ISSUER, "alice-sub");
    assert_eq!(
        writes(&plan),
        vec![
            ("insert", RecordKind::Account, "acc_new".into(), 0),
            ("insert", RecordKind::UpstreamIdentity, link_id, 0),
            ("insert", RecordKind::Session, "ses_new".into(), 0),
            ("insert", RecordKind::RefreshToken, "rhash".into(), 0),
        ]
    );
    assert_eq!(
        audit_kinds(&plan),
        vec![AuditKind::UpstreamProvisioned, AuditKind::UpstreamLogin]
    );
    let provisioned_event = &plan.commit.audit[0];
    assert_eq!(
        provisioned_event
            .detail
            .get("bootstrap_admin")
            .map(String::as_str),
        Some("false")
    );
}

#[test]
fn a_linked_identity_signs_its_account_in_without_changing_it() {
    let p = provider(Provisioning::CreateOnFirstLogin);
    // Listed as a bootstrap admin, but the account exists already: no admin role now.
    let c = claims("boss-sub");
    let (link_read, link) = link_of(&c, "acc_a");
    let account = fixtures::account("acc_a", AccountKind::Human, &["reports"]);
    let plan = decide(UpstreamFacts {
        link: Some((link_read, link.clone())),
        linked_account: Some(account),
        ..facts(&p, &c)
    });
    let (account, session, provisioned, linked) = signed_in(&plan);
    assert!(!provisioned && !linked);
    assert_eq!(account.id, "acc_a");
    assert_eq!(
        account.roles,
        fixtures::set(&["reports"]),
        "no bootstrap later"
    );
    assert_eq!(session.amr, vec!["fed".to_owned()]);
    assert_eq!(
        writes(&plan),
        vec![
            ("check", RecordKind::UpstreamIdentity, link.id, 2),
            ("check", RecordKind::Account, "acc_a".into(), 4),
            ("insert", RecordKind::Session, "ses_new".into(), 0),
            ("insert", RecordKind::RefreshToken, "rhash".into(), 0),
        ]
    );
    assert_eq!(audit_kinds(&plan), vec![AuditKind::UpstreamLogin]);
}

#[test]
fn a_linked_but_disabled_account_is_refused() {
    let p = provider(Provisioning::CreateOnFirstLogin);
    let c = claims("alice-sub");
    let (r, mut a) = fixtures::account("acc_a", AccountKind::Human, &[]);
    a.disabled = true;
    let plan = decide(UpstreamFacts {
        link: Some(link_of(&c, "acc_a")),
        linked_account: Some((r, a)),
        ..facts(&p, &c)
    });
    assert_refused_only(&plan, &UpstreamRefusal::AccountDisabled);
    assert_eq!(plan.commit.audit[0].account.as_deref(), Some("acc_a"));
}

#[test]
fn the_bootstrap_subject_becomes_admin_at_its_first_login() {
    let p = provider(Provisioning::CreateOnFirstLogin);
    let mut c = claims("boss-sub");
    c.username = Some("boss".into());
    c.groups = vec![];
    let plan = decide(facts(&p, &c));
    let (account, ..) = signed_in(&plan);
    assert_eq!(account.roles, fixtures::set(&[ADMIN_ROLE]));
    assert_eq!(
        plan.commit.audit[0]
            .detail
            .get("bootstrap_admin")
            .map(String::as_str),
        Some("true")
    );
}

#[test]
fn a_bootstrap_email_counts_only_when_the_upstream_verified_it() {
    let p = provider(Provisioning::CreateOnFirstLogin);
    let mut c = claims("root-sub");
    c.email = Some("root@example.com".into());
    c.groups = vec![];
    let verified = decide(facts(&p, &c));
    assert!(signed_in(&verified).0.roles.contains(ADMIN_ROLE));
    c.email_verified = false;
    let unverified = decide(facts(&p, &c));
    let (account, ..) = signed_in(&unverified);
    assert!(account.roles.is_empty(), "{:?}", account.roles);
    assert!(!account.profile.email_verified);
}

#[test]
fn link_only_and_invitation_required_providers_create_nothing() {
    let c = claims("alice-sub");
    for (provisioning, why) in [
        (Provisioning::LinkOnly, UpstreamRefusal::NoLinkedAccount),
        (
            Provisioning::InvitationRequired,
            UpstreamRefusal::InvitationRequired,
        ),
    ] {
        let p = provider(provisioning);
        assert_refused_only(&decide(facts(&p, &c)), &why);
    }
}

#[test]
fn a_trusted_verified_email_links_the_account_holding_it() {
    let mut p = provider(Provisioning::LinkOnly);
    p.trust_verified_email = true;
    let c = claims("alice-sub");
    let plan = decide(UpstreamFacts {
        same_email: vec![with_email("acc_a", "ALICE@example.com", true)],
        ..facts(&p, &c)
    });
    let (account, _, provisioned, linked) = signed_in(&plan);
    assert_eq!(account.id, "acc_a");
    assert!(!provisioned && linked);
    let link_id = upstream_link_id(ISSUER, "alice-sub");
    assert_eq!(
        writes(&plan)[..2],
        [
            ("check", RecordKind::Account, "acc_a".into(), 4),
            ("insert", RecordKind::UpstreamIdentity, link_id, 0),
        ]
    );
    assert_eq!(
        audit_kinds(&plan),
        vec![AuditKind::UpstreamLinked, AuditKind::UpstreamLogin]
    );
    assert_eq!(
        plan.commit.audit[0].detail.get("via").map(String::as_str),
        Some("verified_email")
    );
}

#[test]
fn an_email_links_nothing_unless_verified_upstream_trusted_and_verified_locally() {
    let existing = || vec![with_email("acc_a", "alice@example.com", true)];
    // The upstream does not assert the email verified.
    let mut trusted = provider(Provisioning::CreateOnFirstLogin);
    trusted.trust_verified_email = true;
    let mut unverified = claims("mallory-sub");
    unverified.email_verified = false;
    let plan = decide(UpstreamFacts {
        same_email: existing(),
        ..facts(&trusted, &unverified)
    });
    assert_refused_only(&plan, &UpstreamRefusal::SignInLocallyToLink);
    // The provider is not trusted for emails.
    let untrusted = provider(Provisioning::CreateOnFirstLogin);
    let c = claims("mallory-sub");
    let plan = decide(UpstreamFacts {
        same_email: existing(),
        ..facts(&untrusted, &c)
    });
    assert_refused_only(&plan, &UpstreamRefusal::SignInLocallyToLink);
    // The local account's email is not verified.
    let plan = decide(UpstreamFacts {
        same_email: vec![with_email("acc_a", "alice@example.com", false)],
        ..facts(&trusted, &c)
    });
    assert_refused_only(&plan, &UpstreamRefusal::SignInLocallyToLink);
    // Two accounts hold it.
    let plan = decide(UpstreamFacts {
        same_email: vec![
            with_email("acc_a", "alice@example.com", true),
            with_email("acc_b", "alice@example.com", true),
        ],
        ..facts(&trusted, &c)
    });
    assert_refused_only(&plan, &UpstreamRefusal::EmailAmbiguous);
}

#[test]
fn a_provisioned_username_must_be_valid_and_free() {
    let p = provider(Provisioning::CreateOnFirstLogin);
    let mut c = claims("alice-sub");
    c.username = Some("not a username!".into());
    assert_refused_only(&decide(facts(&p, &c)), &UpstreamRefusal::UsernameUnusable);
    c.username = None;
    assert_refused_only(&decide(facts(&p, &c)), &UpstreamRefusal::UsernameUnusable);
    let c = claims("alice-sub");
    let (holder, _) = fixtures::account("acc_x", AccountKind::Human, &[]);
    let plan = decide(UpstreamFacts {
        username_holder: Some(holder),
        ..facts(&p, &c)
    });
    assert_refused_only(&plan, &UpstreamRefusal::UsernameTaken);
}

#[test]
fn a_link_whose_account_is_gone_is_replaced() {
    let p = provider(Provisioning::CreateOnFirstLogin);
    let c = claims("alice-sub");
    let (link_read, link) = link_of(&c, "acc_gone");
    let plan = decide(UpstreamFacts {
        link: Some((link_read, link.clone())),
        ..facts(&p, &c)
    });
    let (account, ..) = signed_in(&plan);
    assert_eq!(account.id, "acc_new");
    let w = writes(&plan);
    assert_eq!(
        w[0],
        ("delete", RecordKind::UpstreamIdentity, link.id.clone(), 2)
    );
    assert_eq!(w[2], ("insert", RecordKind::UpstreamIdentity, link.id, 0));
}

#[test]
fn claims_of_another_issuer_are_refused() {
    let p = provider(Provisioning::CreateOnFirstLogin);
    let mut c = claims("alice-sub");
    c.issuer = "https://evil.example".into();
    assert_refused_only(
        &decide(facts(&p, &c)),
        &UpstreamRefusal::IdTokenInvalid(IdTokenFault::Issuer),
    );
    let target = fixtures::account("acc_a", AccountKind::Human, &[]);
    let plan = decide_link(&p, &c, None, &target, NOW).expect("decides");
    assert!(matches!(plan.output, LinkDecision::Refused(_)));
    assert!(writes(&plan).is_empty());
}

#[test]
fn a_signed_in_user_links_an_identity_once() {
    let p = provider(Provisioning::LinkOnly);
    let c = claims("alice-sub");
    let target = fixtures::account("acc_a", AccountKind::Human, &[]);
    let plan = decide_link(&p, &c, None, &target, NOW).expect("decides");
    let LinkDecision::Linked(link) = &plan.output else {
        panic!("refused");
    };
    assert_eq!(link.account_id, "acc_a");
    assert_eq!(link.via, "user");
    assert_eq!(
        writes(&plan),
        vec![
            ("check", RecordKind::Account, "acc_a".into(), 4),
            ("insert", RecordKind::UpstreamIdentity, link.id.clone(), 0),
        ]
    );
    assert_eq!(audit_kinds(&plan), vec![AuditKind::UpstreamLinked]);
    assert_eq!(plan.commit.audit[0].actor.as_deref(), Some("acc_a"));
    // Linked already to the same account: nothing to do.
    let again = decide_link(&p, &c, Some(link_of(&c, "acc_a")), &target, NOW).expect("decides");
    assert!(matches!(again.output, LinkDecision::Linked(_)));
    assert_eq!(again.commit, crate::store::Commit::default());
    // Linked to someone else: refused.
    let taken = decide_link(&p, &c, Some(link_of(&c, "acc_b")), &target, NOW).expect("decides");
    assert!(matches!(
        taken.output,
        LinkDecision::Refused(UpstreamRefusal::LinkedToOtherAccount)
    ));
    assert!(writes(&taken).is_empty());
    assert_eq!(audit_kinds(&taken), vec![AuditKind::UpstreamRefused]);
}

#[test]
fn unlinking_deletes_the_link_and_audits() {
    let c = claims("alice-sub");
    let (read, link) = link_of(&c, "acc_a");
    let plan = unlink(&read, &link, Some("acc_a"), NOW);
    assert_eq!(
        writes(&plan),
        vec![("delete", RecordKind::UpstreamIdentity, link.id, 2)]
    );
    assert_eq!(audit_kinds(&plan), vec![AuditKind::UpstreamUnlinked]);
}

fn attempt(provider: &str, expires_at: Timestamp) -> (Record, StoredAttempt) {
    let a = StoredAttempt {
        provider: provider.into(),
        binding_hash: "bind-hash".into(),
        nonce: "sealed-nonce".into(),
        verifier: "sealed-verifier".into(),
        purpose: UpstreamPurpose::SignIn { resume: None },
        expires_at,
    };
    (
        fixtures::record(RecordKind::UpstreamAttempt, "state-hash", 1, &a),
        a,
    )
}

#[test]
fn an_attempt_is_taken_once_and_only_by_its_browser_and_provider() {
    let live = || Some(attempt("corp", NOW.plus(Duration::from_secs(60))));
    let ok = take_attempt(live(), "corp", Some("bind-hash"), NOW);
    assert!(ok.output.is_ok());
    assert_eq!(
        writes(&ok),
        vec![(
            "delete",
            RecordKind::UpstreamAttempt,
            "state-hash".into(),
            1
        )]
    );
    assert!(ok.commit.audit.is_empty());

    let other_browser = take_attempt(live(), "corp", Some("other-hash"), NOW);
    assert_eq!(
        other_browser.output,
        Err(UpstreamRefusal::StateFromOtherBrowser)
    );
    assert!(
        writes(&other_browser).is_empty(),
        "left for its own browser"
    );
    assert_eq!(
        audit_kinds(&other_browser),
        vec![AuditKind::UpstreamRefused]
    );
    let no_cookie = take_attempt(live(), "corp", None, NOW);
    assert_eq!(
        no_cookie.output,
        Err(UpstreamRefusal::StateFromOtherBrowser)
    );

    let other_provider = take_attempt(live(), "other", Some("bind-hash"), NOW);
    assert_eq!(other_provider.output, Err(UpstreamRefusal::StateInvalid));
    assert!(writes(&other_provider).is_empty());

    let unknown = take_attempt(None, "corp", Some("bind-hash"), NOW);
    assert_eq!(unknown.output, Err(UpstreamRefusal::StateInvalid));
    assert_eq!(audit_kinds(&unknown), vec![AuditKind::UpstreamRefused]);

    let expired = take_attempt(Some(attempt("corp", NOW)), "corp", Some("bind-hash"), NOW);
    assert_eq!(expired.output, Err(UpstreamRefusal::StateInvalid));
    assert_eq!(
        writes(&expired),
        vec![(
            "delete",
            RecordKind::UpstreamAttempt,
            "state-hash".into(),
            1
        )]
    );
}

#[test]
fn claims_are_read_through_the_mapping() {
    let mapping = ClaimMapping {
        username: "login".into(),
        groups: Some("roles".into()),
        ..ClaimMapping::default()
    };
    let raw = serde_json::json!({
        "login": " bob ",
        "email": "bob@example.com",
        "email_verified": "true",
        "name": 42,
        "roles": ["a", 7, "b"],
        "acr": "gold",
    });
    let serde_json::Value::Object(raw) = raw else {
        panic!("object");
    };
    let c = mapping.read(ISSUER, "sub-1", &raw);
    assert_eq!(c.username.as_deref(), Some("bob"));
    assert!(c.email_verified, "the text \"true\" counts");
    assert_eq!(c.name, None, "a number is not a name");
    assert_eq!(c.groups, vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!(c.acr.as_deref(), Some("gold"));
    let mut single = raw.clone();
    single.insert("roles".into(), "solo".into());
    single.insert("email_verified".into(), serde_json::Value::Bool(false));
    let c = mapping.read(ISSUER, "sub-1", &single);
    assert_eq!(c.groups, vec!["solo".to_owned()]);
    assert!(!c.email_verified);
    single.insert("email_verified".into(), "yes".into());
    assert!(!mapping.read(ISSUER, "sub-1", &single).email_verified);
}

#[test]
fn link_ids_separate_issuer_and_subject() {
    assert_ne!(upstream_link_id("a", "bc"), upstream_link_id("ab", "c"));
    assert_eq!(upstream_link_id("a", "b").len(), 64);
}
