//! The token endpoint's grants (RFC 6749 §4-§6, RFC 7636, RFC 8628 §3.4-§3.5, RFC 8707):
//! authorization code with PKCE, refresh with rotation and reuse detection, client
//! credentials, and the device code poll.
//!
//! Each decision takes the authenticated client as read and returns a plan whose output is
//! the [`Issue`] to sign or the refusal to answer with; a replayed code or refresh token
//! still commits the revocation of what it produced. Issuing plans are guarded by the
//! client, the account the tokens speak for and (for code and device grants) the session
//! that approved them.

use std::collections::BTreeSet;

use super::{
    family_record, holds_scope, revoke_family_into, token_scopes, unchanged, Answer, NewSecret,
};
use crate::account::{AccountKind, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::{CredentialKind, ADMIN_ROLE};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::error::Result;
use crate::jose::JwsAlg;
use crate::oauth::client::StoredClient;
use crate::oauth::device::{decide_poll, DeviceStatus, Poll, StoredDevice};
use crate::oauth::grant::{StoredCode, StoredFamily, StoredOAuthRefresh};
use crate::oauth::scope::{decide_resources, decide_scope, format_scope};
use crate::oauth::{pkce, Actor, ClientKind, GrantType, OAuthClient, OAuthError, OAuthErrorCode};
use crate::oidc::claims::OPENID_SCOPE;
use crate::oidc::id_token::{self, IdTokenDraft, IdTokenFacts};
use crate::oidc::logout::{subscription_record, StoredSubscription};
use crate::plan::Plan;
use crate::secret::SecretString;
use crate::session::Session;
use crate::store::{Commit, Record, RecordKind, Write};
use crate::token::access::{AccessClaims, Audience};

/// An access token to sign, and what the token response carries beside it.
#[derive(Debug)]
pub(crate) struct Issue {
    /// The claims to sign.
    pub claims: AccessClaims,
    /// When the access token expires.
    pub exp: Timestamp,
    /// The refresh token issued with it, if any.
    pub refresh_token: Option<SecretString>,
    /// The scopes granted.
    pub scopes: BTreeSet<String>,
    /// The ID token to sign beside it (OpenID Connect grants).
    pub id_token: Option<IdTokenDraft>,
    /// The algorithm to sign the access token with as an RFC 9068 JWT; `None`: PASETO.
    pub jwt_alg: Option<JwsAlg>,
}

/// The ID token of a user grant carrying `scopes`, when they include `openid`.
fn oidc_draft(
    config: &Config,
    client: &OAuthClient,
    account: &StoredAccount,
    scopes: &BTreeSet<String>,
    (auth_time, amr): (Timestamp, &[String]),
    (nonce, sid): (Option<&str>, Option<&str>),
    now: Timestamp,
) -> Option<IdTokenDraft> {
    scopes.contains(OPENID_SCOPE).then(|| {
        let facts = IdTokenFacts {
            issuer: &config.issuer,
            client_id: &client.id,
            alg: client.oidc.id_token_signed_response_alg,
            auth_time,
            amr,
            nonce,
            sid,
            scopes,
            ttl: config.oauth.access_token_ttl,
        };
        id_token::draft(account, &facts, now)
    })
}

/// Ids and the secret drawn in the load step for the tokens a user grant issues.
#[derive(Debug)]
pub(crate) struct Fresh {
    /// The id (`ofm_…`) of a new token family; the refresh grant keeps its family and
    /// ignores it.
    pub family_id: String,
    /// The access token's `jti`.
    pub token_id: String,
    /// A new refresh token, issued when the client is allowed the refresh grant.
    pub refresh: NewSecret,
}

/// The records a user grant's tokens depend on besides the client.
#[derive(Debug, Default)]
pub(crate) struct Grantor {
    /// The login session that approved the grant, as read.
    pub session: Option<(Record, Session)>,
    /// The account the tokens speak for, as read.
    pub account: Option<(Record, StoredAccount)>,
}

/// What a token decision returns: the plan, whose output is the token to sign or the refusal.
type Granted = Result<Plan<Answer<Issue>>>;

/// A refusal that commits nothing.
fn refuse(e: OAuthError) -> Plan<Answer<Issue>> {
    Plan::new(Err(e))
}

/// The account a grant's tokens speak for, if it may still receive tokens.
fn grant_account(account: Option<(Record, StoredAccount)>) -> Answer<(Record, StoredAccount)> {
    match account {
        Some((_, a)) if a.disabled => Err(OAuthError::invalid_grant("the account is disabled")),
        Some(x) => Ok(x),
        None => Err(OAuthError::invalid_grant("the account no longer exists")),
    }
}

/// The approving session as read, if it is `session_id` of `account_id` and live at `now`
/// (it may have been signed out, or its account signed out everywhere, since approval).
fn approving_session(
    session: Option<(Record, Session)>,
    session_id: &str,
    account_id: &str,
    now: Timestamp,
) -> Option<Record> {
    session
        .filter(|(_, s)| s.id == session_id && s.account_id == account_id && s.is_live(now))
        .map(|(r, _)| r)
}

/// The resources an access token is for: the requested subset of `granted`, or all of them.
fn narrow_resources(requested: &[String], granted: &BTreeSet<String>) -> Answer<BTreeSet<String>> {
    if requested.is_empty() {
        Ok(granted.clone())
    } else {
        decide_resources(requested, granted)
    }
}

/// The claims of an access token of `family` for `account` carrying `scopes` (and, as
/// roles, those scopes that are the account's roles) and `resources`. It expires after the
/// OAuth access-token lifetime or with the family, whichever is first.
fn family_claims(
    config: &Config,
    account: &StoredAccount,
    family: &StoredFamily,
    (scopes, resources): (&BTreeSet<String>, &BTreeSet<String>),
    token_id: String,
    now: Timestamp,
) -> (AccessClaims, Timestamp) {
    let exp = now
        .plus(config.oauth.access_token_ttl)
        .min(family.expires_at);
    let mut claims = AccessClaims::base(
        config,
        &account.id,
        &family.id,
        token_id,
        account.kind,
        CredentialKind::OAuthUser,
        now,
        exp,
    );
    claims.roles = scopes
        .iter()
        .filter(|s| account.roles.contains(*s))
        .cloned()
        .collect();
    claims.scope = scopes.iter().cloned().collect();
    claims.auth_time = family.auth_time.to_rfc3339();
    claims.amr.clone_from(&family.amr);
    claims.client_id = Some(family.client_id.clone());
    claims.resource = resources.iter().cloned().collect();
    claims.aud = Audience::of(&claims.resource, &config.audience);
    (claims, exp)
}

/// The record of refresh token `secret` of `family`, issued at `now`.
fn refresh_record(family: &StoredFamily, secret: &NewSecret, now: Timestamp) -> Result<Record> {
    let stored = StoredOAuthRefresh {
        family_id: family.id.clone(),
        client_id: family.client_id.clone(),
        issued_at: now,
        rotated_at: None,
    };
    Ok(Record {
        kind: RecordKind::OAuthRefresh,
        id: secret.hash.clone(),
        version: 0,
        parent: Some(family.id.clone()),
        lookup: None,
        expires_at: Some(family.expires_at),
        body: crate::record_body::to_body(&stored)?,
    })
}

/// A new token family from a code or device approval.
struct Opening<'a> {
    client: &'a (Record, StoredClient),
    account: &'a (Record, StoredAccount),
    scopes: &'a BTreeSet<String>,
    resources: &'a BTreeSet<String>,
    /// The resources of the first access token (a subset of `resources`).
    token_resources: &'a BTreeSet<String>,
    auth_time: Timestamp,
    amr: &'a [String],
    grant: GrantType,
    /// The authorization request's `nonce`, for the ID token.
    nonce: Option<&'a str>,
    /// The login session that approved the grant (the ID token's `sid`).
    session_id: &'a str,
}

