//! Client authentication (RFC 6749 §2.3) and the client registry: registration, secret
//! rotation with a grace period, disabling.

use std::time::Duration;

use super::{client_record, families_revoked, revoke_live_families, unchanged, Answer, NewSecret};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::error::{Conflict, Error, Result};
use crate::oauth::assertion::{
    judge_assertion, used_assertion_record, AssertionClaims, AssertionContext,
    TokenEndpointAuthMethod,
};
use crate::oauth::client::{validate_new_client, PreviousSecret, StoredClient};
use crate::oauth::grant::StoredFamily;
use crate::oauth::{
    ClientKind, GrantType, NewClient, OAuthClient, OAuthError, OAuthErrorCode, RegisteredClient,
};
use crate::plan::Plan;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::secret::SecretString;
use crate::store::{Commit, Record, Write};

/// What a client presented to prove itself. The keyed hash of a presented secret is compared
/// with the client's stored hashes (in constant time) in the load step, and the signature of
/// an assertion checked against the client's keys there; their results come here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ClientProof {
    /// No secret (a public client).
    NoSecret,
    /// A secret sent by `method`, and whether it matched the current one or the previous one
    /// within its grace period.
    Secret {
        /// `client_secret_basic` or `client_secret_post`.
        method: TokenEndpointAuthMethod,
        /// The comparison's result.
        matched: bool,
    },
    /// A client assertion (`private_key_jwt`).
    Assertion {
        /// Its claims, when its signature verified with one of the client's keys.
        claims: Option<AssertionClaims>,
        /// Whether its `jti` was used before (found in the store).
        replayed: bool,
    },
}

impl ClientProof {
    /// The method the proof came by.
    fn method(&self) -> TokenEndpointAuthMethod {
        match self {
            ClientProof::NoSecret => TokenEndpointAuthMethod::None,
            ClientProof::Secret { method, .. } => *method,
            ClientProof::Assertion { .. } => TokenEndpointAuthMethod::PrivateKeyJwt,
        }
    }
}

/// A client that authenticated, and for an assertion the record that spends its `jti`: the
/// operation inserts it in its commit, so a replay racing it conflicts.
#[derive(Clone, Debug)]
pub(crate) struct Authenticated {
    /// The client, as read.
    pub client: (Record, StoredClient),
    /// The used-assertion record to insert.
    pub spend: Option<Record>,
}

/// Authenticates a client (`client`, as read by its id) by the method it registered:
/// confidential clients by secret or by a client assertion (RFC 7523 §3, judged with
/// `audiences` at `now`), public clients by id alone. Anything wrong, including another
/// method than the registered one and a disabled client, is `invalid_client`.
pub(crate) fn authenticate_client(
    client: Option<(Record, StoredClient)>,
    proof: &ClientProof,
    audiences: &[String],
    now: Timestamp,
) -> Answer<Authenticated> {
    let (record, client) = client.ok_or(OAuthError::invalid_client())?;
    let info = &client.info;
    let mut spend = None;
    let verified = match proof {
        ClientProof::NoSecret => true,
        ClientProof::Secret { matched, .. } => *matched,
        ClientProof::Assertion {
            claims: Some(claims),
            replayed: false,
        } => {
            let ctx = AssertionContext {
                client_id: &info.id,
                audiences,
                now,
            };
            match (judge_assertion(claims, ctx), &claims.jti, claims.exp) {
                (true, Some(jti), Some(exp)) => {
                    let exp = Timestamp::from_secs(exp);
                    spend = Some(
                        used_assertion_record(&info.id, jti, exp, now)
                            .map_err(|_| OAuthError::invalid_client())?,
                    );
                    true
                }
                _ => false,
            }
        }
        ClientProof::Assertion { .. } => false,
    };
    if !verified || info.disabled || !info.oidc.accepts(info.kind, proof.method()) {
        return Err(OAuthError::invalid_client());
    }
    Ok(Authenticated {
        client: (record, client),
        spend,
    })
}

