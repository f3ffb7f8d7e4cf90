//! The OAuth 2.0 and OpenID Connect endpoints of the document ([`crate::OAuthRouter`]): the
//! protocol endpoints with their form bodies and query parameters, discovery, the JWK set and
//! WebFinger. The HTML pages the authorization and device flows lead a browser through
//! (login, consent, logout, device verification) are forms of the pages themselves, bound to
//! a cookie and a CSRF token, and are not described.

use iam_core::oauth::{AuthorizationServerMetadata, GrantType, Introspection};
use iam_core::OAuthErrorCode;
use serde_json::{json, Map, Value};

use super::{json_answer, operation_id, reason, RouteInfo, Schemas};
use crate::dto::{JrdOut, JwkSet};
use crate::oauth::{
    AUTHORIZE_PATH, DEVICE_AUTHORIZATION_PATH, END_SESSION_PATH, INTROSPECT_PATH, JWKS_PATH,
    METADATA_PATH, OPENID_CONFIGURATION_PATH, REVOKE_PATH, TOKEN_PATH, USERINFO_PATH,
    WEBFINGER_PATH,
};

/// The OAuth and OpenID Connect operations the document describes, relative to the prefix.
pub const OAUTH_ROUTES: &[RouteInfo] = &[
    route("get", AUTHORIZE_PATH, "Authorization request (RFC 6749 §4.1.1, PKCE S256, OpenID Connect): a login or consent page, or a redirect to the client"),
    route("post", AUTHORIZE_PATH, "The authorization request form-encoded in the body (OpenID Connect Core §3.1.2.1)"),
    route("post", TOKEN_PATH, "Token request (RFC 6749 §3.2): authorization code, refresh token, client credentials, device code"),
    route("post", DEVICE_AUTHORIZATION_PATH, "Device authorization request (RFC 8628 §3.1)"),
    route("post", REVOKE_PATH, "Token revocation (RFC 7009): 200 also for unknown tokens"),
    route("post", INTROSPECT_PATH, "Token introspection (RFC 7662), for confidential clients"),
    route("get", USERINFO_PATH, "OpenID Connect userinfo (Core §5.3): the claims the token's scopes release"),
    route("post", USERINFO_PATH, "OpenID Connect userinfo, by POST"),
    route("get", END_SESSION_PATH, "OpenID Connect RP-initiated logout"),
    route("post", END_SESSION_PATH, "OpenID Connect RP-initiated logout, by POST"),
    route("get", JWKS_PATH, "Token and ID-token verification keys as an RFC 7517 JWK set"),
    route("get", METADATA_PATH, "Authorization server metadata (RFC 8414)"),
    route("get", OPENID_CONFIGURATION_PATH, "OpenID Provider metadata (OpenID Connect Discovery 1.0)"),
    route("get", WEBFINGER_PATH, "WebFinger (RFC 7033) for acct: URIs of published accounts"),
];

const fn route(method: &'static str, path: &'static str, summary: &'static str) -> RouteInfo {
    RouteInfo {
        method,
        path,
        summary,
    }
}

/// A reference to component `name`.
fn component(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A string property.
fn text(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

/// The client authentication parameters of a form (RFC 6749 §2.3.1 `client_secret_post`,
/// RFC 7523 `private_key_jwt`, and `client_id` alone for public clients).
fn client_auth(props: &mut Map<String, Value>) {
    props.insert(
        "client_id".into(),
        text("The client (public clients; confidential clients with client_secret_post)"),
    );
    props.insert(
        "client_secret".into(),
        text("client_secret_post: the client's secret"),
    );
    props.insert(
        "client_assertion_type".into(),
        json!({ "type": "string", "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"] }),
    );
    props.insert(
        "client_assertion".into(),
        text("private_key_jwt: a JWT signed with a key of the client's registered jwks"),
    );
}

/// A form body: `properties`, of which `required` are required. Other parameters are
/// ignored (RFC 6749 §3.1, §3.2): the protocol endpoints' forms do not describe them (they
/// refuse nothing valid without them), the logout form allows them (it signs out with none
/// of its own). No parameter may be repeated (except `resource`); an empty value is absent.
fn form(properties: &Map<String, Value>, required: &[&str]) -> Value {
    json!({
        "required": true,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                },
            },
        },
    })
}

/// [`form`] allowing parameters it does not name.
fn open_form(properties: &Map<String, Value>) -> Value {
    let mut f = form(properties, &[]);
    if let Some(s) = f["content"]["application/x-www-form-urlencoded"]["schema"].as_object_mut() {
        s.remove("additionalProperties");
    }
    f
}

