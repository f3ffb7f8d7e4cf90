//! The userinfo endpoint (OpenID Connect Core §5.3) and ID-token hints.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::claims::account_claims;
use crate::authz::{Action, Caller};
use crate::clock::Clock;
use crate::error::{Denial, Error, Missing, Result};
use crate::iam::Iam;
use crate::jose::JwtRefusal;
use crate::oauth::{OAuthError, OAuthErrorCode};
use crate::oidc::id_token::ID_TOKEN_TYP;
use crate::store::Store;
use crate::token::{jwt_access, Principal};

/// What an RP-initiated logout request comes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndSession {
    /// Where to send the browser afterwards (registered for the client), if asked.
    pub redirect_uri: Option<String>,
    /// Whether the hint names the signed-in user (or nobody is signed in): then the session
    /// ends without asking.
    pub hint_matches_user: bool,
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// The claims about the user that `token` (an OAuth access token the user delegated,
    /// with the `openid` scope) may read: `sub`, and what its consented scopes release.
    ///
    /// A token of another kind, or without `openid`, is denied; an account that is gone or
    /// disabled is [`Error::NotFound`] (its tokens are revoked anyway).
    pub async fn userinfo(&self, token: &Principal) -> Result<Map<String, Value>> {
        let now = self.now();
        self.check(Caller::Principal(token), Action::ReadUserInfo, now)?;
        let account = match self.load_account(&token.account_id).await? {
            Some((_, a)) if !a.disabled => a,
            _ => return Err(Error::NotFound(Missing::Account)),
        };
        let scopes: BTreeSet<String> = token.scopes.iter().cloned().collect();
        Ok(account_claims(&account, &scopes, None))
    }

    /// Checks an RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0 §2-§3)
    /// from the browser of `user`: the `id_token_hint` must be an ID token of this server
    /// (expired or not); `client_id`, when given too, must be its audience; a
    /// `post_logout_redirect_uri` must be registered for that client, exactly. The caller
    /// then ends the session (asking the user first unless the hint names them).
    pub async fn check_end_session(
        &self,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        user: Option<&Principal>,
    ) -> std::result::Result<EndSession, OAuthError> {
        let mut subject = None;
        let mut audience = None;
        if let Some(hint) = id_token_hint {
            let claims = self.hint_claims(hint).await?;
            subject = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
            audience = match claims.get("aud") {
                Some(Value::String(a)) => Some(a.clone()),
                Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_owned),
                _ => None,
            };
        }
        let client = match (audience.as_deref(), client_id) {
            (Some(a), Some(c)) if a != c => {
                return Err(OAuthError::invalid_request(
                    "client_id is not the audience of id_token_hint",
                ))
            }
            (Some(a), _) => Some(a),
            (None, c) => c,
        };
        let redirect_uri = match post_logout_redirect_uri {
            None => None,
            Some(uri) => {
                let registered = match client {
                    Some(id) => self
                        .load_client(id)
                        .await
                        .map_err(|_| OAuthError::server_error())?
                        .filter(|(_, c)| !c.info.disabled)
                        .is_some_and(|(_, c)| {
                            c.info
                                .oidc
                                .post_logout_redirect_uris
                                .iter()
                                .any(|u| u == uri)
                        }),
                    None => false,
                };
                if !registered {
                    return Err(OAuthError::invalid_request(
                        "post_logout_redirect_uri is not registered for the client",
                    ));
                }
                Some(uri.to_owned())
            }
        };
        let hint_matches_user = match (user, subject) {
            (Some(u), Some(s)) => u.account_id == s,
            (None, _) => true,
            (Some(_), None) => false,
        };
        Ok(EndSession {
            redirect_uri,
            hint_matches_user,
        })
    }

    /// Verifies an ID token this server issued to `client_id`, as a relying party would:
    /// signed by one of the JOSE keys (with one rate-limited key reload for an unknown kid),
    /// header `typ` `JWT` (a JWT access token is refused), `iss` this issuer, `aud` naming
    /// `client_id`, and `exp` not passed. Returns its claims.
    pub async fn verify_id_token(
        &self,
        token: &str,
        client_id: &str,
    ) -> std::result::Result<Map<String, Value>, Denial> {
        let claims = self
            .verify_own_jwt_reloading(token, Some(ID_TOKEN_TYP))
            .await
            .map_err(jwt_access::denial)?;
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == client_id,
            Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(client_id)),
            _ => false,
        };
        if !audience_ok {
            return Err(Denial::TokenWrongAudience);
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(Denial::TokenMalformed)?;
        if self.now().as_secs() >= exp {
            return Err(Denial::TokenExpired);
        }
        Ok(claims)
    }

    /// The claims of an `id_token_hint`: an ID token this server issued (expired or not).
    /// Anything else (unsigned, another algorithm, a key not ours, another issuer, another
    /// type of JWT, a malformed token) is `invalid_request`.
    async fn hint_claims(&self, hint: &str) -> std::result::Result<Map<String, Value>, OAuthError> {
        let refused = |why: &'static str| OAuthError::new(OAuthErrorCode::InvalidRequest, why);
        self.verify_own_jwt_reloading(hint, Some(ID_TOKEN_TYP))
            .await
            .map_err(|e| {
                refused(match e {
                    JwtRefusal::UnsupportedAlg => {
                        "id_token_hint is not signed with an algorithm iam uses"
                    }
                    JwtRefusal::UnknownKey => "id_token_hint is not signed by this server",
                    JwtRefusal::WrongIssuer => "id_token_hint was issued by another server",
                    _ => "id_token_hint is not a valid ID token",
                })
            })
    }

    /// The subject of an `id_token_hint` (see [`Self::check_end_session`] for what is refused).
    pub(crate) async fn id_token_hint_subject(
        &self,
        hint: &str,
    ) -> std::result::Result<String, OAuthError> {
        match self.hint_claims(hint).await?.get("sub") {
            Some(Value::String(sub)) => Ok(sub.clone()),
            _ => Err(OAuthError::invalid_request("id_token_hint has no subject")),
        }
    }
}
