//! OAuth clients: registration input, the public view, the stored form, and the pure checks
//! (registration rules, secret matching with rotation grace).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::scope::{is_resource_indicator, is_scope_token};
use crate::clock::Timestamp;
use crate::error::InvalidInput;
use crate::oidc::OidcClientSettings;
use crate::secret::SecretString;

/// The prefix of every client secret (so secret scanners can find leaked ones).
pub const CLIENT_SECRET_PREFIX: &str = "iam_cs_";
/// Most redirect URIs, scopes or resources a client may register (each).
const MAX_LIST: usize = 64;
/// Longest redirect URI accepted.
const MAX_URI_LEN: usize = 512;

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// A server-side client that authenticates with its secret.
    Confidential,
    /// A browser or native app: no secret, PKCE always.
    Public,
}

/// A grant type a client may use, named as in the token request's `grant_type`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1).
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    /// `refresh_token` (RFC 6749 §6).
    #[serde(rename = "refresh_token")]
    RefreshToken,
    /// `client_credentials` (RFC 6749 §4.4).
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    /// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
}

impl GrantType {
    /// Every grant type iam supports.
    pub const ALL: [GrantType; 4] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
    ];

    /// The `grant_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    /// Parses a `grant_type` value.
    pub fn parse(value: &str) -> Option<Self> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == value)
    }
}

/// What to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewClient {
    /// Display name shown on consent screens (1-128 characters).
    pub name: String,
    /// Confidential or public.
    pub kind: ClientKind,
    /// Redirect URIs, matched exactly (required for the authorization code grant).
    pub redirect_uris: Vec<String>,
    /// Grant types the client may use.
    pub grant_types: BTreeSet<GrantType>,
    /// Scopes the client may be granted.
    pub scopes: BTreeSet<String>,
    /// Resource indicators (RFC 8707) the client may request tokens for.
    pub resources: BTreeSet<String>,
    /// Whether authorization requests must carry a PKCE challenge (default on; always on for public clients).
    pub require_pkce: bool,
    /// Whether client-credentials tokens act for the registering account (`act` claim).
    pub acts_for_owner: bool,
    /// Whether the client is first-party: registered by an admin and allowed to ask for
    /// [`crate::MANAGEMENT_SCOPE`]. Consent pages say so plainly.
    pub first_party: bool,
    /// Its OpenID Connect settings.
    pub oidc: OidcClientSettings,
}

impl NewClient {
    /// A confidential client with no grants yet.
    pub fn confidential(name: impl Into<String>) -> Self {
        Self::new(name, ClientKind::Confidential)
    }

    /// A public client with no grants yet.
    pub fn public(name: impl Into<String>) -> Self {
        Self::new(name, ClientKind::Public)
    }

    fn new(name: impl Into<String>, kind: ClientKind) -> Self {
        NewClient {
            name: name.into(),
            kind,
            redirect_uris: vec![],
            grant_types: BTreeSet::new(),
            scopes: BTreeSet::new(),
            resources: BTreeSet::new(),
            require_pkce: true,
            acts_for_owner: false,
            first_party: false,
            oidc: OidcClientSettings::default(),
        }
    }

    /// Adds a redirect URI.
    #[must_use]
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Allows grant types.
    #[must_use]
    pub fn grants(mut self, grants: impl IntoIterator<Item = GrantType>) -> Self {
        self.grant_types.extend(grants);
        self
    }

    /// Allows scopes.
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = T>, T: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Allows resource indicators.
    #[must_use]
    pub fn resources<I: IntoIterator<Item = T>, T: Into<String>>(mut self, resources: I) -> Self {
        self.resources.extend(resources.into_iter().map(Into::into));
        self
    }

    /// Makes client-credentials tokens act for the registering account.
    #[must_use]
    pub fn acting_for_owner(mut self) -> Self {
        self.acts_for_owner = true;
        self
    }

    /// Lets a confidential client skip PKCE (not recommended; refused for public clients).
    #[must_use]
    pub fn without_pkce(mut self) -> Self {
        self.require_pkce = false;
        self
    }
}

