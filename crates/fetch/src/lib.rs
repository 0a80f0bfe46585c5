//! chorus-fetch: polite, bounded, SSRF-safe HTTP for feeds and article pages.
//!
//! One [`Fetcher`] per process. Every request:
//!
//! - goes only to public addresses: hostnames are resolved by chorus' own resolver, which
//!   drops private, loopback, link-local, CGNAT, multicast and cloud-metadata addresses
//!   (and fails if nothing public is left); IP literals are checked before the request;
//!   every redirect hop is checked again ([`is_public`]). Tests (and operators who need
//!   it) may allow loopback explicitly;
//! - respects `robots.txt` (cached per host for a day, `texting_robots`);
//! - waits its turn per host: at most [`FetchConfig::per_host_concurrency`] requests at
//!   once and [`FetchConfig::per_host_interval`] between their starts;
//! - sends `If-None-Match` / `If-Modified-Since` when validators are known (304 =
//!   unchanged);
//! - is bounded: a total timeout (slow-drip responses included), at most
//!   [`FetchConfig::max_redirects`] redirects, at most [`FetchConfig::max_body_bytes`]
//!   after decompression (so a gzip bomb stops at the limit), gzip/brotli/deflate/zstd.
//!
//! Failures are typed ([`FetchError`]) with the URL in the message; [`FetchError::retry`]
//! says whether and when to try again, and [`next_check`] turns a feed's history into its
//! next poll time (back-off with jitter on errors, `Retry-After` honoured, the interval
//! adapting to how often the feed publishes).

pub mod charset;
mod guard;
mod schedule;

pub use guard::is_public;
pub use schedule::{ScheduleConfig, next_check};

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Limits and manners of the fetcher.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchConfig {
    /// `User-Agent` (also the name looked up in robots.txt).
    pub user_agent: String,
    /// Limit for one request, from connecting to the last body byte.
    pub timeout: Duration,
    /// Largest body accepted, after decompression.
    pub max_body_bytes: usize,
    /// Redirects followed.
    pub max_redirects: usize,
    /// Requests in flight per host.
    pub per_host_concurrency: usize,
    /// Least time between two request starts on one host.
    pub per_host_interval: Duration,
    /// Obey robots.txt.
    pub respect_robots: bool,
    /// Allow loopback addresses (tests, or a feed proxy on the same machine). Private,
    /// link-local and metadata addresses stay blocked.
    pub allow_loopback: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            user_agent: concat!("chorus/", env!("CARGO_PKG_VERSION"), " (+https://github.com/chorus-news)").into(),
            timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            per_host_concurrency: 2,
            per_host_interval: Duration::from_secs(1),
            respect_robots: true,
            allow_loopback: false,
        }
    }
}

/// Validators from an earlier response, for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

/// A successful response.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// The URL after redirects.
    pub final_url: String,
    /// HTTP status (2xx).
    pub status: u16,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
    /// The body, decompressed.
    pub body: Vec<u8>,
    /// Validators for the next conditional GET.
    pub validators: Validators,
}

/// What a GET gave.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchOutcome {
    /// A body.
    Fetched(Fetched),
    /// 304: unchanged since the validators were issued.
    NotModified,
}

/// Why a GET gave nothing. Every variant names the URL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// Not an http(s) URL.
    #[error("{url}: not an http(s) URL")]
    BadUrl {
        /// The URL.
        url: String,
    },
    /// The address is not public (SSRF guard), directly or after a redirect.
    #[error("{url}: blocked: {reason}")]
    Blocked {
        /// The URL.
        url: String,
        /// Which address and why.
        reason: String,
    },
    /// robots.txt disallows it for chorus.
    #[error("{url}: disallowed by robots.txt")]
    Robots {
        /// The URL.
        url: String,
    },
    /// No answer within the time limit.
    #[error("{url}: no complete answer within {seconds} s")]
    Timeout {
        /// The URL.
        url: String,
        /// The limit.
        seconds: u64,
    },
    /// The body went over the size limit (after decompression).
    #[error("{url}: body over the limit of {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// Too many redirects, or a redirect loop.
    #[error("{url}: {reason}")]
    Redirects {
        /// The URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// An HTTP error status.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// `Retry-After`, when sent (429, 503).
        retry_after: Option<Duration>,
    },
    /// Connection, TLS or protocol failure.
    #[error("{url}: {reason}")]
    Connection {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
}

/// Whether to try a failed request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Never: the resource is gone (410), refused (SSRF, robots) or the URL is bad.
    Never,
    /// On the normal back-off schedule.
    Later,
    /// Not before this long (the server said so).
    After(Duration),
}

