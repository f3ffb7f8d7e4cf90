//! The account pages over HTTP, driven like a browser without scripts: each page's forms
//! (allowed), a missing CSRF token (refused), no session (redirected to the login page and
//! back), an old sign-in (asked for the password again), and another account's objects
//! (refused). The passkey ceremonies the pages' script runs are driven here with a software
//! passkey: the JSON calls' CSRF header, session and body checks, and the sign-in, second
//! factor, confirmation, renaming and removal they lead to.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;
#[path = "interop/softkey.rs"]
mod softkey;

use std::time::Duration;

use harness::{start, Browser, Options, Page, Server, ADMIN_PASSWORD, ALICE_PASSWORD};
use iam_core::config::{ElevationPolicy, StepUp};
use iam_core::{
    AuthorizeOutcome, AuthorizeRequest, Caller, Clock, Config, ElevationOutcome, GrantType,
    LoginRequest, ManualClock, NewAccount, NewClient, Principal, StepUpProof, Timestamp,
    TotpStatus,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use softkey::SoftKey;

const BOB_PASSWORD: &str = "bob password 12";

/// Every account page.
const PAGES: [&str; 7] = [
    "/account",
    "/account/security",
    "/account/passkeys",
    "/account/sessions",
    "/account/tokens",
    "/account/apps",
    "/account/approvals",
];

/// Every form target of the account pages.
const FORMS: [&str; 15] = [
    "/account/name",
    "/account/passkeys/rename",
    "/account/passkeys/remove",
    "/account/security/password",
    "/account/security/totp/enrol",
    "/account/security/totp/confirm",
    "/account/security/totp/remove",
    "/account/sessions/revoke",
    "/account/sessions/revoke-others",
    "/account/tokens/create",
    "/account/tokens/revoke",
    "/account/apps/revoke",
    "/account/approvals/answer",
    "/account/reauthenticate",
    "/oauth2/logout",
];

fn now_clock() -> ManualClock {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    ManualClock::new(Timestamp::from_millis(
        i64::try_from(now.as_millis()).unwrap(),
    ))
}

/// Elevating to `ops` needs the approval of a holder of `ops-lead`.
fn ops_needs_approval(config: &mut Config) {
    config.elevation.insert(
        "ops".into(),
        ElevationPolicy {
            step_up: StepUp::Password,
            approver_role: Some("ops-lead".into()),
            max_duration: Duration::from_secs(600),
        },
    );
}

/// A server over a manual clock, with bob beside alice, the `ops` approval policy and
/// passkeys on.
async fn server() -> (Server<ManualClock>, ManualClock) {
    let clock = now_clock();
    let s = start(
        clock.clone(),
        Options {
            configure: ops_needs_approval,
            passkeys: true,
            ..Options::default()
        },
    )
    .await;
    s.iam
        .create_account(
            NewAccount::human("bob", BOB_PASSWORD).with_roles(["reports"]),
            Caller::System,
        )
        .await
        .unwrap();
    (s, clock)
}

/// The account id of `username`.
async fn id_of<C: Clock>(s: &Server<C>, username: &str) -> String {
    s.iam
        .account_by_username(Caller::System, username)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// A browser signed in as `username` on the login page.
async fn signed_in<C: Clock>(s: &Server<C>, username: &str, password: &str) -> Browser {
    let mut b = s.browser();
    let login = b.get("/oauth2/login").await;
    let done = b.login(&login, username, password).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("You are signed in"), "{}", done.body);
    b
}

/// Posts `pairs` plus the browser's CSRF token to `path`.
async fn post(b: &mut Browser, path: &str, pairs: &[(&str, &str)]) -> Page {
    let mut all = vec![("csrf".to_owned(), b.csrf())];
    all.extend(
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    b.post(path, &all).await
}

/// A principal of a new session of `username` (signed in through the core).
async fn session_of<C: Clock>(s: &Server<C>, username: &str, password: &str) -> Principal {
    let ok = s
        .iam
        .login(&LoginRequest::password(username, password))
        .await
        .unwrap();
    s.iam.verify(ok.tokens.access_token.expose()).await.unwrap()
}

/// The session ids the forms of a sessions page name.
/// The `session_id` fields of every form on the page (`hidden_fields` reads one form).
fn session_ids(html: &str) -> Vec<String> {
    html.split("</form>")
        .flat_map(harness::hidden_fields)
        .filter(|(n, _)| n == "session_id")
        .map(|(_, v)| v)
        .collect()
}

fn assert_ok(p: &Page, text: &str) {
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains(text), "no {text:?} in {}", p.body);
}

/// The text of the element with `id` (plain text inside it).
fn text_of(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id}: {html}"))
        + marker.len();
    harness::unescape(&html[start..start + html[start..].find('<').unwrap()])
}

