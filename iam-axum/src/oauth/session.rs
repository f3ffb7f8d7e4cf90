//! The browser side of the page set: the session cookie (holding the iam session's access
//! and refresh token, renewed by refresh when the access token expires) and the CSRF cookie
//! whose value every form must echo (double submit, compared in constant time). The CSRF token
//! is replaced at sign-in and sign-out, so a token known before a login (one planted in the
//! browser, or read from a page served to it while signed out) is worthless afterwards.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use iam_core::{Clock, Denial, Principal, SecureRandom, Store, TokenPair};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::form::Params;
use super::OAuthState;

/// Separates the access and refresh token in the session cookie (in neither token's alphabet).
const SEP: char = '~';

/// Longest cookie value read (a session cookie is well under 2 KiB).
const MAX_COOKIE_LEN: usize = 4096;

/// Length of a CSRF token: 32 random bytes, base64url.
const CSRF_LEN: usize = 43;

/// The request header that carries the CSRF token on the pages' JSON calls (the WebAuthn
/// ceremonies the static script runs).
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Cookie names: `__Host-` prefixed when the cookies are `Secure` (so no subdomain or path can
/// set or shadow them).
pub(crate) fn cookie_names(secure: bool) -> (&'static str, &'static str) {
    if secure {
        ("__Host-iam_session", "__Host-iam_csrf")
    } else {
        ("iam_session", "iam_csrf")
    }
}

/// The name of the cookie that binds an upstream login to the browser that began it.
pub(crate) fn upstream_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-iam_upstream"
    } else {
        "iam_upstream"
    }
}

/// How long the upstream-binding cookie lives: as long as a begun upstream login.
const UPSTREAM_COOKIE_MAX_AGE: u64 = iam_core::upstream::UPSTREAM_ATTEMPT_TTL.as_secs();

/// The value of cookie `name` in the request, if present once with a sane size.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((n, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if n == name {
                if found.is_some() {
                    return None;
                }
                found = Some(v);
            }
        }
    }
    found.filter(|v| !v.is_empty() && v.len() <= MAX_COOKIE_LEN)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when asked.
fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

/// What the pages know about the browser: who is logged in, its CSRF token, and the cookies
/// to set on the answer.
pub(crate) struct Browser {
    /// The logged-in user (a live session's principal), if any.
    pub user: Option<Principal>,
    /// The CSRF token the browser sent (if well-formed).
    sent_csrf: Option<String>,
    /// The CSRF token forms rendered now must carry.
    pub csrf: String,
    /// `Set-Cookie` values for the answer.
    set: Vec<HeaderValue>,
    /// The live session's refresh token (as in the cookie the answer leaves), kept to renew
    /// the cookie's access token after a re-authentication.
    refresh: Option<Zeroizing<String>>,
    secure: bool,
    session_max_age: u64,
}

impl Browser {
    /// Reads the cookies; verifies the session (refreshing it once the access token expired).
    pub(crate) async fn load<S: Store, C: Clock>(
        st: &OAuthState<S, C>,
        headers: &HeaderMap,
    ) -> Self {
        let (session_name, csrf_name) = cookie_names(st.secure);
        let mut b = Browser {
            user: None,
            sent_csrf: None,
            csrf: String::new(),
            set: Vec::new(),
            refresh: None,
            secure: st.secure,
            session_max_age: st.iam.config().session_ttl.as_secs(),
        };
        let sent = cookie(headers, csrf_name).filter(|v| {
            v.len() == CSRF_LEN
                && v.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        });
        if let Some(v) = sent {
            b.sent_csrf = Some(v.to_owned());
            v.clone_into(&mut b.csrf);
        } else {
            b.new_csrf(&st.rng);
        }
        let Some(value) = cookie(headers, session_name) else {
            return b;
        };
        let Some((access, refresh)) = value.split_once(SEP) else {
            b.clear_session(session_name);
            return b;
        };
        match st.iam.verify(access).await {
            Ok(p) if p.is_session_token() => {
                b.user = Some(p);
                b.refresh = Some(Zeroizing::new(refresh.to_owned()));
            }
            Err(Denial::TokenExpired) => match st.refresh_session(refresh).await {
                Some(pair) => match st.iam.verify(pair.access_token.expose()).await {
                    Ok(p) if p.is_session_token() => {
                        b.set_session_cookie(session_name, &pair);
                        b.user = Some(p);
                    }
                    _ => b.clear_session(session_name),
                },
                None => b.clear_session(session_name),
            },
            _ => b.clear_session(session_name),
        }
        b
    }

