//! Passkeys against webauthn-rs's software authenticators: registration, passwordless sign-in,
//! a passkey as second factor and as step-up proof, a cloned authenticator caught by its
//! counter, wrong origins and relying parties, replayed challenges, and bad input.

mod common;

use std::time::Duration;

use iam_core::audit::{AuditKind, AuditQuery};
use iam_core::config::{ElevationPolicy, StepUp};
use iam_core::passkey::Uuid;
use iam_core::store::{ListQuery, RecordKind, Store};
use iam_core::{
    Caller, Denial, ElevationOutcome, Error, ErrorCode, Iam, LoginRequest, ManualClock,
    MemoryStore, NewAccount, PasskeyAssertion, PasskeyChallenge, PasskeyConfig, Principal,
    StepUpProof,
};
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url,
    WebauthnAuthenticator,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::{SoftToken, AAGUID as SOFTTOKEN_AAGUID};

use common::PW;

type TestIam = Iam<MemoryStore, ManualClock>;

const ORIGIN: &str = "https://login.example.com";

fn passkeys() -> PasskeyConfig {
    PasskeyConfig::new("example.com", ORIGIN)
}

async fn iam() -> (TestIam, ManualClock) {
    iam_with(|_| {}).await
}

async fn iam_with(adjust: impl FnOnce(&mut PasskeyConfig)) -> (TestIam, ManualClock) {
    let mut p = passkeys();
    adjust(&mut p);
    common::iam_with(move |c| {
        c.passkeys = Some(p);
        c.default_elevation = ElevationPolicy {
            step_up: StepUp::PasswordAndTotp,
            ..ElevationPolicy::default()
        };
    })
    .await
}

/// Creates `name` (holding the elevatable role `ops`) and signs it in with its password.
async fn person(iam: &TestIam, name: &str) -> Principal {
    let account = iam
        .create_account(NewAccount::human(name, PW), Caller::System)
        .await
        .expect("create");
    iam.grant_elevatable_role(Caller::System, &account.id, "ops")
        .await
        .expect("elevatable");
    common::login(iam, name).await
}

fn origin() -> Url {
    Url::parse(ORIGIN).expect("url")
}

/// A software authenticator with what the tests need to act as a discoverable one: the user
/// handle of the account it was registered for.
struct Device<A> {
    auth: A,
    /// base64url, as in the options and the answers.
    user_handle: String,
    /// base64url.
    credential_id: String,
}

fn soft_passkey() -> SoftPasskey {
    // `true`: it claims user verification, which every passkey ceremony requires.
    SoftPasskey::new(true)
}

/// Registers a passkey labelled `label` on `auth` for `who`.
async fn register<A: WebauthnAuthenticator>(
    iam: &TestIam,
    who: &Principal,
    mut auth: A,
    label: &str,
) -> (Device<A>, iam_core::PasskeyInfo) {
    let challenge = iam
        .start_passkey_registration(who, label)
        .await
        .expect("start registration");
    let json = answer_registration(&mut auth, &challenge, origin());
    let info = iam
        .finish_passkey_registration(who, &challenge.ceremony, &json)
        .await
        .expect("finish registration");
    let reg: serde_json::Value = serde_json::from_str(&json).expect("credential");
    let text = |v: &serde_json::Value| v.as_str().expect("base64url").to_owned();
    let device = Device {
        auth,
        user_handle: text(&challenge.options["publicKey"]["user"]["id"]),
        credential_id: text(&reg["rawId"]),
    };
    (device, info)
}

fn answer_registration<A: WebauthnAuthenticator>(
    auth: &mut A,
    challenge: &PasskeyChallenge,
    origin: Url,
) -> String {
    let options: CreationChallengeResponse =
        serde_json::from_value(challenge.options.clone()).expect("creation options");
    let reg = auth
        .do_registration(origin, options)
        .expect("authenticator registers");
    serde_json::to_string(&reg).expect("json")
}

/// The authenticator's answer to `challenge` from `origin`, as the browser would send it. For a
/// passwordless challenge (no allow list) it picks its own credential and names its user, as a
/// discoverable authenticator does.
fn answer<A: WebauthnAuthenticator>(
    device: &mut Device<A>,
    challenge: &PasskeyChallenge,
    origin: Url,
) -> String {
    let mut options = challenge.options.clone();
    let discoverable = options["publicKey"]["allowCredentials"]
        .as_array()
        .is_none_or(Vec::is_empty);
    if discoverable {
        options["publicKey"]["allowCredentials"] =
            serde_json::json!([{"type": "public-key", "id": device.credential_id}]);
    }
    let options: RequestChallengeResponse =
        serde_json::from_value(options).expect("request options");
    let cred: PublicKeyCredential = device
        .auth
        .do_authentication(origin, options)
        .expect("authenticator answers");
    let mut cred = serde_json::to_value(&cred).expect("json");
    if discoverable {
        cred["response"]["userHandle"] = device.user_handle.clone().into();
    }
    cred.to_string()
}

