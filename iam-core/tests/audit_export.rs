//! Audit exports and signed checkpoints: an export verifies offline with the published key;
//! an edited, rewritten, cut or padded export is refused naming what broke; forged checkpoints
//! and foreign keys are refused; checkpoints made before a key rotation still verify; stored
//! checkpoints catch rewrites of the live chain.

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use iam_core::audit::{
    verify_export, AuditDraft, AuditEvent, ChainBreak, ChainHash, ExportFault, PinnedKey,
    CHECKPOINT_IMPLICIT_ASSERTION,
};
use iam_core::store::{Record, RecordKind, Store, Write};
use iam_core::token::paseto;
use iam_core::{
    AuditKind, AuditQuery, Caller, Denial, Error, Iam, ManualClock, MemoryStore, NewAccount,
    Principal,
};
use serde_json::{json, Value};

use common::PW;

type TestIam = Iam<MemoryStore, ManualClock>;

/// An Iam with an admin (logged in) and a few events.
async fn setup(adjust: impl FnOnce(&mut iam_core::Config)) -> (TestIam, ManualClock, Principal) {
    let (iam, clock) = common::iam_with(adjust).await;
    iam.create_account(
        NewAccount::human("root", PW).with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("create admin");
    for name in ["ada", "bea", "cy"] {
        iam.create_account(NewAccount::human(name, PW), Caller::System)
            .await
            .expect("create");
    }
    let admin = common::login(&iam, "root").await;
    (iam, clock, admin)
}

async fn export(iam: &TestIam, admin: &Principal) -> String {
    iam.export_audit(admin.into())
        .await
        .expect("export")
        .into_text()
        .await
        .expect("export text")
}

/// The published keys, as someone who fetched `/keys` would pin them.
fn published(iam: &TestIam) -> Vec<PinnedKey> {
    iam.public_keys()
        .iter()
        .map(|k| PinnedKey::parse(&k.paserk).expect("a published key parses"))
        .collect()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn text(lines: &[Value]) -> String {
    lines.iter().fold(String::new(), |mut s, l| {
        let _ = writeln!(s, "{l}");
        s
    })
}

fn event_index(lines: &[Value], seq: u64) -> usize {
    lines
        .iter()
        .position(|l| l["type"] == "event" && l["seq"] == seq)
        .expect("the event is in the export")
}

/// The chain break an operation failed with.
fn chain_break<T: std::fmt::Debug>(r: iam_core::Result<T>) -> ChainBreak {
    match r {
        Err(Error::AuditChain(b)) => b,
        other => panic!("expected a chain break, got {other:?}"),
    }
}

fn hex(h: &ChainHash) -> String {
    h.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &Value) -> ChainHash {
    let s = text.as_str().expect("hex");
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digit");
    }
    out
}

/// What a forger with a text editor and a hash function does: recomputes every event's hash
/// from `from` on, so the chain links again.
fn rehash_from(lines: &mut [Value], from: u64) {
    let mut prev: Option<ChainHash> = None;
    for l in lines.iter_mut().filter(|l| l["type"] == "event") {
        let seq = l["seq"].as_u64().expect("seq");
        if seq < from {
            prev = Some(unhex(&l["hash"]));
            continue;
        }
        let draft: AuditDraft = serde_json::from_value(json!({
            "at": l["at"], "kind": l["kind"], "actor": l["actor"], "account": l["account"],
            "session": l["session"], "detail": l["detail"],
        }))
        .expect("draft");
        let e = AuditEvent::chain(seq - 1, prev.unwrap_or([0; 32]), draft);
        l["prev_hash"] = json!(hex(&e.prev_hash));
        l["hash"] = json!(hex(&e.hash));
        prev = Some(e.hash);
    }
}

/// A key of the forger's own, with its PASERK forms.
fn forger_key() -> (ed25519_dalek::SigningKey, String, String) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    let paserk = format!(
        "k4.public.{}",
        URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes())
    );
    let kid = PinnedKey::parse(&paserk).expect("parses").kid().to_owned();
    (key, paserk, kid)
}

