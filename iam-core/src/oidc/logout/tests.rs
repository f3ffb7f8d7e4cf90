use super::*;
use crate::audit::AuditKind;
use crate::fixtures::{audit_kinds, record, NOW};

const SEC: Duration = Duration::from_secs(1);

fn delays() -> Vec<Duration> {
    [1, 5, 30, 120, 600].map(Duration::from_secs).to_vec()
}

fn sub(session: &str, client: &str, family: &str) -> (Record, StoredSubscription) {
    let s = StoredSubscription {
        session_id: session.into(),
        account_id: "acc_a".into(),
        client_id: client.into(),
    };
    let r = record(
        RecordKind::LogoutSubscription,
        &format!("{session}/{family}"),
        3,
        &s,
    );
    (r, s)
}

fn delivery(attempts: u32, next: Timestamp) -> (Record, StoredDelivery) {
    let d = StoredDelivery {
        client_id: "cl_1".into(),
        uri: "https://rp.example/bcl".into(),
        account_id: "acc_a".into(),
        session_id: "ses_1".into(),
        created_at: NOW,
        attempts,
        next_attempt_at: next,
    };
    (record(RecordKind::LogoutDelivery, "bcl_1", 2, &d), d)
}

#[test]
fn retry_delays_follow_the_schedule_then_give_up() {
    let d = delays();
    let got: Vec<Option<u64>> = (0..=6)
        .map(|n| retry_delay(&d, n).map(|x| x.as_secs()))
        .collect();
    assert_eq!(
        got,
        [None, Some(1), Some(5), Some(30), Some(120), Some(600), None]
    );
    assert_eq!(retry_delay(&[], 1), None);
}

#[test]
fn enqueue_consumes_every_subscription_and_queues_one_delivery_per_session_and_client() {
    let subs = vec![
        sub("ses_1", "cl_1", "ofm_a"),
        sub("ses_1", "cl_1", "ofm_b"), // a second family of the same client
        sub("ses_1", "cl_2", "ofm_c"), // a client whose URI is gone
        sub("ses_2", "cl_1", "ofm_d"),
    ];
    let uris = BTreeMap::from([("cl_1".to_owned(), "https://rp.example/bcl".to_owned())]);
    let mut n = 0;
    let mut ids = || {
        n += 1;
        format!("bcl_{n}")
    };
    let plan = enqueue_logouts(Plan::new(()), subs, &uris, &mut ids, &delays(), NOW).expect("plan");
    let mut deletes = 0;
    let mut queued = Vec::new();
    for w in &plan.commit.writes {
        match w {
            Write::Delete {
                kind: RecordKind::LogoutSubscription,
                expected_version: 3,
                ..
            } => deletes += 1,
            Write::Insert(r) => {
                assert_eq!(r.kind, RecordKind::LogoutDelivery);
                assert_eq!(r.parent.as_deref(), Some("cl_1"));
                assert!(r.expires_at.expect("expiry") > NOW.plus(delays().iter().sum()));
                let d: StoredDelivery = crate::record_body::from_body(&r.body).expect("body");
                assert_eq!((d.attempts, d.next_attempt_at), (0, NOW));
                queued.push((r.id.clone(), d.session_id, d.uri));
            }
            other => panic!("unexpected write {other:?}"),
        }
    }
    assert_eq!(deletes, 4);
    assert_eq!(
        queued,
        [
            (
                "bcl_1".into(),
                "ses_1".into(),
                "https://rp.example/bcl".into()
            ),
            (
                "bcl_2".into(),
                "ses_2".into(),
                "https://rp.example/bcl".into()
            ),
        ]
    );
}

#[test]
fn a_delivery_is_claimed_only_when_due_and_leased() {
    let (r, d) = delivery(0, NOW.plus(SEC));
    assert!(decide_claim(&r, d, NOW).expect("claim").is_none());
    let (r, d) = delivery(1, NOW);
    let (write, d) = decide_claim(&r, d, NOW).expect("claim").expect("due");
    assert_eq!(
        (d.attempts, d.next_attempt_at),
        (2, NOW.plus(DELIVERY_LEASE))
    );
    assert!(matches!(
        write,
        Write::Update {
            expected_version: 2,
            ..
        }
    ));
}

#[test]
fn results_delete_and_audit_or_reschedule() {
    // Delivered: removed, audited with client and status.
    let (r, d) = delivery(1, NOW);
    let plan = decide_result(
        &r,
        d,
        LogoutOutcome::Delivered { status: 200 },
        &delays(),
        NOW,
    )
    .expect("plan");
    assert!(matches!(plan.commit.writes[..], [Write::Delete { .. }]));
    assert_eq!(audit_kinds(&plan), [AuditKind::OidcLogoutDelivered]);
    let a = &plan.commit.audit[0];
    assert_eq!(a.detail["client_id"], "cl_1");
    assert_eq!(a.detail["status"], "200");

    // Failed with retries left: the next attempt after the schedule's delay.
    for (attempts, wait) in [(1, 1), (3, 30), (5, 600)] {
        let (r, d) = delivery(attempts, NOW);
        let failed = LogoutOutcome::Failed { status: Some(500) };
        let plan = decide_result(&r, d, failed, &delays(), NOW).expect("plan");
        assert!(plan.commit.audit.is_empty());
        let [Write::Update { record, .. }] = &plan.commit.writes[..] else {
            panic!("expected an update");
        };
        let d: StoredDelivery = crate::record_body::from_body(&record.body).expect("body");
        assert_eq!(d.next_attempt_at, NOW.plus(Duration::from_secs(wait)));
    }

    // Failed after the last retry: given up, audited.
    let (r, d) = delivery(6, NOW);
    let plan = decide_result(
        &r,
        d,
        LogoutOutcome::Failed { status: None },
        &delays(),
        NOW,
    )
    .expect("plan");
    assert!(matches!(plan.commit.writes[..], [Write::Delete { .. }]));
    assert_eq!(audit_kinds(&plan), [AuditKind::OidcLogoutAbandoned]);
    assert_eq!(plan.commit.audit[0].detail["status"], "none");
    assert_eq!(plan.commit.audit[0].detail["attempts"], "6");
}

#[test]
fn logout_claims_follow_section_2_4() {
    let (_, d) = delivery(1, NOW);
    let c = logout_claims(
        "https://iam.example",
        "bcl_1",
        &d,
        Duration::from_secs(120),
        NOW,
    );
    assert_eq!(c["iss"], "https://iam.example");
    assert_eq!(c["aud"], "cl_1");
    assert_eq!(c["jti"], "bcl_1");
    assert_eq!(c["sub"], "acc_a");
    assert_eq!(c["sid"], "ses_1");
    assert_eq!(c["exp"].as_i64(), Some(NOW.as_secs() + 120));
    assert_eq!(c["events"][LOGOUT_EVENT], serde_json::json!({}));
    assert!(!c.contains_key("nonce"));
}

#[test]
fn a_delivery_never_shows_its_token_in_debug() {
    let d = LogoutDelivery {
        id: "bcl_1".into(),
        client_id: "cl_1".into(),
        uri: "https://rp.example/bcl".into(),
        logout_token: "eyJsecret.token.sig".into(),
        attempt: 1,
    };
    assert!(!format!("{d:?}").contains("eyJsecret"));
}
