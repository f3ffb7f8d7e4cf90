//! The OAuth client registry (register, describe, list, rotate a secret, disable) and token
//! introspection (RFC 7662) for a registered client.

use std::collections::BTreeSet;
use std::ffi::c_char;

use iam_core::oauth::{ClientJwks, ClientKind, TokenTypeHint};
use iam_core::oidc::OidcClientSettings;
use iam_core::{ClientAuth, GrantType, NewClient, SecretString};
use serde::Deserialize;

use crate::args::{arg_json, arg_opt_out, arg_opt_str, arg_out_ptr, arg_str};
use crate::boundary::ffi_panic_boundary;
use crate::castable::try_ref_from_ptr;
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::{free_string, give_json, give_string};

/// A client to register, as `iam_register_client` reads it from JSON: the fields of a
/// registered client (`iam_get_oauth_client`) that its registrant chooses, the OpenID Connect
/// settings among them. Unknown fields are refused.
#[derive(Deserialize)]
struct ClientRegistration {
    name: String,
    kind: ClientKind,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    grant_types: BTreeSet<GrantType>,
    #[serde(default)]
    scopes: BTreeSet<String>,
    #[serde(default)]
    resources: BTreeSet<String>,
    require_pkce: Option<bool>,
    #[serde(default)]
    acts_for_owner: bool,
    #[serde(default)]
    first_party: bool,
    /// Read apart from the other OpenID Connect settings, with the checks of a registration
    /// (public keys only).
    jwks: Option<serde_json::Value>,
    /// The OpenID Connect settings (`id_token_signed_response_alg`, `access_token_format`, ...),
    /// with their defaults.
    #[serde(flatten)]
    oidc: OidcClientSettings,
    /// Whatever is left: refused. (Flattened after `oidc`, which takes its own fields first.)
    #[serde(flatten)]
    unknown: serde_json::Map<String, serde_json::Value>,
}

impl ClientRegistration {
    /// The client to register, or why not.
    fn into_new_client(self) -> Result<NewClient, FfiError> {
        if let Some(field) = self.unknown.keys().next() {
            return Err(FfiError::InvalidJson {
                name: "client_json",
                reason: format!("unknown field `{field}`"),
            });
        }
        let mut new = match self.kind {
            ClientKind::Confidential => NewClient::confidential(self.name),
            ClientKind::Public => NewClient::public(self.name),
        };
        new.redirect_uris = self.redirect_uris;
        new.grant_types = self.grant_types;
        new.scopes = self.scopes;
        new.resources = self.resources;
        if let Some(pkce) = self.require_pkce {
            new.require_pkce = pkce;
        }
        new.acts_for_owner = self.acts_for_owner;
        new.first_party = self.first_party;
        new.oidc = self.oidc;
        new.oidc.jwks = self
            .jwks
            .as_ref()
            .map(ClientJwks::from_json)
            .transpose()
            .map_err(|reason| FfiError::InvalidArgument {
                name: "client_json",
                reason,
            })?;
        Ok(new)
    }
}

