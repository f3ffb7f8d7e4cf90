//! Elevation ("sudo mode"): roles an account holds switched off until it opens them for one
//! session, with a fresh proof, possibly another account's approval, and a time limit.
//!
//! Each operation loads, decides and commits (see [`crate::plan`]): the rules are the pure
//! functions of `rules`; `request` opens and ends elevations, `approval` answers requests
//! that need another account's approval, and `step_up` checks fresh proofs and re-authenticates
//! a session.

mod approval;
mod request;
mod rules;
mod step_up;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::secret::SecretString;
use crate::session::ActiveElevation;

/// The fresh proof presented to open an elevated role.
#[derive(Debug, Clone, Default)]
pub struct StepUpProof {
    /// The account's password.
    pub password: Option<SecretString>,
    /// A current TOTP code.
    pub totp_code: Option<String>,
    /// The answer to a passkey step-up challenge ([`crate::Iam::start_passkey_step_up`]); it
    /// satisfies every step-up policy on its own.
    pub passkey: Option<crate::passkey::PasskeyAssertion>,
}

/// What [`Iam::elevate`](crate::iam::Iam::elevate) achieved.
#[derive(Debug, Clone)]
pub enum ElevationOutcome {
    /// The role is open for the session now.
    Active {
        /// The open elevation.
        elevation: ActiveElevation,
        /// An access token carrying the role, expiring no later than the elevation.
        access_token: SecretString,
    },
    /// The role needs approval; the request waits until `expires_at`.
    Pending {
        /// The request id, for the approver.
        request_id: String,
        /// When the request lapses unanswered.
        expires_at: Timestamp,
    },
}

/// A pending elevation request, as an approver sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElevationRequest {
    /// The request id (`elr_…`).
    pub id: String,
    /// The requesting account.
    pub account_id: String,
    /// The session the role would open for.
    pub session_id: String,
    /// The role.
    pub role: String,
    /// How long the elevation would last once approved, in milliseconds.
    pub duration_ms: u64,
    /// When it was requested.
    pub created_at: Timestamp,
    /// When it lapses unanswered.
    pub expires_at: Timestamp,
}
