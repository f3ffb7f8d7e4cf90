//! `service-token`: issue and revoke a system account's token.

use anyhow::Result;
use clap::Subcommand;
use iam_axum::dto::ServiceTokenOut;
use reqwest::Method;

use crate::accounts::account_path;
use crate::connect::connect;
use crate::output;
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum ServiceTokenCmd {
    /// Issue a system account's token (the old one is revoked); prints the token once.
    Issue {
        /// Account id or username.
        account: String,
    },
    /// Revoke a system account's token.
    Revoke {
        /// Account id or username.
        account: String,
    },
}

/// Runs a `service-token` command.
pub async fn run(g: &GlobalArgs, cmd: &ServiceTokenCmd) -> Result<()> {
    let mut api = connect(g, false)?;
    match cmd {
        ServiceTokenCmd::Issue { account } => {
            let path = account_path(&mut api, account, "/service-token").await?;
            let t: ServiceTokenOut = api.act(Method::POST, &path).await?;
            output::print(g.json, &t, |t| {
                output::pairs(&[
                    ("token", t.token.clone()),
                    ("grant", t.grant_id.clone()),
                    ("expires", t.expires_at.clone()),
                ]);
                eprintln!("(the token is shown once; the previous one is revoked)");
            });
        }
        ServiceTokenCmd::Revoke { account } => {
            let path = account_path(&mut api, account, "/service-token").await?;
            api.act::<()>(Method::DELETE, &path).await?;
            output::done(g.json, &(), "service token revoked");
        }
    }
    Ok(())
}
