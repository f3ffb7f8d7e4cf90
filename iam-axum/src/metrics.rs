//! Prometheus metrics of the REST API, kept in a small dependency-free registry.
//!
//! [`IamRouter`](crate::IamRouter) records, for every request it answers:
//!
//! - `iam_http_requests_total{method, route, status}` and the latency histogram
//!   `iam_http_request_duration_seconds{method, route, status}`, where `route` is the matched
//!   route template (`/iam/accounts/{id}`, never the raw path; `unmatched` for unknown paths)
//!   and `status` the status class (`2xx`, `4xx`, ...);
//! - `iam_logins_total{result}`: `POST /login` answers, `result` being `success` or `failure`;
//! - `iam_denials_total{reason}`: error answers by their stable JSON `error` code
//!   (`invalid_credentials`, `missing_role`, `not_found`, ...).
//!
//! Labels never carry secrets, ids, usernames or raw paths. The registry is rendered in the
//! Prometheus text format by [`Metrics::render`], which the router serves at `/metrics`
//! (see [`IamRouter::metrics`](crate::IamRouter::metrics)) to clients in the allowed networks
//! (by default loopback only; see
//! [`IamRouter::metrics_networks`](crate::IamRouter::metrics_networks)) and to bearer tokens
//! granting the scope [`METRICS_SCOPE`]; everyone else gets 403. The client address is the
//! one the rate limits use (`X-Forwarded-For` is believed only from trusted proxies).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use std::net::{Ipv4Addr, Ipv6Addr};

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Most distinct denial reasons kept; later unknown ones are counted as `other`.
const MAX_REASONS: usize = 64;

/// Largest error body read to find its code.
const MAX_ERROR_BODY: usize = 4096;

/// The label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

