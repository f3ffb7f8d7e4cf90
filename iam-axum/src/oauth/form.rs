//! Strict parsing of what the OAuth endpoints receive: `application/x-www-form-urlencoded`
//! bodies and query strings, and HTTP Basic client credentials (RFC 6749 §2.3.1).
//!
//! Everything malformed is an [`OAuthError`] (`invalid_request`, or `invalid_client` for
//! credentials), never a framework rejection.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use iam_core::{OAuthError, SecretString};

/// Parameters of a form or query string, in order, repeats kept.
pub(crate) type Params = Vec<(String, String)>;

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte;
/// a bad escape or bytes that are not UTF-8 give `None`.
pub(crate) fn decode_component(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| char::from(*b).to_digit(16))?;
                let lo = bytes.get(i + 2).and_then(|b| char::from(*b).to_digit(16))?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Encodes one component for a form or query string (everything but the RFC 3986 unreserved
/// characters is percent-encoded).
pub(crate) fn encode_component(value: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Encodes parameters as a form or query string.
pub(crate) fn encode_params(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(n, v)| format!("{}={}", encode_component(n), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Parses a form body or query string. Empty segments (`a=1&&b=2`) are skipped; a segment
/// without `=` is a name with an empty value (as browsers send it); a bad percent-escape,
/// non-UTF-8 content or an empty name is `invalid_request`.
pub(crate) fn parse_params(raw: &[u8]) -> Result<Params, OAuthError> {
    const MALFORMED: OAuthError =
        OAuthError::invalid_request("the parameters are not validly form-encoded");
    let text = std::str::from_utf8(raw).map_err(|_| MALFORMED)?;
    let mut out = Vec::new();
    for segment in text.split('&').filter(|s| !s.is_empty()) {
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        let name = decode_component(name).ok_or(MALFORMED)?;
        let value = decode_component(value).ok_or(MALFORMED)?;
        if name.is_empty() {
            return Err(MALFORMED);
        }
        out.push((name, value));
    }
    Ok(out)
}

/// Whether the request declares a form body (`application/x-www-form-urlencoded`, any
/// parameters such as `charset` allowed).
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Checks the content type and parses a form body.
pub(crate) fn form_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    parse_params(body)
}

/// The single value of `name`; a repeat is `invalid_request` (RFC 6749 §3.1).
pub(crate) fn single<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, OAuthError> {
    let mut found = params.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
    let first = found.next();
    if found.next().is_some() {
        return Err(OAuthError::invalid_request(
            "a request parameter is repeated",
        ));
    }
    Ok(first.map(String::as_str))
}

/// Refuses any repeated parameter other than those in `may_repeat`.
pub(crate) fn no_repeats(params: &Params, may_repeat: &[&str]) -> Result<(), OAuthError> {
    for (i, (name, _)) in params.iter().enumerate() {
        if !may_repeat.contains(&name.as_str()) && params[..i].iter().any(|(n, _)| n == name) {
            return Err(OAuthError::invalid_request(
                "a request parameter is repeated",
            ));
        }
    }
    Ok(())
}

/// Outcome of reading the `Authorization` header of a client request.
#[derive(Debug)]
pub(crate) enum BasicAuth {
    /// No `Authorization` header.
    Absent,
    /// Valid Basic credentials, decoded.
    Present(String, SecretString),
}

/// Reads HTTP Basic client credentials: base64 of `id:secret`, each part form-urlencoded
/// (RFC 6749 §2.3.1). A header of another scheme, undecodable base64, a missing colon or a
/// bad escape is `invalid_client` (answered 401 with a Basic challenge).
pub(crate) fn basic_auth(headers: &HeaderMap) -> Result<BasicAuth, OAuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(BasicAuth::Absent);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(
            "only one Authorization header is allowed",
        ));
    }
    let bad = OAuthError::invalid_client;
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = zeroize::Zeroizing::new(STANDARD.decode(encoded.trim()).map_err(|_| bad())?);
    let text = std::str::from_utf8(&decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let id = decode_component(id).ok_or_else(bad)?;
    let secret = decode_component(secret).ok_or_else(bad)?;
    if id.is_empty() {
        return Err(bad());
    }
    Ok(BasicAuth::Present(id, SecretString::new(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn p(raw: &str) -> Result<Params, OAuthError> {
        parse_params(raw.as_bytes())
    }

    #[test]
    fn forms_decode_plus_and_escapes() {
        assert_eq!(
            p("a=1+2&b=%C3%A9%26&&c").ok(),
            Some(vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "é&".into()),
                ("c".into(), String::new()),
            ])
        );
        assert!(p("a=%zz").is_err());
        assert!(p("a=%4").is_err());
        assert!(p("a=%FF").is_err(), "not UTF-8");
        assert!(p("=x").is_err());
        assert_eq!(encode_component("a b&é"), "a%20b%26%C3%A9");
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        assert!(matches!(basic_auth(&h), Ok(BasicAuth::Absent)));
        // "my%3Aclient:s%2Bc+r" -> id "my:client", secret "s+c r"
        let enc = STANDARD.encode("my%3Aclient:s%2Bc+r");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {enc}")).unwrap_or(HeaderValue::from_static("")),
        );
        match basic_auth(&h) {
            Ok(BasicAuth::Present(id, secret)) => {
                assert_eq!(id, "my:client");
                assert_eq!(secret.expose(), "s+c r");
            }
            other => panic!("{other:?}"),
        }
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert!(basic_auth(&h).is_err());
    }
}
