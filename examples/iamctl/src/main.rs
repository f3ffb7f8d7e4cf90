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
//! use that token instead of the session (for example a service fetching its own credentials).
//! In a terminal, a password not given by flag or variable is asked for without echo.
//! Errors print the server's stable error code, its message and a hint of what to do, and
//! exit with status 1; tokens and passwords are never printed, except a newly created API or
//! service token (shown once, that is its purpose), a TOTP secret at enrolment and fetched
//! database credentials.

mod accounts;
mod api_tokens;
mod audit;
mod client;
mod clients;
mod connect;
mod credentials;
mod elevation;
mod hints;
mod invite;
mod keys;
mod output;
mod roles;
mod service_token;
mod session;
mod sessions;
mod terminal;
mod tls;
mod totp;

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
    /// Log in and store the session (password from --password-stdin, IAM_PASSWORD or a prompt).
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
    /// Invitation links for new people (admins and inviters).
    #[command(subcommand)]
    Invite(invite::InviteCmd),
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
    /// Your login sessions (an account's, for admins).
    #[command(subcommand)]
    Sessions(sessions::SessionsCmd),
    /// Your TOTP second factor.
    #[command(subcommand)]
    Totp(totp::TotpCmd),
    /// Print a shell completion script, e.g. `iamctl completions bash > ~/.local/share/bash-completion/completions/iamctl`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", hints::report(&e));
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
        Command::Invite(cmd) => invite::run(g, cmd).await,
        Command::Credentials(cmd) => credentials::run(g, cmd).await,
        Command::Audit(cmd) => audit::run(g, cmd).await,
        Command::Elevation(cmd) => elevation::run(g, cmd).await,
        Command::Clients(cmd) => clients::run(g, cmd).await,
        Command::Keys(cmd) => keys::run(g, cmd).await,
        Command::Sessions(cmd) => sessions::run(g, cmd).await,
        Command::Totp(cmd) => totp::run(g, cmd).await,
        Command::Completions { shell } => print_completions(*shell),
    }
}

/// The completion script for `shell`.
fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    use clap::CommandFactory as _;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "iamctl", &mut script);
    script
}

/// Prints the completion script for `shell`.
fn print_completions(shell: clap_complete::Shell) -> Result<()> {
    use std::io::Write as _;
    match std::io::stdout().write_all(&completion_script(shell)) {
        // A reader that stops early (`| head`) is not a failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
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

    #[test]
    fn completions_know_the_commands_and_their_options() {
        use clap_complete::Shell;
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let script = String::from_utf8(completion_script(shell)).expect("UTF-8");
            for word in ["sessions", "totp", "enrol", "password-stdin", "pin-sha256"] {
                assert!(script.contains(word), "{shell}: no {word}");
            }
        }
    }
}
