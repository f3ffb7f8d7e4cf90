use std::time::Duration;

use super::*;
use crate::account::AccountKind;
use crate::error::{Denial, Error, InvalidInput};
use crate::fixtures::{self, audit_kinds, set, writes, NOW};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn invitation(state: InvitationState, expires_at: Timestamp) -> Invitation {
    Invitation {
        id: "inv_1".into(),
        roles: set(&["reports"]),
        org_id: None,
        org_role: None,
        created_by: Some("acc_boss".into()),
        created_at: NOW.minus(DAY),
        expires_at,
        state,
    }
}

fn read(i: &Invitation) -> (Record, Invitation) {
    let mut r = fixtures::record(RecordKind::Invitation, &i.id, 3, i);
    r.lookup = Some("hash".into());
    (r, i.clone())
}

fn open() -> Invitation {
    invitation(InvitationState::Open, NOW.plus(DAY))
}

fn newcomer() -> Newcomer {
    Newcomer {
        id: "acc_new".into(),
        account: NewAccount::human("friend", "a long enough password"),
        password_hash: "$argon2id$fake".into(),
    }
}

fn accept(
    found: Option<(Record, Invitation)>,
    creator: Option<&CreatorStanding<'_>>,
) -> Plan<Acceptance> {
    let config = fixtures::config();
    let acting = Acting {
        actor: None,
        now: NOW,
        cutoff: NOW,
        config: &config,
    };
    accept_invitation(found, None, creator, newcomer(), acting).expect("decides")
}

fn refused_as(plan: &Plan<Acceptance>) -> Option<&InvitationStatus> {
    match &plan.output {
        Acceptance::Refused(s) => Some(s),
        Acceptance::Accepted(_) => None,
    }
}

#[test]
fn the_role_ceiling_lets_admins_grant_anything_and_inviters_only_what_they_hold() {
    let roles = |r: &[&str]| r.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(check_role_ceiling(&InviterAuthority::Unbounded, &roles(&["admin", "x"])).is_ok());
    let inviter = InviterAuthority::Inviter {
        held: set(&["inviter", "reports"]),
    };
    assert!(check_role_ceiling(&inviter, &roles(&["reports"])).is_ok());
    assert!(check_role_ceiling(&inviter, &roles(&[])).is_ok());
    for refused in ["admin", "billing"] {
        assert!(matches!(
            check_role_ceiling(&inviter, &roles(&[refused])),
            Err(Error::Denied(Denial::MissingRole(r))) if r == refused
        ));
    }
    // Even an inviter that somehow holds admin in its token cannot hand it on as an inviter.
    let odd = InviterAuthority::Inviter {
        held: set(&["admin"]),
    };
    assert!(check_role_ceiling(&odd, &roles(&["admin"])).is_err());
    assert!(matches!(
        check_role_ceiling(&InviterAuthority::Unbounded, &roles(&["Not A Role"])),
        Err(Error::Invalid(InvalidInput::RoleName(_)))
    ));
}

#[test]
fn the_lifetime_defaults_and_is_bounded() {
    let max = 30 * DAY;
    assert_eq!(invitation_lifetime(None, 7 * DAY, max).ok(), Some(7 * DAY));
    assert_eq!(invitation_lifetime(Some(DAY), 7 * DAY, max).ok(), Some(DAY));
    assert!(matches!(
        invitation_lifetime(Some(31 * DAY), 7 * DAY, max),
        Err(Error::Invalid(InvalidInput::DurationTooLong { .. }))
    ));
    assert!(matches!(
        invitation_lifetime(Some(Duration::ZERO), 7 * DAY, max),
        Err(Error::Invalid(InvalidInput::ExpiryInPast))
    ));
}

