//! The JSON shapes of the REST API, shared by the server (iam-axum's handlers) and its clients
//! (iamctl): request bodies and queries ([`requests`]: strict, unknown fields refused) and
//! answers ([`answers`]). Each type serializes to exactly the JSON the API sends or takes and
//! deserializes from it, so a client decodes an answer into the type the handler built.
//!
//! Times are RFC 3339 text (see [`rfc3339`]), except inside [`OAuthClient`], which the API
//! passes through as iam-core serializes it.
//!
//! [`OAuthClient`]: iam_core::oauth::OAuthClient

pub mod answers;
pub mod requests;
pub mod schema;

use iam_core::{SecretString, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use answers::*;
pub use requests::*;

/// Types of iam-core that appear in bodies as they are.
pub use iam_core::jose::JwsAlg;
pub use iam_core::oauth::{ClientKind, GrantType, OAuthClient, TokenEndpointAuthMethod};
pub use iam_core::oidc::AccessTokenFormat;
/// Types of iam-core that appear in bodies as they are.
pub use iam_core::{AccountKind, TotpStatus};

/// A secret in a body (a password or token): zeroized on drop, never shown by `Debug`. It
/// serializes as its plain text, for the client that must send it.
#[derive(Clone)]
pub struct Secret(pub SecretString);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::new(value))
    }

    /// The secret text. Call only where the secret must be used or shown to its owner.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl schemars::JsonSchema for Secret {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

/// The `token_type` of every token answer: iam issues bearer tokens only.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum TokenType {
    /// `"Bearer"` (RFC 6750).
    #[default]
    Bearer,
}

/// RFC 3339 text of a timestamp, as every answer gives times.
pub fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// [`rfc3339`] of an optional timestamp.
pub(crate) fn opt_time(t: Option<Timestamp>) -> Option<String> {
    t.map(rfc3339)
}
