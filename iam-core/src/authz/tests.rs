//! The permission table, cell by cell: every action against every credential kind, for an
//! admin acting on another account and for an ordinary user acting on itself.

use std::time::Duration;

use super::*;

const NOW: i64 = 1_000_000;
const WINDOW: Duration = Duration::from_secs(300);

/// One column of the table: a credential kind, with or without the management scope.
#[derive(Clone, Copy, Debug)]
struct Column {
    kind: CredentialKind,
    manage: bool,
}

const COLUMNS: [Column; 9] = [
    Column {
        kind: CredentialKind::Session,
        manage: false,
    },
    Column {
        kind: CredentialKind::ServiceToken,
        manage: false,
    },
    Column {
        kind: CredentialKind::ApiToken,
        manage: false,
    },
    Column {
        kind: CredentialKind::ApiToken,
        manage: true,
    },
    Column {
        kind: CredentialKind::OAuthUser,
        manage: false,
    },
    Column {
        kind: CredentialKind::OAuthUser,
        manage: true,
    },
    Column {
        kind: CredentialKind::ClientCredentials,
        manage: false,
    },
    Column {
        kind: CredentialKind::ClientCredentials,
        manage: true,
    },
    Column {
        kind: CredentialKind::OrgToken,
        manage: false,
    },
];

fn principal(col: Column, account: &str, roles: &[&str], human: bool, auth_age: u64) -> Principal {
    let now = Timestamp::from_secs(NOW);
    let mut scopes: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    if col.manage {
        scopes.push(MANAGEMENT_SCOPE.to_owned());
    }
    let delegated = col.kind.is_delegated();
    Principal {
        account_id: if col.kind == CredentialKind::ClientCredentials {
            "cli_1".into()
        } else {
            account.into()
        },
        kind: if human {
            AccountKind::Human
        } else {
            AccountKind::System
        },
        issued_at: now,
        expires_at: now.plus(Duration::from_secs(60)),
        auth_time: Timestamp::from_secs(NOW - i64::try_from(auth_age).unwrap_or(0)),
        scopes: if delegated { scopes } else { vec![] },
        org: (col.kind == CredentialKind::OrgToken).then(|| ("org_1".into(), "member".into())),
        client_id: matches!(
            col.kind,
            CredentialKind::OAuthUser | CredentialKind::ClientCredentials
        )
        .then(|| "cli_1".into()),
        actor: (col.kind == CredentialKind::ClientCredentials).then(|| account.into()),
        ..crate::fixtures::principal(account, col.kind, roles)
    }
}

/// `Y` allowed, `-` denied; one character per column of [`COLUMNS`].
fn expect(row: &str) -> Vec<bool> {
    let cells: Vec<bool> = row
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c == 'Y')
        .collect();
    assert_eq!(cells.len(), COLUMNS.len(), "row {row:?}");
    cells
}

fn run(name: &str, action: Action<'_>, p: impl Fn(Column) -> Principal, row: &str) {
    for (col, allowed) in COLUMNS.iter().zip(expect(row)) {
        let got = authorize(&p(*col), action, Timestamp::from_secs(NOW), WINDOW);
        assert_eq!(
            got.is_ok(),
            allowed,
            "{name} with {col:?}: expected {}, got {got:?}",
            if allowed { "allowed" } else { "denied" }
        );
    }
}

//                    Ses Svc Api Api+ OAu OAu+ CC CC+ Org
const ADMIN_ONLY: &str = "Y Y - Y - Y - Y -";

