//! Token rules as pure functions (see [`crate::plan`]): no store, no clock, no runtime.

use std::time::Duration;

use crate::account::account_record;
use crate::account::{validate_role, AccountKind, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::{Action, CredentialKind, ADMIN_ROLE, MANAGEMENT_SCOPE};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::error::{Denial, Error, InvalidInput, Missing, Result};
use crate::plan::Plan;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::store::{Record, RecordKind, Write};
use crate::token::access::AccessClaims;
use crate::token::keys::StoredKey;
use crate::token::ApiTokenInfo;
use crate::token::StoredServiceGrant;
use crate::token::{Amr, Principal};

/// A read precondition: the commit fails (and the operation is retried) unless `record` is
/// still as it was read. For decisions that depend on a record they do not write.
pub(crate) fn unchanged(record: &Record) -> Write {
    Write::Check {
        kind: record.kind,
        id: record.id.clone(),
        expected_version: record.version,
    }
}

/// Rotation of the signing keys: every key still signing (`retired_at` unset) retires at
/// `now`, and `new_key` (a freshly generated key record) becomes the active one. The output is
/// the new key id.
pub(crate) fn rotate_signing_key(
    keys: Vec<(Record, StoredKey)>,
    new_key: Record,
    actor: Option<&str>,
    now: Timestamp,
) -> Result<Plan<String>> {
    let kid = new_key.id.clone();
    let mut plan = Plan::new(kid.clone());
    for (record, mut key) in keys {
        if key.retired_at.is_none() {
            key.retired_at = Some(now);
            let body = crate::record_body::to_body(&key)?;
            plan = plan.write(Write::Update {
                expected_version: record.version,
                record: Record { body, ..record },
            });
        }
    }
    Ok(plan.write(Write::Insert(new_key)).audit(
        AuditDraft::new(AuditKind::SigningKeyRotated, now)
            .actor(actor)
            .detail("kid", kid),
    ))
}

/// What an owner asks for in a new personal API token.
pub(crate) struct ApiTokenRequest<'a> {
    /// The owner's label for it.
    pub label: &'a str,
    /// The scopes asked for (roles the owner holds, or [`MANAGEMENT_SCOPE`] for admins).
    pub scopes: &'a [String],
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// What the load step generated for a new API token: its public id and the keyed hash of
/// its secret (the record id).
pub(crate) struct FreshApiToken {
    /// The public id (`pat_…`).
    pub id: String,
    /// The keyed hash of the secret.
    pub secret_hash: String,
}

/// Creation of a personal API token for `owner` (as loaded; `None` when the account is gone).
/// The label must be 1 to 128 characters, the expiry in the future and within `max_ttl`, and
/// every scope a role the owner holds (the management scope: the owner is an admin). The
/// token depends on the owner's roles, so the plan checks the account is unchanged.
pub(crate) fn create_api_token(
    owner: Option<&(Record, StoredAccount)>,
    request: &ApiTokenRequest<'_>,
    fresh: FreshApiToken,
    max_ttl: Duration,
    now: Timestamp,
) -> Result<Plan<ApiTokenInfo>> {
    let label = request.label;
    if label.trim().is_empty() || label.chars().count() > 128 {
        return Err(InvalidInput::Label("a token label").into());
    }
    if request.expires_at <= now {
        return Err(InvalidInput::ExpiryInPast.into());
    }
    if now.until(request.expires_at) > max_ttl {
        return Err(InvalidInput::DurationTooLong {
            max_secs: max_ttl.as_secs(),
        }
        .into());
    }
    let (record, account) = owner.ok_or(Error::NotFound(Missing::Account))?;
    for s in request.scopes {
        validate_role(s)?;
        let needed = if s == MANAGEMENT_SCOPE { ADMIN_ROLE } else { s };
        if !account.roles.contains(needed) {
            return Err(Denial::MissingRole(needed.to_owned()).into());
        }
    }
    let mut scopes = request.scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let info = ApiTokenInfo {
        id: fresh.id,
        account_id: account.id.clone(),
        label: label.to_owned(),
        scopes,
        created_at: now,
        expires_at: request.expires_at,
        revoked_at: None,
    };
    let audit = AuditDraft::new(AuditKind::ApiTokenCreated, now)
        .actor(Some(&account.id))
        .account(&account.id)
        .detail("token_id", info.id.clone())
        .detail("scopes", info.scopes.join(","));
    Ok(Plan::new(info.clone())
        .write(unchanged(record))
        .write(Write::Insert(api_token_record(fresh.secret_hash, &info)?))
        .audit(audit))
}

/// Revocation of the API tokens `tokens` (records as loaded) by `actor` at `now`: each one
/// not yet revoked gets `revoked_at` and an audit event. The output is how many were revoked;
/// with none the plan is empty.
pub(crate) fn revoke_api_tokens(
    tokens: Vec<(Record, ApiTokenInfo)>,
    actor: Option<&str>,
    now: Timestamp,
) -> Result<Plan<usize>> {
    let mut plan = Plan::new(0);
    for (record, mut info) in tokens {
        if info.revoked_at.is_some() {
            continue;
        }
        info.revoked_at = Some(now);
        plan = plan
            .write(Write::Update {
                record: api_token_record(record.id, &info)?,
                expected_version: record.version,
            })
            .audit(
                AuditDraft::new(AuditKind::ApiTokenRevoked, now)
                    .actor(actor)
                    .account(&info.account_id)
                    .detail("token_id", info.id),
            );
        plan.output += 1;
    }
    Ok(plan)
}

/// The principal an API token stands for at `now`, given its record and its owner's account
/// (`None` when the account is gone): live tokens of enabled accounts only, and its scopes cut
/// down to what the owner still holds.
pub(crate) fn verify_api_token(
    info: ApiTokenInfo,
    owner: Option<StoredAccount>,
    audience: &str,
    now: Timestamp,
) -> std::result::Result<Principal, Denial> {
    if info.revoked_at.is_some() {
        return Err(Denial::TokenRevoked);
    }
    if now >= info.expires_at {
        return Err(Denial::TokenExpired);
    }
    let account = owner.ok_or(Denial::ApiTokenInvalid)?;
    if account.disabled {
        return Err(Denial::AccountDisabled);
    }
    let held = |s: &String| {
        account.roles.contains(s) || (s == MANAGEMENT_SCOPE && account.roles.contains(ADMIN_ROLE))
    };
    let scopes: Vec<String> = info.scopes.into_iter().filter(held).collect();
    let roles = scopes
        .iter()
        .filter(|s| account.roles.contains(*s))
        .cloned()
        .collect();
    Ok(Principal {
        credential: CredentialKind::ApiToken,
        account_id: account.id,
        session_id: info.id.clone(),
        token_id: info.id,
        kind: account.kind,
        roles,
        issued_at: info.created_at,
        expires_at: info.expires_at,
        auth_time: info.created_at,
        amr: vec![Amr::ApiToken.into()],
        scopes,
        org: None,
        elevated_roles: vec![],
        elevated_until: None,
        client_id: None,
        actor: None,
        resources: vec![],
        audience: vec![audience.to_owned()],
    })
}

/// The record of an API token: id the keyed hash of its secret, lookup its public id.
pub(crate) fn api_token_record(hash: String, info: &ApiTokenInfo) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::ApiToken,
        id: hash,
        version: 0,
        parent: Some(info.account_id.clone()),
        lookup: Some(info.id.clone()),
        expires_at: Some(info.expires_at),
        body: crate::record_body::to_body(info)?,
    })
}