/// How long the note that a client changed stays listed ([`client_changed`]): long enough for
/// every instance's revocation feed to carry it; a feed that lost it reloads, which voids every
/// instance's remembered clients anyway.
pub(crate) const CLIENT_CHANGE_LISTED: Duration = Duration::from_secs(60);

/// The revocation change that tells every instance the registration of `client_id` changed at
/// `now`, so none keeps authenticating against what it remembered of it (see
/// [`RevokedSubject::Client`]). Every update of a client record carries one.
pub(crate) fn client_changed(client_id: &str, now: Timestamp) -> RevocationChange {
    RevocationChange::Put(Revocation {
        subject: RevokedSubject::Client,
        id: client_id.to_owned(),
        issued_before: now,
        until: now.plus(CLIENT_CHANGE_LISTED),
    })
}

/// `unauthorized_client` unless `client` was registered for `grant`.
pub(crate) fn allow_grant(client: &OAuthClient, grant: GrantType) -> Answer<()> {
    if client.allows(grant) {
        Ok(())
    } else {
        Err(OAuthError::code(OAuthErrorCode::UnauthorizedClient))
    }
}

/// Registration of `new` by `actor` (authorized by the caller) as client `client_id`; the
/// secret (drawn for every registration) is kept, as its hash, only for a confidential
/// client and returned once. A client registered by a non-admin is owner-scoped.
pub(crate) fn decide_register_client(
    actor: &str,
    new: NewClient,
    registered_by_admin: bool,
    client_id: String,
    secret: NewSecret,
    now: Timestamp,
) -> Result<Plan<RegisteredClient>> {
    validate_new_client(&new)?;
    let has_secret = new.kind == ClientKind::Confidential
        && new.oidc.auth_method(new.kind) != TokenEndpointAuthMethod::PrivateKeyJwt;
    let secret = has_secret.then_some(secret);
    let info = OAuthClient {
        id: client_id,
        name: new.name,
        kind: new.kind,
        redirect_uris: new.redirect_uris,
        grant_types: new.grant_types,
        scopes: new.scopes,
        resources: new.resources,
        require_pkce: new.require_pkce || new.kind == ClientKind::Public,
        owner: Some(actor.to_owned()),
        acts_for_owner: new.acts_for_owner,
        first_party: new.first_party,
        owner_scoped: !registered_by_admin,
        disabled: false,
        created_at: now,
        secret_rotated_at: None,
        oidc: new.oidc,
    };
    let (secret_hash, client_secret) = match secret {
        Some(s) => (Some(s.hash), Some(s.secret)),
        None => (None, None),
    };
    let stored = StoredClient {
        info,
        secret_hash,
        previous_secret: None,
    };
    let audit = AuditDraft::new(AuditKind::OAuthClientRegistered, now)
        .actor(Some(actor))
        .account(actor)
        .detail("client_id", stored.info.id.clone())
        .detail(
            "kind",
            match stored.info.kind {
                ClientKind::Confidential => "confidential",
                ClientKind::Public => "public",
            },
        );
    let record = client_record(&stored)?;
    Ok(Plan::new(RegisteredClient {
        client: stored.info,
        client_secret,
    })
    .write(Write::Insert(record))
    .audit(audit))
}

/// `actor` (authorized by the caller) gives the confidential client `client` (read as
/// `record`) the new secret `secret`, returned once; the old one keeps working for `grace`.
/// A public client, or one that authenticates with `private_key_jwt`, has no secret to rotate.
pub(crate) fn decide_rotate_client_secret(
    (record, mut client): (Record, StoredClient),
    actor: &str,
    secret: NewSecret,
    grace: Duration,
    now: Timestamp,
) -> Result<Plan<SecretString>> {
    if !client.info.oidc.auth_method(client.info.kind).uses_secret() {
        return Err(Error::State(Conflict::PublicClientHasNoSecret));
    }
    let old = client.secret_hash.replace(secret.hash);
    client.previous_secret = old.map(|hash| PreviousSecret {
        hash,
        valid_until: now.plus(grace),
    });
    client.info.secret_rotated_at = Some(now);
    let audit = AuditDraft::new(AuditKind::OAuthClientSecretRotated, now)
        .actor(Some(actor))
        .detail("client_id", client.info.id.clone())
        .detail("grace_secs", grace.as_secs().to_string());
    Ok(Plan::new(secret.secret)
        .write(Write::Update {
            record: client_record(&client)?,
            expected_version: record.version,
        })
        .revoke(client_changed(&client.info.id, now))
        .audit(audit))
}