/// Registers an OAuth client described by `client_json`, a JSON object: `name` (1-128
/// characters) and `kind` (`"confidential"` or `"public"`) are required; optional are
/// `redirect_uris` (matched exactly), `grant_types` (`"authorization_code"`, `"refresh_token"`,
/// `"client_credentials"`, `"urn:ietf:params:oauth:grant-type:device_code"`), `scopes`,
/// `resources` (RFC 8707 resource indicators), `require_pkce` (default true), `acts_for_owner`,
/// `first_party` (admins only; may be granted `iam:manage`) and the OpenID Connect settings
/// `id_token_signed_response_alg` (`"RS256"`, `"ES256"`, `"EdDSA"`), `access_token_format`
/// (`"paseto"` or `"jwt"`), `post_logout_redirect_uris`, `default_max_age`,
/// `backchannel_logout_uri`, `backchannel_logout_session_required`,
/// `token_endpoint_auth_method` and `jwks` (public keys for `private_key_jwt`). Unknown fields
/// are refused. Admins may register any client; another account only a client acting for
/// itself (`acts_for_owner`), asking only for roles it holds.
///
/// On success `*out_client_json` holds the registered client as `iam_get_oauth_client`
/// describes it, and `*out_client_secret` the secret of a confidential client (`iam_cs_…`,
/// shown only this once; NULL for a public client). Free both with `iam_string_free` (which
/// wipes the secret).
///
/// Fails with `IAM_STATUS_INVALID_ARGUMENT` (bad JSON, an unknown field, a bad redirect URI or
/// setting), `IAM_STATUS_NOT_PERMITTED`, `IAM_STATUS_WRONG_TOKEN_KIND`, or the statuses of
/// `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; the out
/// pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_register_client(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    client_json: *const c_char,
    out_client_json: *mut *mut c_char,
    out_client_secret: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out_client = unsafe { arg_out_ptr(out_client_json, "out_client_json") }?;
        // SAFETY: as above.
        let out_secret = unsafe { arg_out_ptr(out_client_secret, "out_client_secret") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let new = unsafe { arg_json::<ClientRegistration>(client_json, "client_json") }?
            .into_new_client()?;
        let registered = on_iam!(handle, |iam| {
            let actor = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.register_client(&actor, new).await?)
        })?;
        give_json(out_client, &registered.client, "client")?;
        if let Some(secret) = &registered.client_secret {
            if let Err(e) = give_string(out_secret, secret.expose(), "client secret") {
                // SAFETY: `out_client` was just filled by `give_json` and is handed out nowhere
                // else.
                unsafe { free_string(out_client) };
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Describes a registered client as JSON through `*out_client_json` (free it with
/// `iam_string_free`): `id` (`cli_…`), `name`, `kind`, `redirect_uris`, `grant_types`,
/// `scopes`, `resources`, `require_pkce`, `owner` (the registering account), `acts_for_owner`,
/// `first_party`, `owner_scoped`, `disabled`, `created_at`, `secret_rotated_at` (milliseconds
/// since the Unix epoch, or null) and its OpenID Connect settings; never a secret.
/// `actor_token` is the access token of whoever asks (NULL: the embedding application itself):
/// the client's owner or an admin (others are told `IAM_STATUS_NOT_FOUND`).
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_client_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_get_oauth_client(
    iam: *const iam_t,
    client_id: *const c_char,
    actor_token: *const c_char,
    out_client_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_client_json, "out_client_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let client_id = unsafe { arg_str(client_id, "client_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let client = on_iam!(handle, |iam| iam
            .oauth_client(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                client_id
            )
            .await)?;
        give_json(out, &client, "client")
    }
}

/// Lists every registered client, ordered by id: on success `*out_clients_json` holds a JSON
/// array of clients as `iam_get_oauth_client` describes them; free it with `iam_string_free`.
/// `actor_token` is the access token of whoever asks (NULL: the embedding application itself):
/// an admin.
///
/// Fails with `IAM_STATUS_NOT_PERMITTED`, or the statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; `actor_token` NULL or NUL-terminated;
/// `out_clients_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_list_oauth_clients(
    iam: *const iam_t,
    actor_token: *const c_char,
    out_clients_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_clients_json, "out_clients_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let clients = on_iam!(handle, |iam| iam
            .list_oauth_clients(crate::caller::acting(iam, actor).await?.as_ref().into())
            .await)?;
        give_json(out, &clients, "clients")
    }
}

/// Gives a confidential client a new secret, returned through `*out_client_secret` (shown only
/// this once; free it with `iam_string_free`, which wipes it). The old secret keeps working for
/// the configured grace period (24 hours by default). `actor_access_token` must belong to the
/// client's owner or an admin.
///
/// Fails with `IAM_STATUS_NOT_FOUND` (no such client, or not the actor's),
/// `IAM_STATUS_INVALID_STATE` (a public client has no secret), or the statuses of `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_client_secret` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_rotate_client_secret(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    client_id: *const c_char,
    out_client_secret: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_client_secret, "out_client_secret") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let client_id = unsafe { arg_str(client_id, "client_id") }?;
        let secret = on_iam!(handle, |iam| {
            let actor = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.rotate_client_secret(&actor, client_id).await?)
        })?;
        give_string(out, secret.expose(), "client secret")
    }
}

/// Disables a client: it can no longer authenticate, and every token issued to it stops
/// working at once. There is no way back; register a new client instead. If `out_revoked` is
/// not NULL it receives how many live token families (user grants) were revoked.
/// `actor_access_token` must belong to the client's owner or an admin.
///
/// Fails with `IAM_STATUS_NOT_FOUND` (no such client, or not the actor's), or the statuses of
/// `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `out_revoked`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_disable_client(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    client_id: *const c_char,
    out_revoked: *mut u64,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or writable.
        let out_revoked = unsafe { arg_opt_out(out_revoked) };
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let client_id = unsafe { arg_str(client_id, "client_id") }?;
        let revoked = on_iam!(handle, |iam| {
            let actor = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.disable_client(&actor, client_id).await?)
        })?;
        if let Some(out) = out_revoked {
            *out = u64::try_from(revoked).unwrap_or(u64::MAX);
        }
        Ok(())
    }
}

/// A `token_type_hint` argument: NULL (none), `"access_token"` or `"refresh_token"`.
fn parse_hint(hint: Option<&str>) -> Result<Option<TokenTypeHint>, FfiError> {
    hint.map(|h| {
        TokenTypeHint::parse(h).ok_or(FfiError::InvalidArgument {
            name: "token_type_hint",
            reason: "must be \"access_token\", \"refresh_token\" or NULL",
        })
    })
    .transpose()
}

