//! The document against the route table, the dto types and iam-core's validators.

use std::collections::HashSet;

use iam_core::{Config, ErrorCode, MasterKey, SecureRandom};
use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::dto::schema::{
    DISPLAY_NAME_PATTERN, EMAIL_PATTERN, LABEL_PATTERN, PASSKEY_LABEL_PATTERN, ROLE_PATTERN,
    TOTP_CODE_PATTERN, USERNAME_PATTERN,
};

fn config() -> Config {
    Config::new(MasterKey::generate(&SecureRandom::from_entropy()))
}

fn full_document() -> Value {
    document(
        "/iam",
        Coverage {
            metrics: true,
            oauth: true,
        },
        &config(),
    )
}

/// Every operation of the document, as (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

#[test]
fn every_route_is_described_once_with_every_answer() {
    let doc = full_document();
    let ops = operations(&doc);
    assert_eq!(ops.len(), rest_routes(true).len() + OAUTH_ROUTES.len());
    let mut ids = HashSet::new();
    for (method, path, op) in &ops {
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_owned()), "{id} twice");
        let answers = op["responses"].as_object().expect("responses");
        assert!(
            !answers.contains_key("default"),
            "{method} {path} is not described"
        );
        assert!(
            answers.keys().any(|s| s.starts_with('2')),
            "{method} {path} has no success answer"
        );
        for (status, answer) in answers {
            let code: u16 = status.parse().expect("a numeric status");
            let content = answer.get("content");
            if matches!(code, 204 | 304) || (code == 200 && path.ends_with("/revoke")) {
                assert!(content.is_none(), "{method} {path} {status} has a body");
            } else if code != 302 {
                assert!(content.is_some(), "{method} {path} {status} has no schema");
            }
        }
    }
}

#[test]
fn every_reference_resolves() {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|c| refs(c, out));
            }
            Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
            _ => {}
        }
    }
    let doc = full_document();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} dangles"
        );
    }
}

#[test]
fn types_described_both_ways_are_described_alike() {
    let mut schemas = Schemas::new();
    for r in rest_routes(true) {
        rest::operation(&r, &mut schemas);
    }
    for r in OAUTH_ROUTES {
        oauth::operation(r, &mut schemas);
    }
    let requests = schemas.requests.definitions().clone();
    for (name, answer) in schemas.answers.definitions() {
        if let Some(request) = requests.get(name) {
            assert_eq!(request, answer, "{name} differs as request and answer");
        }
    }
}

#[test]
fn the_error_schema_enumerates_every_stable_code() {
    let doc = full_document();
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorOut"]["properties"]["error"]["enum"]
        .as_array()
        .expect("an enum of codes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for code in ErrorCode::ALL {
        let (_, wire, _) = crate::error::code_parts(*code);
        assert!(codes.contains(&wire), "{wire}");
    }
    for edge in crate::error::EDGE_CODES {
        assert!(codes.contains(edge), "{edge}");
    }
    let oauth: Vec<&str> = doc["components"]["schemas"]["OAuthError"]["properties"]["error"]
        ["enum"]
        .as_array()
        .expect("an enum of codes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for code in oauth::OAUTH_ERROR_CODES {
        assert!(oauth.contains(&code.as_str()));
    }
}

#[test]
fn configured_limits_reach_the_schemas() {
    let mut config = config();
    config.passwords.min_length = 12;
    config.passwords.max_length = 200;
    config.api_token_max_ttl = std::time::Duration::from_secs(3600);
    let doc = document(
        "",
        Coverage {
            metrics: false,
            oauth: false,
        },
        &config,
    );
    let s = &doc["components"]["schemas"];
    assert_eq!(s["NewPassword"]["minLength"], 12);
    assert_eq!(s["NewPassword"]["maxLength"], 200);
    assert_eq!(s["ApiTokenLifetime"]["maximum"], 3600);
    assert_eq!(doc["servers"][0]["url"], "/");
    assert!(doc["paths"].get("/metrics").is_none());
    assert!(doc["paths"].get("/oauth2/token").is_none());
    assert!(doc["components"]["securitySchemes"]
        .get("clientBasic")
        .is_none());
}

