//! Invitations through the whole core over the in-memory store: creation, the link's status,
//! acceptance (once, even when raced), expiry, revocation and the inviter's role ceiling.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{login, PW};
use iam_core::audit::{AuditKind, AuditQuery};
use iam_core::store::Store;
use iam_core::{
    Caller, Denial, Error, InvitationAnswer, InvitationState, InvitationStatus, LoginRequest,
    NewAccount, NewInvitation, SecretString,
};

fn answer(username: &str) -> InvitationAnswer {
    InvitationAnswer {
        username: username.into(),
        password: SecretString::new(PW),
    }
}

fn invite(roles: &[&str]) -> NewInvitation {
    NewInvitation {
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        ..NewInvitation::default()
    }
}

async fn audited<S: Store, C: iam_core::Clock>(iam: &iam_core::Iam<S, C>) -> Vec<AuditKind> {
    iam.store()
        .audit(&AuditQuery::default())
        .await
        .expect("audit")
        .iter()
        .map(|e| e.draft.kind)
        .collect()
}

#[tokio::test]
async fn a_link_creates_one_account_with_the_preset_roles_and_then_is_used() {
    let (iam, _) = common::iam().await;
    iam.create_account(
        NewAccount::human("boss", PW).with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("admin");
    let admin = login(&iam, "boss").await;
    let created = iam
        .create_invitation((&admin).into(), &invite(&["reports"]))
        .await
        .expect("invite");
    let secret = created.secret.expose().to_owned();
    assert!(secret.starts_with("iam_inv_"));
    assert!(matches!(
        iam.invitation_status(&secret).await,
        Ok(InvitationStatus::Valid(i)) if i.id == created.invitation.id
    ));

    let account = iam
        .accept_invitation(&secret, &answer("friend"))
        .await
        .expect("accept");
    assert!(account.roles.contains("reports"));
    let friend = iam
        .login(&LoginRequest::password("friend", PW))
        .await
        .expect("the new account signs in");
    assert_eq!(friend.session.account_id, account.id);

    assert_eq!(
        iam.invitation_status(&secret).await.ok(),
        Some(InvitationStatus::Used)
    );
    assert!(matches!(
        iam.accept_invitation(&secret, &answer("second")).await,
        Err(Error::NotFound(_))
    ));
    let listed = iam.list_invitations((&admin).into()).await.expect("list");
    assert!(matches!(
        &listed[..],
        [i] if i.state == InvitationState::Used { account_id: account.id.clone(), at: i.created_at }
    ));
    let kinds = audited(&iam).await;
    for kind in [
        AuditKind::InvitationCreated,
        AuditKind::InvitationUsed,
        AuditKind::InvitationRefused,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
    assert!(iam.verify_audit_chain(Caller::System).await.is_ok());
}

#[tokio::test]
async fn two_concurrent_uses_create_exactly_one_account() {
    let (iam, _) = common::iam().await;
    let iam = Arc::new(iam);
    let created = iam
        .create_invitation(Caller::System, &invite(&[]))
        .await
        .expect("invite");
    let secret = created.secret.expose().to_owned();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let iam = Arc::clone(&iam);
        let secret = secret.clone();
        tasks.push(tokio::spawn(async move {
            iam.accept_invitation(&secret, &answer(&format!("racer{n}")))
                .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.expect("joined") {
            Ok(_) => won += 1,
            Err(Error::NotFound(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
    let accounts = iam
        .list_accounts(Caller::System, None, 100)
        .await
        .expect("accounts");
    assert_eq!(accounts.len(), 1);
}

#[tokio::test]
async fn an_expired_link_is_refused_and_the_refusal_audited() {
    let (iam, clock) = common::iam().await;
    let created = iam
        .create_invitation(
            Caller::System,
            &NewInvitation {
                ttl: Some(Duration::from_secs(3600)),
                ..NewInvitation::default()
            },
        )
        .await
        .expect("invite");
    let secret = created.secret.expose();
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        iam.invitation_status(secret).await.ok(),
        Some(InvitationStatus::Expired)
    );
    assert!(matches!(
        iam.accept_invitation(secret, &answer("late")).await,
        Err(Error::NotFound(_))
    ));
    assert!(audited(&iam).await.contains(&AuditKind::InvitationRefused));
    assert!(iam
        .list_accounts(Caller::System, None, 10)
        .await
        .expect("accounts")
        .is_empty());
    // A malformed or unknown secret is simply unknown.
    for bad in [
        "",
        "iam_inv_short",
        "iam_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(
            iam.invitation_status(bad).await.ok(),
            Some(InvitationStatus::Unknown)
        );
    }
}

#[tokio::test]
async fn a_revoked_link_is_refused() {
    let (iam, _) = common::iam().await;
    let created = iam
        .create_invitation(Caller::System, &invite(&[]))
        .await
        .expect("invite");
    let revoked = iam
        .revoke_invitation(Caller::System, &created.invitation.id)
        .await
        .expect("revoke");
    assert!(matches!(revoked.state, InvitationState::Revoked { .. }));
    assert_eq!(
        iam.invitation_status(created.secret.expose()).await.ok(),
        Some(InvitationStatus::Revoked)
    );
    assert!(iam
        .accept_invitation(created.secret.expose(), &answer("nope"))
        .await
        .is_err());
}

#[tokio::test]
async fn an_inviter_grants_only_roles_it_holds_and_sees_only_its_own_invitations() {
    let (iam, _) = common::iam_with(|c| c.inviter_roles = vec!["inviter".into()]).await;
    for (name, roles) in [
        ("boss", vec!["admin"]),
        ("host", vec!["inviter", "reports"]),
        ("plain", vec!["reports"]),
    ] {
        iam.create_account(
            NewAccount::human(name, PW).with_roles(roles),
            Caller::System,
        )
        .await
        .expect("account");
    }
    let (boss, host, plain) = (
        login(&iam, "boss").await,
        login(&iam, "host").await,
        login(&iam, "plain").await,
    );
    iam.create_invitation((&host).into(), &invite(&["reports"]))
        .await
        .expect("an inviter hands on a role it holds");
    for role in ["admin", "billing"] {
        assert!(matches!(
            iam.create_invitation((&host).into(), &invite(&[role])).await,
            Err(Error::Denied(Denial::MissingRole(r))) if r == role
        ));
    }
    assert!(matches!(
        iam.create_invitation((&plain).into(), &invite(&[])).await,
        Err(Error::Denied(Denial::MissingRole(_)))
    ));
    let mine = iam
        .create_invitation((&boss).into(), &invite(&["admin"]))
        .await
        .expect("an admin may invite an admin");
    assert_eq!(
        iam.list_invitations((&host).into())
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(
        iam.list_invitations((&boss).into())
            .await
            .expect("list")
            .len(),
        2
    );
    assert!(matches!(
        iam.revoke_invitation((&host).into(), &mine.invitation.id)
            .await,
        Err(Error::Denied(Denial::NotPermitted))
    ));
    assert!(matches!(
        iam.create_invitation(
            (&boss).into(),
            &NewInvitation {
                ttl: Some(Duration::from_secs(365 * 24 * 3600)),
                ..NewInvitation::default()
            }
        )
        .await,
        Err(Error::Invalid(_))
    ));
}

#[tokio::test]
async fn an_invitation_into_an_organization_makes_a_member() {
    let (iam, _) = common::iam().await;
    iam.create_account(
        NewAccount::human("boss", PW).with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("admin");
    let admin = login(&iam, "boss").await;
    let org = iam.create_organization(&admin, "crew").await.expect("org");
    let created = iam
        .create_invitation(
            (&admin).into(),
            &NewInvitation {
                org_id: Some(org.id.clone()),
                org_role: Some("dev".into()),
                ..NewInvitation::default()
            },
        )
        .await
        .expect("invite");
    let account = iam
        .accept_invitation(created.secret.expose(), &answer("newbie"))
        .await
        .expect("accept");
    let members = iam
        .memberships_of(Caller::System, &account.id)
        .await
        .expect("memberships");
    assert!(matches!(
        &members[..],
        [m] if m.org_id == org.id && m.role == "dev" && !m.pending
    ));
}
