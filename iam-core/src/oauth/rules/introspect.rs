//! Token introspection (RFC 7662): what a confidential client may learn about a token.

use super::Answer;
use crate::clock::Timestamp;
use crate::oauth::client::StoredClient;
use crate::oauth::grant::{StoredFamily, StoredOAuthRefresh};
use crate::oauth::scope::format_scope;
use crate::oauth::{Actor, ClientKind, Introspection, OAuthError, BEARER, REFRESH_TOKEN_TYPE};
use crate::token::Principal;

/// Only confidential clients introspect; a public one is `invalid_client`.
pub(crate) fn may_introspect(client: &StoredClient) -> Answer<()> {
    if client.info.kind == ClientKind::Confidential {
        Ok(())
    } else {
        Err(OAuthError::invalid_client())
    }
}

/// The introspection of the valid access token `token` for `client`: inactive unless the
/// token was issued to `client` or its audience (iam's own `audience` when it names no
/// resource) names one of `client`'s resources (RFC 7662 §4).
pub(crate) fn introspect_access(
    client: &StoredClient,
    token: Principal,
    (issuer, audience): (&str, &str),
) -> Introspection {
    let aud = if token.resources.is_empty() {
        vec![audience.to_owned()]
    } else {
        token.resources
    };
    let issued_to_client = token.client_id.as_deref() == Some(client.info.id.as_str());
    if !issued_to_client && !aud.iter().any(|a| client.info.resources.contains(a)) {
        return Introspection::inactive();
    }
    let scope = (!token.scopes.is_empty()).then(|| token.scopes.join(" "));
    Introspection {
        active: true,
        scope,
        client_id: token.client_id,
        token_type: Some(BEARER.to_owned()),
        exp: Some(token.expires_at.as_secs()),
        iat: Some(token.issued_at.as_secs()),
        nbf: Some(token.issued_at.as_secs()),
        sub: Some(token.account_id),
        aud,
        iss: Some(issuer.to_owned()),
        jti: Some(token.token_id),
        sid: Some(token.session_id),
        auth_time: Some(token.auth_time.as_secs()),
        act: token.actor.map(|sub| Actor { sub }),
    }
}

/// What introspecting a refresh token loaded besides the token.
#[derive(Debug, Default)]
pub(crate) struct RefreshFacts {
    /// The token's family.
    pub family: Option<StoredFamily>,
    /// The family's client, as read now.
    pub family_client: Option<StoredClient>,
}

