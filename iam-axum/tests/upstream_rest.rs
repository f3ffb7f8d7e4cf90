//! The REST side of upstream identities: `GET /accounts/{id}/upstream-links` and
//! `DELETE /accounts/{id}/upstream-links/{link}`, with who may use them. (The link itself is
//! made through iam-core here; tests/upstream_login.rs makes links through the pages.)

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;

use common::ADMIN_PASSWORD;
use iam_core::upstream::SealedClientSecret;
use iam_core::{
    Caller, NewAccount, SecretString, UpstreamClaims, UpstreamOutcome, UpstreamProvider,
};
use reqwest::{Method, StatusCode};

const ISSUER: &str = "https://upstream.example";

#[tokio::test]
async fn links_are_listed_and_unlinked_by_their_account_or_an_admin() {
    let s = common::start_with_oauth(|c| {
        let secret = SealedClientSecret::seal(&c.master_key, "corp", &SecretString::new("s"));
        c.upstream = vec![UpstreamProvider::new(
            "corp",
            "Corp",
            ISSUER,
            "iam",
            secret.unwrap(),
        )];
    })
    .await;
    for name in ["bea", "cid"] {
        s.iam
            .create_account(NewAccount::human(name, ADMIN_PASSWORD), Caller::System)
            .await
            .unwrap();
    }
    let token = |name: &'static str| {
        let s = &s;
        async move {
            s.login(name, ADMIN_PASSWORD).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let bea = token("bea").await;
    let bea_who = s.iam.verify(&bea).await.unwrap();
    // Bea links an upstream identity (the core's steps the pages take).
    let start = s
        .iam
        .begin_upstream_link(&bea_who, "corp", None)
        .await
        .unwrap();
    let pending = s
        .iam
        .take_upstream_attempt("corp", start.state.expose(), Some(start.binding.expose()))
        .await
        .unwrap()
        .unwrap();
    let claims = UpstreamClaims {
        issuer: ISSUER.into(),
        subject: "bea-upstream".into(),
        username: None,
        email: None,
        email_verified: false,
        name: None,
        groups: vec![],
        acr: None,
    };
    let outcome = s
        .iam
        .complete_upstream_login(&pending, &claims, Some(&bea_who))
        .await
        .unwrap();
    let UpstreamOutcome::Linked(link) = outcome else {
        panic!("linked: {outcome:?}");
    };

    let path = format!("/iam/accounts/{}/upstream-links", bea_who.account_id);
    let listed = s.get(&path, &bea).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["links"][0]["id"], link.id.as_str());
    assert_eq!(listed.body["links"][0]["subject"], "bea-upstream");
    assert_eq!(listed.body["links"][0]["issuer"], ISSUER);
    assert_eq!(listed.body["links"][0]["via"], "user");
    let admin = s.admin_token().await;
    assert_eq!(
        s.get(&path, &admin).await.body["links"][0]["id"],
        link.id.as_str()
    );
    // Another account may neither read nor unlink them.
    let cid = token("cid").await;
    s.get(&path, &cid).await.assert_error(403, "not_permitted");
    let one = format!("{path}/{}", link.id);
    s.call(Method::DELETE, &one, Some(&cid), None)
        .await
        .assert_error(403, "not_permitted");
    let gone = s.call(Method::DELETE, &one, Some(&bea), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    assert_eq!(
        s.get(&path, &bea).await.body["links"],
        serde_json::json!([])
    );
    s.call(Method::DELETE, &one, Some(&admin), None)
        .await
        .assert_error(404, "not_found");
}
