//! From the global options to a connected [`Api`]: trust flags, the stored session, and
//! secrets read from standard input or the environment.

use std::io::BufRead as _;

use anyhow::{bail, Context, Result};

use crate::client::{self, Api, Session, Target, Trust};
use crate::terminal::{self, Ask};
use crate::{tls, GlobalArgs};

/// A secret from the first line of stdin (when `from_stdin`), else the environment variable
/// `env`, else (when standard input is a terminal) a prompt as `ask` says.
pub fn read_secret(from_stdin: bool, env: &str, what: &str, ask: Ask) -> Result<Option<String>> {
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
    if let Some(secret) = std::env::var(env).ok().filter(|s| !s.is_empty()) {
        return Ok(Some(secret));
    }
    if terminal::interactive() {
        return terminal::ask_secret(ask, what);
    }
    Ok(None)
}

/// The trust mode the flags ask for, if they ask for one.
fn flag_trust(g: &GlobalArgs) -> Result<Option<Trust>> {
    let given = usize::from(g.ca_file.is_some())
        + usize::from(g.pin_sha256.is_some())
        + usize::from(g.insecure_http);
    if given > 1 {
        bail!("give only one of --ca-file, --pin-sha256 and --insecure-http");
    }
    Ok(if let Some(pin) = &g.pin_sha256 {
        Some(Trust::Pin(tls::parse_fingerprint(pin)?))
    } else if let Some(ca) = &g.ca_file {
        Some(Trust::CaFile(ca.clone()))
    } else if g.insecure_http {
        Some(Trust::InsecureHttp)
    } else {
        None
    })
}

/// Loads the session and builds the client: flags win, the session fills in, defaults last.
/// A session is only used with the server it was created for.
pub fn connect(g: &GlobalArgs, for_login: bool) -> Result<Api> {
    let path = match &g.session_file {
        Some(p) => p.clone(),
        None => client::default_session_path()?,
    };
    if !for_login {
        if let Some(token) = std::env::var("IAM_TOKEN").ok().filter(|t| !t.is_empty()) {
            let server = g
                .server
                .clone()
                .unwrap_or_else(|| client::DEFAULT_SERVER.to_owned());
            let trust = flag_trust(g)?.unwrap_or(Trust::System);
            return Api::with_token(Target::new(&server, trust)?, token);
        }
    }
    let session: Option<Session> = if for_login {
        None
    } else {
        client::load_session(&path)?
    };
    let server = g
        .server
        .clone()
        .or_else(|| session.as_ref().map(|s| s.server.clone()))
        .unwrap_or_else(|| client::DEFAULT_SERVER.to_owned());
    let trust = match (flag_trust(g)?, &session) {
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
