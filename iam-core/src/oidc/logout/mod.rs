//! OpenID Connect Back-Channel Logout 1.0: when a login session ends, every client with a
//! `backchannel_logout_uri` that holds a grant from it is sent a signed Logout Token.
//!
//! - When a token family is opened for such a client, a [`RecordKind::LogoutSubscription`]
//!   (the family indexed by its login session) is written beside it.
//! - Every operation that ends a session (logout and session revocation, sign-out
//!   everywhere, disabling the account) consumes the session's subscriptions and, in the same
//!   commit, queues one [`RecordKind::LogoutDelivery`] per client (the outbox).
//! - The HTTP adapter polls [`crate::Iam::due_logout_deliveries`], POSTs each token, and
//!   reports with [`crate::Iam::logout_delivery_result`], which deletes the delivery (and
//!   audits it) or schedules the next attempt by [`retry_delay`].
//!
//! The outbox stores the Logout Token's facts, not the signed token: it is signed when it is
//! handed out for an attempt, so its short `exp` counts from the attempt (a token signed at
//! logout would have expired before the later retries), and the session-ending commit needs no
//! key loading or signing. The `jti` (the delivery id) stays the same across attempts, so a
//! relying party can recognize a repeat.

mod serve;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::error::Result;
use crate::plan::Plan;
use crate::store::{Record, RecordKind, Write};

pub use serve::LogoutOutcome;

/// The `events` member of a Logout Token (§2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The JWS `typ` of a Logout Token (§2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// How long a delivery handed out by [`crate::Iam::due_logout_deliveries`] is reserved for
/// the caller before another poller may take it.
pub(crate) const DELIVERY_LEASE: Duration = Duration::from_secs(60);

/// A family of a client with a back-channel logout URI, indexed by the login session that
/// approved it (record id `session/family`, parent the session).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::struct_field_names)] // three ids, named as everywhere else in the store
pub(crate) struct StoredSubscription {
    pub session_id: String,
    pub account_id: String,
    pub client_id: String,
}

/// The subscription record of `family_id` for `s`, kept until `expires_at` (the family's end).
pub(crate) fn subscription_record(
    s: &StoredSubscription,
    family_id: &str,
    expires_at: Timestamp,
) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::LogoutSubscription,
        id: format!("{}/{family_id}", s.session_id),
        version: 0,
        parent: Some(s.session_id.clone()),
        lookup: None,
        expires_at: Some(expires_at),
        body: crate::record_body::to_body(s)?,
    })
}

/// A Logout Token awaiting delivery (record id: the token's `jti`; parent: the client).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredDelivery {
    pub client_id: String,
    pub uri: String,
    /// The account (`sub`).
    pub account_id: String,
    /// The login session (`sid`).
    pub session_id: String,
    pub created_at: Timestamp,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: Timestamp,
}

/// A Logout Token to POST now, handed out by [`crate::Iam::due_logout_deliveries`].
#[derive(Clone, PartialEq, Eq)]
pub struct LogoutDelivery {
    /// The delivery id (the token's `jti`), for [`crate::Iam::logout_delivery_result`].
    pub id: String,
    /// The client it is for.
    pub client_id: String,
    /// Its `backchannel_logout_uri`.
    pub uri: String,
    /// The signed Logout Token, the `logout_token` form parameter.
    pub logout_token: String,
    /// Which attempt this is (1 for the first).
    pub attempt: u32,
}

impl fmt::Debug for LogoutDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutDelivery")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("uri", &self.uri)
            .field("logout_token", &"<redacted>")
            .field("attempt", &self.attempt)
            .finish()
    }
}

/// How long to wait after failed attempt number `attempts` (1-based) before the next one,
/// given the configured `delays`; `None` once they are used up (give up).
pub fn retry_delay(delays: &[Duration], attempts: u32) -> Option<Duration> {
    let i = usize::try_from(attempts.checked_sub(1)?).ok()?;
    delays.get(i).copied()
}

/// When a delivery queued at `now` may be pruned: after every retry and a lease each, with an
/// hour to spare.
fn delivery_expiry(delays: &[Duration], now: Timestamp) -> Timestamp {
    let total: Duration = delays.iter().sum::<Duration>()
        + DELIVERY_LEASE * u32::try_from(delays.len() + 1).unwrap_or(u32::MAX)
        + Duration::from_secs(3600);
    now.plus(total)
}

/// The record of delivery `id`.
pub(crate) fn delivery_record(
    id: &str,
    d: &StoredDelivery,
    expires_at: Timestamp,
) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::LogoutDelivery,
        id: id.to_owned(),
        version: 0,
        parent: Some(d.client_id.clone()),
        lookup: None,
        expires_at: Some(expires_at),
        body: crate::record_body::to_body(d)?,
    })
}

