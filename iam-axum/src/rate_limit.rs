//! Rate limiting for anonymous endpoints (login, refresh, the login and device pages,
//! WebFinger) and for the OAuth token endpoints: small in-process token buckets.
//!
//! Each key has a bucket of `burst` tokens that refills at `per_second`; a request takes one
//! token, and a request finding the bucket empty is answered 429 with `Retry-After`. The tables
//! live in this process only (several instances each count on their own).
//!
//! **Keys.** Per-address limits key on the client's network: an IPv4 address by itself, an
//! IPv6 address by its /64 (one subscriber usually holds a whole /64, so counting single IPv6
//! addresses would hand out 2^64 buckets), an IPv4-mapped IPv6 address as the IPv4 address.
//! The OAuth token and device authorization endpoints also limit per client: a `client_id`
//! counts on its own once this process has answered it successfully; until then requests
//! naming it count in one bucket per source network, so made-up client ids cannot grow the
//! table. Requests refused for bad client credentials (`invalid_client`) give their token back
//! to a client's own bucket, so strangers presenting a known `client_id` cannot drain it.
//!
//! **Bounded tables.** A table tracks at most `max_tracked` keys. When it is full, a new key
//! first makes room by forgetting only buckets that have refilled completely (forgetting an
//! idle bucket changes nothing: it would start full again); such a sweep runs at most once a
//! second. If nothing can be forgotten, new keys share one overflow bucket until room appears.
//! No live bucket is ever dropped, so filling the table cannot reset another client's count.
//! Per-account login back-off is the core's ([`iam_core::ThrottlePolicy`]); these limits only
//! cap how fast one source (or client) can try.
//!
//! The address is the TCP peer's. Behind reverse proxies named as trusted, it is the first
//! address in `X-Forwarded-For` (read from the right) that is not a trusted proxy; the header is
//! ignored when the peer is not a trusted proxy, so clients cannot pick their own bucket.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};

/// Settings of one limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Requests a key (address, network or client) may make at once (bucket size). 0 turns the
    /// limit off.
    pub burst: u32,
    /// Sustained requests per second per key (refill rate).
    pub per_second: f64,
    /// Most keys tracked at once (beyond that, new keys share one overflow bucket).
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

    /// The default per-address limit of the OAuth token and device authorization endpoints:
    /// 200 requests at once, then 100 per second (machines call these, often several clients
    /// behind one address).
    pub fn token_endpoint_default() -> Self {
        RateLimit {
            burst: 200,
            per_second: 100.0,
            ..RateLimit::default()
        }
    }

    /// The default per-client limit of the OAuth token and device authorization endpoints:
    /// 100 requests at once, then 50 per second.
    pub fn per_client_default() -> Self {
        RateLimit {
            burst: 100,
            per_second: 50.0,
            ..RateLimit::default()
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The tokens at `now` (refilled since the last update, capped at `burst`).
    fn tokens_at(&self, now: Instant, burst: f64, rate: f64) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * rate).min(burst)
    }

    /// Takes one token at `now`; `Err(wait)` when there is none.
    fn take(&mut self, now: Instant, burst: f64, rate: f64) -> Result<(), Duration> {
        self.tokens = self.tokens_at(now, burst, rate);
        self.at = self.at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - self.tokens) / rate).min(3600.0);
            Err(Duration::from_secs_f64(wait))
        }
    }
}

/// How often at most a full table is swept for idle buckets.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Buckets<K> {
    map: HashMap<K, Bucket>,
    /// The bucket new keys share while the table is full of live buckets.
    overflow: Option<Bucket>,
    /// No sweep of a full table before this instant.
    next_sweep: Option<Instant>,
}

/// One bounded table of token buckets.
#[derive(Debug)]
struct Table<K> {
    limit: RateLimit,
    state: Mutex<Buckets<K>>,
}

impl<K: Hash + Eq> Table<K> {
    fn new(limit: RateLimit) -> Self {
        Table {
            limit,
            state: Mutex::new(Buckets {
                map: HashMap::new(),
                overflow: None,
                next_sweep: None,
            }),
        }
    }

    fn is_off(&self) -> bool {
        self.limit.burst == 0
    }

    /// The bucket size and refill rate.
    fn shape(&self) -> (f64, f64) {
        let rate = if self.limit.per_second > 0.0 {
            self.limit.per_second
        } else {
            f64::MIN_POSITIVE
        };
        (f64::from(self.limit.burst), rate)
    }

