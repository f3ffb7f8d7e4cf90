//! # iam-core
//!
//! The pure core of iam, an embeddable identity and access library: human and system
//! accounts, Argon2id passwords, TOTP, roles, sessions, PASETO v4.public access tokens with
//! rotating opaque refresh tokens, and a hash-chained audit log.
//!
//! Start at [`Iam`]: open it over a [`Store`] (here the in-memory [`MemoryStore`]; SQLite and
//! PostgreSQL adapters live in their own crates) with a [`Config`]. iam-core does I/O only
//! through [`Store`] and reads time only from a [`Clock`]; the one exception is startup:
//! [`MasterKey::load_or_create`] keeps the master key in a private file (or
//! [`MasterKey::from_env`] reads it from the environment), so an application on a persistent
//! store uses the same key on every run.
//!
//! ```
//! use iam_core::{Caller, Config, Iam, LoginRequest, MasterKey, MemoryStore, NewAccount, PasswordPolicy, SecureRandom};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), iam_core::Error> {
//! // A fresh key suits the in-memory store; on a persistent one, load it: see `MasterKey::load_or_create`.
//! let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
//! config.passwords = PasswordPolicy::insecure_fast_for_tests(); // keep the doc test quick
//! let iam = Iam::builder(MemoryStore::new(), config).open().await?;
//!
//! iam.create_account(NewAccount::human("alice", "correct horse battery").with_roles(["admin"]), Caller::System).await?;
//! let login = iam.login(&LoginRequest::password("alice", "correct horse battery")).await?;
//!
//! let who = iam.verify(login.tokens.access_token.expose()).await?;
//! assert!(who.has_role("admin"));
//!
//! iam.logout(&who).await?;
//! assert!(iam.verify(login.tokens.access_token.expose()).await.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! ## Design overview
//!
//! Every operation of [`Iam`] has the same three steps (see the `plan` module):
//! **load** (store reads, one clock read, the costly Argon2id and TOTP checks), **decide** (a
//! pure function of the loaded state, the input, `now` and the configuration, returning the
//! [`store::Commit`] to apply and the output, or a typed [`Denial`]) and **commit** (one atomic
//! [`Store::commit`], retried as a whole when it loses a race). The decisions live in each
//! concept's `rules` module and are unit-tested without a store or an async runtime.
//!
//! Where each rule lives:
//!
//! - [`authz`]: who may do what. One function, [`authorize`], decides every action from the
//!   principal's credential kind, roles, scopes and audience; every adapter goes through it.
//! - [`account`]: accounts, roles, passwords, profiles (name, email), TOTP enrolment, scheduled
//!   deletion and the sweep.
//! - [`session`]: login (with the throttle of [`throttle`]), sessions, refresh-token rotation
//!   with reuse detection, logout.
//! - `elevation`: time-boxed privilege elevation, step-up proofs, approvals and
//!   re-authentication.
//! - [`token`]: access tokens (PASETO v4.public claims, RFC 9068 JWT access tokens for clients
//!   registered for them, signing keys and their rotation,
//!   verification), personal API tokens and service-account tokens.
//! - [`oauth`]: the OAuth 2.0 authorization server. Its pure protocol pieces (request
//!   parsing, PKCE, scopes, redirect matching, prompt and device-poll decisions) sit beside
//!   the `serve` module, which runs the flows against the store.
//! - `org`: organizations, memberships, invitations to them and organization tokens.
//! - `invite`: single-use invitation links with which a new person creates an account.
//! - [`passkey`]: passkeys (WebAuthn through webauthn-rs): registration, passwordless sign-in,
//!   a passkey as second factor or step-up proof; single-use ceremonies kept in the store.
//! - `vault`: sealed database credentials handed to service accounts.
//! - [`oidc`]: the OpenID Connect provider on the OAuth server: ID tokens, claims, userinfo,
//!   RP-initiated logout, and the back-channel logout outbox (`oidc::logout`) that session
//!   endings fill and the HTTP adapter drains.
//! - [`jose`]: JOSE keys (RS256, ES256, EdDSA) and JWTs for OpenID Connect, a key ring apart
//!   from the PASETO one, published with it in [`Iam::jwks`].
//! - [`audit`]: the hash-chained audit log, its events and its verification; checkpoints of
//!   its head signed with the token key, and exports that verify offline.
//! - [`revocation`]: the in-memory revocation cache the store's change feed keeps current;
//!   verification consults it and fails closed when the feed is down.
//! - [`error`]: one vocabulary ([`ErrorCode`]) with a stable string and number per failure,
//!   from which the HTTP and C adapters derive their statuses.
//! - [`store`]: the persistence contract ([`Store`], [`store::Commit`], [`store::Write`]) and
//!   the in-memory store; the `testing` feature holds the contract tests every store runs.
//! - Primitives with no rules of their own: [`password`] (Argon2id through an [`Offload`]),
//!   [`totp`], [`secret`] (sealing, keyed hashing, zeroizing strings), [`random`], [`clock`].