impl FetchError {
    /// Whether and when to try again.
    pub fn retry(&self) -> Retry {
        match self {
            FetchError::BadUrl { .. } | FetchError::Blocked { .. } => Retry::Never,
            FetchError::Status { status: 410, .. } => Retry::Never,
            FetchError::Status { retry_after: Some(d), .. } => Retry::After(*d),
            _ => Retry::Later,
        }
    }
}

struct HostState {
    slots: Arc<Semaphore>,
    next_start: tokio::sync::Mutex<Instant>,
}

struct RobotsEntry {
    robot: Option<texting_robots::Robot>,
    fetched: Instant,
}

/// The HTTP client of chorus. Cheap to share (`Arc`); safe across tasks.
pub struct Fetcher {
    client: reqwest::Client,
    config: FetchConfig,
    hosts: Mutex<HashMap<String, Arc<HostState>>>,
    robots: tokio::sync::Mutex<HashMap<String, RobotsEntry>>,
}

impl Fetcher {
    /// A fetcher with `config`.
    pub fn new(config: FetchConfig) -> Result<Fetcher, FetchError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let allow_loopback = config.allow_loopback;
        let max_redirects = config.max_redirects;
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                return attempt.error(format!("more than {max_redirects} redirects"));
            }
            if attempt.previous().iter().any(|u| u == attempt.url()) {
                let msg = format!("redirect loop back to {}", attempt.url());
                return attempt.error(msg);
            }
            if let Some(reason) = literal_blocked(attempt.url(), allow_loopback) {
                return attempt.error(format!("redirect to a blocked address: {reason}"));
            }
            attempt.follow()
        });
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .redirect(redirect)
            .dns_resolver(Arc::new(guard::PublicResolver { allow_loopback }))
            .no_proxy()
            .build()
            .map_err(|e| FetchError::Connection { url: String::new(), reason: format!("HTTP client: {e}") })?;
        Ok(Fetcher {
            client,
            config,
            hosts: Mutex::new(HashMap::new()),
            robots: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    fn host_state(&self, host: &str) -> Arc<HostState> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(host.to_string())
            .or_insert_with(|| {
                Arc::new(HostState {
                    slots: Arc::new(Semaphore::new(self.config.per_host_concurrency.max(1))),
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                })
            })
            .clone()
    }

    /// GETs `url` politely (see the crate doc). `validators` make it conditional.
    pub async fn get(&self, url: &str, validators: Option<&Validators>) -> Result<FetchOutcome, FetchError> {
        let parsed = url::Url::parse(url).map_err(|_| FetchError::BadUrl { url: url.to_string() })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(FetchError::BadUrl { url: url.to_string() });
        }
        if let Some(reason) = literal_blocked(&parsed, self.config.allow_loopback) {
            return Err(FetchError::Blocked { url: url.to_string(), reason });
        }
        if self.config.respect_robots && parsed.path() != "/robots.txt" && !self.robots_allow(&parsed).await {
            return Err(FetchError::Robots { url: url.to_string() });
        }
        self.get_unchecked(&parsed, validators).await
    }

    async fn get_unchecked(
        &self,
        parsed: &url::Url,
        validators: Option<&Validators>,
    ) -> Result<FetchOutcome, FetchError> {
        let url = parsed.as_str().to_string();
        let host = parsed.host_str().unwrap_or_default().to_string();
        let state = self.host_state(&host);
        let _slot = state
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| FetchError::Connection { url: url.clone(), reason: format!("host queue closed: {e}") })?;
        {
            let mut next = state.next_start.lock().await;
            let now = Instant::now();
            if *next > now {
                tokio::time::sleep(*next - now).await;
            }
            *next = Instant::now() + self.config.per_host_interval;
        }
        let mut req = self.client.get(parsed.clone());
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &v.last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        let classify = |e: reqwest::Error| -> FetchError {
            let reason = error_chain(&e);
            if e.is_timeout() {
                FetchError::Timeout { url: url.clone(), seconds: self.config.timeout.as_secs().max(1) }
            } else if e.is_redirect() {
                if reason.contains("blocked address") {
                    FetchError::Blocked { url: url.clone(), reason }
                } else {
                    FetchError::Redirects { url: url.clone(), reason }
                }
            } else if reason.contains(guard::BLOCKED_MARK) {
                FetchError::Blocked { url: url.clone(), reason }
            } else {
                FetchError::Connection { url: url.clone(), reason }
            }
        };
        let mut resp = req.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        if status == 304 {
            return Ok(FetchOutcome::NotModified);
        }
        let header = |name: reqwest::header::HeaderName| {
            resp.headers().get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string())
        };
        if !(200..300).contains(&status) {
            let retry_after = header(reqwest::header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, Utc::now()));
            return Err(FetchError::Status { url, status, retry_after });
        }
        let final_url = resp.url().to_string();
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let validators =
            Validators { etag: header(reqwest::header::ETAG), last_modified: header(reqwest::header::LAST_MODIFIED) };
        let limit = self.config.max_body_bytes;
        if resp.content_length().is_some_and(|n| n as usize > limit) && resp.headers().get("content-encoding").is_none()
        {
            return Err(FetchError::TooLarge { url, limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge { url, limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched(Fetched { final_url, status, content_type, body, validators }))
    }

    /// Whether robots.txt of the URL's origin allows chorus to fetch it. A missing
    /// robots.txt (4xx) allows everything; one that cannot be fetched (5xx, timeout)
    /// allows nothing until it can.
    async fn robots_allow(&self, url: &url::Url) -> bool {
        let origin = url.origin().ascii_serialization();
        let mut cache = self.robots.lock().await;
        let stale = cache.get(&origin).is_none_or(|e| e.fetched.elapsed() > Duration::from_secs(24 * 3600));
        if stale {
            let robots_url = format!("{origin}/robots.txt");
            let robot = match url::Url::parse(&robots_url) {
                Ok(u) => match self.get_unchecked(&u, None).await {
                    Ok(FetchOutcome::Fetched(f)) => texting_robots::Robot::new(&self.config.user_agent, &f.body)
                        .ok()
                        .or_else(|| texting_robots::Robot::new(&self.config.user_agent, b"").ok()),
                    Err(FetchError::Status { status, .. }) if (400..500).contains(&status) => {
                        texting_robots::Robot::new(&self.config.user_agent, b"").ok()
                    }
                    _ => None,
                },
                Err(_) => None,
            };
            cache.insert(origin.clone(), RobotsEntry { robot, fetched: Instant::now() });
        }
        cache.get(&origin).and_then(|e| e.robot.as_ref()).is_some_and(|r| r.allowed(url.as_str()))
    }
}

/// Why a URL whose host is an IP literal may not be fetched (`None`: allowed, or a name
/// to be checked at resolution).
fn literal_blocked(url: &url::Url, allow_loopback: bool) -> Option<String> {
    let ip: IpAddr = match url.host()? {
        url::Host::Ipv4(a) => IpAddr::V4(a),
        url::Host::Ipv6(a) => IpAddr::V6(a),
        url::Host::Domain(d) => {
            if d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost") {
                return (!allow_loopback).then(|| format!("{d} is the local machine"));
            }
            return None;
        }
    };
    (!is_public(ip, allow_loopback)).then(|| format!("{ip} is not a public address"))
}

