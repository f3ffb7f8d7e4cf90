//! iamctl: the admin CLI of iam, over the iam REST API (as served by `iamd`).
//!
//! ```text
//! iamctl --pin-sha256 <HEX> login admin --password-stdin < password.txt
//! iamctl whoami
//! iamctl accounts create alice --role ops --password-stdin
//! iamctl roles grant alice auditor
//! iamctl accounts list --json
//! iamctl audit tail --limit 20
//! iamctl logout
//! ```
//!
//! The session (access and refresh tokens) is kept in a 0600 file, by default
//! `~/.config/iamctl/session.json`; it also remembers the server and how its certificate was
//! trusted, so later commands need neither again. The access token is refreshed automatically.
//! Trust the server with `--ca-file PEM` or `--pin-sha256 HEX` (the SHA-256 fingerprint of its
//! certificate, e.g. `openssl x509 -in iam-data/cert.pem -noout -fingerprint -sha256`);
//! plain HTTP needs `--insecure-http`. With `IAM_TOKEN` set (a service or API token), commands
//! use that token instead of the session (for example a service fetching its own credentials). Errors print the server's error code and message and
//! exit with status 1; tokens and passwords are never printed, except a newly created API or
//! service token (shown once, that is its purpose) and fetched database credentials.

mod accounts;
mod api_tokens;
mod audit;
mod client;
mod clients;
mod connect;
mod credentials;
mod elevation;
mod keys;
mod output;
mod roles;
mod service_token;
mod session;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

/// The iam admin CLI.
#[derive(Parser)]
#[command(name = "iamctl", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// The options every command takes.
#[derive(Args)]
pub struct GlobalArgs {
    /// Server base URL [default: the session's server, else https://127.0.0.1:8443].
    #[arg(long, env = "IAM_SERVER", global = true, value_name = "URL")]
    server: Option<String>,
    /// Trust only the certificates in this PEM file.
    #[arg(long, env = "IAM_CA_FILE", global = true, value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// Trust exactly the server certificate with this SHA-256 fingerprint (hex, colons allowed).
    #[arg(long, env = "IAM_PIN_SHA256", global = true, value_name = "HEX")]
    pin_sha256: Option<String>,
    /// Talk plain HTTP to an http:// server (tokens travel unencrypted).
    #[arg(long, global = true)]
    insecure_http: bool,
    /// Session file [default: ~/.config/iamctl/session.json].
    #[arg(long, env = "IAM_SESSION_FILE", global = true, value_name = "PATH")]
    session_file: Option<PathBuf>,
    /// Print the server's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Log in and store the session (password from --password-stdin or IAM_PASSWORD).
    Login(session::LoginArgs),
    /// End the session on the server and remove the session file.
    Logout,
    /// Show what the current token says.
    Whoami,
    /// Accounts (admin).
    #[command(subcommand)]
    Accounts(accounts::AccountsCmd),
    /// Roles (admin).
    #[command(subcommand)]
    Roles(roles::RolesCmd),
    /// Service-account tokens.
    #[command(subcommand, name = "service-token")]
    ServiceToken(service_token::ServiceTokenCmd),
    /// Personal API tokens of the logged-in account.
    #[command(subcommand, name = "api-tokens")]
    ApiTokens(api_tokens::ApiTokensCmd),
    /// Database credentials of system accounts.
    #[command(subcommand)]
    Credentials(credentials::CredentialsCmd),
    /// Audit log (admin).
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Elevation ("sudo mode").
    #[command(subcommand)]
    Elevation(elevation::ElevationCmd),
    /// OAuth clients.
    #[command(subcommand)]
    Clients(clients::ClientsCmd),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iamctl: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command `cli` names.
async fn run(cli: &Cli) -> Result<()> {
    let g = &cli.global;
    match &cli.command {
        Command::Login(args) => session::login(g, args).await,
        Command::Logout => session::logout(g).await,
        Command::Whoami => session::whoami(g).await,
        Command::Accounts(cmd) => accounts::run(g, cmd).await,
        Command::Roles(cmd) => roles::run(g, cmd).await,
        Command::ServiceToken(cmd) => service_token::run(g, cmd).await,
        Command::ApiTokens(cmd) => api_tokens::run(g, cmd).await,
        Command::Credentials(cmd) => credentials::run(g, cmd).await,
        Command::Audit(cmd) => audit::run(g, cmd).await,
        Command::Elevation(cmd) => elevation::run(g, cmd).await,
        Command::Clients(cmd) => clients::run(g, cmd).await,
        Command::Keys(cmd) => keys::run(g, cmd).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_parses() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
