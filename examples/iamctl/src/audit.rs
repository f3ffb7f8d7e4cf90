//! `audit`: the latest events and the hash-chain check.

use std::collections::VecDeque;

use anyhow::{bail, Result};
use clap::Subcommand;
use iam_axum::dto::{AuditEventList, AuditEventOut, AuditListQuery, AuditVerifyOut};

use crate::client::Api;
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
    /// Verify the audit hash chain (exit status 1 when broken).
    Verify,
}

/// Runs an `audit` command.
pub async fn run(g: &GlobalArgs, cmd: &AuditCmd) -> Result<()> {
    let mut api = connect(g, false)?;
    match cmd {
        AuditCmd::Tail {
            limit,
            account,
            kind,
        } => {
            let events = tail(&mut api, *limit, account.as_deref(), kind.as_deref()).await?;
            if g.json {
                output::json(&AuditEventList::from(events));
            } else {
                output::audit(&events);
            }
        }
        AuditCmd::Verify => {
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
    }
    Ok(())
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
