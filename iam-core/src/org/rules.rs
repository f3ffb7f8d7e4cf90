//! Organization rules as pure functions (see [`crate::plan`]): no store, no clock, no runtime.

use crate::account::{validate_username, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::error::{Denial, Error, Missing, Result};
use crate::plan::Plan;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::session::Session;
use crate::store::{Record, RecordKind, StoreError, Write};
use crate::token::rules::unchanged;
use crate::token::Principal;

use super::{Membership, Organization, OWNER_ROLE};

/// A membership as stored: its record indexed by organization, the mirror indexed by account
/// (`None` if missing), and the decoded membership.
#[derive(Clone, Debug)]
pub(crate) struct StoredMembership {
    /// The [`RecordKind::Membership`] record (`org/account`).
    pub by_org: Record,
    /// The [`RecordKind::MembershipByAccount`] record (`account/org`), if present.
    pub by_account: Option<Record>,
    /// The membership.
    pub membership: Membership,
}

/// On what authority an actor manages an organization's members.
#[derive(Clone, Debug)]
pub(crate) enum OrgAuthority {
    /// An admin: changes take effect at once.
    Admin,
    /// An owner, by the membership record read (owners' additions are invitations).
    Owner(Record),
}

/// The id of the membership record indexed by organization.
pub(crate) fn membership_id(org_id: &str, account_id: &str) -> String {
    format!("{org_id}/{account_id}")
}

/// The id of the mirror record indexed by account.
pub(crate) fn mirror_id(org_id: &str, account_id: &str) -> String {
    format!("{account_id}/{org_id}")
}

/// Whether a membership makes its account an owner who may manage the organization.
pub(crate) fn is_owner(membership: Option<&Membership>) -> bool {
    membership.is_some_and(|m| m.role == OWNER_ROLE && !m.pending)
}

/// The writes that take a membership from `stored` (as read; `None`: absent) to `next`
/// (`None`: removed), on both index records at once so they cannot diverge: inserts for a new
/// membership, compare-and-swap updates of both for a changed one (a missing mirror is a
/// conflict), and deletes for a removed one (of the mirror only when present).
pub(crate) fn membership_writes(
    stored: Option<&StoredMembership>,
    next: Option<&Membership>,
) -> Result<Vec<Write>> {
    let records = |m: &Membership| -> Result<[Record; 2]> {
        let body = crate::record_body::to_body(m)?;
        let record = |kind, id: String, parent: &str| Record {
            kind,
            id,
            version: 0,
            parent: Some(parent.to_owned()),
            lookup: None,
            expires_at: None,
            body: body.clone(),
        };
        Ok([
            record(
                RecordKind::Membership,
                membership_id(&m.org_id, &m.account_id),
                &m.org_id,
            ),
            record(
                RecordKind::MembershipByAccount,
                mirror_id(&m.org_id, &m.account_id),
                &m.account_id,
            ),
        ])
    };
    Ok(match (stored, next) {
        (None, None) => vec![],
        (None, Some(m)) => records(m)?.map(Write::Insert).into(),
        (Some(s), Some(m)) => {
            let mirror = s.by_account.as_ref().ok_or(StoreError::Conflict)?;
            let [by_org, by_account] = records(m)?;
            vec![
                Write::Update {
                    record: by_org,
                    expected_version: s.by_org.version,
                },
                Write::Update {
                    record: by_account,
                    expected_version: mirror.version,
                },
            ]
        }
        (Some(s), None) => [Some(&s.by_org), s.by_account.as_ref()]
            .into_iter()
            .flatten()
            .map(|r| Write::Delete {
                kind: r.kind,
                id: r.id.clone(),
                expected_version: r.version,
            })
            .collect(),
    })
}

/// Creation of organization `org_id` named `name` by `owner`, who becomes its first member
/// with [`OWNER_ROLE`]. A taken name fails in the store as a duplicate.
pub(crate) fn create_organization(
    org_id: String,
    name: &str,
    owner: &str,
    now: Timestamp,
) -> Result<Plan<Organization>> {
    validate_username(name)?;
    let org = Organization {
        id: org_id,
        name: name.to_owned(),
        created_at: now,
    };
    let membership = Membership {
        org_id: org.id.clone(),
        account_id: owner.to_owned(),
        role: OWNER_ROLE.into(),
        since: now,
        pending: false,
    };
    let mut plan = Plan::new(org.clone()).write(Write::Insert(Record {
        kind: RecordKind::Organization,
        id: org.id.clone(),
        version: 0,
        parent: None,
        lookup: Some(org.name.clone()),
        expires_at: None,
        body: crate::record_body::to_body(&org)?,
    }));
    plan.commit
        .writes
        .extend(membership_writes(None, Some(&membership))?);
    Ok(plan.audit(
        AuditDraft::new(AuditKind::OrganizationCreated, now)
            .actor(Some(owner))
            .account(owner)
            .detail("org", org.id)
            .detail("name", org.name),
    ))
}

/// A cut-off voiding a member's tokens for one organization: tokens issued before
/// `issued_before`, remembered `until` the longest of them expires.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemberCutOff {
    /// Tokens issued before this are void.
    pub issued_before: Timestamp,
    /// When the cut-off can be forgotten.
    pub until: Timestamp,
}