#[test]
fn an_admin_acting_on_another_account() {
    // A freshly authenticated admin, human, holding the role of the service account too.
    let admin = |c| principal(c, "acc_admin", &[ADMIN_ROLE, "svc"], true, 0);
    let other = "acc_other";
    let rows: Vec<(&str, Action<'_>, &str)> = vec![
        ("create account", Action::CreateAccount, ADMIN_ONLY),
        ("list accounts", Action::ListAccounts, ADMIN_ONLY),
        (
            "manage account",
            Action::ManageAccount { account: other },
            ADMIN_ONLY,
        ),
        ("rotate key", Action::RotateSigningKey, ADMIN_ONLY),
        ("read audit", Action::ReadAudit, ADMIN_ONLY),
        ("export audit", Action::ExportAudit, ADMIN_ONLY),
        ("list clients", Action::ListClients, ADMIN_ONLY),
        (
            "revoke service token",
            Action::RevokeServiceToken,
            ADMIN_ONLY,
        ),
        (
            "store db credentials",
            Action::StoreDbCredentials,
            ADMIN_ONLY,
        ),
        (
            "read account",
            Action::ReadAccount { account: other },
            ADMIN_ONLY,
        ),
        (
            "revoke credentials",
            Action::RevokeCredentials { account: other },
            ADMIN_ONLY,
        ),
        (
            "schedule deletion",
            Action::ScheduleDeletion { account: other },
            ADMIN_ONLY,
        ),
        (
            "remove totp",
            Action::RemoveTotp { account: other },
            ADMIN_ONLY,
        ),
        (
            "update another's profile",
            Action::UpdateProfile { account: other },
            ADMIN_ONLY,
        ),
        (
            "change own name (admin)",
            Action::ChangeOwnName,
            "Y - - - - - - - -",
        ),
        (
            "enrol totp for another",
            Action::EnrolTotp { account: other },
            "- - - - - - - - -",
        ),
        (
            "issue service token",
            Action::IssueServiceToken {
                service_role: "svc",
            },
            ADMIN_ONLY,
        ),
        (
            "fetch db credentials",
            Action::FetchDbCredentials {
                service_account: "acc_svc",
                service_role: "svc",
            },
            ADMIN_ONLY,
        ),
        (
            "register first-party client",
            Action::RegisterClient {
                first_party: true,
                acts_for_owner: false,
            },
            "Y Y - Y - Y - - -",
        ),
        (
            "manage another's client",
            Action::ManageClient { owner: Some(other) },
            ADMIN_ONLY,
        ),
        (
            "manage an ownerless client",
            Action::ManageClient { owner: None },
            ADMIN_ONLY,
        ),
        (
            "read organization",
            Action::ReadOrganization { member: false },
            ADMIN_ONLY,
        ),
        (
            "manage organization",
            Action::ManageOrganization { owner: false },
            ADMIN_ONLY,
        ),
        (
            "answer another's invitation",
            Action::AnswerInvitation { account: other },
            "- - - - - - - - -",
        ),
        ("invite", Action::Invite { inviter: false }, ADMIN_ONLY),
        (
            "invite as inviter",
            Action::Invite { inviter: true },
            ADMIN_ONLY,
        ),
        (
            "revoke another's invitation",
            Action::RevokeInvitation {
                creator: Some(other),
            },
            ADMIN_ONLY,
        ),
        (
            "revoke an invitation of the application",
            Action::RevokeInvitation { creator: None },
            ADMIN_ONLY,
        ),
        (
            "register a passkey for another",
            Action::RegisterPasskey { account: other },
            "- - - - - - - - -",
        ),
        (
            "manage another's passkeys",
            Action::ManagePasskeys { account: other },
            ADMIN_ONLY,
        ),
        (
            "answer elevation",
            Action::AnswerElevation {
                requester: other,
                approver_role: ADMIN_ROLE,
            },
            "Y - - - - - - - -",
        ),
        (
            "list elevation requests",
            Action::ListElevationRequests,
            "Y - - - - - - - -",
        ),
        (
            "approve delegation",
            Action::ApproveDelegation,
            "Y - - - - - - - -",
        ),
    ];
    for (name, action, row) in rows {
        run(name, action, admin, row);
    }
}

