//! `roles`: grant and revoke standing and elevatable roles.

use anyhow::Result;
use clap::Subcommand;
use iam_axum::dto::AccountOut;
use reqwest::Method;

use crate::accounts::account_path;
use crate::client;
use crate::connect::connect;
use crate::output::{self, cell};
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum RolesCmd {
    /// Grant a role.
    Grant {
        /// Account id or username.
        account: String,
        /// Role.
        role: String,
        /// Make the role elevatable (opened on demand) instead of held.
        #[arg(long)]
        elevatable: bool,
    },
    /// Revoke a role.
    Revoke {
        /// Account id or username.
        account: String,
        /// Role.
        role: String,
        /// Revoke the elevatable role instead of the held one.
        #[arg(long)]
        elevatable: bool,
    },
}

/// Runs a `roles` command.
pub async fn run(g: &GlobalArgs, cmd: &RolesCmd) -> Result<()> {
    let mut api = connect(g, false)?;
    let (account, role, elevatable, grant) = match cmd {
        RolesCmd::Grant {
            account,
            role,
            elevatable,
        } => (account, role, *elevatable, true),
        RolesCmd::Revoke {
            account,
            role,
            elevatable,
        } => (account, role, *elevatable, false),
    };
    let kind = if elevatable {
        "elevatable-roles"
    } else {
        "roles"
    };
    let path = account_path(&mut api, account, &format!("/{kind}/{}", client::seg(role))).await?;
    let method = if grant { Method::PUT } else { Method::DELETE };
    let a: AccountOut = api.act(method, &path).await?;
    output::print(g.json, &a, |a| {
        println!(
            "{} {}{role}; roles now: {}; elevatable: {}",
            a.username,
            if grant { "+" } else { "-" },
            cell(&a.roles),
            cell(&a.elevatable_roles),
        );
    });
    Ok(())
}
