//! The upstream-login operations of [`Iam`]: load, decide (in `rules`), commit.

use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Missing, Result};
use crate::iam::Iam;
use crate::plan::Plan;
use crate::secret::SecretString;
use crate::session::LoginSuccess;
use crate::store::{ListQuery, Record, RecordKind, Store};
use crate::token::{is_opaque_token_shape, new_opaque_token, Principal};

use super::rules::{self, FreshAttempt, FreshSignIn, LinkDecision, SignInDecision, UpstreamFacts};
use super::{
    upstream_link_id, PendingUpstream, Provisioning, StoredAttempt, UpstreamClaims, UpstreamLink,
    UpstreamOutcome, UpstreamProvider, UpstreamPurpose, UpstreamRefusal, MAX_RESUME_LEN,
    UPSTREAM_ATTEMPT_TTL,
};

/// What the adapter needs to send the browser to the upstream: the values for the
/// authorization URL, and the browser-binding value for its cookie. All secret.
#[derive(Debug)]
pub struct UpstreamStart {
    /// The `state` parameter.
    pub state: SecretString,
    /// The `nonce` parameter.
    pub nonce: SecretString,
    /// The PKCE verifier (its S256 challenge goes in the URL).
    pub pkce_verifier: SecretString,
    /// The value of the browser-binding cookie (the one the browser sent, when well-formed).
    pub binding: SecretString,
}

/// A sign-in through an upstream provider.
#[derive(Debug)]
pub struct UpstreamSignIn {
    /// The session and its tokens.
    pub login: LoginSuccess,
    /// Whether the account was created by this sign-in.
    pub provisioned: bool,
    /// Whether the identity was linked by this sign-in.
    pub linked: bool,
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// The configured upstream provider `id`.
    pub fn upstream_provider(&self, id: &str) -> Option<&UpstreamProvider> {
        self.inner.config.upstream.iter().find(|p| p.id == id)
    }

    /// iam's client secret at the upstream provider `id`, opened with the master key.
    pub fn upstream_client_secret(&self, id: &str) -> Result<SecretString> {
        let provider = self
            .upstream_provider(id)
            .ok_or(Error::NotFound(Missing::UpstreamProvider))?;
        provider
            .client_secret
            .open(&self.inner.config.master_key, &provider.id)
    }

    /// Begins a sign-in through provider `provider_id`: records a single-use attempt (usable
    /// for [`UPSTREAM_ATTEMPT_TTL`]) bound to the browser's `binding` cookie value (a fresh one
    /// when it sent none), with the adapter's `resume` continuation (dropped when longer than
    /// [`MAX_RESUME_LEN`]).
    pub async fn begin_upstream_login(
        &self,
        provider_id: &str,
        resume: Option<String>,
        binding: Option<&str>,
    ) -> Result<UpstreamStart> {
        let resume = resume.filter(|r| r.len() <= MAX_RESUME_LEN);
        self.begin_attempt(provider_id, UpstreamPurpose::SignIn { resume }, binding)
            .await
    }

    /// Begins linking an identity at provider `provider_id` to the account signed in with
    /// `caller`'s session (which needs a recent sign-in: [`Action::LinkUpstream`]).
    pub async fn begin_upstream_link(
        &self,
        caller: &Principal,
        provider_id: &str,
        binding: Option<&str>,
    ) -> Result<UpstreamStart> {
        self.check(
            Caller::Principal(caller),
            Action::LinkUpstream {
                account: &caller.account_id,
            },
            self.now(),
        )?;
        let purpose = UpstreamPurpose::Link {
            account_id: caller.account_id.clone(),
            session_id: caller.session_id.clone(),
        };
        self.begin_attempt(provider_id, purpose, binding).await
    }

    async fn begin_attempt(
        &self,
        provider_id: &str,
        purpose: UpstreamPurpose,
        binding: Option<&str>,
    ) -> Result<UpstreamStart> {
        let provider = self
            .upstream_provider(provider_id)
            .ok_or(Error::NotFound(Missing::UpstreamProvider))?;
        let now = self.now();
        let rng = &self.inner.rng;
        let binding = match binding.filter(|b| is_opaque_token_shape(b)) {
            Some(b) => SecretString::new(b),
            None => new_opaque_token(rng),
        };
        let state = new_opaque_token(rng);
        let nonce = new_opaque_token(rng);
        let pkce_verifier = new_opaque_token(rng);
        let id = self.inner.token_hasher.hash(state.expose());
        let sealer = &self.inner.sealer;
        let fresh = FreshAttempt {
            binding_hash: self.inner.token_hasher.hash(binding.expose()),
            nonce: sealer.seal(rng, nonce.expose().as_bytes(), &id)?,
            verifier: sealer.seal(rng, pkce_verifier.expose().as_bytes(), &id)?,
            id,
        };
        rules::begin_attempt(&provider.id, fresh, purpose, UPSTREAM_ATTEMPT_TTL, now)?
            .apply(&self.inner.store)
            .await?;
        Ok(UpstreamStart {
            state,
            nonce,
            pkce_verifier,
            binding,
        })
    }

