//! The back-channel logout outbox as the `Iam` service runs it: loading the subscriptions
//! of ending sessions, handing out due deliveries with signed Logout Tokens, and recording
//! each attempt's result.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    decide_claim, decide_result, enqueue_logouts, logout_claims, LogoutDelivery, StoredDelivery,
    StoredSubscription, LOGOUT_TOKEN_TYP,
};
use crate::clock::{Clock, Timestamp};
use crate::error::Result;
use crate::iam::Iam;
use crate::oauth::client::StoredClient;
use crate::plan::Plan;
use crate::store::{Commit, ListQuery, RecordKind, Store, StoreError};

/// How an attempt to deliver a Logout Token ended, as the HTTP adapter saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// The relying party answered with a 2xx status.
    Delivered {
        /// The HTTP status.
        status: u16,
    },
    /// Any other status, or no answer (connection refused, timeout).
    Failed {
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
    },
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Adds to `plan` the back-channel logouts of the sessions `session_ids` that it ends (see
    /// [`super::enqueue_logouts`]): loads their subscriptions and the clients' current URIs.
    pub(crate) async fn with_logouts<T>(
        &self,
        plan: Plan<T>,
        session_ids: &[&str],
        now: Timestamp,
    ) -> Result<Plan<T>> {
        let mut subs = Vec::new();
        for session_id in session_ids {
            let q = ListQuery {
                parent: Some((*session_id).to_owned()),
                ..ListQuery::default()
            };
            for record in self
                .inner
                .store
                .list(RecordKind::LogoutSubscription, &q)
                .await?
            {
                let s: StoredSubscription = crate::record_body::from_body(&record.body)?;
                subs.push((record, s));
            }
        }
        if subs.is_empty() {
            return Ok(plan);
        }
        let mut uris = BTreeMap::new();
        for (_, s) in &subs {
            if uris.contains_key(&s.client_id) {
                continue;
            }
            let client = self
                .load::<StoredClient>(RecordKind::OAuthClient, &s.client_id)
                .await?;
            if let Some(uri) = client
                .filter(|(_, c)| !c.info.disabled)
                .and_then(|(_, c)| c.info.oidc.backchannel_logout_uri)
            {
                uris.insert(s.client_id.clone(), uri);
            }
        }
        let rng = &self.inner.rng;
        enqueue_logouts(
            plan,
            subs,
            &uris,
            &mut || rng.id("bcl_"),
            &self.inner.config.oauth.logout_retry_delays,
            now,
        )
    }

    /// Hands out up to `limit` back-channel logout deliveries due now, each with a freshly
    /// signed Logout Token, and reserves them for a minute (so several pollers sharing the
    /// store never send one twice at once). Report each attempt with
    /// [`Self::logout_delivery_result`]; one not reported is handed out again after the lease.
    pub async fn due_logout_deliveries(&self, limit: usize) -> Result<Vec<LogoutDelivery>> {
        let now = self.now();
        let records = self
            .inner
            .store
            .list(RecordKind::LogoutDelivery, &ListQuery::default())
            .await?;
        let mut out = Vec::new();
        for record in records {
            if out.len() >= limit {
                break;
            }
            let d: StoredDelivery = crate::record_body::from_body(&record.body)?;
            let Some((write, d)) = decide_claim(&record, d, now)? else {
                continue;
            };
            let claim = Commit {
                writes: vec![write],
                ..Commit::default()
            };
            match self.inner.store.commit(claim).await {
                Ok(()) => {}
                // Another poller took it (or it was settled) since the listing.
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
            out.push(self.signed_delivery(record.id, d, now).await?);
        }
        Ok(out)
    }

    /// The delivery `id` of `d` with its Logout Token signed at `now` with the client's
    /// `id_token_signed_response_alg`.
    async fn signed_delivery(
        &self,
        id: String,
        d: StoredDelivery,
        now: Timestamp,
    ) -> Result<LogoutDelivery> {
        let alg = self
            .load::<StoredClient>(RecordKind::OAuthClient, &d.client_id)
            .await?
            .map(|(_, c)| c.info.oidc.id_token_signed_response_alg)
            .unwrap_or_default();
        let config = &self.inner.config;
        let claims = logout_claims(&config.issuer, &id, &d, config.oauth.logout_token_ttl, now);
        let logout_token = self
            .sign_jwt(alg, LOGOUT_TOKEN_TYP, &Value::Object(claims))
            .await?;
        Ok(LogoutDelivery {
            id,
            client_id: d.client_id,
            uri: d.uri,
            logout_token,
            attempt: d.attempts,
        })
    }

    /// Records how an attempt at delivery `id` ended: delivered (the delivery is removed and
    /// audited), or failed (retried after the next configured delay, or given up and audited
    /// after the last). A delivery already settled is left alone.
    pub async fn logout_delivery_result(&self, id: &str, outcome: LogoutOutcome) -> Result<()> {
        let now = self.now();
        self.retrying(|| async {
            let Some((record, d)) = self
                .load::<StoredDelivery>(RecordKind::LogoutDelivery, id)
                .await?
            else {
                return Ok(());
            };
            let delays = &self.inner.config.oauth.logout_retry_delays;
            decide_result(&record, d, outcome, delays, now)?
                .apply(&self.inner.store)
                .await
        })
        .await
    }
}
