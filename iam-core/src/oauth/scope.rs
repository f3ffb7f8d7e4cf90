//! Scopes (RFC 6749 §3.3) and resource indicators (RFC 8707).

use std::collections::BTreeSet;

use super::error::{OAuthError, OAuthErrorCode};

/// Longest `scope` parameter accepted, in bytes.
const MAX_SCOPE_LEN: usize = 2048;
/// Most scopes in one request.
const MAX_SCOPES: usize = 64;
/// Longest resource indicator accepted, in bytes.
const MAX_RESOURCE_LEN: usize = 512;
/// Most resource indicators in one request.
const MAX_RESOURCES: usize = 16;

/// Whether `token` is a scope-token: one or more of `%x21 / %x23-5B / %x5D-7E`.
pub fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Parses a space-delimited `scope` parameter into a sorted set; malformed input is `invalid_scope`.
pub fn parse_scope(scope: &str) -> Result<BTreeSet<String>, OAuthError> {
    let bad = OAuthError::new(OAuthErrorCode::InvalidScope, "the scope is malformed");
    if scope.len() > MAX_SCOPE_LEN {
        return Err(bad);
    }
    let mut out = BTreeSet::new();
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        if !is_scope_token(token) {
            return Err(bad);
        }
        out.insert(token.to_owned());
    }
    if out.len() > MAX_SCOPES {
        return Err(bad);
    }
    Ok(out)
}

/// The `scope` parameter for a set of scopes (space-delimited, sorted).
pub fn format_scope<'a>(scopes: impl IntoIterator<Item = &'a String>) -> String {
    scopes
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The requested scopes if every one is in `allowed`, else `invalid_scope`. No request
/// (`None`) means all of `default`.
pub fn decide_scope(
    requested: Option<&str>,
    allowed: &BTreeSet<String>,
    default: &BTreeSet<String>,
) -> Result<BTreeSet<String>, OAuthError> {
    let Some(requested) = requested else {
        return Ok(default.clone());
    };
    let set = parse_scope(requested)?;
    if set.is_subset(allowed) {
        Ok(set)
    } else {
        Err(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            "the requested scope exceeds what is allowed",
        ))
    }
}

/// Whether `uri` is a valid resource indicator: an absolute URI (scheme `:` rest) without a
/// fragment (RFC 8707 §2), with no spaces or control characters.
pub fn is_resource_indicator(uri: &str) -> bool {
    if uri.len() > MAX_RESOURCE_LEN || uri.contains('#') {
        return false;
    }
    if uri.bytes().any(|b| b <= 0x20 || b == 0x7F) {
        return false;
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
}

/// The requested resources if each is a valid indicator within `allowed`, else `invalid_target`.
pub fn decide_resources(
    requested: &[String],
    allowed: &BTreeSet<String>,
) -> Result<BTreeSet<String>, OAuthError> {
    if requested.len() > MAX_RESOURCES {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "too many resource indicators",
        ));
    }
    let mut out = BTreeSet::new();
    for r in requested {
        if !is_resource_indicator(r) {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                "a resource indicator is not an absolute URI without fragment",
            ));
        }
        if !allowed.contains(r) {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                "the requested resource is not allowed for this client",
            ));
        }
        out.insert(r.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scopes_parse_and_format() {
        assert_eq!(parse_scope("b a  a").ok(), Some(set(&["a", "b"])));
        assert_eq!(parse_scope("").ok(), Some(BTreeSet::new()));
        assert!(parse_scope("a\"b").is_err());
        assert!(parse_scope("a\\b").is_err());
        assert!(parse_scope("caf\u{e9}").is_err());
        assert!(parse_scope(&"a ".repeat(2000)).is_err());
        assert_eq!(format_scope(&set(&["read", "write"])), "read write");
    }

    #[test]
    fn scope_decisions() {
        let allowed = set(&["read", "write"]);
        assert_eq!(
            decide_scope(Some("read"), &allowed, &allowed).ok(),
            Some(set(&["read"]))
        );
        assert_eq!(
            decide_scope(None, &allowed, &allowed).ok(),
            Some(allowed.clone())
        );
        assert_eq!(
            decide_scope(Some("read admin"), &allowed, &allowed).map_err(|e| e.code),
            Err(OAuthErrorCode::InvalidScope)
        );
    }

    #[test]
    fn resource_indicators() {
        assert!(is_resource_indicator("https://api.example.com/"));
        assert!(is_resource_indicator("urn:example:api"));
        assert!(!is_resource_indicator("https://api.example.com/#frag"));
        assert!(!is_resource_indicator("/relative"));
        assert!(!is_resource_indicator("1http://x"));
        assert!(!is_resource_indicator("https:"));
        let allowed = set(&["https://api.example.com/"]);
        assert!(decide_resources(&["https://api.example.com/".into()], &allowed).is_ok());
        assert_eq!(
            decide_resources(&["https://other.example.com/".into()], &allowed).map_err(|e| e.code),
            Err(OAuthErrorCode::InvalidTarget)
        );
        assert_eq!(
            decide_resources(&["relative".into()], &allowed).map_err(|e| e.code),
            Err(OAuthErrorCode::InvalidTarget)
        );
    }
}
