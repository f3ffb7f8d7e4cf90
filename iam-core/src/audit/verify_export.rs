//! Offline verification of an audit export: no store, no clock, no network.
//!
//! [`verify_export`] (or [`ExportVerifier`], a line at a time) checks that every event links to
//! the one before and matches its hash, that every checkpoint is validly signed by the key it
//! names and matches the event it signs, and that the last checkpoint signs the last event, so
//! nothing was edited, removed, inserted or cut off. The export carries public keys, but
//! anyone who rewrites an export can carry their own: the keys to trust are given apart
//! ([`PinnedKey`], as published at `/keys`), and the last checkpoint must be signed by one.

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;

use super::export::{ExportLine, Header, KeyLine, EXPORT_FORMAT, EXPORT_VERSION};
use super::{AuditCheckpoint, AuditEvent, ChainBreak, ChainHash, ChainVerifier};
use crate::clock::Timestamp;
use crate::token::keys::{parse_paserk_public, paserk_id};

/// A key the verifier trusts, as the server publishes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinnedKey {
    /// A public key (PASERK `k4.public.…`, the `paserk` of `/keys`).
    Key {
        /// Its PASERK id.
        kid: String,
        /// The key.
        key: VerifyingKey,
    },
    /// A key id (PASERK `k4.pid.…`, the `kid` of `/keys`): since the id is a hash of the key,
    /// it trusts the export's key of that id exactly as the key itself would.
    Id(String),
}

impl PinnedKey {
    /// Parses a PASERK `k4.public.…` key or `k4.pid.…` id; `None` for anything else.
    pub fn parse(text: &str) -> Option<PinnedKey> {
        let text = text.trim();
        if let Some(id) = text.strip_prefix("k4.pid.") {
            let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
            return (bytes.len() == 33).then(|| PinnedKey::Id(text.to_owned()));
        }
        let key = parse_paserk_public(text)?;
        let kid = paserk_id(key.as_bytes()).ok()?;
        Some(PinnedKey::Key { kid, key })
    }

    /// The PASERK id of the key.
    pub fn kid(&self) -> &str {
        match self {
            PinnedKey::Key { kid, .. } | PinnedKey::Id(kid) => kid,
        }
    }
}

/// Why an export does not verify. [`ExportFault::event`] names the first bad event where one
/// can be named.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExportFault {
    /// A line is not what the format allows there.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The hash chain is broken, or an event differs from its signed checkpoint.
    #[error(transparent)]
    Chain(ChainBreak),
    /// A key line's public key does not have the id it is listed under.
    #[error("key {kid}: the public key listed under this id has another id")]
    KeyMismatch {
        /// The id listed.
        kid: String,
    },
    /// A checkpoint names a key that neither the export nor the trusted keys hold.
    #[error("the checkpoint of event {seq} names key {kid}, which neither the export nor the trusted keys hold")]
    UnknownKey {
        /// The event the checkpoint signs.
        seq: u64,
        /// The key it names.
        kid: String,
    },
    /// A checkpoint's signature does not verify, or does not sign the fields shown.
    #[error("the checkpoint of event {seq} is not validly signed by key {kid}")]
    BadSignature {
        /// The event the checkpoint signs.
        seq: u64,
        /// The key it names.
        kid: String,
    },
    /// The export ends before the event its last checkpoint signs: the newest events were cut off.
    #[error("the export ends at event {events}, but its last checkpoint signs event {signed}: events were cut off")]
    Truncated {
        /// The last event present (0 for none).
        events: u64,
        /// The event the last checkpoint signs.
        signed: u64,
    },
    /// Events follow the last checkpoint: nothing signs them.
    #[error("events after event {signed} are signed by no checkpoint")]
    Unsigned {
        /// The event the last checkpoint signs.
        signed: u64,
    },
    /// The export holds no checkpoint, so nothing in it is signed.
    #[error("the export holds no checkpoint: nothing in it is signed")]
    NoCheckpoint,
    /// The last checkpoint is signed by a key that is not among the trusted ones.
    #[error("the last checkpoint is signed by key {kid}, which is not among the trusted keys")]
    UntrustedKey {
        /// The key that signed it.
        kid: String,
    },
}

