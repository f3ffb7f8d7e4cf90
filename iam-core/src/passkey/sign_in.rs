//! Signing in with a passkey (passwordless, or after a password), and a passkey as the fresh
//! proof of a step-up.

use webauthn_rs::prelude::{PublicKeyCredential, RequestChallengeResponse, Webauthn};

use crate::account::StoredAccount;
use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Error, Missing, Result};
use crate::iam::Iam;
use crate::plan::Plan;
use crate::session::rules::{open_session, SessionOpening};
use crate::session::{LoginRequest, LoginSuccess};
use crate::store::{Record, RecordKind, Store, ThrottleWrite};
use crate::token::rules::unchanged;
use crate::token::Principal;

use super::rules::{self, Refusal};
use super::{
    parse_authentication_credential, Ceremony, PasskeyAssertion, PasskeyChallenge, Purpose,
    StoredPasskey,
};

/// What a passkey proved in a sign-in or step-up ceremony: the passkey as written back and the
/// plan that records its use (the ceremony used up, the counter stored).
struct Proved {
    /// The ceremony's purpose as read.
    purpose: Purpose,
    /// The passkey's owner as read.
    account: (Record, StoredAccount),
    /// The plan so far; its output is the passkey as written back.
    plan: Plan<StoredPasskey>,
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Starts a passkey sign-in. Without `password_first` it is passwordless: any discoverable
    /// passkey of any account may answer (user verification required). With it, the password
    /// (and the login back-off) is checked first, exactly as [`Self::login`] does, and only
    /// that account's passkeys may answer; TOTP is not asked for, the passkey being the second
    /// factor. An account without passkeys answers [`Missing::Passkey`] (only to someone who
    /// knew its password). Finish with [`Self::finish_passkey_login`].
    pub async fn start_passkey_login(
        &self,
        password_first: Option<&LoginRequest>,
    ) -> Result<PasskeyChallenge> {
        let now = self.now();
        let rp = self.relying_party()?;
        let Some(req) = password_first else {
            let (rcr, state) = discoverable_challenge(&rp)?;
            let purpose = Purpose::Login { state };
            return self
                .begin_authentication(rcr, purpose, &[], None, now)
                .await;
        };
        let key = self.reserve_login(&req.username, now).await?;
        let outcome = self
            .retrying(|| async {
                let accepted = self.judge_password(req, key.as_deref(), true, now).await?;
                let account_id = accepted.account.id.clone();
                let passkeys = self.passkeys_of(&account_id).await?;
                if passkeys.is_empty() {
                    return Err(Error::NotFound(Missing::Passkey));
                }
                let (rcr, state) = discoverable_challenge(&rp)?;
                let purpose = Purpose::SecondFactor {
                    account_id,
                    throttle_key: key.clone(),
                    state,
                };
                // The password was right: the attempt is no failed guess. The passkey's answer
                // settles the back-off (cleared, or counted when it fails).
                let refund = key
                    .as_ref()
                    .map(|k| ThrottleWrite::Refund { key: k.clone() });
                self.begin_authentication(rcr, purpose, &passkeys, refund, now)
                    .await
            })
            .await;
        self.settle_login(key.as_deref(), outcome).await
    }

    /// Finishes a passkey sign-in: `credential_json` is what `navigator.credentials.get()`
    /// produced for the challenge of `ceremony`. Opens a session like [`Self::login`], with
    /// `amr` `hwk` or `swk` (a key that may be synced) and `user`, or after a password `pwd`,
    /// the key and `mfa`. The ceremony is used up whatever the outcome; a refusal stores
    /// nothing else (after a password, it counts towards the login back-off).
    pub async fn finish_passkey_login(
        &self,
        ceremony: &str,
        credential_json: &str,
    ) -> Result<LoginSuccess> {
        let now = self.now();
        let rp = self.relying_party()?;
        let credential = parse_authentication_credential(credential_json)?;
        self.retrying(|| self.try_passkey_login(&rp, ceremony, &credential, now))
            .await
    }