/// How disabling a client voids its client-credentials tokens: every token the client holds
/// as subject issued before `cutoff` (the revocation cache's cut-off at `now`) dies, and the
/// revocation is kept as long as such a token can live (`access_ttl`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenCutoff {
    /// The cut-off for tokens issued up to now.
    pub cutoff: Timestamp,
    /// The longest an OAuth access token lives.
    pub access_ttl: Duration,
}

/// `actor` (authorized by the caller) disables `client` (read as `record`): it is marked
/// disabled (once), every live family of its (`families`) is revoked and so are its
/// client-credentials tokens. The output is how many families died.
pub(crate) fn decide_disable_client(
    (record, mut client): (Record, StoredClient),
    families: Vec<(Record, StoredFamily)>,
    actor: &str,
    tokens: TokenCutoff,
    now: Timestamp,
) -> Result<Plan<usize>> {
    let mut commit = Commit::default();
    let revoked = revoke_live_families(&mut commit, families, None, now)?;
    if client.info.disabled {
        // Nothing of the client's changes: the families revoked depend on it staying disabled.
        commit.writes.push(unchanged(&record));
    } else {
        client.info.disabled = true;
        commit.writes.push(Write::Update {
            record: client_record(&client)?,
            expected_version: record.version,
        });
        // Client-credentials tokens name the client as subject.
        commit.revocations.push(RevocationChange::Put(Revocation {
            subject: RevokedSubject::Account,
            id: client.info.id.clone(),
            issued_before: tokens.cutoff,
            until: now.plus(tokens.access_ttl).plus(Duration::from_secs(1)),
        }));
        commit
            .revocations
            .push(client_changed(&client.info.id, now));
    }
    let audit = AuditDraft::new(AuditKind::OAuthClientDisabled, now)
        .actor(Some(actor))
        .detail("client_id", client.info.id.clone());
    Ok(families_revoked(commit, audit, revoked))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{
        audit_kinds, client, families_read, family, record_of, secret, writes, written,
    };
    use super::*;
    use crate::error::InvalidInput;
    use crate::store::RecordKind;

    const NOW: Timestamp = Timestamp::from_secs(10_000);

    fn assertion_claims(exp: i64) -> AssertionClaims {
        AssertionClaims {
            iss: Some("cli_1".into()),
            sub: Some("cli_1".into()),
            aud: vec!["https://iam.example".into()],
            exp: Some(exp),
            nbf: None,
            iat: Some(10_000),
            jti: Some("j-1".into()),
        }
    }

    fn jwt_client() -> StoredClient {
        let mut c = client("cli_1");
        c.secret_hash = None;
        c.info.oidc.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::PrivateKeyJwt);
        c
    }

    #[test]
    fn assertions_authenticate_only_private_key_jwt_clients_and_spend_their_jti() {
        let aud = ["https://iam.example".to_owned()];
        let good = assertion_claims(10_060);
        let proof =
            |claims: Option<AssertionClaims>, replayed| ClientProof::Assertion { claims, replayed };
        let mut wrong_aud = good.clone();
        wrong_aud.aud = vec!["https://other.example".into()];
        let mut wrong_sub = good.clone();
        wrong_sub.sub = Some("cli_2".into());
        let mut no_jti = good.clone();
        no_jti.jti = None;
        let mut no_exp = good.clone();
        no_exp.exp = None;
        let mut future_iat = good.clone();
        future_iat.iat = Some(10_100);
        let secret = ClientProof::Secret {
            method: TokenEndpointAuthMethod::ClientSecretPost,
            matched: true,
        };
        // (client, proof, accepted)
        let cases = [
            (jwt_client(), proof(Some(good.clone()), false), true),
            (
                jwt_client(),
                proof(Some(assertion_claims(13_660)), false),
                true,
            ),
            (jwt_client(), proof(Some(good.clone()), true), false),
            (jwt_client(), proof(None, false), false),
            (jwt_client(), proof(Some(wrong_aud), false), false),
            (jwt_client(), proof(Some(wrong_sub), false), false),
            (jwt_client(), proof(Some(no_jti), false), false),
            (jwt_client(), proof(Some(no_exp), false), false),
            (
                jwt_client(),
                proof(Some(assertion_claims(10_000)), false),
                false,
            ),
            (
                jwt_client(),
                proof(Some(assertion_claims(13_661)), false),
                false,
            ),
            (jwt_client(), proof(Some(future_iat), false), false),
            (jwt_client(), secret.clone(), false),
            (jwt_client(), ClientProof::NoSecret, false),
            (client("cli_1"), proof(Some(good), false), false),
            (client("cli_1"), secret, true),
        ];
        for (i, (c, proof, ok)) in cases.into_iter().enumerate() {
            let result = authenticate_client(Some((record_of(&c, 1), c)), &proof, &aud, NOW);
            assert_eq!(result.is_ok(), ok, "case {i}");
            if let Ok(a) = result {
                let assertion = matches!(proof, ClientProof::Assertion { .. });
                assert_eq!(a.spend.is_some(), assertion, "case {i}");
                if let Some(r) = a.spend {
                    assert_eq!(r.kind, RecordKind::ClientAssertion);
                    let exp = match &proof {
                        ClientProof::Assertion {
                            claims: Some(c), ..
                        } => c.exp,
                        _ => None,
                    };
                    assert_eq!(
                        r.expires_at,
                        exp.map(Timestamp::from_secs),
                        "kept until exp"
                    );
                    assert_eq!(r.parent.as_deref(), Some("cli_1"));
                }
            }
        }
    }

    #[test]
    fn a_registered_secret_method_is_the_only_one_accepted() {
        let post = |matched| ClientProof::Secret {
            method: TokenEndpointAuthMethod::ClientSecretPost,
            matched,
        };
        let basic = ClientProof::Secret {
            method: TokenEndpointAuthMethod::ClientSecretBasic,
            matched: true,
        };
        let mut c = client("cli_1");
        c.info.oidc.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::ClientSecretBasic);
        let auth = |c: &StoredClient, p| {
            authenticate_client(Some((record_of(c, 1), c.clone())), &p, &[], NOW).is_ok()
        };
        assert!(auth(&c, basic.clone()));
        assert!(!auth(&c, post(true)));
        let unregistered = client("cli_1");
        assert!(
            auth(&unregistered, basic),
            "either secret method when none is registered"
        );
        assert!(auth(&unregistered, post(true)));
        assert!(!auth(&unregistered, post(false)));
    }

    #[test]
    fn clients_authenticate_by_secret_or_by_id_alone() {
        let mut public = client("cli_1");
        public.info.kind = ClientKind::Public;
        let mut disabled = client("cli_1");
        disabled.info.disabled = true;
        let basic = TokenEndpointAuthMethod::ClientSecretBasic;
        let yes = ClientProof::Secret {
            method: basic,
            matched: true,
        };
        let no = ClientProof::Secret {
            method: basic,
            matched: false,
        };
        let cases = [
            (Some(client("cli_1")), yes.clone(), true),
            (Some(client("cli_1")), no, false),
            (Some(client("cli_1")), ClientProof::NoSecret, false),
            (Some(public.clone()), ClientProof::NoSecret, true),
            (Some(public), yes.clone(), false),
            (Some(disabled), yes.clone(), false),
            (None, yes, false),
            (None, ClientProof::NoSecret, false),
        ];
        for (i, (c, proof, ok)) in cases.into_iter().enumerate() {
            let result = authenticate_client(c.map(|c| (record_of(&c, 1), c)), &proof, &[], NOW);
            match result {
                Ok(Authenticated {
                    client: (_, c),
                    spend,
                }) => {
                    assert!(spend.is_none());
                    assert!(ok, "case {i}");
                    assert_eq!(c.info.id, "cli_1");
                }
                Err(e) => {
                    assert!(!ok, "case {i}");
                    assert_eq!(e.code, OAuthErrorCode::InvalidClient);
                }
            }
        }
    }

    #[test]
    fn grants_are_limited_to_the_registered_ones() {
        let mut c = client("cli_1").info;
        c.grant_types = [GrantType::ClientCredentials].into_iter().collect();
        for grant in GrantType::ALL {
            let allowed = allow_grant(&c, grant).map_err(|e| e.code);
            let want = if grant == GrantType::ClientCredentials {
                Ok(())
            } else {
                Err(OAuthErrorCode::UnauthorizedClient)
            };
            assert_eq!(allowed, want, "{grant:?}");
        }
    }

    #[test]
    fn registration_stores_the_client_and_a_confidential_clients_secret_hash() {
        let now = Timestamp::from_secs(100);
        let confidential = NewClient::confidential("billing")
            .grants([GrantType::ClientCredentials])
            .scopes(["invoices:read"]);
        let public = NewClient::public("spa")
            .grants([GrantType::AuthorizationCode])
            .redirect_uri("https://spa.example/cb");
        let invalid = NewClient::public("cli").grants([GrantType::ClientCredentials]);
        // (new client, by admin, secret hash kept, owner-scoped)
        let cases = [
            (confidential.clone(), true, Some("hash-s"), false),
            (confidential, false, Some("hash-s"), true),
            (public, true, None, false),
        ];
        for (new, admin, hash, owner_scoped) in cases {
            let kind = new.kind;
            let plan =
                decide_register_client("acc_a", new, admin, "cli_9".into(), secret("s"), now)
                    .expect("plan");
            assert_eq!(
                writes(&plan),
                [("insert", RecordKind::OAuthClient, "cli_9".to_owned(), 0)]
            );
            let stored: StoredClient = written(&plan, RecordKind::OAuthClient, "cli_9");
            assert_eq!(stored.secret_hash.as_deref(), hash);
            assert_eq!(stored.info.owner.as_deref(), Some("acc_a"));
            assert_eq!(stored.info.owner_scoped, owner_scoped);
            assert_eq!(stored.info.created_at, now);
            assert!(
                stored.info.require_pkce,
                "PKCE stays on by default and always for public clients"
            );
            assert_eq!(plan.output.client, stored.info);
            assert_eq!(
                plan.output.client_secret.as_ref().map(SecretString::expose),
                (kind == ClientKind::Confidential).then_some("s")
            );
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthClientRegistered]);
            assert!(
                !plan.commit.audit[0].detail.values().any(|v| v == "s"),
                "no secret in audit"
            );
        }
        assert!(matches!(
            decide_register_client("acc_a", invalid, true, "cli_9".into(), secret("s"), now),
            Err(Error::Invalid(InvalidInput::OAuthClient(_)))
        ));
    }

    #[test]
    fn rotation_keeps_the_old_secret_for_the_grace_period() {
        let now = Timestamp::from_secs(1_000);
        let grace = Duration::from_secs(3_600);
        let mut public = client("cli_1");
        public.info.kind = ClientKind::Public;
        public.secret_hash = None;
        let mut never_had_one = client("cli_1");
        never_had_one.secret_hash = None;
        // (client, previous hash kept)
        let cases = [
            (client("cli_1"), Some("hash-current")),
            (never_had_one, None),
        ];
        for (c, previous) in cases {
            let plan = decide_rotate_client_secret(
                (record_of(&c, 3), c),
                "acc_a",
                secret("new"),
                grace,
                now,
            )
            .expect("plan");
            assert_eq!(plan.output.expose(), "new");
            assert_eq!(
                writes(&plan),
                [("update", RecordKind::OAuthClient, "cli_1".to_owned(), 3)]
            );
            let stored: StoredClient = written(&plan, RecordKind::OAuthClient, "cli_1");
            assert_eq!(stored.secret_hash.as_deref(), Some("hash-new"));
            assert_eq!(
                stored.previous_secret,
                previous.map(|h| PreviousSecret {
                    hash: h.into(),
                    valid_until: now.plus(grace)
                })
            );
            assert_eq!(stored.info.secret_rotated_at, Some(now));
            // Every instance forgets what it remembered of the client.
            assert_eq!(plan.commit.revocations, [client_changed("cli_1", now)]);
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthClientSecretRotated]);
        }
        assert!(matches!(
            decide_rotate_client_secret(
                (record_of(&public, 3), public),
                "acc_a",
                secret("new"),
                grace,
                now
            ),
            Err(Error::State(Conflict::PublicClientHasNoSecret))
        ));
    }

    #[test]
    fn disabling_revokes_families_and_client_tokens_once() {
        let now = Timestamp::from_secs(2_000);
        let tokens = TokenCutoff {
            cutoff: Timestamp::from_millis(2_000_001),
            access_ttl: Duration::from_secs(900),
        };
        let mut dead = family("ofm_dead", "cli_1", "acc_b");
        dead.revoked_at = Some(Timestamp::from_secs(10));
        let all = [
            family("ofm_1", "cli_1", "acc_a"),
            family("ofm_2", "cli_1", "acc_b"),
            dead,
        ];
        let mut already = client("cli_1");
        already.info.disabled = true;
        // (client, client write)
        let cases = [(client("cli_1"), "update"), (already, "check")];
        for (c, client_write) in cases {
            let was_enabled = !c.info.disabled;
            let plan = decide_disable_client(
                (record_of(&c, 3), c),
                families_read(&all, 1),
                "acc_admin",
                tokens,
                now,
            )
            .expect("plan");
            assert_eq!(plan.output, 2);
            let w = writes(&plan);
            assert_eq!(
                w.iter()
                    .map(|(op, _, id, _)| (*op, id.as_str()))
                    .collect::<Vec<_>>(),
                [
                    ("update", "ofm_1"),
                    ("update", "ofm_2"),
                    (client_write, "cli_1")
                ]
            );
            assert_eq!(w[2].3, 3);
            let client_revocations: Vec<_> = plan
                .commit
                .revocations
                .iter()
                .filter_map(|r| match r {
                    RevocationChange::Put(r) if r.subject == RevokedSubject::Account => Some(r),
                    _ => None,
                })
                .collect();
            if was_enabled {
                let stored: StoredClient = written(&plan, RecordKind::OAuthClient, "cli_1");
                assert!(stored.info.disabled);
                assert_eq!(client_revocations.len(), 1);
                assert_eq!(client_revocations[0].id, "cli_1");
                assert_eq!(client_revocations[0].issued_before, tokens.cutoff);
                assert_eq!(client_revocations[0].until, Timestamp::from_secs(2_901));
            } else {
                assert!(client_revocations.is_empty());
            }
            let changed = plan
                .commit
                .revocations
                .iter()
                .filter(|r| **r == client_changed("cli_1", now))
                .count();
            assert_eq!(changed, usize::from(was_enabled));
            assert_eq!(
                plan.commit.revocations.len(),
                2 + 2 * usize::from(was_enabled)
            );
            assert_eq!(audit_kinds(&plan), [AuditKind::OAuthClientDisabled]);
            assert_eq!(
                plan.commit.audit[0]
                    .detail
                    .get("families_revoked")
                    .map(String::as_str),
                Some("2")
            );
        }
    }
}
