//! `keys`: token signing keys.

use anyhow::Result;
use clap::Subcommand;
use iam_axum::dto::ActiveKeyOut;
use reqwest::Method;

use crate::connect::connect;
use crate::output;
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Make a new signing key active (admin); tokens signed by the old one keep verifying until
    /// they expire.
    Rotate,
}

/// Runs a `keys` command.
pub async fn run(g: &GlobalArgs, cmd: &KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::Rotate => {
            let mut api = connect(g, false)?;
            let v: ActiveKeyOut = api.act(Method::POST, "/keys/rotate").await?;
            let text = format!("new active signing key: {}", v.active_kid);
            output::done(g.json, &v, &text);
        }
    }
    Ok(())
}
