//! Parsed requests of the OAuth endpoints, as the HTTP layer hands them in.

use super::assertion::{unverified_subject, TokenEndpointAuthMethod, CLIENT_ASSERTION_TYPE_JWT};
use super::client::GrantType;
use super::error::{OAuthError, OAuthErrorCode};
use crate::secret::SecretString;

/// How a client authenticated at the token, revocation, introspection or device endpoint
/// (`client_secret_basic`, `client_secret_post`, `private_key_jwt`, or `none` for public
/// clients).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAuth {
    /// The `client_id`.
    pub client_id: String,
    /// The method the credentials came by.
    pub method: TokenEndpointAuthMethod,
    /// The `client_secret` (the secret methods only).
    pub client_secret: Option<SecretString>,
    /// The `client_assertion`, a JWT (`private_key_jwt` only).
    pub client_assertion: Option<SecretString>,
}

impl ClientAuth {
    /// A confidential client's credentials, sent by HTTP Basic.
    pub fn secret(client_id: impl Into<String>, secret: impl Into<SecretString>) -> Self {
        Self::with(
            client_id,
            TokenEndpointAuthMethod::ClientSecretBasic,
            Some(secret.into()),
            None,
        )
    }

    /// A confidential client's credentials, sent in the form.
    pub fn secret_post(client_id: impl Into<String>, secret: impl Into<SecretString>) -> Self {
        Self::with(
            client_id,
            TokenEndpointAuthMethod::ClientSecretPost,
            Some(secret.into()),
            None,
        )
    }

    /// A public client, identified only.
    pub fn public(client_id: impl Into<String>) -> Self {
        Self::with(client_id, TokenEndpointAuthMethod::None, None, None)
    }

    /// A client assertion (RFC 7523 §2.2) naming its client by `sub`; a `client_id` given
    /// beside it must be the same (else `invalid_client`), as must be one of the two at all.
    pub fn assertion(
        client_id: Option<&str>,
        assertion: impl Into<SecretString>,
    ) -> Result<Self, OAuthError> {
        let assertion = assertion.into();
        let subject = unverified_subject(assertion.expose());
        let id = match (client_id, subject) {
            (Some(id), Some(sub)) if id != sub => return Err(OAuthError::invalid_client()),
            (Some(id), _) => id.to_owned(),
            (None, Some(sub)) => sub,
            (None, None) => return Err(OAuthError::invalid_client()),
        };
        Ok(Self::with(
            id,
            TokenEndpointAuthMethod::PrivateKeyJwt,
            None,
            Some(assertion),
        ))
    }

    fn with(
        client_id: impl Into<String>,
        method: TokenEndpointAuthMethod,
        client_secret: Option<SecretString>,
        client_assertion: Option<SecretString>,
    ) -> Self {
        ClientAuth {
            client_id: client_id.into(),
            method,
            client_secret,
            client_assertion,
        }
    }

    /// Combines HTTP Basic credentials (already decoded per RFC 6749 §2.3.1) with the form's
    /// `client_id` / `client_secret` and `client_assertion_type` / `client_assertion`. Using
    /// two methods at once, or half of an assertion, is `invalid_request`; an assertion type
    /// other than [`CLIENT_ASSERTION_TYPE_JWT`] is `invalid_client`; a `client_id` in the form
    /// that disagrees with Basic or the assertion is `invalid_client`; none at all is
    /// `invalid_client`.
    pub fn from_request(
        basic: Option<(String, SecretString)>,
        form_client_id: Option<&str>,
        form_client_secret: Option<&str>,
        form_assertion_type: Option<&str>,
        form_assertion: Option<&str>,
    ) -> Result<Self, OAuthError> {
        let two = || OAuthError::invalid_request("use only one client authentication method");
        match (form_assertion_type, form_assertion) {
            (None, None) => {}
            (Some(_), Some(_)) if basic.is_some() || form_client_secret.is_some() => {
                return Err(two());
            }
            (Some(CLIENT_ASSERTION_TYPE_JWT), Some(assertion)) => {
                return ClientAuth::assertion(form_client_id, assertion);
            }
            (Some(_), Some(_)) => return Err(OAuthError::invalid_client()),
            _ => {
                return Err(OAuthError::invalid_request(
                    "client_assertion_type and client_assertion go together",
                ))
            }
        }
        match (basic, form_client_id, form_client_secret) {
            (Some(_), _, Some(_)) => Err(two()),
            (Some((id, _)), Some(form_id), None) if form_id != id => {
                Err(OAuthError::invalid_client())
            }
            (Some((id, secret)), _, None) => Ok(ClientAuth::secret(id, secret)),
            (None, Some(id), Some(secret)) => Ok(ClientAuth::secret_post(id, secret)),
            (None, Some(id), None) => Ok(ClientAuth::public(id)),
            (None, None, _) => Err(OAuthError::invalid_client()),
        }
    }
}

