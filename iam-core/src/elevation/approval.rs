//! Elevation requests that wait for another account's approval: listing, approving, denying.

use crate::account::StoredAccount;
use crate::authz::Action;
use crate::clock::Clock;
use crate::error::{Conflict, Error, Result};
use crate::iam::Iam;
use crate::session::{ActiveElevation, Session};
use crate::store::{ListQuery, RecordKind, Store};
use crate::token::Principal;

use super::rules::{self, AnswerState};
use super::ElevationRequest;

impl<S: Store, C: Clock> Iam<S, C> {
    /// The pending elevation requests whose role `approver` may approve.
    pub async fn pending_elevations(&self, approver: &Principal) -> Result<Vec<ElevationRequest>> {
        let now = self.now();
        self.check(approver.into(), Action::ListElevationRequests, now)?;
        let records = self
            .inner
            .store
            .list(RecordKind::ElevationRequest, &ListQuery::default())
            .await?;
        let mut out = Vec::new();
        for r in records {
            let request: ElevationRequest = crate::record_body::from_body(&r.body)?;
            if rules::awaits_approver(&request, approver, &self.inner.config, now) {
                out.push(request);
            }
        }
        Ok(out)
    }

    /// Approves a pending request: the role opens for the requester's session, whose next
    /// refresh yields a token carrying it. The approver must hold the role's approver role and
    /// be another account.
    pub async fn approve_elevation(
        &self,
        approver: &Principal,
        request_id: &str,
    ) -> Result<ActiveElevation> {
        self.answer_elevation(approver, request_id, true)
            .await?
            .ok_or(Error::State(Conflict::ApprovalOpenedNoElevation))
    }

    /// Denies a pending request (same rights as approving).
    pub async fn deny_elevation(&self, approver: &Principal, request_id: &str) -> Result<()> {
        self.answer_elevation(approver, request_id, false)
            .await
            .map(|_| ())
    }

    /// Loads what an answer rests on (the requester's account and session only when
    /// approving), lets [`rules::answer_elevation`] decide, and commits; retried while it
    /// loses races.
    async fn answer_elevation(
        &self,
        approver: &Principal,
        request_id: &str,
        approve: bool,
    ) -> Result<Option<ActiveElevation>> {
        let now = self.now();
        self.retrying(|| async {
            let request = self
                .load::<ElevationRequest>(RecordKind::ElevationRequest, request_id)
                .await?;
            let approver_account = self
                .load::<StoredAccount>(RecordKind::Account, &approver.account_id)
                .await?;
            let (mut requester_account, mut requester_session) = (None, None);
            if let (Some((_, request)), true) = (&request, approve) {
                requester_session = self
                    .load::<Session>(RecordKind::Session, &request.session_id)
                    .await?;
                requester_account = self
                    .load::<StoredAccount>(RecordKind::Account, &request.account_id)
                    .await?;
            }
            let state = AnswerState {
                request: request.as_ref(),
                approver_account: approver_account.as_ref(),
                requester_account: requester_account.as_ref(),
                requester_session: requester_session.as_ref(),
            };
            let plan = rules::answer_elevation(approver, state, approve, &self.inner.config, now)?;
            self.inner.store.commit(plan.commit).await?;
            Ok(plan.output)
        })
        .await
    }
}