#[test]
fn an_ordinary_user_acting_on_itself() {
    let me = "acc_me";
    // Authenticated just now; holds the role `reports` only.
    let fresh = |c| principal(c, me, &["reports"], true, 0);
    // Authenticated an hour ago.
    let stale = |c| principal(c, me, &["reports"], true, 3600);
    let fresh_rows: Vec<(&str, Action<'_>, &str)> = vec![
        ("create account", Action::CreateAccount, "- - - - - - - - -"),
        (
            "manage own account",
            Action::ManageAccount { account: me },
            "- - - - - - - - -",
        ),
        ("read audit", Action::ReadAudit, "- - - - - - - - -"),
        ("export audit", Action::ExportAudit, "- - - - - - - - -"),
        (
            "read own account",
            Action::ReadAccount { account: me },
            "Y Y - Y - Y - - -",
        ),
        (
            "revoke own credentials",
            Action::RevokeCredentials { account: me },
            "Y - - - - - - - -",
        ),
        (
            "schedule own deletion",
            Action::ScheduleDeletion { account: me },
            "Y - - - - - - - -",
        ),
        (
            "remove own totp",
            Action::RemoveTotp { account: me },
            "Y - - - - - - - -",
        ),
        (
            "enrol own totp",
            Action::EnrolTotp { account: me },
            "Y - - - - - - - -",
        ),
        (
            "register own passkey",
            Action::RegisterPasskey { account: me },
            "Y - - - - - - - -",
        ),
        (
            "manage own passkeys",
            Action::ManagePasskeys { account: me },
            "Y - - - - - - - -",
        ),
        (
            "change own password",
            Action::ChangeOwnPassword,
            "Y - - - - - - - -",
        ),
        (
            "change own name",
            Action::ChangeOwnName,
            "Y - - - - - - - -",
        ),
        (
            "update own profile",
            Action::UpdateProfile { account: me },
            "- - - - - - - - -",
        ),
        (
            "api token with roles",
            Action::CreateApiToken {
                carries_roles: true,
            },
            "Y - - - - - - - -",
        ),
        (
            "api token without roles",
            Action::CreateApiToken {
                carries_roles: false,
            },
            "Y - - - - - - - -",
        ),
        (
            "issue service token (holder)",
            Action::IssueServiceToken {
                service_role: "reports",
            },
            "Y Y - Y - Y - Y -",
        ),
        (
            "issue service token (not holder)",
            Action::IssueServiceToken {
                service_role: "svc",
            },
            "- - - - - - - - -",
        ),
        (
            "renew service token",
            Action::RenewServiceToken,
            "- Y - - - - - - -",
        ),
        (
            "fetch db credentials (holder)",
            Action::FetchDbCredentials {
                service_account: "acc_svc",
                service_role: "reports",
            },
            "Y Y - Y - Y - Y -",
        ),
        (
            "fetch own db credentials",
            Action::FetchDbCredentials {
                service_account: me,
                service_role: "nobody",
            },
            "- Y - - - - - - -",
        ),
        (
            "register own acting client",
            Action::RegisterClient {
                first_party: false,
                acts_for_owner: true,
            },
            "Y Y - Y - Y - - -",
        ),
        (
            "register a client for everyone",
            Action::RegisterClient {
                first_party: false,
                acts_for_owner: false,
            },
            "- - - - - - - - -",
        ),
        (
            "manage own client",
            Action::ManageClient { owner: Some(me) },
            "Y Y - Y - Y - - -",
        ),
        (
            "manage another's client",
            Action::ManageClient {
                owner: Some("acc_x"),
            },
            "- - - - - - - - -",
        ),
        ("elevate", Action::Elevate, "Y - - - - - - - -"),
        (
            "answer own elevation",
            Action::AnswerElevation {
                requester: me,
                approver_role: "reports",
            },
            "- - - - - - - - -",
        ),
        (
            "answer elevation without the approver role",
            Action::AnswerElevation {
                requester: "acc_x",
                approver_role: ADMIN_ROLE,
            },
            "- - - - - - - - -",
        ),
        (
            "answer another's elevation",
            Action::AnswerElevation {
                requester: "acc_x",
                approver_role: "reports",
            },
            "Y - - - - - - - -",
        ),
        (
            "approve delegation",
            Action::ApproveDelegation,
            "Y - - - - - - - -",
        ),
        (
            "create organization",
            Action::CreateOrganization,
            "Y Y - Y - Y - Y -",
        ),
        (
            "read own organization",
            Action::ReadOrganization { member: true },
            "Y Y - Y - Y - Y -",
        ),
        (
            "read another organization",
            Action::ReadOrganization { member: false },
            "- - - - - - - - -",
        ),
        (
            "manage owned organization",
            Action::ManageOrganization { owner: true },
            "Y Y - Y - Y - Y -",
        ),
        (
            "answer own invitation",
            Action::AnswerInvitation { account: me },
            "Y - - - - - - - -",
        ),
        ("org token", Action::OrgToken, "Y Y - - - - - - -"),
        (
            "invite without an inviter role",
            Action::Invite { inviter: false },
            "- - - - - - - - -",
        ),
        (
            "invite as inviter",
            Action::Invite { inviter: true },
            "Y Y - Y - Y - Y -",
        ),
        (
            "revoke own invitation",
            Action::RevokeInvitation { creator: Some(me) },
            "Y Y - Y - Y - - -",
        ),
        (
            "revoke another's invitation",
            Action::RevokeInvitation {
                creator: Some("acc_x"),
            },
            "- - - - - - - - -",
        ),
        (
            "revoke an invitation of the application",
            Action::RevokeInvitation { creator: None },
            "- - - - - - - - -",
        ),
    ];
    for (name, action, row) in fresh_rows {
        run(name, action, fresh, row);
    }
    let stale_rows: Vec<(&str, Action<'_>, &str)> = vec![
        (
            "schedule own deletion, stale",
            Action::ScheduleDeletion { account: me },
            "- - - - - - - - -",
        ),
        (
            "remove own totp, stale",
            Action::RemoveTotp { account: me },
            "- - - - - - - - -",
        ),
        (
            "enrol own totp, stale",
            Action::EnrolTotp { account: me },
            "- - - - - - - - -",
        ),
        (
            "register own passkey, stale",
            Action::RegisterPasskey { account: me },
            "- - - - - - - - -",
        ),
        (
            "manage own passkeys, stale",
            Action::ManagePasskeys { account: me },
            "- - - - - - - - -",
        ),
        (
            "api token with roles, stale",
            Action::CreateApiToken {
                carries_roles: true,
            },
            "- - - - - - - - -",
        ),
        (
            "api token without roles, stale",
            Action::CreateApiToken {
                carries_roles: false,
            },
            "Y - - - - - - - -",
        ),
        (
            "change own name, stale",
            Action::ChangeOwnName,
            "Y - - - - - - - -",
        ),
        (
            "revoke own credentials, stale",
            Action::RevokeCredentials { account: me },
            "Y - - - - - - - -",
        ),
    ];
    for (name, action, row) in stale_rows {
        run(name, action, stale, row);
    }
}

