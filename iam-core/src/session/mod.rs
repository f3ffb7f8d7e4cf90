//! Sessions and their refresh tokens, as stored and as shown.

mod attempts;

#[cfg(test)]
mod clock_reads;
pub(crate) mod login;
mod manage;
pub(crate) mod rules;

pub use login::{LoginRequest, LoginSuccess};

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::Result;
use crate::store::{Record, RecordKind};
use crate::token::Amr;

/// The RFC 8176 `amr` value for a password.
pub const AMR_PASSWORD: &str = Amr::Password.as_str();
/// The RFC 8176 `amr` value for a one-time password (TOTP).
pub const AMR_TOTP: &str = Amr::Otp.as_str();

/// A login session: the grant that access and refresh tokens hang from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Session id (`ses_…`), the `sid` claim.
    pub id: String,
    /// The account that logged in.
    pub account_id: String,
    /// When the session opened.
    pub created_at: Timestamp,
    /// When it ends regardless of use.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// When its refresh token was last rotated.
    pub last_refreshed_at: Option<Timestamp>,
    /// When the holder last proved a credential.
    pub auth_time: Timestamp,
    /// How (`pwd`, `otp`).
    pub amr: Vec<String>,
    /// Elevated roles opened for this session, each until its end time.
    #[serde(default)]
    pub elevations: Vec<ActiveElevation>,
}

/// An elevated role open for a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveElevation {
    /// The role.
    pub role: String,
    /// When it was opened.
    pub since: Timestamp,
    /// When it closes.
    pub until: Timestamp,
}

impl Session {
    /// The elevations still open at `now`.
    pub fn active_elevations(&self, now: Timestamp) -> impl Iterator<Item = &ActiveElevation> {
        self.elevations.iter().filter(move |e| e.until > now)
    }
}

impl Session {
    /// Whether the session can still yield tokens at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// Where a refresh token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub(crate) enum RefreshState {
    /// Usable once.
    Active,
    /// Exchanged at the given time; presenting it again is reuse.
    Rotated {
        /// When it was exchanged.
        at: Timestamp,
    },
}

/// A refresh token as stored: the record id is its keyed hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredRefresh {
    pub session_id: String,
    pub account_id: String,
    pub issued_at: Timestamp,
    pub state: RefreshState,
}

/// The stored record for `session`.
pub(crate) fn session_record(session: &Session) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::Session,
        id: session.id.clone(),
        version: 0,
        parent: Some(session.account_id.clone()),
        lookup: None,
        expires_at: Some(session.expires_at),
        body: crate::record_body::to_body(session)?,
    })
}
