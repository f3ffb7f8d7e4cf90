//! The OAuth 2.0 authorization server core: clients, the authorization code grant with PKCE,
//! client credentials, the device grant, refresh rotation, revocation, introspection and
//! server metadata, as plain types and pure decisions.
//!
//! The [`crate::Iam`] methods that run the flows (`register_client`, `authorize`, `token`,
//! `revoke_token`, `introspect`, `device_authorization`, ...) take the parsed request types
//! here and return the typed responses; the HTTP layer only parses and serializes.
//! Errors are [`OAuthError`]s with the RFCs' codes.
//!
//! ```
//! use iam_core::{Caller, ClientAuth, Config, GrantType, Iam, LoginRequest, MasterKey, MemoryStore,
//!     NewAccount, NewClient, PasswordPolicy, SecureRandom, TokenRequest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
//! config.passwords = PasswordPolicy::insecure_fast_for_tests();
//! let iam = Iam::builder(MemoryStore::new(), config).open().await?;
//! iam.create_account(NewAccount::human("root", "correct horse battery").with_roles(["admin"]), Caller::System).await?;
//! let login = iam.login(&LoginRequest::password("root", "correct horse battery")).await?;
//! let admin = iam.verify(login.tokens.access_token.expose()).await?;
//!
//! // Register a confidential client; its secret is shown only here.
//! let reg = iam
//!     .register_client(&admin, NewClient::confidential("billing").grants([GrantType::ClientCredentials]).scopes(["invoices:read"]))
//!     .await?;
//! let auth = ClientAuth::secret(reg.client.id.clone(), reg.client_secret.expect("confidential"));
//!
//! // The token endpoint: what the HTTP layer calls after parsing the form.
//! let req = TokenRequest::ClientCredentials { scope: Some("invoices:read".into()), resource: vec![] };
//! let response = iam.token(&auth, &req).await?;
//! assert_eq!(serde_json::to_value(&response)?["token_type"], "Bearer");
//!
//! let who = iam.verify(response.access_token.expose()).await?;
//! assert_eq!(who.client_id.as_deref(), Some(reg.client.id.as_str()));
//! # Ok(())
//! # }
//! ```

mod serve;

pub(crate) mod assertion;
pub(crate) mod authorize;
pub(crate) mod client;
pub(crate) mod device;
pub(crate) mod error;
pub(crate) mod grant;
pub(crate) mod known_clients;
pub(crate) mod metadata;
pub mod pkce;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod rules;
pub mod scope;

pub use assertion::{
    ClientJwk, ClientJwks, TokenEndpointAuthMethod, CLIENT_ASSERTION_TYPE_JWT,
    MAX_ASSERTION_LIFETIME,
};
pub use client::{
    check_redirect_uri, validate_new_client, ClientKind, GrantType, NewClient, OAuthClient,
    RegisteredClient, CLIENT_SECRET_PREFIX,
};
pub use device::{
    format_user_code, normalize_user_code, SLOW_DOWN_STEP_SECS, USER_CODE_ALPHABET, USER_CODE_LEN,
};
pub use error::{OAuthError, OAuthErrorCode};
pub use grant::OAuthConsent;
pub use known_clients::KNOWN_CLIENTS_CAPACITY;
pub use metadata::AuthorizationServerMetadata;
pub use request::{AuthorizeRequest, ClientAuth, TokenRequest, TokenTypeHint};
pub use response::{
    Actor, AuthorizationRedirect, AuthorizationResult, AuthorizeOutcome, ConsentPrompt,
    DeviceAuthorizationResponse, DevicePrompt, Introspection, ResponseMode, TokenResponse,
};

/// The `token_type` of every access token iam issues.
pub const BEARER: &str = "Bearer";
/// The `token_type` introspection reports for refresh tokens.
pub(crate) const REFRESH_TOKEN_TYPE: &str = "refresh_token";