/// Re-signs checkpoint line `c` (with its current fields) with `key` named `kid`.
fn resign(c: &mut Value, key: &ed25519_dalek::SigningKey, kid: &str) {
    c["kid"] = json!(kid);
    let payload = json!({ "seq": c["seq"], "head": c["head"], "at": c["at"] }).to_string();
    let footer = format!("{{\"kid\":\"{kid}\"}}");
    c["token"] = json!(paseto::sign(
        key,
        payload.as_bytes(),
        footer.as_bytes(),
        CHECKPOINT_IMPLICIT_ASSERTION
    ));
}

#[tokio::test]
async fn an_export_verifies_offline_and_an_edited_event_is_named() {
    let (iam, _, admin) = setup(|_| {}).await;
    let exported = export(&iam, &admin).await;
    let all = lines(&exported);
    assert_eq!(all[0]["type"], "header");
    assert_eq!(all[0]["format"], "iam-audit-export");
    assert_eq!(all[0]["version"], 1);

    let ok = verify_export(&exported, &published(&iam)).expect("the export verifies");
    assert!(ok.pinned);
    assert_eq!(ok.signed_by(), iam.active_key_id());
    let events = iam
        .audit_events(Caller::System, &AuditQuery::default())
        .await
        .expect("events");
    // Everything up to the export's own `audit.exported` event, which follows it.
    assert_eq!(ok.events + 1, events.len() as u64);
    let last = events.last().expect("events");
    assert_eq!(last.draft.kind, AuditKind::AuditExported);
    assert_eq!(last.draft.actor.as_deref(), Some(admin.account_id.as_str()));
    assert_eq!(last.draft.detail["through"], ok.events.to_string());

    // Without pinned keys the export is consistent, and says that is all it is.
    let unpinned = verify_export(&exported, &[]).expect("consistent");
    assert!(!unpinned.pinned);

    // One edited event fails, naming it.
    for seq in [1, 3, ok.events] {
        let mut edited = all.clone();
        let i = event_index(&edited, seq);
        edited[i]["detail"]["username"] = json!("mallory");
        let fault = verify_export(&text(&edited), &published(&iam)).expect_err("edited");
        assert_eq!(fault, ExportFault::Chain(ChainBreak::Altered { seq }));
        assert_eq!(fault.event(), Some(seq));
        assert!(
            fault.to_string().contains(&format!("event {seq}")),
            "{fault}"
        );
    }
    // So does an edit of a field the hash covers other than the detail.
    let mut edited = all.clone();
    let i = event_index(&edited, 2);
    edited[i]["at"] = json!(edited[i]["at"].as_i64().expect("at") + 1);
    assert_eq!(
        verify_export(&text(&edited), &[]).expect_err("edited time"),
        ExportFault::Chain(ChainBreak::Altered { seq: 2 })
    );
    // A field the format does not have is refused, not ignored.
    let mut padded = all.clone();
    let i = event_index(&padded, 2);
    padded[i]["note"] = json!("harmless?");
    assert!(matches!(
        verify_export(&text(&padded), &[]),
        Err(ExportFault::Malformed { line, .. }) if line == i + 1
    ));
}