impl MemberCutOff {
    /// The revocation entry voiding `account_id`'s tokens for `org_id`, and no other token.
    fn change(self, org_id: &str, account_id: &str) -> RevocationChange {
        RevocationChange::Put(Revocation {
            subject: RevokedSubject::OrgMembership,
            id: membership_id(org_id, account_id),
            issued_before: self.issued_before,
            until: self.until,
        })
    }
}

/// The membership a manager asks for: `account_id` in `org_id` with `role`.
pub(crate) struct MemberChange<'a> {
    /// The organization.
    pub org_id: &'a str,
    /// The member.
    pub account_id: &'a str,
    /// The role there.
    pub role: &'a str,
}

/// Read preconditions for a manager's change: the account changed on (it must still exist)
/// and, for an owner, the owner's own membership.
fn manager_checks(authority: &OrgAuthority, target: Option<&Record>) -> Vec<Write> {
    let owner = match authority {
        OrgAuthority::Admin => None,
        OrgAuthority::Owner(record) => Some(record),
    };
    owner.into_iter().chain(target).map(unchanged).collect()
}

/// Adding `change.account_id` (its account record `target` as read) to an organization, or
/// changing its role there, by `actor` on `authority`. An owner's addition is an invitation
/// the account must accept, an admin's takes effect (and accepts a pending one) at once. The
/// same role again changes nothing; a changed role voids the member's earlier tokens for this
/// organization with `cut_off`.
pub(crate) fn set_membership(
    change: &MemberChange<'_>,
    target: &Record,
    existing: Option<&StoredMembership>,
    authority: &OrgAuthority,
    cut_off: MemberCutOff,
    actor: &str,
    now: Timestamp,
) -> Result<Plan<Membership>> {
    let by_admin = matches!(authority, OrgAuthority::Admin);
    if let Some(s) = existing
        .as_ref()
        .filter(|s| s.membership.role == change.role)
    {
        return Ok(Plan::new(s.membership.clone()));
    }
    let membership = Membership {
        org_id: change.org_id.to_owned(),
        account_id: change.account_id.to_owned(),
        role: change.role.to_owned(),
        since: now,
        pending: existing.is_none_or(|s| s.membership.pending) && !by_admin,
    };
    let mut plan = Plan::new(membership.clone());
    plan.commit.writes = manager_checks(authority, Some(target));
    plan.commit
        .writes
        .extend(membership_writes(existing, Some(&membership))?);
    if existing.is_some() {
        plan = plan.revoke(cut_off.change(change.org_id, change.account_id));
    }
    Ok(plan.audit(
        AuditDraft::new(AuditKind::MemberAdded, now)
            .actor(Some(actor))
            .account(change.account_id)
            .detail("org", change.org_id)
            .detail("role", change.role),
    ))
}

