//! [`iam_principal_t`]: who a verified access token speaks for.

use std::ffi::{c_char, CString};

use iam_core::{AccountKind, CredentialKind, Principal, Timestamp};

use crate::args::arg_str;
use crate::boundary::{ffi_panic_boundary, Defaultable};
use crate::castable::{free_box, try_ref_from_ptr, Castable, OwnershipBox};
use crate::error::FfiError;
use crate::strings::{c_string, c_strings, item, opt_c_string, opt_ptr};

/// Whether an account is a person or a machine.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum iam_account_kind {
    /// Unknown (returned for a NULL principal).
    #[default]
    Unknown = 0,
    /// A person: logs in with a password (and TOTP once enrolled).
    Human = 1,
    /// A machine: authenticates with tokens only.
    System = 2,
}

/// What C receives for a NULL principal (or after a panic): `Unknown`.
impl Defaultable for iam_account_kind {}

/// What presented a principal: the kind of credential its token is. The numbers are stable.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum iam_credential_kind {
    /// Unknown (returned for a NULL principal).
    #[default]
    Unknown = 0,
    /// A login session's access token (possibly carrying elevated roles).
    Session = 1,
    /// A service account's token.
    ServiceToken = 2,
    /// A personal API token.
    ApiToken = 3,
    /// An OAuth token a user delegated to a client (authorization code, device, refresh).
    OauthUser = 4,
    /// An OAuth client-credentials token (acting for the client's owner when it names an
    /// actor).
    ClientCredentials = 5,
    /// A login session's token scoped to one organization.
    OrgToken = 6,
}

/// What C receives for a NULL principal (or after a panic): `Unknown`.
impl Defaultable for iam_credential_kind {}

impl From<CredentialKind> for iam_credential_kind {
    fn from(kind: CredentialKind) -> Self {
        match kind {
            CredentialKind::Session => iam_credential_kind::Session,
            CredentialKind::ServiceToken => iam_credential_kind::ServiceToken,
            CredentialKind::ApiToken => iam_credential_kind::ApiToken,
            CredentialKind::OAuthUser => iam_credential_kind::OauthUser,
            CredentialKind::ClientCredentials => iam_credential_kind::ClientCredentials,
            CredentialKind::OrgToken => iam_credential_kind::OrgToken,
        }
    }
}

/// The verified holder of an access token: opaque to C. Read it with the `iam_principal_*`
/// getters; free it with `iam_principal_free`.
#[allow(non_camel_case_types)]
pub struct iam_principal_t {
    _private: [u8; 0],
}

impl Castable for iam_principal_t {
    type Ownership = OwnershipBox;
    type RustType = VerifiedPrincipal;
}

/// What an [`iam_principal_t`] points to: a verified principal, with C copies of its strings
/// for the getters to lend out.
pub(crate) struct VerifiedPrincipal {
    /// The principal as iam-core decided it (for its rules, e.g. which scopes it grants).
    core: Principal,
    account_id: CString,
    session_id: CString,
    token_id: CString,
    kind: iam_account_kind,
    credential: iam_credential_kind,
    roles: Vec<CString>,
    amr: Vec<CString>,
    scopes: Vec<CString>,
    elevated_roles: Vec<CString>,
    audience: Vec<CString>,
    client_id: Option<CString>,
    actor: Option<CString>,
    org_id: Option<CString>,
    org_role: Option<CString>,
}

