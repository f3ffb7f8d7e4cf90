//! The device authorization grant (RFC 8628), outside the token endpoint: starting a device
//! authorization, and the logged-in user looking it up, approving or denying it.

use super::consent::widen_consent;
use super::{unchanged, Answer, NewSecret};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::config::OAuthConfig;
use crate::error::{Denial, Error, Missing, Result};
use crate::oauth::client::StoredClient;
use crate::oauth::device::{format_user_code, DeviceApproval, DeviceStatus, StoredDevice};
use crate::oauth::grant::OAuthConsent;
use crate::oauth::response::form_encode;
use crate::oauth::scope::{decide_resources, decide_scope, format_scope};
use crate::oauth::{DeviceAuthorizationResponse, DevicePrompt, GrantType};
use crate::plan::Plan;
use crate::session::Session;
use crate::store::{Commit, Record, RecordKind, Write};
use crate::token::Principal;

/// The codes drawn for a device authorization: the device code (secret, with its keyed
/// hash) and a normalized user code.
#[derive(Debug)]
pub(crate) struct DeviceCodes {
    /// The device code the client polls with.
    pub device: NewSecret,
    /// The code the user types.
    pub user_code: String,
}

/// Starts a device authorization (RFC 8628 §3.1-§3.2) for the authenticated `client` (read
/// as `record`), which must be allowed the device grant, for the requested `scope` and
/// `resource`. The plan inserts the authorization under its user code (a taken user code
/// fails the commit as a duplicate; the caller draws again) and is guarded by the client.
pub(crate) fn decide_device_authorization(
    (record, client): &(Record, StoredClient),
    (scope, resource): (Option<&str>, &[String]),
    codes: DeviceCodes,
    cfg: &OAuthConfig,
    now: Timestamp,
) -> Result<Plan<Answer<DeviceAuthorizationResponse>>> {
    let checked = super::clients::allow_grant(&client.info, GrantType::DeviceCode)
        .and_then(|()| decide_scope(scope, &client.info.scopes, &client.info.scopes))
        .and_then(|s| Ok((s, decide_resources(resource, &client.info.resources)?)));
    let (scopes, resources) = match checked {
        Ok(x) => x,
        Err(e) => return Ok(Plan::new(Err(e))),
    };
    let stored = StoredDevice {
        client_id: client.info.id.clone(),
        user_code: codes.user_code.clone(),
        scopes,
        resources,
        created_at: now,
        expires_at: now.plus(cfg.device_code_ttl),
        interval_secs: cfg.device_poll_interval.as_secs().max(1),
        last_poll: None,
        status: DeviceStatus::Pending,
    };
    let device_record = Record {
        kind: RecordKind::DeviceCode,
        id: codes.device.hash,
        version: 0,
        parent: Some(client.info.id.clone()),
        lookup: Some(codes.user_code.clone()),
        // Kept past expiry so late polls still hear `expired_token`, not `invalid_grant`.
        expires_at: Some(stored.expires_at.plus(cfg.device_code_ttl)),
        body: crate::record_body::to_body(&stored)?,
    };
    let shown = format_user_code(&codes.user_code);
    let sep = if cfg.verification_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let response = DeviceAuthorizationResponse {
        device_code: codes.device.secret,
        verification_uri_complete: format!(
            "{}{sep}user_code={}",
            cfg.verification_uri,
            form_encode(&shown)
        ),
        user_code: shown,
        verification_uri: cfg.verification_uri.clone(),
        expires_in: cfg.device_code_ttl.as_secs(),
        interval: stored.interval_secs,
    };
    Ok(Plan::new(Ok(response))
        .write(Write::Insert(device_record))
        .write(unchanged(record)))
}

/// The device authorization found by a user code (`found`), if it is still pending at
/// `now`; anything else is [`Missing::DeviceAuthorization`].
pub(crate) fn pending_device(
    found: Option<Record>,
    now: Timestamp,
) -> Result<(Record, StoredDevice)> {
    let record = found.ok_or(Error::NotFound(Missing::DeviceAuthorization))?;
    let device: StoredDevice = crate::record_body::from_body(&record.body)?;
    if device.status != DeviceStatus::Pending || now >= device.expires_at {
        return Err(Error::NotFound(Missing::DeviceAuthorization));
    }
    Ok((record, device))
}

/// What the verification page shows for a pending `device` of `client` (as read by the
/// device's client id; gone, the authorization is too).
pub(crate) fn device_prompt(
    device: StoredDevice,
    client: Option<StoredClient>,
    registered_by: Option<String>,
) -> Result<DevicePrompt> {
    let client = client.ok_or(Error::NotFound(Missing::DeviceAuthorization))?;
    Ok(DevicePrompt {
        user_code: format_user_code(&device.user_code),
        client_id: client.info.id,
        client_name: client.info.name,
        scopes: device.scopes,
        registered_by,
    })
}

/// What settling a device authorization loaded about the user.
#[derive(Debug)]
pub(crate) struct Settler<'a> {
    /// The logged-in user (authorized by the caller).
    pub user: &'a Principal,
    /// The session their token names, as read.
    pub session: Option<(Record, Session)>,
    /// Their consent to the device's client, as read.
    pub consent: Option<(Record, OAuthConsent)>,
}