#[tokio::test]
async fn rewritten_cut_padded_and_reordered_exports_are_refused() {
    let (iam, clock, admin) = setup(|_| {}).await;
    // A periodic checkpoint, then more events, then the export's own checkpoint.
    let first = iam
        .sweep()
        .await
        .expect("sweep")
        .audit_checkpoint
        .expect("the first sweep signs the head");
    clock.advance(Duration::from_secs(10));
    iam.create_account(NewAccount::human("dee", PW), Caller::System)
        .await
        .expect("create");
    let all = lines(&export(&iam, &admin).await);
    let keys = published(&iam);
    assert_eq!(
        verify_export(&text(&all), &keys)
            .expect("verifies")
            .checkpoints
            .len(),
        2
    );

    // Edit event 2 and recompute every hash after it: the links hold, the first checkpoint
    // does not.
    let mut rewritten = all.clone();
    let i = event_index(&rewritten, 2);
    rewritten[i]["detail"]["username"] = json!("mallory");
    rehash_from(&mut rewritten, 2);
    let fault = verify_export(&text(&rewritten), &keys).expect_err("rewritten");
    assert_eq!(
        fault,
        ExportFault::Chain(ChainBreak::CheckpointMismatch { seq: first })
    );

    // The newest event cut off.
    let mut cut = all.clone();
    cut.pop();
    let last = verify_export(&text(&all), &keys).expect("verifies").events;
    assert_eq!(
        verify_export(&text(&cut), &keys).expect_err("cut"),
        ExportFault::Truncated {
            events: last - 1,
            signed: last
        }
    );

    // An event appended after the last checkpoint, linked properly, is signed by nothing.
    let mut appended = all.clone();
    let mut extra = appended.last().cloned().expect("an event");
    extra["seq"] = json!(last + 1);
    appended.push(extra);
    rehash_from(&mut appended, last + 1);
    assert_eq!(
        verify_export(&text(&appended), &keys).expect_err("appended"),
        ExportFault::Unsigned { signed: last }
    );

    // An event removed from the middle.
    let mut removed = all.clone();
    removed.remove(event_index(&removed, 3));
    assert_eq!(
        verify_export(&text(&removed), &keys).expect_err("removed"),
        ExportFault::Chain(ChainBreak::Gap {
            expected: 3,
            found: 4
        })
    );

    // No checkpoints at all.
    let unsigned: Vec<Value> = all
        .iter()
        .filter(|l| l["type"] != "checkpoint")
        .cloned()
        .collect();
    assert_eq!(
        verify_export(&text(&unsigned), &[]).expect_err("unsigned"),
        ExportFault::NoCheckpoint
    );

    // Sections out of order, a missing header, an empty file.
    let mut reordered = all.clone();
    let c = reordered
        .iter()
        .position(|l| l["type"] == "checkpoint")
        .expect("a checkpoint");
    let moved = reordered.remove(c);
    reordered.push(moved);
    assert!(matches!(
        verify_export(&text(&reordered), &keys),
        Err(ExportFault::Malformed { .. })
    ));
    assert!(matches!(
        verify_export(&text(&all[1..]), &keys),
        Err(ExportFault::Malformed { line: 1, .. })
    ));
    assert!(matches!(
        verify_export("", &keys),
        Err(ExportFault::Malformed { .. })
    ));
}

#[tokio::test]
async fn forged_checkpoints_and_foreign_keys_are_refused() {
    let (iam, _, admin) = setup(|_| {}).await;
    let all = lines(&export(&iam, &admin).await);
    let keys = published(&iam);
    let c = all
        .iter()
        .position(|l| l["type"] == "checkpoint")
        .expect("a checkpoint");
    let seq = all[c]["seq"].as_u64().expect("seq");
    let kid = all[c]["kid"].as_str().expect("kid").to_owned();

    // A flipped bit in the signature.
    let mut flipped = all.clone();
    let token = flipped[c]["token"].as_str().expect("token").to_owned();
    let (body, footer) = token
        .strip_prefix("v4.public.")
        .and_then(|t| t.split_once('.'))
        .expect("token parts");
    let mut raw = URL_SAFE_NO_PAD.decode(body).expect("body");
    let n = raw.len();
    raw[n - 1] ^= 1;
    flipped[c]["token"] = json!(format!(
        "v4.public.{}.{footer}",
        URL_SAFE_NO_PAD.encode(&raw)
    ));
    let bad = ExportFault::BadSignature {
        seq,
        kid: kid.clone(),
    };
    assert_eq!(verify_export(&text(&flipped), &keys), Err(bad.clone()));
    assert_eq!(verify_export(&text(&flipped), &[]), Err(bad.clone()));

    // The shown head changed to match a rewrite, the signature left as it was.
    let mut shown = all.clone();
    shown[c]["head"] = json!(hex(&[0xab; 32]));
    assert_eq!(verify_export(&text(&shown), &keys), Err(bad.clone()));

    // A forger rewrites an event, signs the new head with a key of their own and lists it:
    // consistent, but not signed by the server's key.
    let (forger, forger_paserk, forger_kid) = forger_key();
    let mut forged = all.clone();
    let i = event_index(&forged, 2);
    forged[i]["detail"]["username"] = json!("mallory");
    rehash_from(&mut forged, 2);
    let last = forged.last().cloned().expect("an event");
    forged[c]["head"] = last["hash"].clone();
    resign(&mut forged[c], &forger, &forger_kid);
    let k = forged
        .iter()
        .position(|l| l["type"] == "key")
        .expect("a key line");
    forged[k] = json!({ "type": "key", "kid": forger_kid, "public_key": forger_paserk });
    let unpinned = verify_export(&text(&forged), &[]).expect("self-consistent");
    assert!(!unpinned.pinned, "only pinning tells the forgery apart");
    assert_eq!(
        verify_export(&text(&forged), &keys),
        Err(ExportFault::UntrustedKey {
            kid: forger_kid.clone()
        })
    );

    // The forger's checkpoint under the server's key id does not verify with the server's key.
    let mut impostor = forged.clone();
    resign(&mut impostor[c], &forger, &kid);
    impostor.remove(k);
    assert_eq!(verify_export(&text(&impostor), &keys), Err(bad));
    // With no key for it at all, the checkpoint's key is unknown.
    assert_eq!(
        verify_export(&text(&impostor), &[]),
        Err(ExportFault::UnknownKey {
            seq,
            kid: kid.clone()
        })
    );

    // A key listed under another key's id.
    let mut mislabelled = all.clone();
    let k = mislabelled
        .iter()
        .position(|l| l["type"] == "key")
        .expect("a key line");
    mislabelled[k]["public_key"] = json!(forger_paserk);
    assert_eq!(
        verify_export(&text(&mislabelled), &[]),
        Err(ExportFault::KeyMismatch { kid })
    );
}