    /// Takes one token for `key` at `now`; `Err(wait)` when its bucket is empty.
    fn take(&self, key: K, now: Instant) -> Result<(), Duration> {
        if self.is_off() {
            return Ok(());
        }
        let (burst, rate) = self.shape();
        let fresh = Bucket {
            tokens: burst,
            at: now,
        };
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let st = &mut *st;
        if let Some(bucket) = st.map.get_mut(&key) {
            return bucket.take(now, burst, rate);
        }
        if st.map.len() >= self.limit.max_tracked && st.next_sweep.is_none_or(|t| now >= t) {
            // Forget only buckets that are full again: they would start full anyway.
            st.map.retain(|_, b| b.tokens_at(now, burst, rate) < burst);
            st.next_sweep = Some(now + SWEEP_EVERY);
        }
        if st.map.len() >= self.limit.max_tracked {
            return st.overflow.get_or_insert(fresh).take(now, burst, rate);
        }
        st.map.entry(key).or_insert(fresh).take(now, burst, rate)
    }

    /// Gives back the token a request of `key` took (never beyond a full bucket).
    fn refund(&self, key: &K, now: Instant) {
        if self.is_off() {
            return;
        }
        let (burst, rate) = self.shape();
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(b) = st.map.get_mut(key) {
            b.tokens = (b.tokens_at(now, burst, rate) + 1.0).min(burst);
            b.at = b.at.max(now);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }
}

/// The network a client address counts under: IPv4 addresses alone, IPv6 addresses by their
/// /64, IPv4-mapped IPv6 addresses as IPv4.
pub(crate) fn network_key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Finds the client address of a request: the TCP peer, or behind trusted proxies the
/// `X-Forwarded-For` hop they vouch for.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientAddresses {
    trusted_proxies: Vec<IpAddr>,
}

impl ClientAddresses {
    pub(crate) fn new(trusted_proxies: &[IpAddr]) -> Self {
        ClientAddresses {
            trusted_proxies: trusted_proxies.iter().map(IpAddr::to_canonical).collect(),
        }
    }

    /// The address `req` comes from. Without connection info (an app served without
    /// `into_make_service_with_connect_info`) it is `0.0.0.0` for every caller: one shared
    /// bucket, stricter, never looser, and never inside a loopback allowlist.
    pub(crate) fn of(&self, req: &Request) -> IpAddr {
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
}

/// The token buckets of every client network seen recently.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    addresses: ClientAddresses,
    table: Table<IpAddr>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit, trusted_proxies: &[IpAddr]) -> Self {
        RateLimiter {
            addresses: ClientAddresses::new(trusted_proxies),
            table: Table::new(limit),
        }
    }

    /// The address `req` counts under (see [`ClientAddresses::of`]).
    pub(crate) fn client_address(&self, req: &Request) -> IpAddr {
        self.addresses.of(req)
    }

    /// Takes one token for the network of `addr` at `now`; `Err(wait)` when its bucket is
    /// empty.
    pub(crate) fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        self.table.take(network_key(addr), now)
    }
}

/// What a per-client bucket is keyed on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ClientKey {
    /// A client this process has answered successfully.
    Client(Box<str>),
    /// Any other `client_id`, by the network it was presented from.
    Unproven(IpAddr),
}

/// How a request admitted by [`ClientLimiter::admit`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Answered successfully: the client exists and authenticated.
    Granted,
    /// Refused for bad client credentials (`invalid_client`).
    ClientRefused,
    /// Any other answer.
    Other,
}

/// The per-client limit of the OAuth token endpoints.
#[derive(Debug)]
pub(crate) struct ClientLimiter {
    table: Table<ClientKey>,
    /// Client ids answered successfully (at most `max_tracked`).
    known: RwLock<HashSet<Box<str>>>,
}