/// Removal of a member (`stored`, as read; nothing when absent) by `actor` on `authority`;
/// the member's earlier tokens for the organization are voided with `cut_off`.
pub(crate) fn remove_member(
    stored: Option<StoredMembership>,
    authority: &OrgAuthority,
    cut_off: MemberCutOff,
    actor: &str,
    now: Timestamp,
) -> Result<Plan<()>> {
    let Some(stored) = stored else {
        return Ok(Plan::new(()));
    };
    let Membership {
        org_id, account_id, ..
    } = &stored.membership;
    let mut plan = Plan::new(());
    plan.commit.writes = manager_checks(authority, None);
    plan.commit
        .writes
        .extend(membership_writes(Some(&stored), None)?);
    Ok(plan.revoke(cut_off.change(org_id, account_id)).audit(
        AuditDraft::new(AuditKind::MemberRemoved, now)
            .actor(Some(actor))
            .account(account_id)
            .detail("org", org_id.as_str()),
    ))
}

/// The invited account's answer to its pending membership `stored` (as read): accepting makes
/// it a member from `now`, declining removes it. Without a pending invitation there is nothing
/// to answer.
pub(crate) fn answer_invitation(
    stored: Option<StoredMembership>,
    accept: bool,
    now: Timestamp,
) -> Result<Plan<()>> {
    let stored = stored
        .filter(|s| s.membership.pending)
        .ok_or(Error::NotFound(Missing::Invitation))?;
    let accepted = accept.then(|| Membership {
        pending: false,
        since: now,
        ..stored.membership.clone()
    });
    let Membership {
        org_id, account_id, ..
    } = &stored.membership;
    let (kind, answer) = if accept {
        (AuditKind::MemberAdded, "accepted")
    } else {
        (AuditKind::MemberRemoved, "declined")
    };
    let mut plan = Plan::new(());
    plan.commit.writes = membership_writes(Some(&stored), accepted.as_ref())?;
    Ok(plan.audit(
        AuditDraft::new(kind, now)
            .actor(Some(account_id))
            .account(account_id)
            .detail("org", org_id.as_str())
            .detail("answer", answer),
    ))
}

/// What an organization token is minted from: the organization and the member's role there,
/// with the account and session it was decided on.
#[derive(Clone, Debug)]
pub(crate) struct OrgScope<'a> {
    /// The organization.
    pub org_id: &'a str,
    /// The member's role there.
    pub role: &'a str,
    /// The member's account.
    pub account: &'a StoredAccount,
    /// The session the token hangs from.
    pub session: &'a Session,
}

