//! What the JSON Schemas of the bodies say beyond their types (see [`crate::openapi`]): the
//! patterns and lengths of iam-core's validators, and the schemas of values the server's
//! configuration bounds. The crate's tests check each pattern against its validator.
//!
//! Patterns use only what ECMA-262 (JSON Schema's dialect), Python's `re` (schemathesis) and
//! the `regex` crate (the tests) read alike: classes, `\xHH` and `\uHHHH` escapes.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

/// A username ([`iam_core::account::validate_username`]): 2-64 characters from `a-z 0-9 . _ -`,
/// starting with a letter or digit.
pub const USERNAME_PATTERN: &str = "^[a-z0-9][a-z0-9._-]{1,63}$";

/// A role name ([`iam_core::account::validate_role`]): 1-64 characters from `a-z 0-9 : . _ -`.
pub const ROLE_PATTERN: &str = "^[a-z0-9:._-]{1,64}$";

/// A TOTP code: six ASCII digits.
pub const TOTP_CODE_PATTERN: &str = "^[0-9]{6}$";

/// A label (API token labels, client names): at most 128 characters, at least one of them not
/// whitespace (Rust's `char::is_whitespace`).
pub const LABEL_PATTERN: &str =
    "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A passkey label: no control characters (Rust's `char::is_control`) and at least one character
/// that is not whitespace. (The core trims whitespace first, so it also takes labels with
/// surrounding tabs or newlines, which this pattern refuses.)
pub const PASSKEY_LABEL_PATTERN: &str = concat!(
    "^[^\\x00-\\x1f\\x7f-\\x9f]*",
    "[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]",
    "[^\\x00-\\x1f\\x7f-\\x9f]*$"
);

/// A display name ([`iam_core::account::validate_name`]) as it is kept: 1-128 characters without
/// control characters or bidirectional overrides, not starting or ending with whitespace.
pub const DISPLAY_NAME_PATTERN: &str = concat!(
    "^[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202a-\\u202f\\u205f\\u2066-\\u2069\\u3000]",
    "([^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*",
    "[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202a-\\u202f\\u205f\\u2066-\\u2069\\u3000])?$",
);

/// An email address ([`iam_core::account::validate_email`]) as it is kept: no whitespace or control
/// characters, one `@` after a non-empty local part, a domain of two or more non-empty
/// dot-separated labels.
pub const EMAIL_PATTERN: &str = concat!(
    "^[^@\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+",
    "@[^@.\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+",
    "(\\.[^@.\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+)+$",
);

/// An OAuth scope token (RFC 6749 §3.3): printable ASCII except space, `"` and `\`.
pub const SCOPE_TOKEN_PATTERN: &str = "^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$";

/// A password being set: its schema is named `NewPassword`, and the OpenAPI document gives it
/// the configured [`iam_core::PasswordPolicy`] lengths.
pub struct NewPassword;

impl JsonSchema for NewPassword {
    fn schema_name() -> Cow<'static, str> {
        "NewPassword".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A new password; its length limits are the server's password policy",
        })
    }
}

/// A lifetime in seconds bounded by the configuration: named `ApiTokenLifetime`; the
/// OpenAPI document gives it the configured maximum.
pub struct ApiTokenLifetime;

impl JsonSchema for ApiTokenLifetime {
    fn schema_name() -> Cow<'static, str> {
        "ApiTokenLifetime".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "minimum": 1,
            "description": "Seconds from now; at most the server's api_token_max_ttl",
        })
    }
}

/// An invitation's lifetime in seconds: named `InvitationLifetime`; the OpenAPI document
/// gives it the configured maximum.
pub struct InvitationLifetime;

impl JsonSchema for InvitationLifetime {
    fn schema_name() -> Cow<'static, str> {
        "InvitationLifetime".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "minimum": 1,
            "description": "Seconds from now; at most the server's invitation_max_ttl",
        })
    }
}

/// An elevation's duration in seconds: named `ElevationDuration`; the OpenAPI document gives
/// it the longest duration the configured elevation policies allow.
pub struct ElevationDuration;

impl JsonSchema for ElevationDuration {
    fn schema_name() -> Cow<'static, str> {
        "ElevationDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "minimum": 1,
            "description": "Seconds; at most the role's max_duration",
        })
    }
}

/// The `kind` filter of `GET /audit`: an audit kind name.
pub(crate) fn audit_kind(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = iam_core::AuditKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    json_schema!({ "type": "string", "enum": names })
}

/// An RFC 3339 time (what every answer gives, and the audit filters take).
pub(crate) fn date_time(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "date-time" })
}

/// The options of a passkey ceremony: an object holding `publicKey`.
pub(crate) fn passkey_options(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "required": ["publicKey"],
        "properties": { "publicKey": { "type": "object", "required": ["challenge"] } },
    })
}

/// [`date_time`] or `null`.
pub(crate) fn opt_date_time(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": ["string", "null"], "format": "date-time" })
}

/// Every stable `error` code of the REST API's [`ErrorOut`](super::ErrorOut).
pub(crate) fn error_code(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": crate::error::wire_codes() })
}

/// The least and largest values of an integer `format` schemars gives (`uint16`, `uint64`,
/// ...), so that the document bounds every integer as its Rust type does.
pub(crate) fn integer_bounds(format: &str) -> Option<(serde_json::Value, serde_json::Value)> {
    use serde_json::Value;
    Some(match format {
        "uint8" => (Value::from(0), Value::from(u8::MAX)),
        "uint16" => (Value::from(0), Value::from(u16::MAX)),
        "uint32" => (Value::from(0), Value::from(u32::MAX)),
        "uint64" | "uint" => (Value::from(0), Value::from(u64::MAX)),
        "int32" => (Value::from(i32::MIN), Value::from(i32::MAX)),
        "int64" | "int" => (Value::from(i64::MIN), Value::from(i64::MAX)),
        _ => return None,
    })
}
