//! Drives the built `iamctl` binary against the real `iamd` binary: iamd starts on a free port
//! with a temp data dir (self-signed certificate, one-time admin password on stdout); iamctl
//! trusts it by the certificate's pinned SHA-256 fingerprint.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Output;

use common::{iamctl, ok, ok_json, text, Server};
use serde_json::Value;

#[test]
fn iamctl_against_iamd() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let server = Server::start(&dir.path().join("data"));
    let url = server.url();
    let pin = server.fingerprint();
    let session = dir.path().join("sessions").join("admin.json");
    let session_s = session.to_str().unwrap().to_owned();
    // The connection flags; after login the session remembers server and pin.
    let conn = |rest: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--server".into(),
            url.clone(),
            "--pin-sha256".into(),
            pin.clone(),
            "--session-file".into(),
            session_s.clone(),
        ];
        v.extend(rest.iter().map(|s| (*s).to_owned()));
        v
    };
    let run = |args: Vec<String>, stdin: Option<&str>, env: &[(&str, &str)]| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        iamctl(&home, &refs, stdin, env)
    };

    // A wrong pin fails with a clear TLS error, before any password is sent.
    let wrong = "00".repeat(32);
    let out = iamctl(
        &home,
        &[
            "--server",
            &url,
            "--pin-sha256",
            &wrong,
            "--session-file",
            dir.path().join("other.json").to_str().unwrap(),
            "login",
            "admin",
            "--password-stdin",
        ],
        Some(&format!("{}\n", server.password)),
        &[],
    );
    let (o, e) = text(&out);
    assert!(!out.status.success());
    assert!(
        e.contains("TLS error") && e.contains("does not match the pinned SHA-256 fingerprint"),
        "{e}"
    );
    assert!(
        e.contains(&pin),
        "the error names the presented fingerprint: {e}"
    );
    assert!(!o.contains(&server.password) && !e.contains(&server.password));
    assert!(!dir.path().join("other.json").exists());

    // No trust option: the self-signed certificate is refused, with a hint.
    let out = iamctl(
        &home,
        &["--server", &url, "login", "admin"],
        None,
        &[("IAM_PASSWORD", &server.password)],
    );
    let (_, e) = text(&out);
    assert!(!out.status.success());
    assert!(e.contains("TLS error") && e.contains("--pin-sha256"), "{e}");

    // Plain HTTP is refused unless asked for.
    let out = iamctl(
        &home,
        &["--server", "http://127.0.0.1:1", "whoami"],
        None,
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out).1.contains("--insecure-http"));

    // Login (password on stdin).
    let out = run(
        conn(&["login", "admin", "--password-stdin"]),
        Some(&format!("{}\n", server.password)),
        &[],
    );
    let o = ok(&out);
    assert!(o.contains("logged in as admin"), "{o}");
    let (o, e) = text(&out);
    assert!(!o.contains(&server.password) && !e.contains(&server.password));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&session).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "session file mode {mode:o}");
    }
    let stored: Value = serde_json::from_slice(&std::fs::read(&session).unwrap()).unwrap();
    let access = stored["access_token"].as_str().unwrap().to_owned();
    let refresh = stored["refresh_token"].as_str().unwrap().to_owned();
    assert!(!o.contains(&access) && !o.contains(&refresh));

    // whoami: with only the session file (server and pin come from the session).
    let o = ok(&iamctl(
        &home,
        &["--session-file", &session_s, "whoami"],
        None,
        &[],
    ));
    assert!(o.contains("admin"), "{o}");
    assert!(!o.contains(&access));
    let w = ok_json(&run(conn(&["whoami", "--json"]), None, &[]));
    assert_eq!(w["roles"], serde_json::json!(["admin"]));
    let admin_id = w["account_id"].as_str().unwrap().to_owned();

    // Create an account and grant a role (by username).
    let a = ok_json(&run(
        conn(&["accounts", "create", "alice", "--role", "ops", "--json"]),
        None,
        &[("IAM_NEW_PASSWORD", "correct horse battery staple 42")],
    ));
    let alice_id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(a["username"], "alice");
    let o = ok(&run(
        conn(&["roles", "grant", "alice", "auditor"]),
        None,
        &[],
    ));
    assert!(o.contains("auditor") && o.contains("ops"), "{o}");

    // Signing-key rotation.
    let o = ok(&run(conn(&["keys", "rotate"]), None, &[]));
    assert!(o.contains("new active signing key: k4.pid."), "{o}");
    ok(&run(conn(&["whoami"]), None, &[]));

    // An admin sets alice's password; alice logs in with it (in a session file of her own).
    let o = ok(&run(
        conn(&["accounts", "set-password", "alice", "--password-stdin"]),
        Some("a password set by the admin\n"),
        &[],
    ));
    assert!(o.contains("password set"), "{o}");
    let alice_session = dir.path().join("sessions").join("alice.json");
    let mut as_alice = conn(&["login", "alice", "--password-stdin"]);
    let at = as_alice.iter().position(|a| a == "--session-file").unwrap() + 1;
    as_alice[at] = alice_session.to_str().unwrap().to_owned();
    ok(&run(as_alice, Some("a password set by the admin\n"), &[]));

    // List accounts: table and JSON.
    let o = ok(&run(conn(&["accounts", "list"]), None, &[]));
    let header = o.lines().next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("USERNAME"),
        "{o}"
    );
    assert!(
        o.lines()
            .any(|l| l.contains("alice") && l.contains("auditor,ops")),
        "{o}"
    );
    assert!(o.lines().any(|l| l.contains("admin")), "{o}");
    let v = ok_json(&run(conn(&["accounts", "list", "--json"]), None, &[]));
    let accounts = v["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    let alice = accounts.iter().find(|a| a["username"] == "alice").unwrap();
    assert_eq!(alice["roles"], serde_json::json!(["auditor", "ops"]));
    let shown = ok_json(&run(
        conn(&["accounts", "show", &alice_id, "--json"]),
        None,
        &[],
    ));
    assert_eq!(shown["username"], "alice");
    assert_eq!(shown["profile"]["name"], Value::Null);

    // Profiles: an admin sets alice's name and a verified email, then clears the email.
    let p = ok_json(&run(
        conn(&[
            "accounts",
            "profile",
            "alice",
            "--name",
            " Alice Liddell ",
            "--email",
            "alice@example.org",
            "--email-verified",
            "true",
            "--json",
        ]),
        None,
        &[],
    ));
    assert_eq!(p["profile"]["name"], "Alice Liddell");
    assert_eq!(p["profile"]["email"], "alice@example.org");
    assert_eq!(p["profile"]["email_verified"], true);
    assert!(p["profile"]["updated_at"].is_string(), "{p}");
    let o = ok(&run(conn(&["accounts", "show", "alice"]), None, &[]));
    assert!(
        o.lines()
            .any(|l| l.starts_with("name:") && l.ends_with("Alice Liddell")),
        "{o}"
    );
    assert!(
        o.lines()
            .any(|l| l.starts_with("email verified:") && l.ends_with("true")),
        "{o}"
    );
    let o = ok(&run(conn(&["accounts", "list"]), None, &[]));
    assert!(o.lines().next().unwrap().contains("EMAIL"), "{o}");
    assert!(
        o.lines()
            .any(|l| l.contains("alice") && l.ends_with("alice@example.org")),
        "{o}"
    );
    let o = ok(&run(
        conn(&[
            "accounts",
            "profile",
            &alice_id,
            "--email",
            "liddell@example.org",
        ]),
        None,
        &[],
    ));
    assert!(
        o.lines()
            .any(|l| l.starts_with("email verified:") && l.ends_with("false")),
        "a new address is unverified: {o}"
    );
    let p = ok_json(&run(
        conn(&["accounts", "profile", "alice", "--clear-email", "--json"]),
        None,
        &[],
    ));
    assert_eq!(p["profile"]["email"], Value::Null);
    assert_eq!(p["profile"]["email_verified"], false);
    assert_eq!(p["profile"]["name"], "Alice Liddell");
    let out = run(
        conn(&["accounts", "profile", "alice", "--email", "not-an-address"]),
        None,
        &[],
    );
    assert!(!out.status.success());
    let e = text(&out).1;
    assert!(e.contains("422") && e.contains("invalid_profile"), "{e}");
    let out = run(conn(&["accounts", "profile", "alice"]), None, &[]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("nothing to change"));
    let out = run(
        conn(&[
            "accounts",
            "profile",
            "alice",
            "--email",
            "a@b.org",
            "--clear-email",
        ]),
        None,
        &[],
    );
    assert!(!out.status.success(), "--email and --clear-email conflict");

    // A server error: its code and message, non-zero exit.
    let out = run(conn(&["accounts", "show", "nobody"]), None, &[]);
    assert!(!out.status.success());
    let e = text(&out).1;
    assert!(e.contains("404") && e.contains("not_found"), "{e}");

    // API tokens: create, list, revoke.
    let t = ok_json(&run(
        conn(&[
            "api-tokens",
            "create",
            "--label",
            "ci",
            "--expires-in",
            "1h",
            "--json",
        ]),
        None,
        &[],
    ));
    assert!(t["token"].as_str().unwrap().starts_with("iam_pat_"), "{t}");
    let token_id = t["info"]["id"].as_str().unwrap().to_owned();
    let o = ok(&run(conn(&["api-tokens", "list"]), None, &[]));
    assert!(
        o.lines().any(|l| l.contains(&token_id) && l.contains("ci")),
        "{o}"
    );
    // By username, as an admin would look up another account's tokens.
    let o = ok(&run(
        conn(&["api-tokens", "list", "--account", "admin"]),
        None,
        &[],
    ));
    assert!(o.contains(&token_id), "{o}");
    ok(&run(conn(&["api-tokens", "revoke", &token_id]), None, &[]));
    let v = ok_json(&run(conn(&["api-tokens", "list", "--json"]), None, &[]));
    let listed = v["api_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token_id.as_str())
        .unwrap();
    assert!(!listed["revoked_at"].is_null(), "{listed}");

    // Invitations: create (the link printed once), list, revoke.
    let o = ok(&run(
        conn(&[
            "invite",
            "create",
            "--role",
            "reports",
            "--expires-in",
            "2d",
        ]),
        None,
        &[],
    ));
    let link = o
        .lines()
        .find_map(|l| l.strip_prefix("link:"))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    assert!(link.contains("/invite/iam_inv_"), "{o}");
    let id = o
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let o = ok(&run(conn(&["invite", "list"]), None, &[]));
    assert!(
        o.lines()
            .any(|l| l.contains(&id) && l.contains("open") && l.contains("reports")),
        "{o}"
    );
    ok(&run(conn(&["invite", "revoke", &id]), None, &[]));
    let v = ok_json(&run(conn(&["invite", "list", "--json"]), None, &[]));
    assert_eq!(v["invitations"][0]["state"], "revoked", "{v}");

    // A system account: service token and database credentials.
    let svc = ok_json(&run(
        conn(&["accounts", "create", "svc", "--kind", "system", "--json"]),
        None,
        &[],
    ));
    let svc_id = svc["id"].as_str().unwrap().to_owned();
    let st = ok_json(&run(
        conn(&["service-token", "issue", "svc", "--json"]),
        None,
        &[],
    ));
    assert!(st["token"].as_str().is_some_and(|t| !t.is_empty()), "{st}");
    ok(&run(
        conn(&[
            "credentials",
            "store",
            "svc",
            "--host",
            "db.internal",
            "--database",
            "app",
            "--user",
            "app",
        ]),
        None,
        &[("IAM_DB_PASSWORD", "db-secret-1")],
    ));
    // The admin may store but not fetch them; the service itself may fetch (IAM_TOKEN).
    let out = run(conn(&["credentials", "fetch", "svc"]), None, &[]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("not_permitted"), "{}", text(&out).1);
    let svc_token = st["token"].as_str().unwrap();
    let c = ok_json(&iamctl(
        &home,
        &[
            "--server",
            &url,
            "--pin-sha256",
            &pin,
            "credentials",
            "fetch",
            &svc_id,
            "--json",
        ],
        None,
        &[("IAM_TOKEN", svc_token)],
    ));
    assert_eq!(c["password"], "db-secret-1");
    assert_eq!(c["port"], 5432);
    ok(&run(conn(&["service-token", "revoke", "svc"]), None, &[]));

    // Disable / enable.
    let o = ok(&run(conn(&["accounts", "disable", "alice"]), None, &[]));
    assert!(o.contains("disabled"), "{o}");
    let d = ok_json(&run(
        conn(&["accounts", "enable", "alice", "--json"]),
        None,
        &[],
    ));
    assert_eq!(d["disabled"], false);

    // OAuth clients: register (secret once), list, show, rotate, disable.
    let reg = ok_json(&run(
        conn(&[
            "clients",
            "register",
            "reports",
            "--grant",
            "client_credentials",
            "--scope",
            "reports.read",
            "--json",
        ]),
        None,
        &[],
    ));
    let client_id = reg["client"]["id"].as_str().unwrap().to_owned();
    assert!(
        reg["client_secret"].as_str().is_some_and(|s| !s.is_empty()),
        "{reg}"
    );
    let o = ok(&run(conn(&["clients", "list"]), None, &[]));
    assert!(
        o.lines()
            .any(|l| l.contains(&client_id) && l.contains("reports")),
        "{o}"
    );
    let o = ok(&run(conn(&["clients", "show", &client_id]), None, &[]));
    assert!(o.contains("client_credentials"), "{o}");
    let rot = ok_json(&run(
        conn(&["clients", "rotate-secret", &client_id, "--json"]),
        None,
        &[],
    ));
    assert_ne!(rot["client_secret"], reg["client_secret"]);
    ok(&run(conn(&["clients", "disable", &client_id]), None, &[]));
    let shown = ok_json(&run(
        conn(&["clients", "show", &client_id, "--json"]),
        None,
        &[],
    ));
    assert_eq!(shown["disabled"], true);

    // A private_key_jwt client: keys from a file, no secret.
    let jwks_path = dir.path().join("client-jwks.json");
    std::fs::write(
        &jwks_path,
        r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
    )
    .unwrap();
    let signer = ok_json(&run(
        conn(&[
            "clients",
            "register",
            "signer",
            "--grant",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            jwks_path.to_str().unwrap(),
            "--json",
        ]),
        None,
        &[],
    ));
    assert!(signer["client_secret"].is_null(), "{signer}");
    assert_eq!(
        signer["client"]["token_endpoint_auth_method"],
        "private_key_jwt"
    );
    assert_eq!(signer["client"]["jwks"]["keys"][0]["kid"], "k1");

    // An OpenID Connect client whose users sign in again after an hour; more than a year is
    // refused by the server.
    let oidc_args = |max_age: &'static str| {
        conn(&[
            "clients",
            "register",
            "wiki",
            "--grant",
            "authorization_code",
            "--redirect-uri",
            "https://wiki.example/cb",
            "--scope",
            "openid",
            "--default-max-age",
            max_age,
            "--json",
        ])
    };
    let wiki = ok_json(&run(oidc_args("3600"), None, &[]));
    assert_eq!(wiki["client"]["default_max_age"], 3600, "{wiki}");
    let wiki_id = wiki["client"]["id"].as_str().unwrap().to_owned();
    let shown = ok_json(&run(
        conn(&["clients", "show", &wiki_id, "--json"]),
        None,
        &[],
    ));
    assert_eq!(shown["default_max_age"], 3600, "{shown}");
    let out = run(oidc_args("31536001"), None, &[]);
    assert!(!out.status.success());
    let e = text(&out).1;
    assert!(e.contains("422") && e.contains("a year"), "{e}");

    // Elevation: nothing pending.
    let o = ok(&run(conn(&["elevation", "pending"]), None, &[]));
    assert!(o.contains("(none)"), "{o}");

    // Audit: tail (table, JSON, by account) and verify.
    let o = ok(&run(conn(&["audit", "tail", "--limit", "5"]), None, &[]));
    assert!(o.lines().next().unwrap().starts_with("SEQ"), "{o}");
    let v = ok_json(&run(
        conn(&["audit", "tail", "--limit", "3", "--json"]),
        None,
        &[],
    ));
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    let all = ok_json(&run(
        conn(&["audit", "tail", "--limit", "1000", "--json"]),
        None,
        &[],
    ));
    let last_seq = all["events"].as_array().unwrap().last().unwrap()["seq"].clone();
    assert_eq!(events[2]["seq"], last_seq, "tail shows the newest events");
    let v = ok_json(&run(
        conn(&["audit", "tail", "--account", &alice_id, "--json"]),
        None,
        &[],
    ));
    let events = v["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e["account"] == alice_id.as_str()),
        "{v}"
    );
    let o = ok(&run(conn(&["audit", "verify"]), None, &[]));
    assert!(o.contains("intact"), "{o}");
    audit_export_verifies_offline(&home, dir.path(), &|args| run(conn(args), None, &[]));

    // An expired access token is refreshed automatically (and the pair rotated on disk).
    let mut stored: Value = serde_json::from_slice(&std::fs::read(&session).unwrap()).unwrap();
    stored["access_expires_at"] = Value::from(0);
    std::fs::write(&session, serde_json::to_vec(&stored).unwrap()).unwrap();
    let w = ok_json(&run(conn(&["whoami", "--json"]), None, &[]));
    assert_eq!(w["account_id"], admin_id.as_str());
    let after: Value = serde_json::from_slice(&std::fs::read(&session).unwrap()).unwrap();
    assert_ne!(after["refresh_token"], stored["refresh_token"]);
    assert!(after["access_expires_at"].as_u64().unwrap() > 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&session).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Trust by CA file works too (the self-signed certificate names localhost).
    let ca_session = dir.path().join("ca.json");
    let out = iamctl(
        &home,
        &[
            "--server",
            &format!("https://localhost:{}", server.addr.port()),
            "--ca-file",
            server.cert_path().to_str().unwrap(),
            "--session-file",
            ca_session.to_str().unwrap(),
            "login",
            "alice",
        ],
        None,
        &[("IAM_PASSWORD", "a password set by the admin")],
    );
    ok(&out);
    let w = ok_json(&iamctl(
        &home,
        &[
            "--session-file",
            ca_session.to_str().unwrap(),
            "whoami",
            "--json",
        ],
        None,
        &[],
    ));
    assert_eq!(w["account_id"], alice_id.as_str());
    // alice is no admin: the server's code comes through.
    let out = iamctl(
        &home,
        &[
            "--session-file",
            ca_session.to_str().unwrap(),
            "accounts",
            "list",
        ],
        None,
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out).1.contains("403"), "{}", text(&out).1);

    // Logout removes the session; later commands say so.
    let o = ok(&run(conn(&["logout"]), None, &[]));
    assert!(o.contains("logged out"));
    assert!(!session.exists());
    let out = run(conn(&["whoami"]), None, &[]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("not logged in"), "{}", text(&out).1);
}