fn denial<T: std::fmt::Debug>(r: Result<T, Error>) -> Denial {
    match r {
        Err(Error::Denied(d)) => d,
        other => panic!("expected a denial, got {other:?}"),
    }
}

async fn events(iam: &TestIam, kind: AuditKind) -> Vec<iam_core::AuditEvent> {
    iam.audit_events(
        Caller::System,
        &AuditQuery {
            kind: Some(kind),
            ..AuditQuery::default()
        },
    )
    .await
    .expect("audit")
}

async fn count(iam: &TestIam, kind: RecordKind) -> usize {
    iam.store()
        .list(kind, &ListQuery::default())
        .await
        .expect("list")
        .len()
}

#[tokio::test]
async fn a_passkey_registers_and_signs_in_without_a_password() {
    let (iam, _) = iam().await;
    let alice = person(&iam, "alice").await;
    let (mut device, info) = register(&iam, &alice, soft_passkey(), "  laptop key ").await;
    assert_eq!(info.label, "laptop key");
    assert!(!info.backup_eligible, "a software key bound to one device");
    assert_eq!(count(&iam, RecordKind::PasskeyCeremony).await, 0, "used up");
    let listed = iam
        .list_passkeys((&alice).into(), &alice.account_id)
        .await
        .expect("list");
    assert_eq!(listed, std::slice::from_ref(&info));
    let registered = events(&iam, AuditKind::PasskeyRegistered).await;
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].draft.detail["passkey"], info.id);

    let challenge = iam.start_passkey_login(None).await.expect("start login");
    assert!(challenge.options["publicKey"]["challenge"].is_string());
    assert_eq!(
        challenge.options["publicKey"]["userVerification"],
        "required"
    );
    let json = answer(&mut device, &challenge, origin());
    let login = iam
        .finish_passkey_login(&challenge.ceremony, &json)
        .await
        .expect("passwordless login");
    assert_eq!(login.account.username, "alice");
    assert_eq!(login.session.amr, ["hwk", "user"]);
    let who = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    assert_eq!(who.amr, ["hwk", "user"]);
    let used = events(&iam, AuditKind::PasskeyUsed).await;
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].draft.detail["purpose"], "login");
    let listed = iam
        .list_passkeys(Caller::System, &alice.account_id)
        .await
        .expect("list");
    assert_eq!(listed[0].counter, 1, "the counter is stored");
    assert!(listed[0].last_used_at.is_some());
}