#[test]
fn denials_say_why() {
    let now = Timestamp::from_secs(NOW);
    let session = Column {
        kind: CredentialKind::Session,
        manage: false,
    };
    let api = Column {
        kind: CredentialKind::ApiToken,
        manage: false,
    };
    let stale = principal(session, "acc_me", &[], true, 3600);
    assert_eq!(
        authorize(
            &stale,
            Action::ScheduleDeletion { account: "acc_me" },
            now,
            WINDOW
        ),
        Err(Denial::RecentAuthenticationRequired { max_age: WINDOW })
    );
    let admin_api = principal(api, "acc_a", &[ADMIN_ROLE], true, 0);
    assert_eq!(
        authorize(&admin_api, Action::CreateAccount, now, WINDOW),
        Err(Denial::MissingScope(MANAGEMENT_SCOPE.into()))
    );
    let user = principal(session, "acc_me", &[], true, 0);
    assert_eq!(
        authorize(&user, Action::ReadAccount { account: "acc_x" }, now, WINDOW),
        Err(Denial::NotPermitted)
    );
    assert_eq!(
        authorize(
            &user,
            Action::AnswerElevation {
                requester: "acc_me",
                approver_role: "x"
            },
            now,
            WINDOW
        ),
        Err(Denial::SelfApproval)
    );
    let machine = principal(session, "acc_m", &[ADMIN_ROLE], false, 0);
    assert_eq!(
        authorize(&machine, Action::ApproveDelegation, now, WINDOW),
        Err(Denial::WrongTokenKind),
        "only people approve"
    );
}

