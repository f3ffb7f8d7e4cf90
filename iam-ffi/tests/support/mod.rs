//! What the tests that drive the built library from other languages share.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use iam_core::oauth::AuthorizationResult;
use iam_core::{
    AuthorizeOutcome, AuthorizeRequest, Caller, ClientAuth, Config, GrantType, Iam, LoginRequest,
    MasterKey, NewAccount, NewClient, TokenRequest,
};
use iam_store_sqlite::SqliteStore;

/// What an OpenID Connect sign-in handed a client registered for JWT access tokens.
pub struct OidcTokens {
    /// The database it was made in.
    pub db: PathBuf,
    /// The client.
    pub client_id: String,
    /// The ID token (nonce `c-nonce`).
    pub id_token: String,
    /// The JWT access token.
    pub access_token: String,
    /// The client's secret (it may introspect tokens issued to it).
    pub client_secret: String,
    /// A client-credentials token of another client, registered by `carol` to act for her
    /// and bound to the resource [`CC_RESOURCE`].
    pub client_credentials_token: String,
}

/// The resource (RFC 8707) the client-credentials token of [`OidcTokens`] is bound to.
pub const CC_RESOURCE: &str = "https://api.example";

/// Makes an OpenID Connect sign-in in the SQLite database `db` under a configuration with
/// `master_key` and `issuer` (also the audience): an account signs in to a client whose access
/// tokens are RFC 9068 JWTs; and `carol` registers a client acting for her, which gets a
/// client-credentials token for [`CC_RESOURCE`]. (The C API runs no OAuth flows; the tests of
/// the languages that call it verify these tokens.)
pub fn oidc_sign_in(db: &Path, master_key: &str, issuer: &str) -> OidcTokens {
    const PW: &str = "correct horse battery";
    const CB: &str = "https://rp.example/cb";
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let mut config = Config::new(MasterKey::from_base64(master_key).expect("key"));
        config.issuer = issuer.into();
        config.audience = issuer.into();
        config.passwords.memory_kib = 64;
        config.passwords.iterations = 1;
        let store = SqliteStore::open(db).await.expect("sqlite");
        let iam = Iam::builder(store, config).open().await.expect("iam");
        for (name, roles) in [("oidc-admin", vec!["admin"]), ("carol", vec![])] {
            iam.create_account(
                NewAccount::human(name, PW).with_roles(roles),
                Caller::System,
            )
            .await
            .expect("account");
        }
        let login = |name: &'static str| {
            let iam = &iam;
            async move {
                let l = iam
                    .login(&LoginRequest::password(name, PW))
                    .await
                    .expect("login");
                iam.verify(l.tokens.access_token.expose())
                    .await
                    .expect("verify")
            }
        };
        let admin = login("oidc-admin").await;
        let mut new = NewClient::confidential("C relying party")
            .redirect_uri(CB)
            .grants([GrantType::AuthorizationCode])
            .scopes(["openid"]);
        new.oidc.access_token_format = iam_core::oidc::AccessTokenFormat::Jwt;
        let reg = iam.register_client(&admin, new).await.expect("register");
        let client_id = reg.client.id.clone();
        let client_secret = reg.client_secret.expect("secret");
        let auth = ClientAuth::secret(client_id.clone(), client_secret.clone());
        let req = AuthorizeRequest {
            response_type: Some("code".into()),
            client_id: Some(client_id.clone()),
            redirect_uri: Some(CB.into()),
            scope: Some("openid".into()),
            nonce: Some("c-nonce".into()),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            code_challenge_method: Some("S256".into()),
            ..AuthorizeRequest::default()
        };
        let carol = login("carol").await;
        let AuthorizeOutcome::Redirect(r) = iam
            .consent_and_authorize(&req, &carol)
            .await
            .expect("consent")
        else {
            panic!("expected a redirect");
        };
        let AuthorizationResult::Code(code) = r.result else {
            panic!("expected a code");
        };
        let t = iam
            .token(
                &auth,
                &TokenRequest::AuthorizationCode {
                    code,
                    redirect_uri: Some(CB.into()),
                    code_verifier: Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()),
                    resource: vec![],
                },
            )
            .await
            .expect("exchange");
        let json = serde_json::to_value(&t).expect("json");
        let service = NewClient::confidential("carol's script")
            .grants([GrantType::ClientCredentials])
            .resources([CC_RESOURCE])
            .acting_for_owner();
        let service = iam
            .register_client(&carol, service)
            .await
            .expect("register carol's client");
        let service_auth = ClientAuth::secret(
            service.client.id.clone(),
            service.client_secret.expect("secret"),
        );
        let cc = iam
            .token(
                &service_auth,
                &TokenRequest::ClientCredentials {
                    scope: None,
                    resource: vec![CC_RESOURCE.into()],
                },
            )
            .await
            .expect("client credentials");
        OidcTokens {
            db: db.to_path_buf(),
            client_id,
            id_token: json["id_token"].as_str().expect("an ID token").to_owned(),
            access_token: t.access_token.expose().to_owned(),
            client_secret: client_secret.expose().to_owned(),
            client_credentials_token: cc.access_token.expose().to_owned(),
        }
    })
}

/// Whether this run is CI (`CI=true`), where missing tools are failures.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether `tool` runs; if not, fails under CI and returns false elsewhere.
pub fn tool_available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !in_ci(),
            "{tool} is required when CI=true but was not found"
        );
        eprintln!("note: {tool} not found; skipping this test");
    }
    found
}

/// The directory holding `libiam_ffi.so` built by this `cargo test` run: the test binary lives
/// in `<target>/<profile>/deps`, where cargo also places the cdylib (and uplifts a copy to
/// `<target>/<profile>`).
pub fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let deps = exe.parent().expect("the test binary is in a directory");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        if dir.join("libiam_ffi.so").is_file() {
            return dir.to_path_buf();
        }
    }
    panic!(
        "libiam_ffi.so not found next to {}; build it with `cargo build -p iam-ffi`",
        exe.display()
    );
}

pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