#[tokio::test]
async fn a_passkey_is_the_second_factor_after_a_password() {
    let (iam, _) = iam().await;
    let bob = person(&iam, "bob").await;
    let (mut device, _) = register(&iam, &bob, soft_passkey(), "key").await;
    let wrong = LoginRequest::password("bob", "not the password at all");
    assert_eq!(
        denial(iam.start_passkey_login(Some(&wrong)).await),
        Denial::BadCredentials
    );
    assert_eq!(count(&iam, RecordKind::PasskeyCeremony).await, 0);
    let challenge = iam
        .start_passkey_login(Some(&LoginRequest::password("bob", PW)))
        .await
        .expect("password first");
    let allowed = challenge.options["publicKey"]["allowCredentials"]
        .as_array()
        .expect("allow list")
        .len();
    assert_eq!(allowed, 1, "only bob's passkeys may answer");
    let json = answer(&mut device, &challenge, origin());
    let login = iam
        .finish_passkey_login(&challenge.ceremony, &json)
        .await
        .expect("second factor");
    assert_eq!(login.session.amr, ["pwd", "hwk", "mfa"]);

    // An account without passkeys cannot take this path.
    let _carol = person(&iam, "carol").await;
    let err = iam
        .start_passkey_login(Some(&LoginRequest::password("carol", PW)))
        .await
        .expect_err("no passkey");
    assert_eq!(err.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn a_second_factor_ceremony_accepts_only_that_accounts_passkeys() {
    let (iam, _) = iam().await;
    let bob = person(&iam, "bob").await;
    let eve = person(&iam, "eve").await;
    let _ = register(&iam, &bob, soft_passkey(), "bob's").await;
    let (mut eves, _) = register(&iam, &eve, soft_passkey(), "eve's").await;
    let challenge = iam
        .start_passkey_login(Some(&LoginRequest::password("bob", PW)))
        .await
        .expect("password first");
    // Eve's authenticator answers with her own credential.
    let mut options = challenge.options.clone();
    options["publicKey"]["allowCredentials"][0]["id"] = eves.credential_id.clone().into();
    let options: RequestChallengeResponse = serde_json::from_value(options).expect("options");
    let cred = eves
        .auth
        .do_authentication(origin(), options)
        .expect("answers");
    let json = serde_json::to_string(&cred).expect("json");
    assert_eq!(
        denial(iam.finish_passkey_login(&challenge.ceremony, &json).await),
        Denial::PasskeyRejected
    );
    let failed = events(&iam, AuditKind::PasskeyFailed).await;
    assert_eq!(failed[0].draft.detail["reason"], "other_account");
}

#[tokio::test]
async fn a_cloned_authenticator_is_caught_by_its_counter() {
    let (iam, _) = iam().await;
    let dave = person(&iam, "dave").await;
    let (token, _) = SoftToken::new(true).expect("soft token");
    let (mut original, info) = register(&iam, &dave, token, "token").await;
    // A copy of the authenticator, key and counter included.
    let copy = SoftToken::from_cbor(&original.auth.to_cbor().expect("save")).expect("clone");
    let mut clone = Device {
        auth: copy,
        user_handle: original.user_handle.clone(),
        credential_id: original.credential_id.clone(),
    };
    let c = iam.start_passkey_login(None).await.expect("start");
    let json = answer(&mut original, &c, origin());
    iam.finish_passkey_login(&c.ceremony, &json)
        .await
        .expect("the original signs in");
    let c = iam.start_passkey_login(None).await.expect("start");
    let json = answer(&mut clone, &c, origin());
    assert_eq!(
        denial(iam.finish_passkey_login(&c.ceremony, &json).await),
        Denial::PasskeyCounterRegressed
    );
    let failed = events(&iam, AuditKind::PasskeyFailed).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].draft.detail["reason"], "counter_regressed");
    assert_eq!(failed[0].draft.detail["passkey"], info.id);
    let listed = iam
        .list_passkeys(Caller::System, &dave.account_id)
        .await
        .expect("list");
    assert_eq!(listed[0].counter, 1, "the refused use changed nothing");
    assert_eq!(
        count(&iam, RecordKind::Session).await,
        2,
        "no session for the clone"
    );
}

#[tokio::test]
async fn wrong_origins_and_relying_parties_are_refused() {
    let (iam, _) = iam().await;
    let erin = person(&iam, "erin").await;
    let (mut device, _) = register(&iam, &erin, soft_passkey(), "key").await;
    // A sibling site under the same domain that is not an allowed origin.
    let c = iam.start_passkey_login(None).await.expect("start");
    let evil = Url::parse("https://evil.example.com").expect("url");
    let json = answer(&mut device, &c, evil);
    assert_eq!(
        denial(iam.finish_passkey_login(&c.ceremony, &json).await),
        Denial::PasskeyRejected
    );
    // The authenticator signed for another relying-party id.
    let mut c = iam.start_passkey_login(None).await.expect("start");
    c.options["publicKey"]["rpId"] = "login.example.com".into();
    let json = answer(&mut device, &c, origin());
    assert_eq!(
        denial(iam.finish_passkey_login(&c.ceremony, &json).await),
        Denial::PasskeyRejected
    );
    let reasons: Vec<String> = events(&iam, AuditKind::PasskeyFailed)
        .await
        .iter()
        .map(|e| e.draft.detail["reason"].clone())
        .collect();
    assert_eq!(reasons, ["origin", "rp_id"]);
    // Registration from a wrong origin is refused too, and stores no passkey.
    let c = iam
        .start_passkey_registration(&erin, "second")
        .await
        .expect("start");
    let evil = Url::parse("https://evil.example.com").expect("url");
    let json = answer_registration(&mut soft_passkey(), &c, evil);
    assert_eq!(
        denial(
            iam.finish_passkey_registration(&erin, &c.ceremony, &json)
                .await
        ),
        Denial::PasskeyRejected
    );
    assert_eq!(count(&iam, RecordKind::Passkey).await, 1);
    assert_eq!(count(&iam, RecordKind::PasskeyCeremony).await, 0);
}

