//! Embeds iam-core with the in-memory store: create an account, log in, verify, refresh, log out.
//!
//! Run with `cargo run -p iam-core --example quickstart`.

use iam_core::Caller;
use iam_core::{Config, Iam, LoginRequest, MasterKey, MemoryStore, NewAccount, SecureRandom};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), iam_core::Error> {
    // The master key comes from your configuration in production; never store it with the data.
    let master_key = MasterKey::generate(&SecureRandom::from_entropy());
    let iam = Iam::builder(MemoryStore::new(), Config::new(master_key))
        .open()
        .await?;

    let alice = iam
        .create_account(
            NewAccount::human("alice", "correct horse battery").with_roles(["admin"]),
            Caller::System,
        )
        .await?;
    println!("created account {} ({})", alice.username, alice.id);

    let login = iam
        .login(&LoginRequest::password("alice", "correct horse battery"))
        .await?;
    println!(
        "logged in: session {}, access token valid for {} s",
        login.session.id, login.tokens.expires_in
    );

    let who = iam.verify(login.tokens.access_token.expose()).await?;
    println!(
        "token verifies: subject {} with roles {:?}",
        who.account_id, who.roles
    );

    let next = iam.refresh(login.tokens.refresh_token.expose()).await?;
    println!("refreshed: new pair for session {}", next.session_id);
    match iam.refresh(login.tokens.refresh_token.expose()).await {
        Err(e) => println!("replaying the old refresh token: {e}"),
        Ok(_) => println!("unexpected: a used refresh token worked"),
    }
    match iam.verify(next.access_token.expose()).await {
        Err(denial) => println!("after reuse detection the session is gone: {denial}"),
        Ok(_) => println!("unexpected: token still valid"),
    }

    let events = iam.verify_audit_chain(Caller::System).await?;
    println!("audit chain intact: {events} events");
    Ok(())
}