#[test]
fn every_integer_is_bounded() {
    fn check(v: &Value, at: &str) {
        match v {
            Value::Object(m) => {
                let integer = match m.get("type") {
                    Some(Value::String(t)) => t == "integer",
                    Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
                    _ => false,
                };
                if integer {
                    assert!(m.contains_key("minimum"), "{at}: {v}");
                    assert!(
                        m.contains_key("maximum") || at.contains("responses"),
                        "{at}: {v}"
                    );
                }
                for (k, c) in m {
                    check(c, &format!("{at}/{k}"));
                }
            }
            Value::Array(a) => a.iter().for_each(|c| check(c, at)),
            _ => {}
        }
    }
    let doc = full_document();
    for (_, _, op) in operations(&doc) {
        if let Some(body) = op.get("requestBody") {
            check(body, "requestBody");
        }
        if let Some(params) = op.get("parameters") {
            check(params, "parameters");
        }
    }
    for name in [
        "NewAccountBody",
        "NewApiTokenBody",
        "ElevateBody",
        "DbCredentialsBody",
        "NewClientBody",
    ] {
        check(&doc["components"]["schemas"][name], name);
    }
}

fn matches(pattern: &str, s: &str) -> bool {
    regex::Regex::new(pattern).expect(pattern).is_match(s)
}

/// Strings near the edges of the validators: short, long, mixed case, punctuation,
/// whitespace of several kinds, control characters, bidirectional overrides, `@` and `.`.
fn edgy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("a".to_owned()),
        Just("Z".to_owned()),
        Just("7".to_owned()),
        Just(".".to_owned()),
        Just("_".to_owned()),
        Just("-".to_owned()),
        Just(":".to_owned()),
        Just("@".to_owned()),
        Just(" ".to_owned()),
        Just("\t".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("\u{3000}".to_owned()),
        Just("\u{85}".to_owned()),
        Just("\u{1c}".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{2067}".to_owned()),
        Just("é".to_owned()),
        Just("\u{feff}".to_owned()),
        "[a-z0-9]{1,70}",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_username_pattern_is_the_validator(s in edgy()) {
        prop_assert_eq!(
            matches(USERNAME_PATTERN, &s),
            iam_core::account::validate_username(&s).is_ok(),
            "{:?}", s
        );
    }

    #[test]
    fn the_role_pattern_is_the_validator(s in edgy()) {
        prop_assert_eq!(
            matches(ROLE_PATTERN, &s),
            iam_core::account::validate_role(&s).is_ok(),
            "{:?}", s
        );
    }

    #[test]
    fn the_totp_code_pattern_is_six_digits(s in prop_oneof!["[0-9]{0,8}", edgy()]) {
        prop_assert_eq!(
            matches(TOTP_CODE_PATTERN, &s),
            s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
        );
    }

    /// A name matching the pattern is accepted as it is; a name accepted as it is matches.
    #[test]
    fn the_display_name_pattern_is_the_validator(s in edgy()) {
        let short = s.chars().count() <= 128;
        let kept = iam_core::account::validate_name(&s).is_ok_and(|n| n == s);
        prop_assert_eq!(matches(DISPLAY_NAME_PATTERN, &s) && short, kept, "{:?}", s);
    }

    #[test]
    fn the_email_pattern_is_the_validator(s in edgy()) {
        let short = s.chars().count() <= 254;
        let kept = iam_core::account::validate_email(&s).is_ok_and(|e| e == s);
        prop_assert_eq!(matches(EMAIL_PATTERN, &s) && short, kept, "{:?}", s);
    }

    #[test]
    fn a_passkey_label_the_pattern_takes_the_core_takes(s in edgy()) {
        // The core's rule (iam_core::passkey): trimmed, 1-128 characters, no control characters.
        let t = s.trim();
        let core_takes = !t.is_empty() && t.chars().count() <= 128 && !t.chars().any(char::is_control);
        if matches(PASSKEY_LABEL_PATTERN, &s) && s.chars().count() <= 128 {
            prop_assert!(core_takes, "{:?}", s);
        }
    }

    #[test]
    fn the_label_pattern_is_the_rule(s in edgy()) {
        let short = s.chars().count() <= 128;
        prop_assert_eq!(
            matches(LABEL_PATTERN, &s) && short,
            !s.trim().is_empty() && short,
            "{:?}", s
        );
    }
}