    async fn try_passkey_login(
        &self,
        rp: &Webauthn,
        ceremony: &str,
        credential: &PublicKeyCredential,
        now: Timestamp,
    ) -> Result<LoginSuccess> {
        let proved = self
            .prove_with_passkey(rp, ceremony, credential, None, now)
            .await?;
        let Proved {
            purpose,
            account: (account_read, account),
            plan,
        } = proved;
        let (amr, throttle_key) = match &purpose {
            Purpose::SecondFactor { throttle_key, .. } => {
                (rules::second_factor_amr(&plan.output), throttle_key.clone())
            }
            _ => (rules::passwordless_amr(&plan.output), None),
        };
        let (refresh_token, refresh_hash) = self.new_refresh_token();
        let opening = SessionOpening {
            account: &account,
            session_id: self.inner.rng.id("ses_"),
            refresh_hash,
            amr,
            throttle_key: throttle_key.as_deref(),
        };
        let plan = plan.write(unchanged(&account_read));
        let (plan, session) = open_session(plan, opening, self.inner.config.session_ttl, now)?;
        let tokens = self.token_pair(&account, &session, refresh_token, now)?;
        self.inner.store.commit(plan.commit).await?;
        Ok(LoginSuccess {
            account: account.view(),
            session,
            tokens,
        })
    }

    /// Starts a passkey step-up for the principal's session: one of its account's passkeys
    /// answers, and the answer goes in [`StepUpProof::passkey`](crate::StepUpProof::passkey)
    /// of [`Self::reauthenticate`] or [`Self::elevate`]. A passkey satisfies every step-up
    /// policy: it is a possession factor verified by the authenticator's PIN or biometrics.
    pub async fn start_passkey_step_up(&self, principal: &Principal) -> Result<PasskeyChallenge> {
        let now = self.now();
        let rp = self.relying_party()?;
        self.check(principal.into(), crate::authz::Action::Elevate, now)?;
        let passkeys = self.passkeys_of(&principal.account_id).await?;
        if passkeys.is_empty() {
            return Err(Error::NotFound(Missing::Passkey));
        }
        let (rcr, state) = discoverable_challenge(&rp)?;
        let purpose = Purpose::StepUp {
            account_id: principal.account_id.clone(),
            session_id: principal.session_id.clone(),
            state,
        };
        self.begin_authentication(rcr, purpose, &passkeys, None, now)
            .await
    }

    /// Checks a passkey step-up answer for the principal's session and commits its use (the
    /// ceremony used up, the counter stored); returns the `amr` it proves.
    pub(crate) async fn check_passkey_step_up(
        &self,
        principal: &Principal,
        assertion: &PasskeyAssertion,
        now: Timestamp,
    ) -> Result<Vec<String>> {
        let rp = self.relying_party()?;
        let credential = parse_authentication_credential(&assertion.credential)?;
        self.retrying(|| async {
            let proved = self
                .prove_with_passkey(&rp, &assertion.ceremony, &credential, Some(principal), now)
                .await?;
            let amr = rules::passwordless_amr(&proved.plan.output);
            proved
                .plan
                .write(unchanged(&proved.account.0))
                .apply(&self.inner.store)
                .await?;
            Ok(amr)
        })
        .await
    }

