//! The audit log: events page by page, and the verification of its hash chain.

use std::ffi::c_char;

use iam_core::audit::AuditDraft;
use iam_core::{AuditEvent, AuditKind, AuditQuery, Timestamp};
use serde::Serialize;

use crate::args::{arg_opt_str, arg_out, arg_out_ptr, page_limit};
use crate::boundary::ffi_panic_boundary;
use crate::castable::try_ref_from_ptr;
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::give_json;

/// An audit event as `iam_list_audit_events` writes it: the event's own fields, with its hashes
/// in lowercase hex.
#[derive(Serialize)]
struct EventJson<'a> {
    seq: u64,
    prev_hash: String,
    hash: String,
    #[serde(flatten)]
    draft: &'a AuditDraft,
}

impl<'a> From<&'a AuditEvent> for EventJson<'a> {
    fn from(e: &'a AuditEvent) -> Self {
        EventJson {
            seq: e.seq,
            prev_hash: hex(&e.prev_hash),
            hash: hex(&e.hash),
            draft: &e.draft,
        }
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// An optional time bound given in seconds since the Unix epoch (0: none).
fn time_bound(secs: i64) -> Option<Timestamp> {
    (secs != 0).then(|| Timestamp::from_secs(secs))
}

/// Lists audit events in chain order, one page at a time. Filters (each NULL or 0 for none):
/// `account_id` (events concerning that account), `kind` (e.g. `"login.succeeded"`,
/// `"role.granted"`; the kinds are listed in docs/api.md), `from_unix_secs` (at or after) and
/// `to_unix_secs` (before). Paging: events after sequence number `after_seq` (0: from the
/// first), at most `limit` of them (0: 100; at most 1000); for the next page pass the last
/// event's `seq`. On success `*out_events_json` holds a JSON array of events: `seq`,
/// `prev_hash` and `hash` (hex), `at` (milliseconds since the Unix epoch), `kind`, `actor`,
/// `account`, `session` (each null when not known) and `detail` (an object of strings, never a
/// secret). Free it with `iam_string_free`. `actor_token` is the access token of whoever asks
/// (NULL: the embedding application itself): an admin.
///
/// Fails with `IAM_STATUS_INVALID_ARGUMENT` (an unknown kind), `IAM_STATUS_NOT_PERMITTED`, or
/// the statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_events_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_list_audit_events(
    iam: *const iam_t,
    account_id: *const c_char,
    kind: *const c_char,
    from_unix_secs: i64,
    to_unix_secs: i64,
    after_seq: u64,
    limit: usize,
    actor_token: *const c_char,
    out_events_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_events_json, "out_events_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let account = unsafe { arg_opt_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let kind = match unsafe { arg_opt_str(kind, "kind") }? {
            Some(name) => Some(AuditKind::parse(name).ok_or(FfiError::InvalidArgument {
                name: "kind",
                reason: "not an audit event kind",
            })?),
            None => None,
        };
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let query = AuditQuery {
            account: account.map(str::to_owned),
            kind,
            from: time_bound(from_unix_secs),
            to: time_bound(to_unix_secs),
            after_seq: (after_seq > 0).then_some(after_seq),
            limit: Some(page_limit(limit)),
        };
        let events = on_iam!(handle, |iam| iam
            .audit_events(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                &query
            )
            .await)?;
        let events: Vec<EventJson<'_>> = events.iter().map(EventJson::from).collect();
        give_json(out, &events, "audit events")
    }
}

/// Walks the whole audit chain, checking every link. On success `*out_events` holds the number
/// of events; a broken chain fails with `IAM_STATUS_AUDIT_CHAIN_BROKEN`, the last error naming
/// the first broken link.
///
/// # Safety
/// `iam` must be NULL or a live handle; `out_events` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_verify_audit_chain(
    iam: *const iam_t,
    out_events: *mut u64,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out(out_events, "out_events") }?;
        *out = 0;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        *out = on_iam!(handle, |iam| iam
            .verify_audit_chain(iam_core::Caller::System)
            .await)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_written_with_hex_hashes_and_their_fields() {
        let draft = AuditDraft::new(AuditKind::RoleGranted, Timestamp::from_millis(1_500))
            .actor(Some("acc_admin"));
        let event = AuditEvent::chain(0, iam_core::audit::GENESIS, draft);
        let json = serde_json::to_value(EventJson::from(&event)).expect("JSON");
        assert_eq!(json["seq"], 1);
        assert_eq!(json["prev_hash"], "0".repeat(64));
        assert_eq!(json["hash"].as_str().map(str::len), Some(64));
        assert_eq!(json["kind"], "role.granted");
        assert_eq!(json["at"], 1_500);
        assert_eq!(json["actor"], "acc_admin");
        assert!(json["account"].is_null());
    }

    #[test]
    fn zero_is_no_time_bound() {
        assert_eq!(time_bound(0), None);
        assert_eq!(time_bound(2), Some(Timestamp::from_secs(2)));
    }
}
