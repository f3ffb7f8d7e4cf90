//! Per-source-address rate limiting for anonymous endpoints (login, refresh): a small
//! in-process token bucket per IP address.
//!
//! Each address has a bucket of `burst` tokens that refills at `per_second`; a request takes one
//! token, and a request finding the bucket empty is answered 429 with `Retry-After`. The table
//! lives in this process only (several instances each count on their own) and is bounded: when
//! it reaches `max_tracked` addresses, buckets that have refilled completely are forgotten,
//! and if that frees nothing the oldest half is dropped. Per-account login back-off is the
//! core's ([`iam_core::ThrottlePolicy`]); this limit only caps how fast one address can try.
//!
//! The address is the TCP peer's. Behind reverse proxies named as trusted, it is the first
//! address in `X-Forwarded-For` (read from the right) that is not a trusted proxy; the header is
//! ignored when the peer is not a trusted proxy, so clients cannot pick their own bucket.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};

/// Settings of the per-address limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Requests an address may make at once (bucket size). 0 turns the limit off.
    pub burst: u32,
    /// Sustained requests per second per address (refill rate).
    pub per_second: f64,
    /// Most addresses tracked at once.
    pub max_tracked: usize,
}

impl Default for RateLimit {
    /// 20 requests at once, then 2 per second, per address.
    fn default() -> Self {
        RateLimit {
            burst: 20,
            per_second: 2.0,
            max_tracked: 100_000,
        }
    }
}

impl RateLimit {
    /// No limit.
    pub fn off() -> Self {
        RateLimit {
            burst: 0,
            ..RateLimit::default()
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The token buckets of every address seen recently.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    trusted_proxies: Vec<IpAddr>,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit, trusted_proxies: &[IpAddr]) -> Self {
        RateLimiter {
            limit,
            trusted_proxies: trusted_proxies.iter().map(IpAddr::to_canonical).collect(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The address `req` counts under. Without connection info (an app served without
    /// `into_make_service_with_connect_info`) every caller shares one bucket: stricter, never
    /// looser.
    pub(crate) fn client_address(&self, req: &Request) -> IpAddr {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        client_address(peer, forwarded, &self.trusted_proxies)
    }

    /// Takes one token for `addr` at `now`; `Err(wait)` when the bucket is empty.
    pub(crate) fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let limit = self.limit;
        if limit.burst == 0 {
            return Ok(());
        }
        let burst = f64::from(limit.burst);
        let rate = if limit.per_second > 0.0 {
            limit.per_second
        } else {
            f64::MIN_POSITIVE
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= limit.max_tracked && !buckets.contains_key(&addr) {
            evict(&mut buckets, now, burst, rate, limit.max_tracked);
        }
        let bucket = buckets.entry(addr).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).min(3600.0);
            Err(Duration::from_secs_f64(wait))
        }
    }
}

fn evict(buckets: &mut HashMap<IpAddr, Bucket>, now: Instant, burst: f64, rate: f64, max: usize) {
    let full =
        |b: &Bucket| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate >= burst;
    buckets.retain(|_, b| !full(b));
    if buckets.len() >= max {
        let mut ages: Vec<Instant> = buckets.values().map(|b| b.at).collect();
        ages.sort_unstable();
        if let Some(cut) = ages.get(ages.len() / 2).copied() {
            buckets.retain(|_, b| b.at > cut);
        }
    }
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy; then the rightmost
/// `X-Forwarded-For` hop that is not a trusted proxy. A hop that is not an address stops the
/// walk at the last trusted proxy (whose bucket is shared: stricter, never looser).
fn client_address<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> IpAddr {
    let mut current = peer.to_canonical();
    if !trusted.contains(&current) {
        return current;
    }
    let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
    for hop in hops.iter().rev() {
        let hop = hop.trim();
        let Some(ip) = hop
            .parse::<IpAddr>()
            .ok()
            .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        else {
            return current;
        };
        current = ip.to_canonical();
        if !trusted.contains(&current) {
            return current;
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let rl = RateLimiter::new(
            RateLimit {
                burst: 3,
                per_second: 1.0,
                max_tracked: 10,
            },
            &[],
        );
        let a = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.check(a, t0).is_ok());
        }
        let wait = rl.check(a, t0).err();
        assert!(wait.is_some_and(|w| w > Duration::ZERO && w <= Duration::from_secs(1)));
        assert!(rl.check(b, t0).is_ok(), "addresses are counted apart");
        assert!(rl.check(a, t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn table_stays_bounded() {
        let rl = RateLimiter::new(
            RateLimit {
                burst: 1,
                per_second: 0.001,
                max_tracked: 8,
            },
            &[],
        );
        let t0 = Instant::now();
        for i in 0..100u8 {
            let _ = rl.check(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)), t0);
        }
        let len = rl.buckets.lock().map_or(usize::MAX, |b| b.len());
        assert!(len <= 9, "{len}");
    }

    #[test]
    fn off_allows_everything() {
        let rl = RateLimiter::new(RateLimit::off(), &[]);
        let a = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for _ in 0..1000 {
            assert!(rl.check(a, Instant::now()).is_ok());
        }
    }

    #[test]
    fn forwarded_for_counts_only_behind_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("address");
        let proxy = ip("10.0.0.2");
        let trusted = [proxy, ip("10.0.0.3")];
        // An untrusted peer cannot choose its bucket.
        assert_eq!(
            client_address(ip("203.0.113.9"), ["198.51.100.1"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
        // Behind a trusted proxy: the hop it appended, not what the client wrote before it.
        assert_eq!(
            client_address(proxy, ["6.6.6.6, 198.51.100.7"].into_iter(), &trusted),
            ip("198.51.100.7")
        );
        // Through two trusted proxies, across two header lines, with a port and IPv6.
        assert_eq!(
            client_address(
                proxy,
                ["[2001:db8::1]:4711", "10.0.0.3"].into_iter(),
                &trusted
            ),
            ip("2001:db8::1")
        );
        // A malformed hop stops at the last trusted proxy; no header leaves the proxy itself.
        assert_eq!(
            client_address(proxy, ["nonsense"].into_iter(), &trusted),
            proxy
        );
        assert_eq!(client_address(proxy, std::iter::empty(), &trusted), proxy);
        // An IPv4-mapped IPv6 peer is the IPv4 proxy.
        assert_eq!(
            client_address(
                ip("::ffff:10.0.0.2"),
                ["198.51.100.8"].into_iter(),
                &trusted
            ),
            ip("198.51.100.8")
        );
    }
}