/// Who asks for a new service-account token.
#[derive(Clone, Copy)]
pub(crate) enum GrantRequest<'a> {
    /// An admin, or a holder of the role named like the account, issues one.
    Issue(&'a Principal),
    /// The holder of the account's current token renews it.
    Renew(&'a Principal),
}

/// What the load step generated for a new service grant: its id and its token's `jti`.
pub(crate) struct FreshGrant {
    /// The grant id (`svc_…`), the token's `sid`.
    pub grant_id: String,
    /// The token id (`tok_…`).
    pub token_id: String,
}

/// A decided service grant: the claims to sign and what the caller is told.
pub(crate) struct IssuedGrant {
    /// The access-token claims, unsigned.
    pub claims: AccessClaims,
    /// The new grant id.
    pub grant_id: String,
    /// When the token expires.
    pub expires_at: Timestamp,
}

/// A new token for the service account `account` (as loaded), replacing its previous grant,
/// which is revoked at once. Issuing needs a system account and the [`Action::IssueServiceToken`]
/// permission; renewing needs the presented token to be the account's current one. A disabled
/// account gets none.
pub(crate) fn issue_service_token(
    account: (Record, StoredAccount),
    request: GrantRequest<'_>,
    fresh: FreshGrant,
    config: &Config,
    now: Timestamp,
) -> Result<Plan<IssuedGrant>> {
    let (record, mut sa) = account;
    let actor = match request {
        GrantRequest::Issue(actor) => {
            if sa.kind != AccountKind::System {
                return Err(
                    InvalidInput::AccountKind("service tokens are for system accounts").into(),
                );
            }
            crate::authz::authorize(
                actor,
                Action::IssueServiceToken {
                    service_role: &sa.username,
                },
                now,
                config.recent_authentication,
            )?;
            actor
        }
        GrantRequest::Renew(holder) => {
            if sa.service_grant.as_deref() != Some(holder.session_id.as_str()) {
                return Err(Denial::TokenRevoked.into());
            }
            holder
        }
    };
    if sa.disabled {
        return Err(Denial::AccountDisabled.into());
    }
    let ttl = config.service_token_ttl;
    let exp = now.plus(ttl);
    let FreshGrant { grant_id, token_id } = fresh;
    let old = sa.service_grant.replace(grant_id.clone());
    let grant = StoredServiceGrant {
        account_id: sa.id.clone(),
        created_at: now,
        expires_at: exp,
        issued_by: actor.account_id.clone(),
    };
    let mut claims = AccessClaims::base(
        config,
        &sa.id,
        &grant_id,
        token_id,
        sa.kind,
        CredentialKind::ServiceToken,
        now,
        exp,
    );
    claims.roles = sa.roles.iter().cloned().collect();
    claims.amr = vec![Amr::ServiceToken.into()];
    let mut audit = AuditDraft::new(AuditKind::ServiceTokenIssued, now)
        .actor(Some(&actor.account_id))
        .account(&sa.id)
        .session(&grant_id);
    let mut plan = Plan::new(())
        .write(Write::Update {
            record: account_record(&sa)?,
            expected_version: record.version,
        })
        .write(Write::Insert(Record {
            kind: RecordKind::ServiceGrant,
            id: grant_id.clone(),
            version: 0,
            parent: Some(sa.id.clone()),
            lookup: None,
            expires_at: Some(exp),
            body: crate::record_body::to_body(&grant)?,
        }));
    if let Some(old) = old {
        plan = plan.revoke(grant_revocation(&old, ttl, now));
        audit = audit.detail("replaces", old);
    }
    Ok(plan.audit(audit).map(|()| IssuedGrant {
        claims,
        grant_id,
        expires_at: exp,
    }))
}

/// Revocation of the service account's current token by `actor`; nothing when it has none.
pub(crate) fn revoke_service_token(
    account: (Record, StoredAccount),
    actor: &str,
    ttl: Duration,
    now: Timestamp,
) -> Result<Plan<()>> {
    let (record, mut sa) = account;
    let Some(old) = sa.service_grant.take() else {
        return Ok(Plan::new(()));
    };
    Ok(Plan::new(())
        .write(Write::Update {
            record: account_record(&sa)?,
            expected_version: record.version,
        })
        .revoke(grant_revocation(&old, ttl, now))
        .audit(
            AuditDraft::new(AuditKind::ServiceTokenRevoked, now)
                .actor(Some(actor))
                .account(&sa.id)
                .session(&old),
        ))
}

/// A revocation of a service grant that lasts as long as a token of it could (`ttl`).
fn grant_revocation(grant_id: &str, ttl: Duration, now: Timestamp) -> RevocationChange {
    RevocationChange::Put(Revocation {
        subject: RevokedSubject::Grant,
        id: grant_id.to_owned(),
        issued_before: Timestamp::MAX,
        until: now.plus(ttl),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixtures::{self, NOW};

    fn debug<T>(r: &Result<T>) -> String {
        match r {
            Ok(_) => "Ok".to_owned(),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn unchanged_checks_the_record_at_the_version_read() {
        let (record, _) = fixtures::account("acc_1", AccountKind::Human, &[]);
        assert_eq!(
            unchanged(&record),
            Write::Check {
                kind: RecordKind::Account,
                id: "acc_1".into(),
                expected_version: 4,
            }
        );
    }

    /// Label, scopes asked for, owner roles (`None`: no account), expiry after now, and the
    /// expected outcome: the stored scopes, or the error's debug form.
    type CreateCase<'a> = (
        &'a str,
        &'a [&'a str],
        Option<&'a [&'a str]>,
        Duration,
        std::result::Result<&'a [&'a str], &'a str>,
    );

    #[test]
    fn api_token_creation_validates_and_inserts_the_hashed_token() {
        const DAY: Duration = Duration::from_secs(24 * 3600);
        let max = 10 * DAY;
        let long = "x".repeat(129);
        let cases: [CreateCase<'_>; 11] = [
            (
                "ci",
                &["b", "a", "b"],
                Some(&["a", "b"]),
                DAY,
                Ok(&["a", "b"]),
            ),
            ("ci", &[], Some(&[]), max, Ok(&[])),
            (
                "ci",
                &["iam:manage"],
                Some(&["admin"]),
                DAY,
                Ok(&["iam:manage"]),
            ),
            (
                "ci",
                &["iam:manage"],
                Some(&["ops"]),
                DAY,
                Err("Denied(MissingRole(\"admin\"))"),
            ),
            (
                "ci",
                &["ops"],
                Some(&["dev"]),
                DAY,
                Err("Denied(MissingRole(\"ops\"))"),
            ),
            (
                "ci",
                &["Bad Role"],
                Some(&["dev"]),
                DAY,
                Err("Invalid(RoleName(\"Bad Role\"))"),
            ),
            (
                " ",
                &[],
                Some(&[]),
                DAY,
                Err("Invalid(Label(\"a token label\"))"),
            ),
            (
                &long,
                &[],
                Some(&[]),
                DAY,
                Err("Invalid(Label(\"a token label\"))"),
            ),
            (
                "ci",
                &[],
                Some(&[]),
                Duration::ZERO,
                Err("Invalid(ExpiryInPast)"),
            ),
            (
                "ci",
                &[],
                Some(&[]),
                max + Duration::from_millis(1),
                Err("Invalid(DurationTooLong { max_secs: 864000 })"),
            ),
            ("ci", &[], None, DAY, Err("NotFound(Account)")),
        ];
        for (label, asked, roles, ttl, expected) in cases {
            let owner = roles.map(|r| fixtures::account("acc_1", AccountKind::Human, r));
            let scopes: Vec<String> = asked.iter().map(|s| (*s).to_owned()).collect();
            let request = ApiTokenRequest {
                label,
                scopes: &scopes,
                expires_at: NOW.plus(ttl),
            };
            let fresh = FreshApiToken {
                id: "pat_1".into(),
                secret_hash: "hash_1".into(),
            };
            let result = create_api_token(owner.as_ref(), &request, fresh, max, NOW);
            let (plan, stored) = match (result, expected) {
                (Ok(plan), Ok(stored)) => {
                    assert_eq!(plan.output.scopes, stored, "{label} {asked:?}");
                    (plan, stored)
                }
                (result, expected) => {
                    assert_eq!(
                        Err(debug(&result)),
                        expected.map(|_| ()).map_err(str::to_owned),
                        "{asked:?}"
                    );
                    continue;
                }
            };
            let (account_record, _) = owner.expect("owner");
            let info = &plan.output;
            assert_eq!(
                (
                    info.id.as_str(),
                    info.account_id.as_str(),
                    info.label.as_str()
                ),
                ("pat_1", "acc_1", "ci")
            );
            assert_eq!((info.created_at, info.expires_at), (NOW, NOW.plus(ttl)));
            assert_eq!(info.revoked_at, None);
            assert_eq!(
                plan.commit.writes,
                vec![
                    unchanged(&account_record),
                    Write::Insert(Record {
                        kind: RecordKind::ApiToken,
                        id: "hash_1".into(),
                        version: 0,
                        parent: Some("acc_1".into()),
                        lookup: Some("pat_1".into()),
                        expires_at: Some(NOW.plus(ttl)),
                        body: crate::record_body::to_body(info).expect("body"),
                    }),
                ]
            );
            let audit = AuditDraft::new(AuditKind::ApiTokenCreated, NOW)
                .actor(Some("acc_1"))
                .account("acc_1")
                .detail("token_id", "pat_1")
                .detail("scopes", stored.join(","));
            assert_eq!(plan.commit.audit, [audit]);
            assert!(plan.commit.revocations.is_empty() && plan.commit.throttle.is_empty());
        }
    }

    fn token(id: &str, version: u64, revoked_at: Option<Timestamp>) -> (Record, ApiTokenInfo) {
        let info = ApiTokenInfo {
            id: id.to_owned(),
            account_id: "acc_1".into(),
            label: "ci".into(),
            scopes: vec!["dev".into(), MANAGEMENT_SCOPE.into()],
            created_at: Timestamp::from_millis(5_000),
            expires_at: NOW.plus(Duration::from_secs(60)),
            revoked_at,
        };
        let record = api_token_record(format!("hash-{id}"), &info).expect("record");
        (Record { version, ..record }, info)
    }

    /// Tokens (id, version, revoked), and the ids revoked now.
    type RevokeCase<'a> = (&'a [(&'a str, u64, Option<Timestamp>)], &'a [&'a str]);

    #[test]
    fn api_token_revocation_marks_only_live_tokens() {
        let earlier = Some(Timestamp::from_millis(9_000));
        let cases: [RevokeCase<'_>; 4] = [
            (&[], &[]),
            (&[("pat_a", 2, None)], &["pat_a"]),
            (&[("pat_a", 2, earlier)], &[]),
            (
                &[
                    ("pat_a", 2, None),
                    ("pat_b", 5, earlier),
                    ("pat_c", 7, None),
                ],
                &["pat_a", "pat_c"],
            ),
        ];
        for (tokens, revoked) in cases {
            let loaded: Vec<_> = tokens
                .iter()
                .map(|(id, v, at)| token(id, *v, *at))
                .collect();
            let plan = revoke_api_tokens(loaded.clone(), Some("acc_admin"), NOW).expect("plan");
            assert_eq!(plan.output, revoked.len());
            let expected: Vec<Write> = loaded
                .iter()
                .filter(|(_, info)| revoked.contains(&info.id.as_str()))
                .map(|(record, info)| {
                    let info = ApiTokenInfo {
                        revoked_at: Some(NOW),
                        ..info.clone()
                    };
                    Write::Update {
                        record: Record {
                            version: 0,
                            body: crate::record_body::to_body(&info).expect("body"),
                            ..record.clone()
                        },
                        expected_version: record.version,
                    }
                })
                .collect();
            assert_eq!(plan.commit.writes, expected);
            let audit: Vec<AuditDraft> = revoked
                .iter()
                .map(|id| {
                    AuditDraft::new(AuditKind::ApiTokenRevoked, NOW)
                        .actor(Some("acc_admin"))
                        .account("acc_1")
                        .detail("token_id", *id)
                })
                .collect();
            assert_eq!(plan.commit.audit, audit);
        }
    }

    /// Token revoked, token expiry after now, owner (roles, disabled; `None`: gone), and the
    /// expected scopes and roles, or the denial.
    type VerifyCase<'a> = (
        bool,
        i64,
        Option<(&'a [&'a str], bool)>,
        std::result::Result<(&'a [&'a str], &'a [&'a str]), Denial>,
    );

    #[test]
    fn api_token_verification_needs_a_live_token_and_an_enabled_owner() {
        let cases: [VerifyCase<'_>; 8] = [
            (
                false,
                1,
                Some((&["dev", "admin"], false)),
                Ok((&["dev", "iam:manage"], &["dev"])),
            ),
            (false, 1, Some((&["dev"], false)), Ok((&["dev"], &["dev"]))),
            (false, 1, Some((&["ops"], false)), Ok((&[], &[]))),
            (false, 0, Some((&["dev"], false)), Err(Denial::TokenExpired)),
            (true, 1, Some((&["dev"], false)), Err(Denial::TokenRevoked)),
            (true, 0, None, Err(Denial::TokenRevoked)),
            (false, 1, None, Err(Denial::ApiTokenInvalid)),
            (
                false,
                1,
                Some((&["dev"], true)),
                Err(Denial::AccountDisabled),
            ),
        ];
        for (revoked, expires_in, owner, expected) in cases {
            let (_, mut info) = token("pat_1", 1, revoked.then_some(NOW));
            info.expires_at = NOW.plus(Duration::from_millis(expires_in.unsigned_abs()));
            let owner = owner.map(|(roles, disabled)| {
                let (_, mut a) = fixtures::account("acc_1", AccountKind::Human, roles);
                a.disabled = disabled;
                a
            });
            let result = verify_api_token(info.clone(), owner, "aud", NOW);
            let p = match (result, expected) {
                (Ok(p), Ok((scopes, roles))) => {
                    assert_eq!(p.scopes, scopes);
                    assert_eq!(p.roles, roles);
                    p
                }
                (result, expected) => {
                    assert_eq!(result.map(|_| ()), expected.map(|_| ()));
                    continue;
                }
            };
            assert_eq!(p.credential, CredentialKind::ApiToken);
            assert_eq!(p.account_id, "acc_1");
            assert_eq!(
                (p.session_id.as_str(), p.token_id.as_str()),
                ("pat_1", "pat_1")
            );
            assert_eq!(
                (p.issued_at, p.auth_time),
                (info.created_at, info.created_at)
            );
            assert_eq!(p.expires_at, info.expires_at);
            assert_eq!(p.amr, ["api_token"]);
            assert_eq!(p.audience, ["aud"]);
            assert_eq!(p.org, None);
        }
    }

    fn service_account(grant: Option<&str>, disabled: bool) -> (Record, StoredAccount) {
        let (record, mut sa) = fixtures::account("acc_svc", AccountKind::System, &["db"]);
        sa.service_grant = grant.map(str::to_owned);
        sa.disabled = disabled;
        (record, sa)
    }

    fn fresh() -> FreshGrant {
        FreshGrant {
            grant_id: "svc_new".into(),
            token_id: "tok_new".into(),
        }
    }

    /// Request, current grant, disabled, and the expected error (debug form) or `replaces` detail.
    type GrantCase<'a> = (
        GrantRequest<'a>,
        Option<&'a str>,
        bool,
        std::result::Result<Option<&'a str>, &'a str>,
    );

    #[test]
    fn service_token_issue_replaces_and_revokes_the_previous_grant() {
        let config = fixtures::config();
        let ttl = config.service_token_ttl;
        let admin = fixtures::principal("acc_admin", CredentialKind::Session, &[ADMIN_ROLE]);
        let role_holder =
            fixtures::principal("acc_ops", CredentialKind::Session, &["acc_svc-name"]);
        let holder = fixtures::principal("acc_svc", CredentialKind::ServiceToken, &[]);
        let holder_of = |grant: &str| Principal {
            session_id: grant.to_owned(),
            ..holder.clone()
        };
        let stale = holder_of("svc_old");
        let current = holder_of("svc_cur");
        let outsider = fixtures::principal("acc_x", CredentialKind::Session, &[]);
        let cases: [GrantCase<'_>; 8] = [
            (GrantRequest::Issue(&admin), None, false, Ok(None)),
            (
                GrantRequest::Issue(&admin),
                Some("svc_old"),
                false,
                Ok(Some("svc_old")),
            ),
            (
                GrantRequest::Issue(&role_holder),
                Some("svc_old"),
                false,
                Ok(Some("svc_old")),
            ),
            (
                GrantRequest::Issue(&outsider),
                None,
                false,
                Err("Denied(NotPermitted)"),
            ),
            (
                GrantRequest::Issue(&admin),
                None,
                true,
                Err("Denied(AccountDisabled)"),
            ),
            (
                GrantRequest::Renew(&current),
                Some("svc_cur"),
                false,
                Ok(Some("svc_cur")),
            ),
            (
                GrantRequest::Renew(&stale),
                Some("svc_cur"),
                false,
                Err("Denied(TokenRevoked)"),
            ),
            (
                GrantRequest::Renew(&current),
                Some("svc_cur"),
                true,
                Err("Denied(AccountDisabled)"),
            ),
        ];
        for (request, grant, disabled, expected) in cases {
            let (record, sa) = service_account(grant, disabled);
            let result =
                issue_service_token((record.clone(), sa.clone()), request, fresh(), &config, NOW);
            let (plan, replaces) = match (result, expected) {
                (Ok(plan), Ok(replaces)) => (plan, replaces),
                (result, expected) => {
                    assert_eq!(
                        Err(debug(&result)),
                        expected.map(|_| ()).map_err(str::to_owned),
                        "{grant:?}"
                    );
                    continue;
                }
            };
            let actor = match request {
                GrantRequest::Issue(p) | GrantRequest::Renew(p) => p.account_id.as_str(),
            };
            let exp = NOW.plus(ttl);
            let claims = &plan.output.claims;
            assert_eq!(
                (plan.output.grant_id.as_str(), plan.output.expires_at),
                ("svc_new", exp)
            );
            assert_eq!(
                (
                    claims.sub.as_str(),
                    claims.sid.as_str(),
                    claims.jti.as_str()
                ),
                ("acc_svc", "svc_new", "tok_new")
            );
            assert_eq!(
                (claims.exp.clone(), claims.iat.clone()),
                (exp.to_rfc3339(), NOW.to_rfc3339())
            );
            assert_eq!(claims.roles, ["db"]);
            assert_eq!(claims.amr, ["service_token"]);
            assert_eq!(claims.cred, Some(CredentialKind::ServiceToken));
            let updated = StoredAccount {
                service_grant: Some("svc_new".into()),
                ..sa
            };
            let grant_body = StoredServiceGrant {
                account_id: "acc_svc".into(),
                created_at: NOW,
                expires_at: exp,
                issued_by: actor.to_owned(),
            };
            assert_eq!(
                plan.commit.writes,
                vec![
                    Write::Update {
                        record: account_record(&updated).expect("record"),
                        expected_version: record.version,
                    },
                    Write::Insert(Record {
                        kind: RecordKind::ServiceGrant,
                        id: "svc_new".into(),
                        version: 0,
                        parent: Some("acc_svc".into()),
                        lookup: None,
                        expires_at: Some(exp),
                        body: crate::record_body::to_body(&grant_body).expect("body"),
                    }),
                ]
            );
            let revoked: Vec<RevocationChange> = replaces
                .iter()
                .map(|old| {
                    RevocationChange::Put(Revocation {
                        subject: RevokedSubject::Grant,
                        id: (*old).to_owned(),
                        issued_before: Timestamp::MAX,
                        until: exp,
                    })
                })
                .collect();
            assert_eq!(plan.commit.revocations, revoked);
            let mut audit = AuditDraft::new(AuditKind::ServiceTokenIssued, NOW)
                .actor(Some(actor))
                .account("acc_svc")
                .session("svc_new");
            if let Some(old) = replaces {
                audit = audit.detail("replaces", old);
            }
            assert_eq!(plan.commit.audit, [audit]);
        }
    }

    #[test]
    fn service_tokens_are_only_for_system_accounts() {
        let config = fixtures::config();
        let admin = fixtures::principal("acc_admin", CredentialKind::Session, &[ADMIN_ROLE]);
        let human = fixtures::account("acc_h", AccountKind::Human, &[]);
        let result = issue_service_token(human, GrantRequest::Issue(&admin), fresh(), &config, NOW);
        assert!(matches!(
            result,
            Err(Error::Invalid(InvalidInput::AccountKind(_)))
        ));
    }

    #[test]
    fn service_token_revocation_clears_the_grant() {
        let ttl = Duration::from_secs(3600);
        for grant in [None, Some("svc_old")] {
            let (record, sa) = service_account(grant, false);
            let plan = revoke_service_token((record.clone(), sa.clone()), "acc_admin", ttl, NOW)
                .expect("plan");
            let Some(old) = grant else {
                assert_eq!(plan.commit, crate::store::Commit::default());
                continue;
            };
            let cleared = StoredAccount {
                service_grant: None,
                ..sa
            };
            assert_eq!(
                plan.commit.writes,
                vec![Write::Update {
                    record: account_record(&cleared).expect("record"),
                    expected_version: record.version,
                }]
            );
            assert_eq!(
                plan.commit.revocations,
                vec![RevocationChange::Put(Revocation {
                    subject: RevokedSubject::Grant,
                    id: old.to_owned(),
                    issued_before: Timestamp::MAX,
                    until: NOW.plus(ttl),
                })]
            );
            let audit = AuditDraft::new(AuditKind::ServiceTokenRevoked, NOW)
                .actor(Some("acc_admin"))
                .account("acc_svc")
                .session(old);
            assert_eq!(plan.commit.audit, [audit]);
        }
    }

    fn key(id: &str, version: u64, retired_at: Option<Timestamp>) -> (Record, StoredKey) {
        let stored = StoredKey {
            public_key: format!("pk-{id}"),
            sealed_seed: format!("sealed-{id}"),
            created_at: Timestamp::from_millis(1_000),
            retired_at,
        };
        let record = Record {
            kind: RecordKind::SigningKey,
            id: id.to_owned(),
            version,
            parent: None,
            lookup: None,
            expires_at: None,
            body: crate::record_body::to_body(&stored).expect("body"),
        };
        (record, stored)
    }

    /// Existing keys with their retirement time, and the ids the rotation retires.
    type Case<'a> = (&'a [(&'a str, Option<Timestamp>)], &'a [&'a str]);

    #[test]
    fn rotation_retires_only_signing_keys_and_inserts_the_new_one() {
        let now = Timestamp::from_millis(50_000);
        let old = Some(Timestamp::from_millis(20_000));
        let cases: [Case<'_>; 3] = [
            (&[], &[]),
            (&[("k1", None)], &["k1"]),
            (&[("k1", old), ("k2", None)], &["k2"]),
        ];
        for (existing, retired) in cases {
            let keys = existing.iter().map(|(id, at)| key(id, 3, *at)).collect();
            let (new, _) = key("k9", 0, None);
            let plan = rotate_signing_key(keys, new, Some("acc_admin"), now).expect("plan");
            assert_eq!(plan.output, "k9");
            let updated: Vec<&str> = plan
                .commit
                .writes
                .iter()
                .filter_map(|w| match w {
                    Write::Update {
                        record,
                        expected_version: 3,
                    } => {
                        let k: StoredKey =
                            crate::record_body::from_body(&record.body).expect("key");
                        assert_eq!(k.retired_at, Some(now));
                        Some(record.id.as_str())
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(updated, retired);
            assert!(matches!(plan.commit.writes.last(), Some(Write::Insert(r)) if r.id == "k9"));
            assert_eq!(plan.commit.audit.len(), 1);
            assert_eq!(plan.commit.audit[0].kind, AuditKind::SigningKeyRotated);
            assert_eq!(plan.commit.audit[0].actor.as_deref(), Some("acc_admin"));
            assert_eq!(
                plan.commit.audit[0].detail.get("kid").map(String::as_str),
                Some("k9")
            );
        }
    }
}
