//! The kinds of stored records.

use serde::{Deserialize, Serialize};

/// What a [`Record`](super::Record) holds; each kind is its own namespace for ids and lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A human or system account; lookup is the username.
    Account,
    /// A login session; parent is the account id.
    Session,
    /// A refresh token (id is its keyed hash); parent is the session id.
    RefreshToken,
    /// A token-signing key (id is its PASERK pid).
    SigningKey,
    /// A service-account token grant; parent is the service account.
    ServiceGrant,
    /// A personal API token (id is its keyed hash, lookup its public id); parent is the owner.
    ApiToken,
    /// Sealed database credentials (id is the service account id).
    DbCredentials,
    /// An elevation awaiting approval; parent is the requester.
    ElevationRequest,
    /// A scheduled account deletion (id is the account id).
    DeletionSchedule,
    /// An organization; lookup is its name.
    Organization,
    /// A membership, indexed by organization (parent).
    Membership,
    /// The same membership, indexed by account (parent).
    MembershipByAccount,
    /// An OAuth client (id is the `client_id`); parent is the registering account.
    OAuthClient,
    /// An OAuth authorization code (id is its keyed hash).
    AuthCode,
    /// An account's consent to an OAuth client (id `account/client`); parent is the account.
    OAuthConsent,
    /// An OAuth token family from one code or device exchange (id is the tokens' `sid`); parent is the client.
    OAuthFamily,
    /// An OAuth refresh token (id is its keyed hash); parent is its family.
    OAuthRefresh,
    /// A device authorization (id is the keyed hash of the device code, lookup the user code); parent is the client.
    DeviceCode,
    /// A JOSE (JWT) signing key (id is its RFC 7638 thumbprint, the `kid`).
    JoseKey,
    /// A client to notify by back-channel logout when a login session ends: the same token
    /// family indexed by its login session (id `session/family`); parent is the session.
    LogoutSubscription,
    /// A back-channel logout token awaiting delivery (the outbox); parent is the client.
    LogoutDelivery,
    /// A used client assertion (`private_key_jwt`; id is the hash of client id and `jti`),
    /// kept until the assertion expires so it cannot be replayed; parent is the client.
    ClientAssertion,
    /// A signed checkpoint of the audit chain's head (id: the signed event's sequence number,
    /// zero-padded to 20 digits so ids sort in chain order), and the pointer to the latest one
    /// (id `latest`).
    AuditCheckpoint,
    /// An invitation to create an account (id `inv_…`, lookup the keyed hash of its secret);
    /// parent is the inviting account.
    Invitation,
    /// A registered passkey (id `pk_…`, lookup its WebAuthn credential id in base64url);
    /// parent is its account.
    Passkey,
    /// A passkey registration or authentication in progress (id `pkc_…`), single-use and
    /// short-lived; parent is the account when one is known.
    PasskeyCeremony,
}

impl RecordKind {
    /// Every kind, for adapters that create one table partition per kind.
    pub const ALL: [RecordKind; 26] = [
        RecordKind::Account,
        RecordKind::Session,
        RecordKind::RefreshToken,
        RecordKind::SigningKey,
        RecordKind::ServiceGrant,
        RecordKind::ApiToken,
        RecordKind::DbCredentials,
        RecordKind::ElevationRequest,
        RecordKind::DeletionSchedule,
        RecordKind::Organization,
        RecordKind::Membership,
        RecordKind::MembershipByAccount,
        RecordKind::OAuthClient,
        RecordKind::AuthCode,
        RecordKind::OAuthConsent,
        RecordKind::OAuthFamily,
        RecordKind::OAuthRefresh,
        RecordKind::DeviceCode,
        RecordKind::JoseKey,
        RecordKind::LogoutSubscription,
        RecordKind::LogoutDelivery,
        RecordKind::ClientAssertion,
        RecordKind::AuditCheckpoint,
        RecordKind::Invitation,
        RecordKind::Passkey,
        RecordKind::PasskeyCeremony,
    ];

    /// The stable name adapters store.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Account => "account",
            RecordKind::Session => "session",
            RecordKind::RefreshToken => "refresh_token",
            RecordKind::SigningKey => "signing_key",
            RecordKind::ServiceGrant => "service_grant",
            RecordKind::ApiToken => "api_token",
            RecordKind::DbCredentials => "db_credentials",
            RecordKind::ElevationRequest => "elevation_request",
            RecordKind::DeletionSchedule => "deletion_schedule",
            RecordKind::Organization => "organization",
            RecordKind::Membership => "membership",
            RecordKind::MembershipByAccount => "membership_by_account",
            RecordKind::OAuthClient => "oauth_client",
            RecordKind::AuthCode => "oauth_code",
            RecordKind::OAuthConsent => "oauth_consent",
            RecordKind::OAuthFamily => "oauth_family",
            RecordKind::OAuthRefresh => "oauth_refresh",
            RecordKind::DeviceCode => "oauth_device_code",
            RecordKind::JoseKey => "jose_key",
            RecordKind::LogoutSubscription => "oidc_logout_subscription",
            RecordKind::LogoutDelivery => "oidc_logout_delivery",
            RecordKind::ClientAssertion => "oauth_client_assertion",
            RecordKind::AuditCheckpoint => "audit_checkpoint",
            RecordKind::Invitation => "invitation",
            RecordKind::Passkey => "passkey",
            RecordKind::PasskeyCeremony => "passkey_ceremony",
        }
    }

    /// Parses a name written by [`RecordKind::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}
