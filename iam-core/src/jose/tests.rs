//! Tests of the JOSE keys and JWTs: vectors, round trips, third-party verification through the
//! JWKS alone, refusals, rotation and lazy creation.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use proptest::prelude::*;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::keys::{self, JoseRing, PublicJwk, StoredJoseKey};
use super::{jwt, JwsAlg, JwtRefusal};
use crate::audit::{AuditKind, AuditQuery};
use crate::clock::{ManualClock, Timestamp};
use crate::config::Config;
use crate::error::Error;
use crate::iam::Iam;
use crate::password::PasswordPolicy;
use crate::random::SecureRandom;
use crate::secret::MasterKey;
use crate::store::{ListQuery, MemoryStore, Record, RecordKind, Store};
use crate::Caller;

const START: Timestamp = Timestamp::from_secs(1_767_225_600);

fn config() -> Config {
    let mut config = Config::new(MasterKey::from_bytes([9; 32]));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config.issuer = "https://iam.example".into();
    config
}

type TestIam = Iam<Arc<MemoryStore>, ManualClock>;

async fn open(store: Arc<MemoryStore>, clock: ManualClock) -> TestIam {
    Iam::builder(store, config())
        .clock(clock)
        .open()
        .await
        .expect("open")
}

async fn iam() -> (TestIam, ManualClock) {
    let clock = ManualClock::new(START);
    (
        open(Arc::new(MemoryStore::new()), clock.clone()).await,
        clock,
    )
}

/// One RSA private key for the store-free tests (generation is slow).
fn rsa_private() -> &'static [u8] {
    static KEY: OnceLock<Zeroizing<Vec<u8>>> = OnceLock::new();
    KEY.get_or_init(|| {
        keys::generate_private(JwsAlg::Rs256, &SecureRandom::from_seed([5; 32])).expect("rsa")
    })
}

/// A record for a fresh key of `alg` (the shared RSA key for RS256).
fn record(alg: JwsAlg, sealer: &crate::secret::Sealer, now: Timestamp) -> Record {
    let rng = SecureRandom::from_entropy();
    let private = match alg {
        JwsAlg::Rs256 => Zeroizing::new(rsa_private().to_vec()),
        _ => keys::generate_private(alg, &rng).expect("key"),
    };
    keys::key_record(alg, &private, &rng, sealer, now).expect("record")
}

/// A ring of one key per algorithm, and the records it was built from.
fn ring() -> (JoseRing, Vec<Record>) {
    let sealer = MasterKey::from_bytes([2; 32]).sealer();
    let records: Vec<Record> = JwsAlg::ALL
        .into_iter()
        .map(|a| record(a, &sealer, START))
        .collect();
    let ring = JoseRing::from_records(&records, &sealer, START, Duration::from_secs(60), None)
        .expect("ring");
    (ring, records)
}

fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
}

fn header_of(token: &str) -> Value {
    let h = token.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).expect("b64")).expect("json")
}

/// Verifies `token` as a third party would: the key picked from `jwks` by kid, decoded with
/// jsonwebtoken (an independent implementation), no expiry or audience rules.
fn third_party_verify(jwks: &Value, token: &str) -> jsonwebtoken::errors::Result<Value> {
    let header = jsonwebtoken::decode_header(token)?;
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("kid published");
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).expect("jwk");
    let mut v = Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    Ok(jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(&jwk)?, &v)?.claims)
}

#[test]
fn algorithm_names_round_trip_exactly() {
    for alg in JwsAlg::ALL {
        assert_eq!(JwsAlg::parse(alg.as_str()), Some(alg));
        let json = serde_json::to_string(&alg).expect("json");
        assert_eq!(json, format!("\"{}\"", alg.as_str()));
        assert_eq!(serde_json::from_str::<JwsAlg>(&json).ok(), Some(alg));
    }
    for other in ["none", "HS256", "rs256", "EDDSA", "RS384", ""] {
        assert_eq!(JwsAlg::parse(other), None, "{other}");
    }
}