/// Adds to `plan` the back-channel logouts of ended sessions: every subscription in `subs`
/// is consumed (deleted at the version read), and one delivery is queued per (session,
/// client) whose client still has a back-channel URI in `uris` (client id → URI), with ids
/// drawn from `ids`. The first attempt is due at once.
pub(crate) fn enqueue_logouts<T>(
    mut plan: Plan<T>,
    subs: Vec<(Record, StoredSubscription)>,
    uris: &BTreeMap<String, String>,
    ids: &mut dyn FnMut() -> String,
    delays: &[Duration],
    now: Timestamp,
) -> Result<Plan<T>> {
    let mut queued = BTreeSet::new();
    for (record, s) in subs {
        plan = plan.write(Write::Delete {
            kind: RecordKind::LogoutSubscription,
            id: record.id.clone(),
            expected_version: record.version,
        });
        let Some(uri) = uris.get(&s.client_id) else {
            continue;
        };
        if !queued.insert((s.session_id.clone(), s.client_id.clone())) {
            continue;
        }
        let delivery = StoredDelivery {
            client_id: s.client_id,
            uri: uri.clone(),
            account_id: s.account_id,
            session_id: s.session_id,
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
        };
        let record = delivery_record(&ids(), &delivery, delivery_expiry(delays, now))?;
        plan = plan.write(Write::Insert(record));
    }
    Ok(plan)
}

/// Takes delivery `record` for an attempt at `now`: the attempt is counted and the delivery
/// reserved for [`DELIVERY_LEASE`] (so a concurrent poller skips it). `None` when it is not due.
pub(crate) fn decide_claim(
    record: &Record,
    mut d: StoredDelivery,
    now: Timestamp,
) -> Result<Option<(Write, StoredDelivery)>> {
    if d.next_attempt_at > now {
        return Ok(None);
    }
    d.attempts = d.attempts.saturating_add(1);
    d.next_attempt_at = now.plus(DELIVERY_LEASE);
    let write = Write::Update {
        record: Record {
            body: crate::record_body::to_body(&d)?,
            ..record.clone()
        },
        expected_version: record.version,
    };
    Ok(Some((write, d)))
}

/// The claims of the Logout Token of delivery `id` (§2.4), issued at `now` for `ttl`.
pub(crate) fn logout_claims(
    issuer: &str,
    id: &str,
    d: &StoredDelivery,
    ttl: Duration,
    now: Timestamp,
) -> Map<String, Value> {
    let claims = json!({
        "iss": issuer,
        "aud": d.client_id,
        "iat": now.as_secs(),
        "exp": now.plus(ttl).as_secs(),
        "jti": id,
        "sub": d.account_id,
        "sid": d.session_id,
        "events": { LOGOUT_EVENT: {} },
    });
    match claims {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Decides what follows an attempt at delivery `record` (`d` as read) with `outcome`: a
/// delivered token, or a failed one past its last retry, is deleted and audited (never with
/// the token); otherwise the next attempt is scheduled after [`retry_delay`].
pub(crate) fn decide_result(
    record: &Record,
    mut d: StoredDelivery,
    outcome: LogoutOutcome,
    delays: &[Duration],
    now: Timestamp,
) -> Result<Plan<()>> {
    let status = |s: Option<u16>| s.map_or_else(|| "none".to_owned(), |s| s.to_string());
    let (kind, status) = match outcome {
        LogoutOutcome::Delivered { status: s } => (AuditKind::OidcLogoutDelivered, status(Some(s))),
        LogoutOutcome::Failed { status: s } => {
            if let Some(delay) = retry_delay(delays, d.attempts) {
                d.next_attempt_at = now.plus(delay);
                return Ok(Plan::new(()).write(Write::Update {
                    record: Record {
                        body: crate::record_body::to_body(&d)?,
                        ..record.clone()
                    },
                    expected_version: record.version,
                }));
            }
            (AuditKind::OidcLogoutAbandoned, status(s))
        }
    };
    Ok(Plan::new(())
        .write(Write::Delete {
            kind: RecordKind::LogoutDelivery,
            id: record.id.clone(),
            expected_version: record.version,
        })
        .audit(
            AuditDraft::new(kind, now)
                .account(&d.account_id)
                .session(&d.session_id)
                .detail("client_id", d.client_id)
                .detail("status", status)
                .detail("attempts", d.attempts.to_string()),
        ))
}

#[cfg(test)]
mod tests;