impl ExportFault {
    /// The first event found bad, where the fault names one.
    pub fn event(&self) -> Option<u64> {
        match self {
            ExportFault::Chain(
                ChainBreak::Altered { seq }
                | ChainBreak::BrokenLink { seq }
                | ChainBreak::CheckpointMismatch { seq }
                | ChainBreak::ForgedCheckpoint { seq },
            ) => Some(*seq),
            ExportFault::Chain(ChainBreak::Gap { expected, .. }) => Some(*expected),
            _ => None,
        }
    }
}

/// A checkpoint that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The event it signs.
    pub seq: u64,
    /// When it was signed.
    pub at: Timestamp,
    /// The key that signed it.
    pub kid: String,
}

/// What a verified export holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportVerified {
    /// The number of events (all signed by the last checkpoint).
    pub events: u64,
    /// Every checkpoint, oldest first; the last signs the last event.
    pub checkpoints: Vec<VerifiedCheckpoint>,
    /// Whether the last checkpoint's key is among the trusted keys. `false` only when none were
    /// given: the export is then consistent, but whoever rewrote it could have signed it.
    pub pinned: bool,
    /// The issuer the header names (not signed).
    pub issuer: String,
    /// When the header says it was exported (not signed).
    pub exported_at: Timestamp,
}

impl ExportVerified {
    /// The key that signed the last checkpoint.
    pub fn signed_by(&self) -> &str {
        self.checkpoints.last().map_or("", |c| c.kid.as_str())
    }
}

/// The sections of an export, in the order they must come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Start,
    Header,
    Keys,
    Checkpoints,
    Events,
}

/// Verifies an export a line at a time ([`ExportVerifier::push_line`], then
/// [`ExportVerifier::finish`]), keeping one chain link and the checkpoints' hashes in memory.
#[derive(Debug)]
pub struct ExportVerifier {
    trusted: Vec<PinnedKey>,
    line: usize,
    section: Section,
    header: Option<Header>,
    keys: HashMap<String, VerifyingKey>,
    signed: BTreeMap<u64, ChainHash>,
    checkpoints: Vec<VerifiedCheckpoint>,
    chain: ChainVerifier,
}

impl ExportVerifier {
    /// A verifier trusting `trusted` (none: every consistent export verifies, with
    /// [`ExportVerified::pinned`] false).
    pub fn new(trusted: Vec<PinnedKey>) -> Self {
        ExportVerifier {
            trusted,
            line: 0,
            section: Section::Start,
            header: None,
            keys: HashMap::new(),
            signed: BTreeMap::new(),
            checkpoints: Vec::new(),
            chain: ChainVerifier::default(),
        }
    }

    fn malformed(&self, reason: impl Into<String>) -> ExportFault {
        ExportFault::Malformed {
            line: self.line,
            reason: reason.into(),
        }
    }

    /// Moves to `section`, which must not come before the current one; only events repeat
    /// after the header.
    fn enter(&mut self, section: Section) -> Result<(), ExportFault> {
        let allowed = match section {
            Section::Header => self.section == Section::Start,
            _ => self.section >= Section::Header && self.section <= section,
        };
        if !allowed {
            return Err(self.malformed(match section {
                Section::Header => "a second header",
                _ if self.section == Section::Start => "the export must open with its header",
                _ => "out of order: the header, then keys, then checkpoints, then events",
            }));
        }
        self.section = section;
        Ok(())
    }

