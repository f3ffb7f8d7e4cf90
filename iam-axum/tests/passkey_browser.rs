//! Passkeys in a real browser: headless Chromium over WebDriver (the harness of
//! `oauth_browser.rs`) with a virtual authenticator (the WebDriver WebAuthn extension).
//! Registers a passkey on the account page, renames it, signs out, signs in with the passkey
//! alone, then with the password and the passkey as second factor, completes an authorization-code + PKCE flow with it (the token's `amr` says so),
//! removes it, and sees a sign-in with it refused. Saves PNG screenshots of the passkeys page
//! and of the sign-in page with its passkey button, at desktop and phone widths, under
//! `$CARGO_TARGET_TMPDIR/screenshots/`.
//!
//! Needs `chromium` and `chromium-driver` (Debian packages). Without them the test is skipped
//! with a message, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;
#[path = "interop/webdriver.rs"]
mod webdriver;

use harness::{pkce, query_params, start, Options, ALICE_PASSWORD};
use iam_core::{Caller, GrantType, NewClient, SystemClock};
use webdriver::{browser_available, Driver, Session};

/// The viewports screenshots are taken at: name, width, height, phone.
const VIEWPORTS: [(&str, u32, u32, bool); 2] =
    [("desktop", 1280, 800, false), ("phone", 375, 812, true)];

/// Screenshots of the page the browser shows as `name` at both widths (nothing overflows
/// sideways), leaving the desktop width on.
async fn snap_both(session: &Session<'_>, name: &str) {
    for (width_name, width, height, mobile) in VIEWPORTS {
        session.viewport(width, height, mobile).await;
        let widths = session
            .run("return [document.documentElement.scrollWidth, window.innerWidth]")
            .await;
        let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
        assert!(scroll <= inner, "{name} overflows at {width_name}");
        session.snap(&format!("{name}-{width_name}")).await;
    }
    session.viewport(1280, 800, false).await;
}

/// Signs out with the button in the account pages' header.
async fn sign_out(session: &Session<'_>) {
    session
        .click("header form[action='/oauth2/logout'] button")
        .await;
    // The account page answers until the sign-out page replaces it.
    session.wait_for_text("You are signed out.").await;
}

