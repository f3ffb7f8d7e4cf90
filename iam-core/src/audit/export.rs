//! Exporting the audit log as JSON lines that verify offline.
//!
//! The format (version 1), one JSON object per line, each with a `type`:
//!
//! 1. `header`: `format` (`"iam-audit-export"`), `version` (1), `issuer`, `exported_at`
//!    (milliseconds since the epoch);
//! 2. `key`: `kid` (PASERK id) and `public_key` (PASERK `k4.public.…`) of each key that signed a
//!    checkpoint below, retired ones included;
//! 3. `checkpoint`: the fields of [`AuditCheckpoint`], oldest first; the last one signs the last
//!    event of the export;
//! 4. `event`: `seq`, `prev_hash`, `hash` (hex), and the event as the chain hashes it: `at`
//!    (milliseconds), `kind`, `actor`, `account`, `session`, `detail`.
//!
//! [`verify_export`](super::verify_export) reads it back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::checkpoint::AUDIT_PAGE;
use super::{AuditCheckpoint, AuditDraft, AuditEvent, AuditKind, AuditQuery, ChainHash};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Result};
use crate::iam::Iam;
use crate::store::{Commit, Store};
use crate::token::keys::paserk_public;

/// The `format` of an export's header line.
pub const EXPORT_FORMAT: &str = "iam-audit-export";

/// The `version` of the export format this build writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ExportLine {
    /// The first line.
    Header(Header),
    /// A public key that signed a checkpoint.
    Key(KeyLine),
    /// A signed checkpoint.
    Checkpoint(AuditCheckpoint),
    /// An event of the chain.
    Event(EventLine),
}

/// What the export is.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// [`EXPORT_VERSION`].
    pub version: u32,
    /// The exporting server's issuer (informative; not signed).
    pub issuer: String,
    /// When it was exported (informative; not signed).
    pub exported_at: Timestamp,
}

/// A public key, named by its PASERK id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyLine {
    /// The PASERK id (`k4.pid.…`).
    pub kid: String,
    /// The key as PASERK `k4.public.…`.
    pub public_key: String,
}

/// An event with its links, in the form its hash covers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventLine {
    seq: u64,
    #[serde(with = "super::hex")]
    prev_hash: ChainHash,
    #[serde(with = "super::hex")]
    hash: ChainHash,
    at: Timestamp,
    kind: AuditKind,
    actor: Option<String>,
    account: Option<String>,
    session: Option<String>,
    detail: BTreeMap<String, String>,
}

impl From<&AuditEvent> for EventLine {
    fn from(e: &AuditEvent) -> Self {
        let d = &e.draft;
        EventLine {
            seq: e.seq,
            prev_hash: e.prev_hash,
            hash: e.hash,
            at: d.at,
            kind: d.kind,
            actor: d.actor.clone(),
            account: d.account.clone(),
            session: d.session.clone(),
            detail: d.detail.clone(),
        }
    }
}

impl From<EventLine> for AuditEvent {
    fn from(e: EventLine) -> Self {
        AuditEvent {
            seq: e.seq,
            prev_hash: e.prev_hash,
            hash: e.hash,
            draft: AuditDraft {
                at: e.at,
                kind: e.kind,
                actor: e.actor,
                account: e.account,
                session: e.session,
                detail: e.detail,
            },
        }
    }
}

/// Appends `line` as one JSON line.
fn push_line(out: &mut String, line: &ExportLine) -> Result<()> {
    out.push_str(&crate::record_body::to_body(line)?);
    out.push('\n');
    Ok(())
}

/// An export being written: its opening lines, then the events a page at a time
/// ([`AuditExport::next_chunk`]), so a long log never sits in memory whole.
#[derive(Debug)]
pub struct AuditExport<S: Store, C: Clock> {
    iam: Iam<S, C>,
    opening: Option<String>,
    after: u64,
    through: Option<u64>,
    done: bool,
}

impl<S: Store, C: Clock> AuditExport<S, C> {
    /// The last event the export holds: the one its latest checkpoint signs (`None` when the
    /// chain is broken and could not be signed: the export then runs to the end, unsigned
    /// past the last valid checkpoint, for inspection).
    pub fn through(&self) -> Option<u64> {
        self.through
    }

