//! The REST operations of the document: what each route takes and answers.

use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use super::{json_answer, operation_id, reason, RouteInfo, Schemas, ANONYMOUS, METRICS_PATH};
use crate::dto::schema::ROLE_PATTERN;
use crate::dto::{
    AccessTokenOut, AccountList, AccountListQuery, AccountOut, ActiveKeyOut, ApiTokenList,
    AuditEventList, AuditListQuery, AuditVerifyOut, ChangePasswordBody, ClientDisabledOut,
    ClientList, ClientSecretOut, DbCredentialsBody, DeletionOut, ElevateBody, ElevationRequestList,
    ElevationStatusOut, ErrorOut, HealthOut, InvitationList, JwkSet, KeyList, LoginBody, LoginOut,
    MemberBody, MemberList, MembershipList, MembershipOut, NewAccountBody, NewApiTokenBody,
    NewApiTokenOut, NewClientBody, NewInvitationBody, NewInvitationOut, NewOrgBody, OAuthClient,
    OrgOut, OwnProfileBody, OwnerQuery, PasskeyChallengeOut, PasskeyLabelBody, PasskeyList,
    PasskeyLoginBody, PasskeyOut, PasswordBody, PrincipalOut, ProfileBody, ReauthenticateBody,
    RefreshBody, RegisteredClientOut, RevokedOut, ServiceTokenOut, TokensOut, TotpCodeBody,
    TotpEnrolmentOut, WebauthnCredential,
};

/// What one REST operation takes and answers, as it is built up.
struct Op<'a> {
    schemas: &'a mut Schemas,
    body: Option<Value>,
    query: Option<Value>,
    answers: Map<String, Value>,
    /// Error statuses beyond those every operation of its kind has.
    errors: Vec<u16>,
}

impl Op<'_> {
    /// A JSON request body of type `T`.
    fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(self.schemas.request::<T>());
        self
    }

    /// Query parameters: the properties of `T`.
    fn query<T: JsonSchema>(mut self) -> Self {
        let mut g = schemars::generate::SchemaSettings::draft2020_12()
            .with(|s| s.inline_subschemas = true)
            .into_generator();
        self.query = Some(g.root_schema_for::<T>().to_value());
        self
    }

    /// A JSON answer of type `T` with `status`.
    fn json<T: JsonSchema>(mut self, status: u16) -> Self {
        let schema = self.schemas.answer::<T>();
        self.answers
            .insert(status.to_string(), json_answer(reason(status), &schema));
        self
    }

    /// A bodiless answer with `status`.
    fn empty(mut self, status: u16) -> Self {
        self.answers
            .insert(status.to_string(), json!({ "description": reason(status) }));
        self
    }

    /// Further error statuses the operation answers.
    fn errors(mut self, statuses: &[u16]) -> Self {
        self.errors.extend_from_slice(statuses);
        self
    }
}

/// Describes `r`: its answers, body and query (see [`describe`]).
pub(super) fn operation(r: &RouteInfo, schemas: &mut Schemas) -> Value {
    let error = schemas.answer::<ErrorOut>();
    let op = Op {
        schemas,
        body: None,
        query: None,
        answers: Map::new(),
        errors: Vec::new(),
    };
    let op = describe(r.method, r.path, op);
    let anonymous = ANONYMOUS.contains(&r.path);
    let mut errors: Vec<u16> = op.errors.clone();
    // Every operation may meet a fault (500) or an unavailable store (503).
    errors.extend([500, 503]);
    if !anonymous {
        // A token is missing, invalid, or lacks a role or scope; the target may not exist;
        // the request may break a rule of iam-core (400 or 422) or meet a conflict (409).
        errors.extend([400, 401, 403, 404, 409, 422]);
    }
    if op.body.is_some() {
        // Malformed JSON, a body too large, not JSON, or not of the body's shape.
        errors.extend([400, 413, 415, 422]);
    }
    if op.query.is_some() {
        errors.push(400);
    }
    let mut answers = op.answers;
    for status in errors {
        answers
            .entry(status.to_string())
            .or_insert_with(|| json_answer(reason(status), &error));
    }
    if let Some(a) = answers.get_mut("429") {
        a["headers"] = json!({
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": { "type": "integer", "minimum": 1 },
            },
        });
    }
    let mut params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            json!({ "name": name, "in": "path", "required": true, "schema": path_schema(r.method, name) })
        })
        .collect();
    if let Some(q) = &op.query {
        params.extend(query_parameters(q));
    }
    let mut out = json!({
        "operationId": operation_id(r.method, r.path),
        "summary": r.summary,
        "tags": [r.path.split('/').nth(1).unwrap_or("")],
        "responses": answers,
    });
    if !params.is_empty() {
        out["parameters"] = Value::Array(params);
    }
    if let Some(body) = op.body {
        out["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": body } },
        });
    }
    out["security"] = if r.path == METRICS_PATH {
        // Allowed networks need no token; elsewhere a token with scope iam:metrics.
        json!([{}, { "bearer": [] }])
    } else if anonymous {
        json!([])
    } else {
        json!([{ "bearer": [] }])
    };
    out
}

