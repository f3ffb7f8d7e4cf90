//! RFC 9068 JWT access tokens: the same claims as iam's PASETO access tokens, in the JWT
//! profile's shape, for resource servers that understand only JWTs.
//!
//! Times are NumericDate seconds (`exp` and `auth_time` rounded down), `scope` is one
//! space-separated string, and `acr` is set for tokens a user signed in for. The issue time
//! is also carried in milliseconds (`iat_ms`): revocation cut-offs are compared with it,
//! exactly as with the `iat` of a PASETO token.

use serde::{Deserialize, Serialize};

use crate::account::AccountKind;
use crate::authz::CredentialKind;
use crate::clock::Timestamp;
use crate::error::Denial;
use crate::jose::JwtRefusal;
use crate::oauth::Actor;
use crate::oidc::id_token::acr_for;
use crate::token::access::{AccessClaims, Audience};

/// The JOSE header `typ` of a JWT access token (RFC 9068 §2.1).
pub const JWT_ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The claims of a JWT access token (RFC 9068 §2.2 plus iam's own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JwtAccessClaims {
    pub iss: String,
    pub exp: i64,
    pub aud: Audience,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub iat: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    pub nbf: i64,
    /// The issue time in milliseconds (what revocation cut-offs are compared with).
    pub iat_ms: i64,
    pub sid: String,
    pub kind: AccountKind,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_role: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elev: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elev_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    pub cred: CredentialKind,
}

impl JwtAccessClaims {
    /// The JWT form of `claims`, issued at `iat` (the cut-off-adjusted issue time).
    pub fn from_access(claims: &AccessClaims, iat: Timestamp) -> Result<Self, Denial> {
        let times = claims.times()?;
        let cred = claims.credential();
        let acr = (!claims.amr.is_empty()).then(|| acr_for(&claims.amr).to_owned());
        Ok(JwtAccessClaims {
            iss: claims.iss.clone(),
            exp: times.exp.as_secs(),
            aud: claims.aud.clone(),
            sub: claims.sub.clone(),
            client_id: claims.client_id.clone(),
            iat: iat.as_secs(),
            jti: claims.jti.clone(),
            scope: claims.scope.join(" "),
            auth_time: times.auth_time.as_secs(),
            acr,
            amr: claims.amr.clone(),
            nbf: times.nbf.as_secs(),
            iat_ms: iat.as_millis(),
            sid: claims.sid.clone(),
            kind: claims.kind,
            roles: claims.roles.clone(),
            org: claims.org.clone(),
            org_role: claims.org_role.clone(),
            elev: claims.elev.clone(),
            elev_until: times.elev_until.map(Timestamp::as_secs),
            act: claims.act.clone(),
            resource: claims.resource.clone(),
            cred,
        })
    }

    /// The same claims in the PASETO form, for the checks and the [`Principal`] both formats
    /// share.
    ///
    /// [`Principal`]: crate::token::Principal
    pub fn into_access(self) -> AccessClaims {
        let secs = |s: i64| Timestamp::from_secs(s).to_rfc3339();
        AccessClaims {
            iss: self.iss,
            sub: self.sub,
            aud: self.aud,
            exp: secs(self.exp),
            nbf: secs(self.nbf),
            iat: secs(self.iat),
            iat_ms: Some(self.iat_ms),
            jti: self.jti,
            sid: self.sid,
            kind: self.kind,
            roles: self.roles,
            auth_time: secs(self.auth_time),
            amr: self.amr,
            scope: self.scope.split_whitespace().map(str::to_owned).collect(),
            org: self.org,
            org_role: self.org_role,
            elev: self.elev,
            elev_until: self.elev_until.map(secs),
            client_id: self.client_id,
            act: self.act,
            resource: self.resource,
            cred: Some(self.cred),
        }
    }
}

/// Whether `token` has the shape of a JWT (three dot-separated parts) rather than a PASETO
/// token.
pub(crate) fn is_jwt_shape(token: &str) -> bool {
    !token.starts_with("v4.") && token.bytes().filter(|&b| b == b'.').count() == 2
}

/// The denial for a JWT refused by the JOSE checks.
pub(crate) fn denial(refusal: JwtRefusal) -> Denial {
    match refusal {
        JwtRefusal::UnknownKey => Denial::TokenUnknownKey,
        JwtRefusal::BadSignature => Denial::TokenBadSignature,
        JwtRefusal::WrongIssuer => Denial::TokenWrongIssuer,
        JwtRefusal::Malformed | JwtRefusal::UnsupportedAlg | JwtRefusal::WrongType => {
            Denial::TokenMalformed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_jwt_form_keeps_every_claim_and_the_issue_time_in_milliseconds() {
        let config = crate::config::Config::new(crate::secret::MasterKey::from_bytes([1; 32]));
        let now = Timestamp::from_millis(1_700_000_000_999);
        let mut claims = AccessClaims::base(
            &config,
            "acc_1",
            "fam_1",
            "tok_1".into(),
            AccountKind::Human,
            CredentialKind::OAuthUser,
            now,
            now.plus(Duration::from_secs(60)),
        );
        claims.scope = vec!["read".into(), "write".into()];
        claims.amr = vec!["pwd".into(), "otp".into()];
        claims.client_id = Some("cli_1".into());
        claims.roles = vec!["read".into()];
        let jwt = JwtAccessClaims::from_access(&claims, now).expect("jwt claims");
        assert_eq!(jwt.scope, "read write");
        assert_eq!(jwt.iat, 1_700_000_000);
        assert_eq!(jwt.exp, 1_700_000_060);
        assert_eq!(jwt.acr.as_deref(), Some(crate::oidc::ACR_MULTI_FACTOR));
        let back = jwt.into_access();
        assert_eq!(
            back.iat, claims.iat,
            "the issue time keeps its milliseconds"
        );
        assert_eq!(back.scope, claims.scope);
        assert_eq!(back.credential(), CredentialKind::OAuthUser);
        assert_eq!(
            back.times().expect("times").exp,
            Timestamp::from_secs(1_700_000_060)
        );
    }

    #[test]
    fn jwts_and_paseto_tokens_are_told_apart() {
        assert!(is_jwt_shape("a.b.c"));
        assert!(!is_jwt_shape("v4.public.abc"));
        assert!(!is_jwt_shape("v4.public.abc.footer"));
        assert!(!is_jwt_shape("a.b"));
    }
}
