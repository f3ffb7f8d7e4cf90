//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): clients
//! registered with a JWK set of keys made here, assertions signed with jsonwebtoken.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use iam_core::oauth::{ClientJwks, TokenEndpointAuthMethod, TokenTypeHint};
use iam_core::{
    AuthorizationServerMetadata, Caller, ClientAuth, Conflict, Error, GrantType, Iam, InvalidInput,
    LoginRequest, ManualClock, MemoryStore, NewAccount, NewClient, OAuthErrorCode, Principal,
    Timestamp, TokenRequest,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Value};

const ISSUER: &str = "https://iam.example";
const PW: &str = "correct horse battery";

type TestIam = Iam<MemoryStore, ManualClock>;

/// A key pair made for the test: its public JWK and the key that signs with it.
struct TestKey {
    alg: Algorithm,
    kid: &'static str,
    jwk: Value,
    encoding: EncodingKey,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ed25519_key(kid: &'static str) -> TestKey {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("pkcs8");
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("pair");
    TestKey {
        alg: Algorithm::EdDSA,
        kid,
        jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig",
            "x": b64(pair.public_key().as_ref())}),
        encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
    }
}

fn p256_key(kid: &'static str) -> TestKey {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("pkcs8");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("pair");
    let point = pair.public_key().as_ref();
    TestKey {
        alg: Algorithm::ES256,
        kid,
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
            "x": b64(&point[1..33]), "y": b64(&point[33..65])}),
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
    }
}

fn rsa_key(kid: &'static str) -> TestKey {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("rsa");
    let der = key.to_pkcs1_der().expect("der");
    TestKey {
        alg: Algorithm::RS256,
        kid,
        jwk: json!({"kty": "RSA", "kid": kid, "n": b64(&key.n().to_bytes_be()),
            "e": b64(&key.e().to_bytes_be())}),
        encoding: EncodingKey::from_rsa_der(der.as_bytes()),
    }
}

/// A JWT of `claims` signed with `key`, its `kid` in the header.
fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
}

fn jwks(keys: &[&TestKey]) -> ClientJwks {
    let set = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
    ClientJwks::from_json(&set).expect("jwks")
}

struct World {
    iam: TestIam,
    clock: ManualClock,
    admin: Principal,
    client_id: String,
    keys: Vec<TestKey>,
}

async fn world() -> World {
    let (iam, clock) = common::iam_with(|c| c.issuer = ISSUER.into()).await;
    iam.create_account(
        NewAccount::human("root", PW).with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("admin");
    let login = iam
        .login(&LoginRequest::password("root", PW))
        .await
        .expect("login");
    let admin = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    let keys = vec![ed25519_key("ed"), p256_key("ec"), rsa_key("rsa")];
    let mut new = NewClient::confidential("signer")
        .grants([GrantType::ClientCredentials])
        .scopes(["read"]);
    new.oidc.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::PrivateKeyJwt);
    new.oidc.jwks = Some(jwks(&keys.iter().collect::<Vec<_>>()));
    let reg = iam.register_client(&admin, new).await.expect("register");
    assert!(
        reg.client_secret.is_none(),
        "a private_key_jwt client has no secret"
    );
    assert_eq!(
        reg.client.oidc.token_endpoint_auth_method,
        Some(TokenEndpointAuthMethod::PrivateKeyJwt)
    );
    World {
        iam,
        clock,
        admin,
        client_id: reg.client.id,
        keys,
    }
}

impl World {
    fn now(&self) -> i64 {
        use iam_core::Clock as _;
        self.clock.now().as_secs()
    }

    /// Standard claims for an assertion by the test client, valid for a minute.
    fn claims(&self, jti: &str) -> Value {
        json!({"iss": self.client_id, "sub": self.client_id, "aud": ISSUER,
            "exp": self.now() + 60, "iat": self.now(), "jti": jti})
    }