/// RFC 7638 §3.1: the thumbprint of the RFC 7517 Appendix A.1 RSA key.
#[test]
fn thumbprint_matches_the_rfc7638_vector() {
    let jwk = PublicJwk::Rsa {
        n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
        e: "AQAB".into(),
    };
    assert_eq!(
        jwk.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn every_algorithm_round_trips_and_third_parties_verify_with_the_published_keys() {
    let (ring, records) = ring();
    let jwks = json!({ "keys": ring.published() });
    assert_eq!(ring.published().len(), 3);
    for (alg, record) in JwsAlg::ALL.into_iter().zip(&records) {
        let signer = ring.signer(alg).expect("signer");
        assert_eq!(signer.kid, record.id);
        let claims = json!({ "iss": "https://iam.example", "sub": "acc_1", "n": 7 });
        let token = jwt::sign(&signer, alg, "JWT", &claims).expect("sign");
        assert_eq!(
            header_of(&token),
            json!({ "alg": alg.as_str(), "kid": record.id, "typ": "JWT" })
        );
        let back = jwt::verify(&ring, &token, "https://iam.example", None).expect("verify");
        assert_eq!(Value::Object(back), claims);
        assert_eq!(
            third_party_verify(&jwks, &token).expect("third party"),
            claims
        );

        // The published JWK is complete, and its thumbprint is its kid.
        let published = jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == record.id.as_str())
            .expect("published");
        assert_eq!(published["alg"], alg.as_str());
        assert_eq!(published["use"], "sig");
        let members: PublicJwk = serde_json::from_value(published.clone()).expect("members");
        assert_eq!(members.thumbprint(), record.id);
        let expected_kty = match alg {
            JwsAlg::Rs256 => "RSA",
            JwsAlg::Es256 => "EC",
            JwsAlg::EdDsa => "OKP",
        };
        assert_eq!(published["kty"], expected_kty);
    }
    assert!(jwt::sign(
        &ring.signer(JwsAlg::EdDsa).expect("s"),
        JwsAlg::EdDsa,
        "JWT",
        &json!([1])
    )
    .is_err());
}

#[test]
fn tokens_iam_did_not_sign_are_refused_with_the_right_reason() {
    let (ring, records) = ring();
    let iss = "https://iam.example";
    let verify = |t: &str| jwt::verify(&ring, t, iss, None);
    let claims = json!({ "iss": iss, "sub": "acc_1" });
    let ed_kid = records[2].id.clone();
    let rsa_kid = records[0].id.clone();

    // alg "none", with and without a signature.
    let body = b64json(&claims);
    for alg in ["none", "None", "NONE"] {
        let h = b64json(&json!({ "alg": alg, "kid": ed_kid }));
        assert_eq!(
            verify(&format!("{h}.{body}.")),
            Err(JwtRefusal::UnsupportedAlg)
        );
    }
    // HS256 with the RSA public key (as published) as the HMAC secret.
    let published = serde_json::to_vec(&ring.published()[0]).expect("json");
    for secret in [published.as_slice(), rsa_kid.as_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(rsa_kid.clone());
        let forged = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret))
            .expect("hs256");
        assert_eq!(verify(&forged), Err(JwtRefusal::UnsupportedAlg));
    }
    // A foreign Ed25519 key: under its own kid, and claiming ours.
    let foreign = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
        .expect("foreign");
    let foreign = EncodingKey::from_ed_der(foreign.as_ref());
    for (kid, refusal) in [
        ("foreign".to_owned(), JwtRefusal::UnknownKey),
        (ed_kid.clone(), JwtRefusal::BadSignature),
    ] {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid);
        let t = jsonwebtoken::encode(&header, &claims, &foreign).expect("foreign");
        assert_eq!(verify(&t), Err(refusal));
    }
    let mut no_kid = Header::new(Algorithm::EdDSA);
    no_kid.kid = None;
    let t = jsonwebtoken::encode(&no_kid, &claims, &foreign).expect("no kid");
    assert_eq!(verify(&t), Err(JwtRefusal::UnknownKey));

    let ed = ring.signer(JwsAlg::EdDsa).expect("ed");
    let good = jwt::sign(&ed, JwsAlg::EdDsa, "JWT", &claims).expect("sign");
    assert!(verify(&good).is_ok());
    // A type is required only when asked for, and then exactly.
    assert!(jwt::verify(&ring, &good, iss, Some("JWT")).is_ok());
    assert_eq!(
        jwt::verify(&ring, &good, iss, Some("at+jwt")),
        Err(JwtRefusal::WrongType)
    );
    // A tampered payload.
    let mut parts: Vec<&str> = good.split('.').collect();
    let tampered = b64json(&json!({ "iss": iss, "sub": "acc_admin" }));
    parts[1] = &tampered;
    assert_eq!(verify(&parts.join(".")), Err(JwtRefusal::BadSignature));
    // Our EdDSA key's kid with the header claiming ES256 (an algorithm switch).
    let switched = format!(
        "{}.{}",
        b64json(&json!({ "alg": "ES256", "kid": ed_kid })),
        good.split_once('.').expect("dot").1
    );
    assert_eq!(verify(&switched), Err(JwtRefusal::UnknownKey));
    // A critical extension.
    let crit = format!(
        "{}.{}",
        b64json(&json!({ "alg": "EdDSA", "kid": ed_kid, "crit": ["exp"], "exp": 1 })),
        good.split_once('.').expect("dot").1
    );
    assert_eq!(verify(&crit), Err(JwtRefusal::Malformed));
    // Another issuer, or none.
    for claims in [
        json!({ "iss": "https://evil.example" }),
        json!({ "sub": "x" }),
        json!({ "iss": 1 }),
    ] {
        let t = jwt::sign(&ed, JwsAlg::EdDsa, "JWT", &claims).expect("sign");
        assert_eq!(verify(&t), Err(JwtRefusal::WrongIssuer));
    }
    // Shapes that are not a JWS.
    for t in [
        "",
        ".",
        "..",
        "a.b",
        "a.b.c.d",
        &format!("{good}."),
        &format!("{good}=="),
    ] {
        assert_eq!(verify(t), Err(JwtRefusal::Malformed), "{t}");
    }
    assert_eq!(
        verify(&"a".repeat(jwt::MAX_JWT_LEN + 1)),
        Err(JwtRefusal::Malformed)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// Arbitrary input, raw or shaped like a JWS, is refused without panicking.
    #[test]
    fn garbage_never_verifies_nor_panics(
        raw in ".{0,200}",
        header in proptest::collection::vec(any::<u8>(), 0..80),
        payload in proptest::collection::vec(any::<u8>(), 0..80),
        sig in proptest::collection::vec(any::<u8>(), 0..300),
        alg in prop::sample::select(vec!["RS256", "ES256", "EdDSA", "none", "HS256"]),
    ) {
        static RING: OnceLock<(JoseRing, Vec<Record>)> = OnceLock::new();
        let (ring, records) = RING.get_or_init(ring);
        prop_assert!(jwt::verify(ring, &raw, "iss", None).is_err());
        let b = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
        let t = format!("{}.{}.{}", b(&header), b(&payload), b(&sig));
        prop_assert!(jwt::verify(ring, &t, "iss", None).is_err());
        for r in records {
            let h = b64json(&json!({ "alg": alg, "kid": r.id }));
            let t = format!("{h}.{}.{}", b(&payload), b(&sig));
            prop_assert!(jwt::verify(ring, &t, "iss", None).is_err());
        }
    }
}

