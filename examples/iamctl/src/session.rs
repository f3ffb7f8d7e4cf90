//! `login`, `logout` and `whoami`.

use anyhow::{bail, Context, Result};
use clap::Args;
use iam_axum::dto::PrincipalOut;
use reqwest::{Method, StatusCode};
use serde::Serialize;

use crate::client;
use crate::connect::{connect, read_secret};
use crate::output::{self, cell};
use crate::terminal::{self, Ask};
use crate::GlobalArgs;

/// The arguments of `login`.
#[derive(Args)]
pub struct LoginArgs {
    /// Username.
    username: String,
    /// Read the password from the first line of standard input (else IAM_PASSWORD, else a
    /// prompt in a terminal).
    #[arg(long)]
    password_stdin: bool,
    /// The current TOTP code, when the account has TOTP on (asked for in a terminal).
    #[arg(long, value_name = "CODE")]
    totp: Option<String>,
}

/// Logs in and stores the session. In a terminal, iamctl asks for the password (hidden) and,
/// when the account has TOTP on and no --totp was given, for the one-time code.
pub async fn login(g: &GlobalArgs, args: &LoginArgs) -> Result<()> {
    let what = format!("password for {}", args.username);
    let password = read_secret(args.password_stdin, "IAM_PASSWORD", &what, Ask::Hidden)?.context(
        "give the password with --password-stdin or the IAM_PASSWORD environment variable \
             (or run iamctl in a terminal to be asked for it)",
    )?;
    let mut api = connect(g, true)?;
    let answer = match api
        .login(&args.username, &password, args.totp.as_deref())
        .await
    {
        Err(e)
            if args.totp.is_none()
                && terminal::interactive()
                && client::error_code(&e) == Some("totp_required") =>
        {
            let code = terminal::line("One-time code from your authenticator app: ")?;
            api.login(&args.username, &password, Some(&code)).await?
        }
        other => other?,
    };
    if g.json {
        // The tokens stay in the session file.
        output::json_without(&answer, &["access_token", "refresh_token"]);
    } else {
        println!(
            "logged in as {} ({}); session {}",
            answer.account.username, answer.account.id, answer.tokens.session_id,
        );
    }
    Ok(())
}

/// What `logout --json` prints.
#[derive(Serialize)]
struct LoggedOut {
    logged_out: bool,
}

/// Ends the session on the server and removes the session file.
pub async fn logout(g: &GlobalArgs) -> Result<()> {
    let mut api = connect(g, false)?;
    let path = api.session_path().to_owned();
    if api.session().is_none() {
        bail!("not logged in ({} does not exist)", path.display());
    }
    let result: Result<()> = api.act(Method::POST, "/logout").await;
    // The local session goes either way; an already-ended session is not an error.
    client::remove_session(&path)?;
    match result {
        Ok(()) => {}
        Err(e) if client::is_status(&e, StatusCode::UNAUTHORIZED) => {}
        Err(e) => return Err(e.context("the local session was removed")),
    }
    if g.json {
        output::json(&LoggedOut { logged_out: true });
    } else {
        println!("logged out");
    }
    Ok(())
}

/// Shows what the current token says.
pub async fn whoami(g: &GlobalArgs) -> Result<()> {
    let mut api = connect(g, false)?;
    let w: PrincipalOut = api.get("/whoami").await?;
    output::print(g.json, &w, |w| {
        let username = api
            .session()
            .map(|s| s.username.clone())
            .unwrap_or_default();
        output::pairs(&[
            ("username", username),
            ("account", w.account_id.clone()),
            ("kind", cell(&w.kind)),
            ("roles", cell(&w.roles)),
            ("elevated roles", cell(&w.elevated_roles)),
            ("elevated until", cell(&w.elevated_until)),
            ("scopes", cell(&w.scopes)),
            ("session", w.session_id.clone()),
            ("auth methods", cell(&w.amr)),
            ("auth time", w.auth_time.clone()),
            ("token expires", w.expires_at.clone()),
            ("server", api.target_server()),
        ]);
    });
    Ok(())
}
