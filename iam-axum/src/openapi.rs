//! The OpenAPI 3.1 description of the REST API, served at `/openapi.json`.
//!
//! The document is generated from the same route table that mounts the routes (see
//! [`rest_routes`]), so every served route is described and every described route is served;
//! the crate's tests probe each described operation against the real router. Request bodies
//! of the JSON endpoints, the token pair and the error body are described with schemas (the
//! tests check each against its [`crate::dto`] type); other answers are described as JSON
//! objects.

use serde_json::{json, Map, Value};

use crate::routes::ROUTES;

/// The OpenAPI version of [`document`].
pub const OPENAPI_VERSION: &str = "3.1.0";

/// Path of the document, relative to the router's prefix.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Path of the Prometheus metrics, relative to the router's prefix.
pub const METRICS_PATH: &str = "/metrics";

/// One operation the REST router serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// The HTTP method in lower case (`get`, `post`, `put`, `patch`, `delete`).
    pub method: &'static str,
    /// The path template relative to the prefix, with `{name}` parameters.
    pub path: &'static str,
    /// A one-line summary.
    pub summary: &'static str,
}

/// Routes that need no bearer token.
const ANONYMOUS: [&str; 7] = [
    "/health",
    "/keys",
    "/keys/jwks.json",
    "/login",
    "/refresh",
    OPENAPI_PATH,
    METRICS_PATH,
];

/// Every operation a router built by [`IamRouter`](crate::IamRouter) serves, relative to its
/// prefix: the REST table, `/openapi.json`, and `/metrics` when `metrics` is true.
pub fn rest_routes(metrics: bool) -> Vec<RouteInfo> {
    let mut out: Vec<RouteInfo> = ROUTES
        .iter()
        .map(|&(method, path, summary)| RouteInfo {
            method,
            path,
            summary,
        })
        .collect();
    out.push(RouteInfo {
        method: "get",
        path: OPENAPI_PATH,
        summary: "This OpenAPI document",
    });
    if metrics {
        out.push(RouteInfo {
            method: "get",
            path: METRICS_PATH,
            summary: "Prometheus metrics (text exposition format), for allowed networks (default loopback) or tokens with scope iam:metrics",
        });
    }
    out
}

/// The OpenAPI 3.1 document of a router with `prefix` (the server URL) that serves `/metrics`
/// when `metrics` is true.
pub fn document(prefix: &str, metrics: bool) -> Value {
    let mut paths = Map::new();
    for r in rest_routes(metrics) {
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method] = operation(&r);
    }
    let server = if prefix.is_empty() { "/" } else { prefix };
    json!({
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "iam REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Identity and access: login, sessions, TOTP, accounts and roles, tokens, \
                elevation, credentials, audit and organizations. Every error is \
                {\"error\": \"<stable_code>\", \"message\": \"...\"}.",
        },
        "servers": [{ "url": server }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A PASETO access token or a personal API token (iam_pat_...)",
                },
            },
            "schemas": schemas(),
        },
    })
}

/// One operation object.
fn operation(r: &RouteInfo) -> Value {
    let params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    let ok = match (r.method, r.path) {
        (_, METRICS_PATH) => json!({
            "description": "Prometheus text format",
            "content": { "text/plain": { "schema": { "type": "string" } } },
        }),
        ("post" | "get", "/login" | "/refresh") => json!({
            "description": "Success",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Tokens" } } },
        }),
        _ => json!({
            "description": "Success",
            "content": { "application/json": { "schema": { "type": "object" } } },
        }),
    };
    let mut op = json!({
        "operationId": operation_id(r),
        "summary": r.summary,
        "tags": [r.path.split('/').nth(1).unwrap_or("")],
        "responses": {
            "2XX": ok,
            "default": {
                "description": "Error",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            },
        },
    });
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if let Some(schema) = request_schema(r.method, r.path) {
        op["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } },
        });
    }
    if ANONYMOUS.contains(&r.path) {
        op["security"] = json!([]);
    } else {
        op["security"] = json!([{ "bearer": [] }]);
    }
    op
}

