//! iamctl used by hand: driven in a pseudo-terminal (with echo on, as a person's terminal has
//! it) against one real iamd. The password prompts hide what is typed; TOTP enrolment shows a
//! QR code and confirms with a code typed in; login then asks for a code; sessions are listed
//! and revoked; a server error names its code and what to do.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{clean_command, iamctl, ok, ok_json, text, Server};
use rexpect::process::WaitStatus;
use rexpect::session::{spawn_with_options, Options, PtySession};
use totp_rs::TOTP;

/// iamctl with `args` in a new pseudo-terminal whose echo is on.
fn in_terminal(home: &Path, args: &[String]) -> PtySession {
    let mut sh: Vec<&str> = vec![
        "-c",
        r#"stty echo && exec "$0" "$@""#,
        env!("CARGO_BIN_EXE_iamctl"),
    ];
    sh.extend(args.iter().map(String::as_str));
    let cmd = clean_command("sh", home, &sh, &[]);
    spawn_with_options(cmd, Options::new().timeout_ms(Some(30_000))).unwrap()
}

/// Reads to the end of the output and checks that iamctl exited with `code`.
fn finish(p: &mut PtySession, code: i32) -> String {
    let rest = p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, c) if c == code => rest,
        other => panic!("iamctl ended with {other:?}, not exit code {code}: {rest}"),
    }
}

/// The terminal's output as UTF-8 (the pty reader gives one `char` per byte).
fn utf8(shown: &str) -> String {
    let bytes: Vec<u8> = shown
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// The code of `totp` for the time step `offset` steps from now.
fn code_at(totp: &TOTP, offset: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now.saturating_add_signed(offset * 30))
}