/// Adds to `commit` a new family for `o` and its first refresh token (when the client may
/// refresh), guarded by the client and account; returns its first access token and the family.
fn open_family(
    o: &Opening<'_>,
    fresh: Fresh,
    config: &Config,
    now: Timestamp,
    commit: &mut Commit,
) -> Result<(Issue, StoredFamily)> {
    let (client_read, client) = o.client;
    let (account_read, account) = o.account;
    let family = StoredFamily {
        id: fresh.family_id,
        client_id: client.info.id.clone(),
        account_id: account.id.clone(),
        scopes: o.scopes.clone(),
        resources: o.resources.clone(),
        auth_time: o.auth_time,
        amr: o.amr.to_vec(),
        origin: o.grant.as_str().to_owned(),
        created_at: now,
        expires_at: now.plus(config.oauth.refresh_ttl),
        revoked_at: None,
        session_id: Some(o.session_id.to_owned()),
    };
    let scopes = token_scopes(&client.info, account, o.scopes);
    let (claims, exp) = family_claims(
        config,
        account,
        &family,
        (&scopes, o.token_resources),
        fresh.token_id,
        now,
    );
    commit.writes.push(Write::Insert(family_record(&family)?));
    if client.info.oidc.backchannel_logout_uri.is_some() {
        let sub = StoredSubscription {
            session_id: o.session_id.to_owned(),
            account_id: account.id.clone(),
            client_id: client.info.id.clone(),
        };
        commit.writes.push(Write::Insert(subscription_record(
            &sub,
            &family.id,
            family.expires_at,
        )?));
    }
    let refresh_token = if client.info.allows(GrantType::RefreshToken) {
        commit
            .writes
            .push(Write::Insert(refresh_record(&family, &fresh.refresh, now)?));
        Some(fresh.refresh.secret)
    } else {
        None
    };
    commit.writes.push(unchanged(client_read));
    commit.writes.push(unchanged(account_read));
    commit.audit.push(
        AuditDraft::new(AuditKind::OAuthTokenIssued, now)
            .actor(Some(&account.id))
            .account(&account.id)
            .session(&family.id)
            .detail("client_id", client.info.id.clone())
            .detail("grant_type", o.grant.as_str())
            .detail("scope", format_scope(&scopes)),
    );
    let id_token = oidc_draft(
        config,
        &client.info,
        account,
        &scopes,
        (o.auth_time, o.amr),
        (o.nonce, Some(o.session_id)),
        now,
    );
    let issue = Issue {
        claims,
        exp,
        refresh_token,
        scopes,
        id_token,
        jwt_alg: client.info.oidc.jwt_access_token_alg(),
    };
    Ok((issue, family))
}

/// What the code exchange loaded.
#[derive(Debug, Default)]
pub(crate) struct CodeState {
    /// The code, found by the keyed hash of what the client presented.
    pub code: Option<(Record, StoredCode)>,
    /// For a spent code, the family it produced.
    pub replayed: Option<(Record, StoredFamily)>,
    /// For an unspent code, the session that approved it and its account.
    pub grantor: Grantor,
}