/// `Retry-After` as seconds or an HTTP date, capped at a day.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let cap = Duration::from_secs(24 * 3600);
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs).min(cap));
    }
    let at = DateTime::parse_from_rfc2822(value.trim()).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO).min(cap))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Fri, 27 Nov 2026 10:05:00 GMT", now), Some(Duration::from_secs(300)));
        assert_eq!(parse_retry_after("999999", now), Some(Duration::from_secs(86400)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn literal_addresses_are_checked_before_any_request() {
        let blocked = |u: &str, lo: bool| literal_blocked(&url::Url::parse(u).unwrap(), lo);
        assert!(blocked("http://169.254.169.254/latest/meta-data/", true).is_some());
        assert!(blocked("http://10.0.0.1/", true).is_some());
        assert!(blocked("http://[::1]:8080/", false).is_some());
        assert!(blocked("http://127.0.0.1:8080/", true).is_none());
        assert!(blocked("http://localhost/", false).is_some());
        assert!(blocked("https://example.org/", false).is_none(), "names are checked when resolved");
        assert!(blocked("http://8.8.8.8/", false).is_none());
    }

    #[test]
    fn only_server_words_and_transient_failures_are_retried() {
        let s = |status, retry_after| FetchError::Status { url: "u".into(), status, retry_after };
        assert_eq!(s(410, None).retry(), Retry::Never);
        assert_eq!(s(429, Some(Duration::from_secs(60))).retry(), Retry::After(Duration::from_secs(60)));
        assert_eq!(s(503, None).retry(), Retry::Later);
        assert_eq!(FetchError::Blocked { url: "u".into(), reason: "r".into() }.retry(), Retry::Never);
        assert_eq!(FetchError::Timeout { url: "u".into(), seconds: 1 }.retry(), Retry::Later);
    }
}
