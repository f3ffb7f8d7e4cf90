//! Organizations: creating them, their members (invitations included), and access tokens
//! scoped to one of them.

use std::ffi::c_char;

use crate::args::{arg_opt_out, arg_opt_str, arg_out_ptr, arg_str};
use crate::boundary::ffi_panic_boundary;
use crate::castable::try_ref_from_ptr;
use crate::error::FfiError;
use crate::handle::{iam_t, on_iam};
use crate::status::iam_status;
use crate::strings::{give_json, give_string};

/// Creates an organization named `name` (the rules of usernames); the holder of
/// `actor_access_token` becomes its first member, with the role `"owner"`. On success
/// `*out_org_id` holds its id (`org_…`); free it with `iam_string_free`.
///
/// Fails with `IAM_STATUS_INVALID_STATE` (the name is taken), `IAM_STATUS_INVALID_ARGUMENT` (a
/// bad name), `IAM_STATUS_WRONG_TOKEN_KIND` or `IAM_STATUS_NOT_PERMITTED` (a credential that may
/// not manage), or the statuses of `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `out_org_id`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_create_organization(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    name: *const c_char,
    out_org_id: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_org_id, "out_org_id") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let name = unsafe { arg_str(name, "name") }?;
        let org = on_iam!(handle, |iam| {
            let actor = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.create_organization(&actor, name).await?)
        })?;
        give_string(out, &org.id, "organization id")
    }
}

/// Describes an organization as JSON through `*out_org_json` (free it with
/// `iam_string_free`): `id`, `name` and `created_at` (milliseconds since the Unix epoch). For
/// the embedding application only (no actor token).
///
/// Fails with `IAM_STATUS_NOT_FOUND`.
///
/// # Safety
/// `iam` must be NULL or a live handle; `org_id` NULL or NUL-terminated; `out_org_json` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn iam_get_organization(
    iam: *const iam_t,
    org_id: *const c_char,
    out_org_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_org_json, "out_org_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let org_id = unsafe { arg_str(org_id, "org_id") }?;
        let org = on_iam!(handle, |iam| iam.organization(org_id).await)?;
        give_json(out, &org, "organization")
    }
}

/// Adds an account to an organization with `role` (a role name), or changes its role there.
/// Allowed for admins, whose change takes effect at once, and for the organization's owners,
/// whose addition of a new member is an invitation the account accepts with
/// `iam_answer_invitation` (until then it is pending and gets no organization tokens). A
/// changed role voids the member's earlier tokens for this organization. If `out_pending` is
/// not NULL it receives whether the membership waits for the account's answer.
///
/// Fails with `IAM_STATUS_NOT_FOUND` (no such organization or account),
/// `IAM_STATUS_NOT_PERMITTED`, `IAM_STATUS_INVALID_ARGUMENT` (a bad role name), or the statuses
/// of `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `out_pending`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_set_membership(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    org_id: *const c_char,
    account_id: *const c_char,
    role: *const c_char,
    out_pending: *mut bool,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or writable.
        let out_pending = unsafe { arg_opt_out(out_pending) };
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let org_id = unsafe { arg_str(org_id, "org_id") }?;
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let role = unsafe { arg_str(role, "role") }?;
        let membership = on_iam!(handle, |iam| {
            let actor = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.set_membership(&actor, org_id, account_id, role).await?)
        })?;
        if let Some(out) = out_pending {
            *out = membership.pending;
        }
        Ok(())
    }
}

/// Removes a member from an organization (admins and the organization's owners); the member's
/// tokens for it stop verifying at once. Removing an account that is not a member succeeds.
///
/// Fails with `IAM_STATUS_NOT_FOUND` (no such organization), `IAM_STATUS_NOT_PERMITTED`, or the
/// statuses of `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_remove_member(
    iam: *const iam_t,
    actor_access_token: *const c_char,
    org_id: *const c_char,
    account_id: *const c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(actor_access_token, "actor_access_token") }?;
        // SAFETY: as above.
        let org_id = unsafe { arg_str(org_id, "org_id") }?;
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        on_iam!(handle, |iam| {
            let actor = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.remove_member(&actor, org_id, account_id).await?)
        })
    }
}

