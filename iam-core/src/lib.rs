//! # iam-core
//!
//! The pure core of iam, an embeddable identity and access library: human and system
//! accounts, Argon2id passwords, TOTP, roles, sessions, PASETO v4.public access tokens with
//! rotating opaque refresh tokens, and a hash-chained audit log.
//!
//! Start at [`Iam`]: open it over a [`Store`] (here the in-memory [`MemoryStore`]; SQLite and
//! PostgreSQL adapters live in their own crates) with a [`Config`]. iam-core does I/O only
//! through [`Store`] and reads time only from a [`Clock`].
//!
//! ```
//! use iam_core::{Caller, Config, Iam, LoginRequest, MasterKey, MemoryStore, NewAccount, PasswordPolicy, SecureRandom};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), iam_core::Error> {
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

pub mod account;
pub mod audit;
pub mod authz;
pub mod clock;
pub mod config;
mod elevation;
pub mod error;
mod iam;
mod json;
pub mod oauth;
pub mod offload;
mod org;
pub mod password;
mod plan;
pub mod random;
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

pub use account::{Account, AccountKind, NewAccount, SweepReport, TotpStatus, THROTTLE_IDLE};
pub use audit::{AuditEvent, AuditKind, AuditQuery};
pub use authz::{authorize, Action, Caller, CredentialKind, ADMIN_ROLE, MANAGEMENT_SCOPE};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use config::{Config, OAuthConfig};
pub use elevation::{ElevationOutcome, ElevationRequest, StepUpProof};
pub use error::{Conflict, Denial, Error, ErrorCode, InvalidInput, Missing, Result};
pub use iam::{Iam, IamBuilder};
pub use oauth::{
    AuthorizationServerMetadata, AuthorizeOutcome, AuthorizeRequest, ClientAuth, ClientKind,
    GrantType, Introspection, NewClient, OAuthClient, OAuthConsent, OAuthError, OAuthErrorCode,
    RegisteredClient, TokenRequest, TokenResponse,
};
pub use offload::{Inline, Offload, OsThreads};
pub use org::{Membership, Organization, OWNER_ROLE};
pub use password::PasswordPolicy;
pub use random::SecureRandom;
pub use secret::{MasterKey, SecretString};
pub use session::{LoginRequest, LoginSuccess, Session};
pub use store::{MemoryStore, Store};
pub use throttle::ThrottlePolicy;
pub use token::{
    Amr, ApiTokenInfo, NewApiToken, Principal, PublicKeyInfo, ServiceToken, TokenPair,
    API_TOKEN_AMR, API_TOKEN_PREFIX, SERVICE_TOKEN_AMR,
};
pub use totp::TotpEnrolment;
pub use vault::DbCredentials;
