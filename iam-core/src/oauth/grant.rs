//! What the authorization server stores about grants: codes, consents, token families and
//! their refresh tokens.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// An authorization code as stored (record id: its keyed hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredCode {
    pub client_id: String,
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request named it (then the token request must repeat it).
    pub redirect_uri_given: bool,
    /// The S256 challenge, if the request carried one.
    pub code_challenge: Option<String>,
    pub account_id: String,
    pub session_id: String,
    pub scopes: BTreeSet<String>,
    pub resources: BTreeSet<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// The family the code was exchanged for; a second exchange revokes it.
    pub used_for: Option<String>,
    /// The authorization request's `nonce`, for the ID token.
    #[serde(default)]
    pub nonce: Option<String>,
}

/// An account's consent to a client, with the scopes it covers (record id: `account/client`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthConsent {
    /// The account that consented.
    pub account_id: String,
    /// The client it consented to.
    pub client_id: String,
    /// The scopes consented to.
    pub scopes: BTreeSet<String>,
    /// When consent was first given.
    pub granted_at: Timestamp,
    /// When it was last widened.
    pub updated_at: Timestamp,
}

impl OAuthConsent {
    /// Whether the consent covers every scope in `scopes`.
    pub fn covers(&self, scopes: &BTreeSet<String>) -> bool {
        scopes.is_subset(&self.scopes)
    }
}

/// The record id of the consent of `account_id` to `client_id`.
pub(crate) fn consent_id(account_id: &str, client_id: &str) -> String {
    format!("{account_id}/{client_id}")
}

/// A token family: everything issued from one code or device exchange. Its id is the `sid`
/// of its access tokens, so one grant revocation voids them all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredFamily {
    pub id: String,
    pub client_id: String,
    pub account_id: String,
    pub scopes: BTreeSet<String>,
    pub resources: BTreeSet<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    /// `authorization_code` or the device grant type.
    pub origin: String,
    pub created_at: Timestamp,
    /// When its refresh tokens stop working, regardless of use.
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// The login session that approved the grant (the ID token's `sid`); absent on families
    /// stored before it was recorded.
    #[serde(default)]
    pub session_id: Option<String>,
}

impl StoredFamily {
    /// Whether the family can still yield tokens at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// An OAuth refresh token as stored (record id: its keyed hash; parent: the family).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredOAuthRefresh {
    pub family_id: String,
    pub client_id: String,
    pub issued_at: Timestamp,
    /// When it was exchanged; presenting it again is reuse.
    pub rotated_at: Option<Timestamp>,
}
