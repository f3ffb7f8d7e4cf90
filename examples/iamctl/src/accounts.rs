//! `accounts`: list, create, show, disable, enable, set-password, profile; and finding an
//! account by id or username for the other commands.

use anyhow::{bail, Result};
use clap::{Subcommand, ValueEnum};
use iam_axum::dto::{
    AccountKind, AccountList, AccountListQuery, AccountOut, NewAccountBody, PasswordBody,
    ProfileBody, Secret,
};
use reqwest::{Method, StatusCode};

use crate::client::{self, Api};
use crate::connect::{connect, read_secret};
use crate::output;
use crate::terminal::Ask;
use crate::GlobalArgs;

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    Human,
    System,
}

#[derive(Subcommand)]
pub enum AccountsCmd {
    /// List accounts.
    List {
        /// Only the account with this username.
        #[arg(long)]
        username: Option<String>,
        /// Most accounts to list.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// List the accounts after this account id (paging).
        #[arg(long, value_name = "ID")]
        after: Option<String>,
    },
    /// Create an account (a human one needs a password: --password-stdin or IAM_NEW_PASSWORD).
    Create {
        /// Username.
        username: String,
        /// Account kind.
        #[arg(long, value_enum, default_value = "human")]
        kind: Kind,
        /// A role to grant (repeatable).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Read the new account's password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Show one account (by id or username).
    Show {
        /// Account id or username.
        account: String,
    },
    /// Disable an account.
    Disable {
        /// Account id or username.
        account: String,
    },
    /// Enable an account.
    Enable {
        /// Account id or username.
        account: String,
    },
    /// Set an account's password (--password-stdin or IAM_NEW_PASSWORD), for example the
    /// first admin's printed one.
    SetPassword {
        /// Account id or username.
        account: String,
        /// Read the new password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set an account's profile: name, email, whether the email is verified. Options left
    /// out stay as they are; a new email is unverified unless --email-verified true.
    Profile {
        /// Account id or username.
        account: String,
        /// The display name.
        #[arg(long, conflicts_with = "clear_name")]
        name: Option<String>,
        /// Remove the display name.
        #[arg(long)]
        clear_name: bool,
        /// The email address.
        #[arg(long, conflicts_with = "clear_email")]
        email: Option<String>,
        /// Remove the email address (it is then unverified).
        #[arg(long)]
        clear_email: bool,
        /// Whether the email address is verified.
        #[arg(long, value_name = "true|false")]
        email_verified: Option<bool>,
    },
}

/// The API path `/accounts/{id}{rest}` of an account given by id or username.
pub async fn account_path(api: &mut Api, account: &str, rest: &str) -> Result<String> {
    let id = resolve_account(api, account).await?;
    Ok(format!("/accounts/{}{rest}", client::seg(&id)))
}

/// An account id from an id or a username: the id is tried first, then the username.
pub async fn resolve_account(api: &mut Api, given: &str) -> Result<String> {
    match api
        .get::<AccountOut>(&format!("/accounts/{}", client::seg(given)))
        .await
    {
        Ok(a) => Ok(a.id),
        Err(e) if client::is_status(&e, StatusCode::NOT_FOUND) => {
            let query = AccountListQuery {
                username: Some(given.to_owned()),
                ..AccountListQuery::default()
            };
            let found: AccountList = api.get_query("/accounts", &query).await?;
            found.accounts.into_iter().next().map(|a| a.id).ok_or(e)
        }
        Err(e) => Err(e),
    }
}

/// Runs an `accounts` command.
pub async fn run(g: &GlobalArgs, cmd: &AccountsCmd) -> Result<()> {
    let json_out = g.json;
    let mut api = connect(g, false)?;
    match cmd {
        AccountsCmd::List {
            username,
            limit,
            after,
        } => {
            let query = AccountListQuery {
                after: after.clone(),
                limit: Some(*limit),
                username: username.clone(),
            };
            let v: AccountList = api.get_query("/accounts", &query).await?;
            output::print(json_out, &v, |v| {
                output::accounts(&v.accounts);
            });
        }
        AccountsCmd::Create {
            username,
            kind,
            roles,
            password_stdin,
        } => {
            let kind = match kind {
                Kind::Human => AccountKind::Human,
                Kind::System => AccountKind::System,
            };
            let password = if kind == AccountKind::Human {
                let what = format!("password for {username}");
                let password =
                    read_secret(*password_stdin, "IAM_NEW_PASSWORD", &what, Ask::HiddenTwice)?;
                if password.is_none() {
                    bail!("a human account needs a password: give it with --password-stdin or IAM_NEW_PASSWORD");
                }
                password
            } else {
                read_secret(*password_stdin, "IAM_NEW_PASSWORD", "password", Ask::Never)?
            };
            let body = NewAccountBody {
                username: username.clone(),
                kind,
                password: password.map(Secret::new),
                roles: roles.clone(),
            };
            let a: AccountOut = api.send_json(Method::POST, "/accounts", &body).await?;
            output::print(json_out, &a, output::account);
        }
        AccountsCmd::Show { account } => {
            let path = account_path(&mut api, account, "").await?;
            let a: AccountOut = api.get(&path).await?;
            output::print(json_out, &a, output::account);
        }
        AccountsCmd::Disable { account } | AccountsCmd::Enable { account } => {
            let action = if matches!(cmd, AccountsCmd::Disable { .. }) {
                "disable"
            } else {
                "enable"
            };
            let path = account_path(&mut api, account, &format!("/{action}")).await?;
            let a: AccountOut = api.act(Method::POST, &path).await?;
            output::print(json_out, &a, |a| {
                println!("{} ({}) {action}d", a.username, a.id);
            });
        }
        AccountsCmd::SetPassword {
            account,
            password_stdin,
        } => {
            let what = format!("new password for {account}");
            let Some(password) =
                read_secret(*password_stdin, "IAM_NEW_PASSWORD", &what, Ask::HiddenTwice)?
            else {
                bail!("give the new password with --password-stdin or IAM_NEW_PASSWORD");
            };
            let path = account_path(&mut api, account, "/password").await?;
            let body = PasswordBody {
                password: Secret::new(password),
            };
            let a: AccountOut = api.send_json(Method::PUT, &path, &body).await?;
            output::done(json_out, &a, "password set");
        }
        AccountsCmd::Profile {
            account,
            name,
            clear_name,
            email,
            clear_email,
            email_verified,
        } => {
            // What a `--x VALUE` / `--clear-x` pair asks for: `None` leaves the field.
            let field = |value: &Option<String>, clear: bool| {
                if clear {
                    Some(None)
                } else {
                    value.clone().map(Some)
                }
            };
            let body = ProfileBody {
                name: field(name, *clear_name),
                email: field(email, *clear_email),
                email_verified: *email_verified,
            };
            if body.name.is_none() && body.email.is_none() && body.email_verified.is_none() {
                bail!("nothing to change: give --name, --clear-name, --email, --clear-email or --email-verified");
            }
            let path = account_path(&mut api, account, "/profile").await?;
            let a: AccountOut = api.send_json(Method::PATCH, &path, &body).await?;
            output::print(json_out, &a, output::account);
        }
    }
    Ok(())
}
