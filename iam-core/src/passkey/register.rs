//! Registering passkeys, and listing, renaming and removing them.

use webauthn_rs::prelude::{RegisterPublicKeyCredential, Uuid, Webauthn};

use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Missing, Result};
use crate::iam::Iam;
use crate::store::{ListQuery, Record, RecordKind, Store, StoreError};
use crate::token::Principal;

use super::rules::{self, Registered};
use super::{
    parse_registration_credential, Ceremony, PasskeyChallenge, PasskeyInfo, Purpose, StoredPasskey,
};

impl<S: Store, C: Clock> Iam<S, C> {
    /// Starts registering a passkey labelled `label` for the principal's own account (a
    /// person's login session, signed in recently). The answer's options go to
    /// `navigator.credentials.create()`; its result to [`Self::finish_passkey_registration`].
    pub async fn start_passkey_registration(
        &self,
        principal: &Principal,
        label: &str,
    ) -> Result<PasskeyChallenge> {
        let now = self.now();
        let rp = self.relying_party()?;
        let account_id = principal.account_id.as_str();
        self.check(
            principal.into(),
            Action::RegisterPasskey {
                account: account_id,
            },
            now,
        )?;
        let label = rules::validate_label(label)?;
        let (_, account) = self.stored_account(account_id).await?;
        rules::may_hold_passkeys(&account)?;
        let exclude = self
            .passkeys_of(account_id)
            .await?
            .into_iter()
            .map(|(_, p)| p.passkey.cred_id().clone())
            .collect();
        let display = account.profile.name.as_deref().unwrap_or(&account.username);
        let (ccr, state) = rp
            .start_passkey_registration(
                rules::user_handle(account_id),
                &account.username,
                display,
                Some(exclude),
            )
            .map_err(|_| Error::Crypto("cannot make a passkey challenge"))?;
        let mut options = serde_json::to_value(&ccr)
            .map_err(|_| Error::Crypto("cannot encode a passkey challenge"))?;
        // Ask for a discoverable credential where the authenticator can make one, so the
        // passkey also signs in without a username; keys that cannot still register.
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "preferred".into());
        }
        let ceremony = Ceremony {
            id: self.inner.rng.id("pkc_"),
            created_at: now,
            expires_at: now.plus(self.passkey_ceremony_ttl()),
            purpose: Purpose::Registration {
                account_id: account_id.to_owned(),
                session_id: principal.session_id.clone(),
                label,
                state,
            },
        };
        rules::begin(&ceremony)?.apply(&self.inner.store).await?;
        Ok(PasskeyChallenge {
            ceremony: ceremony.id,
            options,
            expires_at: ceremony.expires_at,
        })
    }

    /// Finishes registering a passkey: `credential_json` is what `navigator.credentials.create()`
    /// produced for the challenge of `ceremony`. The ceremony is used up whatever the outcome;
    /// a refused answer stores nothing else.
    pub async fn finish_passkey_registration(
        &self,
        principal: &Principal,
        ceremony: &str,
        credential_json: &str,
    ) -> Result<PasskeyInfo> {
        let now = self.now();
        let rp = self.relying_party()?;
        let account_id = principal.account_id.as_str();
        self.check(
            principal.into(),
            Action::RegisterPasskey {
                account: account_id,
            },
            now,
        )?;
        let credential = parse_registration_credential(credential_json)?;
        let passkey_id = self.inner.rng.id("pk_");
        self.retrying(|| self.try_register(&rp, principal, ceremony, &credential, &passkey_id, now))
            .await
    }

    async fn try_register(
        &self,
        rp: &Webauthn,
        principal: &Principal,
        ceremony_id: &str,
        credential: &RegisterPublicKeyCredential,
        passkey_id: &str,
        now: Timestamp,
    ) -> Result<PasskeyInfo> {
        let found = self
            .load::<Ceremony>(RecordKind::PasskeyCeremony, ceremony_id)
            .await?;
        let (read, ceremony) = match rules::open_ceremony(found, now) {
            Ok(open) => open,
            Err(refusal) => return Err((*refusal).apply(&self.inner.store).await?),
        };
        let refusal = rules::Refusal {
            ceremony: Some(&read),
            purpose: ceremony.purpose.name(),
            account: Some(&principal.account_id),
            passkey: None,
            throttle_key: None,
        };
        let (label, state) = match &ceremony.purpose {
            Purpose::Registration {
                account_id,
                session_id,
                label,
                state,
            } if *account_id == principal.account_id && *session_id == principal.session_id => {
                (label, state)
            }
            _ => {
                let plan = refusal.plan(
                    "not_this_session",
                    crate::Denial::PasskeyCeremonyInvalid.into(),
                    now,
                );
                return Err(plan.apply(&self.inner.store).await?);
            }
        };
        let passkey = match rp.finish_passkey_registration(credential, state) {
            Ok(passkey) => passkey,
            Err(e) => {
                let (reason, denial) = rules::failure(&e);
                let plan = refusal.plan(reason, denial.into(), now);
                return Err(plan.apply(&self.inner.store).await?);
            }
        };
        let account = self.stored_account(&principal.account_id).await?;
        let registered = Registered {
            id: passkey_id.to_owned(),
            passkey,
            aaguid: registration_aaguid(credential),
        };
        let allowed = self
            .inner
            .config
            .passkeys
            .as_ref()
            .and_then(|p| p.allowed_aaguids.as_deref());
        let plan = match rules::register(&read, &account, label, registered, allowed, now) {
            Ok(plan) => plan,
            Err(refused) => return Err((*refused).apply(&self.inner.store).await?),
        };
        match plan.apply(&self.inner.store).await {
            Err(Error::Store(StoreError::Duplicate {
                kind: RecordKind::Passkey,
            })) => {
                let plan = rules::already_registered(&read, &principal.account_id, now);
                Err(plan.apply(&self.inner.store).await?)
            }
            other => other,
        }
    }

    /// The passkeys of `account_id`, oldest first (the account itself, or admins).
    pub async fn list_passkeys(
        &self,
        caller: Caller<'_>,
        account_id: &str,
    ) -> Result<Vec<PasskeyInfo>> {
        let now = self.now();
        self.check(
            caller,
            Action::ReadAccount {
                account: account_id,
            },
            now,
        )?;
        let mut list: Vec<PasskeyInfo> = self
            .passkeys_of(account_id)
            .await?
            .into_iter()
            .map(|(_, p)| p.info)
            .collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    /// Renames passkey `id` (its owner with a recent sign-in, or admins).
    pub async fn rename_passkey(
        &self,
        caller: Caller<'_>,
        id: &str,
        label: &str,
    ) -> Result<PasskeyInfo> {
        let now = self.now();
        let label = rules::validate_label(label)?;
        self.retrying(|| async {
            let (read, passkey) = self.managed_passkey(caller, id, now).await?;
            rules::rename(&read, passkey, label.clone(), caller.audit_id(), now)?
                .apply(&self.inner.store)
                .await
        })
        .await
    }

    /// Removes passkey `id` (its owner with a recent sign-in, or admins): it signs in no more.
    pub async fn remove_passkey(&self, caller: Caller<'_>, id: &str) -> Result<()> {
        let now = self.now();
        self.retrying(|| async {
            let (read, passkey) = self.managed_passkey(caller, id, now).await?;
            rules::remove(&read, &passkey, caller.audit_id(), now)
                .apply(&self.inner.store)
                .await
        })
        .await
    }

    /// Passkey `id`, once `caller` may manage it (unknown and not permitted look alike to
    /// someone who is neither its owner nor an admin).
    async fn managed_passkey(
        &self,
        caller: Caller<'_>,
        id: &str,
        now: Timestamp,
    ) -> Result<(Record, StoredPasskey)> {
        let found = self.load::<StoredPasskey>(RecordKind::Passkey, id).await?;
        let Some((read, passkey)) = found else {
            return Err(Error::NotFound(Missing::Passkey));
        };
        self.check(
            caller,
            Action::ManagePasskeys {
                account: &passkey.account_id,
            },
            now,
        )
        .map_err(|e| match e {
            Error::Denied(crate::Denial::NotPermitted) => Error::NotFound(Missing::Passkey),
            other => other,
        })?;
        Ok((read, passkey))
    }

    /// The passkeys of `account_id` with their records.
    pub(crate) async fn passkeys_of(
        &self,
        account_id: &str,
    ) -> Result<Vec<(Record, StoredPasskey)>> {
        let query = ListQuery {
            parent: Some(account_id.to_owned()),
            ..ListQuery::default()
        };
        self.inner
            .store
            .list(RecordKind::Passkey, &query)
            .await?
            .into_iter()
            .map(|r| {
                let p = crate::record_body::from_body(&r.body)?;
                Ok((r, p))
            })
            .collect()
    }

    /// The configured relying party, or [`Missing::PasskeySupport`] when passkeys are off.
    pub(crate) fn relying_party(&self) -> Result<Webauthn> {
        self.inner
            .passkeys
            .clone()
            .ok_or(Error::NotFound(Missing::PasskeySupport))
    }

    /// How long a ceremony stays open.
    pub(crate) fn passkey_ceremony_ttl(&self) -> std::time::Duration {
        self.inner
            .config
            .passkeys
            .as_ref()
            .map_or(super::DEFAULT_CEREMONY_TTL, |p| p.ceremony_ttl)
    }
}

/// The AAGUID the authenticator put in a registration's authenticator data (after
/// webauthn-rs accepted it), if present and not all zeros.
fn registration_aaguid(credential: &RegisterPublicKeyCredential) -> Option<Uuid> {
    use serde_cbor_2::Value;
    let object: Value =
        serde_cbor_2::from_slice(credential.response.attestation_object.as_slice()).ok()?;
    let Value::Map(map) = object else {
        return None;
    };
    let auth_data = map.iter().find_map(|(k, v)| match (k, v) {
        (Value::Text(k), Value::Bytes(b)) if k == "authData" => Some(b),
        _ => None,
    })?;
    // rpIdHash (32) | flags (1) | signCount (4) | AAGUID (16) | ...; AT flag 0x40.
    let flags = *auth_data.get(32)?;
    if flags & 0x40 == 0 {
        return None;
    }
    let raw: [u8; 16] = auth_data.get(37..53)?.try_into().ok()?;
    let aaguid = Uuid::from_bytes(raw);
    (!aaguid.is_nil()).then_some(aaguid)
}