/// The introspection of the refresh token `refresh` for `client`: inactive when it was used,
/// its family is revoked or expired at `now`, its client is gone or disabled, or it was
/// issued to another client.
pub(crate) fn introspect_refresh(
    client: &StoredClient,
    refresh: &StoredOAuthRefresh,
    facts: RefreshFacts,
    issuer: &str,
    now: Timestamp,
) -> Introspection {
    if refresh.client_id != client.info.id {
        return Introspection::inactive();
    }
    let Some(family) = facts
        .family
        .filter(|f| f.id == refresh.family_id && refresh.rotated_at.is_none() && f.is_live(now))
    else {
        return Introspection::inactive();
    };
    let client_live = facts
        .family_client
        .is_some_and(|c| c.info.id == family.client_id && !c.info.disabled);
    if !client_live {
        return Introspection::inactive();
    }
    Introspection {
        active: true,
        scope: (!family.scopes.is_empty()).then(|| format_scope(&family.scopes)),
        client_id: Some(family.client_id.clone()),
        token_type: Some(REFRESH_TOKEN_TYPE.to_owned()),
        exp: Some(family.expires_at.as_secs()),
        iat: Some(refresh.issued_at.as_secs()),
        nbf: None,
        sub: Some(family.account_id.clone()),
        aud: family.resources.iter().cloned().collect(),
        iss: Some(issuer.to_owned()),
        jti: None,
        sid: Some(family.id.clone()),
        auth_time: Some(family.auth_time.as_secs()),
        act: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{client, family, principal};
    use super::*;
    use crate::oauth::OAuthErrorCode;

    #[test]
    fn only_confidential_clients_introspect() {
        let mut public = client("cli_1");
        public.info.kind = ClientKind::Public;
        assert_eq!(may_introspect(&client("cli_1")), Ok(()));
        assert_eq!(
            may_introspect(&public).map_err(|e| e.code),
            Err(OAuthErrorCode::InvalidClient)
        );
    }

    /// (token's client, token's resources, active, audience)
    type AccessCase = (
        Option<&'static str>,
        &'static [&'static str],
        bool,
        &'static [&'static str],
    );

    #[test]
    fn access_tokens_are_active_for_their_client_or_resource() {
        let token = |client_id: Option<&str>, resources: &[&str]| {
            let mut p = principal("acc_a", "ofm_1");
            p.client_id = client_id.map(String::from);
            p.resources = resources.iter().map(|r| (*r).to_owned()).collect();
            p.scopes = vec!["read".into(), "write".into()];
            p.actor = Some("acc_owner".into());
            p
        };
        let cases: [AccessCase; 5] = [
            (Some("cli_1"), &[], true, &["iam"]),
            (
                Some("cli_2"),
                &["https://api.example"],
                true,
                &["https://api.example"],
            ),
            (Some("cli_2"), &["https://other.example"], false, &[]),
            (Some("cli_2"), &[], false, &[]),
            (None, &[], false, &[]),
        ];
        for (i, (client_id, resources, active, aud)) in cases.into_iter().enumerate() {
            let got = introspect_access(
                &client("cli_1"),
                token(client_id, resources),
                ("https://id.example", "iam"),
            );
            assert_eq!(got.active, active, "case {i}");
            if !active {
                assert_eq!(got, Introspection::inactive(), "case {i}");
                continue;
            }
            assert_eq!(got.aud, aud, "case {i}");
            assert_eq!(got.scope.as_deref(), Some("read write"));
            assert_eq!(got.token_type.as_deref(), Some(BEARER));
            assert_eq!(got.iss.as_deref(), Some("https://id.example"));
            assert_eq!(
                (got.sub.as_deref(), got.sid.as_deref()),
                (Some("acc_a"), Some("ofm_1"))
            );
            assert_eq!(
                got.act,
                Some(Actor {
                    sub: "acc_owner".into()
                })
            );
            assert_eq!(got.exp, Some(1_800));
        }
    }

    #[test]
    fn refresh_tokens_are_active_while_unused_and_their_family_and_client_live() {
        let now = Timestamp::from_secs(1_000);
        let refresh = |client: &str, rotated: bool| StoredOAuthRefresh {
            family_id: "ofm_1".into(),
            client_id: client.into(),
            issued_at: Timestamp::from_secs(950),
            rotated_at: rotated.then(|| Timestamp::from_secs(990)),
        };
        let live = || Some(family("ofm_1", "cli_1", "acc_a"));
        let mut revoked = family("ofm_1", "cli_1", "acc_a");
        revoked.revoked_at = Some(Timestamp::from_secs(999));
        let mut disabled = client("cli_1");
        disabled.info.disabled = true;
        // (token, family, family's client, active)
        let cases = [
            (refresh("cli_1", false), live(), Some(client("cli_1")), true),
            (refresh("cli_1", true), live(), Some(client("cli_1")), false),
            (
                refresh("cli_2", false),
                live(),
                Some(client("cli_1")),
                false,
            ),
            (
                refresh("cli_1", false),
                Some(revoked),
                Some(client("cli_1")),
                false,
            ),
            (refresh("cli_1", false), None, Some(client("cli_1")), false),
            (refresh("cli_1", false), live(), Some(disabled), false),
            (refresh("cli_1", false), live(), None, false),
        ];
        for (i, (token, fam, family_client, active)) in cases.into_iter().enumerate() {
            let facts = RefreshFacts {
                family: fam,
                family_client,
            };
            let got =
                introspect_refresh(&client("cli_1"), &token, facts, "https://id.example", now);
            if !active {
                assert_eq!(got, Introspection::inactive(), "case {i}");
                continue;
            }
            assert!(got.active);
            assert_eq!(got.token_type.as_deref(), Some(REFRESH_TOKEN_TYPE));
            assert_eq!(got.scope.as_deref(), Some("read"));
            assert_eq!(got.aud, ["https://api.example"]);
            assert_eq!((got.iat, got.exp), (Some(950), Some(50_000)));
            assert_eq!(got.sid.as_deref(), Some("ofm_1"));
            assert_eq!(got.jti, None);
        }
    }
}