    /// The next piece of the export (whole lines, each ending in `\n`), or `None` after the
    /// last.
    pub async fn next_chunk(&mut self) -> Result<Option<String>> {
        if let Some(opening) = self.opening.take() {
            return Ok(Some(opening));
        }
        if self.done {
            return Ok(None);
        }
        let left = self
            .through
            .map_or(u64::MAX, |t| t.saturating_sub(self.after));
        let limit = usize::try_from(left).map_or(AUDIT_PAGE, |l| l.min(AUDIT_PAGE));
        if limit == 0 {
            self.done = true;
            return Ok(None);
        }
        let page = self
            .iam
            .inner
            .store
            .audit(&AuditQuery {
                after_seq: Some(self.after),
                limit: Some(limit),
                ..AuditQuery::default()
            })
            .await?;
        if page.len() < limit {
            self.done = true;
        }
        let mut out = String::new();
        for e in &page {
            push_line(&mut out, &ExportLine::Event(e.into()))?;
            self.after = e.seq;
        }
        if out.is_empty() {
            self.done = true;
            return Ok(None);
        }
        Ok(Some(out))
    }

    /// The whole export as one string (for small logs and tests; see [`Self::next_chunk`]).
    pub async fn into_text(mut self) -> Result<String> {
        let mut out = String::new();
        while let Some(chunk) = self.next_chunk().await? {
            out.push_str(&chunk);
        }
        Ok(out)
    }
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Starts an export of the audit log (admin): signs the chain's head first (if events
    /// came after the latest checkpoint), so the export ends with a checkpoint of its last
    /// event. Holds the checkpoints up to it and the public keys that signed them, retired
    /// ones included, so it verifies offline with
    /// [`verify_export`](crate::audit::verify_export). A chain that no longer extends its
    /// checkpoints is not signed: its export runs to the end for inspection and will not
    /// verify. The export itself is audited (`audit.exported`).
    pub async fn export_audit(&self, caller: Caller<'_>) -> Result<AuditExport<S, C>> {
        let now = self.now();
        self.check(caller, Action::ExportAudit, now)?;
        let through = match self.checkpoint_audit(None).await {
            Ok(_) => Some(self.latest_checkpoint().await?.map_or(0, |(_, c)| c.seq)),
            Err(Error::AuditChain(_)) => None,
            Err(e) => return Err(e),
        };
        let checkpoints: Vec<AuditCheckpoint> = self
            .stored_checkpoints()
            .await?
            .into_iter()
            .filter(|c| through.is_none_or(|t| c.seq <= t))
            .collect();
        let mut opening = String::new();
        push_line(
            &mut opening,
            &ExportLine::Header(Header {
                format: EXPORT_FORMAT.to_owned(),
                version: EXPORT_VERSION,
                issuer: self.inner.config.issuer.clone(),
                exported_at: now,
            }),
        )?;
        let mut kids: Vec<&str> = checkpoints.iter().map(|c| c.kid.as_str()).collect();
        kids.sort_unstable();
        kids.dedup();
        for kid in kids {
            if let Some(key) = self.stored_public_key(kid).await? {
                push_line(
                    &mut opening,
                    &ExportLine::Key(KeyLine {
                        kid: kid.to_owned(),
                        public_key: paserk_public(&key),
                    }),
                )?;
            }
        }
        for c in checkpoints {
            push_line(&mut opening, &ExportLine::Checkpoint(c))?;
        }
        let exported = AuditDraft::new(AuditKind::AuditExported, now)
            .actor(caller.audit_id())
            .detail(
                "through",
                through.map_or_else(|| "end".to_owned(), |t| t.to_string()),
            );
        self.inner
            .store
            .commit(Commit {
                audit: vec![exported],
                ..Commit::default()
            })
            .await?;
        Ok(AuditExport {
            iam: self.clone(),
            opening: Some(opening),
            after: 0,
            through,
            done: false,
        })
    }
}