/// An authorization request (RFC 6749 §4.1.1 with RFC 7636, RFC 8707 and OpenID Connect
/// Core §3.1.2.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// `response_type`; only `code` is supported.
    pub response_type: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`, required when the client registered more than one.
    pub redirect_uri: Option<String>,
    /// `scope`, space-delimited.
    pub scope: Option<String>,
    /// `state`, returned unchanged.
    pub state: Option<String>,
    /// `code_challenge` (PKCE).
    pub code_challenge: Option<String>,
    /// `code_challenge_method`; only `S256`.
    pub code_challenge_method: Option<String>,
    /// `prompt` (`none`, `login`, `consent`, `select_account`).
    pub prompt: Option<String>,
    /// `max_age` in seconds: a session authenticated longer ago needs a new login.
    pub max_age: Option<u64>,
    /// `resource` indicators (RFC 8707), possibly several.
    pub resource: Vec<String>,
    /// `nonce` (OpenID Connect), echoed in the ID token.
    pub nonce: Option<String>,
    /// `response_mode`: `query` (the default) or `form_post`.
    pub response_mode: Option<String>,
    /// `id_token_hint`: an ID token iam issued earlier, naming the expected user.
    pub id_token_hint: Option<String>,
    /// `login_hint`: a username to prefill on the login page.
    pub login_hint: Option<String>,
    /// `ui_locales`: accepted; the pages speak one language.
    pub ui_locales: Option<String>,
    /// `claims` (OpenID Connect Core §5.5): a JSON object asking for individual claims.
    pub claims: Option<String>,
    /// Names of parameters that appeared more than once (RFC 6749 §3.1 forbids it): a
    /// repeated `client_id` or `redirect_uri` is shown to the user, any other answers
    /// `invalid_request` by redirect.
    pub repeated: Vec<String>,
}

impl AuthorizeRequest {
    /// Builds the request from its query parameters, keeping the first value of each and
    /// noting repeats in [`AuthorizeRequest::repeated`]. An unparsable `max_age` counts as
    /// repeated (so the request is refused with `invalid_request`).
    pub fn from_params(params: &[(String, String)]) -> Self {
        let mut req = AuthorizeRequest::default();
        for (i, (name, value)) in params.iter().enumerate() {
            if name == "resource" {
                req.resource.push(value.clone());
                continue;
            }
            if params[..i].iter().any(|(n, _)| n == name) {
                if !req.repeated.contains(name) {
                    req.repeated.push(name.clone());
                }
                continue;
            }
            let v = Some(value.clone());
            match name.as_str() {
                "response_type" => req.response_type = v,
                "client_id" => req.client_id = v,
                "redirect_uri" => req.redirect_uri = v,
                "scope" => req.scope = v,
                "state" => req.state = v,
                "code_challenge" => req.code_challenge = v,
                "code_challenge_method" => req.code_challenge_method = v,
                "prompt" => req.prompt = v,
                "nonce" => req.nonce = v,
                "response_mode" => req.response_mode = v,
                "id_token_hint" => req.id_token_hint = v,
                "login_hint" => req.login_hint = v,
                "ui_locales" => req.ui_locales = v,
                "claims" => req.claims = v,
                "max_age" => match value.parse() {
                    Ok(n) => req.max_age = Some(n),
                    Err(_) => req.repeated.push(name.clone()),
                },
                _ => {}
            }
        }
        req
    }
}

/// A token request (RFC 6749 §4.1.3, §4.4.2, §6; RFC 8628 §3.4), one variant per grant type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenRequest {
    /// `grant_type=authorization_code`.
    AuthorizationCode {
        /// `code`.
        code: SecretString,
        /// `redirect_uri`, required if the authorization request carried one.
        redirect_uri: Option<String>,
        /// `code_verifier` (PKCE).
        code_verifier: Option<SecretString>,
        /// `resource` indicators narrowing the token (RFC 8707).
        resource: Vec<String>,
    },
    /// `grant_type=refresh_token`.
    RefreshToken {
        /// `refresh_token`.
        refresh_token: SecretString,
        /// `scope`, narrowing the new access token.
        scope: Option<String>,
        /// `resource` indicators narrowing the new access token (RFC 8707).
        resource: Vec<String>,
    },
    /// `grant_type=client_credentials`.
    ClientCredentials {
        /// `scope`; absent means every scope the client is allowed.
        scope: Option<String>,
        /// `resource` indicators (RFC 8707).
        resource: Vec<String>,
    },
    /// `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
    DeviceCode {
        /// `device_code`.
        device_code: SecretString,
    },
}

