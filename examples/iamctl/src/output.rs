//! Output: aligned tables and key/value listings for people, the server's JSON for scripts.

use std::fmt::Write as _;

use serde_json::Value;

/// A JSON value as table text: strings bare, arrays comma-joined, null as `-`.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.is_empty() => "-".to_owned(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| cell(Some(i)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// `v[key]` as table text.
pub fn field(v: &Value, key: &str) -> String {
    cell(v.get(key))
}

/// Prints an aligned table with a header row (`(none)` when there are no rows).
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        println!("(none)");
        return;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                let _ = write!(out, "{c:<w$}  ");
            }
        }
        println!("{}", out.trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Prints `key: value` lines, aligned.
pub fn pairs(items: &[(&str, String)]) {
    let width = items.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in items {
        println!("{:<width$}  {v}", format!("{k}:"), width = width + 1);
    }
}

/// Prints a JSON value pretty (nothing for an empty answer).
pub fn json(v: &Value) {
    if !v.is_null() {
        println!(
            "{}",
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
        );
    }
}

/// Prints one account as key/value lines.
pub fn account(a: &Value) {
    pairs(&[
        ("id", field(a, "id")),
        ("username", field(a, "username")),
        ("kind", field(a, "kind")),
        ("roles", field(a, "roles")),
        ("elevatable roles", field(a, "elevatable_roles")),
        ("disabled", field(a, "disabled")),
        ("has password", field(a, "has_password")),
        ("totp", field(a, "totp")),
        ("deletion due", field(a, "deletion_due")),
        ("created at", field(a, "created_at")),
    ]);
}

/// Prints accounts as a table.
pub fn accounts(list: &[Value]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                field(a, "id"),
                field(a, "username"),
                field(a, "kind"),
                field(a, "roles"),
                if a.get("disabled").and_then(Value::as_bool) == Some(true) {
                    "disabled".to_owned()
                } else {
                    "active".to_owned()
                },
                field(a, "totp"),
                field(a, "created_at"),
            ]
        })
        .collect();
    table(
        &[
            "ID", "USERNAME", "KIND", "ROLES", "STATUS", "TOTP", "CREATED",
        ],
        &rows,
    );
}

/// Prints API tokens as a table.
pub fn api_tokens(list: &[Value]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                field(t, "id"),
                field(t, "label"),
                field(t, "scopes"),
                field(t, "created_at"),
                field(t, "expires_at"),
                field(t, "revoked_at"),
            ]
        })
        .collect();
    table(
        &["ID", "LABEL", "SCOPES", "CREATED", "EXPIRES", "REVOKED"],
        &rows,
    );
}

/// Prints audit events as a table.
pub fn audit(events: &[Value]) {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let detail = match e.get("detail") {
                None | Some(Value::Null) => "-".to_owned(),
                Some(Value::Object(m)) if m.is_empty() => "-".to_owned(),
                Some(d) => d.to_string(),
            };
            vec![
                field(e, "seq"),
                field(e, "at"),
                field(e, "kind"),
                field(e, "actor"),
                field(e, "account"),
                detail,
            ]
        })
        .collect();
    table(&["SEQ", "AT", "KIND", "ACTOR", "ACCOUNT", "DETAIL"], &rows);
}

/// Prints pending elevation requests as a table.
pub fn elevation_requests(list: &[Value]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                field(r, "id"),
                field(r, "account_id"),
                field(r, "role"),
                field(r, "duration"),
                field(r, "created_at"),
                field(r, "expires_at"),
            ]
        })
        .collect();
    table(
        &["ID", "ACCOUNT", "ROLE", "DURATION(S)", "CREATED", "EXPIRES"],
        &rows,
    );
}

/// Prints one OAuth client as key/value lines.
pub fn client(c: &Value) {
    pairs(&[
        ("id", field(c, "id")),
        ("name", field(c, "name")),
        ("kind", field(c, "kind")),
        ("grant types", field(c, "grant_types")),
        ("redirect uris", field(c, "redirect_uris")),
        ("scopes", field(c, "scopes")),
        ("resources", field(c, "resources")),
        ("require pkce", field(c, "require_pkce")),
        ("owner", field(c, "owner")),
        ("acts for owner", field(c, "acts_for_owner")),
        ("disabled", field(c, "disabled")),
        ("created at", field(c, "created_at")),
        ("secret rotated at", field(c, "secret_rotated_at")),
    ]);
}

/// Prints OAuth clients as a table.
pub fn clients(list: &[Value]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                field(c, "id"),
                field(c, "name"),
                field(c, "kind"),
                field(c, "grant_types"),
                if c.get("disabled").and_then(Value::as_bool) == Some(true) {
                    "disabled".to_owned()
                } else {
                    "active".to_owned()
                },
                field(c, "created_at"),
            ]
        })
        .collect();
    table(
        &["ID", "NAME", "KIND", "GRANTS", "STATUS", "CREATED"],
        &rows,
    );
}
