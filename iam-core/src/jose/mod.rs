//! PLACEHOLDER (not committed): replaced by the jose branch.
#![allow(clippy::unused_self, clippy::unused_async)]
#![allow(missing_docs, dead_code)]
use serde::{Deserialize, Serialize};
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JwsAlg {
    #[default]
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "EdDSA")]
    EdDsa,
}
impl JwsAlg {
    pub const ALL: [JwsAlg; 3] = [JwsAlg::Rs256, JwsAlg::Es256, JwsAlg::EdDsa];
    pub fn parse(v: &str) -> Option<Self> { Self::ALL.into_iter().find(|a| a.as_str() == v) }
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlg::Rs256 => "RS256",
            JwsAlg::Es256 => "ES256",
            JwsAlg::EdDsa => "EdDSA",
        }
    }
}
#[derive(Debug)]
pub enum JwtRefusal {
    Malformed,
    UnsupportedAlg,
    UnknownKey,
    BadSignature,
    WrongIssuer,
}
impl<S: crate::store::Store, C: crate::clock::Clock> crate::iam::Iam<S, C> {
    pub(crate) async fn sign_jwt(
        &self,
        _alg: JwsAlg,
        _typ: &str,
        _claims: &serde_json::Value,
    ) -> crate::error::Result<String> {
        Err(crate::error::Error::Crypto("placeholder"))
    }
    pub(crate) fn verify_own_jwt(
        &self,
        _t: &str,
    ) -> std::result::Result<serde_json::Map<String, serde_json::Value>, JwtRefusal> {
        Err(JwtRefusal::Malformed)
    }
}
pub struct Profile {
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub updated_at: Option<crate::clock::Timestamp>,
}
pub(crate) fn placeholder_profile(_a: &crate::account::StoredAccount) -> &'static Profile {
    static P: Profile = Profile {
        name: None,
        email: None,
        email_verified: false,
        updated_at: None,
    };
    &P
}
