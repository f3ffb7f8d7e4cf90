//! `totp`: enrol an authenticator app (QR code in the terminal, then a first code to confirm),
//! confirm, remove.

use anyhow::{Context, Result};
use clap::Subcommand;
use iam_axum::dto::{AccountOut, TotpCodeBody, TotpEnrolmentOut};
use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use reqwest::Method;

use crate::accounts::account_path;
use crate::client::{self, Api};
use crate::connect::connect;
use crate::output;
use crate::terminal;
use crate::GlobalArgs;

/// How many codes `totp enrol` asks for before giving up.
const CONFIRM_TRIES: usize = 3;

#[derive(Subcommand)]
pub enum TotpCmd {
    /// Turn on TOTP for your account: shows a QR code (and the otpauth:// URI) for an
    /// authenticator app, then asks for a first code to confirm (in a terminal; otherwise
    /// confirm with `iamctl totp confirm CODE`).
    Enrol {
        /// Draw the QR code for a terminal with a light background (the default suits dark
        /// ones).
        #[arg(long)]
        light_background: bool,
    },
    /// Confirm a pending enrolment with the code the authenticator app shows now.
    Confirm {
        /// The six-digit code.
        code: String,
    },
    /// Turn TOTP off: your own (needs a recent login), or an account's as an admin (recovery).
    Remove {
        /// Account id or username (an admin removing another account's TOTP).
        #[arg(long)]
        account: Option<String>,
    },
}

/// Runs a `totp` command.
pub async fn run(g: &GlobalArgs, cmd: &TotpCmd) -> Result<()> {
    let mut api = connect(g, false)?;
    match cmd {
        TotpCmd::Enrol { light_background } => {
            let e: TotpEnrolmentOut = api.act(Method::POST, "/totp/enrol").await?;
            if g.json {
                output::json(&e);
                return Ok(());
            }
            println!("Scan this QR code with an authenticator app, or enter the secret by hand:\n");
            println!("{}", qr_text(&e.uri, *light_background)?);
            output::pairs(&[("uri", e.uri.clone()), ("secret", e.secret.clone())]);
            println!();
            if !terminal::interactive() {
                println!("Then confirm with: iamctl totp confirm CODE");
                return Ok(());
            }
            confirm_interactively(&mut api).await
        }
        TotpCmd::Confirm { code } => {
            let a = confirm(&mut api, code).await?;
            output::print(g.json, &a, |a| {
                println!("TOTP is on for {}", a.username);
            });
            Ok(())
        }
        TotpCmd::Remove { account } => {
            let path = match account {
                Some(account) => account_path(&mut api, account, "/totp").await?,
                None => "/totp".to_owned(),
            };
            let a: AccountOut = api.act(Method::DELETE, &path).await?;
            output::print(g.json, &a, |a| {
                println!("TOTP is off for {}", a.username);
            });
            Ok(())
        }
    }
}

/// `POST /totp/confirm` with `code`.
async fn confirm(api: &mut Api, code: &str) -> Result<AccountOut> {
    let body = TotpCodeBody {
        code: code.trim().to_owned(),
    };
    api.send_json(Method::POST, "/totp/confirm", &body).await
}

/// Asks for codes until one confirms the enrolment (a few tries).
async fn confirm_interactively(api: &mut Api) -> Result<()> {
    let mut tries = 0;
    loop {
        tries += 1;
        let code = terminal::line("Code from the app, to confirm: ")?;
        match confirm(api, &code).await {
            Ok(a) => {
                println!(
                    "TOTP is on for {}: from now on, logging in asks for a code too",
                    a.username
                );
                return Ok(());
            }
            Err(e)
                if tries < CONFIRM_TRIES
                    && matches!(
                        client::error_code(&e),
                        Some("invalid_credentials" | "invalid_totp_code")
                    ) =>
            {
                eprintln!(
                    "That code was not accepted ({}). Check the clock of the device, wait for \
                     the next code, and try again.",
                    e.chain()
                        .find_map(|c| c.downcast_ref::<client::ServerError>())
                        .map_or("refused", |s| s.message.as_str())
                );
            }
            Err(e) => return Err(e.context(
                "TOTP is not on yet; confirm later with `iamctl totp confirm CODE`, or enrol again",
            )),
        }
    }
}

/// The QR code of `uri` as text: two modules per character cell, with its quiet zone.
fn qr_text(uri: &str, light_background: bool) -> Result<String> {
    let code = QrCode::new(uri.as_bytes()).context("drawing the QR code")?;
    let mut render = code.render::<Dense1x2>();
    if !light_background {
        // Light text on a dark terminal: draw the light modules, leave the dark ones blank.
        render
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark);
    }
    Ok(render.quiet_zone(true).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_code_is_drawn_with_half_blocks_and_inverts_for_dark_terminals() {
        let uri = "otpauth://totp/iam:alice?secret=JBSWY3DPEHPK3PXP&issuer=iam";
        let dark = qr_text(uri, false).expect("QR");
        let light = qr_text(uri, true).expect("QR");
        assert!(dark.contains('▀') || dark.contains('▄'), "{dark}");
        assert_eq!(dark.lines().count(), light.lines().count());
        // The quiet zone: blank on a light terminal, drawn on a dark one.
        let top_light = light.lines().next().expect("a line");
        let top_dark = dark.lines().next().expect("a line");
        assert!(top_light.trim().is_empty(), "{top_light:?}");
        assert!(top_dark.chars().all(|c| c == '█'), "{top_dark:?}");
    }
}