/// Clicks "Sign in with a passkey" on the sign-in page the browser shows.
async fn passkey_sign_in(session: &Session<'_>) {
    session
        .wait_for("[data-passkey-login] [data-passkey-button]")
        .await;
    assert!(
        session.displayed("[data-passkey-login]").await,
        "the script shows the passkey button"
    );
    session
        .click("[data-passkey-login] [data-passkey-button]")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn passkeys_in_headless_chromium() {
    if !browser_available() {
        return;
    }
    let s = start(
        SystemClock,
        Options {
            passkeys: true,
            ..Options::default()
        },
    )
    .await;
    // Passkeys are bound to the RP id `localhost`: the browser uses that name.
    let port = s.base.rsplit(':').next().unwrap().to_owned();
    let site = format!("http://localhost:{port}");
    let url = |path: &str| format!("{site}{path}");
    let alice = s
        .iam
        .account_by_username(Caller::System, "alice")
        .await
        .unwrap()
        .unwrap()
        .id;

    let driver = Driver::start().await;
    let session = driver.session().await;
    let authenticator = session.virtual_authenticator().await;
    session.viewport(1280, 800, false).await;

    // Sign in with the password, coming back to the passkeys page.
    session.goto(&url("/account/passkeys")).await;
    session.wait_for_url(&url("/oauth2/login?return_to=")).await;
    session.wait_for("[data-passkey-login]").await;
    snap_both(&session, "signin-passkey").await;
    session.sign_in("alice", ALICE_PASSWORD).await;
    session.wait_for_url(&url("/account/passkeys")).await;
    session.wait_for("[data-passkey-add] form").await;
    assert!(session.text().await.contains("You have no passkeys."));

    // Add a passkey: the script runs the ceremony and reloads the page.
    session.clear("#passkey-label").await;
    session.type_into("#passkey-label", "laptop").await;
    session
        .click("[data-passkey-add] button[type=submit]")
        .await;
    session.wait_for("p.notice").await;
    assert!(session
        .text()
        .await
        .contains("Your passkey has been added."));
    assert!(session.text().await.contains("laptop"));
    let stored = s.iam.list_passkeys(Caller::System, &alice).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].label, "laptop");
    let held = session.authenticator_credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        held[0]["isResidentCredential"], true,
        "a discoverable passkey"
    );

    // Rename it.
    session.clear("form.rename input[name=label]").await;
    session
        .type_into("form.rename input[name=label]", "work laptop")
        .await;
    session.click("form.rename button").await;
    session.wait_for("p.notice").await;
    assert!(session
        .text()
        .await
        .contains("The passkey has been renamed."));
    let stored = s.iam.list_passkeys(Caller::System, &alice).await.unwrap();
    assert_eq!(stored[0].label, "work laptop");
    snap_both(&session, "account-passkeys-registered").await;

    // Sign out, then sign in with the passkey alone, back to the passkeys page.
    sign_out(&session).await;
    session.goto(&url("/account/passkeys")).await;
    session.wait_for_url(&url("/oauth2/login?return_to=")).await;
    passkey_sign_in(&session).await;
    session.wait_for_url(&url("/account/passkeys")).await;
    session.wait_for("main h1").await;
    let text = session.text().await;
    assert!(text.contains("Signed in as alice"), "{text}");
    assert!(text.contains("work laptop"), "{text}");
    let stored = s.iam.list_passkeys(Caller::System, &alice).await.unwrap();
    assert!(stored[0].last_used_at.is_some(), "the sign-in used it");

    // The passkey as the second factor after the password.
    sign_out(&session).await;
    session.goto(&url("/account/sessions")).await;
    session.wait_for("[data-passkey-second]").await;
    session.type_into("#username", "alice").await;
    session.type_into("#password", ALICE_PASSWORD).await;
    session.click("[data-passkey-second]").await;
    session.wait_for_url(&url("/account/sessions")).await;
    session.wait_for("main h1").await;
    let text = session.text().await;
    assert!(text.contains("password + passkey"), "{text}");

    // Complete an authorization-code + PKCE flow, signing in with the passkey.
    sign_out(&session).await;
    let redirect = url("/test/callback");
    let reg = s
        .register(
            NewClient::confidential("Passkey app")
                .redirect_uri(redirect.clone())
                .grants([GrantType::AuthorizationCode])
                .scopes(["profile"]),
        )
        .await;
    let (verifier, challenge) = pkce();
    session
        .goto(&format!(
            "{}?response_type=code&client_id={}&redirect_uri={}&scope=profile&state=pk&code_challenge={challenge}&code_challenge_method=S256",
            url("/oauth2/authorize"),
            reg.client.id,
            harness::enc(&redirect)
        ))
        .await;
    session.wait_for("#username").await;
    assert!(session.text().await.contains("Passkey app"));
    passkey_sign_in(&session).await;
    session.wait_for("button[value=allow]").await;
    session.click("button[value=allow]").await;
    let landed = session.wait_for_url(&redirect).await;
    let q = query_params(&landed);
    assert_eq!(q["state"], "pk");
    let tok = s.exchange(&reg, &redirect, &q["code"], &verifier).await;
    let p = s
        .iam
        .verify(tok["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(p.account_id, alice);
    assert!(p.amr.iter().any(|m| m == "user"), "{:?}", p.amr);
    assert!(
        p.amr.iter().any(|m| m == "hwk" || m == "swk"),
        "{:?}",
        p.amr
    );
    assert!(!p.amr.iter().any(|m| m == "pwd"), "{:?}", p.amr);

    // Remove the passkey (the passkey sign-in was recent), then a sign-in with it is refused.
    session.goto(&url("/account/passkeys")).await;
    session.wait_for("main h1").await;
    session
        .click("form[action='/account/passkeys/remove'] button")
        .await;
    session.wait_for("p.notice").await;
    assert!(session
        .text()
        .await
        .contains("The passkey has been removed."));
    assert!(s
        .iam
        .list_passkeys(Caller::System, &alice)
        .await
        .unwrap()
        .is_empty());
    snap_both(&session, "account-passkeys-empty").await;
    sign_out(&session).await;
    session.goto(&url("/oauth2/login")).await;
    passkey_sign_in(&session).await;
    session.wait_for("p.error").await;
    let text = session.text().await;
    assert!(
        text.contains("That passkey could not sign you in."),
        "{text}"
    );
    assert!(session.url().await.starts_with(&url("/oauth2/login")));
    session.goto(&url("/account")).await;
    session.wait_for_url(&url("/oauth2/login?return_to=")).await;
    session.close().await;
}