/// A registered client as callers see it (never its secret).
#[allow(clippy::struct_excessive_bools)] // each flag is a distinct, documented registration fact
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    /// The `client_id` (`cli_…`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Confidential or public.
    pub kind: ClientKind,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Allowed grant types.
    pub grant_types: BTreeSet<GrantType>,
    /// Allowed scopes.
    pub scopes: BTreeSet<String>,
    /// Allowed resource indicators.
    pub resources: BTreeSet<String>,
    /// Whether authorization requests must carry a PKCE challenge.
    pub require_pkce: bool,
    /// The account that registered the client.
    pub owner: Option<String>,
    /// Whether client-credentials tokens act for `owner`.
    pub acts_for_owner: bool,
    /// Whether the client is first-party (registered by an admin; may hold
    /// [`crate::MANAGEMENT_SCOPE`]).
    #[serde(default)]
    pub first_party: bool,
    /// Whether the client was registered by a non-admin: its tokens carry only the scopes
    /// that name roles the account holds at the time (and OpenID's standard scopes).
    #[serde(default)]
    pub owner_scoped: bool,
    /// Disabled clients cannot authenticate and their tokens are revoked.
    pub disabled: bool,
    /// Registration time.
    pub created_at: Timestamp,
    /// When the secret was last rotated.
    pub secret_rotated_at: Option<Timestamp>,
    /// Its OpenID Connect settings.
    #[serde(flatten, default)]
    pub oidc: OidcClientSettings,
}

impl OAuthClient {
    /// Whether the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// A newly registered client; the secret (confidential clients) is shown here once.
#[derive(Clone, Debug)]
pub struct RegisteredClient {
    /// The client.
    pub client: OAuthClient,
    /// The `client_secret`, for confidential clients.
    pub client_secret: Option<SecretString>,
}

/// A secret replaced by rotation, still accepted until `valid_until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PreviousSecret {
    pub hash: String,
    pub valid_until: Timestamp,
}

/// A client as stored: the view plus the keyed hashes of its secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredClient {
    #[serde(flatten)]
    pub info: OAuthClient,
    pub secret_hash: Option<String>,
    pub previous_secret: Option<PreviousSecret>,
}

impl StoredClient {
    /// Whether `presented_hash` (the keyed hash of a presented secret) matches the current
    /// secret, or the previous one within its grace period. Both comparisons run in constant
    /// time, and both always run.
    pub fn secret_matches(&self, presented_hash: &str, now: Timestamp) -> bool {
        let eq =
            |stored: &str| -> subtle::Choice { stored.as_bytes().ct_eq(presented_hash.as_bytes()) };
        let current = self
            .secret_hash
            .as_deref()
            .map_or(subtle::Choice::from(0), eq);
        let previous = match &self.previous_secret {
            Some(p) => eq(&p.hash) & subtle::Choice::from(u8::from(now < p.valid_until)),
            None => subtle::Choice::from(0),
        };
        (current | previous).into()
    }
}

/// Schemes that run code or read local files where a browser follows them: never a redirect target.
const FORBIDDEN_SCHEMES: [&str; 4] = ["javascript", "data", "file", "vbscript"];

