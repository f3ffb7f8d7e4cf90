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

mod client;
mod output;
mod tls;

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use client::{Api, Session, Target, Trust};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The iam admin CLI.
#[derive(Parser)]
#[command(name = "iamctl", version, about, long_about = None)]
struct Cli {
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in and store the session (password from --password-stdin or IAM_PASSWORD).
    Login {
        /// Username.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The current TOTP code, when the account has TOTP on.
        #[arg(long, value_name = "CODE")]
        totp: Option<String>,
    },
    /// End the session on the server and remove the session file.
    Logout,
    /// Show what the current token says.
    Whoami,
    /// Accounts (admin).
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// Roles (admin).
    #[command(subcommand)]
    Roles(RolesCmd),
    /// Service-account tokens.
    #[command(subcommand, name = "service-token")]
    ServiceToken(ServiceTokenCmd),
    /// Personal API tokens of the logged-in account.
    #[command(subcommand, name = "api-tokens")]
    ApiTokens(ApiTokensCmd),
    /// Database credentials of system accounts.
    #[command(subcommand)]
    Credentials(CredentialsCmd),
    /// Audit log (admin).
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Elevation ("sudo mode").
    #[command(subcommand)]
    Elevation(ElevationCmd),
    /// OAuth clients.
    #[command(subcommand)]
    Clients(ClientsCmd),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Make a new signing key active (admin); tokens signed by the old one keep verifying until
    /// they expire.
    Rotate,
}

#[derive(Clone, Copy, ValueEnum)]
enum ClientKindArg {
    Confidential,
    Public,
}