#[test]
fn sealed_private_keys_open_only_under_their_master_key_and_kid() {
    let (_, records) = ring();
    let other = MasterKey::from_bytes([3; 32]).sealer();
    for r in &records {
        assert!(matches!(
            JoseRing::from_records(
                std::slice::from_ref(r),
                &other,
                START,
                Duration::from_secs(60),
                None
            ),
            Err(Error::Crypto(_))
        ));
    }
    // A record moved to another kid does not open either (the seal is bound to it).
    let sealer = MasterKey::from_bytes([2; 32]).sealer();
    let mut ed: StoredJoseKey = crate::record_body::from_body(&records[2].body).expect("body");
    let es: StoredJoseKey = crate::record_body::from_body(&records[1].body).expect("body");
    ed.sealed_private = es.sealed_private;
    let swapped = Record {
        body: crate::record_body::to_body(&ed).expect("body"),
        ..records[2].clone()
    };
    assert!(
        JoseRing::from_records(&[swapped], &sealer, START, Duration::from_secs(60), None).is_err()
    );
}

async fn jose_records(iam: &TestIam) -> Vec<Record> {
    iam.store()
        .list(RecordKind::JoseKey, &ListQuery::default())
        .await
        .expect("list")
}

async fn jose_events(iam: &TestIam) -> usize {
    let q = AuditQuery {
        kind: Some(AuditKind::SigningKeyRotated),
        ..AuditQuery::default()
    };
    iam.store()
        .audit(&q)
        .await
        .expect("audit")
        .iter()
        .filter(|e| e.draft.detail.contains_key("alg"))
        .count()
}

#[tokio::test]
async fn keys_are_made_once_on_first_use() {
    let (iam, _) = iam().await;
    assert!(jose_records(&iam).await.is_empty(), "none at open");
    assert_eq!(iam.jose_ring().missing(), JwsAlg::ALL.to_vec());

    iam.ensure_jose_keys().await.expect("ensure");
    let made = jose_records(&iam).await;
    assert_eq!(made.len(), 3);
    assert_eq!(jose_events(&iam).await, 3);
    assert!(iam.jose_ring().missing().is_empty());

    iam.ensure_jose_keys().await.expect("again");
    let jwks = iam.jwks().await.expect("jwks");
    let t = iam
        .sign_jwt(
            JwsAlg::Rs256,
            "JWT",
            &json!({ "iss": "https://iam.example" }),
        )
        .await
        .expect("sign");
    assert!(iam.verify_own_jwt(&t).is_ok());
    assert_eq!(jose_records(&iam).await.len(), 3, "nothing more made");
    assert_eq!(jose_events(&iam).await, 3);

    // The JWKS: the PASETO key first, then the three JOSE keys.
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 4);
    assert_eq!(keys[0]["kid"], iam.active_key_id().as_str());
    assert!(keys[0]["kid"].as_str().expect("kid").starts_with("k4.pid."));
    for k in &keys[1..] {
        assert!(made.iter().any(|r| k["kid"] == r.id.as_str()));
    }

    // A second instance over the same store, opened now, loads them instead of making more.
    let second = open(Arc::clone(iam.store()), iam.clock().clone()).await;
    assert!(second.jose_ring().missing().is_empty());
    assert!(second.verify_own_jwt(&t).is_ok());
}

