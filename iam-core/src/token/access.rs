//! Access-token claims and the verified [`Principal`].

use serde::{Deserialize, Serialize};

use crate::account::AccountKind;
use crate::authz::CredentialKind;
use crate::clock::Timestamp;
use crate::error::Denial;
use crate::token::Amr;

/// The `aud` claim: one audience (a string, as most libraries expect) or several (a list).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    /// One audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// The RFC 8707 `resources` a token is bound to, or `default` (iam's own audience) when
    /// it is bound to none.
    pub fn of(resources: &[String], default: &str) -> Self {
        match resources {
            [] => Audience::One(default.to_owned()),
            [one] => Audience::One(one.clone()),
            many => Audience::Many(many.to_vec()),
        }
    }

    /// Whether `audience` is among them.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(a) => a == audience,
            Audience::Many(all) => all.iter().any(|a| a == audience),
        }
    }

    fn into_vec(self) -> Vec<String> {
        match self {
            Audience::One(a) => vec![a],
            Audience::Many(all) => all,
        }
    }
}

/// The claims of an iam access token (PASETO registered claims plus iam's own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: String,
    pub nbf: String,
    /// The issue time in whole seconds (RFC 3339), as PASETO libraries compare it.
    pub iat: String,
    /// The issue time in milliseconds: what revocation cut-offs are compared with. Absent in
    /// tokens minted before it existed, whose `iat` carries the milliseconds itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<i64>,
    pub jti: String,
    /// The session (grant) id.
    pub sid: String,
    /// `human` or `system`.
    pub kind: AccountKind,
    /// Standing roles at issue time.
    pub roles: Vec<String>,
    /// When the session's holder last proved a credential.
    pub auth_time: String,
    /// How they proved it (`pwd`, `otp`).
    pub amr: Vec<String>,
    /// Scopes, for tokens narrower than the account's roles (API tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    /// The organization the token is scoped to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The holder's role in that organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_role: Option<String>,
    /// Which of `roles` are elevated (active only for a bounded time).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elev: Vec<String>,
    /// When the earliest of those elevations ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elev_until: Option<String>,
    /// The OAuth client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The account a client-credentials token acts for (RFC 8693 §4.1 shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<crate::oauth::Actor>,
    /// The resource indicators (RFC 8707) the token is restricted to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    /// What kind of credential this is (absent in tokens minted before the claim existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred: Option<CredentialKind>,
}

/// Who a verified access token speaks for, and what it says about them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// What presented this principal (a session, a service token, a delegated token...).
    pub credential: CredentialKind,
    /// The account id (`sub`).
    pub account_id: String,
    /// The session id (`sid`).
    pub session_id: String,
    /// The token id (`jti`).
    pub token_id: String,
    /// Human or system account.
    pub kind: AccountKind,
    /// Roles the token carries.
    pub roles: Vec<String>,
    /// Issue time.
    pub issued_at: Timestamp,
    /// Expiry time.
    pub expires_at: Timestamp,
    /// When the holder last proved a credential.
    pub auth_time: Timestamp,
    /// Authentication methods used (`pwd`, `otp`, `api_token`, `service_token`).
    pub amr: Vec<String>,
    /// Scopes the token is limited to (empty: the token is not scope-limited).
    pub scopes: Vec<String>,
    /// The organization the token is scoped to, with the holder's role there.
    pub org: Option<(String, String)>,
    /// The elevated roles among `roles`.
    pub elevated_roles: Vec<String>,
    /// When the earliest elevation ends.
    pub elevated_until: Option<Timestamp>,
    /// The OAuth client the token was issued to (`None` for iam's own tokens).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The account a client-credentials token acts for (the `act` claim's `sub`).
    #[serde(default)]
    pub actor: Option<String>,
    /// The resources (RFC 8707) the token is restricted to (empty: not restricted).
    #[serde(default)]
    pub resources: Vec<String>,
    /// The audiences the token is meant for (`aud`): iam's own, or the resources it is bound to.
    #[serde(default)]
    pub audience: Vec<String>,
}

impl Principal {
    /// Whether the token is a login session's access token (not a service, API, OAuth or
    /// organization token).
    pub fn is_session_token(&self) -> bool {
        self.credential == CredentialKind::Session
    }

    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// `Ok` if the token carries `role`, else [`Denial::MissingRole`].
    pub fn require_role(&self, role: &str) -> Result<(), Denial> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(Denial::MissingRole(role.to_owned()))
        }
    }

    /// `Ok` if the token grants `scope`, else [`Denial::MissingScope`]. A token that is not
    /// scope-limited grants the scopes named like its roles.
    pub fn require_scope(&self, scope: &str) -> Result<(), Denial> {
        let granted = if self.scopes.is_empty() {
            &self.roles
        } else {
            &self.scopes
        };
        if granted.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(Denial::MissingScope(scope.to_owned()))
        }
    }

    /// `Ok` if the token is scoped to organization `org` with role `role`, else [`Denial::MissingOrgRole`].
    pub fn require_org_role(&self, org: &str, role: &str) -> Result<(), Denial> {
        match &self.org {
            Some((o, r)) if o == org && r == role => Ok(()),
            _ => Err(Denial::MissingOrgRole {
                org: org.to_owned(),
                role: role.to_owned(),
            }),
        }
    }
}

