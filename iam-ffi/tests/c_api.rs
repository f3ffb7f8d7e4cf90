//! Compiles `tests/c/iam_test.c` with gcc against `include/iam.h` and the freshly built cdylib,
//! runs it, and runs it again under valgrind memcheck. Without gcc or valgrind the check is
//! skipped with a note, except when `CI=true`, where a missing tool is a failure.
//!
//! The C API has no OAuth flows, so an OpenID Connect sign-in is made here first, in a SQLite
//! database of its own under the C test's configuration, and its tokens are handed to the
//! program, which verifies them through `iam_verify_id_token` and `iam_verify`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use iam_core::oauth::AuthorizationResult;
use iam_core::{
    AuthorizeOutcome, AuthorizeRequest, Caller, ClientAuth, Config, GrantType, Iam, LoginRequest,
    MasterKey, NewAccount, NewClient, TokenRequest,
};
use iam_store_sqlite::SqliteStore;
use support::{crate_dir, library_dir, tool_available};

/// What an OpenID Connect sign-in handed a client registered for JWT access tokens.
struct OidcTokens {
    /// The database it was made in.
    db: PathBuf,
    client_id: String,
    id_token: String,
    access_token: String,
}

/// Makes an OpenID Connect sign-in in `db` under the configuration of `tests/c/iam_test.c`:
/// an account signs in to a client whose access tokens are RFC 9068 JWTs.
fn oidc_sign_in(db: &Path) -> OidcTokens {
    const PW: &str = "correct horse battery";
    const CB: &str = "https://rp.example/cb";
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let mut config = Config::new(
            MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").expect("key"),
        );
        config.issuer = "c-test".into();
        config.audience = "c-test".into();
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
        let auth = ClientAuth::secret(client_id.clone(), reg.client_secret.expect("secret"));
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
        OidcTokens {
            db: db.to_path_buf(),
            client_id,
            id_token: json["id_token"].as_str().expect("an ID token").to_owned(),
            access_token: t.access_token.expose().to_owned(),
        }
    })
}

/// The C test's arguments: its SQLite path, then the OpenID Connect sign-in's database and
/// tokens.
fn program_args(dir: &Path) -> Vec<std::ffi::OsString> {
    let oidc = oidc_sign_in(&dir.join("oidc.db"));
    vec![
        dir.join("iam.db").into(),
        oidc.db.into(),
        oidc.client_id.into(),
        oidc.id_token.into(),
        oidc.access_token.into(),
    ]
}

/// Compiles the C test into `dir` and returns the executable's path. The program runs with
/// `LD_LIBRARY_PATH` set to the library's directory, so that it loads the very library it was
/// linked against rather than another copy on cargo's search path (cargo uplifts the cdylib to
/// `<target>/<profile>` as well, and a build of another checkout sharing the target directory may
/// have left an older one there).
fn compile(dir: &Path) -> PathBuf {
    let lib = library_dir();
    let exe = dir.join("iam_test");
    let output = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join("tests/c/iam_test.c"))
        .arg("-L")
        .arg(&lib)
        .arg("-liam_ffi")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lpthread")
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("gcc runs");
    assert_success("gcc", &output);
    exe
}

fn assert_success(what: &str, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        output.status.success(),
        "{what} failed with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
}

#[test]
fn c_program_passes() {
    if !tool_available("gcc") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let exe = compile(dir.path());
    let output = Command::new(&exe)
        .args(program_args(dir.path()))
        .env("LD_LIBRARY_PATH", library_dir())
        .output()
        .expect("the C test runs");
    assert_success("the C test", &output);
    assert!(String::from_utf8_lossy(&output.stdout).contains(" 0 failed"));
}

#[test]
fn c_program_is_clean_under_valgrind() {
    if !tool_available("gcc") || !tool_available("valgrind") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let exe = compile(dir.path());
    let output = Command::new("valgrind")
        .args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--quiet",
        ])
        .arg(&exe)
        .args(program_args(dir.path()))
        .env("LD_LIBRARY_PATH", library_dir())
        .output()
        .expect("valgrind runs");
    assert_success("the C test under valgrind memcheck", &output);
}