#[tokio::test]
async fn sign_jwt_makes_the_keys_when_missing() {
    let (iam, _) = iam().await;
    let claims = json!({ "iss": "https://iam.example", "sub": "acc_1" });
    let t = iam
        .sign_jwt(JwsAlg::EdDsa, "JWT", &claims)
        .await
        .expect("sign");
    assert_eq!(header_of(&t)["typ"], "JWT");
    assert_eq!(iam.verify_own_jwt(&t).map(Value::Object), Ok(claims));
    assert_eq!(jose_records(&iam).await.len(), 3);
}

#[tokio::test]
async fn rotation_replaces_the_keys_and_retired_ones_verify_until_retention_ends() {
    let (iam, clock) = iam().await;
    let claims = json!({ "iss": "https://iam.example", "sub": "acc_1" });
    let mut old = Vec::new();
    for alg in JwsAlg::ALL {
        let t = iam.sign_jwt(alg, "JWT", &claims).await.expect("sign");
        old.push((alg, header_of(&t)["kid"].clone(), t));
    }

    clock.advance(Duration::from_secs(10));
    let paseto_kid = iam
        .rotate_signing_key(Caller::System)
        .await
        .expect("rotate");
    assert_eq!(paseto_kid, iam.active_key_id());
    assert_eq!(jose_records(&iam).await.len(), 6);
    assert_eq!(jose_events(&iam).await, 6);

    let jwks = iam.jwks().await.expect("jwks");
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 2 + 6);
    for (alg, old_kid, old_token) in &old {
        assert_eq!(
            iam.verify_own_jwt(old_token).map(Value::Object),
            Ok(claims.clone())
        );
        assert!(third_party_verify(&jwks, old_token).is_ok());
        let new = iam.sign_jwt(*alg, "JWT", &claims).await.expect("sign");
        assert_ne!(
            &header_of(&new)["kid"],
            old_kid,
            "{alg} signs with the new key"
        );
        assert!(iam.verify_own_jwt(&new).is_ok());
        assert!(third_party_verify(&jwks, &new).is_ok());
    }

    clock.advance(super::service::retention(iam.config()));
    iam.reload_keys().await.expect("reload");
    let jwks = iam.jwks().await.expect("jwks");
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 1 + 3);
    for (_, old_kid, old_token) in &old {
        assert!(!jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| &k["kid"] == old_kid));
        assert_eq!(iam.verify_own_jwt(old_token), Err(JwtRefusal::UnknownKey));
    }
    assert_eq!(
        jose_records(&iam).await.len(),
        6,
        "nothing made after retention"
    );
}

#[tokio::test]
async fn rotation_leaves_never_used_algorithms_lazy() {
    let (iam, _) = iam().await;
    iam.rotate_signing_key(Caller::System)
        .await
        .expect("rotate");
    assert!(jose_records(&iam).await.is_empty());
}

#[tokio::test]
async fn an_instance_that_missed_the_keys_finds_them_on_an_unknown_kid() {
    let (one, clock) = iam().await;
    let two = open(Arc::clone(one.store()), clock.clone()).await;
    let claims = json!({ "iss": "https://iam.example" });
    let t = one
        .sign_jwt(JwsAlg::Es256, "JWT", &claims)
        .await
        .expect("sign");
    assert_eq!(two.verify_own_jwt(&t), Err(JwtRefusal::UnknownKey));
    // Reloads are rate-limited: none within a second of the last.
    assert_eq!(
        two.verify_own_jwt_reloading(&t, None).await,
        Err(JwtRefusal::UnknownKey)
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        two.verify_own_jwt_reloading(&t, None)
            .await
            .map(Value::Object),
        Ok(claims)
    );
    assert_eq!(
        two.verify_own_jwt_reloading("x.y.z", None).await,
        Err(JwtRefusal::Malformed)
    );
}