#[test]
fn profile_denials_say_why() {
    let now = Timestamp::from_secs(NOW);
    let col = |kind, manage| Column { kind, manage };
    let update = Action::UpdateProfile { account: "acc_x" };
    let cases = [
        // An admin's delegated credential without the management scope.
        (
            principal(
                col(CredentialKind::ApiToken, false),
                "acc_a",
                &[ADMIN_ROLE],
                true,
                0,
            ),
            update,
            Err(Denial::MissingScope(MANAGEMENT_SCOPE.into())),
        ),
        (
            principal(
                col(CredentialKind::OAuthUser, true),
                "acc_a",
                &[ADMIN_ROLE],
                true,
                0,
            ),
            update,
            Ok(()),
        ),
        (
            principal(col(CredentialKind::Session, false), "acc_me", &[], true, 0),
            Action::UpdateProfile { account: "acc_me" },
            Err(Denial::MissingRole(ADMIN_ROLE.into())),
        ),
        (
            principal(
                col(CredentialKind::OrgToken, false),
                "acc_a",
                &[ADMIN_ROLE],
                true,
                0,
            ),
            update,
            Err(Denial::WrongTokenKind),
        ),
        // One's own name: a session only, even with the management scope.
        (
            principal(
                col(CredentialKind::ApiToken, true),
                "acc_me",
                &[ADMIN_ROLE],
                true,
                0,
            ),
            Action::ChangeOwnName,
            Err(Denial::WrongTokenKind),
        ),
        (
            principal(col(CredentialKind::OAuthUser, true), "acc_me", &[], true, 0),
            Action::ChangeOwnName,
            Err(Denial::WrongTokenKind),
        ),
    ];
    for (p, action, want) in cases {
        assert_eq!(authorize(&p, action, now, WINDOW), want, "{action:?} {p:?}");
    }
}

#[test]
fn client_scopes_follow_the_registrar() {
    let session = Column {
        kind: CredentialKind::Session,
        manage: false,
    };
    let user = principal(session, "acc_me", &["reports"], true, 0);
    let admin = principal(session, "acc_a", &[ADMIN_ROLE], true, 0);
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
    assert_eq!(
        check_client_scopes(&user, false, &s(&["reports", "openid"])),
        Ok(())
    );
    assert_eq!(
        check_client_scopes(&user, false, &s(&["admin"])),
        Err(Denial::MissingRole("admin".into()))
    );
    assert_eq!(
        check_client_scopes(&user, false, &s(&[MANAGEMENT_SCOPE])),
        Err(Denial::NotPermitted)
    );
    assert_eq!(
        check_client_scopes(&admin, false, &s(&["anything"])),
        Ok(())
    );
    assert_eq!(
        check_client_scopes(&admin, false, &s(&[MANAGEMENT_SCOPE])),
        Err(Denial::NotPermitted)
    );
    assert_eq!(
        check_client_scopes(&admin, true, &s(&[MANAGEMENT_SCOPE])),
        Ok(())
    );
}

#[test]
fn kinds_have_stable_names() {
    let names: Vec<&str> = CredentialKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "session",
            "service_token",
            "api_token",
            "oauth_user",
            "client_credentials",
            "org_token"
        ]
    );
}

#[test]
fn userinfo_needs_a_user_delegated_token_with_openid() {
    let with_openid = |c: Column| {
        let mut p = principal(c, "acc_me", &["reports"], true, 0);
        p.scopes.push(OPENID_SCOPE.to_owned());
        p
    };
    //                                                  Ses Svc Api Api+ OAu OAu+ CC CC+ Org
    run(
        "userinfo with openid",
        Action::ReadUserInfo,
        with_openid,
        "- - - - Y Y - - -",
    );
    let without = |c: Column| principal(c, "acc_me", &["reports"], true, 0);
    run(
        "userinfo without openid",
        Action::ReadUserInfo,
        without,
        "- - - - - - - - -",
    );
    let p = without(COLUMNS[4]);
    assert_eq!(
        authorize(&p, Action::ReadUserInfo, Timestamp::from_secs(NOW), WINDOW),
        Err(Denial::MissingScope(OPENID_SCOPE.to_owned()))
    );
}