/// The user approves (`approve`) or denies the pending device authorization `device`. Only
/// from a live session of their own ([`Denial::SessionRevoked`] otherwise), which guards the
/// plan. Approval records who approved and widens the user's consent to the client.
pub(crate) fn decide_settle_device(
    (record, mut device): (Record, StoredDevice),
    settler: Settler<'_>,
    approve: bool,
    now: Timestamp,
) -> Result<Plan<()>> {
    let user = settler.user;
    let (session_record, session) = settler
        .session
        .filter(|(_, s)| {
            s.id == user.session_id && s.account_id == user.account_id && s.is_live(now)
        })
        .ok_or(Denial::SessionRevoked)?;
    let mut commit = Commit::default();
    let kind = if approve {
        device.status = DeviceStatus::Approved(DeviceApproval {
            account_id: user.account_id.clone(),
            session_id: session.id.clone(),
            auth_time: session.auth_time,
            amr: session.amr.clone(),
        });
        let existing = settler
            .consent
            .filter(|(_, c)| c.account_id == user.account_id && c.client_id == device.client_id);
        widen_consent(
            &mut commit,
            existing,
            &user.account_id,
            &device.client_id,
            &device.scopes,
            now,
        )?;
        AuditKind::OAuthDeviceApproved
    } else {
        device.status = DeviceStatus::Denied;
        AuditKind::OAuthDeviceDenied
    };
    commit.writes.push(Write::Update {
        record: Record {
            body: crate::record_body::to_body(&device)?,
            ..record.clone()
        },
        expected_version: record.version,
    });
    commit.writes.push(unchanged(&session_record));
    commit.audit.push(
        AuditDraft::new(kind, now)
            .actor(Some(&user.account_id))
            .account(&user.account_id)
            .session(&session.id)
            .detail("client_id", device.client_id.clone())
            .detail("scope", format_scope(&device.scopes)),
    );
    Ok(Plan { commit, output: () })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{
        audit_kinds, client, client_read, principal, secret, session_read, set, writes, written,
    };
    use super::*;
    use crate::oauth::OAuthErrorCode;
    use std::time::Duration;

    fn codes() -> DeviceCodes {
        DeviceCodes {
            device: secret("dev"),
            user_code: "BCDFGHJK".into(),
        }
    }

    #[test]
    fn device_authorizations_start_for_allowed_clients_and_scopes() {
        let now = Timestamp::from_secs(100);
        let cfg = OAuthConfig {
            verification_uri: "https://id.example/device?lang=en".into(),
            device_code_ttl: Duration::from_secs(600),
            device_poll_interval: Duration::from_secs(0),
            ..OAuthConfig::default()
        };
        let mut no_device = client_read("cli_1");
        no_device.1.info.grant_types.remove(&GrantType::DeviceCode);
        let api = ["https://api.example".to_owned()];
        let other = ["https://other.example".to_owned()];
        // (client, scope, resource, refusal)
        let cases: [(_, Option<&str>, &[String], Option<OAuthErrorCode>); 5] = [
            (client_read("cli_1"), None, &[], None),
            (client_read("cli_1"), Some("read"), &api, None),
            (
                no_device,
                None,
                &[],
                Some(OAuthErrorCode::UnauthorizedClient),
            ),
            (
                client_read("cli_1"),
                Some("admin"),
                &[],
                Some(OAuthErrorCode::InvalidScope),
            ),
            (
                client_read("cli_1"),
                None,
                &other,
                Some(OAuthErrorCode::InvalidTarget),
            ),
        ];
        for (c, scope, resource, refusal) in cases {
            let plan = decide_device_authorization(&c, (scope, resource), codes(), &cfg, now)
                .expect("plan");
            if let Some(code) = refusal {
                assert_eq!(plan.output.as_ref().map_err(|e| e.code).err(), Some(code));
                assert_eq!(plan.commit, Commit::default());
                continue;
            }
            let response = plan.output.as_ref().expect("started");
            assert_eq!(response.user_code, "BCDF-GHJK");
            assert_eq!(
                response.verification_uri_complete,
                "https://id.example/device?lang=en&user_code=BCDF-GHJK"
            );
            assert_eq!(response.device_code.expose(), "dev");
            assert_eq!((response.expires_in, response.interval), (600, 1));
            assert_eq!(
                writes(&plan),
                [
                    ("insert", RecordKind::DeviceCode, "hash-dev".to_owned(), 0),
                    ("check", RecordKind::OAuthClient, "cli_1".to_owned(), 3),
                ]
            );
            let record = match &plan.commit.writes[0] {
                Write::Insert(r) => r,
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(record.lookup.as_deref(), Some("BCDFGHJK"));
            assert_eq!(record.expires_at, Some(Timestamp::from_secs(1_300)));
            let stored: StoredDevice = written(&plan, RecordKind::DeviceCode, "hash-dev");
            assert_eq!(stored.status, DeviceStatus::Pending);
            assert_eq!(stored.expires_at, Timestamp::from_secs(700));
            let want = if scope.is_some() {
                set(&["read"])
            } else {
                set(&["read", "write"])
            };
            assert_eq!(stored.scopes, want);
            assert_eq!(stored.resources.len(), resource.len());
        }
    }

    fn device_record(status: DeviceStatus, expires: i64) -> Record {
        let d = StoredDevice {
            client_id: "cli_1".into(),
            user_code: "BCDFGHJK".into(),
            scopes: set(&["read"]),
            resources: set(&[]),
            created_at: Timestamp::from_secs(0),
            expires_at: Timestamp::from_secs(expires),
            interval_secs: 5,
            last_poll: None,
            status,
        };
        Record {
            kind: RecordKind::DeviceCode,
            id: "hash-dev".into(),
            version: 4,
            parent: Some("cli_1".into()),
            lookup: Some("BCDFGHJK".into()),
            expires_at: None,
            body: crate::record_body::to_body(&d).expect("body"),
        }
    }

    #[test]
    fn only_pending_unexpired_authorizations_are_found() {
        let now = Timestamp::from_secs(100);
        let issued = DeviceStatus::Issued {
            family_id: "ofm_1".into(),
        };
        let cases = [
            (Some(device_record(DeviceStatus::Pending, 600)), true),
            (Some(device_record(DeviceStatus::Pending, 100)), false),
            (Some(device_record(DeviceStatus::Denied, 600)), false),
            (Some(device_record(issued, 600)), false),
            (None, false),
        ];
        for (found, ok) in cases {
            match pending_device(found, now) {
                Ok((r, d)) => {
                    assert!(ok);
                    assert_eq!((r.version, d.user_code.as_str()), (4, "BCDFGHJK"));
                }
                Err(e) => {
                    assert!(!ok);
                    assert!(matches!(e, Error::NotFound(Missing::DeviceAuthorization)));
                }
            }
        }
    }

    #[test]
    fn the_prompt_names_the_client_and_scopes() {
        let (_, d) = pending_device(
            Some(device_record(DeviceStatus::Pending, 600)),
            Timestamp::from_secs(1),
        )
        .expect("pending");
        let cases = [(Some(client("cli_1")), true), (None, false)];
        for (c, ok) in cases {
            match device_prompt(d.clone(), c, Some("bob".into())) {
                Ok(p) => {
                    assert!(ok);
                    assert_eq!(p.user_code, "BCDF-GHJK");
                    assert_eq!(
                        (p.client_id.as_str(), p.client_name.as_str()),
                        ("cli_1", "app")
                    );
                    assert_eq!(p.scopes, set(&["read"]));
                    assert_eq!(p.registered_by.as_deref(), Some("bob"));
                }
                Err(e) => {
                    assert!(!ok);
                    assert!(matches!(e, Error::NotFound(Missing::DeviceAuthorization)));
                }
            }
        }
    }

    #[test]
    fn settling_needs_a_live_own_session_and_approval_records_consent() {
        let now = Timestamp::from_secs(1_000);
        let p = principal("acc_a", "ses_1");
        let mut revoked = session_read("ses_1", "acc_a");
        revoked.1.revoked_at = Some(Timestamp::from_secs(950));
        // (approve, session, settled)
        let cases = [
            (true, Some(session_read("ses_1", "acc_a")), true),
            (false, Some(session_read("ses_1", "acc_a")), true),
            (true, Some(session_read("ses_1", "acc_b")), false),
            (false, Some(revoked), false),
            (true, None, false),
        ];
        for (approve, session, settled) in cases {
            let device = pending_device(Some(device_record(DeviceStatus::Pending, 1_500)), now)
                .expect("pending");
            let settler = Settler {
                user: &p,
                session,
                consent: None,
            };
            let result = decide_settle_device(device, settler, approve, now);
            if !settled {
                assert!(matches!(result, Err(Error::Denied(Denial::SessionRevoked))));
                continue;
            }
            let plan = result.expect("plan");
            let stored: StoredDevice = written(&plan, RecordKind::DeviceCode, "hash-dev");
            let mut want_writes = vec![
                ("update", RecordKind::DeviceCode, "hash-dev".to_owned(), 4),
                ("check", RecordKind::Session, "ses_1".to_owned(), 2),
            ];
            if approve {
                assert_eq!(
                    stored.status,
                    DeviceStatus::Approved(DeviceApproval {
                        account_id: "acc_a".into(),
                        session_id: "ses_1".into(),
                        auth_time: Timestamp::from_secs(900),
                        amr: vec!["pwd".into()],
                    })
                );
                want_writes.insert(
                    0,
                    (
                        "insert",
                        RecordKind::OAuthConsent,
                        "acc_a/cli_1".to_owned(),
                        0,
                    ),
                );
                assert_eq!(
                    audit_kinds(&plan),
                    [AuditKind::OAuthConsentGiven, AuditKind::OAuthDeviceApproved]
                );
            } else {
                assert_eq!(stored.status, DeviceStatus::Denied);
                assert_eq!(audit_kinds(&plan), [AuditKind::OAuthDeviceDenied]);
            }
            assert_eq!(writes(&plan), want_writes);
        }
    }
}