    /// Checks the next line (without its line ending).
    pub fn push_line(&mut self, text: &str) -> Result<(), ExportFault> {
        self.line += 1;
        let line: ExportLine =
            serde_json::from_str(text).map_err(|e| self.malformed(e.to_string()))?;
        match line {
            ExportLine::Header(h) => {
                self.enter(Section::Header)?;
                if h.format != EXPORT_FORMAT || h.version != EXPORT_VERSION {
                    return Err(self.malformed(format!(
                        "not an {EXPORT_FORMAT} of version {EXPORT_VERSION}"
                    )));
                }
                self.header = Some(h);
            }
            ExportLine::Key(k) => {
                self.enter(Section::Keys)?;
                self.key(k)?;
            }
            ExportLine::Checkpoint(c) => {
                self.enter(Section::Checkpoints)?;
                self.checkpoint(c)?;
            }
            ExportLine::Event(e) => {
                self.enter(Section::Events)?;
                let event = AuditEvent::from(e);
                self.chain.push(&event).map_err(ExportFault::Chain)?;
                if self
                    .signed
                    .get(&event.seq)
                    .is_some_and(|h| *h != event.hash)
                {
                    return Err(ExportFault::Chain(ChainBreak::CheckpointMismatch {
                        seq: event.seq,
                    }));
                }
            }
        }
        Ok(())
    }

    fn key(&mut self, k: KeyLine) -> Result<(), ExportFault> {
        let key = parse_paserk_public(&k.public_key)
            .ok_or_else(|| self.malformed("public_key is not a PASERK k4.public key"))?;
        if paserk_id(key.as_bytes()).ok().as_deref() != Some(k.kid.as_str()) {
            return Err(ExportFault::KeyMismatch { kid: k.kid });
        }
        if self.keys.insert(k.kid, key).is_some() {
            return Err(self.malformed("a key listed twice"));
        }
        Ok(())
    }

    fn checkpoint(&mut self, c: AuditCheckpoint) -> Result<(), ExportFault> {
        let last = self.checkpoints.last().map_or(0, |v| v.seq);
        if c.seq <= last {
            return Err(self.malformed("checkpoints must sign ascending events from 1"));
        }
        let pinned = self.trusted.iter().find_map(|t| match t {
            PinnedKey::Key { kid, key } if *kid == c.kid => Some(key),
            _ => None,
        });
        let Some(key) = pinned.or_else(|| self.keys.get(&c.kid)) else {
            return Err(ExportFault::UnknownKey {
                seq: c.seq,
                kid: c.kid,
            });
        };
        if !c.verify(key) {
            return Err(ExportFault::BadSignature {
                seq: c.seq,
                kid: c.kid,
            });
        }
        self.signed.insert(c.seq, c.head);
        self.checkpoints.push(VerifiedCheckpoint {
            seq: c.seq,
            at: c.at,
            kid: c.kid,
        });
        Ok(())
    }

    /// Ends the export: the last checkpoint must sign the last event, with a trusted key when
    /// any were given.
    pub fn finish(self) -> Result<ExportVerified, ExportFault> {
        let Some(header) = self.header else {
            return Err(ExportFault::Malformed {
                line: self.line,
                reason: "the export is empty".to_owned(),
            });
        };
        let Some(last) = self.checkpoints.last() else {
            return Err(ExportFault::NoCheckpoint);
        };
        let events = self.chain.count();
        if events < last.seq {
            return Err(ExportFault::Truncated {
                events,
                signed: last.seq,
            });
        }
        if events > last.seq {
            return Err(ExportFault::Unsigned { signed: last.seq });
        }
        let pinned = self.trusted.iter().any(|t| t.kid() == last.kid);
        if !self.trusted.is_empty() && !pinned {
            return Err(ExportFault::UntrustedKey {
                kid: last.kid.clone(),
            });
        }
        Ok(ExportVerified {
            events,
            checkpoints: self.checkpoints,
            pinned,
            issuer: header.issuer,
            exported_at: header.exported_at,
        })
    }
}

/// Verifies a whole export (JSON lines) against the `trusted` keys (see [`ExportVerifier`]).
pub fn verify_export(text: &str, trusted: &[PinnedKey]) -> Result<ExportVerified, ExportFault> {
    let mut v = ExportVerifier::new(trusted.to_vec());
    for line in text.lines() {
        v.push_line(line)?;
    }
    v.finish()
}