/// The token request's parameters for a code exchange.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CodeExchange<'a> {
    /// `redirect_uri`, required when the authorization request named one.
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier` (PKCE).
    pub verifier: Option<&'a SecretString>,
    /// `resource` indicators narrowing the first access token.
    pub resource: &'a [String],
}

/// Exchanges an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6) for the first tokens of
/// a new family. A spent code is refused and the family it produced revoked (§4.1.2).
pub(crate) fn decide_code_exchange(
    client: &(Record, StoredClient),
    state: CodeState,
    req: CodeExchange<'_>,
    fresh: Fresh,
    config: &Config,
    now: Timestamp,
) -> Granted {
    let invalid = |why| Ok(refuse(OAuthError::invalid_grant(why)));
    let Some((record, mut code)) = state.code else {
        return invalid("the code is invalid");
    };
    if code.client_id != client.1.info.id {
        return invalid("the code was issued to another client");
    }
    if let Some(family_id) = &code.used_for {
        let mut plan = Plan::new(Err(OAuthError::invalid_grant("the code was already used")));
        if let Some((fr, family)) = state.replayed.filter(|(_, f)| &f.id == family_id) {
            revoke_family_into(&mut plan.commit, &fr, family, now)?;
        }
        return Ok(plan.audit(
            AuditDraft::new(AuditKind::OAuthCodeReplayDetected, now)
                .account(&code.account_id)
                .session(family_id)
                .detail("client_id", code.client_id.clone()),
        ));
    }
    if now >= code.expires_at {
        return invalid("the code has expired");
    }
    let Some(session_read) = approving_session(
        state.grantor.session,
        &code.session_id,
        &code.account_id,
        now,
    ) else {
        return invalid("the session that approved this request has ended");
    };
    let uri_ok = match req.redirect_uri {
        Some(uri) => uri == code.redirect_uri,
        None => !code.redirect_uri_given,
    };
    if !uri_ok {
        return invalid("redirect_uri does not match the authorization request");
    }
    match (&code.code_challenge, req.verifier) {
        (Some(challenge), Some(v)) => {
            if let Err(e) = pkce::verify(v.expose(), challenge) {
                return Ok(refuse(e));
            }
        }
        (Some(_), None) => return invalid("code_verifier is required"),
        (None, Some(_)) => return invalid("the authorization request had no code_challenge"),
        (None, None) => {}
    }
    let token_resources = match narrow_resources(req.resource, &code.resources) {
        Ok(r) => r,
        Err(e) => return Ok(refuse(e)),
    };
    let account = match grant_account(state.grantor.account) {
        Ok(a) => a,
        Err(e) => return Ok(refuse(e)),
    };
    let opening = Opening {
        client,
        account: &account,
        scopes: &code.scopes,
        resources: &code.resources,
        token_resources: &token_resources,
        auth_time: code.auth_time,
        amr: &code.amr,
        grant: GrantType::AuthorizationCode,
        nonce: code.nonce.as_deref(),
        session_id: &code.session_id,
    };
    let mut commit = Commit::default();
    let (issue, family) = open_family(&opening, fresh, config, now, &mut commit)?;
    code.used_for = Some(family.id.clone());
    // Keep the spent code as long as its tokens live, so a replay can revoke them.
    commit.writes.push(Write::Update {
        record: Record {
            expires_at: Some(family.expires_at),
            body: crate::record_body::to_body(&code)?,
            ..record.clone()
        },
        expected_version: record.version,
    });
    commit.writes.push(unchanged(&session_read));
    Ok(Plan {
        commit,
        output: Ok(issue),
    })
}

/// What the refresh grant loaded.
#[derive(Debug, Default)]
pub(crate) struct RefreshState {
    /// The refresh token, found by the keyed hash of what the client presented.
    pub token: Option<(Record, StoredOAuthRefresh)>,
    /// Its family.
    pub family: Option<(Record, StoredFamily)>,
    /// The account the family speaks for.
    pub account: Option<(Record, StoredAccount)>,
    /// The account's delegation cut-off in the revocation cache: families created up to it
    /// were withdrawn.
    pub delegation_cutoff: Option<Timestamp>,
}

/// The token request's parameters for a refresh.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RefreshAsk<'a> {
    /// `scope`, narrowing the family's scopes.
    pub scope: Option<&'a str>,
    /// `resource` indicators narrowing the family's resources.
    pub resource: &'a [String],
}

/// Rotates a refresh token (RFC 6749 §6, OAuth 2.0 Security BCP §4.14): the presented token
/// is marked used and a successor issued in its family, which is touched so a concurrent
/// revocation and this rotation cannot both win. A token already used is reuse: its whole
/// family is revoked.
pub(crate) fn decide_refresh(
    client: &(Record, StoredClient),
    state: RefreshState,
    ask: RefreshAsk<'_>,
    fresh: Fresh,
    config: &Config,
    now: Timestamp,
) -> Granted {
    let invalid = |why| Ok(refuse(OAuthError::invalid_grant(why)));
    let Some((record, token)) = state.token else {
        return invalid("the refresh token is invalid");
    };
    if token.client_id != client.1.info.id {
        return invalid("the refresh token was issued to another client");
    }
    let Some((family_read, family)) = state.family.filter(|(_, f)| f.id == token.family_id) else {
        return invalid("the refresh token is invalid");
    };
    if token.rotated_at.is_some() {
        let mut plan = Plan::new(Err(OAuthError::invalid_grant(
            "the refresh token was already used; its grant is revoked",
        )));
        let audit = AuditDraft::new(AuditKind::OAuthRefreshReuseDetected, now)
            .account(&family.account_id)
            .session(&family.id)
            .detail("client_id", family.client_id.clone());
        revoke_family_into(&mut plan.commit, &family_read, family, now)?;
        return Ok(plan.audit(audit));
    }
    if !family.is_live(now) {
        return invalid("the grant is revoked or expired");
    }
    if state
        .delegation_cutoff
        .is_some_and(|cut| family.created_at <= cut)
    {
        return invalid("the account has withdrawn this grant");
    }
    let scopes = match decide_scope(ask.scope, &family.scopes, &family.scopes) {
        Ok(s) => s,
        Err(e) => return Ok(refuse(e)),
    };
    let resources = match narrow_resources(ask.resource, &family.resources) {
        Ok(r) => r,
        Err(e) => return Ok(refuse(e)),
    };
    let (account_read, account) = match grant_account(state.account) {
        Ok(a) if a.1.id == family.account_id => a,
        Ok(_) => return invalid("the account no longer exists"),
        Err(e) => return Ok(refuse(e)),
    };
    let scopes = token_scopes(&client.1.info, &account, &scopes);
    let (claims, exp) = family_claims(
        config,
        &account,
        &family,
        (&scopes, &resources),
        fresh.token_id,
        now,
    );
    let rotated = StoredOAuthRefresh {
        rotated_at: Some(now),
        ..token
    };
    let audit = AuditDraft::new(AuditKind::OAuthTokenIssued, now)
        .actor(Some(&account.id))
        .account(&account.id)
        .session(&family.id)
        .detail("client_id", family.client_id.clone())
        .detail("grant_type", GrantType::RefreshToken.as_str())
        .detail("scope", format_scope(&scopes));
    let next = refresh_record(&family, &fresh.refresh, now)?;
    let id_token = oidc_draft(
        config,
        &client.1.info,
        &account,
        &scopes,
        (family.auth_time, &family.amr),
        (None, family.session_id.as_deref()),
        now,
    );
    let plan = Plan::new(Ok(Issue {
        claims,
        exp,
        refresh_token: Some(fresh.refresh.secret),
        scopes,
        id_token,
        jwt_alg: client.1.info.oidc.jwt_access_token_alg(),
    }));
    Ok(plan
        .write(Write::Update {
            record: Record {
                body: crate::record_body::to_body(&rotated)?,
                ..record.clone()
            },
            expected_version: record.version,
        })
        .write(Write::Insert(next))
        .write(Write::Update {
            record: family_record(&family)?,
            expected_version: family_read.version,
        })
        .write(unchanged(&client.0))
        .write(unchanged(&account_read))
        .audit(audit))
}

/// The ids drawn for a client-credentials token: its grant id (`occ_…`, the token's `sid`)
/// and its `jti`.
#[derive(Clone, Debug)]
pub(crate) struct GrantIds {
    /// The grant id.
    pub grant_id: String,
    /// The token id.
    pub token_id: String,
}

/// The client credentials grant (RFC 6749 §4.4) for a confidential client: a token for the
/// requested scopes and resources. A client acting for its owner (`owner`, as read) gets
/// only the scopes the owner holds now (asked for explicitly, others are refused), and the
/// token names the owner as actor; the plan is guarded by the client and the owner.
pub(crate) fn decide_client_credentials(
    client: &(Record, StoredClient),
    owner: Option<(Record, StoredAccount)>,
    (scope, resource): (Option<&str>, &[String]),
    ids: GrantIds,
    config: &Config,
    now: Timestamp,
) -> Plan<Answer<Issue>> {
    let (client_read, client) = client;
    if client.info.kind != ClientKind::Confidential {
        return refuse(OAuthError::code(OAuthErrorCode::UnauthorizedClient));
    }
    let mut scopes = match decide_scope(scope, &client.info.scopes, &client.info.scopes) {
        Ok(s) => s,
        Err(e) => return refuse(e),
    };
    let resources = match decide_resources(resource, &client.info.resources) {
        Ok(r) => r,
        Err(e) => return refuse(e),
    };
    let mut plan = Plan::new(()).write(unchanged(client_read));
    let mut roles = Vec::new();
    let mut act = None;
    if client.info.acts_for_owner {
        let Some(owner_id) = client.info.owner.as_deref() else {
            return refuse(OAuthError::code(OAuthErrorCode::UnauthorizedClient));
        };
        let Some((account_read, account)) = owner.filter(|(_, a)| a.id == owner_id && !a.disabled)
        else {
            return refuse(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "the account this client acts for cannot receive tokens",
            ));
        };
        // Re-derived against what the owner holds now: a scope naming a role the owner
        // has lost is no longer granted (asked for explicitly, it is refused).
        let owner_holds =
            |s: &String| account.roles.contains(ADMIN_ROLE) || holds_scope(&account, s);
        if scope.is_some() && !scopes.iter().all(owner_holds) {
            return refuse(OAuthError::new(
                OAuthErrorCode::InvalidScope,
                "the account this client acts for does not hold the requested scope",
            ));
        }
        scopes.retain(owner_holds);
        roles = scopes
            .iter()
            .filter(|s| account.roles.contains(*s))
            .cloned()
            .collect();
        plan = plan.write(unchanged(&account_read));
        act = Some(Actor { sub: account.id });
    }
    let exp = now.plus(config.oauth.access_token_ttl);
    let mut claims = AccessClaims::base(
        config,
        &client.info.id,
        &ids.grant_id,
        ids.token_id,
        AccountKind::System,
        CredentialKind::ClientCredentials,
        now,
        exp,
    );
    claims.roles = roles;
    claims.scope = scopes.iter().cloned().collect();
    claims.client_id = Some(client.info.id.clone());
    claims.resource = resources.iter().cloned().collect();
    claims.aud = Audience::of(&claims.resource, &config.audience);
    claims.act.clone_from(&act);
    let mut audit = AuditDraft::new(AuditKind::OAuthTokenIssued, now)
        .session(&ids.grant_id)
        .detail("client_id", client.info.id.clone())
        .detail("grant_type", GrantType::ClientCredentials.as_str())
        .detail("scope", format_scope(&scopes));
    if let Some(a) = &act {
        audit = audit.account(&a.sub);
    }
    plan.audit(audit).map(|()| {
        Ok(Issue {
            claims,
            exp,
            refresh_token: None,
            scopes,
            id_token: None,
            jwt_alg: client.info.oidc.jwt_access_token_alg(),
        })
    })
}

/// A poll of the token endpoint with a device code (RFC 8628 §3.4-§3.5), by the client the
/// code was issued to: while pending, the poll is recorded (`authorization_pending` or
/// `slow_down`); once approved from a session that still lives, the first tokens of a new
/// family are issued and the code is spent.
pub(crate) fn decide_device_poll(
    client: &(Record, StoredClient),
    device: Option<(Record, StoredDevice)>,
    grantor: Grantor,
    fresh: Fresh,
    config: &Config,
    now: Timestamp,
) -> Granted {
    let Some((record, mut device)) = device else {
        return Ok(refuse(OAuthError::invalid_grant(
            "the device code is invalid",
        )));
    };
    if device.client_id != client.1.info.id {
        return Ok(refuse(OAuthError::invalid_grant(
            "the device code was issued to another client",
        )));
    }
    let save = |device: &StoredDevice| -> Result<Write> {
        Ok(Write::Update {
            record: Record {
                body: crate::record_body::to_body(device)?,
                ..record.clone()
            },
            expected_version: record.version,
        })
    };
    let approval = match decide_poll(&mut device, now) {
        Poll::Refuse(e) => return Ok(refuse(e)),
        Poll::Wait(e) => return Ok(Plan::new(Err(e)).write(save(&device)?)),
        Poll::Issue(a) => a,
    };
    let Some(session_read) = approving_session(
        grantor.session,
        &approval.session_id,
        &approval.account_id,
        now,
    ) else {
        return Ok(refuse(OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "the session that approved this request has ended",
        )));
    };
    let account = match grant_account(grantor.account) {
        Ok(a) => a,
        Err(e) => return Ok(refuse(e)),
    };
    let opening = Opening {
        client,
        account: &account,
        scopes: &device.scopes,
        resources: &device.resources,
        token_resources: &device.resources,
        auth_time: approval.auth_time,
        amr: &approval.amr,
        grant: GrantType::DeviceCode,
        nonce: None,
        session_id: &approval.session_id,
    };
    let mut commit = Commit::default();
    let (issue, family) = open_family(&opening, fresh, config, now, &mut commit)?;
    device.status = DeviceStatus::Issued {
        family_id: family.id,
    };
    commit.writes.push(save(&device)?);
    commit.writes.push(unchanged(&session_read));
    Ok(Plan {
        commit,
        output: Ok(issue),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{
        account_read, audit_kinds, client_read, config, family, record_of, secret, session_read,
        set, writes, written,
    };
    use super::*;
    use crate::oauth::device::DeviceApproval;
    use crate::oauth::pkce::s256_challenge;
    use crate::revocation::RevocationChange;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const NOW: Timestamp = Timestamp::from_secs(1_000);

    fn fresh() -> Fresh {
        Fresh {
            family_id: "ofm_new".into(),
            token_id: "tok_new".into(),
            refresh: secret("rt"),
        }
    }

    /// The refusal a plan answers with, if any.
    fn refusal(plan: &Plan<Answer<Issue>>) -> Option<(OAuthErrorCode, &'static str)> {
        plan.output.as_ref().err().map(|e| (e.code, e.description))
    }

    /// Asserts that `plan` answers `want` (a refusal commits nothing); whether it issued.
    fn issued(
        plan: &Plan<Answer<Issue>>,
        want: Option<(OAuthErrorCode, &'static str)>,
        name: &str,
    ) -> bool {
        assert_eq!(refusal(plan), want, "{name}");
        if want.is_some() {
            assert_eq!(
                plan.commit,
                Commit::default(),
                "{name}: a refusal commits nothing"
            );
        }
        want.is_none()
    }

    /// The plan of exchanging a code at `cli_1` now.
    fn exchange(state: CodeState, req: CodeExchange<'_>, cfg: &Config) -> Plan<Answer<Issue>> {
        decide_code_exchange(&client_read("cli_1"), state, req, fresh(), cfg, NOW).expect("plan")
    }

    /// The plan of refreshing at `cli_1` now.
    fn refresh(state: RefreshState, ask: RefreshAsk<'_>, cfg: &Config) -> Plan<Answer<Issue>> {
        decide_refresh(&client_read("cli_1"), state, ask, fresh(), cfg, NOW).expect("plan")
    }

    fn grantor() -> Grantor {
        Grantor {
            session: Some(session_read("ses_1", "acc_a")),
            account: Some(account_read("acc_a")),
        }
    }

    fn op_ids<T>(plan: &Plan<T>) -> Vec<(&'static str, String, u64)> {
        writes(plan)
            .into_iter()
            .map(|(op, _, id, v)| (op, id, v))
            .collect()
    }

    fn w(op: &'static str, id: &str, v: u64) -> (&'static str, String, u64) {
        (op, id.to_owned(), v)
    }

    fn code() -> StoredCode {
        StoredCode {
            client_id: "cli_1".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_given: false,
            code_challenge: Some(s256_challenge(VERIFIER)),
            account_id: "acc_a".into(),
            session_id: "ses_1".into(),
            scopes: set(&["read", "write"]),
            resources: set(&["https://api.example"]),
            auth_time: Timestamp::from_secs(900),
            amr: vec!["pwd".into()],
            issued_at: Timestamp::from_secs(950),
            expires_at: Timestamp::from_secs(1_010),
            used_for: None,
            nonce: None,
        }
    }

    fn code_read(code: StoredCode) -> (Record, StoredCode) {
        let record = Record {
            kind: RecordKind::AuthCode,
            id: "hash-code".into(),
            version: 7,
            parent: Some("cli_1".into()),
            lookup: None,
            expires_at: Some(code.expires_at),
            body: crate::record_body::to_body(&code).expect("body"),
        };
        (record, code)
    }

    /// The token request's owned parameters.
    #[derive(Clone, Default)]
    struct Ask {
        redirect_uri: Option<String>,
        verifier: Option<SecretString>,
        resource: Vec<String>,
    }

    /// A code-exchange case: how it differs from a valid exchange, and its refusal.
    type CodeCase = (
        &'static str,
        fn(&mut CodeState, &mut Ask),
        Option<(OAuthErrorCode, &'static str)>,
    );

    #[test]
    fn code_exchange_checks_the_code_then_opens_a_family() {
        use OAuthErrorCode::{InvalidGrant, InvalidRequest, InvalidTarget};
        let cases: [CodeCase; 14] = [
            ("valid", |_, _| {}, None),
            (
                "narrowed resource",
                |_, a| a.resource = vec!["https://api.example".into()],
                None,
            ),
            (
                "unknown code",
                |s, _| s.code = None,
                Some((InvalidGrant, "the code is invalid")),
            ),
            (
                "other client",
                |s, _| {
                    if let Some((_, c)) = &mut s.code {
                        c.client_id = "cli_2".into();
                    }
                },
                Some((InvalidGrant, "the code was issued to another client")),
            ),
            (
                "expired",
                |s, _| {
                    if let Some((_, c)) = &mut s.code {
                        c.expires_at = NOW;
                    }
                },
                Some((InvalidGrant, "the code has expired")),
            ),
            (
                "session gone",
                |s, _| s.grantor.session = None,
                Some((
                    InvalidGrant,
                    "the session that approved this request has ended",
                )),
            ),
            (
                "session revoked",
                |s, _| {
                    if let Some((_, x)) = &mut s.grantor.session {
                        x.revoked_at = Some(NOW);
                    }
                },
                Some((
                    InvalidGrant,
                    "the session that approved this request has ended",
                )),
            ),
            (
                "redirect_uri differs",
                |_, a| a.redirect_uri = Some("https://app.example/other".into()),
                Some((
                    InvalidGrant,
                    "redirect_uri does not match the authorization request",
                )),
            ),
            (
                "redirect_uri was given",
                |s, _| {
                    if let Some((_, c)) = &mut s.code {
                        c.redirect_uri_given = true;
                    }
                },
                Some((
                    InvalidGrant,
                    "redirect_uri does not match the authorization request",
                )),
            ),
            (
                "wrong verifier",
                |_, a| a.verifier = Some(SecretString::new("x".repeat(43))),
                Some((
                    InvalidGrant,
                    "code_verifier does not match the code challenge",
                )),
            ),
            (
                "malformed verifier",
                |_, a| a.verifier = Some(SecretString::new("short")),
                Some((InvalidRequest, "code_verifier is malformed")),
            ),
            (
                "no verifier",
                |_, a| a.verifier = None,
                Some((InvalidGrant, "code_verifier is required")),
            ),
            (
                "resource not granted",
                |_, a| a.resource = vec!["https://other.example".into()],
                Some((
                    InvalidTarget,
                    "the requested resource is not allowed for this client",
                )),
            ),
            (
                "account disabled",
                |s, _| {
                    if let Some((_, a)) = &mut s.grantor.account {
                        a.disabled = true;
                    }
                },
                Some((InvalidGrant, "the account is disabled")),
            ),
        ];
        let cfg = config();
        for (name, setup, want) in cases {
            let mut state = CodeState {
                code: Some(code_read(code())),
                replayed: None,
                grantor: grantor(),
            };
            let mut ask = Ask {
                verifier: Some(SecretString::new(VERIFIER)),
                ..Ask::default()
            };
            setup(&mut state, &mut ask);
            let req = CodeExchange {
                redirect_uri: ask.redirect_uri.as_deref(),
                verifier: ask.verifier.as_ref(),
                resource: &ask.resource,
            };
            let plan = exchange(state, req, &cfg);
            if !issued(&plan, want, name) {
                continue;
            }
            assert_eq!(
                op_ids(&plan),
                [
                    w("insert", "ofm_new", 0),
                    w("insert", "hash-rt", 0),
                    w("check", "cli_1", 3),
                    w("check", "acc_a", 5),
                    w("update", "hash-code", 7),
                    w("check", "ses_1", 2),
                ],
                "{name}"
            );
            let spent: StoredCode = written(&plan, RecordKind::AuthCode, "hash-code");
            assert_eq!(spent.used_for.as_deref(), Some("ofm_new"));
            let fam: StoredFamily = written(&plan, RecordKind::OAuthFamily, "ofm_new");
            assert_eq!(
                (fam.account_id.as_str(), fam.origin.as_str()),
                ("acc_a", "authorization_code")
            );
            assert_eq!(fam.expires_at, NOW.plus(cfg.oauth.refresh_ttl));
            let refresh: StoredOAuthRefresh = written(&plan, RecordKind::OAuthRefresh, "hash-rt");
            assert_eq!(
                (refresh.family_id.as_str(), refresh.rotated_at),
                ("ofm_new", None)
            );
            let issue = plan.output.as_ref().expect("issued");
            assert_eq!(
                (issue.claims.sub.as_str(), issue.claims.sid.as_str()),
                ("acc_a", "ofm_new")
            );
            assert_eq!(issue.claims.jti, "tok_new");
            assert_eq!(issue.claims.scope, ["read", "write"]);
            assert_eq!(
                issue.claims.roles,
                ["read"],
                "only scopes that are the account's roles"
            );
            assert_eq!(
                issue.claims.aud,
                Audience::One("https://api.example".into())
            );
            assert_eq!(issue.claims.client_id.as_deref(), Some("cli_1"));
            assert_eq!(issue.exp, NOW.plus(cfg.oauth.access_token_ttl));
            assert_eq!(
                issue.refresh_token.as_ref().map(SecretString::expose),
                Some("rt")
            );
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthTokenIssued]);
        }
    }

    #[test]
    fn code_exchange_without_refresh_grant_or_for_an_owner_scoped_client() {
        let cfg = config();
        let mut c = client_read("cli_1");
        c.1.info.grant_types.remove(&GrantType::RefreshToken);
        c.1.info.owner_scoped = true;
        let state = CodeState {
            code: Some(code_read(code())),
            replayed: None,
            grantor: grantor(),
        };
        let verifier = SecretString::new(VERIFIER);
        let req = CodeExchange {
            verifier: Some(&verifier),
            ..CodeExchange::default()
        };
        let plan = decide_code_exchange(&c, state, req, fresh(), &cfg, NOW).expect("plan");
        let issue = plan.output.as_ref().expect("issued");
        assert!(issue.refresh_token.is_none());
        assert_eq!(
            issue.scopes,
            set(&["read"]),
            "the account does not hold `write`"
        );
        assert!(!op_ids(&plan).contains(&w("insert", "hash-rt", 0)));
    }

    #[test]
    fn an_openid_code_yields_an_id_token_with_the_request_nonce() {
        let cfg = config();
        let c = client_read("cli_1");
        let verifier = SecretString::new(VERIFIER);
        let exchange = |code: StoredCode| {
            let state = CodeState {
                code: Some(code_read(code)),
                replayed: None,
                grantor: grantor(),
            };
            let req = CodeExchange {
                verifier: Some(&verifier),
                ..CodeExchange::default()
            };
            decide_code_exchange(&c, state, req, fresh(), &cfg, NOW)
                .expect("plan")
                .output
                .expect("issued")
        };
        assert!(
            exchange(code()).id_token.is_none(),
            "no openid scope, no ID token"
        );
        let mut oidc = code();
        oidc.scopes.insert("openid".into());
        oidc.nonce = Some("n-0S6_WzA2Mj".into());
        let draft = exchange(oidc).id_token.expect("an ID token");
        assert_eq!(draft.alg, crate::jose::JwsAlg::Rs256);
        let claim = |n: &str| draft.claims.get(n).cloned().unwrap_or_default();
        assert_eq!(claim("iss"), cfg.issuer.as_str());
        assert_eq!(claim("sub"), "acc_a");
        assert_eq!(claim("aud"), "cli_1");
        assert_eq!(claim("azp"), "cli_1");
        assert_eq!(claim("nonce"), "n-0S6_WzA2Mj");
        assert_eq!(claim("auth_time"), 900);
        assert_eq!(claim("iat"), NOW.as_secs());
        assert_eq!(claim("amr"), serde_json::json!(["pwd"]));
        assert_eq!(claim("acr"), crate::oidc::ACR_SINGLE_FACTOR);
        assert!(claim("exp").as_i64() > claim("iat").as_i64());
        assert!(
            draft.claims.get("email").is_none() && draft.claims.get("preferred_username").is_none(),
            "profile and email claims only with their scopes"
        );
    }

    #[test]
    fn a_replayed_code_revokes_what_it_produced() {
        let mut spent = code();
        spent.used_for = Some("ofm_old".into());
        let mut revoked = family("ofm_old", "cli_1", "acc_a");
        revoked.revoked_at = Some(Timestamp::from_secs(990));
        // (family produced, family revoked now)
        let cases = [
            (Some(family("ofm_old", "cli_1", "acc_a")), true),
            (Some(revoked), false),
            (None, false),
        ];
        for (produced, revokes) in cases {
            let state = CodeState {
                code: Some(code_read(spent.clone())),
                replayed: produced.map(|f| (record_of(&f, 4), f)),
                grantor: Grantor::default(),
            };
            let plan = exchange(state, CodeExchange::default(), &config());
            assert_eq!(
                refusal(&plan),
                Some((OAuthErrorCode::InvalidGrant, "the code was already used"))
            );
            let want = if revokes {
                vec![w("update", "ofm_old", 4)]
            } else {
                vec![]
            };
            assert_eq!(op_ids(&plan), want);
            assert_eq!(plan.commit.revocations.len(), usize::from(revokes));
            if revokes {
                let f: StoredFamily = written(&plan, RecordKind::OAuthFamily, "ofm_old");
                assert_eq!(f.revoked_at, Some(NOW));
            }
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthCodeReplayDetected]);
            assert_eq!(plan.commit.audit[0].session.as_deref(), Some("ofm_old"));
        }
    }

    fn refresh_state() -> RefreshState {
        let token = StoredOAuthRefresh {
            family_id: "ofm_1".into(),
            client_id: "cli_1".into(),
            issued_at: Timestamp::from_secs(950),
            rotated_at: None,
        };
        let record = Record {
            kind: RecordKind::OAuthRefresh,
            id: "hash-old".into(),
            version: 1,
            parent: Some("ofm_1".into()),
            lookup: None,
            expires_at: None,
            body: crate::record_body::to_body(&token).expect("body"),
        };
        let mut f = family("ofm_1", "cli_1", "acc_a");
        f.scopes = set(&["read", "write"]);
        RefreshState {
            token: Some((record, token)),
            family: Some((record_of(&f, 6), f)),
            account: Some(account_read("acc_a")),
            delegation_cutoff: None,
        }
    }

    /// A refresh case: how it differs from a valid rotation, and its refusal.
    type RefreshCase = (
        &'static str,
        fn(&mut RefreshState, &mut (Option<&'static str>, Vec<String>)),
        Option<(OAuthErrorCode, &'static str)>,
    );

    #[test]
    fn refresh_rotates_within_a_live_family() {
        use OAuthErrorCode::{InvalidGrant, InvalidScope, InvalidTarget};
        let cases: [RefreshCase; 12] = [
            ("valid", |_, _| {}, None),
            ("narrower scope", |_, a| a.0 = Some("read"), None),
            (
                "unknown token",
                |s, _| s.token = None,
                Some((InvalidGrant, "the refresh token is invalid")),
            ),
            (
                "other client",
                |s, _| {
                    if let Some((_, t)) = &mut s.token {
                        t.client_id = "cli_2".into();
                    }
                },
                Some((
                    InvalidGrant,
                    "the refresh token was issued to another client",
                )),
            ),
            (
                "family gone",
                |s, _| s.family = None,
                Some((InvalidGrant, "the refresh token is invalid")),
            ),
            (
                "family revoked",
                |s, _| {
                    if let Some((_, f)) = &mut s.family {
                        f.revoked_at = Some(NOW);
                    }
                },
                Some((InvalidGrant, "the grant is revoked or expired")),
            ),
            (
                "family expired",
                |s, _| {
                    if let Some((_, f)) = &mut s.family {
                        f.expires_at = NOW;
                    }
                },
                Some((InvalidGrant, "the grant is revoked or expired")),
            ),
            (
                "delegation withdrawn",
                |s, _| s.delegation_cutoff = Some(Timestamp::from_secs(1_000)),
                Some((InvalidGrant, "the account has withdrawn this grant")),
            ),
            (
                "scope widened",
                |_, a| a.0 = Some("read admin"),
                Some((InvalidScope, "the requested scope exceeds what is allowed")),
            ),
            (
                "resource not granted",
                |_, a| a.1 = vec!["https://other.example".into()],
                Some((
                    InvalidTarget,
                    "the requested resource is not allowed for this client",
                )),
            ),
            (
                "account disabled",
                |s, _| {
                    if let Some((_, a)) = &mut s.account {
                        a.disabled = true;
                    }
                },
                Some((InvalidGrant, "the account is disabled")),
            ),
            (
                "account gone",
                |s, _| s.account = None,
                Some((InvalidGrant, "the account no longer exists")),
            ),
        ];
        let cfg = config();
        for (name, setup, want) in cases {
            let mut state = refresh_state();
            let mut ask = (None, vec![]);
            setup(&mut state, &mut ask);
            let scope = ask.0;
            let req = RefreshAsk {
                scope,
                resource: &ask.1,
            };
            let plan = refresh(state, req, &cfg);
            if !issued(&plan, want, name) {
                continue;
            }
            assert_eq!(
                op_ids(&plan),
                [
                    w("update", "hash-old", 1),
                    w("insert", "hash-rt", 0),
                    w("update", "ofm_1", 6),
                    w("check", "cli_1", 3),
                    w("check", "acc_a", 5),
                ],
                "{name}"
            );
            let old: StoredOAuthRefresh = written(&plan, RecordKind::OAuthRefresh, "hash-old");
            assert_eq!(old.rotated_at, Some(NOW));
            let next: StoredOAuthRefresh = written(&plan, RecordKind::OAuthRefresh, "hash-rt");
            assert_eq!((next.family_id.as_str(), next.issued_at), ("ofm_1", NOW));
            let issue = plan.output.as_ref().expect("issued");
            let want_scopes = if scope.is_some() {
                set(&["read"])
            } else {
                set(&["read", "write"])
            };
            assert_eq!(issue.scopes, want_scopes, "{name}");
            assert_eq!(issue.claims.sid, "ofm_1", "the family is kept");
            assert_eq!(
                issue.claims.auth_time,
                Timestamp::from_secs(900).to_rfc3339()
            );
            assert_eq!(
                issue.refresh_token.as_ref().map(SecretString::expose),
                Some("rt")
            );
            assert!(plan.commit.revocations.is_empty());
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthTokenIssued]);
        }
    }

    #[test]
    fn access_tokens_never_outlive_their_family() {
        let mut state = refresh_state();
        if let Some((_, f)) = &mut state.family {
            f.expires_at = NOW.plus(std::time::Duration::from_secs(60));
        }
        let plan = refresh(state, RefreshAsk::default(), &config());
        assert_eq!(
            plan.output.as_ref().expect("issued").exp,
            NOW.plus(std::time::Duration::from_secs(60))
        );
    }

    #[test]
    fn refresh_token_reuse_revokes_the_family() {
        // (family already revoked, revocations)
        for (already_revoked, revokes) in [(false, true), (true, false)] {
            let mut state = refresh_state();
            if let Some((_, t)) = &mut state.token {
                t.rotated_at = Some(Timestamp::from_secs(990));
            }
            if let Some((_, f)) = &mut state.family {
                f.revoked_at = already_revoked.then_some(Timestamp::from_secs(995));
            }
            let plan = refresh(state, RefreshAsk::default(), &config());
            assert_eq!(
                refusal(&plan),
                Some((
                    OAuthErrorCode::InvalidGrant,
                    "the refresh token was already used; its grant is revoked"
                ))
            );
            let want = if revokes {
                vec![w("update", "ofm_1", 6)]
            } else {
                vec![]
            };
            assert_eq!(op_ids(&plan), want);
            assert_eq!(
                plan.commit.revocations,
                if revokes {
                    let mut f = family("ofm_1", "cli_1", "acc_a");
                    f.revoked_at = Some(NOW);
                    vec![super::super::family_revocation(&f)]
                } else {
                    Vec::<RevocationChange>::new()
                }
            );
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthRefreshReuseDetected]);
            assert_eq!(plan.commit.audit[0].account.as_deref(), Some("acc_a"));
        }
    }

    /// A client-credentials case: the client's setup, the owner's, the requested scope, and
    /// the scopes granted or the refusal.
    type CredentialsCase = (
        &'static str,
        fn(&mut StoredClient),
        fn(&mut Option<(Record, StoredAccount)>),
        Option<&'static str>,
        Answer<&'static [&'static str]>,
    );

    #[test]
    fn client_credentials_follow_the_client_and_its_owner() {
        use OAuthErrorCode::{InvalidScope, UnauthorizedClient};
        let acting = |c: &mut StoredClient| {
            c.info.acts_for_owner = true;
        };
        let cases: [CredentialsCase; 9] = [
            ("all scopes", |_| {}, |_| {}, None, Ok(&["read", "write"])),
            ("one scope", |_| {}, |_| {}, Some("write"), Ok(&["write"])),
            (
                "public client",
                |c| c.info.kind = ClientKind::Public,
                |_| {},
                None,
                Err(OAuthError::code(UnauthorizedClient)),
            ),
            (
                "scope not allowed",
                |_| {},
                |_| {},
                Some("admin"),
                Err(OAuthError::new(
                    InvalidScope,
                    "the requested scope exceeds what is allowed",
                )),
            ),
            (
                "acting: held scopes only",
                acting,
                |_| {},
                None,
                Ok(&["read"]),
            ),
            (
                "acting: unheld scope asked",
                acting,
                |_| {},
                Some("write"),
                Err(OAuthError::new(
                    InvalidScope,
                    "the account this client acts for does not hold the requested scope",
                )),
            ),
            (
                "acting: admin owner",
                acting,
                |o| {
                    if let Some((_, a)) = o {
                        a.roles.insert(ADMIN_ROLE.into());
                    }
                },
                Some("write"),
                Ok(&["write"]),
            ),
            (
                "acting: owner disabled",
                acting,
                |o| {
                    if let Some((_, a)) = o {
                        a.disabled = true;
                    }
                },
                None,
                Err(OAuthError::new(
                    UnauthorizedClient,
                    "the account this client acts for cannot receive tokens",
                )),
            ),
            (
                "acting: no owner",
                |c| {
                    c.info.acts_for_owner = true;
                    c.info.owner = None;
                },
                |_| {},
                None,
                Err(OAuthError::code(UnauthorizedClient)),
            ),
        ];
        let cfg = config();
        for (name, client_setup, owner_setup, scope, want) in cases {
            let mut c = client_read("cli_1");
            client_setup(&mut c.1);
            let mut owner = Some(account_read("acc_owner"));
            owner_setup(&mut owner);
            let acting = c.1.info.acts_for_owner;
            let ids = GrantIds {
                grant_id: "occ_1".into(),
                token_id: "tok_1".into(),
            };
            let plan = decide_client_credentials(&c, owner, (scope, &[]), ids, &cfg, NOW);
            let want_scopes = match want {
                Err(e) => {
                    assert_eq!(plan.output.as_ref().err(), Some(&e), "{name}");
                    assert_eq!(plan.commit, Commit::default(), "{name}");
                    continue;
                }
                Ok(s) => set(s),
            };
            let issue = plan.output.as_ref().expect("issued");
            assert_eq!(issue.scopes, want_scopes, "{name}");
            assert_eq!(
                (issue.claims.sub.as_str(), issue.claims.sid.as_str()),
                ("cli_1", "occ_1")
            );
            assert_eq!(issue.claims.kind, AccountKind::System);
            assert_eq!(issue.claims.cred, Some(CredentialKind::ClientCredentials));
            assert!(issue.refresh_token.is_none());
            assert_eq!(issue.exp, NOW.plus(cfg.oauth.access_token_ttl));
            let mut want_writes = vec![w("check", "cli_1", 3)];
            if acting {
                want_writes.push(w("check", "acc_owner", 5));
                assert_eq!(
                    issue.claims.act,
                    Some(Actor {
                        sub: "acc_owner".into()
                    }),
                    "{name}"
                );
                let roles: BTreeSet<String> = issue.claims.roles.iter().cloned().collect();
                assert!(roles.is_subset(&want_scopes));
            } else {
                assert_eq!(issue.claims.act, None);
                assert!(issue.claims.roles.is_empty());
            }
            assert_eq!(op_ids(&plan), want_writes, "{name}");
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthTokenIssued]);
            assert_eq!(
                plan.commit.audit[0].account.as_deref(),
                acting.then_some("acc_owner")
            );
        }
    }

    fn device(status: DeviceStatus, last_poll: Option<i64>) -> (Record, StoredDevice) {
        let d = StoredDevice {
            client_id: "cli_1".into(),
            user_code: "BCDFGHJK".into(),
            scopes: set(&["read"]),
            resources: set(&[]),
            created_at: Timestamp::from_secs(900),
            expires_at: Timestamp::from_secs(1_500),
            interval_secs: 5,
            last_poll: last_poll.map(Timestamp::from_secs),
            status,
        };
        let record = Record {
            kind: RecordKind::DeviceCode,
            id: "hash-dev".into(),
            version: 9,
            parent: Some("cli_1".into()),
            lookup: Some("BCDFGHJK".into()),
            expires_at: None,
            body: crate::record_body::to_body(&d).expect("body"),
        };
        (record, d)
    }

    fn approved() -> DeviceStatus {
        DeviceStatus::Approved(DeviceApproval {
            account_id: "acc_a".into(),
            session_id: "ses_1".into(),
            auth_time: Timestamp::from_secs(900),
            amr: vec!["pwd".into()],
        })
    }

    #[test]
    fn device_polls_wait_refuse_or_issue() {
        use OAuthErrorCode::{
            AccessDenied, AuthorizationPending, ExpiredToken, InvalidGrant, SlowDown,
        };
        let mut other = device(DeviceStatus::Pending, None);
        other.1.client_id = "cli_2".into();
        let mut expired = device(approved(), None);
        expired.1.expires_at = NOW;
        let issued = DeviceStatus::Issued {
            family_id: "ofm_1".into(),
        };
        let mut dead_session = grantor();
        if let Some((_, s)) = &mut dead_session.session {
            s.revoked_at = Some(NOW);
        }
        let mut disabled = grantor();
        if let Some((_, a)) = &mut disabled.account {
            a.disabled = true;
        }
        // (case, device, grantor, refusal, device saved)
        let cases = [
            ("unknown", None, grantor(), Some(InvalidGrant), false),
            (
                "other client",
                Some(other),
                grantor(),
                Some(InvalidGrant),
                false,
            ),
            (
                "pending",
                Some(device(DeviceStatus::Pending, None)),
                grantor(),
                Some(AuthorizationPending),
                true,
            ),
            (
                "too fast",
                Some(device(DeviceStatus::Pending, Some(998))),
                grantor(),
                Some(SlowDown),
                true,
            ),
            (
                "denied",
                Some(device(DeviceStatus::Denied, None)),
                grantor(),
                Some(AccessDenied),
                false,
            ),
            (
                "expired",
                Some(expired),
                grantor(),
                Some(ExpiredToken),
                false,
            ),
            (
                "spent",
                Some(device(issued, None)),
                grantor(),
                Some(InvalidGrant),
                false,
            ),
            (
                "session ended",
                Some(device(approved(), None)),
                dead_session,
                Some(AccessDenied),
                false,
            ),
            (
                "account disabled",
                Some(device(approved(), None)),
                disabled,
                Some(InvalidGrant),
                false,
            ),
            (
                "approved",
                Some(device(approved(), None)),
                grantor(),
                None,
                true,
            ),
        ];
        let cfg = config();
        for (name, d, g, want, saved) in cases {
            let plan =
                decide_device_poll(&client_read("cli_1"), d, g, fresh(), &cfg, NOW).expect("plan");
            assert_eq!(refusal(&plan).map(|(c, _)| c), want, "{name}");
            if !saved {
                assert_eq!(plan.commit, Commit::default(), "{name}");
                continue;
            }
            let stored: StoredDevice = written(&plan, RecordKind::DeviceCode, "hash-dev");
            assert_eq!(stored.last_poll.is_some(), want.is_some(), "{name}");
            if want == Some(SlowDown) {
                assert_eq!(stored.interval_secs, 10);
            }
            if want.is_some() {
                assert_eq!(op_ids(&plan), [w("update", "hash-dev", 9)], "{name}");
                assert!(plan.commit.audit.is_empty());
                continue;
            }
            assert_eq!(
                stored.status,
                DeviceStatus::Issued {
                    family_id: "ofm_new".into()
                }
            );
            assert_eq!(
                op_ids(&plan),
                [
                    w("insert", "ofm_new", 0),
                    w("insert", "hash-rt", 0),
                    w("check", "cli_1", 3),
                    w("check", "acc_a", 5),
                    w("update", "hash-dev", 9),
                    w("check", "ses_1", 2),
                ]
            );
            let fam: StoredFamily = written(&plan, RecordKind::OAuthFamily, "ofm_new");
            assert_eq!(fam.origin, GrantType::DeviceCode.as_str());
            let issue = plan.output.as_ref().expect("issued");
            assert_eq!(issue.claims.sub, "acc_a");
            assert_eq!(issue.claims.aud, Audience::One(cfg.audience.clone()));
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthTokenIssued]);
        }
    }
}