#[tokio::test]
async fn a_challenge_is_answered_at_most_once() {
    let (iam, clock) = iam().await;
    let fay = person(&iam, "fay").await;
    let (mut device, _) = register(&iam, &fay, soft_passkey(), "key").await;
    let c = iam.start_passkey_login(None).await.expect("start");
    let json = answer(&mut device, &c, origin());
    iam.finish_passkey_login(&c.ceremony, &json)
        .await
        .expect("first answer");
    assert_eq!(
        denial(iam.finish_passkey_login(&c.ceremony, &json).await),
        Denial::PasskeyCeremonyInvalid,
        "a replay finds the ceremony used up"
    );
    // An answer to one challenge does not finish another ceremony.
    let first = iam.start_passkey_login(None).await.expect("start");
    let second = iam.start_passkey_login(None).await.expect("start");
    let json = answer(&mut device, &first, origin());
    assert_eq!(
        denial(iam.finish_passkey_login(&second.ceremony, &json).await),
        Denial::PasskeyRejected
    );
    let failed = events(&iam, AuditKind::PasskeyFailed).await;
    assert_eq!(
        failed.last().expect("event").draft.detail["reason"],
        "challenge"
    );
    // A ceremony past its time is refused and pruned.
    let late = iam.start_passkey_login(None).await.expect("start");
    let json = answer(&mut device, &late, origin());
    clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(
        denial(iam.finish_passkey_login(&late.ceremony, &json).await),
        Denial::PasskeyCeremonyInvalid
    );
    let _stale = iam.start_passkey_login(None).await.expect("start");
    clock.advance(Duration::from_secs(5 * 60));
    let _open = iam.start_passkey_login(None).await.expect("start");
    iam.sweep().await.expect("sweep");
    assert_eq!(
        count(&iam, RecordKind::PasskeyCeremony).await,
        1,
        "the stale ceremony is pruned, the open one kept"
    );
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_stored() {
    let (iam, _) = iam().await;
    let gus = person(&iam, "gus").await;
    let c = iam
        .start_passkey_registration(&gus, "key")
        .await
        .expect("start");
    for json in [
        String::new(),
        "{".to_owned(),
        r#"{"id": 5}"#.to_owned(),
        format!(r#"{{"id": "{}"}}"#, "A".repeat(70_000)),
    ] {
        let err = iam
            .finish_passkey_registration(&gus, &c.ceremony, &json)
            .await
            .expect_err("bad input");
        assert_eq!(
            err.code(),
            ErrorCode::InvalidWebauthn,
            "{}",
            &json[..json.len().min(20)]
        );
        let err = iam
            .finish_passkey_login(&c.ceremony, &json)
            .await
            .expect_err("bad input");
        assert_eq!(err.code(), ErrorCode::InvalidWebauthn);
    }
    // Unparseable input touched nothing: the ceremony still stands.
    assert_eq!(count(&iam, RecordKind::PasskeyCeremony).await, 1);
    // A well-formed answer that fails verification uses the ceremony up and stores nothing else.
    let mut other = soft_passkey();
    let stray = iam
        .start_passkey_registration(&gus, "other")
        .await
        .expect("start");
    let json = answer_registration(&mut other, &stray, origin());
    assert_eq!(
        denial(
            iam.finish_passkey_registration(&gus, &c.ceremony, &json)
                .await
        ),
        Denial::PasskeyRejected,
        "answered another challenge"
    );
    assert_eq!(count(&iam, RecordKind::Passkey).await, 0);
    assert_eq!(
        count(&iam, RecordKind::PasskeyCeremony).await,
        1,
        "only the stray one"
    );
    assert_eq!(events(&iam, AuditKind::PasskeyRegistered).await.len(), 0);
    assert_eq!(events(&iam, AuditKind::PasskeyFailed).await.len(), 1);
    // Unknown ceremonies.
    assert_eq!(
        denial(
            iam.finish_passkey_registration(&gus, "pkc_nope", &json)
                .await
        ),
        Denial::PasskeyCeremonyInvalid
    );
}

#[tokio::test]
async fn only_a_recent_session_registers_and_the_owner_or_an_admin_manages() {
    let (iam, clock) = iam().await;
    let hal = person(&iam, "hal").await;
    let expires = iam_core::Timestamp::from_secs(common::START.as_secs() + 86_400);
    let api = iam
        .create_api_token(&hal, "script", &[], expires)
        .await
        .expect("api token");
    let api = iam
        .verify_api_token(api.secret.expose())
        .await
        .expect("verify");
    assert_eq!(
        denial(iam.start_passkey_registration(&api, "key").await),
        Denial::WrongTokenKind
    );
    let (mut device, info) = register(&iam, &hal, soft_passkey(), "key").await;
    let renamed = iam
        .rename_passkey((&hal).into(), &info.id, "blue key")
        .await
        .expect("rename");
    assert_eq!(renamed.label, "blue key");
    let other = person(&iam, "ivy").await;
    let err = iam
        .remove_passkey((&other).into(), &info.id)
        .await
        .expect_err("not hers");
    assert_eq!(err.code(), ErrorCode::NotFound);
    clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        denial(iam.start_passkey_registration(&hal, "late").await),
        Denial::RecentAuthenticationRequired { .. }
    ));
    let fresh = common::login(&iam, "hal").await;
    iam.remove_passkey((&fresh).into(), &info.id)
        .await
        .expect("remove");
    assert_eq!(events(&iam, AuditKind::PasskeyRemoved).await.len(), 1);
    assert_eq!(events(&iam, AuditKind::PasskeyRenamed).await.len(), 1);
    let c = iam.start_passkey_login(None).await.expect("start");
    let json = answer(&mut device, &c, origin());
    assert_eq!(
        denial(iam.finish_passkey_login(&c.ceremony, &json).await),
        Denial::PasskeyRejected,
        "a removed passkey signs in no more"
    );
}