impl TokenRequest {
    /// The grant type.
    pub fn grant_type(&self) -> GrantType {
        match self {
            TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
            TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
            TokenRequest::DeviceCode { .. } => GrantType::DeviceCode,
        }
    }

    /// Parses the form parameters of a token request. A repeated parameter (other than
    /// `resource`) or a missing required one is `invalid_request`; an unknown `grant_type` is
    /// `unsupported_grant_type`. Client credentials in the form are left to [`ClientAuth::from_request`].
    pub fn from_params(params: &[(String, String)]) -> Result<Self, OAuthError> {
        let form = Form::new(params)?;
        let grant = form
            .one("grant_type")
            .ok_or(OAuthError::invalid_request("grant_type is required"))?;
        let grant = GrantType::parse(grant)
            .ok_or(OAuthError::code(OAuthErrorCode::UnsupportedGrantType))?;
        let required = |name: &'static str, why: &'static str| {
            form.one(name)
                .filter(|v| !v.is_empty())
                .map(SecretString::from)
                .ok_or(OAuthError::invalid_request(why))
        };
        Ok(match grant {
            GrantType::AuthorizationCode => TokenRequest::AuthorizationCode {
                code: required("code", "code is required")?,
                redirect_uri: form.one("redirect_uri").map(str::to_owned),
                code_verifier: form.one("code_verifier").map(SecretString::from),
                resource: form.all("resource"),
            },
            GrantType::RefreshToken => TokenRequest::RefreshToken {
                refresh_token: required("refresh_token", "refresh_token is required")?,
                scope: form.one("scope").map(str::to_owned),
                resource: form.all("resource"),
            },
            GrantType::ClientCredentials => TokenRequest::ClientCredentials {
                scope: form.one("scope").map(str::to_owned),
                resource: form.all("resource"),
            },
            GrantType::DeviceCode => TokenRequest::DeviceCode {
                device_code: required("device_code", "device_code is required")?,
            },
        })
    }
}

/// Form parameters with the rule that none but `resource` may repeat (RFC 6749 §3.1, §3.2).
struct Form<'a> {
    params: &'a [(String, String)],
}

impl<'a> Form<'a> {
    fn new(params: &'a [(String, String)]) -> Result<Self, OAuthError> {
        for (i, (name, _)) in params.iter().enumerate() {
            if name != "resource" && params[..i].iter().any(|(n, _)| n == name) {
                return Err(OAuthError::invalid_request(
                    "a request parameter is repeated",
                ));
            }
        }
        Ok(Form { params })
    }