impl ClientLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        ClientLimiter {
            table: Table::new(limit),
            known: RwLock::new(HashSet::new()),
        }
    }

    /// Takes one token for `client_id` presented from `addr`; the key to settle with, or
    /// `Err(wait)` when the bucket is empty.
    pub(crate) fn admit(
        &self,
        client_id: &str,
        addr: IpAddr,
        now: Instant,
    ) -> Result<ClientKey, Duration> {
        let known = self
            .known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(client_id);
        let key = if known {
            ClientKey::Client(client_id.into())
        } else {
            ClientKey::Unproven(network_key(addr))
        };
        self.table.take(key.clone(), now)?;
        Ok(key)
    }

    /// Records how the request admitted under `key` ended: a success makes `client_id` count
    /// on its own from now on; a client-authentication failure gives a client's token back.
    pub(crate) fn settle(&self, key: &ClientKey, client_id: &str, outcome: Settled, now: Instant) {
        if self.table.is_off() {
            return;
        }
        match (key, outcome) {
            (ClientKey::Unproven(_), Settled::Granted) => {
                let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
                if known.len() < self.table.limit.max_tracked {
                    known.insert(client_id.into());
                }
            }
            (ClientKey::Client(_), Settled::ClientRefused) => self.table.refund(key, now),
            _ => {}
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
        let len = rl.table.len();
        assert!(len <= 8, "{len}");
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn a_full_table_never_resets_a_live_bucket() {
        let limit = RateLimit {
            burst: 2,
            per_second: 0.01,
            max_tracked: 4,
        };
        let rl = RateLimiter::new(limit, &[]);
        let t0 = Instant::now();
        let victim = ip("192.0.2.1");
        // The oldest entry: an address that used up its bucket.
        assert!(rl.check(victim, t0).is_ok());
        assert!(rl.check(victim, t0).is_ok());
        assert!(rl.check(victim, t0).is_err());
        // Others fill the table and keep coming.
        for i in 0..50u8 {
            let _ = rl.check(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, i)),
                t0 + Duration::from_secs(u64::from(i) * 2),
            );
        }
        let later = t0 + Duration::from_secs(99);
        assert!(
            rl.check(victim, later).is_err(),
            "the victim's empty bucket was not refilled by eviction"
        );
        assert!(rl.table.len() <= 4);
    }

    #[test]
    fn a_full_table_forgets_idle_buckets_then_shares_an_overflow_bucket() {
        let limit = RateLimit {
            burst: 2,
            per_second: 1.0,
            max_tracked: 2,
        };
        let rl = RateLimiter::new(limit, &[]);
        let t0 = Instant::now();
        let (a, b, c, d) = (
            ip("192.0.2.1"),
            ip("192.0.2.2"),
            ip("192.0.2.3"),
            ip("192.0.2.4"),
        );
        assert!(rl.check(a, t0).is_ok());
        assert!(rl.check(b, t0).is_ok());
        // Full of live buckets: newcomers share one overflow bucket of `burst` tokens.
        assert!(rl.check(c, t0).is_ok());
        assert!(rl.check(d, t0).is_ok());
        assert!(
            rl.check(c, t0).is_err(),
            "c and d share the overflow bucket"
        );
        // Seconds later a and b are full again (idle): a sweep forgets them to make room.
        let t1 = t0 + Duration::from_secs(5);
        assert!(rl.check(c, t1).is_ok());
        assert!(rl.check(c, t1).is_ok());
        assert!(rl.check(c, t1).is_err(), "c now has a bucket of its own");
        assert!(rl.check(d, t1).is_ok());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let limit = RateLimit {
            burst: 1,
            per_second: 0.01,
            max_tracked: 100,
        };
        let rl = RateLimiter::new(limit, &[]);
        let t0 = Instant::now();
        assert!(rl.check(ip("2001:db8:1:2::1"), t0).is_ok());
        assert!(
            rl.check(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), t0)
                .is_err(),
            "the same /64"
        );
        assert!(rl.check(ip("2001:db8:1:3::1"), t0).is_ok(), "another /64");
        assert!(rl.check(ip("203.0.113.5"), t0).is_ok());
        assert!(
            rl.check(ip("::ffff:203.0.113.5"), t0).is_err(),
            "mapped IPv4"
        );
        assert!(rl.check(ip("203.0.113.6"), t0).is_ok(), "IPv4 per address");
        assert_eq!(network_key(ip("2001:db8::abcd")), ip("2001:db8::"));
    }

    #[test]
    fn clients_count_apart_once_proven_and_unproven_ids_share_per_network() {
        let limit = RateLimit {
            burst: 2,
            per_second: 0.01,
            max_tracked: 100,
        };
        let cl = ClientLimiter::new(limit);
        let t0 = Instant::now();
        let home = ip("2001:db8::1");
        // Made-up ids from one network share a bucket and add no table entries.
        for id in ["x1", "x2"] {
            let key = cl.admit(id, home, t0).expect("admitted");
            assert_eq!(key, ClientKey::Unproven(ip("2001:db8::")));
            cl.settle(&key, id, Settled::ClientRefused, t0);
        }
        assert!(cl.admit("x3", ip("2001:db8::2"), t0).is_err());
        assert_eq!(cl.table.len(), 1);
        // A client answered successfully counts on its own from then on.
        let key = cl.admit("real", ip("192.0.2.9"), t0).expect("admitted");
        cl.settle(&key, "real", Settled::Granted, t0);
        let key = cl.admit("real", home, t0).expect("own bucket");
        assert_eq!(key, ClientKey::Client("real".into()));
        // Strangers with wrong credentials for it get their token back, not the client's.
        for _ in 0..10 {
            let key = cl.admit("real", ip("198.51.100.1"), t0).expect("refunded");
            cl.settle(&key, "real", Settled::ClientRefused, t0);
        }
        assert!(cl.admit("real", home, t0).is_ok());
        assert!(
            cl.admit("real", home, t0).is_err(),
            "its own burst is spent"
        );
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