#[test]
fn creation_inserts_the_hashed_record_audits_it_and_checks_the_organization() {
    let new = NewInvitation {
        roles: vec!["reports".into()],
        org_id: Some("org_1".into()),
        ..NewInvitation::default()
    };
    let org = fixtures::record(RecordKind::Organization, "org_1", 2, &"org");
    let owner = fixtures::record(RecordKind::Membership, "org_1/acc_boss", 5, &"m");
    let inviter = InviterAuthority::Inviter {
        held: set(&["reports"]),
    };
    let fresh = || FreshInvitation {
        id: "inv_1".into(),
        secret_hash: "hash".into(),
    };
    // An inviter that does not own the organization cannot invite into it.
    let not_owner = OrgStanding {
        org: org.clone(),
        owner: None,
    };
    assert!(matches!(
        create_invitation(
            &new,
            &inviter,
            Some(&not_owner),
            fresh(),
            Some("acc_boss"),
            DAY,
            NOW
        ),
        Err(Error::Denied(Denial::NotPermitted))
    ));
    let standing = OrgStanding {
        org,
        owner: Some(owner),
    };
    let plan = create_invitation(
        &new,
        &inviter,
        Some(&standing),
        fresh(),
        Some("acc_boss"),
        DAY,
        NOW,
    )
    .expect("created");
    assert_eq!(plan.output.expires_at, NOW.plus(DAY));
    assert_eq!(plan.output.org_role.as_deref(), Some("member"));
    assert_eq!(plan.output.state, InvitationState::Open);
    assert_eq!(
        writes(&plan),
        [
            ("check", RecordKind::Organization, "org_1".into(), 2),
            ("check", RecordKind::Membership, "org_1/acc_boss".into(), 5),
            ("insert", RecordKind::Invitation, "inv_1".into(), 0),
        ]
    );
    let Write::Insert(record) = &plan.commit.writes[2] else {
        panic!("insert")
    };
    assert_eq!(record.lookup.as_deref(), Some("hash"));
    assert!(
        !record.body.contains("hash"),
        "the body holds no secret hash"
    );
    assert_eq!(audit_kinds(&plan), [AuditKind::InvitationCreated]);
    // Naming an organization that was not found.
    assert!(matches!(
        create_invitation(&new, &inviter, None, fresh(), Some("acc_boss"), DAY, NOW),
        Err(Error::NotFound(Missing::Organization))
    ));
}

#[test]
fn status_tells_valid_expired_used_revoked_and_unknown_apart() {
    assert_eq!(status(None, NOW), InvitationStatus::Unknown);
    assert!(matches!(
        status(Some(&open()), NOW),
        InvitationStatus::Valid(_)
    ));
    let expiring = invitation(InvitationState::Open, NOW);
    assert_eq!(status(Some(&expiring), NOW), InvitationStatus::Expired);
    assert!(matches!(
        status(Some(&expiring), NOW.minus(Duration::from_millis(1))),
        InvitationStatus::Valid(_)
    ));
    let used = InvitationState::Used {
        account_id: "acc_x".into(),
        at: NOW,
    };
    assert_eq!(
        status(Some(&invitation(used, NOW.plus(DAY))), NOW),
        InvitationStatus::Used
    );
    let revoked = InvitationState::Revoked { at: NOW };
    assert_eq!(
        status(Some(&invitation(revoked, NOW.plus(DAY))), NOW),
        InvitationStatus::Revoked
    );
}

#[test]
fn acceptance_creates_the_account_with_the_preset_roles_and_uses_the_invitation_once() {
    let plan = accept(Some(read(&open())), None);
    let Acceptance::Accepted(account) = &plan.output else {
        panic!("accepted: {:?}", plan.output)
    };
    assert_eq!(account.username, "friend");
    assert_eq!(account.roles, set(&["reports"]));
    assert_eq!(
        writes(&plan),
        [
            ("insert", RecordKind::Account, "acc_new".into(), 0),
            ("update", RecordKind::Invitation, "inv_1".into(), 3),
        ]
    );
    assert_eq!(
        audit_kinds(&plan),
        [AuditKind::AccountCreated, AuditKind::InvitationUsed]
    );
    let Write::Update { record, .. } = &plan.commit.writes[1] else {
        panic!("update")
    };
    let used: Invitation = crate::record_body::from_body(&record.body).expect("body");
    assert_eq!(
        used.state,
        InvitationState::Used {
            account_id: "acc_new".into(),
            at: NOW
        }
    );
    assert_eq!(
        record.lookup.as_deref(),
        Some("hash"),
        "still found by its secret"
    );
    // The used invitation, read again, is refused and the refusal audited.
    let mut again = read(&used);
    again.0.version = 4;
    let plan = accept(Some(again), None);
    assert_eq!(refused_as(&plan), Some(&InvitationStatus::Used));
    assert!(writes(&plan).is_empty());
    assert_eq!(audit_kinds(&plan), [AuditKind::InvitationRefused]);
}

