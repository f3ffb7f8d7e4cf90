//! `elevation`: open or request an elevatable role, answer requests, end an elevation.

use anyhow::{bail, Result};
use clap::Subcommand;
use iam_axum::dto::{ElevateBody, ElevationRequestList, ElevationStatusOut, Secret};
use reqwest::Method;

use crate::client;
use crate::connect::{connect, read_secret};
use crate::output;
use crate::terminal::{self, Ask};
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum ElevationCmd {
    /// Open an elevatable role, or file a request for approval (step-up password from
    /// --password-stdin or IAM_PASSWORD when the role asks for one; asked for in a terminal).
    Request {
        /// Role.
        role: String,
        /// Duration in seconds (the role's maximum when absent).
        #[arg(long, value_name = "SECS")]
        duration: Option<u64>,
        /// Read the step-up password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The current TOTP code for step-up.
        #[arg(long, value_name = "CODE")]
        totp: Option<String>,
    },
    /// Pending requests you may answer.
    Pending,
    /// Approve a request.
    Approve {
        /// Request id.
        id: String,
    },
    /// Deny a request.
    Deny {
        /// Request id.
        id: String,
    },
    /// End an open elevation of your session.
    End {
        /// Role.
        role: String,
    },
}

/// Runs an `elevation` command.
pub async fn run(g: &GlobalArgs, cmd: &ElevationCmd) -> Result<()> {
    let json_out = g.json;
    let mut api = connect(g, false)?;
    match cmd {
        ElevationCmd::Request {
            role,
            duration,
            password_stdin,
            totp,
        } => {
            let password = read_secret(*password_stdin, "IAM_PASSWORD", "password", Ask::Never)?;
            let mut body = ElevateBody {
                role: role.clone(),
                duration: *duration,
                password: password.map(Secret::new),
                totp_code: totp.clone(),
                passkey: None,
            };
            let v: ElevationStatusOut = match api.send_json(Method::POST, "/elevation", &body).await
            {
                // The role asks for a step-up that was not given: ask for it in a terminal.
                Err(e)
                    if body.password.is_none()
                        && terminal::interactive()
                        && client::error_code(&e) == Some("step_up_required") =>
                {
                    let password = terminal::hidden("Your password (step-up): ")?;
                    body.password = Some(Secret::new(password));
                    if body.totp_code.is_none() {
                        let code = terminal::line(
                            "One-time code (press Enter if the account has no TOTP): ",
                        )?;
                        body.totp_code = Some(code).filter(|c| !c.is_empty());
                    }
                    api.send_json(Method::POST, "/elevation", &body).await?
                }
                other => other?,
            };
            // An open elevation comes with a new access token: it replaces the stored one.
            if let ElevationStatusOut::Active { access_token, .. } = &v {
                api.replace_access_token(access_token.clone())?;
            }
            if json_out {
                output::json_without(&v, &["access_token", "token_type"]);
                return Ok(());
            }
            match v {
                ElevationStatusOut::Active { elevation, .. } => {
                    println!("{} elevated until {}", elevation.role, elevation.until);
                }
                ElevationStatusOut::Pending {
                    request_id,
                    expires_at,
                } => {
                    println!("request {request_id} filed; waiting for approval until {expires_at}");
                }
                ElevationStatusOut::Approved { .. } => {
                    bail!("the server answered an elevation request with an approval");
                }
            }
        }
        ElevationCmd::Pending => {
            let v: ElevationRequestList = api.get("/elevation/requests").await?;
            output::print(json_out, &v, |v| {
                output::elevation_requests(&v.requests);
            });
        }
        ElevationCmd::Approve { id } => {
            let path = format!("/elevation/requests/{}/approve", client::seg(id));
            let v: ElevationStatusOut = api.act(Method::POST, &path).await?;
            if json_out {
                output::json(&v);
            } else if let ElevationStatusOut::Approved { elevation } = &v {
                println!("approved: {} until {}", elevation.role, elevation.until);
            } else {
                bail!("the server answered an approval with another status");
            }
        }
        ElevationCmd::Deny { id } => {
            let path = format!("/elevation/requests/{}/deny", client::seg(id));
            api.act::<()>(Method::POST, &path).await?;
            output::done(json_out, &(), "denied");
        }
        ElevationCmd::End { role } => {
            let path = format!("/elevation/{}", client::seg(role));
            api.act::<()>(Method::DELETE, &path).await?;
            output::done(json_out, &(), "elevation ended");
        }
    }
    Ok(())
}