/// Whether `uri` may be registered as a redirect URI for a client of `kind`; the error says why not.
///
/// Accepted: `https://host…`; `http://` only on a loopback host (`127.0.0.1`, `[::1]` or
/// `localhost`, any port; RFC 8252 §7.3); and, for public (native) clients only, a private-use
/// scheme in reverse-domain form such as `com.example.app:/cb` (RFC 8252 §7.1). Refused: a
/// fragment (RFC 6749 §3.1.2), userinfo (`user@host`), any character RFC 3986 does not allow
/// (whitespace, controls, `\`, non-ASCII), a malformed percent-escape, host or port, and every
/// other scheme (`javascript:`, `data:`, `file:`, `vbscript:`, …).
pub fn check_redirect_uri(uri: &str, kind: ClientKind) -> Result<(), &'static str> {
    if uri.len() > MAX_URI_LEN {
        return Err("a redirect URI is longer than 512 characters");
    }
    if !uri.bytes().all(is_uri_byte) || !has_valid_percent_escapes(uri) {
        return Err("a redirect URI contains characters RFC 3986 does not allow");
    }
    if uri.contains('#') {
        return Err("a redirect URI must not contain a fragment");
    }
    let Some((scheme, rest)) = uri.split_once(':').filter(|(s, _)| is_scheme(s)) else {
        return Err("a redirect URI must be an absolute URI (scheme:…)");
    };
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "https" => authority_host(rest).map(|_| ()),
        "http" => {
            if is_loopback_host(authority_host(rest)?) {
                Ok(())
            } else {
                Err("an http redirect URI must name a loopback host (127.0.0.1, [::1] or localhost); use https")
            }
        }
        s if FORBIDDEN_SCHEMES.contains(&s) => {
            Err("javascript:, data:, file: and vbscript: URIs are never redirect targets")
        }
        s if is_reverse_domain(s) => {
            if kind != ClientKind::Public {
                return Err("private-use URI schemes (com.example.app:/…) are for public (native) clients only");
            }
            if rest.is_empty() {
                return Err("a private-use redirect URI needs a path (com.example.app:/cb)");
            }
            match rest.strip_prefix("//") {
                Some(after) if authority(after).contains('@') => Err(USERINFO),
                _ => Ok(()),
            }
        }
        _ => Err("a redirect URI must use https, http on a loopback host, or (public clients) a reverse-domain private-use scheme"),
    }
}

const USERINFO: &str = "a redirect URI must not contain userinfo (user@host)";