    /// Draws a fresh CSRF token for the forms rendered from now on and sets its cookie (which
    /// lives as long as a session may). The token the browser sent stays the one this request's
    /// own form was checked against.
    fn new_csrf(&mut self, rng: &SecureRandom) {
        let (_, csrf_name) = cookie_names(self.secure);
        self.csrf = URL_SAFE_NO_PAD.encode(rng.bytes::<32>());
        self.set.extend(set_cookie(
            csrf_name,
            &self.csrf,
            self.session_max_age,
            self.secure,
        ));
    }

    fn set_session_cookie(&mut self, name: &str, pair: &TokenPair) {
        self.set_session_tokens(
            name,
            pair.access_token.expose(),
            pair.refresh_token.expose(),
        );
    }

    fn set_session_tokens(&mut self, name: &str, access: &str, refresh: &str) {
        let value = Zeroizing::new(format!("{access}{SEP}{refresh}"));
        self.set
            .extend(set_cookie(name, &value, self.session_max_age, self.secure));
        self.refresh = Some(Zeroizing::new(refresh.to_owned()));
    }

    /// Records a re-authentication of the signed-in session: the cookie carries `access` (the
    /// session's new access token, whose sign-in time is now) beside the same refresh token,
    /// and `user` becomes its principal.
    pub(crate) fn reauthenticated(&mut self, access: &str, user: Principal) {
        let (name, _) = cookie_names(self.secure);
        if let Some(refresh) = self.refresh.take() {
            self.set_session_tokens(name, access, &refresh);
        }
        self.user = Some(user);
    }

    fn clear_session(&mut self, name: &str) {
        self.set.extend(set_cookie(name, "", 0, self.secure));
    }

    /// Records a new login: the session cookie is set on the answer, and the CSRF token is
    /// replaced (the forms of the answer carry the new one).
    pub(crate) fn logged_in(&mut self, pair: &TokenPair, user: Principal, rng: &SecureRandom) {
        let (name, _) = cookie_names(self.secure);
        self.set_session_cookie(name, pair);
        self.user = Some(user);
        self.new_csrf(rng);
    }

    /// Records a logout: the session cookie is cleared and the CSRF token replaced.
    pub(crate) fn logged_out(&mut self, rng: &SecureRandom) {
        let (name, _) = cookie_names(self.secure);
        self.clear_session(name);
        self.user = None;
        self.refresh = None;
        self.new_csrf(rng);
    }

    /// Whether the form's `csrf` field matches the CSRF cookie the browser sent.
    pub(crate) fn csrf_ok(&self, params: &Params) -> bool {
        let mut fields = params.iter().filter(|(n, _)| n == "csrf");
        match (fields.next(), fields.next()) {
            (Some((_, v)), None) => self.csrf_matches(v.as_bytes()),
            _ => false,
        }
    }

    /// The upstream-binding cookie's value the browser sent, if any.
    pub(crate) fn upstream_binding<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        cookie(headers, upstream_cookie_name(self.secure))
    }

    /// Sets the upstream-binding cookie to `value` on the answer.
    pub(crate) fn set_upstream_binding(&mut self, value: &str) {
        self.set.extend(set_cookie(
            upstream_cookie_name(self.secure),
            value,
            UPSTREAM_COOKIE_MAX_AGE,
            self.secure,
        ));
    }

    /// Clears the upstream-binding cookie.
    pub(crate) fn clear_upstream_binding(&mut self) {
        self.set.extend(set_cookie(
            upstream_cookie_name(self.secure),
            "",
            0,
            self.secure,
        ));
    }

    /// Whether a script's request carries the CSRF token of the page it came from: one
    /// [`CSRF_HEADER`] equal to the CSRF cookie the browser sent. (A cross-site page cannot
    /// set this header without a CORS preflight, which nothing here answers.)
    pub(crate) fn csrf_header_ok(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(CSRF_HEADER).iter();
        match (values.next(), values.next()) {
            (Some(v), None) => self.csrf_matches(v.as_bytes()),
            _ => false,
        }
    }

    /// Whether `value` equals the CSRF cookie the browser sent (constant time).
    fn csrf_matches(&self, value: &[u8]) -> bool {
        self.sent_csrf
            .as_ref()
            .is_some_and(|sent| bool::from(value.ct_eq(sent.as_bytes())))
    }

    /// Adds the cookies to `response`.
    pub(crate) fn finish(self, mut response: Response) -> Response {
        for v in self.set {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_once_only() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        h.append(header::COOKIE, HeaderValue::from_static("b=3"));
        assert_eq!(cookie(&h, "b"), None, "a repeated cookie is ignored");
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn cookie_flags() {
        let v = set_cookie("n", "v", 60, true).map(|v| v.to_str().map(str::to_owned));
        assert_eq!(
            v.and_then(Result::ok).as_deref(),
            Some("n=v; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure")
        );
    }
}