/// Lists the members of an organization, ordered by account id: on success
/// `*out_members_json` holds a JSON array of memberships (`org_id`, `account_id`, `role`,
/// `since` in milliseconds since the Unix epoch, `pending`); free it with `iam_string_free`.
/// `actor_token` is the access token of whoever asks (NULL: the embedding application itself):
/// a member or an admin (others are told `IAM_STATUS_NOT_FOUND`, learning nothing of it).
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_members_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_list_members(
    iam: *const iam_t,
    org_id: *const c_char,
    actor_token: *const c_char,
    out_members_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_members_json, "out_members_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let org_id = unsafe { arg_str(org_id, "org_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let members = on_iam!(handle, |iam| iam
            .members_of(crate::caller::acting(iam, actor).await?.as_ref().into(), org_id)
            .await)?;
        give_json(out, &members, "members")
    }
}

/// Lists the organizations an account belongs to (pending invitations included), ordered by
/// organization id: on success `*out_memberships_json` holds a JSON array of memberships as
/// `iam_list_members` writes them; free it with `iam_string_free`. `actor_token` is the access
/// token of whoever asks (NULL: the embedding application itself): the account itself or an
/// admin.
///
/// Fails with `IAM_STATUS_NOT_PERMITTED`, or the statuses of `iam_verify` for the actor token.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated;
/// `out_memberships_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_list_memberships(
    iam: *const iam_t,
    account_id: *const c_char,
    actor_token: *const c_char,
    out_memberships_json: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_memberships_json, "out_memberships_json") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let account_id = unsafe { arg_str(account_id, "account_id") }?;
        // SAFETY: as above.
        let actor = unsafe { arg_opt_str(actor_token, "actor_token") }?;
        let memberships = on_iam!(handle, |iam| iam
            .memberships_of(
                crate::caller::acting(iam, actor).await?.as_ref().into(),
                account_id
            )
            .await)?;
        give_json(out, &memberships, "memberships")
    }
}

/// Mints an access token for the session of `access_token` (a login session's or a service
/// token) scoped to the organization `org_id`: it carries the organization and the holder's
/// role there (`iam_principal_org_id`, `iam_principal_org_role`). On success `*out_token`
/// holds it; free it with `iam_string_free`, which wipes it.
///
/// Fails with `IAM_STATUS_NOT_PERMITTED` (not a member, or an invitation not yet accepted),
/// `IAM_STATUS_WRONG_TOKEN_KIND` (a delegated or organization token), or the statuses of
/// `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated; `out_token`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_org_token(
    iam: *const iam_t,
    access_token: *const c_char,
    org_id: *const c_char,
    out_token: *mut *mut c_char,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out_token, "out_token") }?;
        // SAFETY: as above.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(access_token, "access_token") }?;
        // SAFETY: as above.
        let org_id = unsafe { arg_str(org_id, "org_id") }?;
        let scoped = on_iam!(handle, |iam| {
            let principal = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.org_token(&principal, org_id).await?)
        })?;
        give_string(out, scoped.expose(), "organization token")
    }
}

/// Accepts (`accept` true) or declines an owner's invitation to the organization `org_id`, for
/// the holder of `access_token` (a login session of the invited account). Declining removes
/// the membership.
///
/// Fails with `IAM_STATUS_NOT_FOUND` (no such invitation), `IAM_STATUS_WRONG_TOKEN_KIND` (not a
/// login session), or the statuses of `iam_verify`.
///
/// # Safety
/// `iam` must be NULL or a live handle; string arguments NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn iam_answer_invitation(
    iam: *const iam_t,
    access_token: *const c_char,
    org_id: *const c_char,
    accept: bool,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let handle = try_ref_from_ptr!(iam);
        // SAFETY: as above.
        let token = unsafe { arg_str(access_token, "access_token") }?;
        // SAFETY: as above.
        let org_id = unsafe { arg_str(org_id, "org_id") }?;
        on_iam!(handle, |iam| {
            let principal = iam.verify(token).await?;
            Ok::<_, FfiError>(iam.answer_invitation(&principal, org_id, accept).await?)
        })
    }
}
