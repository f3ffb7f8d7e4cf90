//! Invitations over HTTP: the REST routes, and a link followed through the page (form posts
//! with the CSRF token and its cookie) to a signed-in account that is offered a passkey, then
//! refused a second time.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;

use common::{start_with_oauth, Server};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A page fetched or posted as a browser would, with the cookies it set.
struct Page {
    status: StatusCode,
    csp: String,
    cookies: Vec<String>,
    body: String,
}

async fn browse(
    s: &Server,
    method: Method,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> Page {
    let mut req = s
        .client
        .request(method, s.url(path))
        .header("accept", "text/html")
        .header("cookie", cookie);
    if !form.is_empty() {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencoding(v)))
            .collect::<Vec<_>>()
            .join("&");
        req = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let csp = r
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    Page {
        status,
        csp,
        cookies,
        body: r.text().await.unwrap(),
    }
}

fn urlencoding(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the hidden `csrf` field.
fn csrf(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    body[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn invitations_are_created_listed_and_revoked_over_rest() {
    let s = start_with_oauth(|_| {}).await;
    let admin = s.admin_token().await;
    let made = s
        .post(
            "/iam/invitations",
            Some(&admin),
            json!({ "roles": ["reports"], "expires_in": 3600 }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert!(made.body["secret"]
        .as_str()
        .unwrap()
        .starts_with("iam_inv_"));
    let id = made.body["invitation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(made.body["invitation"]["state"], "open");
    assert_eq!(made.body["invitation"]["roles"], json!(["reports"]));

    let list = s.get("/iam/invitations", &admin).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["invitations"][0]["id"], id.as_str());
    assert!(list.body["invitations"][0].get("secret").is_none());

    let gone = s
        .call(
            Method::DELETE,
            &format!("/iam/invitations/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let list = s.get("/iam/invitations", &admin).await;
    assert_eq!(list.body["invitations"][0]["state"], "revoked");

    // Too long, unknown fields, and callers without the right are refused with typed codes.
    s.post(
        "/iam/invitations",
        Some(&admin),
        json!({ "expires_in": 999_999_999 }),
    )
    .await
    .assert_error(422, "duration_too_long");
    s.post("/iam/invitations", Some(&admin), json!({ "rolez": [] }))
        .await
        .assert_error(422, "invalid_body");
    s.post("/iam/invitations", None, json!({}))
        .await
        .assert_error(401, "missing_token");
    s.call(
        Method::DELETE,
        "/iam/invitations/inv_nope",
        Some(&admin),
        None,
    )
    .await
    .assert_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_is_followed_to_a_signed_in_account_and_cannot_be_used_twice() {
    let s = start_with_oauth(|c| {
        c.passkeys = Some(iam_core::PasskeyConfig::new(
            "example.com",
            "https://login.example.com",
        ));
    })
    .await;
    let admin = s.admin_token().await;
    let made = s
        .post(
            "/iam/invitations",
            Some(&admin),
            json!({ "roles": ["reports"] }),
        )
        .await;
    let path = format!("/invite/{}", made.body["secret"].as_str().unwrap());

    let form = browse(&s, Method::GET, &path, "", &[]).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.csp.contains("default-src 'none'"), "{}", form.csp);
    assert!(!form.body.contains("<script"));
    let cookie = form.cookies.join("; ");
    let token = csrf(&form.body);

    // Without the CSRF token nothing happens.
    let refused = browse(
        &s,
        Method::POST,
        &path,
        &cookie,
        &[
            ("username", "friend"),
            ("password", "a long enough password"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // A short password is refused on the page, the username kept (escaped).
    let weak = browse(
        &s,
        Method::POST,
        &path,
        &cookie,
        &[("csrf", &token), ("username", "friend"), ("password", "x")],
    )
    .await;
    assert_eq!(
        weak.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        weak.body
    );
    assert!(weak.body.contains("value=\"friend\""));

    let done = browse(
        &s,
        Method::POST,
        &path,
        &cookie,
        &[
            ("csrf", &token),
            ("username", "friend"),
            ("password", "a long enough password"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    assert!(
        done.cookies
            .iter()
            .any(|c| c.contains("iam_session") && !c.ends_with('=')),
        "{:?}",
        done.cookies
    );
    // With passkeys on, the welcome page offers adding one (the account needs its password
    // first: iam-core creates invited accounts with one).
    assert!(
        done.body
            .contains("<a href=\"/account/passkeys\" data-add-passkey>"),
        "{}",
        done.body
    );
    let friend = s.login("friend", "a long enough password").await;
    assert!(friend["access_token"].is_string());

    // The link is used: the page says so with 410, and a second post creates nothing.
    let again = browse(&s, Method::GET, &path, "", &[]).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("already been used"));
    let twice = browse(
        &s,
        Method::POST,
        &path,
        &cookie,
        &[
            ("csrf", &token),
            ("username", "friend2"),
            ("password", "a long enough password"),
        ],
    )
    .await;
    assert_eq!(twice.status, StatusCode::GONE, "{}", twice.body);
    let accounts = s.get("/iam/accounts", &admin).await;
    assert_eq!(accounts.body["accounts"].as_array().unwrap().len(), 2);

    // A made-up link is a plain 404 page, with markup in it escaped.
    let unknown = browse(&s, Method::GET, "/invite/%3Cb%3Ex", "", &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(!unknown.body.contains("<b>x"));
}
