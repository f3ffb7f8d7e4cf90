//! `sessions`: list and revoke login sessions, your own or (as an admin) an account's.

use anyhow::{bail, Result};
use clap::Subcommand;
use iam_axum::dto::{OwnerQuery, RevokedOut, SessionList, SessionOut};
use reqwest::Method;
use serde::Serialize;

use crate::accounts::resolve_account;
use crate::client::{self, Api};
use crate::connect::connect;
use crate::output::{self, cell};
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum SessionsCmd {
    /// List sessions: yours, or an account's (admin). `*` marks the one in use here.
    List {
        /// Account id or username (admin).
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke one session by id, or every session with --all (yours, or an account's with
    /// --account). Revoking the session in use here logs out.
    Revoke {
        /// Session id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Revoke every session (sign out everywhere).
        #[arg(long)]
        all: bool,
        /// With --all: the account whose sessions to revoke (admin).
        #[arg(long, requires = "all")]
        account: Option<String>,
    },
}

/// What `sessions revoke ID --json` prints.
#[derive(Serialize)]
struct RevokedOne<'a> {
    revoked: &'a str,
    logged_out: bool,
}

/// Runs a `sessions` command.
pub async fn run(g: &GlobalArgs, cmd: &SessionsCmd) -> Result<()> {
    let mut api = connect(g, false)?;
    match cmd {
        SessionsCmd::List { account } => {
            let query = OwnerQuery {
                account_id: match account {
                    Some(a) => Some(resolve_account(&mut api, a).await?),
                    None => None,
                },
            };
            let v: SessionList = api.get_query("/sessions", &query).await?;
            output::print(g.json, &v, |v| table(&v.sessions));
        }
        SessionsCmd::Revoke {
            id: Some(id),
            all: false,
            ..
        } => {
            let path = format!("/sessions/{}", client::seg(id));
            api.act::<()>(Method::DELETE, &path).await?;
            let logged_out = current_session(&api) == Some(id.as_str());
            if logged_out {
                client::remove_session(api.session_path())?;
            }
            output::print(
                g.json,
                &RevokedOne {
                    revoked: id,
                    logged_out,
                },
                |_| {
                    println!("session {id} revoked");
                    if logged_out {
                        println!("it was the session in use here: logged out");
                    }
                },
            );
        }
        SessionsCmd::Revoke {
            all: true, account, ..
        } => {
            let (path, own) = match account {
                Some(a) => {
                    let id = resolve_account(&mut api, a).await?;
                    let own = api.session().is_some_and(|s| s.account_id == id);
                    (format!("/accounts/{}/sessions", client::seg(&id)), own)
                }
                None => ("/sessions".to_owned(), true),
            };
            let v: RevokedOut = api.act(Method::DELETE, &path).await?;
            let logged_out = own && current_session(&api).is_some();
            if logged_out {
                client::remove_session(api.session_path())?;
            }
            output::print(g.json, &v, |v| {
                println!("{} session(s) revoked", v.revoked);
                if logged_out {
                    println!("including the one in use here: logged out");
                }
            });
        }
        SessionsCmd::Revoke { .. } => bail!("give a session id, or --all"),
    }
    Ok(())
}

/// The id of the stored login session (none with IAM_TOKEN).
fn current_session(api: &Api) -> Option<&str> {
    api.session()
        .map(|s| s.session_id.as_str())
        .filter(|id| !id.is_empty())
}

/// Prints sessions as a table, the caller's own marked `*`.
fn table(list: &[SessionOut]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let elevations: Vec<String> = s
                .elevations
                .iter()
                .map(|e| format!("{} until {}", e.role, e.until))
                .collect();
            vec![
                if s.current { "*" } else { "" }.to_owned(),
                s.id.clone(),
                s.created_at.clone(),
                s.expires_at.clone(),
                cell(&s.last_refreshed_at),
                cell(&s.amr),
                cell(&elevations),
                cell(&s.revoked_at),
            ]
        })
        .collect();
    output::table(
        &[
            "",
            "ID",
            "CREATED",
            "EXPIRES",
            "REFRESHED",
            "AUTH",
            "ELEVATED",
            "REVOKED",
        ],
        &rows,
    );
}
