//! `audit`: the latest events, the hash-chain check, and exports that verify offline.

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use iam_axum::dto::{AuditEventList, AuditEventOut, AuditListQuery, AuditVerifyOut};
use iam_core::audit::{verify_export, ExportFault, ExportVerified, PinnedKey};
use reqwest::Method;
use serde_json::json;

use crate::client::{self, Api};
use crate::connect::connect;
use crate::output::{self, cell};
use crate::GlobalArgs;

#[derive(Subcommand)]
pub enum AuditCmd {
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
    /// Verify the audit hash chain on the server; or, given FILE, verify an export offline
    /// (exit status 1 when broken).
    Verify(VerifyArgs),
    /// Export the audit log with a signed checkpoint of its head, to verify offline (admin).
    Export {
        /// Write the export to this file (mode 0600) instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// The arguments of `audit verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// An export (`iamctl audit export --out FILE`) to verify offline, with no server.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// A signing key to trust: PASERK `k4.public.…` or its id `k4.pid.…`, as `iamctl keys
    /// list` or `GET /keys` shows them (repeatable). Without one, only the export's own
    /// consistency is checked.
    #[arg(long = "public-key", value_name = "KEY", requires = "file")]
    public_keys: Vec<String>,
}

/// Runs an `audit` command.
pub async fn run(g: &GlobalArgs, cmd: &AuditCmd) -> Result<()> {
    match cmd {
        AuditCmd::Tail {
            limit,
            account,
            kind,
        } => {
            let mut api = connect(g, false)?;
            let events = tail(&mut api, *limit, account.as_deref(), kind.as_deref()).await?;
            if g.json {
                output::json(&AuditEventList::from(events));
            } else {
                output::audit(&events);
            }
        }
        AuditCmd::Verify(VerifyArgs {
            file: Some(file),
            public_keys,
        }) => verify_file(g, file, public_keys)?,
        AuditCmd::Verify(VerifyArgs { file: None, .. }) => {
            let mut api = connect(g, false)?;
            let v: AuditVerifyOut = api.get("/audit/verify").await?;
            if g.json {
                output::json(&v);
            } else if v.intact {
                println!("audit chain intact ({} events)", cell(&v.events));
            }
            if !v.intact {
                bail!("audit chain BROKEN: {}", cell(&v.broken_at));
            }
        }
        AuditCmd::Export { out } => {
            let mut api = connect(g, false)?;
            let body = api
                .call_raw::<(), ()>(Method::GET, "/audit/export", None, None)
                .await?;
            match out {
                Some(path) => {
                    client::write_private(path, &body)?;
                    eprintln!(
                        "wrote {} ({} bytes); check it with `iamctl audit verify {} --public-key KEY`",
                        path.display(),
                        body.len(),
                        path.display()
                    );
                }
                None => std::io::stdout()
                    .lock()
                    .write_all(&body)
                    .context("writing the export to standard output")?,
            }
        }
    }
    Ok(())
}

/// `audit verify FILE`: checks an export offline against the trusted keys.
fn verify_file(g: &GlobalArgs, file: &Path, public_keys: &[String]) -> Result<()> {
    let trusted = public_keys
        .iter()
        .map(|k| {
            PinnedKey::parse(k).with_context(|| {
                format!("--public-key {k:?} is neither a PASERK k4.public key nor a k4.pid id")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let result = verify_export(&text, &trusted);
    if g.json {
        output::json(&verdict_json(&result));
    }
    match result {
        Ok(v) => {
            if !g.json {
                println!(
                    "audit export verified: {} events, signed through event {} by {} ({} checkpoints)",
                    v.events,
                    v.events,
                    v.signed_by(),
                    v.checkpoints.len()
                );
            }
            if !v.pinned {
                eprintln!(
                    "warning: no --public-key given: the export is consistent, but the key that \
signed it came from the file itself. Check that {} is the server's key (`iamctl keys list`, \
GET /keys), or pass it with --public-key.",
                    v.signed_by()
                );
            }
            Ok(())
        }
        Err(fault) => match fault.event() {
            Some(seq) => bail!("audit export does NOT verify (event {seq}): {fault}"),
            None => bail!("audit export does NOT verify: {fault}"),
        },
    }
}

/// The outcome of an offline check, as `--json` prints it.
fn verdict_json(result: &Result<ExportVerified, ExportFault>) -> serde_json::Value {
    match result {
        Ok(v) => json!({
            "verified": true,
            "events": v.events,
            "signed_by": v.signed_by(),
            "pinned": v.pinned,
            "checkpoints": v.checkpoints.iter().map(|c| json!({
                "seq": c.seq, "at": c.at.to_rfc3339(), "kid": c.kid,
            })).collect::<Vec<_>>(),
        }),
        Err(fault) => json!({
            "verified": false,
            "fault": fault.to_string(),
            "event": fault.event(),
        }),
    }
}

/// The last `limit` events (the API lists oldest first, so the log is paged through).
async fn tail(
    api: &mut Api,
    limit: usize,
    account: Option<&str>,
    kind: Option<&str>,
) -> Result<Vec<AuditEventOut>> {
    const PAGE: usize = 1000;
    let limit = limit.max(1);
    let mut kept: VecDeque<AuditEventOut> = VecDeque::new();
    let mut after: Option<u64> = None;
    loop {
        let query = AuditListQuery {
            account: account.map(str::to_owned),
            kind: kind.map(str::to_owned),
            after_seq: after,
            limit: Some(PAGE),
            ..AuditListQuery::default()
        };
        let page: AuditEventList = api.get_query("/audit", &query).await?;
        let n = page.events.len();
        let last = page.events.last().map(|e| e.seq);
        for e in page.events {
            kept.push_back(e);
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
