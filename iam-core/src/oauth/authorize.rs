//! Pure decisions of the authorization endpoint: redirect URI matching, `prompt` and
//! `max_age`, and whether to issue a code, ask for login, or ask for consent.

use std::time::Duration;

use super::client::OAuthClient;
use super::error::{OAuthError, OAuthErrorCode};
use crate::clock::Timestamp;

/// The `prompt` values of OpenID Connect Core §3.1.2.1 that were asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// Parses `prompt`: space-delimited `none`, `login`, `consent`, `select_account`; `none`
/// with any other value, or an unknown value, is `invalid_request` (OpenID Connect Core
/// §3.1.2.1). iam has no account chooser: `select_account` is answered as `login`, with the
/// login page, where the user may sign in as another account.
pub(crate) fn parse_prompt(prompt: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut p = Prompt::default();
    let mut others = false;
    for v in prompt.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        match v {
            "none" => p.none = true,
            "consent" => {
                p.consent = true;
                others = true;
            }
            "login" | "select_account" => {
                p.login = true;
                others = true;
            }
            _ => return Err(OAuthError::invalid_request("unsupported prompt value")),
        }
    }
    if p.none && others {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(p)
}

/// The redirect URI to use, and whether the request named it. Exact string match only
/// (RFC 6749 §3.1.2.3); a request without one is allowed only when exactly one is registered.
/// Failure here must be shown to the user, never redirected (§4.1.2.1).
pub(crate) fn match_redirect_uri(
    client: &OAuthClient,
    requested: Option<&str>,
) -> Result<(String, bool), OAuthError> {
    match requested {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => Ok((uri.to_owned(), true)),
        Some(_) => Err(OAuthError::invalid_request(
            "redirect_uri does not match a registered redirect URI",
        )),
        None => match client.redirect_uris.as_slice() {
            [only] => Ok((only.clone(), false)),
            _ => Err(OAuthError::invalid_request("redirect_uri is required")),
        },
    }
}

/// What the authorization endpoint should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interaction {
    /// Issue a code now.
    Issue,
    /// Show a login page, then ask again.
    Login,
    /// Show a consent page.
    Consent,
}

/// The live session, as far as the decision needs it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SessionFacts {
    pub auth_time: Timestamp,
}

/// Decides between issuing, login and consent; with `prompt=none` the last two become
/// `login_required` / `consent_required` errors (OpenID Connect Core §3.1.2.6).
pub(crate) fn decide_interaction(
    prompt: Prompt,
    session: Option<SessionFacts>,
    max_age: Option<u64>,
    consent_covers: bool,
    now: Timestamp,
) -> Result<Interaction, OAuthError> {
    let too_old =
        |s: SessionFacts| max_age.is_some_and(|m| s.auth_time.plus(Duration::from_secs(m)) < now);
    let needs_login = match session {
        None => true,
        Some(s) => prompt.login || too_old(s),
    };
    if needs_login {
        return if prompt.none {
            Err(OAuthError::code(OAuthErrorCode::LoginRequired))
        } else {
            Ok(Interaction::Login)
        };
    }
    if prompt.consent || !consent_covers {
        return if prompt.none {
            Err(OAuthError::code(OAuthErrorCode::ConsentRequired))
        } else {
            Ok(Interaction::Consent)
        };
    }
    Ok(Interaction::Issue)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str]) -> OAuthClient {
        OAuthClient {
            kind: super::super::ClientKind::Public,
            redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
            grant_types: std::collections::BTreeSet::new(),
            scopes: std::collections::BTreeSet::new(),
            resources: std::collections::BTreeSet::new(),
            owner: None,
            ..crate::oauth::rules::fixtures::client("cli_1").info
        }
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = client(&["https://app.example/cb"]);
        assert_eq!(
            match_redirect_uri(&c, Some("https://app.example/cb")).ok(),
            Some(("https://app.example/cb".into(), true))
        );
        assert_eq!(
            match_redirect_uri(&c, None).ok(),
            Some(("https://app.example/cb".into(), false))
        );
        for bad in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://app.example/c",
            "HTTPS://app.example/cb",
            "https://app.example/cb/../cb",
        ] {
            assert!(match_redirect_uri(&c, Some(bad)).is_err(), "{bad}");
        }
        let two = client(&["https://a.example/cb", "https://b.example/cb"]);
        assert!(match_redirect_uri(&two, None).is_err());
    }

    #[test]
    fn prompt_parsing() {
        assert_eq!(parse_prompt(None).ok(), Some(Prompt::default()));
        assert!(parse_prompt(Some("none")).is_ok_and(|p| p.none));
        assert!(parse_prompt(Some("login consent")).is_ok_and(|p| p.login && p.consent));
        assert!(parse_prompt(Some("none login")).is_err());
        assert!(parse_prompt(Some("bogus")).is_err());
        // No account chooser: select_account is the login page.
        assert_eq!(
            parse_prompt(Some("select_account")).ok(),
            Some(Prompt {
                login: true,
                ..Prompt::default()
            })
        );
        assert!(parse_prompt(Some("select_account consent")).is_ok_and(|p| p.login && p.consent));
        for combined in ["none select_account", "select_account none"] {
            assert_eq!(
                parse_prompt(Some(combined)).map_err(|e| e.code),
                Err(OAuthErrorCode::InvalidRequest),
                "{combined}"
            );
        }
    }

    #[test]
    fn interaction_decisions() {
        let now = Timestamp::from_secs(1000);
        let live = Some(SessionFacts {
            auth_time: Timestamp::from_secs(900),
        });
        let none = Prompt {
            none: true,
            ..Prompt::default()
        };
        let plain = Prompt::default();
        let d = |p, s, m, c| decide_interaction(p, s, m, c, now).map_err(|e| e.code);
        assert_eq!(d(none, live, None, true), Ok(Interaction::Issue));
        assert_eq!(
            d(none, None, None, true),
            Err(OAuthErrorCode::LoginRequired)
        );
        assert_eq!(
            d(none, live, None, false),
            Err(OAuthErrorCode::ConsentRequired)
        );
        assert_eq!(
            d(none, live, Some(50), true),
            Err(OAuthErrorCode::LoginRequired)
        );
        assert_eq!(d(none, live, Some(100), true), Ok(Interaction::Issue));
        assert_eq!(d(plain, None, None, true), Ok(Interaction::Login));
        assert_eq!(d(plain, live, None, false), Ok(Interaction::Consent));
        let consent = Prompt {
            consent: true,
            ..Prompt::default()
        };
        assert_eq!(d(consent, live, None, true), Ok(Interaction::Consent));
        let login = Prompt {
            login: true,
            ..Prompt::default()
        };
        assert_eq!(d(login, live, None, true), Ok(Interaction::Login));
    }
}
