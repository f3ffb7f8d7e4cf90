//! Authorization server metadata (RFC 8414), served at `/.well-known/oauth-authorization-server`,
//! which is also the OpenID Provider metadata (OpenID Connect Discovery 1.0 §3), served at
//! `/.well-known/openid-configuration`.

use serde::{Deserialize, Serialize};

use super::client::GrantType;
use crate::jose::JwsAlg;
use crate::oidc::{supported_claims, ACR_MULTI_FACTOR, ACR_SINGLE_FACTOR, OPENID_SCOPE};

/// The metadata document. Optional fields are omitted when `None` or empty.
#[allow(clippy::struct_excessive_bools)] // each flag is a field of RFC 8414 or OpenID Discovery
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// `issuer`: the base URL, https with no query or fragment.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `jwks_uri`: the public signing keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `scopes_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// `response_types_supported`: `code`.
    pub response_types_supported: Vec<String>,
    /// `response_modes_supported`: `query`.
    pub response_modes_supported: Vec<String>,
    /// `grant_types_supported`.
    pub grant_types_supported: Vec<String>,
    /// `token_endpoint_auth_methods_supported`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `token_endpoint_auth_signing_alg_values_supported`: the algorithms of `private_key_jwt`
    /// client assertions (RS256, ES256, EdDSA; never `none` or HMAC).
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// `revocation_endpoint` (RFC 7009).
    pub revocation_endpoint: String,
    /// `revocation_endpoint_auth_methods_supported`.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// `revocation_endpoint_auth_signing_alg_values_supported`.
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// `introspection_endpoint` (RFC 7662).
    pub introspection_endpoint: String,
    /// `introspection_endpoint_auth_methods_supported`: confidential clients only.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// `introspection_endpoint_auth_signing_alg_values_supported`.
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// `code_challenge_methods_supported`: `S256`.
    pub code_challenge_methods_supported: Vec<String>,
    /// `device_authorization_endpoint` (RFC 8628 §4).
    pub device_authorization_endpoint: String,
    /// `authorization_response_iss_parameter_supported` (RFC 9207): authorization responses
    /// carry `iss` (see [`super::AuthorizationRedirect::location_for_issuer`]).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// `service_documentation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_documentation: Option<String>,
    /// `userinfo_endpoint` (OpenID Connect Core §5.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// `end_session_endpoint` (OpenID Connect RP-Initiated Logout 1.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// `subject_types_supported`: `public` (the account id).
    pub subject_types_supported: Vec<String>,
    /// `id_token_signing_alg_values_supported`: RS256, ES256, EdDSA (never `none`).
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `claims_supported`.
    pub claims_supported: Vec<String>,
    /// `claims_parameter_supported`.
    pub claims_parameter_supported: bool,
    /// `request_parameter_supported`: false (request objects are not accepted).
    pub request_parameter_supported: bool,
    /// `request_uri_parameter_supported`: false (its default is true, so it is said).
    pub request_uri_parameter_supported: bool,
    /// `prompt_values_supported`.
    pub prompt_values_supported: Vec<String>,
    /// `acr_values_supported`.
    pub acr_values_supported: Vec<String>,
    /// `backchannel_logout_supported` (OpenID Connect Back-Channel Logout 1.0 §2.1): true.
    pub backchannel_logout_supported: bool,
    /// `backchannel_logout_session_supported`: true (Logout Tokens and ID tokens carry `sid`).
    pub backchannel_logout_session_supported: bool,
}

impl AuthorizationServerMetadata {
    /// The metadata for a server whose issuer (base URL) is `issuer`, with iam's endpoint
    /// paths under `/oauth/` and keys at `/.well-known/jwks.json`. Fields are public, so the
    /// HTTP layer can change paths it serves elsewhere.
    pub fn new(issuer: &str) -> Self {
        let base = issuer.trim_end_matches('/');
        let at = |path: &str| format!("{base}{path}");
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let confidential = strings(&[
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ]);
        let with_none = strings(&[
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ]);
        let algs: Vec<String> = JwsAlg::ALL.iter().map(|a| a.as_str().to_owned()).collect();
        AuthorizationServerMetadata {
            issuer: base.to_owned(),
            authorization_endpoint: at("/oauth/authorize"),
            token_endpoint: at("/oauth/token"),
            jwks_uri: Some(at("/.well-known/jwks.json")),
            scopes_supported: strings(&[OPENID_SCOPE, "profile", "email"]),
            response_types_supported: strings(&["code"]),
            response_modes_supported: strings(&["query", "form_post"]),
            grant_types_supported: GrantType::ALL
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            token_endpoint_auth_methods_supported: with_none.clone(),
            token_endpoint_auth_signing_alg_values_supported: algs.clone(),
            revocation_endpoint: at("/oauth/revoke"),
            revocation_endpoint_auth_methods_supported: with_none,
            revocation_endpoint_auth_signing_alg_values_supported: algs.clone(),
            introspection_endpoint: at("/oauth/introspect"),
            introspection_endpoint_auth_methods_supported: confidential,
            introspection_endpoint_auth_signing_alg_values_supported: algs.clone(),
            code_challenge_methods_supported: strings(&["S256"]),
            device_authorization_endpoint: at("/oauth/device_authorization"),
            authorization_response_iss_parameter_supported: true,
            service_documentation: None,
            userinfo_endpoint: Some(at("/oauth/userinfo")),
            end_session_endpoint: Some(at("/oauth/end_session")),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: algs,
            claims_supported: supported_claims()
                .into_iter()
                .chain([
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "acr",
                    "amr",
                    "azp",
                    "at_hash",
                    "sid",
                ])
                .map(str::to_owned)
                .collect(),
            claims_parameter_supported: true,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            prompt_values_supported: strings(&["none", "login", "consent", "select_account"]),
            acr_values_supported: strings(&[ACR_SINGLE_FACTOR, ACR_MULTI_FACTOR]),
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_has_rfc_8414_fields() {
        let m = AuthorizationServerMetadata::new("https://id.example.com/");
        let v = serde_json::to_value(&m).unwrap_or_default();
        assert_eq!(v["issuer"], "https://id.example.com");
        assert_eq!(v["token_endpoint"], "https://id.example.com/oauth/token");
        assert_eq!(
            v["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(v["response_types_supported"], serde_json::json!(["code"]));
        assert!(v["grant_types_supported"]
            .as_array()
            .is_some_and(|g| g.contains(&serde_json::json!(
                "urn:ietf:params:oauth:grant-type:device_code"
            ))));
        assert_eq!(v["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            v["scopes_supported"],
            serde_json::json!(["openid", "profile", "email"])
        );
        assert!(v.get("service_documentation").is_none());
        // OpenID Connect Discovery §3: the REQUIRED provider metadata.
        for required in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
        ] {
            assert!(v.get(required).is_some(), "{required}");
        }
        let algs = v["id_token_signing_alg_values_supported"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(algs.contains(&serde_json::json!("RS256")));
        assert!(!algs.contains(&serde_json::json!("none")));
        assert_eq!(v["request_uri_parameter_supported"], false);
    }
}
