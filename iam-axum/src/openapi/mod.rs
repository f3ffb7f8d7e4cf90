//! The OpenAPI 3.1 description of the HTTP API, served at `/openapi.json`.
//!
//! The REST operations come from the same route table that mounts the routes (see
//! [`rest_routes`]), so every served route is described and every described route is served;
//! the crate's tests probe each described operation against the real router. Bodies are
//! described by JSON Schemas (2020-12, OpenAPI 3.1's dialect) derived with `schemars` from the
//! [`crate::dto`] types the handlers decode and encode, with the patterns and lengths of
//! iam-core's validators ([`crate::dto::schema`]) and the configured password and token
//! limits. Every answer status is listed with its schema (none for bodiless answers); every
//! REST error is the `Error` schema, whose `error` enumerates the stable codes.
//!
//! With [`IamRouter::describe_oauth`](crate::IamRouter::describe_oauth), the document also
//! describes the OAuth 2.0 and OpenID Connect endpoints ([`crate::OAuthRouter`]) served beside
//! the REST API under the same prefix, as `iamd` serves them ([`oauth`]).

mod oauth;
mod rest;

use iam_core::Config;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::routes::ROUTES;

pub use oauth::OAUTH_ROUTES;

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
const ANONYMOUS: [&str; 8] = [
    "/health",
    "/keys",
    "/keys/jwks.json",
    "/login",
    "/login/passkey",
    "/login/passkey/{ceremony}",
    "/refresh",
    OPENAPI_PATH,
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

/// What the document describes besides the REST table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// `/metrics` is served.
    pub metrics: bool,
    /// The OAuth and OpenID Connect endpoints are served beside the REST API, under the same
    /// prefix.
    pub oauth: bool,
}

/// The OpenAPI 3.1 document of a router with `prefix` (the server URL) over `config`, serving
/// what `coverage` says.
pub fn document(prefix: &str, coverage: Coverage, config: &Config) -> Value {
    let mut schemas = Schemas::new();
    let mut paths = Map::new();
    for r in rest_routes(coverage.metrics) {
        let op = rest::operation(&r, &mut schemas);
        insert(&mut paths, r.path, r.method, op);
    }
    if coverage.oauth {
        for r in OAUTH_ROUTES {
            let op = oauth::operation(r, &mut schemas);
            insert(&mut paths, r.path, r.method, op);
        }
    }
    let mut components = schemas.finish();
    configure(&mut components, config);
    components.values_mut().for_each(bound_integers);
    let mut paths = Value::Object(paths);
    bound_integers(&mut paths);
    let server = if prefix.is_empty() { "/" } else { prefix };
    let mut security = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A PASETO access token or a personal API token (iam_pat_...)",
        },
    });
    if coverage.oauth {
        security["clientBasic"] = json!({
            "type": "http",
            "scheme": "basic",
            "description": "OAuth client authentication client_secret_basic (RFC 6749 §2.3.1): \
                the client_id and client_secret, each form-encoded. client_secret_post and \
                private_key_jwt send their credentials in the form instead.",
        });
    }
    json!({
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "iam HTTP API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Identity and access: login, sessions, TOTP, accounts and roles, tokens, \
                elevation, credentials, audit and organizations; with the OAuth 2.0 and OpenID \
                Connect endpoints where the server has them. Every REST error is \
                {\"error\": \"<stable_code>\", \"message\": \"...\"} (the Error schema); \
                OAuth errors are RFC 6749 §5.2 JSON (the OAuthError schema).",
        },
        "servers": [{ "url": server }],
        "paths": paths,
        "components": {
            "securitySchemes": security,
            "schemas": components,
        },
    })
}

/// Adds `op` as `method` of `path`.
fn insert(paths: &mut Map<String, Value>, path: &str, method: &str, op: Value) {
    let entry = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
    entry[method] = op;
}

/// The schema generators of the document: requests are described as the handlers decode
/// them, answers as they encode them; both put their named schemas in `components`.
pub(crate) struct Schemas {
    requests: SchemaGenerator,
    answers: SchemaGenerator,
}

impl Schemas {
    fn new() -> Self {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        });
        Schemas {
            requests: settings.clone().for_deserialize().into_generator(),
            answers: settings.for_serialize().into_generator(),
        }
    }

    /// The schema (usually a `$ref`) of `T` as a request body or parameter.
    pub(crate) fn request<T: JsonSchema>(&mut self) -> Value {
        self.requests.subschema_for::<T>().to_value()
    }

    /// The schema (usually a `$ref`) of `T` as an answer.
    pub(crate) fn answer<T: JsonSchema>(&mut self) -> Value {
        self.answers.subschema_for::<T>().to_value()
    }

    /// The named schemas of both, plus the hand-made ones of [`fixed_schemas`]. A name both
    /// generators made is one type described alike both ways (the tests check it).
    fn finish(mut self) -> Map<String, Value> {
        let mut out = self.answers.take_definitions(true);
        for (name, schema) in self.requests.take_definitions(true) {
            out.insert(name, schema);
        }
        for (name, schema) in fixed_schemas() {
            out.insert(name.to_owned(), schema);
        }
        out
    }
}

/// Schemas written here rather than derived: the OAuth answers whose types serialize by
/// hand ([`oauth::fixed_schemas`]).
fn fixed_schemas() -> Vec<(&'static str, Value)> {
    oauth::fixed_schemas()
}

/// Gives the schemas the configuration bounds their limits: the password policy's lengths
/// (`NewPassword`), the longest personal API token (`ApiTokenLifetime`) and invitation
/// (`InvitationLifetime`), and the longest
/// elevation (`ElevationDuration`).
fn configure(components: &mut Map<String, Value>, config: &Config) {
    if let Some(p) = components.get_mut("NewPassword") {
        p["minLength"] = json!(config.passwords.min_length);
        p["maxLength"] = json!(config.passwords.max_length);
    }
    if let Some(t) = components.get_mut("ApiTokenLifetime") {
        t["maximum"] = json!(config.api_token_max_ttl.as_secs());
    }
    if let Some(t) = components.get_mut("InvitationLifetime") {
        t["maximum"] = json!(config.invitation_max_ttl.as_secs());
    }
    if let Some(d) = components.get_mut("ElevationDuration") {
        let longest = config
            .elevation
            .values()
            .chain([&config.default_elevation])
            .map(|p| p.max_duration.as_secs())
            .max()
            .unwrap_or(0);
        d["maximum"] = json!(longest);
    }
}

/// Gives every integer schema with a Rust `format` (`uint16`, `uint64`, ...) the bounds of
/// its type, where it has none of its own.
fn bound_integers(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let is_integer = match m.get("type") {
                Some(Value::String(t)) => t == "integer",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
                _ => false,
            };
            let bounds = m
                .get("format")
                .and_then(Value::as_str)
                .and_then(crate::dto::schema::integer_bounds);
            if let (true, Some((min, max))) = (is_integer, bounds) {
                m.entry("minimum").or_insert(min);
                m.entry("maximum").or_insert(max);
            }
            for child in m.values_mut() {
                bound_integers(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// `method` plus the path's words, e.g. `get_accounts_id_roles_role`.
pub(crate) fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for word in path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        id.push('_');
        id.push_str(word);
    }
    id
}

/// A JSON answer with `schema`.
pub(crate) fn json_answer(description: &str, schema: &Value) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema } },
    })
}

/// The reason phrase of an HTTP status, as the description of its answer.
pub(crate) fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Answer")
}

#[cfg(test)]
mod tests;