impl VerifiedPrincipal {
    /// The C copy of a verified principal.
    pub(crate) fn new(p: &Principal) -> Result<Self, FfiError> {
        let (org_id, org_role) = match &p.org {
            Some((org, role)) => (Some(org.as_str()), Some(role.as_str())),
            None => (None, None),
        };
        Ok(VerifiedPrincipal {
            account_id: c_string(&p.account_id, "account id")?,
            session_id: c_string(&p.session_id, "session id")?,
            token_id: c_string(&p.token_id, "token id")?,
            kind: match p.kind {
                AccountKind::Human => iam_account_kind::Human,
                AccountKind::System => iam_account_kind::System,
            },
            credential: iam_credential_kind::from(p.credential),
            roles: c_strings(&p.roles, "role")?,
            amr: c_strings(&p.amr, "authentication method")?,
            scopes: c_strings(&p.scopes, "scope")?,
            elevated_roles: c_strings(&p.elevated_roles, "elevated role")?,
            audience: c_strings(&p.audience, "audience")?,
            client_id: opt_c_string(p.client_id.as_deref(), "client id")?,
            actor: opt_c_string(p.actor.as_deref(), "actor")?,
            org_id: opt_c_string(org_id, "organization id")?,
            org_role: opt_c_string(org_role, "organization role")?,
            core: p.clone(),
        })
    }
}

/// The account id (`sub`), or NULL if `principal` is NULL. Borrowed: valid until
/// `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_account_id(
    principal: *const iam_principal_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).account_id.as_ptr()
    }
}

/// The session id (`sid`; for a service token, its grant id), or NULL if `principal` is NULL.
/// Borrowed: valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_session_id(
    principal: *const iam_principal_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).session_id.as_ptr()
    }
}

/// The token id (`jti`), or NULL if `principal` is NULL. Borrowed: valid until
/// `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_token_id(
    principal: *const iam_principal_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).token_id.as_ptr()
    }
}

/// Human or system (`IAM_ACCOUNT_KIND_UNKNOWN` if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_kind(principal: *const iam_principal_t) -> iam_account_kind {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).kind
    }
}

/// How many roles the token carries (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_roles_len(principal: *const iam_principal_t) -> usize {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).roles.len()
    }
}

/// The role at `index` (0-based), or NULL if out of range or `principal` is NULL. Borrowed:
/// valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_role(
    principal: *const iam_principal_t,
    index: usize,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        let p = try_ref_from_ptr!(principal);
        item(&p.roles, index)
    }
}

/// Whether the token carries `role` (false if either pointer is NULL or `role` is not UTF-8).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`; `role` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_has_role(
    principal: *const iam_principal_t,
    role: *const c_char,
) -> bool {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        let p = try_ref_from_ptr!(principal);
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        unsafe { arg_str(role, "role") }.is_ok_and(|r| p.core.has_role(r))
    }
}

/// How many authentication methods (`amr`) the token names (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_amr_len(principal: *const iam_principal_t) -> usize {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).amr.len()
    }
}

/// The authentication method at `index` (`"pwd"`, `"otp"`, `"service_token"`, ...), or NULL if
/// out of range or `principal` is NULL. Borrowed: valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_amr(
    principal: *const iam_principal_t,
    index: usize,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        let p = try_ref_from_ptr!(principal);
        item(&p.amr, index)
    }
}

/// When the token was issued, in seconds since the Unix epoch (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_issued_at(principal: *const iam_principal_t) -> i64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).core.issued_at.as_secs()
    }
}

/// When the token expires, in seconds since the Unix epoch (0 if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_expires_at(principal: *const iam_principal_t) -> i64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).core.expires_at.as_secs()
    }
}

/// When the holder last proved a credential, in seconds since the Unix epoch (0 if `principal`
/// is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_auth_time(principal: *const iam_principal_t) -> i64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).core.auth_time.as_secs()
    }
}

/// What kind of credential the token is (`IAM_CREDENTIAL_KIND_UNKNOWN` if `principal` is
/// NULL). Resource servers decide on it: e.g. refuse delegated credentials (API tokens, OAuth
/// tokens) where only a person's own session may act.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_credential(
    principal: *const iam_principal_t,
) -> iam_credential_kind {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).credential
    }
}

/// How many scopes the token is limited to (0 if it is not scope-limited, or if `principal` is
/// NULL). API tokens and OAuth tokens carry scopes; a login session's token carries none.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_scopes_len(principal: *const iam_principal_t) -> usize {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).scopes.len()
    }
}

/// The scope at `index` (0-based), or NULL if out of range or `principal` is NULL. Borrowed:
/// valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_scope(
    principal: *const iam_principal_t,
    index: usize,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        item(&try_ref_from_ptr!(principal).scopes, index)
    }
}