    async fn token_with(&self, assertion: &str) -> Result<String, OAuthErrorCode> {
        let auth = ClientAuth::assertion(None, assertion).map_err(|e| e.code)?;
        let req = TokenRequest::ClientCredentials {
            scope: Some("read".into()),
            resource: vec![],
        };
        self.iam
            .token(&auth, &req)
            .await
            .map(|t| t.access_token.expose().to_owned())
            .map_err(|e| e.code)
    }
}

#[tokio::test]
async fn each_algorithm_obtains_a_token_and_a_jti_works_once() {
    let w = world().await;
    for (i, key) in w.keys.iter().enumerate() {
        let jwt = sign(key, &w.claims(&format!("jti-{i}")));
        let token = w.token_with(&jwt).await.expect("token");
        let who = w.iam.verify(&token).await.expect("verify");
        assert_eq!(who.client_id.as_deref(), Some(w.client_id.as_str()));
        assert_eq!(
            w.token_with(&jwt).await,
            Err(OAuthErrorCode::InvalidClient),
            "replayed {:?}",
            key.alg
        );
    }
    // The token endpoint URL is an audience too, in a list.
    let mut claims = w.claims("jti-aud");
    claims["aud"] = json!(["https://other.example", format!("{ISSUER}/oauth2/token")]);
    assert!(w.token_with(&sign(&w.keys[0], &claims)).await.is_ok());
    // With client_id beside the assertion.
    let jwt = sign(&w.keys[0], &w.claims("jti-id"));
    let auth = ClientAuth::assertion(Some(&w.client_id), jwt.as_str()).expect("auth");
    let req = TokenRequest::ClientCredentials {
        scope: None,
        resource: vec![],
    };
    assert!(w.iam.token(&auth, &req).await.is_ok());
}

#[tokio::test]
async fn bad_assertions_are_invalid_client() {
    let w = world().await;
    let key = &w.keys[0];
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = w.claims("jti-bad");
        change(&mut c);
        c
    };
    let other_key = ed25519_key("ed");
    let mut refused = vec![
        (
            "wrong aud",
            sign(key, &with(&|c| c["aud"] = json!("https://other.example"))),
        ),
        (
            "expired",
            sign(key, &with(&|c| c["exp"] = json!(w.now() - 1))),
        ),
        (
            "too long-lived",
            sign(key, &with(&|c| c["exp"] = json!(w.now() + 3661))),
        ),
        (
            "no exp",
            sign(
                key,
                &with(&|c| drop(c.as_object_mut().map(|o| o.remove("exp")))),
            ),
        ),
        (
            "no jti",
            sign(
                key,
                &with(&|c| drop(c.as_object_mut().map(|o| o.remove("jti")))),
            ),
        ),
        (
            "wrong iss",
            sign(key, &with(&|c| c["iss"] = json!("cli_other"))),
        ),
        (
            "signed by another key",
            sign(&other_key, &w.claims("jti-bad")),
        ),
    ];
    // The EC key presented as Ed25519's kid: wrong key for the algorithm.
    let mut mislabeled = Header::new(Algorithm::ES256);
    mislabeled.kid = Some("ed".into());
    refused.push((
        "kid of another algorithm",
        jsonwebtoken::encode(&mislabeled, &w.claims("jti-bad"), &w.keys[1].encoding).expect("sign"),
    ));
    // alg none, and HMAC keyed with the public key's bytes.
    let none_header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(w.claims("jti-bad").to_string().as_bytes());
    refused.push(("alg none", format!("{none_header}.{payload}.")));
    let x = key.jwk["x"].as_str().expect("x").to_owned();
    refused.push((
        "HS256",
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &w.claims("jti-bad"),
            &EncodingKey::from_secret(x.as_bytes()),
        )
        .expect("sign"),
    ));
    for (why, jwt) in refused {
        assert_eq!(
            w.token_with(&jwt).await,
            Err(OAuthErrorCode::InvalidClient),
            "{why}"
        );
    }
    // None of the refusals spent the jti: a good assertion with it still works.
    let good = sign(key, &w.claims("jti-bad"));
    assert!(w.token_with(&good).await.is_ok());
    // An assertion that expires while in flight.
    let jwt = sign(key, &w.claims("jti-late"));
    w.clock.advance(Duration::from_secs(61));
    assert_eq!(w.token_with(&jwt).await, Err(OAuthErrorCode::InvalidClient));
}