/// Times parsed from the claims.
pub(crate) struct ClaimTimes {
    pub iat: Timestamp,
    pub nbf: Timestamp,
    pub exp: Timestamp,
    pub auth_time: Timestamp,
    pub elev_until: Option<Timestamp>,
}

impl AccessClaims {
    /// Claims with the registered fields set and iam's optional ones empty.
    #[allow(clippy::too_many_arguments)]
    pub fn base(
        config: &crate::config::Config,
        sub: &str,
        sid: &str,
        jti: String,
        kind: AccountKind,
        cred: CredentialKind,
        now: Timestamp,
        exp: Timestamp,
    ) -> Self {
        AccessClaims {
            iss: config.issuer.clone(),
            sub: sub.to_owned(),
            aud: Audience::One(config.audience.clone()),
            exp: exp.to_rfc3339(),
            // Whole seconds, at or before the mint time: verifiers that compare in whole
            // seconds (pyseto, for one) would otherwise refuse a token during its first second.
            nbf: Timestamp::from_secs(now.as_secs()).to_rfc3339(),
            iat: Timestamp::from_secs(now.as_secs()).to_rfc3339(),
            iat_ms: Some(now.as_millis()),
            jti,
            sid: sid.to_owned(),
            kind,
            roles: vec![],
            auth_time: now.to_rfc3339(),
            amr: vec![],
            scope: vec![],
            org: None,
            org_role: None,
            elev: vec![],
            elev_until: None,
            client_id: None,
            act: None,
            resource: vec![],
            cred: Some(cred),
        }
    }

    /// The credential kind: the `cred` claim, or for tokens minted before it existed, what
    /// the other claims imply.
    pub fn credential(&self) -> CredentialKind {
        if let Some(c) = self.cred {
            return c;
        }
        if self.org.is_some() {
            CredentialKind::OrgToken
        } else if let Some(client) = &self.client_id {
            if self.act.is_some() || &self.sub == client {
                CredentialKind::ClientCredentials
            } else {
                CredentialKind::OAuthUser
            }
        } else if Amr::ServiceToken.in_list(&self.amr) {
            CredentialKind::ServiceToken
        } else if Amr::ApiToken.in_list(&self.amr) {
            CredentialKind::ApiToken
        } else {
            CredentialKind::Session
        }
    }

    /// The claims issued at `at`: `iat` in whole seconds, `iat_ms` to the millisecond.
    #[must_use]
    pub fn issued_at(self, at: Timestamp) -> Self {
        AccessClaims {
            iat: Timestamp::from_secs(at.as_secs()).to_rfc3339(),
            iat_ms: Some(at.as_millis()),
            ..self
        }
    }

    /// The issue time to the millisecond, what revocation cut-offs are compared with:
    /// `iat_ms`, which must fall in the second `iat` names; for a token minted before
    /// `iat_ms` existed, `iat` itself (which then carries the milliseconds).
    pub fn minted(&self) -> Result<Timestamp, Denial> {
        let iat = Timestamp::parse_rfc3339(&self.iat).ok_or(Denial::TokenMalformed)?;
        match self.iat_ms.map(Timestamp::from_millis) {
            None => Ok(iat),
            Some(ms) if ms.as_secs() == iat.as_secs() && iat.as_millis() % 1000 == 0 => Ok(ms),
            Some(_) => Err(Denial::TokenMalformed),
        }
    }

    /// Parses the time claims; a missing or malformed one makes the token malformed.
    pub fn times(&self) -> Result<ClaimTimes, Denial> {
        let p = |s: &str| Timestamp::parse_rfc3339(s).ok_or(Denial::TokenMalformed);
        let elev_until = self.elev_until.as_deref().map(p).transpose()?;
        Ok(ClaimTimes {
            iat: self.minted()?,
            nbf: p(&self.nbf)?,
            exp: p(&self.exp)?,
            auth_time: p(&self.auth_time)?,
            elev_until,
        })
    }

    /// Checks issuer, audience (`None`: any, for the authorization server's own
    /// introspection) and validity period at `now`.
    pub fn check(
        &self,
        times: &ClaimTimes,
        issuer: &str,
        audience: Option<&str>,
        now: Timestamp,
    ) -> Result<(), Denial> {
        if self.iss != issuer {
            return Err(Denial::TokenWrongIssuer);
        }
        if audience.is_some_and(|a| !self.aud.contains(a)) {
            return Err(Denial::TokenWrongAudience);
        }
        if now >= times.exp {
            return Err(Denial::TokenExpired);
        }
        if now < times.nbf {
            return Err(Denial::TokenNotYetValid);
        }
        Ok(())
    }