#[tokio::test]
async fn a_passkey_renews_a_recent_sign_in_and_opens_an_elevation() {
    let (iam, clock) = iam().await;
    let jo = person(&iam, "jo").await;
    let (mut device, _) = register(&iam, &jo, soft_passkey(), "key").await;
    clock.advance(Duration::from_secs(3600));
    let stale = common::login(&iam, "jo").await;
    clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        denial(iam.start_passkey_registration(&stale, "second").await),
        Denial::RecentAuthenticationRequired { .. }
    ));
    let c = iam.start_passkey_step_up(&stale).await.expect("step-up");
    let proof = StepUpProof {
        passkey: Some(PasskeyAssertion {
            ceremony: c.ceremony.clone(),
            credential: answer(&mut device, &c, origin()),
        }),
        ..StepUpProof::default()
    };
    let token = iam.reauthenticate(&stale, &proof).await.expect("reauth");
    let renewed = iam.verify(token.expose()).await.expect("verify");
    assert_eq!(renewed.amr, ["hwk", "user"]);
    iam.start_passkey_registration(&renewed, "second")
        .await
        .expect("recent again");
    // The same answer again: the ceremony is used up.
    assert_eq!(
        denial(iam.reauthenticate(&stale, &proof).await),
        Denial::PasskeyCeremonyInvalid
    );
    // Elevation under a password-and-TOTP policy accepts a passkey alone.
    let c = iam.start_passkey_step_up(&renewed).await.expect("step-up");
    let proof = StepUpProof {
        passkey: Some(PasskeyAssertion {
            ceremony: c.ceremony.clone(),
            credential: answer(&mut device, &c, origin()),
        }),
        ..StepUpProof::default()
    };
    let outcome = iam
        .elevate(&renewed, "ops", None, &proof)
        .await
        .expect("elevate");
    assert!(matches!(outcome, ElevationOutcome::Active { .. }));
    // A step-up ceremony is bound to its session.
    let c = iam.start_passkey_step_up(&renewed).await.expect("step-up");
    let proof = StepUpProof {
        passkey: Some(PasskeyAssertion {
            ceremony: c.ceremony.clone(),
            credential: answer(&mut device, &c, origin()),
        }),
        ..StepUpProof::default()
    };
    assert_eq!(
        denial(iam.reauthenticate(&jo, &proof).await),
        Denial::PasskeyCeremonyInvalid
    );
}

#[tokio::test]
async fn an_aaguid_list_admits_only_listed_authenticators() {
    let listed = Uuid::from_u128(SOFTTOKEN_AAGUID.as_u128());
    let (iam, _) = iam_with(|p| p.allowed_aaguids = Some(vec![listed])).await;
    let kim = person(&iam, "kim").await;
    // SoftPasskey names no AAGUID.
    let c = iam
        .start_passkey_registration(&kim, "key")
        .await
        .expect("start");
    let json = answer_registration(&mut soft_passkey(), &c, origin());
    assert_eq!(
        denial(
            iam.finish_passkey_registration(&kim, &c.ceremony, &json)
                .await
        ),
        Denial::AuthenticatorNotAllowed
    );
    assert_eq!(count(&iam, RecordKind::Passkey).await, 0);
    let (token, _) = SoftToken::new(true).expect("soft token");
    let (_, info) = register(&iam, &kim, token, "listed").await;
    assert_eq!(info.aaguid, Some(listed));
}

#[tokio::test]
async fn passkeys_are_off_unless_configured() {
    let (iam, _) = common::iam().await;
    let err = iam.start_passkey_login(None).await.expect_err("off");
    assert_eq!(err.code(), ErrorCode::NotFound);
}