/// One request series: a counter plus a fixed-bucket histogram.
#[derive(Default)]
struct Series {
    /// Requests per bucket (not cumulative); the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Series {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// `(method, route template, status class)`.
type RequestKey = (String, String, &'static str);

#[derive(Default)]
struct Inner {
    requests: RwLock<BTreeMap<RequestKey, Arc<Series>>>,
    login_success: AtomicU64,
    login_failure: AtomicU64,
    denials: RwLock<BTreeMap<String, AtomicU64>>,
}

/// A registry of the iam HTTP metrics; cheap to clone (clones share the counters).
///
/// Give one to [`IamRouter::metrics_registry`](crate::IamRouter::metrics_registry) to render
/// it yourself, for example on a private listener, instead of serving `/metrics` on the API.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one answered request.
    fn record_request(&self, method: &Method, route: &str, status: StatusCode, took: Duration) {
        let key = (method.as_str().to_owned(), route.to_owned(), class(status));
        let found = read(&self.inner.requests).get(&key).cloned();
        let series = found
            .unwrap_or_else(|| Arc::clone(write(&self.inner.requests).entry(key).or_default()));
        series.observe(took);
    }

    /// Records a login answer.
    fn record_login(&self, success: bool) {
        let counter = if success {
            &self.inner.login_success
        } else {
            &self.inner.login_failure
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an error answer with the stable `code`.
    fn record_denial(&self, code: &str) {
        let code = if is_code(code) { code } else { "other" };
        if let Some(c) = read(&self.inner.denials).get(code) {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut denials = write(&self.inner.denials);
        let code = if denials.len() >= MAX_REASONS && !denials.contains_key(code) {
            "other"
        } else {
            code
        };
        denials
            .entry(code.to_owned())
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The registry in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP iam_http_requests_total HTTP requests answered, by method, route template and status class.\n");
        out.push_str("# TYPE iam_http_requests_total counter\n");
        let requests = read(&self.inner.requests);
        for ((method, route, status), s) in requests.iter() {
            let _ = writeln!(
                out,
                "iam_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(method),
                escape(route),
                s.count.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP iam_http_request_duration_seconds Time to answer HTTP requests, by method, route template and status class.\n");
        out.push_str("# TYPE iam_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in requests.iter() {
            let labels = format!(
                "method=\"{}\",route=\"{}\",status=\"{status}\"",
                escape(method),
                escape(route)
            );
            let mut cumulative = 0;
            for (i, le) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "iam_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            cumulative += s.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "iam_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
            );
            #[allow(clippy::cast_precision_loss)]
            let sum = s.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "iam_http_request_duration_seconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "iam_http_request_duration_seconds_count{{{labels}}} {cumulative}"
            );
        }
        drop(requests);
        out.push_str("# HELP iam_logins_total Password logins answered, by result.\n");
        out.push_str("# TYPE iam_logins_total counter\n");
        for (result, c) in [
            ("success", &self.inner.login_success),
            ("failure", &self.inner.login_failure),
        ] {
            let _ = writeln!(
                out,
                "iam_logins_total{{result=\"{result}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP iam_denials_total Error answers, by stable error code.\n");
        out.push_str("# TYPE iam_denials_total counter\n");
        for (reason, c) in read(&self.inner.denials).iter() {
            let _ = writeln!(
                out,
                "iam_denials_total{{reason=\"{}\"}} {}",
                escape(reason),
                c.load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// The state of the [`track`] middleware: the registry and the login route template.
#[derive(Clone)]
pub(crate) struct Tracker {
    pub metrics: Metrics,
    pub login_route: String,
}

/// Middleware recording every request into the registry.
pub(crate) async fn track(State(t): State<Tracker>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |m| m.as_str().to_owned());
    let response = next.run(req).await;
    let status = response.status();
    t.metrics
        .record_request(&method, &route, status, started.elapsed());
    if method == Method::POST && route == t.login_route {
        t.metrics.record_login(status.is_success());
    }
    if status.is_client_error() || status.is_server_error() {
        return note_denial(&t.metrics, response).await;
    }
    response
}

/// Counts the error code of an error answer (read from its small JSON body) and passes the
/// answer on unchanged.
async fn note_denial(metrics: &Metrics, response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !is_json {
        metrics.record_denial("other");
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        metrics.record_denial("other");
        return crate::ApiError::internal().into_response();
    };
    let code = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str().map(str::to_owned)));
    metrics.record_denial(code.as_deref().unwrap_or("other"));
    Response::from_parts(parts, Body::from(bytes))
}

/// The scope (or, for tokens not limited by scopes, the role) that lets a bearer token read
/// `/metrics` from outside the allowed networks.
pub const METRICS_SCOPE: &str = "iam:metrics";

/// The networks `/metrics` is served to by default: loopback (`127.0.0.0/8`, `::1`).
pub fn default_networks() -> Vec<IpNet> {
    vec![
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8)),
        IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128)),
    ]
}

/// The state of the `/metrics` handler.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub metrics: Metrics,
    /// Client networks served without a token.
    pub networks: Arc<[IpNet]>,
    pub addresses: crate::rate_limit::ClientAddresses,
}

/// Whether `req` may read the metrics: from an allowed network, or with a bearer token
/// granting [`METRICS_SCOPE`]. The refusal otherwise: 403 `forbidden` without a token, the
/// usual 401 for a bad token, 403 `missing_scope` for a token without the scope.
async fn admit(e: &Endpoint, req: Request) -> Result<(), crate::ApiError> {
    let addr = e.addresses.of(&req);
    if e.networks.iter().any(|n| n.contains(&addr)) {
        return Ok(());
    }
    let (mut parts, _) = req.into_parts();
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(crate::ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "metrics are served to allowed networks or to tokens with the iam:metrics scope",
        ));
    }
    let principal = crate::RequireAuth::principal(&mut parts).await?;
    principal.require_scope(METRICS_SCOPE)?;
    Ok(())
}

/// The `/metrics` handler.
pub(crate) async fn serve(State(e): State<Endpoint>, req: Request) -> Response {
    if let Err(refused) = admit(&e, req).await {
        return refused.into_response();
    }
    let mut r = e.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The status class label.
fn class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Whether `code` looks like a stable error code (bounded, `[a-z0-9_]`).
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 48
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Escapes a label value for the text format.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::new();
        m.record_request(
            &Method::GET,
            "/health",
            StatusCode::OK,
            Duration::from_millis(3),
        );
        m.record_request(
            &Method::GET,
            "/health",
            StatusCode::OK,
            Duration::from_secs(20),
        );
        m.record_login(false);
        m.record_denial("invalid_credentials");
        m.record_denial("Bad \"code\"");
        let text = m.render();
        assert!(text.contains(
            "iam_http_requests_total{method=\"GET\",route=\"/health\",status=\"2xx\"} 2"
        ));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("iam_logins_total{result=\"failure\"} 1"));
        assert!(text.contains("iam_denials_total{reason=\"invalid_credentials\"} 1"));
        assert!(text.contains("iam_denials_total{reason=\"other\"} 1"));
    }
}