#[test]
fn an_expired_or_revoked_link_is_refused_and_audited_an_unknown_one_only_refused() {
    let expired = invitation(InvitationState::Open, NOW);
    let plan = accept(Some(read(&expired)), None);
    assert_eq!(refused_as(&plan), Some(&InvitationStatus::Expired));
    assert_eq!(audit_kinds(&plan), [AuditKind::InvitationRefused]);
    assert_eq!(
        plan.commit.audit[0]
            .detail
            .get("reason")
            .map(String::as_str),
        Some("expired")
    );
    let revoked = invitation(InvitationState::Revoked { at: NOW }, NOW.plus(DAY));
    let plan = accept(Some(read(&revoked)), None);
    assert_eq!(refused_as(&plan), Some(&InvitationStatus::Revoked));
    assert!(writes(&plan).is_empty());
    let plan = accept(None, None);
    assert_eq!(refused_as(&plan), Some(&InvitationStatus::Unknown));
    assert!(plan.commit.audit.is_empty());
}

#[test]
fn acceptance_re_derives_the_creators_authority() {
    let inviter_roles = vec!["inviter".to_owned()];
    let creator = |roles: &[&str], disabled: bool| {
        let (record, mut account) = fixtures::account("acc_boss", AccountKind::Human, roles);
        account.disabled = disabled;
        (record, account)
    };
    let cases = [
        (creator(&["inviter", "reports"], false), true),
        (creator(&["admin"], false), true),
        (creator(&["reports"], false), false),
        (creator(&["inviter"], false), false),
        (creator(&["inviter", "reports"], true), false),
    ];
    for (account, accepted) in &cases {
        let standing = CreatorStanding {
            account: Some(account),
            inviter_roles: &inviter_roles,
        };
        let plan = accept(Some(read(&open())), Some(&standing));
        assert_eq!(
            matches!(plan.output, Acceptance::Accepted(_)),
            *accepted,
            "{account:?}"
        );
        if *accepted {
            assert!(writes(&plan).contains(&("check", RecordKind::Account, "acc_boss".into(), 4)));
        } else {
            assert_eq!(audit_kinds(&plan), [AuditKind::InvitationRefused]);
        }
    }
    let gone = CreatorStanding {
        account: None,
        inviter_roles: &inviter_roles,
    };
    let plan = accept(Some(read(&open())), Some(&gone));
    assert_eq!(refused_as(&plan), Some(&InvitationStatus::Revoked));
}

#[test]
fn acceptance_into_an_organization_inserts_both_membership_records() {
    let mut i = open();
    i.org_id = Some("org_1".into());
    i.org_role = Some("dev".into());
    let org = fixtures::record(RecordKind::Organization, "org_1", 2, &"org");
    let config = fixtures::config();
    let acting = Acting {
        actor: None,
        now: NOW,
        cutoff: NOW,
        config: &config,
    };
    let plan =
        accept_invitation(Some(read(&i)), Some(&org), None, newcomer(), acting).expect("decides");
    assert_eq!(
        writes(&plan),
        [
            ("insert", RecordKind::Account, "acc_new".into(), 0),
            ("check", RecordKind::Organization, "org_1".into(), 2),
            ("insert", RecordKind::Membership, "org_1/acc_new".into(), 0),
            (
                "insert",
                RecordKind::MembershipByAccount,
                "acc_new/org_1".into(),
                0
            ),
            ("update", RecordKind::Invitation, "inv_1".into(), 3),
        ]
    );
    // Its organization gone: nothing is created.
    let acting = Acting {
        actor: None,
        now: NOW,
        cutoff: NOW,
        config: &config,
    };
    assert!(matches!(
        accept_invitation(Some(read(&i)), None, None, newcomer(), acting),
        Err(Error::NotFound(Missing::Organization))
    ));
}

#[test]
fn revocation_closes_an_open_invitation_and_leaves_a_closed_one() {
    let (record, i) = read(&open());
    let plan = revoke_invitation(&record, i, Some("acc_admin"), NOW).expect("revoked");
    assert_eq!(plan.output.state, InvitationState::Revoked { at: NOW });
    assert_eq!(
        writes(&plan),
        [("update", RecordKind::Invitation, "inv_1".into(), 3)]
    );
    assert_eq!(audit_kinds(&plan), [AuditKind::InvitationRevoked]);
    let used = invitation(
        InvitationState::Used {
            account_id: "acc_x".into(),
            at: NOW,
        },
        NOW.plus(DAY),
    );
    let (record, i) = read(&used);
    let plan = revoke_invitation(&record, i, Some("acc_admin"), NOW).expect("no-op");
    assert!(writes(&plan).is_empty() && plan.commit.audit.is_empty());
}
