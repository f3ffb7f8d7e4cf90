//! `invite`: invitation links with which a new person creates their own account.

use anyhow::Result;
use clap::Subcommand;
use iam_axum::dto::{InvitationList, InvitationOut, NewInvitationBody, NewInvitationOut};
use reqwest::Method;

use crate::api_tokens::parse_duration;
use crate::client;
use crate::connect::connect;
use crate::output::{self, cell};
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum InviteCmd {
    /// Create an invitation; prints its link once.
    Create {
        /// A role the new account gets (repeatable; inviters only roles they hold).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// An organization (id) the new account joins.
        #[arg(long, value_name = "ORG_ID")]
        org: Option<String>,
        /// Its role in the organization (default member).
        #[arg(long, value_name = "ROLE", requires = "org")]
        org_role: Option<String>,
        /// Lifetime: seconds, or a number with s, m, h or d (default: the server's, 7 days).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// List invitations (admins: all; inviters: their own).
    List,
    /// Revoke an open invitation.
    Revoke {
        /// Invitation id.
        id: String,
    },
}

/// Runs an `invite` command.
pub async fn run(g: &GlobalArgs, cmd: &InviteCmd) -> Result<()> {
    let mut api = connect(g, false)?;
    match cmd {
        InviteCmd::Create {
            roles,
            org,
            org_role,
            expires_in,
        } => {
            let body = NewInvitationBody {
                roles: roles.clone(),
                org_id: org.clone(),
                org_role: org_role.clone(),
                expires_in: expires_in.as_deref().map(parse_duration).transpose()?,
            };
            let v: NewInvitationOut = api.send_json(Method::POST, "/invitations", &body).await?;
            let link = format!(
                "{}/invite/{}",
                api.target_server().trim_end_matches('/'),
                v.secret
            );
            output::print(g.json, &v, |v| {
                output::pairs(&[
                    ("id", v.invitation.id.clone()),
                    ("roles", cell(&v.invitation.roles)),
                    ("org", cell(&v.invitation.org_id)),
                    ("expires", v.invitation.expires_at.clone()),
                    ("link", link.clone()),
                ]);
                eprintln!("(the link is shown once; it works once)");
            });
        }
        InviteCmd::List => {
            let v: InvitationList = api.get("/invitations").await?;
            output::print(g.json, &v, |v| table(&v.invitations));
        }
        InviteCmd::Revoke { id } => {
            let path = format!("/invitations/{}", client::seg(id));
            api.act::<()>(Method::DELETE, &path).await?;
            output::done(g.json, &(), "invitation revoked");
        }
    }
    Ok(())
}

/// Invitations as a table.
fn table(list: &[InvitationOut]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                cell(&i.state),
                cell(&i.roles),
                cell(&i.org_id),
                cell(&i.created_by),
                i.expires_at.clone(),
                cell(&i.account_id),
            ]
        })
        .collect();
    output::table(
        &["ID", "STATE", "ROLES", "ORG", "BY", "EXPIRES", "ACCOUNT"],
        &rows,
    );
}