#[tokio::test]
async fn methods_are_not_mixed() {
    let w = world().await;
    let req = TokenRequest::ClientCredentials {
        scope: None,
        resource: vec![],
    };
    // A secret presented for a private_key_jwt client.
    for auth in [
        ClientAuth::secret(w.client_id.clone(), "iam_cs_guess"),
        ClientAuth::secret_post(w.client_id.clone(), "iam_cs_guess"),
        ClientAuth::public(w.client_id.clone()),
    ] {
        assert_eq!(
            w.iam.token(&auth, &req).await.map_err(|e| e.code).err(),
            Some(OAuthErrorCode::InvalidClient)
        );
    }
    // An assertion by a client registered for a secret, signed by a key it never registered.
    let secret_client = w
        .iam
        .register_client(
            &w.admin,
            NewClient::confidential("secretive").grants([GrantType::ClientCredentials]),
        )
        .await
        .expect("register");
    let id = secret_client.client.id.clone();
    let claims = json!({"iss": id, "sub": id, "aud": ISSUER, "exp": w.now() + 60, "jti": "x"});
    let jwt = sign(&w.keys[0], &claims);
    assert_eq!(w.token_with(&jwt).await, Err(OAuthErrorCode::InvalidClient));
    // Registered for client_secret_basic: the form secret is refused, Basic accepted.
    let mut basic_only = NewClient::confidential("basic").grants([GrantType::ClientCredentials]);
    basic_only.oidc.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::ClientSecretBasic);
    let reg = w
        .iam
        .register_client(&w.admin, basic_only)
        .await
        .expect("register");
    let secret = reg.client_secret.expect("secret");
    let post = ClientAuth::secret_post(reg.client.id.clone(), secret.expose());
    assert_eq!(
        w.iam.token(&post, &req).await.map_err(|e| e.code).err(),
        Some(OAuthErrorCode::InvalidClient)
    );
    let basic = ClientAuth::secret(reg.client.id.clone(), secret);
    assert!(w.iam.token(&basic, &req).await.is_ok());
    // A client with no secret has none to rotate.
    assert!(matches!(
        w.iam.rotate_client_secret(&w.admin, &w.client_id).await,
        Err(Error::State(Conflict::PublicClientHasNoSecret))
    ));
}

#[tokio::test]
async fn introspection_and_revocation_take_assertions_once() {
    let w = world().await;
    let token = w
        .token_with(&sign(&w.keys[1], &w.claims("t")))
        .await
        .expect("token");
    let jwt = sign(&w.keys[1], &w.claims("i"));
    let auth = ClientAuth::assertion(None, jwt.as_str()).expect("auth");
    let info = w
        .iam
        .introspect(&auth, &token, Some(TokenTypeHint::AccessToken))
        .await
        .expect("introspect");
    assert!(info.active);
    assert_eq!(
        w.iam
            .introspect(&auth, &token, None)
            .await
            .map_err(|e| e.code)
            .err(),
        Some(OAuthErrorCode::InvalidClient),
        "replayed"
    );
    let auth =
        ClientAuth::assertion(None, sign(&w.keys[2], &w.claims("r")).as_str()).expect("auth");
    w.iam
        .revoke_token(&auth, &token, None)
        .await
        .expect("revoke");
    assert_eq!(
        w.iam
            .revoke_token(&auth, &token, None)
            .await
            .map_err(|e| e.code),
        Err(OAuthErrorCode::InvalidClient)
    );
}

#[tokio::test]
async fn used_assertions_are_pruned_after_they_expire() {
    let w = world().await;
    w.token_with(&sign(&w.keys[0], &w.claims("p")))
        .await
        .expect("token");
    w.clock.advance(Duration::from_secs(120));
    let now = Timestamp::from_secs(w.now());
    let report = iam_core::Store::prune(w.iam.store(), now, common::START)
        .await
        .expect("prune");
    assert_eq!(
        report.records_of(iam_core::store::RecordKind::ClientAssertion),
        1
    );
}

