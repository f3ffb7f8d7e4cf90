//! JOSE keys across instances sharing a store: lazy creation, rotation, reload and the JWKS.

mod common;

use std::sync::Arc;
use std::time::Duration;

use iam_core::{
    AuditKind, AuditQuery, Caller, Iam, JwsAlg, ManualClock, MemoryStore, SecureRandom, Store,
};
use serde_json::Value;

async fn open(store: &Arc<MemoryStore>, clock: &ManualClock) -> Iam<Arc<MemoryStore>, ManualClock> {
    Iam::builder(Arc::clone(store), common::config(42))
        .clock(clock.clone())
        .rng(SecureRandom::from_entropy())
        .open()
        .await
        .expect("open")
}

/// The kids of the JOSE keys (those not named `k4.pid.…`) in a JWK set, by algorithm.
fn jose_kids(jwks: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| !k["kid"].as_str().unwrap_or("").starts_with("k4.pid."))
        .map(|k| {
            assert_eq!(k["use"], "sig", "{k}");
            (
                k["alg"].as_str().expect("alg").to_owned(),
                k["kid"].as_str().expect("kid").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn jose_events(store: &Arc<MemoryStore>) -> usize {
    let q = AuditQuery {
        kind: Some(AuditKind::SigningKeyRotated),
        ..AuditQuery::default()
    };
    store
        .audit(&q)
        .await
        .expect("audit")
        .iter()
        .filter(|e| e.draft.detail.contains_key("alg"))
        .count()
}

#[tokio::test]
async fn instances_share_jose_keys_and_see_each_others_rotations() {
    let store = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(common::START);
    let one = open(&store, &clock).await;
    let two = open(&store, &clock).await;
    assert_eq!(jose_events(&store).await, 0, "no keys made at open");

    one.ensure_jose_keys().await.expect("ensure");
    assert_eq!(jose_events(&store).await, 3);
    let first = jose_kids(&one.jwks().await.expect("jwks"));
    let algs: Vec<&str> = first.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(algs, ["ES256", "EdDSA", "RS256"]);

    // The other instance finds them in the store rather than making its own.
    two.ensure_jose_keys().await.expect("ensure two");
    assert_eq!(jose_kids(&two.jwks().await.expect("jwks")), first);
    assert_eq!(jose_events(&store).await, 3);

    // Rotation on one; the other sees it after a reload. Old and new keys are published.
    clock.advance(Duration::from_secs(5));
    one.rotate_signing_key(Caller::System)
        .await
        .expect("rotate");
    assert_eq!(jose_events(&store).await, 6);
    two.reload_keys().await.expect("reload");
    let rotated = jose_kids(&two.jwks().await.expect("jwks"));
    assert_eq!(rotated, jose_kids(&one.jwks().await.expect("jwks")));
    assert_eq!(rotated.len(), 6);
    assert!(first.iter().all(|k| rotated.contains(k)));
    let jwks = two.jwks().await.expect("jwks");
    assert_eq!(jwks["keys"][0]["kid"], one.active_key_id().as_str());

    // A new instance opened on the store loads the keys as they are.
    let three = open(&store, &clock).await;
    assert_eq!(jose_kids(&three.jwks().await.expect("jwks")), rotated);

    // After the retention window (the longest token lifetime) the retired keys leave the set;
    // each algorithm keeps one.
    let cfg = common::config(42);
    clock.advance(
        cfg.access_token_ttl
            .max(cfg.service_token_ttl)
            .max(cfg.oauth.access_token_ttl),
    );
    three.reload_keys().await.expect("reload");
    let later = jose_kids(&three.jwks().await.expect("jwks"));
    assert_eq!(later.len(), 3);
    assert!(later.iter().all(|k| !first.contains(k)));
    for alg in JwsAlg::ALL {
        assert!(later.iter().any(|(a, _)| a == alg.as_str()));
    }
    assert_eq!(jose_events(&store).await, 6);
}