#[tokio::test]
async fn checkpoints_made_before_a_key_rotation_still_verify() {
    let (iam, clock, admin) = setup(|_| {}).await;
    let old_keys = published(&iam);
    let old_kid = iam.active_key_id();
    iam.sweep()
        .await
        .expect("sweep")
        .audit_checkpoint
        .expect("a checkpoint under the first key");
    let new_kid = iam
        .rotate_signing_key((&admin).into())
        .await
        .expect("rotate");
    // Long enough for the old key to leave the ring and /keys.
    clock.advance(iam.config().service_token_ttl + Duration::from_secs(60));
    iam.reload_keys().await.expect("reload");
    assert!(iam.public_keys().iter().all(|k| k.kid != old_kid));
    let admin = common::login(&iam, "root").await;
    iam.create_account(NewAccount::human("eve", PW), Caller::System)
        .await
        .expect("create");

    let exported = export(&iam, &admin).await;
    let all = lines(&exported);
    let listed: Vec<&str> = all
        .iter()
        .filter(|l| l["type"] == "key")
        .filter_map(|l| l["kid"].as_str())
        .collect();
    assert!(
        listed.contains(&old_kid.as_str()),
        "the retired key travels with the export"
    );
    let ok = verify_export(&exported, &published(&iam)).expect("verifies after rotation");
    let kids: Vec<&str> = ok.checkpoints.iter().map(|c| c.kid.as_str()).collect();
    assert_eq!(kids, [old_kid.as_str(), new_kid.as_str()]);

    // Pinning the key id alone is as good as pinning the key.
    let by_id = PinnedKey::parse(&new_kid).expect("a k4.pid parses");
    assert!(
        verify_export(&exported, &[by_id])
            .expect("verifies by id")
            .pinned
    );
    // Trusting only the old key does not vouch for what the new one signed.
    assert_eq!(
        verify_export(&exported, &old_keys),
        Err(ExportFault::UntrustedKey { kid: new_kid })
    );
    let both: Vec<PinnedKey> = old_keys.into_iter().chain(published(&iam)).collect();
    assert!(verify_export(&exported, &both).is_ok());
}

