//! The account pages in a real browser (headless Chromium over WebDriver, the harness of
//! `oauth_browser.rs`): signs in through the login page, visits every account page at desktop
//! (1280x800) and phone (375x812) widths, checks that nothing overflows sideways, saves PNG
//! screenshots under `$CARGO_TARGET_TMPDIR/screenshots/`, enrols TOTP by reading the key off
//! the page, creates and revokes an API token, and signs out another session. The static
//! script runs under the pages' policy (it reveals the copy button).
//!
//! Needs `chromium` and `chromium-driver` (Debian packages). Without them the test is skipped
//! with a message, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;
#[path = "interop/webdriver.rs"]
mod webdriver;

use std::time::Duration;

use harness::{start, Options, ALICE_PASSWORD};
use iam_core::config::{ElevationPolicy, StepUp};
use iam_core::{Caller, Config, LoginRequest, SystemClock, TotpStatus};
use serde_json::json;
use webdriver::browser_available;

/// The viewports screenshots are taken at: name, width, height, phone.
const VIEWPORTS: [(&str, u32, u32, bool); 2] =
    [("desktop", 1280, 800, false), ("phone", 375, 812, true)];

/// The account pages, by screenshot name.
const PAGES: [(&str, &str); 7] = [
    ("overview", "/account"),
    ("security", "/account/security"),
    ("passkeys", "/account/passkeys"),
    ("sessions", "/account/sessions"),
    ("tokens", "/account/tokens"),
    ("apps", "/account/apps"),
    ("approvals", "/account/approvals"),
];

/// Elevating to `ops` needs the approval of a holder of `ops-lead` (so alice, holding it,
/// sees the Approvals page).
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

/// The current UNIX time in seconds.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread")]
async fn account_pages_in_headless_chromium() {
    if !browser_available() {
        return;
    }
    let s = start(
        SystemClock,
        Options {
            configure: ops_needs_approval,
            ..Options::default()
        },
    )
    .await;
    let alice = s
        .iam
        .account_by_username(Caller::System, "alice")
        .await
        .unwrap()
        .unwrap()
        .id;
    s.iam
        .grant_role(Caller::System, &alice, "ops-lead")
        .await
        .unwrap();
    // Alice is also signed in elsewhere.
    let elsewhere = s
        .iam
        .login(&LoginRequest::password("alice", ALICE_PASSWORD))
        .await
        .unwrap();
    let elsewhere = s
        .iam
        .verify(elsewhere.tokens.access_token.expose())
        .await
        .unwrap();

    let driver = webdriver::Driver::start().await;
    let session = driver.session().await;
    session.viewport(1280, 800, false).await;

    // Not signed in: the login page, then back to the page asked for.
    session.goto(&s.url("/account/sessions")).await;
    session
        .wait_for_url(&s.url("/oauth2/login?return_to="))
        .await;
    session.sign_in("alice", ALICE_PASSWORD).await;
    session.wait_for_url(&s.url("/account/sessions")).await;
    session.wait_for("main h1").await;

    // Sign out the other session.
    assert!(session.text().await.contains("Another sign-in"));
    session
        .click("form[action='/account/sessions/revoke'] button")
        .await;
    session.wait_for("p.notice").await;
    assert!(session
        .text()
        .await
        .contains("The session has been signed out."));
    let other = s.iam.session(&elsewhere.session_id).await.unwrap();
    assert!(other.revoked_at.is_some(), "the other session ended");

    // Enrol TOTP: read the key off the page, confirm with a computed code.
    session.goto(&s.url("/account/security")).await;
    session
        .click("form[action='/account/security/totp/enrol'] button")
        .await;
    session.wait_for("#totp-secret").await;
    assert!(session.displayed(".qr svg").await, "the QR code shows");
    for (name, width, height, mobile) in VIEWPORTS {
        session.viewport(width, height, mobile).await;
        session
            .snap(&format!("account-totp-enrolment-{name}"))
            .await;
    }
    session.viewport(1280, 800, false).await;
    let secret = session.text_of("#totp-secret").await;
    let totp =
        totp_rs::TOTP::from_url_unchecked(format!("otpauth://totp/iam:alice?secret={secret}"))
            .unwrap();
    session
        .type_into("#totp-code", &totp.generate(unix_now()))
        .await;
    session
        .click("form[action='/account/security/totp/confirm'] button")
        .await;
    session.wait_for("p.notice").await;
    assert!(session
        .text()
        .await
        .contains("Your authenticator app is on."));
    let account = s.iam.account(Caller::System, &alice).await.unwrap();
    assert_eq!(account.totp, TotpStatus::On);

    // Create an API token: its secret shows once, with a copy button the script reveals.
    session.goto(&s.url("/account/tokens")).await;
    session.type_into("#label", "laptop").await;
    session
        .click("form[action='/account/tokens/create'] button[type=submit]")
        .await;
    session.wait_for("#token-secret").await;
    let token = session.text_of("#token-secret").await;
    assert!(s.iam.verify_api_token(&token).await.is_ok());
    assert!(
        session.displayed("button[data-copy]").await,
        "the static script ran under the policy"
    );
    for (name, width, height, mobile) in VIEWPORTS {
        session.viewport(width, height, mobile).await;
        session.snap(&format!("account-token-created-{name}")).await;
    }
    session.viewport(1280, 800, false).await;
    session
        .click("form[action='/account/tokens/revoke'] button")
        .await;
    session.wait_for("p.notice").await;
    assert!(session.text().await.contains("The token has been revoked."));
    assert!(s.iam.verify_api_token(&token).await.is_err());

    // Every page at both widths: nothing overflows sideways; a screenshot of each.
    for (name, width, height, mobile) in VIEWPORTS {
        session.viewport(width, height, mobile).await;
        for (page, path) in PAGES {
            session.goto(&s.url(path)).await;
            session.wait_for("main h1").await;
            let widths = session
                .run("return [document.documentElement.scrollWidth, window.innerWidth]")
                .await;
            let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
            assert_eq!(inner, u64::from(width), "{page} at {name}");
            assert!(
                scroll <= inner,
                "{page} overflows at {name}: {scroll} > {inner}"
            );
            session.snap(&format!("account-{page}-{name}")).await;
        }
    }

    // Keyboard: Tab reaches the skip link first, which then shows on screen.
    session.goto(&s.url("/account")).await;
    session.wait_for("main h1").await;
    session
        .post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
                { "type": "keyDown", "value": "\u{E004}" },
                { "type": "keyUp", "value": "\u{E004}" },
            ]}]}),
        )
        .await;
    let focused = session
        .run(
            "const e = document.activeElement; \
return [e.className, e.getAttribute('href'), e.getBoundingClientRect().left >= 0];",
        )
        .await;
    assert_eq!(focused, json!(["skip", "#main", true]), "{focused}");
    session.close().await;
}
