//! OpenID Connect Back-Channel Logout delivery: a background task that POSTs the Logout
//! Tokens iam-core queues when login sessions end (see `iam_core::oidc` and
//! [`Iam::due_logout_deliveries`]).
//!
//! Each poll takes the due deliveries and sends each one on its own task, so a relying party
//! that is slow or down delays nothing else; no request path waits on delivery. Each attempt's
//! result goes back to iam-core, which retries with back-off
//! (`OAuthConfig::logout_retry_delays`) or gives up, and audits either end. Logout Tokens
//! are never logged.

use std::time::Duration;

use iam_core::oidc::{LogoutDelivery, LogoutOutcome};
use iam_core::{Clock, Iam, Store};
use tokio::task::JoinHandle;

/// The delivery task's settings (defaults: poll every second, 5 s per attempt, 100 per poll).
#[derive(Clone, Debug)]
pub struct LogoutDeliveries {
    /// How often the outbox is polled.
    pub poll_every: Duration,
    /// How long one POST may take before it counts as failed.
    pub timeout: Duration,
    /// Most deliveries taken per poll.
    pub batch: usize,
}

impl Default for LogoutDeliveries {
    fn default() -> Self {
        LogoutDeliveries {
            poll_every: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            batch: 100,
        }
    }
}

/// An HTTP client fit for back-channel logout: no redirects followed, rustls.
///
/// # Errors
/// When the TLS backend cannot be set up.
pub fn logout_http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

impl LogoutDeliveries {
    /// Starts the delivery task on the current Tokio runtime, sending with `http` (see
    /// [`logout_http_client`]). Abort the handle to stop it.
    pub fn spawn<S: Store, C: Clock>(
        self,
        iam: Iam<S, C>,
        http: reqwest::Client,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.poll_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let due = match iam.due_logout_deliveries(self.batch).await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::error!(error = %e, "reading the back-channel logout outbox failed");
                        continue;
                    }
                };
                for delivery in due {
                    tokio::spawn(deliver(iam.clone(), http.clone(), self.timeout, delivery));
                }
            }
        })
    }
}

/// Starts [`LogoutDeliveries::default`] for `iam` with `http`.
pub fn spawn_deliveries<S: Store, C: Clock>(
    iam: Iam<S, C>,
    http: reqwest::Client,
) -> JoinHandle<()> {
    LogoutDeliveries::default().spawn(iam, http)
}

/// POSTs one Logout Token (§2.5) and reports the outcome.
async fn deliver<S: Store, C: Clock>(
    iam: Iam<S, C>,
    http: reqwest::Client,
    timeout: Duration,
    d: LogoutDelivery,
) {
    let sent = http
        .post(&d.uri)
        .timeout(timeout)
        .form(&[("logout_token", d.logout_token.as_str())])
        .send()
        .await;
    let outcome = match sent {
        Ok(r) if r.status().is_success() => LogoutOutcome::Delivered {
            status: r.status().as_u16(),
        },
        Ok(r) => LogoutOutcome::Failed {
            status: Some(r.status().as_u16()),
        },
        Err(_) => LogoutOutcome::Failed { status: None },
    };
    tracing::debug!(client_id = %d.client_id, attempt = d.attempt, ?outcome, "back-channel logout attempt");
    if let Err(e) = iam.logout_delivery_result(&d.id, outcome).await {
        tracing::error!(error = %e, client_id = %d.client_id, "recording a back-channel logout attempt failed");
    }
}