#[tokio::test]
async fn stored_checkpoints_catch_rewrites_of_the_live_chain() {
    let (iam, clock, admin) = setup(|_| {}).await;
    let signed = iam
        .sweep()
        .await
        .expect("sweep")
        .audit_checkpoint
        .expect("checkpoint");
    clock.advance(Duration::from_secs(7200));
    assert_eq!(
        iam.sweep().await.expect("sweep").audit_checkpoint,
        Some(signed + 1),
        "due again after the interval: signs the first sweep's event"
    );
    let n = iam
        .verify_audit_chain(Caller::System)
        .await
        .expect("intact");

    // The newest events cut off: the latest checkpoint names an event that is gone.
    let store = iam.store();
    let kept = store.audit(&AuditQuery::default()).await.expect("events");
    store.tamper_audit(|events| events.truncate(2));
    assert_eq!(
        chain_break(iam.verify_audit_chain(Caller::System).await),
        ChainBreak::CheckpointMismatch { seq: signed + 1 }
    );
    // Event 2 edited and the chain rehashed from it: links hold, the checkpoints do not.
    store.tamper_audit(|events| {
        *events = kept.clone();
        events[1]
            .draft
            .detail
            .insert("username".into(), "mallory".into());
        let mut prev = (events[0].seq, events[0].hash);
        for e in events.iter_mut().skip(1) {
            *e = AuditEvent::chain(prev.0, prev.1, e.draft.clone());
            prev = (e.seq, e.hash);
        }
    });
    assert_eq!(
        chain_break(iam.verify_audit_chain(Caller::System).await),
        ChainBreak::CheckpointMismatch { seq: signed }
    );
    // Such a chain is never signed; an export still runs, for inspection, and does not verify.
    iam.create_account(NewAccount::human("fay", PW), Caller::System)
        .await
        .expect("create");
    clock.advance(Duration::from_secs(7200));
    assert!(matches!(
        iam.sweep().await,
        Err(Error::AuditChain(ChainBreak::CheckpointMismatch { .. }))
    ));
    let inspect = iam.export_audit((&admin).into()).await.expect("export");
    assert_eq!(inspect.through(), None);
    let text = inspect.into_text().await.expect("text");
    assert!(matches!(
        verify_export(&text, &published(&iam)),
        Err(ExportFault::Chain(ChainBreak::CheckpointMismatch { .. }))
    ));

    // A stored checkpoint not signed by its key stops the next checkpoint.
    store.tamper_audit(|events| *events = kept.clone());
    assert_eq!(iam.verify_audit_chain(Caller::System).await.ok(), Some(n));
    let latest = store
        .get(RecordKind::AuditCheckpoint, "latest")
        .await
        .expect("get")
        .expect("the pointer");
    let mut body: Value = serde_json::from_str(&latest.body).expect("body");
    let (forger, _, _) = forger_key();
    let kid = body["kid"].as_str().expect("kid").to_owned();
    resign(&mut body, &forger, &kid);
    store
        .commit(iam_core::store::Commit {
            writes: vec![Write::Update {
                expected_version: latest.version,
                record: Record {
                    body: body.to_string(),
                    ..latest
                },
            }],
            ..Default::default()
        })
        .await
        .expect("replace the pointer");
    iam.create_account(NewAccount::human("gus", PW), Caller::System)
        .await
        .expect("create");
    clock.advance(Duration::from_secs(7200));
    assert_eq!(
        chain_break(iam.checkpoint_audit_if_due().await),
        ChainBreak::ForgedCheckpoint { seq: signed + 1 }
    );
}

#[tokio::test]
async fn checkpoints_follow_the_configured_interval() {
    let (iam, clock, admin) = setup(|c| c.audit_checkpoint_interval = None).await;
    clock.advance(Duration::from_secs(30 * 24 * 3600));
    assert_eq!(iam.sweep().await.expect("sweep").audit_checkpoint, None);
    assert_eq!(
        iam.checkpoint_audit_if_due().await.expect("checkpoint"),
        None
    );
    // Exports sign the head regardless.
    let exported = export(&iam, &admin).await;
    assert!(verify_export(&exported, &published(&iam)).is_ok());

    let (iam, clock, _) =
        setup(|c| c.audit_checkpoint_interval = Some(Duration::from_secs(60))).await;
    let first = iam.checkpoint_audit_if_due().await.expect("checkpoint");
    assert!(first.is_some());
    clock.advance(Duration::from_secs(120));
    // Due, but nothing happened since: nothing to sign.
    assert_eq!(
        iam.checkpoint_audit_if_due().await.expect("checkpoint"),
        None
    );
}

#[tokio::test]
async fn only_admins_export() {
    let (iam, _, _) = setup(|_| {}).await;
    let user = common::login(&iam, "ada").await;
    let err = iam
        .export_audit((&user).into())
        .await
        .expect_err("not an admin");
    assert_eq!(err.denial(), Some(&Denial::MissingRole("admin".into())));
    let exports = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                kind: Some(AuditKind::AuditExported),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("events");
    assert!(exports.is_empty(), "a refused export is not an export");
}