/// Whether the token grants `scope`: one of its scopes, or, for a token that is not
/// scope-limited, one of its roles (false if either pointer is NULL or `scope` is not UTF-8).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`; `scope` NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_has_scope(
    principal: *const iam_principal_t,
    scope: *const c_char,
) -> bool {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        let p = try_ref_from_ptr!(principal);
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        unsafe { arg_str(scope, "scope") }.is_ok_and(|s| p.core.require_scope(s).is_ok())
    }
}

/// How many of the token's roles are elevated, open only for a bounded time (0 if none or if
/// `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_elevated_roles_len(
    principal: *const iam_principal_t,
) -> usize {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).elevated_roles.len()
    }
}

/// The elevated role at `index` (0-based; each is also among the roles), or NULL if out of
/// range or `principal` is NULL. Borrowed: valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_elevated_role(
    principal: *const iam_principal_t,
    index: usize,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        item(&try_ref_from_ptr!(principal).elevated_roles, index)
    }
}

/// When the earliest of the token's elevations ends, in seconds since the Unix epoch (0 when
/// it carries no elevated role, or if `principal` is NULL).
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_elevated_until(principal: *const iam_principal_t) -> i64 {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).core.elevated_until.map_or(0, Timestamp::as_secs)
    }
}

/// The OAuth client the token was issued to, or NULL for iam's own tokens (sessions, service
/// and API tokens) or if `principal` is NULL. Borrowed: valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_client_id(
    principal: *const iam_principal_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        opt_ptr(try_ref_from_ptr!(principal).client_id.as_ref())
    }
}

/// The account a client-credentials token acts for (its `act` claim), or NULL when it acts
/// for none or if `principal` is NULL. Borrowed: valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_actor(principal: *const iam_principal_t) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        opt_ptr(try_ref_from_ptr!(principal).actor.as_ref())
    }
}

/// The organization an organization token is scoped to, or NULL for other tokens or if
/// `principal` is NULL. Borrowed: valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_org_id(principal: *const iam_principal_t) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        opt_ptr(try_ref_from_ptr!(principal).org_id.as_ref())
    }
}

/// The holder's role in the organization of an organization token, or NULL for other tokens
/// or if `principal` is NULL. Borrowed: valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_org_role(
    principal: *const iam_principal_t,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        opt_ptr(try_ref_from_ptr!(principal).org_role.as_ref())
    }
}

/// How many audiences (`aud`) the token names (0 if `principal` is NULL): iam's configured
/// audience, or the resources (RFC 8707) an OAuth token is bound to. `iam_verify` has already
/// checked that iam's audience is among them, `iam_verify_for` the audience it was given.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_audience_len(principal: *const iam_principal_t) -> usize {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        try_ref_from_ptr!(principal).audience.len()
    }
}

/// The audience at `index` (0-based), or NULL if out of range or `principal` is NULL.
/// Borrowed: valid until `iam_principal_free`.
///
/// # Safety
/// `principal` must be NULL or a live `iam_principal_t`.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_audience(
    principal: *const iam_principal_t,
    index: usize,
) -> *const c_char {
    ffi_panic_boundary! {
        // SAFETY: the caller promises NULL or a live principal.
        item(&try_ref_from_ptr!(principal).audience, index)
    }
}

/// Frees a principal and sets `*principal` to NULL. NULL, or a pointer to NULL, is ignored.
///
/// # Safety
/// `principal` must be NULL or point to a pointer that is NULL or was handed out by iam and not
/// freed through another copy. Strings borrowed from it are invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn iam_principal_free(principal: *mut *mut iam_principal_t) {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those `free_box` needs.
        unsafe { free_box(principal) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_kind_has_a_number_of_its_own() {
        let numbers: Vec<i32> = CredentialKind::ALL
            .iter()
            .map(|k| iam_credential_kind::from(*k) as i32)
            .collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
        assert_eq!(iam_credential_kind::default() as i32, 0);
    }
}
