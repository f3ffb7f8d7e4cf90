//! Output: aligned tables and key/value listings for people, the server's JSON for scripts.

use std::fmt::Write as _;

use iam_axum::dto::{AccountOut, ApiTokenOut, AuditEventOut, ElevationRequestOut, OAuthClient};
use serde::Serialize;
use serde_json::Value;

/// An answer field as table text: strings bare, lists comma-joined, null and empty lists as
/// `-`, anything else as JSON.
pub fn cell<T: Serialize + ?Sized>(v: &T) -> String {
    value_cell(&to_json(v))
}

fn value_cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(value_cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// An answer as JSON (`null` for one that cannot be shown as JSON, which iam's never are).
fn to_json<T: Serialize + ?Sized>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
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

/// Prints an answer as pretty JSON, keys sorted (nothing for an empty answer).
pub fn json<T: Serialize + ?Sized>(v: &T) {
    print_json(&to_json(v));
}

/// [`json`] without the fields named in `hidden` (tokens the session file keeps instead).
pub fn json_without<T: Serialize + ?Sized>(v: &T, hidden: &[&str]) {
    let mut v = to_json(v);
    if let Some(o) = v.as_object_mut() {
        for key in hidden {
            o.remove(*key);
        }
    }
    print_json(&v);
}

fn print_json(v: &Value) {
    if !v.is_null() {
        println!(
            "{}",
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
        );
    }
}

/// Prints an answer as JSON (with `--json`), or for people with `for_people`.
pub fn print<T: Serialize + ?Sized>(json_out: bool, v: &T, for_people: impl FnOnce(&T)) {
    if json_out {
        json(v);
    } else {
        for_people(v);
    }
}

/// Prints the answer of a call as JSON, or `text` for people.
pub fn done<T: Serialize + ?Sized>(json_out: bool, v: &T, text: &str) {
    print(json_out, v, |_| println!("{text}"));
}

/// `active` or `disabled`.
fn status(disabled: bool) -> String {
    if disabled { "disabled" } else { "active" }.to_owned()
}

/// Prints one account as key/value lines.
pub fn account(a: &AccountOut) {
    pairs(&[
        ("id", a.id.clone()),
        ("username", a.username.clone()),
        ("kind", cell(&a.kind)),
        ("roles", cell(&a.roles)),
        ("elevatable roles", cell(&a.elevatable_roles)),
        ("disabled", cell(&a.disabled)),
        ("has password", cell(&a.has_password)),
        ("totp", cell(&a.totp)),
        ("deletion due", cell(&a.deletion_due)),
        ("created at", a.created_at.clone()),
        ("name", cell(&a.profile.name)),
        ("email", cell(&a.profile.email)),
        ("email verified", cell(&a.profile.email_verified)),
        ("profile updated", cell(&a.profile.updated_at)),
    ]);
}

/// An account's email address, marked `(unverified)` unless verified; `-` without one.
fn email(a: &AccountOut) -> String {
    match (&a.profile.email, a.profile.email_verified) {
        (None, _) => "-".to_owned(),
        (Some(e), true) => e.clone(),
        (Some(e), false) => format!("{e} (unverified)"),
    }
}

/// Prints accounts as a table.
pub fn accounts(list: &[AccountOut]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                a.username.clone(),
                cell(&a.kind),
                cell(&a.roles),
                status(a.disabled),
                cell(&a.totp),
                a.created_at.clone(),
                cell(&a.profile.name),
                email(a),
            ]
        })
        .collect();
    table(
        &[
            "ID", "USERNAME", "KIND", "ROLES", "STATUS", "TOTP", "CREATED", "NAME", "EMAIL",
        ],
        &rows,
    );
}

/// Prints API tokens as a table.
pub fn api_tokens(list: &[ApiTokenOut]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.label.clone(),
                cell(&t.scopes),
                t.created_at.clone(),
                t.expires_at.clone(),
                cell(&t.revoked_at),
            ]
        })
        .collect();
    table(
        &["ID", "LABEL", "SCOPES", "CREATED", "EXPIRES", "REVOKED"],
        &rows,
    );
}

/// Prints audit events as a table.
pub fn audit(events: &[AuditEventOut]) {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let detail = if e.detail.is_empty() {
                "-".to_owned()
            } else {
                to_json(&e.detail).to_string()
            };
            vec![
                e.seq.to_string(),
                e.at.clone(),
                e.kind.clone(),
                cell(&e.actor),
                cell(&e.account),
                detail,
            ]
        })
        .collect();
    table(&["SEQ", "AT", "KIND", "ACTOR", "ACCOUNT", "DETAIL"], &rows);
}

/// Prints pending elevation requests as a table.
pub fn elevation_requests(list: &[ElevationRequestOut]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.account_id.clone(),
                r.role.clone(),
                r.duration.to_string(),
                r.created_at.clone(),
                r.expires_at.clone(),
            ]
        })
        .collect();
    table(
        &["ID", "ACCOUNT", "ROLE", "DURATION(S)", "CREATED", "EXPIRES"],
        &rows,
    );
}

/// Prints one OAuth client as key/value lines.
pub fn client(c: &OAuthClient) {
    pairs(&[
        ("id", c.id.clone()),
        ("name", c.name.clone()),
        ("kind", cell(&c.kind)),
        ("grant types", cell(&c.grant_types)),
        ("redirect uris", cell(&c.redirect_uris)),
        ("scopes", cell(&c.scopes)),
        ("resources", cell(&c.resources)),
        ("require pkce", cell(&c.require_pkce)),
        ("owner", cell(&c.owner)),
        ("acts for owner", cell(&c.acts_for_owner)),
        ("disabled", cell(&c.disabled)),
        ("created at", cell(&c.created_at)),
        ("secret rotated at", cell(&c.secret_rotated_at)),
    ]);
}

/// Prints OAuth clients as a table.
pub fn clients(list: &[OAuthClient]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.name.clone(),
                cell(&c.kind),
                cell(&c.grant_types),
                status(c.disabled),
                cell(&c.created_at),
            ]
        })
        .collect();
    table(
        &["ID", "NAME", "KIND", "GRANTS", "STATUS", "CREATED"],
        &rows,
    );
}
