//! `api-tokens`: the personal API tokens of the logged-in account.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use iam_axum::dto::{ApiTokenList, NewApiTokenBody, NewApiTokenOut, OwnerQuery};
use reqwest::Method;

use crate::accounts::resolve_account;
use crate::client;
use crate::connect::connect;
use crate::output::{self, cell};
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum ApiTokensCmd {
    /// List your API tokens (admins: another account's, with --account).
    List {
        /// Whose tokens: an account id or username (admins only).
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
    },
    /// Create an API token; prints the token once.
    Create {
        /// Label.
        #[arg(long)]
        label: String,
        /// A scope (repeatable).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Lifetime: seconds, or a number with s, m, h or d.
        #[arg(long, default_value = "30d", value_name = "DURATION")]
        expires_in: String,
    },
    /// Revoke an API token.
    Revoke {
        /// Token id.
        id: String,
    },
}

/// Parses a lifetime: seconds, or a number with `s`, `m`, `h` or `d`.
pub(crate) fn parse_duration(text: &str) -> Result<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("{text:?} is not a duration (like 3600, 90m, 12h or 30d)"))?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => bail!("{text:?}: the unit must be s, m, h or d"),
    };
    n.checked_mul(factor).context("the duration is too long")
}

/// Runs an `api-tokens` command.
pub async fn run(g: &GlobalArgs, cmd: &ApiTokensCmd) -> Result<()> {
    let mut api = connect(g, false)?;
    match cmd {
        ApiTokensCmd::List { account } => {
            let query = OwnerQuery {
                account_id: match account {
                    Some(a) => Some(resolve_account(&mut api, a).await?),
                    None => None,
                },
            };
            let v: ApiTokenList = api.get_query("/api-tokens", &query).await?;
            output::print(g.json, &v, |v| {
                output::api_tokens(&v.api_tokens);
            });
        }
        ApiTokensCmd::Create {
            label,
            scopes,
            expires_in,
        } => {
            let body = NewApiTokenBody {
                label: label.clone(),
                scopes: scopes.clone(),
                expires_in: parse_duration(expires_in)?,
            };
            let v: NewApiTokenOut = api.send_json(Method::POST, "/api-tokens", &body).await?;
            output::print(g.json, &v, |v| {
                output::pairs(&[
                    ("id", v.info.id.clone()),
                    ("label", v.info.label.clone()),
                    ("scopes", cell(&v.info.scopes)),
                    ("expires", v.info.expires_at.clone()),
                    ("token", v.token.clone()),
                ]);
                eprintln!("(the token is shown once)");
            });
        }
        ApiTokensCmd::Revoke { id } => {
            let path = format!("/api-tokens/{}", client::seg(id));
            api.act::<()>(Method::DELETE, &path).await?;
            output::done(g.json, &(), "API token revoked");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600").ok(), Some(3600));
        assert_eq!(parse_duration("90m").ok(), Some(5400));
        assert_eq!(parse_duration("12h").ok(), Some(43_200));
        assert_eq!(parse_duration("30d").ok(), Some(2_592_000));
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("").is_err());
    }
}