#[tokio::test]
async fn visits_without_a_session_go_to_the_login_page_and_come_back() {
    let (s, _) = server().await;
    let mut b = s.browser();
    for path in PAGES {
        let p = b.get(path).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            p.header("location"),
            format!("/oauth2/login?return_to={}", harness::enc(path)),
            "{path}"
        );
    }
    let login = b.get("/oauth2/login?return_to=%2Faccount%2Ftokens").await;
    assert!(login
        .body
        .contains("name=\"return_to\" value=\"/account/tokens\""));
    let back = b.login(&login, "alice", ALICE_PASSWORD).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(back.header("location"), "/account/tokens");
    assert_ok(&b.get("/account/tokens").await, "Create a token");
    // Signed in, the login page sends an account path straight on.
    let again = b.get("/oauth2/login?return_to=/account/apps").await;
    assert_eq!(again.header("location"), "/account/apps");

    // Anything but an account path is ignored: no open redirect.
    for evil in [
        "https%3A%2F%2Fevil.example%2Faccount",
        "%2F%2Fevil.example%2Faccount",
        "%2Faccount%2F..%2F..%2Foauth2",
        "%2Faccount%5Cevil",
    ] {
        let mut fresh = s.browser();
        let login = fresh.get(&format!("/oauth2/login?return_to={evil}")).await;
        assert!(!login.body.contains("return_to"), "{evil}: {}", login.body);
        // Even a forged field in the form is checked again.
        let mut pairs = harness::hidden_fields(&login.body);
        pairs.push(("next".into(), "account".into()));
        pairs.push(("return_to".into(), harness::unescape(evil)));
        pairs.push(("username".into(), "alice".into()));
        pairs.push(("password".into(), ALICE_PASSWORD.into()));
        let done = fresh.post("/oauth2/login", &pairs).await;
        assert_eq!(done.status, StatusCode::OK, "{evil}");
        assert!(done.header("location").is_empty(), "{evil}");
    }

    // A form posted without a session (but with a matching CSRF pair) goes to the login page.
    let mut anonymous = s.browser();
    anonymous.get("/oauth2/login").await;
    let p = post(&mut anonymous, "/account/tokens/create", &[("label", "x")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(p.header("location").starts_with("/oauth2/login?return_to="));
}

#[tokio::test]
async fn pages_have_landmarks_labels_and_the_script_policy() {
    let (s, _) = server().await;
    let mut b = signed_in(&s, "alice", ALICE_PASSWORD).await;
    // A passkey, so that its rename field is checked too.
    add_passkey(&s, &mut b, "laptop").await;
    let handler = regex::Regex::new(r"(?i)<[^>]*\son[a-z]+\s*=").unwrap();
    for path in PAGES {
        let p = b.get(path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.body);
        assert_eq!(
            p.header("content-security-policy"),
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; \
form-action 'self'; frame-ancestors 'none'"
        );
        assert_eq!(p.header("cache-control"), "no-store");
        assert_eq!(p.header("x-frame-options"), "DENY");
        for landmark in [
            "<header>",
            "<nav aria-label=\"Account\">",
            "<main id=\"main\">",
        ] {
            assert!(p.body.contains(landmark), "{path}: {landmark}");
        }
        assert!(p.body.contains("name=\"viewport\""));
        // No inline script: the one script element loads the static file.
        assert_eq!(p.body.matches("<script").count(), 1, "{path}");
        assert!(p
            .body
            .contains("<script src=\"/assets/account.js\" defer></script>"));
        assert!(
            !handler.is_match(&p.body),
            "{path}: no inline event handlers"
        );
        // Every visible input has a label.
        for input in p.body.split("<input ").skip(1) {
            let tag = &input[..input.find('>').unwrap()];
            if tag.contains("type=\"hidden\"") || tag.ends_with(" hidden") {
                continue;
            }
            let rest = tag
                .split("id=\"")
                .nth(1)
                .unwrap_or_else(|| panic!("{path}: input without id: {tag}"));
            let id = &rest[..rest.find('"').unwrap()];
            assert!(
                p.body.contains(&format!("<label for=\"{id}\">")),
                "{path}: no label for {id}"
            );
        }
    }
    // The current page is marked; Approvals is offered to approvers only.
    let p = b.get("/account/sessions").await;
    assert!(p
        .body
        .contains("<a href=\"/account/sessions\" aria-current=\"page\">"));
    assert!(!p.body.contains("href=\"/account/approvals\""));

    let js = b.get("/assets/account.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(js.header("cache-control"), "public, max-age=86400");
    assert_eq!(js.header("x-content-type-options"), "nosniff");
    assert!(js.body.contains("data-copy"));

    // With passkeys on, the sign-in page loads the same static script (no inline one) for its
    // passkey button; the other pages keep their policy without scripts.
    let login = s.browser().get("/oauth2/login").await;
    assert!(login
        .header("content-security-policy")
        .contains("script-src 'self'; connect-src 'self'"));
    assert_eq!(login.body.matches("<script").count(), 1);
    assert!(login.body.contains("data-passkey-login"));
    assert!(!handler.is_match(&login.body));
    let invite = s.browser().get("/invite/not-a-link").await;
    assert!(invite.body.contains("Invitation not usable"));
    assert!(!invite
        .header("content-security-policy")
        .contains("script-src"));
}

#[tokio::test]
async fn every_form_refuses_a_missing_or_wrong_csrf_token() {
    let (s, _) = server().await;
    let mut b = signed_in(&s, "alice", ALICE_PASSWORD).await;
    let alice = id_of(&s, "alice").await;
    for path in FORMS {
        let none = b.post(path, &[("label".into(), "csrf-less".into())]).await;
        assert_eq!(none.status, StatusCode::FORBIDDEN, "{path}: {}", none.body);
        assert!(none.body.contains("Form expired"), "{path}");
        let wrong = b
            .post(
                path,
                &[
                    ("csrf".into(), "A".repeat(43)),
                    ("label".into(), "csrf-less".into()),
                ],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{path}");
    }
    // Nothing happened: no token, still signed in.
    let tokens = s.iam.list_api_tokens(Caller::System, &alice).await.unwrap();
    assert!(tokens.is_empty());
    assert_ok(
        &b.get("/account").await,
        "Signed in as <strong>alice</strong>",
    );
}

#[tokio::test]
async fn profile_and_password() {
    let (s, _) = server().await;
    let mut b = signed_in(&s, "alice", ALICE_PASSWORD).await;
    let alice = id_of(&s, "alice").await;
    let page = b.get("/account").await;
    assert_ok(&page, "Display name");
    let saved = b
        .submit_to(&page, "/account/name", &[("name", "Alice <Liddell>")])
        .await;
    assert_ok(&saved, "Your name has been saved.");
    assert!(saved.body.contains("value=\"Alice &lt;Liddell&gt;\""));
    let account = s.iam.account(Caller::System, &alice).await.unwrap();
    assert_eq!(account.profile.name.as_deref(), Some("Alice <Liddell>"));

    let page = b.get("/account/security").await;
    let path = "/account/security/password";
    let wrong = b
        .submit_to(
            &page,
            path,
            &[
                ("current_password", "not it"),
                ("new_password", "a new password 1"),
                ("repeat_password", "a new password 1"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    assert!(wrong.body.contains("role=\"alert\""));
    let differ = b
        .submit_to(
            &page,
            path,
            &[
                ("current_password", ALICE_PASSWORD),
                ("new_password", "a new password 1"),
                ("repeat_password", "a new password 2"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    let changed = b
        .submit_to(
            &page,
            path,
            &[
                ("current_password", ALICE_PASSWORD),
                ("new_password", "a new password 1"),
                ("repeat_password", "a new password 1"),
            ],
        )
        .await;
    assert_ok(&changed, "Your password has been changed.");
    assert!(s
        .iam
        .login(&LoginRequest::password("alice", "a new password 1"))
        .await
        .is_ok());
    assert!(s
        .iam
        .login(&LoginRequest::password("alice", ALICE_PASSWORD))
        .await
        .is_err());
}

#[tokio::test]
async fn totp_enrolment_with_a_qr_code_confirmation_and_removal() {
    let (s, clock) = server().await;
    let mut b = signed_in(&s, "alice", ALICE_PASSWORD).await;
    let alice = id_of(&s, "alice").await;
    let page = b.get("/account/security").await;
    let shown = b
        .submit_to(&page, "/account/security/totp/enrol", &[])
        .await;
    assert_ok(&shown, "<svg role=\"img\" aria-label=\"QR code");
    assert!(!shown.body.contains("<?xml"));
    let secret = text_of(&shown.body, "totp-secret");
    let totp =
        totp_rs::TOTP::from_url_unchecked(format!("otpauth://totp/iam:alice?secret={secret}"))
            .unwrap();
    let now = u64::try_from(clock.now().as_secs()).unwrap();
    let wrong = b
        .submit_to(
            &shown,
            "/account/security/totp/confirm",
            &[("code", &totp.generate(now + 300))],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    let confirm = b
        .submit_to(
            &shown,
            "/account/security/totp/confirm",
            &[("code", &totp.generate(now))],
        )
        .await;
    assert_ok(&confirm, "Your authenticator app is on.");
    let account = s.iam.account(Caller::System, &alice).await.unwrap();
    assert_eq!(account.totp, TotpStatus::On);

    let removed = b
        .submit_to(&confirm, "/account/security/totp/remove", &[])
        .await;
    assert_ok(&removed, "Your authenticator app is off.");
    let account = s.iam.account(Caller::System, &alice).await.unwrap();
    assert_eq!(account.totp, TotpStatus::Off);
}

#[tokio::test]
async fn an_old_sign_in_is_asked_for_the_password_again() {
    let (s, clock) = server().await;
    let mut b = signed_in(&s, "bob", BOB_PASSWORD).await;
    let bob = id_of(&s, "bob").await;
    clock.advance(Duration::from_secs(6 * 60));

    // Enrolling TOTP and minting a token with a role need a recent sign-in.
    let page = b.get("/account/security").await;
    let asked = b
        .submit_to(&page, "/account/security/totp/enrol", &[])
        .await;
    assert_eq!(asked.status, StatusCode::UNAUTHORIZED, "{}", asked.body);
    assert!(asked.body.contains("Confirm it is you"));
    assert!(!asked.body.contains("<svg"));
    let tokens = b.get("/account/tokens").await;
    let asked_again = b
        .submit_to(
            &tokens,
            "/account/tokens/create",
            &[("label", "ci"), ("scope", "reports")],
        )
        .await;
    assert_eq!(asked_again.status, StatusCode::UNAUTHORIZED);
    assert!(asked_again
        .body
        .contains("name=\"return_to\" value=\"/account/tokens\""));
    // A token without roles does not (the core's rule).
    let plain = b
        .submit_to(&tokens, "/account/tokens/create", &[("label", "plain")])
        .await;
    assert_ok(&plain, "iam_pat_");

    let wrong = b
        .submit_to(&asked, "/account/reauthenticate", &[("password", "not it")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("not correct"));
    let confirmed = b
        .submit_to(
            &asked,
            "/account/reauthenticate",
            &[("password", BOB_PASSWORD)],
        )
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );
    assert_eq!(confirmed.header("location"), "/account/security");
    assert!(confirmed
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("iam_session=")));

    // The renewed session may now do both.
    let page = b.get("/account/security").await;
    let shown = b
        .submit_to(&page, "/account/security/totp/enrol", &[])
        .await;
    assert_ok(&shown, "<svg");
    let tokens = b.get("/account/tokens").await;
    let minted = b
        .submit_to(
            &tokens,
            "/account/tokens/create",
            &[("label", "ci"), ("scope", "reports")],
        )
        .await;
    assert_ok(&minted, "iam_pat_");
    let listed = s.iam.list_api_tokens(Caller::System, &bob).await.unwrap();
    assert_eq!(listed.len(), 2);
}

#[tokio::test]
async fn sessions_are_listed_and_signed_out_one_or_all_others() {
    let (s, _) = server().await;
    let mut here = signed_in(&s, "alice", ALICE_PASSWORD).await;
    let mut there = signed_in(&s, "alice", ALICE_PASSWORD).await;
    let mut third = signed_in(&s, "alice", ALICE_PASSWORD).await;
    let bob = session_of(&s, "bob", BOB_PASSWORD).await;

    let page = here.get("/account/sessions").await;
    assert_ok(&page, "This browser");
    assert_eq!(page.body.matches("<tr><td").count(), 3, "{}", page.body);
    assert!(page.body.contains("password"));

    // Another account's session: refused as not found, and it lives on.
    let refused = post(
        &mut here,
        "/account/sessions/revoke",
        &[("session_id", &bob.session_id)],
    )
    .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    assert!(refused.body.contains("not yours"));
    assert!(s
        .iam
        .session(&bob.session_id)
        .await
        .unwrap()
        .revoked_at
        .is_none());

    // Sign out the second browser's session: listed on this page but not on its own (a
    // page lists the other sessions by id, its own without).
    let there_page = there.get("/account/sessions").await;
    let there_id = session_ids(&page.body)
        .into_iter()
        .find(|id| !session_ids(&there_page.body).contains(id))
        .unwrap();
    let done = post(
        &mut here,
        "/account/sessions/revoke",
        &[("session_id", &there_id)],
    )
    .await;
    assert_ok(&done, "The session has been signed out.");
    let gone = there.get("/account").await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER, "signed out there");

    let page = here.get("/account/sessions").await;
    let all = here
        .submit_to(&page, "/account/sessions/revoke-others", &[])
        .await;
    assert_ok(&all, "1 other session has been signed out.");
    assert_eq!(third.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_ok(&here.get("/account").await, "Signed in as");
    assert!(s
        .iam
        .session(&bob.session_id)
        .await
        .unwrap()
        .revoked_at
        .is_none());
}

#[tokio::test]
async fn api_tokens_are_created_once_and_revoked() {
    let (s, _) = server().await;
    let mut b = signed_in(&s, "bob", BOB_PASSWORD).await;
    let page = b.get("/account/tokens").await;
    assert_ok(&page, "You have no API tokens.");
    assert!(
        page.body.contains("value=\"reports\""),
        "bob's role is offered"
    );
    let created = b
        .submit_to(
            &page,
            "/account/tokens/create",
            &[("label", "deploy"), ("days", "7"), ("scope", "reports")],
        )
        .await;
    assert_ok(&created, "Your token has been created.");
    let secret = text_of(&created.body, "token-secret");
    assert!(secret.starts_with("iam_pat_"), "{secret}");
    let p = s.iam.verify_api_token(&secret).await.unwrap();
    assert_eq!(p.scopes, vec!["reports".to_owned()]);
    // Shown once: the list does not carry it.
    let listed = b.get("/account/tokens").await;
    assert!(!listed.body.contains(&secret));
    assert!(listed.body.contains("deploy"));

    // Another account's token cannot be revoked from here.
    let alice = session_of(&s, "alice", ALICE_PASSWORD).await;
    let theirs = s
        .iam
        .create_api_token(
            &alice,
            "alice's",
            &[],
            s.iam.clock().now().plus(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    let refused = post(
        &mut b,
        "/account/tokens/revoke",
        &[("token_id", &theirs.info.id)],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(s.iam.verify_api_token(theirs.secret.expose()).await.is_ok());

    let revoked = b.submit_to(&listed, "/account/tokens/revoke", &[]).await;
    assert_ok(&revoked, "The token has been revoked.");
    assert!(s.iam.verify_api_token(&secret).await.is_err());
    assert!(revoked.body.contains("You have no API tokens."));
}

#[tokio::test]
async fn connected_apps_are_listed_and_disconnected() {
    let (s, _) = server().await;
    let reg = s
        .register(
            NewClient::confidential("Photo <Album>")
                .redirect_uri("https://photos.example/cb")
                .grants([GrantType::AuthorizationCode])
                .scopes(["profile"]),
        )
        .await;
    let alice = session_of(&s, "alice", ALICE_PASSWORD).await;
    let (_, challenge) = harness::pkce();
    let req = AuthorizeRequest::from_params(&[
        ("response_type".into(), "code".into()),
        ("client_id".into(), reg.client.id.clone()),
        ("redirect_uri".into(), "https://photos.example/cb".into()),
        ("scope".into(), "profile".into()),
        ("code_challenge".into(), challenge),
        ("code_challenge_method".into(), "S256".into()),
    ]);
    let outcome = s.iam.consent_and_authorize(&req, &alice).await.unwrap();
    assert!(matches!(outcome, AuthorizeOutcome::Redirect(_)));

    let mut b = signed_in(&s, "alice", ALICE_PASSWORD).await;
    let page = b.get("/account/apps").await;
    assert_ok(&page, "Photo &lt;Album&gt;");
    assert!(page.body.contains("see your name and username"));
    // Bob has nothing to disconnect, and disconnecting from his browser leaves alice's.
    let mut bob = signed_in(&s, "bob", BOB_PASSWORD).await;
    let bobs = post(
        &mut bob,
        "/account/apps/revoke",
        &[("client_id", &reg.client.id)],
    )
    .await;
    assert!(bobs.status.is_client_error(), "{}", bobs.status);
    assert_eq!(
        s.iam
            .list_consents(Caller::System, &alice.account_id)
            .await
            .unwrap()
            .len(),
        1
    );

    let done = b.submit_to(&page, "/account/apps/revoke", &[]).await;
    assert_ok(&done, "The application has been disconnected.");
    assert!(done.body.contains("No application is connected"));
    assert!(s
        .iam
        .list_consents(Caller::System, &alice.account_id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn approvers_answer_pending_elevation_requests() {
    let (s, _) = server().await;
    let alice = id_of(&s, "alice").await;
    let bob = id_of(&s, "bob").await;
    s.iam
        .grant_role(Caller::System, &alice, "ops-lead")
        .await
        .unwrap();
    s.iam
        .grant_elevatable_role(Caller::System, &bob, "ops")
        .await
        .unwrap();
    let proof = StepUpProof {
        password: Some(BOB_PASSWORD.into()),
        ..StepUpProof::default()
    };
    let mut requests = Vec::new();
    for _ in 0..2 {
        let p = session_of(&s, "bob", BOB_PASSWORD).await;
        match s.iam.elevate(&p, "ops", None, &proof).await.unwrap() {
            ElevationOutcome::Pending { request_id, .. } => requests.push(request_id),
            ElevationOutcome::Active { .. } => panic!("needs approval"),
        }
    }

    // Bob is no approver: no link, and his page lists nothing to answer.
    let mut bobs = signed_in(&s, "bob", BOB_PASSWORD).await;
    let page = bobs.get("/account").await;
    assert!(!page.body.contains("href=\"/account/approvals\""));
    let page = bobs.get("/account/approvals").await;
    assert_ok(&page, "No request is waiting for you.");
    let refused = post(
        &mut bobs,
        "/account/approvals/answer",
        &[("request_id", &requests[0]), ("decision", "approve")],
    )
    .await;
    assert!(refused.status.is_client_error(), "{}", refused.status);

    let mut b = signed_in(&s, "alice", ALICE_PASSWORD).await;
    let page = b.get("/account").await;
    assert!(page.body.contains("href=\"/account/approvals\""));
    let page = b.get("/account/approvals").await;
    assert_ok(
        &page,
        "<strong>bob</strong> asks for the role <code>ops</code>",
    );
    assert_eq!(page.body.matches("value=\"approve\"").count(), 2);
    let approved = post(
        &mut b,
        "/account/approvals/answer",
        &[("request_id", &requests[0]), ("decision", "approve")],
    )
    .await;
    assert_ok(&approved, "The request has been approved.");
    let denied = post(
        &mut b,
        "/account/approvals/answer",
        &[("request_id", &requests[1]), ("decision", "deny")],
    )
    .await;
    assert_ok(&denied, "The request has been denied.");
    assert!(denied.body.contains("No request is waiting for you."));
    let odd = post(
        &mut b,
        "/account/approvals/answer",
        &[("request_id", &requests[1]), ("decision", "maybe")],
    )
    .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_admin_signs_in_and_sees_the_overview() {
    let (s, _) = server().await;
    let mut b = signed_in(&s, "admin", ADMIN_PASSWORD).await;
    let page = b.get("/account").await;
    assert_ok(&page, "<code>admin</code>");
    let out = b.submit_to(&page, "/oauth2/logout", &[]).await;
    assert_ok(&out, "You are signed out.");
    assert_eq!(b.get("/account").await.status, StatusCode::SEE_OTHER);
}

/// Where the passkeys of `s` are used from (`http://localhost:<port>`).
fn passkey_origin<C: Clock>(s: &Server<C>) -> String {
    format!("http://localhost:{}", s.base.rsplit(':').next().unwrap())
}

/// Posts `body` to a JSON endpoint of the pages with the browser's CSRF token in the header.
async fn call(b: &mut Browser, path: &str, body: &Value) -> Page {
    let csrf = b.csrf();
    b.post_json(path, Some(&csrf), &body.to_string()).await
}

/// Adds a passkey labelled `label` for the browser's account, as the passkeys page's script
/// does; the software key.
async fn add_passkey<C: Clock>(s: &Server<C>, b: &mut Browser, label: &str) -> SoftKey {
    let start = call(
        b,
        "/account/passkeys/registration",
        &json!({"label": label}),
    )
    .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let start = start.json();
    let (key, credential) = SoftKey::register(&passkey_origin(s), &start["options"]);
    let path = format!(
        "/account/passkeys/registration/{}",
        start["ceremony"].as_str().unwrap()
    );
    let done = call(b, &path, &credential).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    assert_eq!(done.json()["label"], label);
    key
}

/// Signs in on the login page `page` with `key`, as the sign-in page's script does: a
/// challenge (after `password_first` when given), then the form with the key's answer.
async fn passkey_sign_in(
    b: &mut Browser,
    page: &Page,
    key: &mut SoftKey,
    password_first: Option<(&str, &str)>,
) -> Page {
    let body =
        password_first.map_or_else(|| json!({}), |(u, p)| json!({"username": u, "password": p}));
    let start = call(b, "/oauth2/login/passkey", &body).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let start = start.json();
    let answer = key.answer(&start["options"]).to_string();
    b.submit(
        page,
        &[
            ("passkey_ceremony", start["ceremony"].as_str().unwrap()),
            ("passkey_credential", &answer),
        ],
    )
    .await
}

/// The id of the passkey labelled `label` of `username`.
async fn passkey_id<C: Clock>(s: &Server<C>, username: &str, label: &str) -> String {
    let account = id_of(s, username).await;
    s.iam
        .list_passkeys(Caller::System, &account)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.label == label)
        .unwrap()
        .id
}

#[tokio::test]
async fn passkey_calls_need_the_csrf_header_a_session_and_a_well_formed_body() {
    let (s, _) = server().await;
    let mut b = s.browser();
    b.get("/oauth2/login").await;
    let csrf = b.csrf();
    let label = json!({"label": "x"}).to_string();
    for path in [
        "/account/passkeys/registration",
        "/account/passkeys/registration/pkc_x",
        "/account/passkeys/step-up",
        "/oauth2/login/passkey",
    ] {
        let body = if path.ends_with("registration") {
            label.clone()
        } else {
            "{}".to_owned()
        };
        for sent in [None, Some("A".repeat(43))] {
            let refused = b.post_json(path, sent.as_deref(), &body).await;
            assert_eq!(
                refused.status,
                StatusCode::FORBIDDEN,
                "{path}: {}",
                refused.body
            );
            assert_eq!(refused.json()["error"], "csrf_failed", "{path}");
        }
    }
    // Signed out: the account calls are refused, the sign-in challenge is given.
    for path in [
        "/account/passkeys/registration",
        "/account/passkeys/step-up",
    ] {
        let refused = b.post_json(path, Some(&csrf), &label).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(refused.json()["error"], "not_signed_in");
    }
    let challenge = call(&mut b, "/oauth2/login/passkey", &json!({})).await;
    assert_eq!(challenge.status, StatusCode::OK, "{}", challenge.body);
    assert!(challenge.json()["options"]["publicKey"]["challenge"].is_string());
    let half = call(
        &mut b,
        "/oauth2/login/passkey",
        &json!({"username": "alice"}),
    )
    .await;
    assert_eq!(half.status, StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = call(
        &mut b,
        "/oauth2/login/passkey",
        &json!({"username": "alice", "password": "not it"}),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);

    // Signed in: malformed bodies get typed 4xx answers, and nothing is registered.
    let mut a = signed_in(&s, "alice", ALICE_PASSWORD).await;
    let start = call(
        &mut a,
        "/account/passkeys/registration",
        &json!({"label": "x"}),
    )
    .await;
    let ceremony = start.json()["ceremony"].as_str().unwrap().to_owned();
    let finish = format!("/account/passkeys/registration/{ceremony}");
    let csrf = a.csrf();
    let not_json = a.post_json(&finish, Some(&csrf), "{\"id\":").await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.json()["error"], "malformed_json");
    let not_object = a.post_json(&finish, Some(&csrf), "[1]").await;
    assert_eq!(not_object.status, StatusCode::UNPROCESSABLE_ENTITY);
    let not_credential = a.post_json(&finish, Some(&csrf), "{\"id\":1}").await;
    assert_eq!(
        not_credential.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        not_credential.body
    );
    let empty_label = call(
        &mut a,
        "/account/passkeys/registration",
        &json!({"label": " "}),
    )
    .await;
    assert_eq!(empty_label.status, StatusCode::UNPROCESSABLE_ENTITY);
    let alice = id_of(&s, "alice").await;
    assert!(s
        .iam
        .list_passkeys(Caller::System, &alice)
        .await
        .unwrap()
        .is_empty());
    // A sign-in form naming an unknown ceremony is refused on the page.
    let mut c = s.browser();
    let login = c.get("/oauth2/login").await;
    let refused = c
        .submit(
            &login,
            &[
                ("passkey_ceremony", "pkc_nope"),
                ("passkey_credential", "{}"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("That passkey could not sign you in."));
    assert!(
        !c.cookies.keys().any(|k| k.ends_with("iam_session")),
        "no session was opened"
    );
}

#[tokio::test]
async fn passkeys_are_added_renamed_used_and_removed_through_the_pages() {
    let (s, clock) = server().await;
    let mut alice_tab = signed_in(&s, "alice", ALICE_PASSWORD).await;
    let mut key = add_passkey(&s, &mut alice_tab, "laptop").await;
    let page = alice_tab.get("/account/passkeys").await;
    assert_ok(&page, "laptop");
    assert!(page.body.contains("data-passkey-add"));
    let mut bob = signed_in(&s, "bob", BOB_PASSWORD).await;
    add_passkey(&s, &mut bob, "phone").await;
    let bobs = passkey_id(&s, "bob", "phone").await;

    // Another account's passkey cannot be renamed or removed.
    for (path, extra) in [
        (
            "/account/passkeys/rename",
            vec![("passkey_id", bobs.as_str()), ("label", "mine")],
        ),
        (
            "/account/passkeys/remove",
            vec![("passkey_id", bobs.as_str())],
        ),
    ] {
        let refused = post(&mut alice_tab, path, &extra).await;
        assert!(
            refused.status.is_client_error(),
            "{path}: {}",
            refused.status
        );
        assert!(
            refused
                .body
                .contains("That item does not exist or is not yours."),
            "{path}"
        );
    }
    assert_eq!(passkey_id(&s, "bob", "phone").await, bobs);

    // Renaming one's own.
    let own = passkey_id(&s, "alice", "laptop").await;
    let renamed = post(
        &mut alice_tab,
        "/account/passkeys/rename",
        &[("passkey_id", &own), ("label", "work laptop")],
    )
    .await;
    assert_ok(&renamed, "The passkey has been renamed.");
    assert_eq!(passkey_id(&s, "alice", "work laptop").await, own);

    // Passwordless sign-in continues to the page it came for.
    let mut passwordless = s.browser();
    let login = passwordless
        .get("/oauth2/login?return_to=/account/sessions")
        .await;
    let done = passkey_sign_in(&mut passwordless, &login, &mut key, None).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.header("location"), "/account/sessions");
    assert_ok(&passwordless.get("/account/sessions").await, "passkey, ");

    // The passkey as the second factor after the password.
    let mut two_factor = s.browser();
    let login = two_factor.get("/oauth2/login").await;
    let done = passkey_sign_in(
        &mut two_factor,
        &login,
        &mut key,
        Some(("alice", ALICE_PASSWORD)),
    )
    .await;
    assert_ok(&done, "You are signed in");
    assert_ok(
        &two_factor.get("/account/sessions").await,
        "password + passkey",
    );

    // An old sign-in: registering answers the re-authentication error, the page asks to
    // confirm, and a passkey confirms.
    clock.advance(Duration::from_secs(6 * 60));
    let stale = call(
        &mut alice_tab,
        "/account/passkeys/registration",
        &json!({"label": "x"}),
    )
    .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stale.json()["error"], "insufficient_user_authentication");
    let asked = post(
        &mut alice_tab,
        "/account/passkeys/remove",
        &[("passkey_id", &own)],
    )
    .await;
    assert_eq!(asked.status, StatusCode::UNAUTHORIZED);
    assert!(asked.body.contains("Confirm it is you"));
    assert!(asked.body.contains("data-passkey-step-up"));
    let confirm = alice_tab.get("/account/passkeys?confirm").await;
    assert_ok(&confirm, "Confirm it is you");
    let challenge = call(&mut alice_tab, "/account/passkeys/step-up", &json!({})).await;
    assert_eq!(challenge.status, StatusCode::OK, "{}", challenge.body);
    let challenge = challenge.json();
    let answer = key.answer(&challenge["options"]).to_string();
    let confirmed = alice_tab
        .submit_to(
            &confirm,
            "/account/reauthenticate",
            &[
                ("passkey_ceremony", challenge["ceremony"].as_str().unwrap()),
                ("passkey_credential", &answer),
            ],
        )
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );
    assert_eq!(confirmed.header("location"), "/account/passkeys");

    // Removal: the passkey signs in no more.
    let removed = post(
        &mut alice_tab,
        "/account/passkeys/remove",
        &[("passkey_id", &own)],
    )
    .await;
    assert_ok(&removed, "The passkey has been removed.");
    let mut refused_b = s.browser();
    let login = refused_b.get("/oauth2/login").await;
    let refused = passkey_sign_in(&mut refused_b, &login, &mut key, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("That passkey could not sign you in."));
}
