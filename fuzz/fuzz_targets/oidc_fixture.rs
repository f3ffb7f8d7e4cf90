//! The OpenID Connect provider the OIDC fuzz targets run against, built once: a relying party
//! (RS256 ID tokens, a post-logout redirect URI), alice signed in and consented to it, and one
//! genuine ID token of hers.

use std::sync::OnceLock;

use iam_core::oauth::AuthorizationResult;
use iam_core::{
    AuthorizeOutcome, AuthorizeRequest, Caller, ClientAuth, Config, GrantType, Iam, Inline,
    LoginRequest, MasterKey, MemoryStore, NewAccount, NewClient, PasswordPolicy, Principal,
    TokenRequest,
};

/// The issuer.
pub const ISSUER: &str = "https://id.example";
/// The relying party's redirect URI.
pub const CB: &str = "https://rp.example/cb";
/// Its post-logout redirect URI.
pub const AFTER_LOGOUT: &str = "https://rp.example/bye";
/// A PKCE verifier and its S256 challenge (RFC 7636 Appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The challenge of [`VERIFIER`].
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The provider and what the targets need of it.
pub struct Fixture {
    pub iam: Iam<MemoryStore>,
    pub client_id: String,
    pub alice: Principal,
    pub id_token: String,
}

/// The request parameters of a valid OpenID Connect request of the relying party, for those
/// `params` does not name (the input keeps control of every parameter it gives).
pub fn complete(params: &mut Vec<(String, String)>, client_id: &str) {
    for (name, value) in [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CB),
        ("scope", "openid profile email"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ] {
        if !params.iter().any(|(n, _)| n == name) {
            params.push((name.to_owned(), value.to_owned()));
        }
    }
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| pollster::block_on(build()))
}

async fn login(iam: &Iam<MemoryStore>, name: &str) -> Principal {
    let l = iam
        .login(&LoginRequest::password(name, "fuzz password"))
        .await
        .expect("login");
    iam.verify(l.tokens.access_token.expose())
        .await
        .expect("verify")
}

async fn build() -> Fixture {
    let mut config = Config::new(MasterKey::from_bytes([9; 32]));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config.issuer = ISSUER.into();
    let iam = Iam::builder(MemoryStore::new(), config)
        .offload(Inline)
        .open()
        .await
        .expect("open");
    iam.create_account(
        NewAccount::human("root", "fuzz password").with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("admin");
    iam.create_account(NewAccount::human("alice", "fuzz password"), Caller::System)
        .await
        .expect("alice");
    let admin = login(&iam, "root").await;
    let mut new = NewClient::confidential("Fuzz RP")
        .redirect_uri(CB)
        .grants([GrantType::AuthorizationCode])
        .scopes(["openid", "profile", "email"]);
    new.oidc.post_logout_redirect_uris = vec![AFTER_LOGOUT.into()];
    let reg = iam.register_client(&admin, new).await.expect("register");
    let client_id = reg.client.id.clone();
    let auth = ClientAuth::secret(client_id.clone(), reg.client_secret.expect("secret"));
    let alice = login(&iam, "alice").await;

    let mut params = vec![("nonce".to_owned(), "n".to_owned())];
    complete(&mut params, &client_id);
    let outcome = iam
        .consent_and_authorize(&AuthorizeRequest::from_params(&params), &alice)
        .await
        .expect("consent");
    let AuthorizeOutcome::Redirect(r) = outcome else {
        panic!("no redirect after consent");
    };
    let AuthorizationResult::Code(code) = r.result else {
        panic!("no code after consent");
    };
    let t = iam
        .token(
            &auth,
            &TokenRequest::AuthorizationCode {
                code,
                redirect_uri: Some(CB.into()),
                code_verifier: Some(VERIFIER.into()),
                resource: vec![],
            },
        )
        .await
        .expect("exchange");
    let id_token = t.id_token.expect("an ID token");
    Fixture {
        iam,
        client_id,
        alice,
        id_token,
    }
}