    /// Consumes, on the callback of provider `provider_id`, the attempt named by `state`, if
    /// the browser's `binding` cookie value is the one it began with. Refusals are audited.
    pub async fn take_upstream_attempt(
        &self,
        provider_id: &str,
        state: &str,
        binding: Option<&str>,
    ) -> Result<std::result::Result<PendingUpstream, UpstreamRefusal>> {
        let now = self.now();
        if self.upstream_provider(provider_id).is_none() {
            // The id comes from the URL: it is not written to the audit log as it came.
            let plan = rules::refusal("unknown", UpstreamRefusal::UnknownProvider, None, None, now);
            return plan.apply(&self.inner.store).await.map(Err);
        }
        let id = is_opaque_token_shape(state).then(|| self.inner.token_hasher.hash(state));
        let binding_hash = binding
            .filter(|b| is_opaque_token_shape(b))
            .map(|b| self.inner.token_hasher.hash(b));
        let taken = self
            .retrying(|| async {
                let found = match &id {
                    Some(id) => {
                        self.load::<StoredAttempt>(RecordKind::UpstreamAttempt, id)
                            .await?
                    }
                    None => None,
                };
                rules::take_attempt(found, provider_id, binding_hash.as_deref(), now)
                    .apply(&self.inner.store)
                    .await
            })
            .await?;
        let attempt = match taken {
            Ok(a) => a,
            Err(why) => return Ok(Err(why)),
        };
        let aad = id.unwrap_or_default();
        let open = |sealed: &str| -> Result<SecretString> {
            let plain = self.inner.sealer.open(sealed, &aad)?;
            let text = std::str::from_utf8(&plain)
                .map_err(|_| Error::Crypto("a sealed upstream value is not text"))?;
            Ok(SecretString::new(text))
        };
        Ok(Ok(PendingUpstream {
            provider: attempt.provider.clone(),
            nonce: open(&attempt.nonce)?,
            pkce_verifier: open(&attempt.verifier)?,
            purpose: attempt.purpose,
        }))
    }

    /// Records a refusal the adapter found (an upstream error answer, an ID token that did not
    /// validate, a mismatched `iss`) for provider `provider_id`: one `upstream.refused` event.
    pub async fn refuse_upstream_login(
        &self,
        provider_id: &str,
        why: &UpstreamRefusal,
    ) -> Result<()> {
        let provider = match self.upstream_provider(provider_id) {
            Some(p) => p.id.as_str(),
            None => "unknown",
        };
        rules::refusal(provider, why.clone(), None, None, self.now())
            .apply(&self.inner.store)
            .await
            .map(|_| ())
    }

    /// Concludes the upstream login `pending` with the claims of its validated ID token:
    /// signs in (linking or provisioning as the provider allows) or links the identity to the
    /// signed-in account (`browser`: the browser's session principal now), or refuses. Every
    /// outcome is audited; a refusal creates and links nothing.
    pub async fn complete_upstream_login(
        &self,
        pending: &PendingUpstream,
        claims: &UpstreamClaims,
        browser: Option<&Principal>,
    ) -> Result<UpstreamOutcome> {
        let provider = self
            .upstream_provider(&pending.provider)
            .ok_or(Error::NotFound(Missing::UpstreamProvider))?;
        let now = self.now();
        match &pending.purpose {
            UpstreamPurpose::SignIn { .. } => self.upstream_sign_in(provider, claims, now).await,
            UpstreamPurpose::Link {
                account_id,
                session_id,
            } => {
                let signed_in = browser.filter(|p| {
                    p.account_id == *account_id
                        && p.session_id == *session_id
                        && self
                            .check(
                                Caller::Principal(p),
                                Action::LinkUpstream {
                                    account: account_id,
                                },
                                now,
                            )
                            .is_ok()
                });
                if signed_in.is_none() {
                    let plan = rules::refusal(
                        &provider.id,
                        UpstreamRefusal::NotSignedIn,
                        Some(claims),
                        Some(account_id),
                        now,
                    );
                    return plan
                        .apply(&self.inner.store)
                        .await
                        .map(UpstreamOutcome::Refused);
                }
                self.upstream_link(provider, claims, account_id, now).await
            }
        }
    }