#[test]
fn by_hand_in_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let server = Server::start(&dir.path().join("data"));
    let session = dir.path().join("admin.json");
    let conn = |session: &PathBuf, rest: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--server".into(),
            server.url(),
            "--pin-sha256".into(),
            server.fingerprint(),
            "--session-file".into(),
            session.to_str().unwrap().to_owned(),
        ];
        v.extend(rest.iter().map(|s| (*s).to_owned()));
        v
    };
    let run = |args: Vec<String>, env: &[(&str, &str)]| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        iamctl(&home, &refs, None, env)
    };

    // Login asks for the password and does not echo it.
    let mut p = in_terminal(&home, &conn(&session, &["login", "admin"]));
    p.exp_string("Password for admin: ").unwrap();
    p.send_line(&server.password).unwrap();
    let shown = p.exp_string("logged in as admin").unwrap() + &finish(&mut p, 0);
    assert!(!shown.contains(&server.password), "echoed: {shown}");
    let first_session = ok_json(&run(conn(&session, &["whoami", "--json"]), &[]))["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A new password is asked for twice, hidden; entries that differ change nothing.
    let mut p = in_terminal(&home, &conn(&session, &["accounts", "create", "bob"]));
    p.exp_string("Password for bob: ").unwrap();
    p.send_line("one long password").unwrap();
    p.exp_string("Repeat it: ").unwrap();
    p.send_line("another long password").unwrap();
    p.exp_string("the two entries differ").unwrap();
    finish(&mut p, 1);
    let alice_password = "correct horse battery staple";
    let mut p = in_terminal(&home, &conn(&session, &["accounts", "create", "alice"]));
    p.exp_string("Password for alice: ").unwrap();
    p.send_line(alice_password).unwrap();
    p.exp_string("Repeat it: ").unwrap();
    p.send_line(alice_password).unwrap();
    let shown = p.exp_string("username:").unwrap() + &finish(&mut p, 0);
    assert!(!shown.contains(alice_password), "echoed: {shown}");
    let alice_session = dir.path().join("alice.json");
    ok(&run(
        conn(&alice_session, &["login", "alice"]),
        &[("IAM_PASSWORD", alice_password)],
    ));
    let out = run(conn(&session, &["accounts", "show", "bob"]), &[]);
    assert!(!out.status.success(), "bob was not created");

    // TOTP enrolment: a QR code and the URI, a wrong code is refused and asked again, the
    // right one (typed, so echoed) turns TOTP on.
    let mut p = in_terminal(&home, &conn(&session, &["totp", "enrol"]));
    let shown = utf8(&p.exp_string("Code from the app, to confirm: ").unwrap());
    assert!(shown.contains("Scan this QR code"), "{shown}");
    assert!(
        shown.contains('▀') && shown.contains('▄'),
        "no QR code: {shown}"
    );
    let uri = shown
        .lines()
        .find_map(|l| l.trim().strip_prefix("uri:"))
        .expect("the otpauth URI")
        .trim()
        .to_owned();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let totp = TOTP::from_url(&uri).unwrap();
    let near: Vec<String> = (-1..=1).map(|o| code_at(&totp, o)).collect();
    let wrong = ["000000", "111111", "222222", "333333"]
        .into_iter()
        .find(|c| !near.iter().any(|n| n == c))
        .unwrap();
    p.send_line(wrong).unwrap();
    p.exp_string("That code was not accepted").unwrap();
    p.exp_string("Code from the app, to confirm: ").unwrap();
    let code = code_at(&totp, 0);
    p.send_line(&code).unwrap();
    let shown = p.exp_string("TOTP is on for admin").unwrap();
    assert!(shown.contains(&code), "a typed code is echoed: {shown}");
    finish(&mut p, 0);

    // Login now asks for a code as well (the next step's: each code counts once).
    let mut p = in_terminal(&home, &conn(&session, &["login", "admin"]));
    p.exp_string("Password for admin: ").unwrap();
    p.send_line(&server.password).unwrap();
    p.exp_string("One-time code from your authenticator app: ")
        .unwrap();
    p.send_line(&code_at(&totp, 1)).unwrap();
    p.exp_string("logged in as admin").unwrap();
    finish(&mut p, 0);

    // Sessions: the admin's two, the one in use marked; revoke the first, then alice's as an
    // admin, then all of one's own (which logs out here).
    let table = ok(&run(conn(&session, &["sessions", "list"]), &[]));
    assert!(table.lines().next().unwrap().contains("ID"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with('*') && !l.contains(&first_session)),
        "{table}"
    );
    assert!(table.contains(&first_session), "{table}");
    ok(&run(
        conn(&session, &["sessions", "revoke", &first_session]),
        &[],
    ));
    let listed = ok_json(&run(conn(&session, &["sessions", "list", "--json"]), &[]));
    let live: Vec<&serde_json::Value> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["revoked_at"].is_null())
        .collect();
    assert_eq!(live.len(), 1, "{listed}");
    assert_eq!(live[0]["current"], true);
    let theirs = ok_json(&run(
        conn(
            &session,
            &["sessions", "list", "--account", "alice", "--json"],
        ),
        &[],
    ));
    assert_eq!(theirs["sessions"].as_array().unwrap().len(), 1, "{theirs}");
    let o = ok(&run(
        conn(
            &session,
            &["sessions", "revoke", "--all", "--account", "alice"],
        ),
        &[],
    ));
    assert!(o.contains("1 session(s) revoked"), "{o}");
    let out = run(conn(&alice_session, &["whoami"]), &[]);
    assert!(!out.status.success(), "alice's session was revoked");

    // A server error names its stable code and what to do next.
    let out = run(conn(&session, &["totp", "confirm", "123456"]), &[]);
    assert!(!out.status.success());
    let e = text(&out).1;
    assert!(
        e.contains("error code totp_already_confirmed") && e.contains("HTTP 409"),
        "{e}"
    );
    assert!(
        e.lines()
            .any(|l| l.starts_with("hint: ") && l.contains("nothing to confirm")),
        "{e}"
    );

    let o = ok(&run(conn(&session, &["sessions", "revoke", "--all"]), &[]));
    assert!(o.contains("logged out"), "{o}");
    assert!(!session.exists());
}

#[test]
fn completion_scripts_are_valid_shell() {
    let home = tempfile::tempdir().unwrap();
    let out = iamctl(home.path(), &["completions", "bash"], None, &[]);
    let script = ok(&out);
    assert!(script.contains("complete -F _iamctl"), "{script}");
    let path = home.path().join("iamctl.bash");
    std::fs::write(&path, &script).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check).1);
}