/// `audit export`, then `audit verify FILE` offline (no server flags, no session) against the
/// key `keys list` shows: it verifies; without a key it warns; an edited event fails, named.
fn audit_export_verifies_offline(home: &Path, dir: &Path, online: &dyn Fn(&[&str]) -> Output) {
    let export = dir.join("audit.jsonl");
    let export_s = export.to_str().unwrap();
    ok(&online(&["audit", "export", "--out", export_s]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&export).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the export names accounts: kept private"
        );
    }
    let keys = ok_json(&online(&["keys", "list", "--json"]));
    let key = keys["keys"][0]["paserk"].as_str().unwrap().to_owned();
    let offline = |args: &[&str]| iamctl(home, args, None, &[]);

    let o = ok(&offline(&[
        "audit",
        "verify",
        export_s,
        "--public-key",
        &key,
    ]));
    assert!(o.contains("audit export verified"), "{o}");
    let kid = keys["keys"][0]["kid"].as_str().unwrap();
    let v = ok_json(&offline(&[
        "audit",
        "verify",
        export_s,
        "--public-key",
        kid,
        "--json",
    ]));
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["pinned"], true, "{v}");
    let out = offline(&["audit", "verify", export_s]);
    let (_, e) = text(&out);
    assert!(out.status.success(), "{e}");
    assert!(e.contains("warning: no --public-key"), "{e}");

    let mut lines: Vec<Value> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let i = lines
        .iter()
        .position(|l| l["kind"] == "account.created")
        .unwrap();
    let seq = lines[i]["seq"].as_u64().unwrap();
    lines[i]["detail"]["username"] = Value::from("mallory");
    let edited = dir.join("edited.jsonl");
    let body = lines.iter().fold(String::new(), |mut s, l| {
        let _ = writeln!(s, "{l}");
        s
    });
    std::fs::write(&edited, body).unwrap();
    let edited_s = edited.to_str().unwrap();
    let out = offline(&["audit", "verify", edited_s, "--public-key", &key]);
    let (_, e) = text(&out);
    assert!(!out.status.success(), "an edited export verified");
    assert!(e.contains(&format!("event {seq}")), "{e}");
    let out = offline(&["audit", "verify", edited_s, "--public-key", &key, "--json"]);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], false, "{v}");
    assert_eq!(v["event"], seq, "{v}");
    let out = offline(&["audit", "verify", export_s, "--public-key", "not-a-key"]);
    assert!(!out.status.success());
}