pub mod account;
pub mod audit;
pub mod authz;
pub mod clock;
pub mod config;
mod elevation;
pub mod error;
#[cfg(test)]
mod fixtures;
mod iam;
mod invite;
pub mod jose;
pub mod oauth;
pub mod offload;
pub mod oidc;
mod org;
pub mod passkey;
pub mod password;
mod plan;
pub mod random;
mod record_body;
pub mod revocation;
pub mod secret;
pub mod session;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod throttle;
pub mod token;
pub mod totp;
mod vault;

pub use account::{
    Account, AccountKind, NewAccount, Profile, ProfileUpdate, SweepReport, TotpStatus,
    THROTTLE_IDLE,
};
pub use audit::{
    verify_export, AuditCheckpoint, AuditEvent, AuditExport, AuditKind, AuditQuery, ExportFault,
    ExportVerified, PinnedKey,
};
pub use authz::{authorize, Action, Caller, CredentialKind, ADMIN_ROLE, MANAGEMENT_SCOPE};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use config::{Config, OAuthConfig};
pub use elevation::{ElevationOutcome, ElevationRequest, StepUpProof};
pub use error::{Conflict, Denial, Error, ErrorCode, InvalidInput, Missing, ProfileRule, Result};
pub use iam::{Iam, IamBuilder};
pub use invite::{
    CreatedInvitation, Invitation, InvitationAnswer, InvitationState, InvitationStatus,
    NewInvitation, DEFAULT_ORG_ROLE, INVITATION_PREFIX, INVITATION_RETENTION,
};
pub use jose::{JwsAlg, JwtRefusal};
pub use oauth::{
    AuthorizationServerMetadata, AuthorizeOutcome, AuthorizeRequest, ClientAuth, ClientKind,
    GrantType, Introspection, NewClient, OAuthClient, OAuthConsent, OAuthError, OAuthErrorCode,
    RegisteredClient, TokenRequest, TokenResponse,
};
pub use offload::{Inline, Offload, OsThreads};
pub use org::{Membership, Organization, OWNER_ROLE};
pub use passkey::{PasskeyAssertion, PasskeyChallenge, PasskeyConfig, PasskeyInfo};
pub use password::PasswordPolicy;
pub use random::SecureRandom;
pub use secret::{MasterKey, MasterKeyError, SecretString};
pub use session::{LoginRequest, LoginSuccess, Session};
pub use store::{MemoryStore, Store};
pub use throttle::ThrottlePolicy;
pub use token::{
    Amr, ApiTokenInfo, NewApiToken, Principal, PublicKeyInfo, ServiceToken, TokenPair,
    API_TOKEN_AMR, API_TOKEN_PREFIX, SERVICE_TOKEN_AMR, VERIFIED_TOKEN_CAPACITY,
    VERIFIED_TOKEN_TTL,
};
pub use totp::TotpEnrolment;
pub use vault::DbCredentials;
