//! Authentication method references: the `amr` values iam writes into sessions and tokens.

/// How a principal authenticated (RFC 8176 values where one exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Amr {
    /// A password (`pwd`).
    Password,
    /// A one-time code from an authenticator app (`otp`).
    Otp,
    /// A service-account token (`service_token`).
    ServiceToken,
    /// A personal API token (`api_token`).
    ApiToken,
    /// A hardware-bound key (`hwk`): a passkey that cannot leave its authenticator.
    HardwareKey,
    /// A software-secured key (`swk`): a passkey that may be synced or backed up.
    SoftwareKey,
    /// A test of the user's presence and verification by the authenticator (`user`).
    User,
    /// Several factors (`mfa`): a password and a passkey.
    MultiFactor,
}

impl Amr {
    /// The value as written in the `amr` claim.
    pub const fn as_str(self) -> &'static str {
        match self {
            Amr::Password => "pwd",
            Amr::Otp => "otp",
            Amr::ServiceToken => "service_token",
            Amr::ApiToken => "api_token",
            Amr::HardwareKey => "hwk",
            Amr::SoftwareKey => "swk",
            Amr::User => "user",
            Amr::MultiFactor => "mfa",
        }
    }

    /// Whether `amr` (a claim's list) names this method.
    pub fn in_list(self, amr: &[String]) -> bool {
        amr.iter().any(|a| a == self.as_str())
    }
}

impl From<Amr> for String {
    fn from(amr: Amr) -> String {
        amr.as_str().to_owned()
    }
}
