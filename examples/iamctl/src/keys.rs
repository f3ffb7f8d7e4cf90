//! `keys`: token signing keys.

use anyhow::Result;
use clap::Subcommand;
use iam_axum::dto::{ActiveKeyOut, KeyList};
use reqwest::Method;

use crate::connect::connect;
use crate::output;
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum KeysCmd {
    /// The published token-signing keys (`GET /keys`; needs no login): the keys to pin for
    /// `audit verify --public-key`.
    List,
    /// Make a new signing key active (admin); tokens signed by the old one keep verifying until
    /// they expire.
    Rotate,
}

/// Runs a `keys` command.
pub async fn run(g: &GlobalArgs, cmd: &KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::List => {
            let api = connect(g, false)?;
            let list: KeyList = api.get_anonymous("/keys").await?;
            if g.json {
                output::json(&list);
            } else {
                let rows: Vec<Vec<String>> = list
                    .keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.kid.clone(),
                            k.paserk.clone(),
                            if k.active { "yes" } else { "" }.to_owned(),
                        ]
                    })
                    .collect();
                output::table(&["KID", "PUBLIC KEY", "ACTIVE"], &rows);
            }
        }
        KeysCmd::Rotate => {
            let mut api = connect(g, false)?;
            let v: ActiveKeyOut = api.act(Method::POST, "/keys/rotate").await?;
            let text = format!("new active signing key: {}", v.active_kid);
            output::done(g.json, &v, &text);
        }
    }
    Ok(())
}