/// The parameters of an authorization request.
fn authorize_params() -> Map<String, Value> {
    let mut p = Map::new();
    p.insert(
        "response_type".into(),
        json!({ "type": "string", "enum": ["code"] }),
    );
    p.insert("client_id".into(), text("The client"));
    p.insert(
        "redirect_uri".into(),
        text("One of the client's registered redirect URIs"),
    );
    p.insert(
        "scope".into(),
        text("Space-delimited scopes (openid for OpenID Connect)"),
    );
    p.insert(
        "state".into(),
        json!({ "type": "string", "maxLength": 2048, "description": "Returned unchanged" }),
    );
    p.insert(
        "code_challenge".into(),
        json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{43}$", "description": "PKCE: BASE64URL(SHA-256(code_verifier))" }),
    );
    p.insert(
        "code_challenge_method".into(),
        json!({ "type": "string", "enum": ["S256"] }),
    );
    p.insert(
        "prompt".into(),
        json!({ "type": "string", "description": "none, login, consent or select_account" }),
    );
    p.insert(
        "max_age".into(),
        json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX }),
    );
    p.insert(
        "resource".into(),
        text("A resource indicator (RFC 8707); may be repeated"),
    );
    p.insert(
        "nonce".into(),
        json!({ "type": "string", "maxLength": 512 }),
    );
    p.insert(
        "response_mode".into(),
        json!({ "type": "string", "enum": ["query", "form_post"] }),
    );
    p.insert(
        "id_token_hint".into(),
        text("An ID token iam issued, naming the expected user"),
    );
    p.insert(
        "login_hint".into(),
        text("A username to prefill on the login page"),
    );
    p.insert(
        "ui_locales".into(),
        text("Accepted; the pages speak one language"),
    );
    p.insert(
        "claims".into(),
        text("OpenID Connect Core §5.5: a JSON object asking for individual claims"),
    );
    p
}

/// The parameters of an RP-initiated logout request.
fn end_session_params() -> Map<String, Value> {
    let mut p = Map::new();
    p.insert(
        "id_token_hint".into(),
        text("An ID token iam issued to the client"),
    );
    p.insert("client_id".into(), text("The client"));
    p.insert(
        "post_logout_redirect_uri".into(),
        text("One of the client's registered post-logout redirect URIs"),
    );
    p.insert("state".into(), text("Returned unchanged with the redirect"));
    p
}

/// `params` as query parameters, none required.
fn query(params: &Map<String, Value>) -> Vec<Value> {
    params
        .iter()
        .map(|(name, schema)| json!({ "name": name, "in": "query", "required": false, "schema": schema }))
        .collect()
}

/// An HTML page answer.
fn html(description: &str) -> Value {
    json!({ "description": description, "content": { "text/html": { "schema": { "type": "string" } } } })
}

/// An OAuth error (RFC 6749 §5.2) answer.
fn oauth_error(status: u16) -> Value {
    json_answer(reason(status), &component("OAuthError"))
}

/// The answers of the browser-facing endpoints (authorize, end_session): pages, redirects,
/// and errors shown as a page to browsers or as JSON to others.
fn browser_answers() -> Map<String, Value> {
    let mut a = Map::new();
    a.insert(
        "200".into(),
        html("A login, consent or confirmation page, or a page continuing to the client"),
    );
    a.insert(
        "302".into(),
        json!({
            "description": "To the client's redirect URI, with a code or an error",
            "headers": { "Location": { "required": true, "schema": { "type": "string" } } },
        }),
    );
    for status in [400, 500] {
        a.insert(
            status.to_string(),
            json!({
                "description": "An error that is not redirected: a page for browsers, JSON otherwise",
                "content": {
                    "text/html": { "schema": { "type": "string" } },
                    "application/json": { "schema": component("OAuthError") },
                },
            }),
        );
    }
    a.insert("503".into(), oauth_error(503));
    a
}