/// `method` plus the path's words, e.g. `get_accounts_id_roles_role`.
fn operation_id(r: &RouteInfo) -> String {
    let mut id = r.method.to_owned();
    for word in r
        .path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        id.push('_');
        id.push_str(word);
    }
    id
}

/// The request body schema name of an operation, if it takes a JSON body.
fn request_schema(method: &str, path: &str) -> Option<&'static str> {
    Some(match (method, path) {
        ("post", "/login") => "LoginRequest",
        ("post", "/refresh") => "RefreshRequest",
        ("post", "/totp/confirm") => "TotpCode",
        ("post", "/accounts") => "NewAccount",
        ("put", "/accounts/{id}/password") => "Password",
        ("put", "/password") => "ChangePassword",
        ("patch", "/accounts/{id}/profile") => "Profile",
        ("patch", "/profile") => "OwnProfile",
        ("post", "/api-tokens") => "NewApiToken",
        ("post", "/elevation") => "Elevate",
        ("put", "/accounts/{id}/db-credentials") => "DbCredentials",
        ("post", "/orgs") => "NewOrg",
        ("put", "/orgs/{id}/members/{account_id}") => "Member",
        _ => return None,
    })
}

/// A closed object schema with `required` and `optional` properties of the given types
/// (`string[]` an array of strings, `string?` a string or `null`).
fn object(required: &[(&str, &str)], optional: &[(&str, &str)]) -> Value {
    let mut props = Map::new();
    for (name, ty) in required.iter().chain(optional) {
        let schema = if *ty == "string[]" {
            json!({ "type": "array", "items": { "type": "string" } })
        } else if let Some(ty) = ty.strip_suffix('?') {
            json!({ "type": [ty, "null"] })
        } else {
            json!({ "type": ty })
        };
        props.insert((*name).to_owned(), schema);
    }
    let names: Vec<&str> = required.iter().map(|(n, _)| *n).collect();
    json!({
        "type": "object",
        "properties": props,
        "required": names,
        "additionalProperties": false,
    })
}

