//! Token revocation (RFC 7009): revoking either kind of token revokes its whole grant.

use super::revoke_family_into;
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::error::Result;
use crate::oauth::grant::{StoredFamily, StoredOAuthRefresh};
use crate::plan::Plan;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::store::{Commit, Record};
use crate::token::Principal;

/// What revoking the family `family_id` (read as `family`), reached through a token of
/// `token_type` that `client_id` presented, commits: the family's tokens die, audited. A
/// family already revoked needs nothing; one no longer stored leaves only the audit event.
fn revoke_family(
    family_id: &str,
    family: Option<(Record, StoredFamily)>,
    client_id: &str,
    token_type: &str,
    now: Timestamp,
) -> Result<Commit> {
    let mut commit = Commit::default();
    let mut audit = AuditDraft::new(AuditKind::OAuthTokenRevoked, now)
        .session(family_id)
        .detail("client_id", client_id.to_owned())
        .detail("token_type", token_type.to_owned());
    if let Some((record, family)) = family.filter(|(_, f)| f.id == family_id) {
        audit = audit.account(&family.account_id);
        if !revoke_family_into(&mut commit, &record, family, now)? {
            return Ok(Commit::default());
        }
    }
    commit.audit.push(audit);
    Ok(commit)
}

/// `client_id` revokes the refresh token found as `refresh` (with its family as read). The
/// output says whether the token was a refresh token at all (`false`: look further).
/// Another client's refresh token is left alone, and the answer does not tell.
pub(crate) fn decide_revoke_refresh(
    client_id: &str,
    refresh: Option<&StoredOAuthRefresh>,
    family: Option<(Record, StoredFamily)>,
    now: Timestamp,
) -> Result<Plan<bool>> {
    let Some(refresh) = refresh else {
        return Ok(Plan::new(false));
    };
    if refresh.client_id != client_id {
        return Ok(Plan::new(true));
    }
    let commit = revoke_family(&refresh.family_id, family, client_id, "refresh_token", now)?;
    Ok(Plan {
        commit,
        output: true,
    })
}

/// `client_id` revokes the valid access token `token`: a token of a family revokes the family
/// (`family`, read by the token's `sid`); a client-credentials token, which has no family, is
/// revoked alone until it expires. Another client's token is left alone.
pub(crate) fn decide_revoke_access(
    client_id: &str,
    token: &Principal,
    family: Option<(Record, StoredFamily)>,
    now: Timestamp,
) -> Result<Plan<()>> {
    if token.client_id.as_deref() != Some(client_id) {
        return Ok(Plan::new(()));
    }
    if family.is_some() {
        let commit = revoke_family(&token.session_id, family, client_id, "access_token", now)?;
        return Ok(Plan { commit, output: () });
    }
    Ok(Plan::new(())
        .revoke(RevocationChange::Put(Revocation {
            subject: RevokedSubject::Grant,
            id: token.session_id.clone(),
            issued_before: Timestamp::MAX,
            until: token.expires_at,
        }))
        .audit(
            AuditDraft::new(AuditKind::OAuthTokenRevoked, now)
                .session(&token.session_id)
                .detail("client_id", client_id.to_owned())
                .detail("token_type", "access_token"),
        ))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{audit_kinds, family, principal, record_of, writes};
    use super::*;
    use crate::store::RecordKind;

    fn refresh(client: &str) -> StoredOAuthRefresh {
        StoredOAuthRefresh {
            family_id: "ofm_1".into(),
            client_id: client.into(),
            issued_at: Timestamp::from_secs(10),
            rotated_at: None,
        }
    }

    fn family_read(revoked: bool) -> (Record, StoredFamily) {
        let mut f = family("ofm_1", "cli_1", "acc_a");
        f.revoked_at = revoked.then(|| Timestamp::from_secs(20));
        (record_of(&f, 3), f)
    }

    /// A revocation's effect: family updated, revocations, audited.
    type Effect = (bool, usize, bool);

    /// Asserts that `plan` has `effect`.
    fn assert_effect<T>(plan: &Plan<T>, (updated, revocations, audited): Effect, case: usize) {
        let want: Vec<_> = if updated {
            vec![("update", RecordKind::OAuthFamily, "ofm_1".to_owned(), 3)]
        } else {
            vec![]
        };
        assert_eq!(writes(plan), want, "case {case}");
        assert_eq!(plan.commit.revocations.len(), revocations, "case {case}");
        let kinds = if audited {
            vec![AuditKind::OAuthTokenRevoked]
        } else {
            vec![]
        };
        assert_eq!(audit_kinds(plan), kinds, "case {case}");
    }

    /// (token found, family, found?, effect)
    type RefreshCase = (
        Option<StoredOAuthRefresh>,
        Option<(Record, StoredFamily)>,
        bool,
        Effect,
    );

    /// (token, family, effect)
    type AccessCase<'a> = (&'a Principal, Option<(Record, StoredFamily)>, Effect);

    #[test]
    fn revoking_a_refresh_token_revokes_its_family() {
        let now = Timestamp::from_secs(1_000);
        let cases: [RefreshCase; 6] = [
            (
                Some(refresh("cli_1")),
                Some(family_read(false)),
                true,
                (true, 1, true),
            ),
            (
                Some(refresh("cli_1")),
                Some(family_read(true)),
                true,
                (false, 0, false),
            ),
            (Some(refresh("cli_1")), None, true, (false, 0, true)),
            (
                Some(refresh("cli_2")),
                Some(family_read(false)),
                true,
                (false, 0, false),
            ),
            (None, None, false, (false, 0, false)),
            (None, Some(family_read(false)), false, (false, 0, false)),
        ];
        for (i, (token, fam, found, effect)) in cases.into_iter().enumerate() {
            let plan = decide_revoke_refresh("cli_1", token.as_ref(), fam, now).expect("plan");
            assert_eq!(plan.output, found, "case {i}");
            assert_effect(&plan, effect, i);
            if effect.2 {
                assert_eq!(
                    plan.commit.audit[0]
                        .detail
                        .get("token_type")
                        .map(String::as_str),
                    Some("refresh_token")
                );
            }
        }
    }

    #[test]
    fn revoking_an_access_token_revokes_its_grant() {
        let now = Timestamp::from_secs(1_000);
        let mut family_token = principal("acc_a", "ofm_1");
        family_token.client_id = Some("cli_1".into());
        let mut client_token = principal("cli_1", "occ_1");
        client_token.client_id = Some("cli_1".into());
        client_token.expires_at = Timestamp::from_secs(1_900);
        let mut foreign = family_token.clone();
        foreign.client_id = Some("cli_2".into());
        let cases: [AccessCase<'_>; 4] = [
            (&family_token, Some(family_read(false)), (true, 1, true)),
            (&family_token, Some(family_read(true)), (false, 0, false)),
            (&client_token, None, (false, 1, true)),
            (&foreign, Some(family_read(false)), (false, 0, false)),
        ];
        for (i, (token, fam, effect)) in cases.into_iter().enumerate() {
            let plan = decide_revoke_access("cli_1", token, fam, now).expect("plan");
            assert_effect(&plan, effect, i);
        }
        let plan = decide_revoke_access("cli_1", &client_token, None, now).expect("plan");
        assert_eq!(
            plan.commit.revocations,
            [RevocationChange::Put(Revocation {
                subject: RevokedSubject::Grant,
                id: "occ_1".into(),
                issued_before: Timestamp::MAX,
                until: Timestamp::from_secs(1_900),
            })]
        );
    }
}