    fn one(&self, name: &str) -> Option<&'a str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.params
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The `token_type_hint` of revocation and introspection requests (RFC 7009 §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// Parses a hint; unknown values give `None` (the server then searches every type).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "access_token" => Some(TokenTypeHint::AccessToken),
            "refresh_token" => Some(TokenTypeHint::RefreshToken),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn token_requests_parse_by_grant_type() {
        let r = TokenRequest::from_params(&p(&[
            ("grant_type", "client_credentials"),
            ("scope", "read"),
            ("resource", "https://a.example/"),
            ("resource", "https://b.example/"),
        ]));
        assert_eq!(
            r.ok(),
            Some(TokenRequest::ClientCredentials {
                scope: Some("read".into()),
                resource: vec!["https://a.example/".into(), "https://b.example/".into()],
            })
        );
        let code =
            TokenRequest::from_params(&p(&[("grant_type", "authorization_code"), ("code", "abc")]));
        assert_eq!(
            code.map(|r| r.grant_type()).ok(),
            Some(GrantType::AuthorizationCode)
        );
    }

    #[test]
    fn token_request_errors() {
        let code =
            |pairs: &[(&str, &str)]| TokenRequest::from_params(&p(pairs)).map_err(|e| e.code);
        assert_eq!(code(&[]), Err(OAuthErrorCode::InvalidRequest));
        assert_eq!(
            code(&[("grant_type", "password")]),
            Err(OAuthErrorCode::UnsupportedGrantType)
        );
        assert_eq!(
            code(&[("grant_type", "authorization_code")]),
            Err(OAuthErrorCode::InvalidRequest)
        );
        assert_eq!(
            code(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "a"),
                ("refresh_token", "b")
            ]),
            Err(OAuthErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn authorize_requests_parse_and_note_repeats() {
        let r = AuthorizeRequest::from_params(&p(&[
            ("response_type", "code"),
            ("client_id", "cli_1"),
            ("scope", "a b"),
            ("scope", "c"),
            ("max_age", "60"),
            ("resource", "https://a.example/"),
            ("resource", "https://b.example/"),
            ("unknown", "ignored"),
        ]));
        assert_eq!(r.client_id.as_deref(), Some("cli_1"));
        assert_eq!(r.scope.as_deref(), Some("a b"));
        assert_eq!(r.max_age, Some(60));
        assert_eq!(r.resource.len(), 2);
        assert_eq!(r.repeated, vec!["scope".to_string()]);
        let bad = AuthorizeRequest::from_params(&p(&[("max_age", "-1")]));
        assert_eq!(bad.repeated, vec!["max_age".to_string()]);
    }

    #[test]
    fn client_auth_methods() {
        let basic = Some(("cli_1".to_owned(), SecretString::from("s")));
        assert_eq!(
            ClientAuth::from_request(basic.clone(), None, None, None, None).ok(),
            Some(ClientAuth::secret("cli_1", "s"))
        );
        assert!(ClientAuth::from_request(basic.clone(), None, Some("s"), None, None).is_err());
        assert_eq!(
            ClientAuth::from_request(basic, Some("cli_2"), None, None, None).map_err(|e| e.code),
            Err(OAuthErrorCode::InvalidClient)
        );
        assert_eq!(
            ClientAuth::from_request(None, Some("cli_1"), None, None, None).ok(),
            Some(ClientAuth::public("cli_1"))
        );
        assert_eq!(
            ClientAuth::from_request(None, Some("cli_1"), Some("s"), None, None).ok(),
            Some(ClientAuth::secret_post("cli_1", "s"))
        );
        assert!(ClientAuth::from_request(None, None, None, None, None).is_err());
        assert_eq!(
            TokenTypeHint::parse("refresh_token"),
            Some(TokenTypeHint::RefreshToken)
        );
        assert_eq!(TokenTypeHint::parse("id_token"), None);
    }

    #[test]
    fn client_assertions_name_their_client() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let jwt = |payload: &str| format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload));
        let a = jwt(r#"{"iss":"cli_1","sub":"cli_1"}"#);
        let t = Some(CLIENT_ASSERTION_TYPE_JWT);
        let req = |id, secret, ty, assertion| {
            ClientAuth::from_request(None, id, secret, ty, assertion).map_err(|e| e.code)
        };
        let ok = req(None, None, t, Some(&a)).expect("assertion");
        assert_eq!(ok.client_id, "cli_1");
        assert_eq!(ok.method, TokenEndpointAuthMethod::PrivateKeyJwt);
        assert_eq!(
            ok.client_assertion.as_ref().map(SecretString::expose),
            Some(a.as_str())
        );
        assert!(req(Some("cli_1"), None, t, Some(&a)).is_ok());
        assert_eq!(
            req(Some("cli_2"), None, t, Some(&a)),
            Err(OAuthErrorCode::InvalidClient)
        );
        assert_eq!(
            req(Some("cli_1"), Some("s"), t, Some(&a)),
            Err(OAuthErrorCode::InvalidRequest)
        );
        assert_eq!(
            req(None, None, Some("urn:other"), Some(&a)),
            Err(OAuthErrorCode::InvalidClient)
        );
        assert_eq!(
            req(None, None, t, None),
            Err(OAuthErrorCode::InvalidRequest)
        );
        assert_eq!(
            req(None, None, t, Some("not-a-jwt")),
            Err(OAuthErrorCode::InvalidClient)
        );
        let basic = Some(("cli_1".to_owned(), SecretString::from("s")));
        assert_eq!(
            ClientAuth::from_request(basic, None, None, t, Some(&a)).map_err(|e| e.code),
            Err(OAuthErrorCode::InvalidRequest)
        );
    }
}
