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

/// Reads a whole number given as a JSON integer or as a number with a zero fraction
/// (`4503.0`): JSON Schema's `integer` is a mathematical integer, so a client may write either.
/// Fractions, negatives and values too large for `T` are refused.
pub(crate) fn whole<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    struct Whole<T>(std::marker::PhantomData<T>);

    impl<T: TryFrom<u64>> serde::de::Visitor<'_> for Whole<T> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a whole number from 0 to {}", std::any::type_name::<T>())
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
            T::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
            u64::try_from(v)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
                .and_then(|v| self.visit_u64(v))
        }

        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
            // Exactly representable whole values below 2^64 only.
            if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                self.visit_u64(v as u64)
            } else {
                Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
            }
        }
    }

    d.deserialize_any(Whole(std::marker::PhantomData))
}

/// [`whole`] of an optional field (`null` is `None`).
pub(crate) fn opt_whole<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    #[derive(Deserialize)]
    struct Wrapped<T: TryFrom<u64>>(#[serde(deserialize_with = "whole")] T);
    Option::<Wrapped<T>>::deserialize(d).map(|w| w.map(|Wrapped(v)| v))
}

/// RFC 3339 text of a timestamp, as every answer gives times.
pub fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// [`rfc3339`] of an optional timestamp.
pub(crate) fn opt_time(t: Option<Timestamp>) -> Option<String> {
    t.map(rfc3339)
}