#[tokio::test]
async fn registration_checks_the_method_and_keys() {
    let w = world().await;
    let key = ed25519_key("k");
    let refused_set = |set: Value| ClientJwks::from_json(&set).err();
    let mut private = key.jwk.clone();
    private["d"] = json!(b64(&[7; 32]));
    assert!(refused_set(json!({"keys": [private]})).is_some_and(|e| e.contains("public keys only")));
    assert!(refused_set(json!([key.jwk])).is_some());
    assert!(refused_set(json!({"keys": []})).is_some());
    assert!(refused_set(json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).is_some());
    assert!(
        refused_set(json!({"keys": [{"kty": "OKP", "crv": "X25519", "x": b64(&[1; 32])}]}))
            .is_some()
    );
    assert!(
        refused_set(json!({"keys": [{"kty": "RSA", "n": b64(&[0xff; 128]), "e": "AQAB"}]}))
            .is_some(),
        "RSA 1024"
    );
    let eleven: Vec<Value> = (0..11).map(|_| key.jwk.clone()).collect();
    assert!(refused_set(json!({ "keys": eleven })).is_some());
    let mut enc = key.jwk.clone();
    enc["use"] = json!("enc");
    assert!(refused_set(json!({"keys": [enc]})).is_some());

    let base = || NewClient::confidential("c").grants([GrantType::ClientCredentials]);
    let mut no_keys = base();
    no_keys.oidc.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::PrivateKeyJwt);
    let mut keys_without_method = base();
    keys_without_method.oidc.jwks = Some(jwks(&[&key]));
    let mut public_jwt = NewClient::public("p")
        .redirect_uri("https://p.example/cb")
        .grants([GrantType::AuthorizationCode]);
    public_jwt.oidc.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::PrivateKeyJwt);
    public_jwt.oidc.jwks = Some(jwks(&[&key]));
    let mut confidential_none = base();
    confidential_none.oidc.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::None);
    for new in [no_keys, keys_without_method, public_jwt, confidential_none] {
        assert!(matches!(
            w.iam.register_client(&w.admin, new).await,
            Err(Error::Invalid(InvalidInput::OAuthClient(_)))
        ));
    }
}

#[test]
fn discovery_lists_private_key_jwt_and_its_algorithms() {
    let m = AuthorizationServerMetadata::new(ISSUER);
    for methods in [
        &m.token_endpoint_auth_methods_supported,
        &m.revocation_endpoint_auth_methods_supported,
        &m.introspection_endpoint_auth_methods_supported,
    ] {
        assert!(methods.iter().any(|x| x == "private_key_jwt"));
    }
    for algs in [
        &m.token_endpoint_auth_signing_alg_values_supported,
        &m.revocation_endpoint_auth_signing_alg_values_supported,
        &m.introspection_endpoint_auth_signing_alg_values_supported,
    ] {
        assert_eq!(algs, &["RS256", "ES256", "EdDSA"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_replays_of_one_assertion_get_one_token() {
    let w = world().await;
    let jwt = sign(&w.keys[0], &w.claims("race"));
    let results = futures_join(&w, &jwt, 8).await;
    let granted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(granted, 1, "{results:?}");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| *e == OAuthErrorCode::InvalidClient));
}

/// Presents `jwt` `n` times at once.
async fn futures_join(w: &World, jwt: &str, n: usize) -> Vec<Result<String, OAuthErrorCode>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let iam = w.iam.clone();
        let auth = ClientAuth::assertion(None, jwt).expect("auth");
        set.spawn(async move {
            let req = TokenRequest::ClientCredentials {
                scope: None,
                resource: vec![],
            };
            iam.token(&auth, &req)
                .await
                .map(|t| t.access_token.expose().to_owned())
                .map_err(|e| e.code)
        });
    }
    let mut out = vec![];
    while let Some(r) = set.join_next().await {
        out.push(r.expect("join"));
    }
    out
}
