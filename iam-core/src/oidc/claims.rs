//! Standard claims (OpenID Connect Core §5.1, §5.4): which scope releases which claim, the
//! `claims` request parameter (§5.5), and an account's claims as served.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::account::StoredAccount;
use crate::oauth::OAuthError;

/// The scope that makes an authorization request an OpenID Connect one.
pub const OPENID_SCOPE: &str = "openid";

/// Longest `claims` parameter accepted (bytes).
const MAX_CLAIMS_REQUEST: usize = 4096;

/// The claims each standard scope releases, besides `sub` (always released).
pub const SCOPE_CLAIMS: [(&str, &[&str]); 2] = [
    ("profile", &["name", "preferred_username", "updated_at"]),
    ("email", &["email", "email_verified"]),
];

/// Every claim iam can serve about an account.
pub fn supported_claims() -> Vec<&'static str> {
    let mut all = vec!["sub"];
    all.extend(SCOPE_CLAIMS.iter().flat_map(|(_, c)| c.iter().copied()));
    all
}

/// The claims `scopes` release (`sub` included).
pub(crate) fn released_by(scopes: &BTreeSet<String>) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::from(["sub"]);
    for (scope, claims) in SCOPE_CLAIMS {
        if scopes.contains(scope) {
            out.extend(claims.iter().copied());
        }
    }
    out
}

/// The `claims` request parameter, reduced to what iam acts on: the standard claims asked for
/// in the ID token and from userinfo (each still released only by a consented scope).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ClaimsRequest {
    /// Claims asked for in the ID token.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub id_token: BTreeSet<String>,
    /// Claims asked for from userinfo.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub userinfo: BTreeSet<String>,
}

impl ClaimsRequest {
    /// The standard scopes that release the claims asked for.
    pub fn implied_scopes(&self) -> impl Iterator<Item = &'static str> + '_ {
        SCOPE_CLAIMS
            .iter()
            .filter(|(_, claims)| {
                claims
                    .iter()
                    .any(|c| self.id_token.contains(*c) || self.userinfo.contains(*c))
            })
            .map(|(scope, _)| *scope)
    }
}

/// Parses the `claims` parameter: a JSON object whose `id_token` and `userinfo` members map
/// claim names to `null` or to an object (`essential`, `value`, `values`). Anything else is
/// `invalid_request`. Unknown claim names are ignored (§5.5: not an error).
pub(crate) fn parse_claims_request(text: &str) -> Result<ClaimsRequest, OAuthError> {
    let bad =
        || OAuthError::invalid_request("claims must be a JSON object (OpenID Connect Core §5.5)");
    if text.len() > MAX_CLAIMS_REQUEST {
        return Err(OAuthError::invalid_request("claims is too long"));
    }
    let Ok(Value::Object(top)) = serde_json::from_str::<Value>(text) else {
        return Err(bad());
    };
    let supported = supported_claims();
    let mut out = ClaimsRequest::default();
    for (member, target) in [
        ("id_token", &mut out.id_token),
        ("userinfo", &mut out.userinfo),
    ] {
        match top.get(member) {
            None | Some(Value::Null) => {}
            Some(Value::Object(claims)) => {
                for (name, ask) in claims {
                    match ask {
                        Value::Null => {}
                        Value::Object(o) => {
                            if o.get("essential").is_some_and(|e| !e.is_boolean())
                                || o.get("values").is_some_and(|v| !v.is_array())
                            {
                                return Err(bad());
                            }
                        }
                        _ => return Err(bad()),
                    }
                    if supported.contains(&name.as_str()) {
                        target.insert(name.clone());
                    }
                }
            }
            Some(_) => return Err(bad()),
        }
    }
    Ok(out)
}

/// The claims about `account` that `scopes` release, limited to `names` when given (`sub`
/// always). Claims without a value (no name or email set) are left out.
pub(crate) fn account_claims(
    account: &StoredAccount,
    scopes: &BTreeSet<String>,
    names: Option<&BTreeSet<String>>,
) -> Map<String, Value> {
    let released = released_by(scopes);
    let wanted =
        |c: &str| released.contains(c) && names.is_none_or(|n| c == "sub" || n.contains(c));
    let profile = &account.profile;
    let mut out = Map::new();
    let mut put = |name: &'static str, value: Option<Value>| {
        if let Some(v) = value.filter(|_| wanted(name)) {
            out.insert(name.to_owned(), v);
        }
    };
    put("sub", Some(Value::from(account.id.clone())));
    put("name", profile.name.clone().map(Value::from));
    put(
        "preferred_username",
        Some(Value::from(account.username.clone())),
    );
    let updated = profile.updated_at.unwrap_or(account.created_at);
    put("updated_at", Some(Value::from(updated.as_secs())));
    put("email", profile.email.clone().map(Value::from));
    put(
        "email_verified",
        profile
            .email
            .as_ref()
            .map(|_| Value::from(profile.email_verified)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::OAuthErrorCode;

    fn scopes(s: &[&str]) -> BTreeSet<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn scopes_release_their_standard_claims() {
        assert_eq!(released_by(&scopes(&["openid"])), BTreeSet::from(["sub"]));
        let both = released_by(&scopes(&["openid", "profile", "email"]));
        for c in [
            "sub",
            "name",
            "preferred_username",
            "updated_at",
            "email",
            "email_verified",
        ] {
            assert!(both.contains(c), "{c}");
        }
        assert!(!released_by(&scopes(&["profile"])).contains("email"));
    }

    #[test]
    fn claims_requests_parse_per_section_5_5() {
        let r = parse_claims_request(
            r#"{"id_token":{"email":{"essential":true},"auth_time":null,"x-custom":null},
                "userinfo":{"name":null,"email_verified":{"value":true}}}"#,
        )
        .expect("valid");
        assert_eq!(r.id_token, scopes(&["email"]));
        assert_eq!(r.userinfo, scopes(&["email_verified", "name"]));
        assert_eq!(r.implied_scopes().collect::<Vec<_>>(), ["profile", "email"]);
        for bad in [
            "",
            "[]",
            "null",
            "{\"id_token\":[]}",
            "{\"id_token\":{\"email\":true}}",
            "{\"id_token\":{\"email\":{\"essential\":\"yes\"}}}",
            "{\"userinfo\":{\"name\":{\"values\":1}}}",
            "{not json",
        ] {
            assert_eq!(
                parse_claims_request(bad).map_err(|e| e.code),
                Err(OAuthErrorCode::InvalidRequest),
                "{bad}"
            );
        }
        let long = format!("{{\"id_token\":{{\"{}\":null}}}}", "a".repeat(5000));
        assert!(parse_claims_request(&long).is_err());
        assert_eq!(
            parse_claims_request("{}").ok(),
            Some(ClaimsRequest::default())
        );
    }
}