/// The component schemas.
fn schemas() -> Value {
    json!({
        "Error": object(&[("error", "string"), ("message", "string")], &[]),
        "Tokens": {
            "type": "object",
            "properties": {
                "access_token": { "type": "string" },
                "refresh_token": { "type": "string" },
                "token_type": { "type": "string", "const": "Bearer" },
                "expires_in": { "type": "integer" },
                "session_id": { "type": "string" },
            },
            "required": ["access_token", "refresh_token", "token_type", "expires_in"],
        },
        "LoginRequest": object(&[("username", "string"), ("password", "string")], &[("totp_code", "string")]),
        "RefreshRequest": object(&[("refresh_token", "string")], &[]),
        "TotpCode": object(&[("code", "string")], &[]),
        "NewAccount": object(
            &[("username", "string")],
            &[("kind", "string"), ("password", "string"), ("roles", "string[]")],
        ),
        "Password": object(&[("password", "string")], &[]),
        "ChangePassword": object(&[("current_password", "string"), ("new_password", "string")], &[]),
        "Profile": object(&[], &[("name", "string?"), ("email", "string?"), ("email_verified", "boolean")]),
        "OwnProfile": object(&[("name", "string?")], &[]),
        "NewApiToken": object(&[("label", "string"), ("expires_in", "integer")], &[("scopes", "string[]")]),
        "Elevate": object(
            &[("role", "string")],
            &[("duration", "integer"), ("password", "string"), ("totp_code", "string")],
        ),
        "DbCredentials": object(
            &[("host", "string"), ("port", "integer"), ("database", "string"), ("user", "string"), ("password", "string")],
            &[],
        ),
        "NewOrg": object(&[("name", "string")], &[]),
        "Member": object(&[("role", "string")], &[]),
    })
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::*;
    use crate::dto;

    /// A value of a schema property's type (`kind` is an account kind).
    fn sample(name: &str, schema: &Value) -> Value {
        match (name, schema["type"].as_str()) {
            ("kind", _) => json!("human"),
            (_, Some("integer")) => json!(1),
            (_, Some("boolean")) => json!(true),
            (_, Some("array")) => json!(["x"]),
            _ => json!("x"),
        }
    }

    /// Checks that the schema `name` describes `T`: a body with every property, and one with
    /// only the required ones, both decode as `T`; and `T` with every property serializes to
    /// exactly the schema's properties.
    fn agrees<T: Serialize + DeserializeOwned>(name: &str) {
        let schemas = schemas();
        let schema = &schemas[name];
        let props = schema["properties"].as_object().expect(name);
        let required: Vec<&str> = schema["required"]
            .as_array()
            .expect(name)
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let full: Map<String, Value> = props
            .iter()
            .map(|(k, v)| (k.clone(), sample(k, v)))
            .collect();
        let minimal: Map<String, Value> = full
            .iter()
            .filter(|(k, _)| required.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let decoded: T = serde_json::from_value(Value::Object(full))
            .unwrap_or_else(|e| panic!("{name} with every property: {e}"));
        serde_json::from_value::<T>(Value::Object(minimal))
            .unwrap_or_else(|e| panic!("{name} with the required properties: {e}"));
        let encoded = serde_json::to_value(&decoded).expect(name);
        let keys: Vec<&String> = encoded.as_object().expect(name).keys().collect();
        assert_eq!(keys, props.keys().collect::<Vec<_>>(), "{name}");
    }

    #[test]
    fn schemas_agree_with_the_dto_types() {
        agrees::<dto::ErrorOut>("Error");
        agrees::<dto::LoginBody>("LoginRequest");
        agrees::<dto::RefreshBody>("RefreshRequest");
        agrees::<dto::TotpCodeBody>("TotpCode");
        agrees::<dto::NewAccountBody>("NewAccount");
        agrees::<dto::PasswordBody>("Password");
        agrees::<dto::ChangePasswordBody>("ChangePassword");
        agrees::<dto::ProfileBody>("Profile");
        agrees::<dto::OwnProfileBody>("OwnProfile");
        agrees::<dto::NewApiTokenBody>("NewApiToken");
        agrees::<dto::ElevateBody>("Elevate");
        agrees::<dto::DbCredentialsBody>("DbCredentials");
        agrees::<dto::NewOrgBody>("NewOrg");
        agrees::<dto::MemberBody>("Member");
    }

    #[test]
    fn the_tokens_schema_describes_the_token_pair() {
        let out = dto::TokensOut {
            access_token: "a".into(),
            refresh_token: "r".into(),
            token_type: dto::TokenType::Bearer,
            expires_in: 1,
            session_id: "s".into(),
        };
        let encoded = serde_json::to_value(&out).expect("tokens");
        let schemas = schemas();
        let props = schemas["Tokens"]["properties"].as_object().expect("Tokens");
        let mut keys: Vec<&String> = encoded.as_object().expect("tokens").keys().collect();
        keys.sort();
        assert_eq!(keys, props.keys().collect::<Vec<_>>());
        assert_eq!(encoded["token_type"], props["token_type"]["const"]);
    }

    #[test]
    fn every_route_is_unique_and_every_schema_exists() {
        let routes = rest_routes(true);
        let mut seen = std::collections::HashSet::new();
        for r in &routes {
            assert!(seen.insert((r.method, r.path)), "{r:?} twice");
        }
        let doc = document("/iam", true);
        let n: usize = doc["paths"].as_object().map_or(0, |p| {
            p.values().map(|v| v.as_object().map_or(0, Map::len)).sum()
        });
        assert_eq!(n, routes.len());
        for (m, p) in ROUTES.iter().map(|r| (r.0, r.1)) {
            if let Some(s) = request_schema(m, p) {
                assert!(doc["components"]["schemas"].get(s).is_some(), "{s}");
            }
        }
        // Every named request schema belongs to a served route.
        for (m, p) in [
            ("post", "/login"),
            ("put", "/orgs/{id}/members/{account_id}"),
        ] {
            assert!(ROUTES.iter().any(|r| r.0 == m && r.1 == p));
        }
    }
}