    /// The principal these claims describe.
    pub fn into_principal(self, times: &ClaimTimes) -> Principal {
        Principal {
            credential: self.credential(),
            account_id: self.sub,
            session_id: self.sid,
            token_id: self.jti,
            kind: self.kind,
            roles: self.roles,
            issued_at: times.iat,
            expires_at: times.exp,
            auth_time: times.auth_time,
            amr: self.amr,
            scopes: self.scope,
            org: self.org.zip(self.org_role),
            elevated_roles: self.elev,
            elevated_until: times.elev_until,
            client_id: self.client_id,
            actor: self.act.map(|a| a.sub),
            resources: self.resource,
            audience: self.aud.into_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn principal() -> Principal {
        let p = fixtures::principal("acc_1", CredentialKind::Session, &["admin", "ops"]);
        Principal {
            amr: vec![Amr::Password.into()],
            org: Some(("org_1".into(), "owner".into())),
            ..fixtures::issued(p, Timestamp::from_secs(1), Timestamp::from_secs(2))
        }
    }

    #[test]
    fn not_before_is_the_whole_second_of_issue() {
        let config = crate::config::Config::new(crate::secret::MasterKey::from_bytes([1; 32]));
        let now = Timestamp::from_millis(1_700_000_000_999);
        let claims = AccessClaims::base(
            &config,
            "acc_1",
            "ses_1",
            "tok_1".into(),
            AccountKind::Human,
            CredentialKind::Session,
            now,
            now.plus(std::time::Duration::from_secs(60)),
        );
        assert_eq!(claims.nbf, "2023-11-14T22:13:20Z");
        assert_eq!(claims.iat, "2023-11-14T22:13:20Z");
        assert_eq!(claims.iat_ms, Some(1_700_000_000_999));
        let times = claims.times().expect("times");
        // The millisecond mint time is what revocation cut-offs see.
        assert_eq!(times.iat, now);
        // Valid from the moment of issue on.
        assert_eq!(claims.check(&times, "iam", None, now), Ok(()));
        let json = serde_json::to_value(&claims).expect("json");
        assert_eq!(json["iat"], "2023-11-14T22:13:20Z");
        assert_eq!(json["iat_ms"], 1_700_000_000_999_i64);
    }

    /// Tokens minted before `iat_ms` existed carry the milliseconds in `iat`: they keep
    /// their millisecond issue time until they expire. An `iat_ms` outside the second of
    /// `iat` (or beside an `iat` with a fraction) is malformed.
    #[test]
    fn the_mint_time_comes_from_iat_ms_or_an_older_tokens_iat() {
        let config = crate::config::Config::new(crate::secret::MasterKey::from_bytes([1; 32]));
        let now = Timestamp::from_millis(1_700_000_000_999);
        let claims = AccessClaims::base(
            &config,
            "acc_1",
            "ses_1",
            "tok_1".into(),
            AccountKind::Human,
            CredentialKind::Session,
            now,
            now.plus(std::time::Duration::from_secs(60)),
        );
        let mut json = serde_json::to_value(&claims).expect("json");
        let obj = json.as_object_mut().expect("an object");
        obj.remove("iat_ms");
        obj.insert("iat".into(), "2023-11-14T22:13:20.999Z".into());
        let older: AccessClaims = serde_json::from_value(json).expect("an older token parses");
        assert_eq!(older.iat_ms, None);
        assert_eq!(older.minted(), Ok(now));
        assert_eq!(older.times().expect("times").iat, now);

        let moved = claims
            .clone()
            .issued_at(Timestamp::from_millis(1_700_000_001_000));
        assert_eq!(moved.iat, "2023-11-14T22:13:21Z");
        assert_eq!(
            moved.minted(),
            Ok(Timestamp::from_millis(1_700_000_001_000))
        );
        for (iat, iat_ms) in [
            ("2023-11-14T22:13:21Z", 1_700_000_000_999),
            ("2023-11-14T22:13:20Z", 1_700_000_001_000),
            ("2023-11-14T22:13:20.500Z", 1_700_000_000_999),
        ] {
            let bad = AccessClaims {
                iat: iat.into(),
                iat_ms: Some(iat_ms),
                ..claims.clone()
            };
            assert_eq!(bad.minted(), Err(Denial::TokenMalformed), "{iat} {iat_ms}");
            assert!(bad.times().is_err());
        }
    }

    #[test]
    fn authorization_helpers_give_explicit_denials() {
        let p = principal();
        assert_eq!(p.require_role("admin"), Ok(()));
        assert_eq!(
            p.require_role("root"),
            Err(Denial::MissingRole("root".into()))
        );
        assert_eq!(
            p.require_scope("ops"),
            Ok(()),
            "unscoped tokens grant their roles as scopes"
        );
        assert_eq!(
            p.require_scope("billing"),
            Err(Denial::MissingScope("billing".into()))
        );
        let scoped = Principal {
            scopes: vec!["read".into()],
            ..p.clone()
        };
        assert_eq!(scoped.require_scope("read"), Ok(()));
        assert_eq!(
            scoped.require_scope("admin"),
            Err(Denial::MissingScope("admin".into()))
        );
        assert_eq!(p.require_org_role("org_1", "owner"), Ok(()));
        assert_eq!(
            p.require_org_role("org_1", "member"),
            Err(Denial::MissingOrgRole {
                org: "org_1".into(),
                role: "member".into()
            })
        );
        assert!(p.require_org_role("org_2", "owner").is_err());
    }
}