/// A byte RFC 3986 allows in a URI: unreserved, reserved (gen- and sub-delims) or `%`.
fn is_uri_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// Whether every `%` starts a two-hex-digit escape.
fn has_valid_percent_escapes(uri: &str) -> bool {
    let b = uri.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// A scheme in reverse-domain form (RFC 8252 §7.1): at least two non-empty dot-separated labels.
fn is_reverse_domain(scheme: &str) -> bool {
    scheme.contains('.') && scheme.split('.').all(|label| !label.is_empty())
}

/// The authority of a hierarchical part after its `//`: everything up to the path or query.
fn authority(after_slashes: &str) -> &str {
    after_slashes
        .find(['/', '?'])
        .map_or(after_slashes, |end| &after_slashes[..end])
}

/// The host of `//authority…` (the part of an http or https URI after its `:`), checked: no
/// userinfo, a DNS name, IPv4 address or bracketed IPv6 address, and a decimal port if any.
fn authority_host(rest: &str) -> Result<&str, &'static str> {
    let Some(after) = rest.strip_prefix("//") else {
        return Err("an https or http redirect URI needs a host (scheme://host/…)");
    };
    let authority = authority(after);
    if authority.contains('@') {
        return Err(USERINFO);
    }
    let (host, port) = if authority.starts_with('[') {
        let Some(end) = authority.find(']') else {
            return Err("a redirect URI has an invalid host");
        };
        let (host, tail) = authority.split_at(end + 1);
        if host[1..end].parse::<std::net::Ipv6Addr>().is_err() {
            return Err("a redirect URI has an invalid host");
        }
        match tail.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if tail.is_empty() => (host, None),
            None => return Err("a redirect URI has an invalid host"),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let name_ok = |h: &str| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    if !host.starts_with('[') && !name_ok(host) {
        return Err("a redirect URI has an invalid host");
    }
    if let Some(port) = port {
        if port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err()
        {
            return Err("a redirect URI has an invalid port");
        }
    }
    Ok(host)
}

/// Whether `host` is one RFC 8252 §7.3 and §8.3 name for the loopback interface.
fn is_loopback_host(host: &str) -> bool {
    host == "127.0.0.1" || host == "[::1]" || host.eq_ignore_ascii_case("localhost")
}

/// Checks a registration against the rules; returns the first broken one.
pub fn validate_new_client(new: &NewClient) -> Result<(), InvalidInput> {
    let bad = |why| Err(InvalidInput::OAuthClient(why));
    if new.name.trim().is_empty() || new.name.chars().count() > 128 {
        return Err(InvalidInput::Label("a client name"));
    }
    if new.grant_types.is_empty() {
        return bad("a client needs at least one grant type");
    }
    if new.redirect_uris.len() > MAX_LIST
        || new.scopes.len() > MAX_LIST
        || new.resources.len() > MAX_LIST
    {
        return bad("too many redirect URIs, scopes or resources");
    }
    for uri in &new.redirect_uris {
        check_redirect_uri(uri, new.kind).map_err(InvalidInput::OAuthClient)?;
    }
    if new.grant_types.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
        return bad("the authorization code grant needs a redirect URI");
    }
    if !new.scopes.iter().all(|s| is_scope_token(s)) {
        return bad("a scope contains characters RFC 6749 does not allow");
    }
    if !new.resources.iter().all(|r| is_resource_indicator(r)) {
        return bad("resources must be absolute URIs without fragment");
    }
    new.oidc
        .check(new.kind)
        .map_err(InvalidInput::OAuthClient)?;
    if new.kind == ClientKind::Public {
        if new.grant_types.contains(&GrantType::ClientCredentials) {
            return bad("a public client cannot use the client credentials grant");
        }
        if !new.require_pkce {
            return bad("public clients always require PKCE");
        }
        if new.acts_for_owner {
            return bad("only confidential clients can act for their owner");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(current: &str, previous: Option<(&str, i64)>) -> StoredClient {
        let c = NewClient::confidential("app");
        StoredClient {
            info: OAuthClient {
                name: c.name,
                kind: c.kind,
                redirect_uris: vec![],
                grant_types: BTreeSet::new(),
                scopes: BTreeSet::new(),
                resources: BTreeSet::new(),
                owner: None,
                ..crate::oauth::rules::fixtures::client("cli_1").info
            },
            secret_hash: Some(current.into()),
            previous_secret: previous.map(|(h, until)| PreviousSecret {
                hash: h.into(),
                valid_until: Timestamp::from_secs(until),
            }),
        }
    }

    #[test]
    fn previous_secret_works_only_during_grace() {
        let c = stored("new", Some(("old", 100)));
        assert!(c.secret_matches("new", Timestamp::from_secs(500)));
        assert!(c.secret_matches("old", Timestamp::from_secs(99)));
        assert!(!c.secret_matches("old", Timestamp::from_secs(100)));
        assert!(!c.secret_matches("other", Timestamp::from_secs(0)));
        assert!(!stored("new", None).secret_matches("old", Timestamp::from_secs(0)));
    }

    #[test]
    fn registration_rules() {
        let ok = NewClient::confidential("app")
            .redirect_uri("https://app.example/cb")
            .grants([GrantType::AuthorizationCode])
            .scopes(["read"]);
        assert_eq!(validate_new_client(&ok), Ok(()));
        assert!(
            validate_new_client(&NewClient::confidential("app")).is_err(),
            "no grants"
        );
        let no_uri = NewClient::confidential("app").grants([GrantType::AuthorizationCode]);
        assert!(validate_new_client(&no_uri).is_err());
        let fragment = ok.clone().redirect_uri("https://app.example/cb#x");
        assert!(validate_new_client(&fragment).is_err());
        let public_cc = NewClient::public("cli").grants([GrantType::ClientCredentials]);
        assert!(validate_new_client(&public_cc).is_err());
        let public_no_pkce = NewClient::public("spa")
            .redirect_uri("https://spa.example/cb")
            .grants([GrantType::AuthorizationCode])
            .without_pkce();
        assert!(validate_new_client(&public_no_pkce).is_err());
        let bad_scope = ok.clone().scopes(["a\"b"]);
        assert!(validate_new_client(&bad_scope).is_err());
        assert!(validate_new_client(&NewClient {
            name: " ".into(),
            ..ok
        })
        .is_err());
    }

    #[test]
    fn redirect_uris_accepted() {
        use ClientKind::{Confidential, Public};
        for kind in [Confidential, Public] {
            for uri in [
                "https://app.example/cb",
                "https://app.example",
                "HTTPS://App.Example:8443/cb?x=1&y=%2F",
                "https://[2001:db8::1]:443/cb",
                "http://127.0.0.1/cb",
                "http://127.0.0.1:51004/cb",
                "http://[::1]:8080/cb",
                "http://localhost:3000/callback",
                "http://LOCALHOST/cb",
            ] {
                assert_eq!(check_redirect_uri(uri, kind), Ok(()), "{uri} ({kind:?})");
            }
        }
        for uri in [
            "com.example.app:/oauth2redirect/example-provider",
            "com.example.app://cb",
            "com.example.app:cb",
        ] {
            assert_eq!(check_redirect_uri(uri, Public), Ok(()), "{uri}");
        }
    }

    #[test]
    fn redirect_uris_refused_with_a_reason() {
        use ClientKind::{Confidential, Public};
        let refused = |uri: &str, kind: ClientKind, why: &str| {
            let err = check_redirect_uri(uri, kind).expect_err(uri);
            assert!(err.contains(why), "{uri} ({kind:?}): {err}");
        };
        for kind in [Confidential, Public] {
            for uri in [
                "javascript:alert(1)",
                "JavaScript://app.example/%0aalert(1)",
                "data:text/html,x",
                "file:///etc/passwd",
                "vbscript:msgbox",
            ] {
                refused(uri, kind, "never redirect targets");
            }
            for uri in [
                "http://app.example/cb",
                "http://127.0.0.2/cb",
                "http://localhost.evil.example/cb",
                "http://10.0.0.1/cb",
            ] {
                refused(uri, kind, "loopback");
            }
            refused("https://app.example/cb#x", kind, "fragment");
            refused("http://localhost/cb#", kind, "fragment");
            for uri in [
                "https://user@app.example/cb",
                "https://user:pw@app.example/cb",
                "https://evil.example@app.example/",
                "http://127.0.0.1@evil.example/",
            ] {
                refused(uri, kind, "userinfo");
            }
            for uri in [
                "https://app.example\\@evil.example/",
                "https://app.example/c b",
                "https://app.example/\tcb",
                "https://app.example/caf\u{e9}",
                "https://app.example/%zz",
                "https://app.example/%4",
            ] {
                refused(uri, kind, "RFC 3986");
            }
            for uri in ["/cb", "app.example/cb", ":cb", "1ab://x"] {
                refused(uri, kind, "absolute");
            }
            for uri in ["https:/app.example/cb", "https:app.example", "http:cb"] {
                refused(uri, kind, "needs a host");
            }
            for uri in [
                "https:///cb",
                "https://app_example/cb",
                "https://[::1/cb",
                "https://[nope]/cb",
                "https://[::1]x/cb",
                "https://%61pp.example/cb",
            ] {
                refused(uri, kind, "invalid host");
            }
            for uri in [
                "https://app.example:/cb",
                "https://app.example:65536/cb",
                "http://localhost:-1/cb",
                "http://127.0.0.1:80:80/cb",
            ] {
                refused(uri, kind, "invalid port");
            }
            refused("myapp:/cb", kind, "must use https");
            refused("ftp://app.example/cb", kind, "must use https");
            refused(
                &format!("https://app.example/{}", "a".repeat(MAX_URI_LEN)),
                kind,
                "longer",
            );
        }
        refused(
            "com.example.app:/cb",
            Confidential,
            "public (native) clients only",
        );
        refused("com.example.app:", Public, "needs a path");
        refused("com..app:/cb", Public, "must use https");
        refused("com.example.app://user@host/cb", Public, "userinfo");
        // The registration reports the reason.
        let c = NewClient::confidential("app")
            .redirect_uri("http://app.example/cb")
            .grants([GrantType::AuthorizationCode]);
        assert!(matches!(
            validate_new_client(&c),
            Err(InvalidInput::OAuthClient(why)) if why.contains("loopback")
        ));
    }

    #[test]
    fn grant_type_names() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
        }
        assert_eq!(GrantType::parse("password"), None);
        assert_eq!(
            serde_json::to_string(&GrantType::DeviceCode)
                .ok()
                .as_deref(),
            Some("\"urn:ietf:params:oauth:grant-type:device_code\"")
        );
    }
}