/// Whether `principal`'s session may have a token scoped to an organization, given its
/// membership there, its account and its session (each as read; `None`: absent): accepted
/// members of enabled accounts with a live session of their own. The token depends on all
/// three, so the plan only checks they are unchanged when it is handed out.
pub(crate) fn org_token<'a>(
    principal: &Principal,
    membership: Option<&'a (Record, Membership)>,
    account: Option<&'a (Record, StoredAccount)>,
    session: Option<&'a (Record, Session)>,
    now: Timestamp,
) -> Result<Plan<OrgScope<'a>>> {
    let (membership_record, membership) = membership
        .filter(|(_, m)| !m.pending)
        .ok_or(Denial::NotPermitted)?;
    let (account_record, account) = account.ok_or(Error::NotFound(Missing::Account))?;
    if account.disabled {
        return Err(Denial::AccountDisabled.into());
    }
    let (session_record, session) = session.ok_or(Denial::SessionRevoked)?;
    if session.account_id != principal.account_id || !session.is_live(now) {
        return Err(Denial::SessionRevoked.into());
    }
    Ok(Plan::new(OrgScope {
        org_id: &membership.org_id,
        role: &membership.role,
        account,
        session,
    })
    .write(unchanged(membership_record))
    .write(unchanged(account_record))
    .write(unchanged(session_record)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::account::AccountKind;
    use crate::authz::CredentialKind;
    use crate::fixtures::{self, NOW};

    const SINCE: Timestamp = Timestamp::from_millis(5_000);

    fn member(account: &str, role: &str, pending: bool) -> Membership {
        Membership {
            org_id: "org_1".into(),
            account_id: account.to_owned(),
            role: role.to_owned(),
            since: SINCE,
            pending,
        }
    }

    /// `m` as stored: the record by organization at version 2, the mirror (if `mirrored`) at 3.
    fn stored(m: &Membership, mirrored: bool) -> StoredMembership {
        let by_org = fixtures::record(
            RecordKind::Membership,
            &format!("org_1/{}", m.account_id),
            2,
            m,
        );
        let by_account = mirrored.then(|| {
            fixtures::record(
                RecordKind::MembershipByAccount,
                &format!("{}/org_1", m.account_id),
                3,
                m,
            )
        });
        StoredMembership {
            by_org,
            by_account,
            membership: m.clone(),
        }
    }

    fn index_record(kind: RecordKind, m: &Membership) -> Record {
        let (id, parent) = match kind {
            RecordKind::Membership => (format!("org_1/{}", m.account_id), "org_1"),
            _ => (format!("{}/org_1", m.account_id), m.account_id.as_str()),
        };
        Record {
            parent: Some(parent.to_owned()),
            ..fixtures::record(kind, &id, 0, m)
        }
    }

    /// Both index records of `m`, as inserted.
    fn inserts(m: &Membership) -> Vec<Write> {
        vec![
            Write::Insert(index_record(RecordKind::Membership, m)),
            Write::Insert(index_record(RecordKind::MembershipByAccount, m)),
        ]
    }

    /// Both index records of `m`, as updated from versions 2 and 3.
    fn updates(m: &Membership) -> Vec<Write> {
        vec![
            Write::Update {
                record: index_record(RecordKind::Membership, m),
                expected_version: 2,
            },
            Write::Update {
                record: index_record(RecordKind::MembershipByAccount, m),
                expected_version: 3,
            },
        ]
    }

    fn delete(kind: RecordKind, id: &str, version: u64) -> Write {
        Write::Delete {
            kind,
            id: id.to_owned(),
            expected_version: version,
        }
    }

    /// Stored (`Some(mirrored)`), next, expected writes (`None`: a conflict).
    type MirrorCase<'a> = (Option<bool>, Option<&'a Membership>, Option<Vec<Write>>);

    #[test]
    fn membership_writes_keep_both_indexes_together() {
        let old = member("acc_1", "dev", true);
        let new = member("acc_1", "ops", false);
        let deletes = vec![
            delete(RecordKind::Membership, "org_1/acc_1", 2),
            delete(RecordKind::MembershipByAccount, "acc_1/org_1", 3),
        ];
        let cases: [MirrorCase<'_>; 6] = [
            (None, None, Some(vec![])),
            (None, Some(&new), Some(inserts(&new))),
            (Some(true), Some(&new), Some(updates(&new))),
            (Some(false), Some(&new), None),
            (Some(true), None, Some(deletes.clone())),
            (Some(false), None, Some(deletes[..1].to_vec())),
        ];
        for (mirrored, next, expected) in cases {
            let s = mirrored.map(|m| stored(&old, m));
            match (membership_writes(s.as_ref(), next), expected) {
                (Ok(writes), Some(expected)) => assert_eq!(writes, expected),
                (Err(Error::Store(StoreError::Conflict)), None) => {}
                (other, expected) => panic!("{mirrored:?} {next:?}: {other:?}, not {expected:?}"),
            }
        }
    }

    #[test]
    fn only_accepted_owners_are_owners() {
        let cases = [
            (None, false),
            (Some(member("a", OWNER_ROLE, false)), true),
            (Some(member("a", OWNER_ROLE, true)), false),
            (Some(member("a", "dev", false)), false),
        ];
        for (m, owner) in cases {
            assert_eq!(is_owner(m.as_ref()), owner, "{m:?}");
        }
    }

    #[test]
    fn organization_creation_inserts_it_with_its_owner() {
        for (name, valid) in [("acme", true), ("", false), ("Not Valid!", false)] {
            let result = create_organization("org_1".into(), name, "acc_1", NOW);
            let Ok(plan) = result else {
                assert!(!valid && matches!(result, Err(Error::Invalid(_))), "{name}");
                continue;
            };
            assert!(valid, "{name}");
            let org = Organization {
                id: "org_1".into(),
                name: name.into(),
                created_at: NOW,
            };
            assert_eq!(plan.output, org);
            let owner = Membership {
                since: NOW,
                ..member("acc_1", OWNER_ROLE, false)
            };
            let mut expected = vec![Write::Insert(Record {
                lookup: Some(name.into()),
                ..fixtures::record(RecordKind::Organization, "org_1", 0, &org)
            })];
            expected.extend(inserts(&owner));
            assert_eq!(plan.commit.writes, expected);
            let audit =
                org_audit(AuditKind::OrganizationCreated, "acc_1", "acc_1").detail("name", name);
            assert_eq!(plan.commit.audit, [audit]);
        }
    }

    /// The audit event `kind` by `actor` about `account` in `org_1`, now.
    fn org_audit(kind: AuditKind, actor: &str, account: &str) -> AuditDraft {
        AuditDraft::new(kind, NOW)
            .actor(Some(actor))
            .account(account)
            .detail("org", "org_1")
    }

    fn cut_off() -> MemberCutOff {
        MemberCutOff {
            issued_before: NOW.plus(Duration::from_millis(1)),
            until: NOW.plus(Duration::from_secs(3600)),
        }
    }

    fn cut_off_change() -> RevocationChange {
        RevocationChange::Put(Revocation {
            subject: RevokedSubject::OrgMembership,
            id: "org_1/acc_2".into(),
            issued_before: NOW.plus(Duration::from_millis(1)),
            until: NOW.plus(Duration::from_secs(3600)),
        })
    }

    fn owner_record() -> Record {
        fixtures::record(
            RecordKind::Membership,
            "org_1/acc_own",
            6,
            &member("acc_own", OWNER_ROLE, false),
        )
    }

    /// Whether the manager is an owner, the stored membership (role, pending, mirrored), the
    /// role asked for, and the expected result: the new membership's `pending`, `None` for no
    /// change, or the error's debug form.
    type SetCase<'a> = (
        bool,
        Option<(&'a str, bool, bool)>,
        &'a str,
        std::result::Result<Option<bool>, &'a str>,
    );

    #[test]
    fn set_membership_invites_for_owners_and_admits_for_admins() {
        let (target, _) = fixtures::account("acc_2", AccountKind::Human, &[]);
        let cases: [SetCase<'_>; 9] = [
            (false, None, "dev", Ok(Some(false))),
            (true, None, "dev", Ok(Some(true))),
            (false, Some(("dev", true, true)), "ops", Ok(Some(false))),
            (true, Some(("dev", true, true)), "ops", Ok(Some(true))),
            (true, Some(("dev", false, true)), "ops", Ok(Some(false))),
            (false, Some(("dev", false, true)), "dev", Ok(None)),
            (true, Some(("dev", true, true)), "dev", Ok(None)),
            (
                true,
                Some(("dev", false, false)),
                "ops",
                Err("Store(Conflict)"),
            ),
            (false, Some(("dev", false, false)), "dev", Ok(None)),
        ];
        for (by_owner, existing, role, expected) in cases {
            let old = existing.map(|(r, pending, mirrored)| {
                let m = member("acc_2", r, pending);
                (m.clone(), stored(&m, mirrored))
            });
            let authority = if by_owner {
                OrgAuthority::Owner(owner_record())
            } else {
                OrgAuthority::Admin
            };
            let change = MemberChange {
                org_id: "org_1",
                account_id: "acc_2",
                role,
            };
            let result = set_membership(
                &change,
                &target,
                old.as_ref().map(|(_, s)| s),
                &authority,
                cut_off(),
                "acc_own",
                NOW,
            );
            let (plan, pending) = match (result, expected) {
                (Ok(plan), Ok(Some(pending))) => (plan, pending),
                (Ok(plan), Ok(None)) => {
                    let (m, _) = old.expect("existing");
                    assert_eq!(plan.output, m);
                    assert_eq!(plan.commit, crate::store::Commit::default());
                    continue;
                }
                (result, expected) => {
                    let got = result.map(|p| p.output).map_err(|e| format!("{e:?}"));
                    assert_eq!(got.err().as_deref(), expected.err(), "{existing:?} {role}");
                    continue;
                }
            };
            let new = Membership {
                since: NOW,
                ..member("acc_2", role, pending)
            };
            assert_eq!(plan.output, new);
            let mut writes = if by_owner {
                vec![unchanged(&owner_record())]
            } else {
                vec![]
            };
            writes.push(unchanged(&target));
            writes.extend(if old.is_some() {
                updates(&new)
            } else {
                inserts(&new)
            });
            assert_eq!(plan.commit.writes, writes, "{existing:?} {role}");
            let cut: Vec<_> = old.iter().map(|_| cut_off_change()).collect();
            assert_eq!(plan.commit.revocations, cut);
            let audit = org_audit(AuditKind::MemberAdded, "acc_own", "acc_2").detail("role", role);
            assert_eq!(plan.commit.audit, [audit]);
        }
    }

    #[test]
    fn removing_a_member_deletes_both_indexes_and_cuts_off_its_tokens() {
        // Manager is an owner, membership stored (mirrored), expected writes.
        let by_org = delete(RecordKind::Membership, "org_1/acc_2", 2);
        let mirror = delete(RecordKind::MembershipByAccount, "acc_2/org_1", 3);
        let cases: [(bool, Option<bool>, Vec<Write>); 4] = [
            (false, None, vec![]),
            (false, Some(true), vec![by_org.clone(), mirror.clone()]),
            (false, Some(false), vec![by_org.clone()]),
            (
                true,
                Some(true),
                vec![unchanged(&owner_record()), by_org, mirror],
            ),
        ];
        for (by_owner, mirrored, writes) in cases {
            let authority = if by_owner {
                OrgAuthority::Owner(owner_record())
            } else {
                OrgAuthority::Admin
            };
            let s = mirrored.map(|m| stored(&member("acc_2", "dev", false), m));
            let plan = remove_member(s, &authority, cut_off(), "acc_own", NOW).expect("plan");
            assert_eq!(plan.commit.writes, writes);
            if mirrored.is_none() {
                assert_eq!(plan.commit, crate::store::Commit::default());
                continue;
            }
            assert_eq!(plan.commit.revocations, vec![cut_off_change()]);
            let audit = org_audit(AuditKind::MemberRemoved, "acc_own", "acc_2");
            assert_eq!(plan.commit.audit, [audit]);
        }
    }

    /// Stored membership (pending), accept, expected writes and audit (`None`: not found).
    type AnswerCase<'a> = (Option<bool>, bool, Option<(Vec<Write>, AuditKind, &'a str)>);

    #[test]
    fn invitations_are_accepted_or_declined_once() {
        let invited = member("acc_2", "dev", true);
        let accepted = Membership {
            pending: false,
            since: NOW,
            ..invited.clone()
        };
        let declined = vec![
            delete(RecordKind::Membership, "org_1/acc_2", 2),
            delete(RecordKind::MembershipByAccount, "acc_2/org_1", 3),
        ];
        let cases: [AnswerCase<'_>; 5] = [
            (None, true, None),
            (Some(false), true, None),
            (Some(false), false, None),
            (
                Some(true),
                true,
                Some((updates(&accepted), AuditKind::MemberAdded, "accepted")),
            ),
            (
                Some(true),
                false,
                Some((declined, AuditKind::MemberRemoved, "declined")),
            ),
        ];
        for (pending, accept, expected) in cases {
            let s = pending.map(|p| {
                stored(
                    &Membership {
                        pending: p,
                        ..invited.clone()
                    },
                    true,
                )
            });
            let result = answer_invitation(s, accept, NOW);
            let (plan, (writes, kind, answer)) = match (result, expected) {
                (Ok(plan), Some(expected)) => (plan, expected),
                (Err(Error::NotFound(Missing::Invitation)), None) => continue,
                (other, _) => panic!("{pending:?} {accept}: {:?}", other.map(|p| p.commit)),
            };
            assert_eq!(plan.commit.writes, writes);
            assert!(plan.commit.revocations.is_empty());
            let audit = org_audit(kind, "acc_2", "acc_2").detail("answer", answer);
            assert_eq!(plan.commit.audit, [audit]);
        }
    }

    /// Membership (pending), account (disabled), session (owner, expiry after now, revoked),
    /// and the expected denial (debug form; `None`: a token).
    type OrgTokenCase<'a> = (
        Option<bool>,
        Option<bool>,
        Option<(&'a str, i64, bool)>,
        Option<&'a str>,
    );

    #[test]
    fn org_tokens_need_an_accepted_membership_an_enabled_account_and_a_live_session() {
        let principal = fixtures::principal("acc_2", CredentialKind::Session, &[]);
        let live = Some(("acc_2", 60, false));
        let cases: [OrgTokenCase<'_>; 10] = [
            (Some(false), Some(false), live, None),
            (None, Some(false), live, Some("Denied(NotPermitted)")),
            (Some(true), Some(false), live, Some("Denied(NotPermitted)")),
            (None, None, None, Some("Denied(NotPermitted)")),
            (Some(false), None, live, Some("NotFound(Account)")),
            (
                Some(false),
                Some(true),
                live,
                Some("Denied(AccountDisabled)"),
            ),
            (
                Some(false),
                Some(false),
                None,
                Some("Denied(SessionRevoked)"),
            ),
            (
                Some(false),
                Some(false),
                Some(("acc_9", 60, false)),
                Some("Denied(SessionRevoked)"),
            ),
            (
                Some(false),
                Some(false),
                Some(("acc_2", 0, false)),
                Some("Denied(SessionRevoked)"),
            ),
            (
                Some(false),
                Some(false),
                Some(("acc_2", 60, true)),
                Some("Denied(SessionRevoked)"),
            ),
        ];
        for (pending, disabled, session, expected) in cases {
            let membership = pending.map(|p| {
                let m = member("acc_2", "dev", p);
                (stored(&m, true).by_org, m)
            });
            let account = disabled.map(|d| {
                let (r, mut a) = fixtures::account("acc_2", AccountKind::Human, &[]);
                a.disabled = d;
                (r, a)
            });
            let session = session.map(|(owner, expires_in, revoked)| {
                let s = Session {
                    id: "ses_1".into(),
                    account_id: owner.into(),
                    created_at: SINCE,
                    expires_at: NOW.plus(Duration::from_secs(expires_in.unsigned_abs())),
                    revoked_at: revoked.then_some(SINCE),
                    last_refreshed_at: None,
                    auth_time: SINCE,
                    amr: vec!["pwd".into()],
                    elevations: vec![],
                    upstream_acr: None,
                };
                (fixtures::record(RecordKind::Session, "ses_1", 8, &s), s)
            });
            let result = org_token(
                &principal,
                membership.as_ref(),
                account.as_ref(),
                session.as_ref(),
                NOW,
            );
            let plan = match (result, expected) {
                (Ok(plan), None) => plan,
                (result, expected) => {
                    let got = result.map(|_| ()).map_err(|e| format!("{e:?}"));
                    assert_eq!(got.err().as_deref(), expected);
                    continue;
                }
            };
            assert_eq!((plan.output.org_id, plan.output.role), ("org_1", "dev"));
            assert_eq!(plan.output.account.id, "acc_2");
            assert_eq!(plan.output.session.id, "ses_1");
            let checks: Vec<Write> = [
                &membership.as_ref().expect("membership").0,
                &account.as_ref().expect("account").0,
                &session.as_ref().expect("session").0,
            ]
            .into_iter()
            .map(unchanged)
            .collect();
            assert_eq!(plan.commit.writes, checks);
            assert!(plan.commit.audit.is_empty() && plan.commit.revocations.is_empty());
        }
    }
}