/// Introspects a token (RFC 7662) for the confidential client `client_id`, authenticated by
/// `client_secret`: the answer a resource server that is an OAuth client gets from iam's
/// introspection endpoint. `token_type_hint` (NULL, `"access_token"` or `"refresh_token"`) only
/// orders the search. On success `*out_introspection_json` holds the RFC 7662 answer (free it
/// with `iam_string_free`): `{"active": false}` for a token that is not valid now, or that the
/// client may not learn about (one neither issued to it nor meant for one of its resources);
/// otherwise `"active": true` with `scope`, `client_id`, `token_type`, `exp`, `iat`, `nbf`,
/// `auth_time` (seconds since the Unix epoch), `sub`, `aud`, `iss`, `jti`, `sid` and `act`
/// where they apply.
///
/// Fails with `IAM_STATUS_BAD_CREDENTIALS` (an unknown, disabled or public client, or a wrong
/// secret; the last error says `invalid_client`), `IAM_STATUS_INVALID_ARGUMENT` (an unknown
/// hint), or `IAM_STATUS_CONTENTION` (the store is overloaded; retry).
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_introspection_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_introspect(
    iam: *const iam_t,
    client_id: *const c_char,
    client_secret: *const c_char,
    token: *const c_char,
    token_type_hint: *const c_char,
    out_introspection_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_introspection_json, "out_introspection_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let client_id = unsafe { arg_str(client_id, "client_id") }?;
        // SAFETY: as above.
        let secret = SecretString::new(unsafe { arg_str(client_secret, "client_secret") }?);
        // SAFETY: as above.
        let token = unsafe { arg_str(token, "token") }?;
        // SAFETY: as above.
        let hint = parse_hint(unsafe { arg_opt_str(token_type_hint, "token_type_hint") }?)?;
        let auth = ClientAuth::secret(client_id, secret);
        let answer = on_iam!(handle, |iam| iam.introspect(&auth, token, hint).await)?;
        give_json(out, &answer, "introspection")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<NewClient, FfiError> {
        serde_json::from_str::<ClientRegistration>(json)
            .map_err(|e| FfiError::InvalidJson {
                name: "client_json",
                reason: e.to_string(),
            })?
            .into_new_client()
    }

    #[test]
    fn a_registration_reads_every_field_and_the_oidc_settings() {
        let new = read(
            r#"{"name": "rp", "kind": "confidential", "redirect_uris": ["https://rp/cb"],
                "grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid"],
                "resources": ["https://api"], "require_pkce": false, "acts_for_owner": true,
                "access_token_format": "jwt", "default_max_age": 60,
                "backchannel_logout_session_required": false}"#,
        )
        .expect("valid");
        assert_eq!(new.name, "rp");
        assert_eq!(new.redirect_uris, ["https://rp/cb"]);
        assert!(new.grant_types.contains(&GrantType::RefreshToken));
        assert!(new.scopes.contains("openid") && new.resources.contains("https://api"));
        assert!(!new.require_pkce && new.acts_for_owner && !new.first_party);
        assert_eq!(
            new.oidc.access_token_format,
            iam_core::oidc::AccessTokenFormat::Jwt
        );
        assert_eq!(new.oidc.default_max_age, Some(60));
        assert!(!new.oidc.backchannel_logout_session_required);

        let public = read(r#"{"name": "app", "kind": "public"}"#).expect("valid");
        assert!(public.require_pkce && public.grant_types.is_empty());
        assert!(public.oidc.backchannel_logout_session_required);
    }

    #[test]
    fn unknown_fields_and_values_are_refused() {
        let typo = read(r#"{"name": "rp", "kind": "public", "redirect_uri": ["x"]}"#);
        assert!(
            matches!(&typo, Err(FfiError::InvalidJson { reason, .. }) if reason.contains("redirect_uri")),
            "{:?}",
            typo.err()
        );
        assert!(read(r#"{"name": "rp", "kind": "secret"}"#).is_err());
        assert!(read(r#"{"name": "rp", "kind": "public", "grant_types": ["password"]}"#).is_err());
        assert!(read(r#"{"kind": "public"}"#).is_err());
        let private = read(
            r#"{"name": "rp", "kind": "confidential",
                "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"}]}}"#,
        );
        assert!(matches!(
            private,
            Err(FfiError::InvalidArgument {
                name: "client_json",
                ..
            })
        ));
    }

    #[test]
    fn hints_are_checked() {
        assert_eq!(parse_hint(None).ok(), Some(None));
        assert_eq!(
            parse_hint(Some("refresh_token")).ok(),
            Some(Some(TokenTypeHint::RefreshToken))
        );
        assert!(parse_hint(Some("id_token")).is_err());
    }
}