/// The schema of path parameter `name` of a `method` operation: a role name (to grant; any
/// name may be revoked or ended, which for a name never granted changes nothing), or an id.
fn path_schema(method: &str, name: &str) -> Value {
    if name == "role" && method != "delete" {
        json!({ "type": "string", "pattern": ROLE_PATTERN })
    } else {
        json!({ "type": "string", "minLength": 1 })
    }
}

/// The query parameters of an object schema `q` (each property optional unless required).
fn query_parameters(q: &Value) -> Vec<Value> {
    let required: Vec<&str> = q["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    q["properties"].as_object().map_or_else(Vec::new, |props| {
        props
            .iter()
            .map(|(name, schema)| {
                let mut schema = schema.clone();
                // A parameter is either absent or has a value: never null.
                if let Some(Value::Array(types)) = schema.get_mut("type") {
                    types.retain(|t| t != "null");
                    if types.len() == 1 {
                        let only = types.remove(0);
                        schema["type"] = only;
                    }
                }
                if let Some(m) = schema.as_object_mut() {
                    m.remove("description");
                }
                json!({
                    "name": name,
                    "in": "query",
                    "required": required.contains(&name.as_str()),
                    "schema": schema,
                })
            })
            .collect()
    })
}

/// What route `(method, path)` takes and answers; anything it does not name falls back to a
/// bare JSON object, which the tests refuse.
fn describe<'a>(method: &str, path: &str, op: Op<'a>) -> Op<'a> {
    match (method, path) {
        ("post", "/login") => op
            .body::<LoginBody>()
            .json::<LoginOut>(200)
            .errors(&[401, 403, 422, 429]),
        ("post", "/login/passkey") => op
            .body::<PasskeyLoginBody>()
            .json::<PasskeyChallengeOut>(200)
            .errors(&[401, 403, 404, 422, 429]),
        ("post", "/login/passkey/{ceremony}") => op
            .body::<WebauthnCredential>()
            .json::<LoginOut>(200)
            .errors(&[400, 401, 403, 422, 429]),
        ("get", "/passkeys") => op.query::<OwnerQuery>().json::<PasskeyList>(200),
        ("post", "/passkeys/registration") => op
            .body::<PasskeyLabelBody>()
            .json::<PasskeyChallengeOut>(200),
        ("post", "/passkeys/registration/{ceremony}") => {
            op.body::<WebauthnCredential>().json::<PasskeyOut>(201)
        }
        ("post", "/passkeys/step-up") => op.json::<PasskeyChallengeOut>(200),
        ("patch", "/passkeys/{id}") => op.body::<PasskeyLabelBody>().json::<PasskeyOut>(200),
        ("post", "/refresh") => op
            .body::<RefreshBody>()
            .json::<TokensOut>(200)
            .errors(&[401, 403, 429]),
        ("post", "/reauthenticate") => op
            .body::<ReauthenticateBody>()
            .json::<AccessTokenOut>(200)
            .errors(&[429]),
        ("get", "/health") => op.json::<HealthOut>(200).json::<HealthOut>(503),
        ("get", "/keys") => op.json::<KeyList>(200),
        ("get", "/keys/jwks.json") => op.json::<JwkSet>(200),
        ("post", "/keys/rotate") => op.json::<ActiveKeyOut>(200),
        (
            "post",
            "/logout"
            | "/orgs/{id}/accept"
            | "/orgs/{id}/decline"
            | "/elevation/requests/{id}/deny",
        )
        | (
            "delete",
            "/sessions/{id}"
            | "/accounts/{id}/deletion"
            | "/accounts/{id}/service-token"
            | "/api-tokens/{id}"
            | "/invitations/{id}"
            | "/passkeys/{id}"
            | "/elevation/{role}"
            | "/orgs/{id}/members/{account_id}",
        ) => op.empty(204),
        ("get", "/whoami") => op.json::<PrincipalOut>(200),
        ("get", "/sessions") => op
            .query::<OwnerQuery>()
            .json::<crate::dto::SessionList>(200),
        ("delete", "/sessions" | "/accounts/{id}/sessions") => op.json::<RevokedOut>(200),
        ("put", "/password") => op
            .body::<ChangePasswordBody>()
            .json::<AccountOut>(200)
            .errors(&[429]),
        ("patch", "/profile") => op.body::<OwnProfileBody>().json::<AccountOut>(200),
        ("post", "/totp/enrol") => op.json::<TotpEnrolmentOut>(201),
        ("post", "/totp/confirm") => op
            .body::<TotpCodeBody>()
            .json::<AccountOut>(200)
            .errors(&[429]),
        ("get", "/accounts") => op.query::<AccountListQuery>().json::<AccountList>(200),
        ("post", "/accounts") => op.body::<NewAccountBody>().json::<AccountOut>(201),
        ("put", "/accounts/{id}/password") => op.body::<PasswordBody>().json::<AccountOut>(200),
        ("patch", "/accounts/{id}/profile") => op.body::<ProfileBody>().json::<AccountOut>(200),
        ("get", "/accounts/{id}")
        | ("delete", "/totp" | "/accounts/{id}/totp")
        | ("post", "/accounts/{id}/disable" | "/accounts/{id}/enable")
        | (
            "put" | "delete",
            "/accounts/{id}/roles/{role}" | "/accounts/{id}/elevatable-roles/{role}",
        ) => op.json::<AccountOut>(200),
        ("post", "/accounts/{id}/deletion") => op.json::<DeletionOut>(202),
        ("get", "/accounts/{id}/memberships") => op.json::<MembershipList>(200),
        ("post", "/accounts/{id}/service-token") => op.json::<ServiceTokenOut>(201),
        ("post", "/service-token/renew") => op.json::<ServiceTokenOut>(200),
        ("get", "/accounts/{id}/db-credentials") => op.json::<DbCredentialsBody>(200),
        ("put", "/accounts/{id}/db-credentials") => op.body::<DbCredentialsBody>().empty(204),
        ("get", "/api-tokens") => op.query::<OwnerQuery>().json::<ApiTokenList>(200),
        ("post", "/api-tokens") => op.body::<NewApiTokenBody>().json::<NewApiTokenOut>(201),
        ("get", "/invitations") => op.json::<InvitationList>(200),
        ("post", "/invitations") => op.body::<NewInvitationBody>().json::<NewInvitationOut>(201),
        ("post", "/elevation") => op
            .body::<ElevateBody>()
            .json::<ElevationStatusOut>(200)
            .json::<ElevationStatusOut>(202)
            .errors(&[429]),
        ("get", "/elevation/requests") => op.json::<ElevationRequestList>(200),
        ("post", "/elevation/requests/{id}/approve") => op.json::<ElevationStatusOut>(200),
        ("get", "/audit") => op.query::<AuditListQuery>().json::<AuditEventList>(200),
        ("get", "/audit/verify") => op.json::<AuditVerifyOut>(200),
        ("get", "/audit/export") => {
            let mut op = op;
            op.answers.insert(
                "200".into(),
                json!({
                    "description": "The audit log as JSON lines: a header, the signing keys, \
                        the signed checkpoints, then the events (docs/api.md, Audit export)",
                    "content": {
                        crate::routes::AUDIT_EXPORT_TYPE: { "schema": { "type": "string" } },
                    },
                }),
            );
            op
        }
        ("post", "/orgs") => op.body::<NewOrgBody>().json::<OrgOut>(201),
        ("get", "/orgs/{id}") => op.json::<OrgOut>(200),
        ("get", "/orgs/{id}/members") => op.json::<MemberList>(200),
        ("put", "/orgs/{id}/members/{account_id}") => {
            op.body::<MemberBody>().json::<MembershipOut>(200)
        }
        ("post", "/orgs/{id}/token") => op.json::<AccessTokenOut>(200),
        ("get", "/clients") => op.json::<ClientList>(200),
        ("post", "/clients") => op.body::<NewClientBody>().json::<RegisteredClientOut>(201),
        ("get", "/clients/{id}") => op.json::<OAuthClient>(200),
        ("post", "/clients/{id}/secret") => op.json::<ClientSecretOut>(200),
        ("post", "/clients/{id}/disable") => op.json::<ClientDisabledOut>(200),
        ("get", super::OPENAPI_PATH) => {
            let mut op = op;
            op.answers.insert(
                "200".into(),
                json_answer("This document", &json!({ "type": "object" })),
            );
            op
        }
        ("get", METRICS_PATH) => {
            let mut op = op;
            op.answers.insert(
                "200".into(),
                json!({
                    "description": "Prometheus text exposition format",
                    "content": { "text/plain": { "schema": { "type": "string" } } },
                }),
            );
            op.errors(&[401, 403])
        }
        _ => {
            let mut op = op;
            op.answers.insert(
                "default".into(),
                json_answer("Undescribed", &json!({ "type": "object" })),
            );
            op
        }
    }
}