    /// Verifies `credential` against ceremony `ceremony_id`: a sign-in ceremony when
    /// `step_up` is `None`, else a step-up of that principal's session. A refusal is committed
    /// (the ceremony used up, the failure audited) and returned as the error.
    async fn prove_with_passkey(
        &self,
        rp: &Webauthn,
        ceremony_id: &str,
        credential: &PublicKeyCredential,
        step_up: Option<&Principal>,
        now: Timestamp,
    ) -> Result<Proved> {
        let found = self
            .load::<Ceremony>(RecordKind::PasskeyCeremony, ceremony_id)
            .await?;
        let (read, ceremony) = match rules::open_ceremony(found, now) {
            Ok(open) => open,
            Err(refusal) => return Err((*refusal).apply(&self.inner.store).await?),
        };
        let credential_id = rules::credential_id(credential.raw_id.as_slice());
        let passkey = self
            .inner
            .store
            .find(RecordKind::Passkey, &credential_id)
            .await?
            .map(|r| crate::record_body::from_body::<StoredPasskey>(&r.body).map(|p| (r, p)))
            .transpose()?;
        let mut refusal = Refusal {
            ceremony: Some(&read),
            purpose: ceremony.purpose.name(),
            account: ceremony.purpose.account(),
            passkey: passkey.as_ref().map(|(_, p)| p.info.id.as_str()),
            throttle_key: None,
        };
        let (state, bound_to) = match (&ceremony.purpose, step_up) {
            (Purpose::Login { state }, None) => (state, None),
            (
                Purpose::SecondFactor {
                    account_id,
                    throttle_key,
                    state,
                },
                None,
            ) => {
                refusal.throttle_key = throttle_key.as_deref();
                (state, Some(account_id.as_str()))
            }
            (
                Purpose::StepUp {
                    account_id,
                    session_id,
                    state,
                },
                Some(p),
            ) if *account_id == p.account_id && *session_id == p.session_id => {
                (state, Some(account_id.as_str()))
            }
            _ => {
                let plan =
                    refusal.plan("wrong_ceremony", Denial::PasskeyCeremonyInvalid.into(), now);
                return Err(plan.apply(&self.inner.store).await?);
            }
        };
        let refuse = |reason: &str, error: Error| refusal.plan(reason, error, now);
        let Some((passkey_read, passkey)) = passkey.as_ref() else {
            let plan = refuse("unknown_credential", Denial::PasskeyRejected.into());
            return Err(plan.apply(&self.inner.store).await?);
        };
        if bound_to.is_some_and(|a| a != passkey.account_id) {
            let plan = refuse("other_account", Denial::PasskeyRejected.into());
            return Err(plan.apply(&self.inner.store).await?);
        }
        // A passwordless answer names its user (the spec requires it when no user was known
        // before); any answer that names one must name the passkey's owner.
        let handle = credential.response.user_handle.as_ref();
        let handle_ok = match handle {
            Some(h) => h.as_slice() == rules::user_handle(&passkey.account_id).as_bytes(),
            None => bound_to.is_some(),
        };
        if !handle_ok {
            let plan = refuse("user_handle", Denial::PasskeyRejected.into());
            return Err(plan.apply(&self.inner.store).await?);
        }
        let account = self
            .load::<StoredAccount>(RecordKind::Account, &passkey.account_id)
            .await?;
        let Some(account) = account else {
            let plan = refuse("account", Denial::PasskeyRejected.into());
            return Err(plan.apply(&self.inner.store).await?);
        };
        if account.1.disabled {
            let plan = refuse("account_disabled", Denial::AccountDisabled.into());
            return Err(plan.apply(&self.inner.store).await?);
        }
        let result = match rp.finish_discoverable_authentication_v2(
            credential,
            state.clone(),
            &passkey.passkey,
        ) {
            Ok(result) => result,
            Err(e) => {
                let (reason, denial) = rules::failure(&e);
                let plan = refuse(reason, denial.into());
                return Err(plan.apply(&self.inner.store).await?);
            }
        };
        let plan = rules::record_use(
            &read,
            ceremony.purpose.name(),
            (passkey_read, passkey),
            &result,
            now,
        )?;
        Ok(Proved {
            purpose: ceremony.purpose,
            account,
            plan,
        })
    }

    /// Stores a new authentication ceremony for `purpose` and answers its challenge; `allowed`
    /// (when not empty) restricts the answer to those passkeys. `settle` is a throttle change
    /// to commit with it.
    async fn begin_authentication(
        &self,
        rcr: RequestChallengeResponse,
        purpose: Purpose,
        allowed: &[(Record, StoredPasskey)],
        settle: Option<ThrottleWrite>,
        now: Timestamp,
    ) -> Result<PasskeyChallenge> {
        let mut options = serde_json::to_value(&rcr)
            .map_err(|_| Error::Crypto("cannot encode a passkey challenge"))?;
        if let Some(object) = options.as_object_mut() {
            // A modal request: the page asks when the person chooses to sign in.
            object.remove("mediation");
        }
        if !allowed.is_empty() {
            let list: Vec<serde_json::Value> = allowed
                .iter()
                .map(|(_, p)| serde_json::json!({"type": "public-key", "id": p.info.credential_id}))
                .collect();
            if let Some(public_key) = options
                .get_mut("publicKey")
                .and_then(serde_json::Value::as_object_mut)
            {
                public_key.insert("allowCredentials".into(), list.into());
            }
        }
        let ceremony = Ceremony {
            id: self.inner.rng.id("pkc_"),
            created_at: now,
            expires_at: now.plus(self.passkey_ceremony_ttl()),
            purpose,
        };
        let mut plan = rules::begin(&ceremony)?;
        if let Some(settle) = settle {
            plan = plan.throttle(settle);
        }
        plan.apply(&self.inner.store).await?;
        Ok(PasskeyChallenge {
            ceremony: ceremony.id,
            options,
            expires_at: ceremony.expires_at,
        })
    }
}

/// A fresh challenge any discoverable passkey may answer (user verification required).
fn discoverable_challenge(
    rp: &Webauthn,
) -> Result<(
    RequestChallengeResponse,
    webauthn_rs::prelude::DiscoverableAuthentication,
)> {
    rp.start_discoverable_authentication()
        .map_err(|_| Error::Crypto("cannot make a passkey challenge"))
}