/// Describes OAuth operation `r`.
pub(super) fn operation(r: &RouteInfo, schemas: &mut Schemas) -> Value {
    let mut op = json!({
        "operationId": operation_id(r.method, r.path),
        "summary": r.summary,
        "tags": [if r.path.starts_with("/.well-known") { "discovery" } else { "oauth2" }],
        "security": [],
    });
    let mut answers = Map::new();
    match (r.method, r.path) {
        ("get" | "post", AUTHORIZE_PATH | END_SESSION_PATH) => {
            let params = if r.path == AUTHORIZE_PATH {
                authorize_params()
            } else {
                end_session_params()
            };
            if r.method == "get" {
                op["parameters"] = Value::Array(query(&params));
            } else if r.path == END_SESSION_PATH {
                op["requestBody"] = open_form(&params);
            } else {
                op["requestBody"] = form(&params, &[]);
            }
            answers = browser_answers();
        }
        ("post", TOKEN_PATH) => {
            let mut p = Map::new();
            let grants: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
            p.insert(
                "grant_type".into(),
                json!({ "type": "string", "enum": grants }),
            );
            p.insert(
                "code".into(),
                text("authorization_code: the code from the redirect"),
            );
            p.insert(
                "redirect_uri".into(),
                text("authorization_code: the redirect URI of the authorization request"),
            );
            p.insert(
                "code_verifier".into(),
                json!({ "type": "string", "pattern": "^[A-Za-z0-9._~-]{43,128}$", "description": "authorization_code: the PKCE verifier" }),
            );
            p.insert(
                "refresh_token".into(),
                text("refresh_token: the refresh token to rotate"),
            );
            p.insert(
                "device_code".into(),
                text("device_code: the device code to redeem"),
            );
            p.insert(
                "scope".into(),
                text("refresh_token, client_credentials: space-delimited scopes"),
            );
            p.insert(
                "resource".into(),
                text("A resource indicator (RFC 8707); may be repeated"),
            );
            client_auth(&mut p);
            op["requestBody"] = form(&p, &["grant_type"]);
            answers.insert(
                "200".into(),
                json_answer("The tokens", &component("TokenResponse")),
            );
            token_endpoint_errors(&mut answers);
        }
        ("post", DEVICE_AUTHORIZATION_PATH) => {
            let mut p = Map::new();
            p.insert(
                "scope".into(),
                json!({ "type": "string", "description": "Space-delimited scopes" }),
            );
            p.insert(
                "resource".into(),
                text("A resource indicator (RFC 8707); may be repeated"),
            );
            client_auth(&mut p);
            op["requestBody"] = form(&p, &[]);
            answers.insert(
                "200".into(),
                json_answer(
                    "The device and user codes",
                    &component("DeviceAuthorizationResponse"),
                ),
            );
            token_endpoint_errors(&mut answers);
        }
        ("post", REVOKE_PATH | INTROSPECT_PATH) => {
            let mut p = Map::new();
            p.insert(
                "token".into(),
                json!({ "type": "string", "minLength": 1, "description": "The token" }),
            );
            p.insert(
                "token_type_hint".into(),
                json!({ "type": "string", "description": "access_token or refresh_token (other values are ignored)" }),
            );
            client_auth(&mut p);
            op["requestBody"] = form(&p, &["token"]);
            if r.path == REVOKE_PATH {
                answers.insert(
                    "200".into(),
                    json!({ "description": "Revoked, or not a token of the client" }),
                );
            } else {
                answers.insert(
                    "200".into(),
                    json_answer(
                        "Whether the token is active, and its claims",
                        &schemas.answer::<Introspection>(),
                    ),
                );
            }
            for status in [400, 401, 500, 503] {
                answers.insert(status.to_string(), oauth_error(status));
            }
        }
        ("get" | "post", USERINFO_PATH) => {
            op["security"] = json!([{ "bearer": [] }]);
            if r.method == "post" {
                // RFC 6750 §2.2: the token may come in the form body instead of the header.
                let mut p = Map::new();
                p.insert(
                    "access_token".into(),
                    text("The access token, when not in the Authorization header (never both)"),
                );
                let mut body = form(&p, &[]);
                body["required"] = Value::Bool(false);
                op["requestBody"] = body;
                op["security"] = json!([{ "bearer": [] }, {}]);
            }
            answers.insert(
                "200".into(),
                json_answer("The claims", &component("UserInfo")),
            );
            for status in [400, 401, 403, 500, 503] {
                answers.insert(status.to_string(), oauth_error(status));
            }
        }
        ("get", JWKS_PATH) => {
            answers.insert(
                "200".into(),
                json_answer("The JWK set", &schemas.answer::<JwkSet>()),
            );
            answers.insert(
                "500".into(),
                json_answer(reason(500), &schemas.answer::<crate::dto::ErrorOut>()),
            );
            answers.insert(
                "503".into(),
                json_answer(reason(503), &schemas.answer::<crate::dto::ErrorOut>()),
            );
        }
        ("get", METADATA_PATH | OPENID_CONFIGURATION_PATH) => {
            answers.insert(
                "200".into(),
                json_answer(
                    "The metadata",
                    &schemas.answer::<AuthorizationServerMetadata>(),
                ),
            );
        }
        ("get", WEBFINGER_PATH) => {
            op["parameters"] = json!([
                { "name": "resource", "in": "query", "required": true,
                  "schema": { "type": "string", "minLength": 1, "description": "acct:user@host" } },
                { "name": "rel", "in": "query", "required": false, "schema": { "type": "string" } },
            ]);
            let mut ok = json_answer("The JRD", &schemas.answer::<JrdOut>());
            ok["content"] =
                json!({ "application/jrd+json": { "schema": schemas.answer::<JrdOut>() } });
            answers.insert("200".into(), ok);
            for status in [400, 404, 429, 503] {
                answers.insert(status.to_string(), oauth_error(status));
            }
        }
        _ => {
            answers.insert(
                "default".into(),
                json_answer("Undescribed", &json!({ "type": "object" })),
            );
        }
    }
    if [
        TOKEN_PATH,
        DEVICE_AUTHORIZATION_PATH,
        REVOKE_PATH,
        INTROSPECT_PATH,
    ]
    .contains(&r.path)
    {
        // Confidential clients authenticate by Basic or in the form; public ones send only
        // their client_id.
        op["security"] = json!([{}, { "clientBasic": [] }]);
    }
    if let Some(a) = answers.get_mut("429") {
        a["headers"] = json!({
            "Retry-After": { "required": true, "schema": { "type": "integer", "minimum": 1 } },
        });
    }
    op["responses"] = Value::Object(answers);
    op
}

