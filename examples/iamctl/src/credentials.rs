//! `credentials`: the database credentials of system accounts.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use iam_axum::dto::{DbCredentialsBody, Secret};
use reqwest::Method;

use crate::accounts::account_path;
use crate::connect::{connect, read_secret};
use crate::output;
use crate::terminal::Ask;
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum CredentialsCmd {
    /// Fetch a system account's database credentials (prints the password).
    Fetch {
        /// Account id or username.
        account: String,
    },
    /// Store a system account's database credentials (password from --password-stdin or
    /// IAM_DB_PASSWORD).
    Store(StoreCredentials),
}

#[derive(Args)]
pub struct StoreCredentials {
    /// Account id or username.
    account: String,
    /// Database host.
    #[arg(long)]
    host: String,
    /// Database port.
    #[arg(long, default_value_t = 5432)]
    port: u16,
    /// Database name.
    #[arg(long)]
    database: String,
    /// Database user.
    #[arg(long)]
    user: String,
    /// Read the database password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

/// Runs a `credentials` command.
pub async fn run(g: &GlobalArgs, cmd: &CredentialsCmd) -> Result<()> {
    let mut api = connect(g, false)?;
    match cmd {
        CredentialsCmd::Fetch { account } => {
            let path = account_path(&mut api, account, "/db-credentials").await?;
            let v: DbCredentialsBody = api.get(&path).await?;
            output::print(g.json, &v, |v| {
                output::pairs(&[
                    ("host", v.host.clone()),
                    ("port", v.port.to_string()),
                    ("database", v.database.clone()),
                    ("user", v.user.clone()),
                    ("password", v.password.expose().to_owned()),
                ]);
            });
        }
        CredentialsCmd::Store(s) => {
            let password = read_secret(
                s.password_stdin,
                "IAM_DB_PASSWORD",
                "database password",
                Ask::Hidden,
            )?
            .context("give the database password with --password-stdin or IAM_DB_PASSWORD")?;
            let path = account_path(&mut api, &s.account, "/db-credentials").await?;
            let body = DbCredentialsBody {
                host: s.host.clone(),
                port: s.port,
                database: s.database.clone(),
                user: s.user.clone(),
                password: Secret::new(password),
            };
            api.send_json::<_, ()>(Method::PUT, &path, &body).await?;
            output::done(g.json, &(), "credentials stored");
        }
    }
    Ok(())
}