#[derive(Subcommand)]
enum ClientsCmd {
    /// List OAuth clients (admin).
    List,
    /// Register a client; a confidential client's secret is printed once.
    Register {
        /// Display name.
        name: String,
        /// Client kind.
        #[arg(long, value_enum, default_value = "confidential")]
        kind: ClientKindArg,
        /// A redirect URI (repeatable).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// A grant type (repeatable): authorization_code, client_credentials, refresh_token,
        /// urn:ietf:params:oauth:grant-type:device_code.
        #[arg(long = "grant", value_name = "GRANT_TYPE", required = true)]
        grant_types: Vec<String>,
        /// An allowed scope (repeatable).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// An allowed resource indicator (repeatable).
        #[arg(long = "resource", value_name = "URI")]
        resources: Vec<String>,
        /// Require PKCE (the server's default when absent).
        #[arg(long, value_name = "BOOL")]
        require_pkce: Option<bool>,
        /// The client acts for the registering account (client credentials as its owner).
        #[arg(long)]
        acts_for_owner: bool,
    },
    /// Show one client.
    Show {
        /// Client id.
        id: String,
    },
    /// Rotate a confidential client's secret (printed once; the old one works for a grace
    /// period).
    RotateSecret {
        /// Client id.
        id: String,
    },
    /// Disable a client and revoke its tokens.
    Disable {
        /// Client id.
        id: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Human,
    System,
}

#[derive(Subcommand)]
enum AccountsCmd {
    /// List accounts.
    List {
        /// Only the account with this username.
        #[arg(long)]
        username: Option<String>,
        /// Most accounts to list.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// List the accounts after this account id (paging).
        #[arg(long, value_name = "ID")]
        after: Option<String>,
    },
    /// Create an account (a human one needs a password: --password-stdin or IAM_NEW_PASSWORD).
    Create {
        /// Username.
        username: String,
        /// Account kind.
        #[arg(long, value_enum, default_value = "human")]
        kind: Kind,
        /// A role to grant (repeatable).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Read the new account's password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Show one account (by id or username).
    Show {
        /// Account id or username.
        account: String,
    },
    /// Disable an account.
    Disable {
        /// Account id or username.
        account: String,
    },
    /// Enable an account.
    Enable {
        /// Account id or username.
        account: String,
    },
    /// Set an account's password (--password-stdin or IAM_NEW_PASSWORD), for example the
    /// first admin's printed one.
    SetPassword {
        /// Account id or username.
        account: String,
        /// Read the new password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum RolesCmd {
    /// Grant a role.
    Grant {
        /// Account id or username.
        account: String,
        /// Role.
        role: String,
        /// Make the role elevatable (opened on demand) instead of held.
        #[arg(long)]
        elevatable: bool,
    },
    /// Revoke a role.
    Revoke {
        /// Account id or username.
        account: String,
        /// Role.
        role: String,
        /// Revoke the elevatable role instead of the held one.
        #[arg(long)]
        elevatable: bool,
    },
}

#[derive(Subcommand)]
enum ServiceTokenCmd {
    /// Issue a system account's token (the old one is revoked); prints the token once.
    Issue {
        /// Account id or username.
        account: String,
    },
    /// Revoke a system account's token.
    Revoke {
        /// Account id or username.
        account: String,
    },
}

#[derive(Subcommand)]
enum ApiTokensCmd {
    /// List your API tokens (admins: another account's, with --account).
    List {
        /// Whose tokens: an account id or username (admins only).
        #[arg(long, value_name = "ACCOUNT")]
        account: Option<String>,
    },
    /// Create an API token; prints the token once.
    Create {
        /// Label.
        #[arg(long)]
        label: String,
        /// A scope (repeatable).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Lifetime: seconds, or a number with s, m, h or d.
        #[arg(long, default_value = "30d", value_name = "DURATION")]
        expires_in: String,
    },
    /// Revoke an API token.
    Revoke {
        /// Token id.
        id: String,
    },
}

#[derive(Subcommand)]
enum CredentialsCmd {
    /// Fetch a system account's database credentials (prints the password).
    Fetch {
        /// Account id or username.
        account: String,
    },
    /// Store a system account's database credentials (password from --password-stdin or
    /// IAM_DB_PASSWORD).
    Store(StoreCredentials),
}

#[derive(Args)]
struct StoreCredentials {
    /// Account id or username.
    account: String,
    /// Database host.
    #[arg(long)]
    host: String,
    /// Database port.
    #[arg(long, default_value_t = 5432)]
    port: u16,
    /// Database name.
    #[arg(long)]
    database: String,
    /// Database user.
    #[arg(long)]
    user: String,
    /// Read the database password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// The latest events.
    Tail {
        /// How many events.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only events about this account id.
        #[arg(long, value_name = "ID")]
        account: Option<String>,
        /// Only events of this kind.
        #[arg(long)]
        kind: Option<String>,
    },
    /// Verify the audit hash chain (exit status 1 when broken).
    Verify,
}

#[derive(Subcommand)]
enum ElevationCmd {
    /// Open an elevatable role, or file a request for approval (step-up password from
    /// --password-stdin or IAM_PASSWORD when the role asks for one).
    Request {
        /// Role.
        role: String,
        /// Duration in seconds (the role's maximum when absent).
        #[arg(long, value_name = "SECS")]
        duration: Option<u64>,
        /// Read the step-up password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The current TOTP code for step-up.
        #[arg(long, value_name = "CODE")]
        totp: Option<String>,
    },
    /// Pending requests you may answer.
    Pending,
    /// Approve a request.
    Approve {
        /// Request id.
        id: String,
    },
    /// Deny a request.
    Deny {
        /// Request id.
        id: String,
    },
    /// End an open elevation of your session.
    End {
        /// Role.
        role: String,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iamctl: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A secret from the first line of stdin (when `from_stdin`) or the environment variable `env`.
fn read_secret(from_stdin: bool, env: &str, what: &str) -> Result<Option<String>> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .with_context(|| format!("reading the {what} from standard input"))?;
        let secret = line.trim_end_matches(['\r', '\n']).to_owned();
        if secret.is_empty() {
            bail!("standard input gave an empty {what}");
        }
        return Ok(Some(secret));
    }
    Ok(std::env::var(env).ok().filter(|s| !s.is_empty()))
}

/// The trust mode the flags ask for, if they ask for one.
fn flag_trust(cli: &Cli) -> Result<Option<Trust>> {
    let given = usize::from(cli.ca_file.is_some())
        + usize::from(cli.pin_sha256.is_some())
        + usize::from(cli.insecure_http);
    if given > 1 {
        bail!("give only one of --ca-file, --pin-sha256 and --insecure-http");
    }
    Ok(if let Some(pin) = &cli.pin_sha256 {
        Some(Trust::Pin(tls::parse_fingerprint(pin)?))
    } else if let Some(ca) = &cli.ca_file {
        Some(Trust::CaFile(ca.clone()))
    } else if cli.insecure_http {
        Some(Trust::InsecureHttp)
    } else {
        None
    })
}

/// Loads the session and builds the client: flags win, the session fills in, defaults last.
/// A session is only used with the server it was created for.
fn connect(cli: &Cli, for_login: bool) -> Result<Api> {
    let path = match &cli.session_file {
        Some(p) => p.clone(),
        None => client::default_session_path()?,
    };
    if !for_login {
        if let Some(token) = std::env::var("IAM_TOKEN").ok().filter(|t| !t.is_empty()) {
            let server = cli
                .server
                .clone()
                .unwrap_or_else(|| client::DEFAULT_SERVER.to_owned());
            let trust = flag_trust(cli)?.unwrap_or(Trust::System);
            return Api::with_token(Target::new(&server, trust)?, token);
        }
    }
    let session: Option<Session> = if for_login {
        None
    } else {
        client::load_session(&path)?
    };
    let server = cli
        .server
        .clone()
        .or_else(|| session.as_ref().map(|s| s.server.clone()))
        .unwrap_or_else(|| client::DEFAULT_SERVER.to_owned());
    let trust = match (flag_trust(cli)?, &session) {
        (Some(t), _) => t,
        (None, Some(s)) => s.trust()?,
        (None, None) => Trust::System,
    };
    let target = Target::new(&server, trust)?;
    if let Some(s) = &session {
        if s.server != target.server {
            bail!(
                "the session in {} is for {}, not {}; log in to {} (or use another --session-file)",
                path.display(),
                s.server,
                target.server,
                target.server
            );
        }
    }
    Api::new(target, path, session)
}

/// The API path `/accounts/{id}{rest}` of an account given by id or username.
async fn account_path(api: &mut Api, account: &str, rest: &str) -> Result<String> {
    let id = resolve_account(api, account).await?;
    Ok(format!("/accounts/{}{rest}", client::seg(&id)))
}

/// An account id from an id or a username: the id is tried first, then the username.
async fn resolve_account(api: &mut Api, given: &str) -> Result<String> {
    match api
        .get(&format!("/accounts/{}", client::seg(given)), &[])
        .await
    {
        Ok(a) => {
            if let Some(id) = a.get("id").and_then(Value::as_str) {
                return Ok(id.to_owned());
            }
            Ok(given.to_owned())
        }
        Err(e) if client::is_status(&e, StatusCode::NOT_FOUND) => {
            let found = api
                .get("/accounts", &[("username", given.to_owned())])
                .await?;
            found
                .get("accounts")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|a| a.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(e)
        }
        Err(e) => Err(e),
    }
}

/// Parses a lifetime: seconds, or a number with `s`, `m`, `h` or `d`.
fn parse_duration(text: &str) -> Result<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("{text:?} is not a duration (like 3600, 90m, 12h or 30d)"))?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => bail!("{text:?}: the unit must be s, m, h or d"),
    };
    n.checked_mul(factor).context("the duration is too long")
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

async fn run(cli: Cli) -> Result<()> {
    let json_out = cli.json;
    match &cli.command {
        Command::Login {
            username,
            password_stdin,
            totp,
        } => {
            let password = read_secret(*password_stdin, "IAM_PASSWORD", "password")?.context(
                "give the password with --password-stdin or the IAM_PASSWORD environment variable",
            )?;
            let mut api = connect(&cli, true)?;
            let answer = api.login(username, &password, totp.as_deref()).await?;
            if json_out {
                output::json(&answer);
            } else {
                let account = answer.get("account").unwrap_or(&Value::Null);
                println!(
                    "logged in as {} ({}); session {}",
                    output::field(account, "username"),
                    output::field(account, "id"),
                    output::field(&answer, "session_id"),
                );
            }
        }
        Command::Logout => {
            let mut api = connect(&cli, false)?;
            let path = api.session_path().to_owned();
            if api.session().is_none() {
                bail!("not logged in ({} does not exist)", path.display());
            }
            let result = api.call(Method::POST, "/logout", &[], None).await;
            // The local session goes either way; an already-ended session is not an error.
            client::remove_session(&path)?;
            match result {
                Ok(_) => {}
                Err(e) if client::is_status(&e, StatusCode::UNAUTHORIZED) => {}
                Err(e) => return Err(e.context("the local session was removed")),
            }
            if json_out {
                output::json(&json!({ "logged_out": true }));
            } else {
                println!("logged out");
            }
        }
        Command::Whoami => {
            let mut api = connect(&cli, false)?;
            let w = api.get("/whoami", &[]).await?;
            if json_out {
                output::json(&w);
            } else {
                let username = api
                    .session()
                    .map(|s| s.username.clone())
                    .unwrap_or_default();
                output::pairs(&[
                    ("username", username),
                    ("account", output::field(&w, "account_id")),
                    ("kind", output::field(&w, "kind")),
                    ("roles", output::field(&w, "roles")),
                    ("elevated roles", output::field(&w, "elevated_roles")),
                    ("elevated until", output::field(&w, "elevated_until")),
                    ("scopes", output::field(&w, "scopes")),
                    ("session", output::field(&w, "session_id")),
                    ("auth methods", output::field(&w, "amr")),
                    ("auth time", output::field(&w, "auth_time")),
                    ("token expires", output::field(&w, "expires_at")),
                    ("server", api.target_server()),
                ]);
            }
        }
        Command::Accounts(cmd) => accounts(&cli, cmd).await?,
        Command::Roles(cmd) => {
            let mut api = connect(&cli, false)?;
            let (account, role, elevatable, grant) = match cmd {
                RolesCmd::Grant {
                    account,
                    role,
                    elevatable,
                } => (account, role, *elevatable, true),
                RolesCmd::Revoke {
                    account,
                    role,
                    elevatable,
                } => (account, role, *elevatable, false),
            };
            let kind = if elevatable {
                "elevatable-roles"
            } else {
                "roles"
            };
            let path =
                account_path(&mut api, account, &format!("/{kind}/{}", client::seg(role))).await?;
            let method = if grant { Method::PUT } else { Method::DELETE };
            let a = api.call(method, &path, &[], None).await?;
            if json_out {
                output::json(&a);
            } else {
                println!(
                    "{} {}{role}; roles now: {}; elevatable: {}",
                    output::field(&a, "username"),
                    if grant { "+" } else { "-" },
                    output::field(&a, "roles"),
                    output::field(&a, "elevatable_roles"),
                );
            }
        }
        Command::ServiceToken(cmd) => {
            let mut api = connect(&cli, false)?;
            match cmd {
                ServiceTokenCmd::Issue { account } => {
                    let path = account_path(&mut api, account, "/service-token").await?;
                    let t = api.call(Method::POST, &path, &[], None).await?;
                    if json_out {
                        output::json(&t);
                    } else {
                        output::pairs(&[
                            ("token", output::field(&t, "token")),
                            ("grant", output::field(&t, "grant_id")),
                            ("expires", output::field(&t, "expires_at")),
                        ]);
                        eprintln!("(the token is shown once; the previous one is revoked)");
                    }
                }
                ServiceTokenCmd::Revoke { account } => {
                    let path = account_path(&mut api, account, "/service-token").await?;
                    let v = api.call(Method::DELETE, &path, &[], None).await?;
                    done(json_out, &v, "service token revoked");
                }
            }
        }
        Command::ApiTokens(cmd) => {
            let mut api = connect(&cli, false)?;
            match cmd {
                ApiTokensCmd::List { account } => {
                    let query = match account {
                        Some(a) => vec![("account_id", resolve_account(&mut api, a).await?)],
                        None => vec![],
                    };
                    let v = api.get("/api-tokens", &query).await?;
                    if json_out {
                        output::json(&v);
                    } else {
                        output::api_tokens(array(&v, "api_tokens"));
                    }
                }
                ApiTokensCmd::Create {
                    label,
                    scopes,
                    expires_in,
                } => {
                    let body = json!({
                        "label": label,
                        "scopes": scopes,
                        "expires_in": parse_duration(expires_in)?,
                    });
                    let v = api
                        .call(Method::POST, "/api-tokens", &[], Some(&body))
                        .await?;
                    if json_out {
                        output::json(&v);
                    } else {
                        let info = v.get("info").unwrap_or(&Value::Null);
                        output::pairs(&[
                            ("id", output::field(info, "id")),
                            ("label", output::field(info, "label")),
                            ("scopes", output::field(info, "scopes")),
                            ("expires", output::field(info, "expires_at")),
                            ("token", output::field(&v, "token")),
                        ]);
                        eprintln!("(the token is shown once)");
                    }
                }
                ApiTokensCmd::Revoke { id } => {
                    let v = api
                        .call(
                            Method::DELETE,
                            &format!("/api-tokens/{}", client::seg(id)),
                            &[],
                            None,
                        )
                        .await?;
                    done(json_out, &v, "API token revoked");
                }
            }
        }
        Command::Credentials(cmd) => {
            let mut api = connect(&cli, false)?;
            match cmd {
                CredentialsCmd::Fetch { account } => {
                    let path = account_path(&mut api, account, "/db-credentials").await?;
                    let v = api.get(&path, &[]).await?;
                    if json_out {
                        output::json(&v);
                    } else {
                        output::pairs(&[
                            ("host", output::field(&v, "host")),
                            ("port", output::field(&v, "port")),
                            ("database", output::field(&v, "database")),
                            ("user", output::field(&v, "user")),
                            ("password", output::field(&v, "password")),
                        ]);
                    }
                }
                CredentialsCmd::Store(s) => {
                    let password =
                        read_secret(s.password_stdin, "IAM_DB_PASSWORD", "database password")?
                            .context(
                            "give the database password with --password-stdin or IAM_DB_PASSWORD",
                        )?;
                    let path = account_path(&mut api, &s.account, "/db-credentials").await?;
                    let body = json!({
                        "host": s.host,
                        "port": s.port,
                        "database": s.database,
                        "user": s.user,
                        "password": password,
                    });
                    let v = api.call(Method::PUT, &path, &[], Some(&body)).await?;
                    done(json_out, &v, "credentials stored");
                }
            }
        }
        Command::Keys(KeysCmd::Rotate) => {
            let mut api = connect(&cli, false)?;
            let v = api.call(Method::POST, "/keys/rotate", &[], None).await?;
            let kid = output::field(&v, "active_kid");
            done(json_out, &v, &format!("new active signing key: {kid}"));
        }
        Command::Audit(cmd) => {
            let mut api = connect(&cli, false)?;
            match cmd {
                AuditCmd::Tail {
                    limit,
                    account,
                    kind,
                } => {
                    let events =
                        audit_tail(&mut api, *limit, account.as_deref(), kind.as_deref()).await?;
                    if json_out {
                        output::json(&json!({ "events": events }));
                    } else {
                        output::audit(&events);
                    }
                }
                AuditCmd::Verify => {
                    let v = api.get("/audit/verify", &[]).await?;
                    let intact = v.get("intact").and_then(Value::as_bool) == Some(true);
                    if json_out {
                        output::json(&v);
                    } else if intact {
                        println!(
                            "audit chain intact ({} events)",
                            output::field(&v, "events")
                        );
                    }
                    if !intact {
                        bail!("audit chain BROKEN: {}", output::field(&v, "break"));
                    }
                }
            }
        }
        Command::Elevation(cmd) => elevation(&cli, cmd).await?,
        Command::Clients(cmd) => clients(&cli, cmd).await?,
    }
    Ok(())
}

/// Prints the answer of a call that may have no body.
fn done(json_out: bool, v: &Value, text: &str) {
    if json_out {
        output::json(v);
    } else {
        println!("{text}");
    }
}

/// The last `limit` events (the API lists oldest first, so the log is paged through).
async fn audit_tail(
    api: &mut Api,
    limit: usize,
    account: Option<&str>,
    kind: Option<&str>,
) -> Result<Vec<Value>> {
    const PAGE: usize = 1000;
    let limit = limit.max(1);
    let mut kept: std::collections::VecDeque<Value> = std::collections::VecDeque::new();
    let mut after: Option<u64> = None;
    loop {
        let mut q: Vec<(&str, String)> = vec![("limit", PAGE.to_string())];
        if let Some(a) = account {
            q.push(("account", a.to_owned()));
        }
        if let Some(k) = kind {
            q.push(("kind", k.to_owned()));
        }
        if let Some(s) = after {
            q.push(("after_seq", s.to_string()));
        }
        let page = api.get("/audit", &q).await?;
        let events = array(&page, "events");
        let n = events.len();
        let last = events
            .last()
            .and_then(|e| e.get("seq"))
            .and_then(Value::as_u64);
        for e in events {
            kept.push_back(e.clone());
            if kept.len() > limit {
                kept.pop_front();
            }
        }
        match last {
            Some(seq) if n == PAGE && Some(seq) != after => after = Some(seq),
            _ => break,
        }
    }
    Ok(kept.into())
}

async fn accounts(cli: &Cli, cmd: &AccountsCmd) -> Result<()> {
    let json_out = cli.json;
    let mut api = connect(cli, false)?;
    match cmd {
        AccountsCmd::List {
            username,
            limit,
            after,
        } => {
            let mut q: Vec<(&str, String)> = vec![("limit", limit.to_string())];
            if let Some(u) = username {
                q.push(("username", u.clone()));
            }
            if let Some(a) = after {
                q.push(("after", a.clone()));
            }
            let v = api.get("/accounts", &q).await?;
            if json_out {
                output::json(&v);
            } else {
                output::accounts(array(&v, "accounts"));
            }
        }
        AccountsCmd::Create {
            username,
            kind,
            roles,
            password_stdin,
        } => {
            let password = read_secret(*password_stdin, "IAM_NEW_PASSWORD", "new password")?;
            let kind = match kind {
                Kind::Human => "human",
                Kind::System => "system",
            };
            if kind == "human" && password.is_none() {
                bail!("a human account needs a password: give it with --password-stdin or IAM_NEW_PASSWORD");
            }
            let mut body = json!({ "username": username, "kind": kind, "roles": roles });
            if let Some(p) = password {
                body["password"] = Value::String(p);
            }
            let a = api
                .call(Method::POST, "/accounts", &[], Some(&body))
                .await?;
            if json_out {
                output::json(&a);
            } else {
                output::account(&a);
            }
        }
        AccountsCmd::Show { account } => {
            let path = account_path(&mut api, account, "").await?;
            let a = api.get(&path, &[]).await?;
            if json_out {
                output::json(&a);
            } else {
                output::account(&a);
            }
        }
        AccountsCmd::Disable { account } | AccountsCmd::Enable { account } => {
            let action = if matches!(cmd, AccountsCmd::Disable { .. }) {
                "disable"
            } else {
                "enable"
            };
            let path = account_path(&mut api, account, &format!("/{action}")).await?;
            let a = api.call(Method::POST, &path, &[], None).await?;
            if json_out {
                output::json(&a);
            } else {
                println!(
                    "{} ({}) {action}d",
                    output::field(&a, "username"),
                    output::field(&a, "id")
                );
            }
        }
        AccountsCmd::SetPassword {
            account,
            password_stdin,
        } => {
            let Some(password) = read_secret(*password_stdin, "IAM_NEW_PASSWORD", "new password")?
            else {
                bail!("give the new password with --password-stdin or IAM_NEW_PASSWORD");
            };
            let path = account_path(&mut api, account, "/password").await?;
            let a = api
                .call(
                    Method::PUT,
                    &path,
                    &[],
                    Some(&json!({ "password": password })),
                )
                .await?;
            done(json_out, &a, "password set");
        }
    }
    Ok(())
}

async fn clients(cli: &Cli, cmd: &ClientsCmd) -> Result<()> {
    let json_out = cli.json;
    let mut api = connect(cli, false)?;
    match cmd {
        ClientsCmd::List => {
            let v = api.get("/clients", &[]).await?;
            if json_out {
                output::json(&v);
            } else {
                output::clients(array(&v, "clients"));
            }
        }
        ClientsCmd::Register {
            name,
            kind,
            redirect_uris,
            grant_types,
            scopes,
            resources,
            require_pkce,
            acts_for_owner,
        } => {
            let mut body = json!({
                "name": name,
                "kind": match kind {
                    ClientKindArg::Confidential => "confidential",
                    ClientKindArg::Public => "public",
                },
                "redirect_uris": redirect_uris,
                "grant_types": grant_types,
                "scopes": scopes,
                "resources": resources,
                "acts_for_owner": acts_for_owner,
            });
            if let Some(p) = require_pkce {
                body["require_pkce"] = Value::Bool(*p);
            }
            let v = api.call(Method::POST, "/clients", &[], Some(&body)).await?;
            if json_out {
                output::json(&v);
            } else {
                output::client(v.get("client").unwrap_or(&Value::Null));
                if v.get("client_secret").is_some_and(|s| !s.is_null()) {
                    output::pairs(&[("client secret", output::field(&v, "client_secret"))]);
                    eprintln!("(the secret is shown once)");
                }
            }
        }
        ClientsCmd::Show { id } => {
            let v = api
                .get(&format!("/clients/{}", client::seg(id)), &[])
                .await?;
            if json_out {
                output::json(&v);
            } else {
                output::client(&v);
            }
        }
        ClientsCmd::RotateSecret { id } => {
            let v = api
                .call(
                    Method::POST,
                    &format!("/clients/{}/secret", client::seg(id)),
                    &[],
                    None,
                )
                .await?;
            if json_out {
                output::json(&v);
            } else {
                output::pairs(&[("client secret", output::field(&v, "client_secret"))]);
                eprintln!("(the secret is shown once)");
            }
        }
        ClientsCmd::Disable { id } => {
            let v = api
                .call(
                    Method::POST,
                    &format!("/clients/{}/disable", client::seg(id)),
                    &[],
                    None,
                )
                .await?;
            if json_out {
                output::json(&v);
            } else {
                println!(
                    "client disabled; {} token families revoked",
                    output::field(&v, "revoked_token_families")
                );
            }
        }
    }
    Ok(())
}

async fn elevation(cli: &Cli, cmd: &ElevationCmd) -> Result<()> {
    let json_out = cli.json;
    let mut api = connect(cli, false)?;
    match cmd {
        ElevationCmd::Request {
            role,
            duration,
            password_stdin,
            totp,
        } => {
            let password = read_secret(*password_stdin, "IAM_PASSWORD", "password")?;
            let mut body = json!({ "role": role });
            if let Some(d) = duration {
                body["duration"] = json!(d);
            }
            if let Some(p) = password {
                body["password"] = Value::String(p);
            }
            if let Some(t) = totp {
                body["totp_code"] = Value::String(t.clone());
            }
            let mut v = api
                .call(Method::POST, "/elevation", &[], Some(&body))
                .await?;
            // An open elevation comes with a new access token: it replaces the stored one.
            if let Some(token) = v
                .as_object_mut()
                .and_then(|o| o.remove("access_token"))
                .and_then(|t| t.as_str().map(str::to_owned))
            {
                api.replace_access_token(token)?;
            }
            if let Some(o) = v.as_object_mut() {
                o.remove("token_type");
            }
            if json_out {
                output::json(&v);
            } else if output::field(&v, "status") == "active" {
                let e = v.get("elevation").unwrap_or(&Value::Null);
                println!(
                    "{} elevated until {}",
                    output::field(e, "role"),
                    output::field(e, "until")
                );
            } else {
                println!(
                    "request {} filed; waiting for approval until {}",
                    output::field(&v, "request_id"),
                    output::field(&v, "expires_at")
                );
            }
        }
        ElevationCmd::Pending => {
            let v = api.get("/elevation/requests", &[]).await?;
            if json_out {
                output::json(&v);
            } else {
                output::elevation_requests(array(&v, "requests"));
            }
        }
        ElevationCmd::Approve { id } => {
            let v = api
                .call(
                    Method::POST,
                    &format!("/elevation/requests/{}/approve", client::seg(id)),
                    &[],
                    None,
                )
                .await?;
            if json_out {
                output::json(&v);
            } else {
                let e = v.get("elevation").unwrap_or(&Value::Null);
                println!(
                    "approved: {} until {}",
                    output::field(e, "role"),
                    output::field(e, "until")
                );
            }
        }
        ElevationCmd::Deny { id } => {
            let v = api
                .call(
                    Method::POST,
                    &format!("/elevation/requests/{}/deny", client::seg(id)),
                    &[],
                    None,
                )
                .await?;
            done(json_out, &v, "denied");
        }
        ElevationCmd::End { role } => {
            let v = api
                .call(
                    Method::DELETE,
                    &format!("/elevation/{}", client::seg(role)),
                    &[],
                    None,
                )
                .await?;
            done(json_out, &v, "elevation ended");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600").ok(), Some(3600));
        assert_eq!(parse_duration("90m").ok(), Some(5400));
        assert_eq!(parse_duration("12h").ok(), Some(43_200));
        assert_eq!(parse_duration("30d").ok(), Some(2_592_000));
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