    async fn upstream_sign_in(
        &self,
        provider: &UpstreamProvider,
        claims: &UpstreamClaims,
        now: Timestamp,
    ) -> Result<UpstreamOutcome> {
        let link_id = upstream_link_id(&claims.issuer, &claims.subject);
        let account_id = self.inner.rng.id("acc_");
        self.retrying(|| async {
            let link = self
                .load::<UpstreamLink>(RecordKind::UpstreamIdentity, &link_id)
                .await?;
            let linked_account = match &link {
                Some((_, l)) => self.load(RecordKind::Account, &l.account_id).await?,
                None => None,
            };
            let mut same_email = Vec::new();
            if linked_account.is_none() {
                if let Some(email) = &claims.email {
                    same_email = self.accounts_with_email(email).await?;
                }
            }
            let username_holder = match (&claims.username, provider.provisioning) {
                (Some(name), Provisioning::CreateOnFirstLogin) if linked_account.is_none() => {
                    self.inner
                        .store
                        .find(RecordKind::Account, &name.to_ascii_lowercase())
                        .await?
                }
                _ => None,
            };
            let (refresh_token, refresh_hash) = self.new_refresh_token();
            let facts = UpstreamFacts {
                provider,
                claims,
                link,
                linked_account,
                same_email,
                username_holder,
            };
            let fresh = FreshSignIn {
                account_id: account_id.clone(),
                session_id: self.inner.rng.id("ses_"),
                refresh_hash,
            };
            let Plan { commit, output } =
                rules::decide_sign_in(facts, fresh, self.inner.config.session_ttl, now)?;
            let outcome = match output {
                SignInDecision::SignedIn {
                    account,
                    session,
                    provisioned,
                    linked,
                } => {
                    let tokens = self.token_pair(&account, &session, refresh_token, now)?;
                    UpstreamOutcome::SignedIn(Box::new(super::UpstreamSignIn {
                        login: LoginSuccess {
                            account: account.view(),
                            session,
                            tokens,
                        },
                        provisioned,
                        linked,
                    }))
                }
                SignInDecision::Refused(why) => UpstreamOutcome::Refused(why),
            };
            Plan { commit, output: () }.apply(&self.inner.store).await?;
            Ok(outcome)
        })
        .await
    }

    async fn upstream_link(
        &self,
        provider: &UpstreamProvider,
        claims: &UpstreamClaims,
        account_id: &str,
        now: Timestamp,
    ) -> Result<UpstreamOutcome> {
        let link_id = upstream_link_id(&claims.issuer, &claims.subject);
        self.retrying(|| async {
            let target = self
                .load(RecordKind::Account, account_id)
                .await?
                .ok_or(Error::NotFound(Missing::Account))?;
            let link = self
                .load::<UpstreamLink>(RecordKind::UpstreamIdentity, &link_id)
                .await?;
            let decision = rules::decide_link(provider, claims, link, &target, now)?
                .apply(&self.inner.store)
                .await?;
            Ok(match decision {
                LinkDecision::Linked(l) => UpstreamOutcome::Linked(l),
                LinkDecision::Refused(why) => UpstreamOutcome::Refused(why),
            })
        })
        .await
    }

    /// Accounts whose profile email is `email` (case-insensitively).
    async fn accounts_with_email(
        &self,
        email: &str,
    ) -> Result<Vec<(Record, crate::account::StoredAccount)>> {
        let mut out = Vec::new();
        for r in self
            .inner
            .store
            .list(RecordKind::Account, &ListQuery::default())
            .await?
        {
            let a: crate::account::StoredAccount = crate::record_body::from_body(&r.body)?;
            if a.profile
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
            {
                out.push((r, a));
            }
        }
        Ok(out)
    }

    /// The upstream identities linked to `account_id` (itself or an admin), oldest first.
    pub async fn upstream_links(
        &self,
        caller: Caller<'_>,
        account_id: &str,
    ) -> Result<Vec<UpstreamLink>> {
        self.check(
            caller,
            Action::ReadAccount {
                account: account_id,
            },
            self.now(),
        )?;
        let query = ListQuery {
            parent: Some(account_id.to_owned()),
            ..ListQuery::default()
        };
        let mut links: Vec<UpstreamLink> = self
            .inner
            .store
            .list(RecordKind::UpstreamIdentity, &query)
            .await?
            .iter()
            .map(|r| crate::record_body::from_body(&r.body))
            .collect::<Result<_>>()?;
        links.sort_by(|a, b| a.linked_at.cmp(&b.linked_at).then(a.id.cmp(&b.id)));
        Ok(links)
    }

    /// Unlinks the upstream identity `link_id` from `account_id` (itself with a session, or an
    /// admin: [`Action::UnlinkUpstream`]).
    pub async fn unlink_upstream(
        &self,
        caller: Caller<'_>,
        account_id: &str,
        link_id: &str,
    ) -> Result<()> {
        let now = self.now();
        self.check(
            caller,
            Action::UnlinkUpstream {
                account: account_id,
            },
            now,
        )?;
        self.retrying(|| async {
            let (read, link) = self
                .load::<UpstreamLink>(RecordKind::UpstreamIdentity, link_id)
                .await?
                .filter(|(_, l)| l.account_id == account_id)
                .ok_or(Error::NotFound(Missing::UpstreamLink))?;
            rules::unlink(&read, &link, caller.audit_id(), now)
                .apply(&self.inner.store)
                .await
        })
        .await
    }
}
