//! The README's quick start: iam-core on SQLite, with the master key in a private file, so the
//! second run opens what the first one stored.
//!
//! Run with `cargo run -p iam-store-sqlite --example quickstart` (it writes `./iam-data/`).
//! `cargo test -p iam-store-sqlite --example quickstart` runs it twice against the same files
//! and checks that the README shows exactly this code.

use iam_core::{Caller, Config, Error, Iam, LoginRequest, MasterKey, NewAccount};
use iam_store_sqlite::SqliteStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The master key seals the signing keys and secrets in the database. The first run creates
    // the key file (mode 0600); every later run reads it. Back it up apart from the database.
    std::fs::create_dir_all("iam-data")?;
    let master_key = MasterKey::load_or_create("iam-data/master.key")?;
    let store = SqliteStore::open("iam-data/iam.db").await?;
    let iam = Iam::builder(store, Config::new(master_key)).open().await?;

    let alice = NewAccount::human("alice", "correct horse battery").with_roles(["admin"]);
    match iam.create_account(alice, Caller::System).await {
        Ok(_) | Err(Error::UsernameTaken) => {} // a later run finds her already there
        Err(e) => return Err(e.into()),
    }
    let login = iam
        .login(&LoginRequest::password("alice", "correct horse battery"))
        .await?;

    // In your request handlers: verify the bearer token (no store read on this path).
    let who = iam.verify(login.tokens.access_token.expose()).await?;
    assert!(who.has_role("admin"));

    // When the access token expires, rotate: the old refresh token dies; replaying it revokes the session.
    let next = iam.refresh(login.tokens.refresh_token.expose()).await?;
    let who = iam.verify(next.access_token.expose()).await?;
    iam.logout(&who).await?;

    let events = iam.verify_audit_chain(Caller::System).await?;
    println!("audit chain intact: {events} events");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    /// This file's code between its header and this test module: what the README must show.
    fn code() -> String {
        let file = include_str!("quickstart.rs");
        let end = file.find("#[cfg(test)]").unwrap();
        let body: Vec<&str> = file[..end]
            .lines()
            .skip_while(|l| l.starts_with("//!") || l.is_empty())
            .collect();
        body.join("\n").trim().to_owned()
    }

    /// The first Rust code block of the README's quick start.
    fn readme_block() -> String {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let text = std::fs::read_to_string(readme).unwrap();
        let text = &text[text.find("## Quick start").unwrap()..];
        let start = text.find("```rust\n").unwrap() + "```rust\n".len();
        let len = text[start..].find("```").unwrap();
        text[start..start + len].trim().to_owned()
    }

    #[test]
    fn the_readme_shows_this_example() {
        assert_eq!(
            readme_block(),
            code(),
            "README.md's quick start differs from iam-store-sqlite/examples/quickstart.rs"
        );
    }

    #[test]
    fn runs_twice_against_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        // The example works in the current directory; this is the only test that changes it.
        std::env::set_current_dir(dir.path()).unwrap();
        super::main().expect("first run");
        super::main().expect("second run: same master key, same database");
        let key = std::fs::read_to_string(dir.path().join("iam-data/master.key")).unwrap();
        assert_eq!(key.trim().len(), 43);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let meta = std::fs::metadata(dir.path().join("iam-data/master.key")).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
    }
}