/// The error answers of the token and device authorization endpoints.
fn token_endpoint_errors(answers: &mut Map<String, Value>) {
    for status in [400, 401, 429, 500, 503] {
        answers.insert(status.to_string(), oauth_error(status));
    }
}

/// The schemas of the OAuth answers whose types serialize by hand.
pub(super) fn fixed_schemas() -> Vec<(&'static str, Value)> {
    let mut codes: Vec<&str> = OAUTH_ERROR_CODES.iter().map(|c| c.as_str()).collect();
    // Answers of the edge rather than of RFC 6749: limits, unknown resources, bearer
    // challenges (RFC 6750).
    codes.extend([
        "rate_limited",
        "not_found",
        "invalid_token",
        "insufficient_scope",
    ]);
    vec![
        (
            "OAuthError",
            json!({
                "type": "object",
                "description": "RFC 6749 §5.2 error",
                "properties": {
                    "error": { "type": "string", "enum": codes },
                    "error_description": { "type": "string" },
                },
                "required": ["error", "error_description"],
                "additionalProperties": false,
            }),
        ),
        (
            "TokenResponse",
            json!({
                "type": "object",
                "description": "RFC 6749 §5.1 token response",
                "properties": {
                    "access_token": { "type": "string" },
                    "token_type": { "type": "string", "enum": ["Bearer"] },
                    "expires_in": { "type": "integer", "minimum": 0 },
                    "refresh_token": { "type": "string" },
                    "scope": { "type": "string" },
                    "id_token": { "type": "string" },
                },
                "required": ["access_token", "token_type", "expires_in"],
                "additionalProperties": false,
            }),
        ),
        (
            "DeviceAuthorizationResponse",
            json!({
                "type": "object",
                "description": "RFC 8628 §3.2 device authorization response",
                "properties": {
                    "device_code": { "type": "string" },
                    "user_code": { "type": "string" },
                    "verification_uri": { "type": "string" },
                    "verification_uri_complete": { "type": "string" },
                    "expires_in": { "type": "integer", "minimum": 0 },
                    "interval": { "type": "integer", "minimum": 0 },
                },
                "required": ["device_code", "user_code", "verification_uri",
                    "verification_uri_complete", "expires_in", "interval"],
                "additionalProperties": false,
            }),
        ),
        (
            "UserInfo",
            json!({
                "type": "object",
                "description": "OpenID Connect Core §5.3.2 claims: sub, and what the consented scopes release",
                "properties": {
                    "sub": { "type": "string" },
                    "preferred_username": { "type": "string" },
                    "name": { "type": "string" },
                    "email": { "type": "string" },
                    "email_verified": { "type": "boolean" },
                    "updated_at": { "type": "integer" },
                },
                "required": ["sub"],
            }),
        ),
    ]
}

/// Every RFC 6749 error code iam answers with (the variants of [`OAuthErrorCode`]).
pub(super) const OAUTH_ERROR_CODES: [OAuthErrorCode; 17] = [
    OAuthErrorCode::InvalidRequest,
    OAuthErrorCode::InvalidClient,
    OAuthErrorCode::InvalidGrant,
    OAuthErrorCode::UnauthorizedClient,
    OAuthErrorCode::UnsupportedGrantType,
    OAuthErrorCode::InvalidScope,
    OAuthErrorCode::AccessDenied,
    OAuthErrorCode::UnsupportedResponseType,
    OAuthErrorCode::AuthorizationPending,
    OAuthErrorCode::SlowDown,
    OAuthErrorCode::ExpiredToken,
    OAuthErrorCode::LoginRequired,
    OAuthErrorCode::ConsentRequired,
    OAuthErrorCode::InvalidTarget,
    OAuthErrorCode::UnsupportedTokenType,
    OAuthErrorCode::ServerError,
    OAuthErrorCode::TemporarilyUnavailable,
];
