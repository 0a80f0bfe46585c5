//! Passwords, tokens, form signatures and per-client rate limits.
//!
//! * Passwords: argon2id (PHC strings), verified in constant time by the argon2 crate.
//! * Session cookies: 32 random bytes; only their SHA-256 is stored, so a leaked database
//!   holds no usable session.
//! * CSRF: forms of a session carry the session's own random token; the anonymous forms
//!   (login, error report) carry a token signed with the server's secret and a time, valid
//!   for a day, so a form posted from another site (which cannot read ours) is refused.
//! * Rate limits: fixed windows per client and purpose, in memory.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Errors of the security helpers.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// Hashing a password failed.
    #[error("password hashing: {0}")]
    Hash(String),
    /// The configured site secret is unusable.
    #[error("site secret: {0}")]
    Secret(String),
}

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, SecurityError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| SecurityError::Random(e.to_string()))?;
    Ok(b)
}

/// Shortest shared site secret accepted.
pub const MIN_SECRET_CHARS: usize = 16;

/// A key for `purpose` derived from the site's shared secret (HMAC-SHA256), so one secret
/// serves several purposes without one key revealing another.
pub fn derive_key(secret: &str, purpose: &str) -> Result<Vec<u8>, SecurityError> {
    if secret.chars().count() < MIN_SECRET_CHARS {
        return Err(SecurityError::Secret(format!("it must have at least {MIN_SECRET_CHARS} characters")));
    }
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(b"chorus:");
    m.update(purpose.as_bytes());
    Ok(m.finalize().into_bytes().to_vec())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `s`, in hex (how session tokens are stored).
pub fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// A random token of `bytes` bytes, in hex.
pub fn random_token(bytes: usize) -> Result<String, SecurityError> {
    Ok(hex(&random_bytes(bytes)?))
}

/// A report id: 10 characters of an alphabet without look-alikes (0/O, 1/l/I), about 50
/// bits, easy to read out or copy.
pub fn report_id() -> Result<String, SecurityError> {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
    Ok(random_bytes(10)?.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect())
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, SecurityError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| SecurityError::Hash(e.to_string()))
}

/// True when `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Constant-time equality of two strings.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Signs and checks the tokens of anonymous forms.
pub struct FormSigner {
    secret: Vec<u8>,
}

/// How long a signed form stays valid.
pub const FORM_TOKEN_SECONDS: i64 = 24 * 3600;

impl FormSigner {
    /// A signer with a fresh random secret (forms rendered before a restart expire).
    pub fn random() -> Result<FormSigner, SecurityError> {
        Ok(FormSigner { secret: random_bytes(32)? })
    }

    /// A signer whose key is derived from a secret the site's web nodes share, so a form
    /// rendered by one node is accepted by any other.
    pub fn from_secret(secret: &str) -> Result<FormSigner, SecurityError> {
        Ok(FormSigner { secret: derive_key(secret, "forms")? })
    }

    fn mac(&self, purpose: &str, issued: i64) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        m.update(purpose.as_bytes());
        m.update(b"\0");
        m.update(issued.to_string().as_bytes());
        hex(&m.finalize().into_bytes())
    }

    /// A token for a form of `purpose` issued at `now` (unix seconds).
    pub fn token(&self, purpose: &str, now: i64) -> String {
        format!("{now}.{}", self.mac(purpose, now))
    }

    /// True when `token` was issued by this signer for `purpose` within the last day.
    pub fn check(&self, purpose: &str, token: &str, now: i64) -> bool {
        let Some((issued, mac)) = token.split_once('.') else { return false };
        let Ok(issued) = issued.parse::<i64>() else { return false };
        (0..=FORM_TOKEN_SECONDS).contains(&(now - issued)) && same(mac, &self.mac(purpose, issued))
    }
}

/// Fixed-window counters per key: at most `limit` events per `window`.
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Keys kept before stale windows are swept.
const MAX_KEYS: usize = 100_000;

impl RateLimiter {
    /// A limiter allowing `limit` events per `window` and key.
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter { limit, window, counts: Mutex::new(HashMap::new()) }
    }

    /// Counts an event for `key`; false when the key is over its limit (the event is not
    /// counted then).
    pub fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= MAX_KEYS {
            counts.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = counts.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            return false;
        }
        entry.1 += 1;
        true
    }

    /// True when `key` is over its limit, without counting.
    pub fn blocked(&self, key: &str) -> bool {
        let now = Instant::now();
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.get(key).is_some_and(|(start, n)| now.duration_since(*start) < self.window && *n >= self.limit)
    }

    /// Forgets `key` (after a successful login).
    pub fn reset(&self, key: &str) {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_sharing_a_secret_accept_each_others_forms() {
        let (a, b) = (
            FormSigner::from_secret("a shared secret!").unwrap(),
            FormSigner::from_secret("a shared secret!").unwrap(),
        );
        let token = a.token("report", 1_000);
        assert!(b.check("report", &token, 1_010));
        assert!(!FormSigner::from_secret("another secret!!").unwrap().check("report", &token, 1_010));
        assert!(!FormSigner::random().unwrap().check("report", &token, 1_010));
        assert!(FormSigner::from_secret("short").is_err());
    }

    #[test]
    fn passwords_hash_with_salt_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn signed_form_tokens_expire_and_are_bound_to_purpose() {
        let s = FormSigner::random().unwrap();
        let t = s.token("report", 1_000_000);
        assert!(s.check("report", &t, 1_000_010));
        assert!(!s.check("login", &t, 1_000_010), "other purpose");
        assert!(!s.check("report", &t, 1_000_000 + FORM_TOKEN_SECONDS + 1), "expired");
        assert!(!s.check("report", &t, 999_000), "from the future");
        assert!(!s.check("report", "1000000.00", 1_000_010));
        assert!(!FormSigner::random().unwrap().check("report", &t, 1_000_010), "other secret");
    }

    #[test]
    fn rate_limiter_counts_per_key_and_resets() {
        let r = RateLimiter::new(2, Duration::from_secs(60));
        assert!(r.allow("a") && r.allow("a"));
        assert!(!r.allow("a") && r.blocked("a"));
        assert!(r.allow("b"));
        r.reset("a");
        assert!(r.allow("a"));
        let quick = RateLimiter::new(1, Duration::from_millis(1));
        assert!(quick.allow("k"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(quick.allow("k"), "a new window");
    }

    #[test]
    fn report_ids_are_readable_and_distinct() {
        let a = report_id().unwrap();
        assert_eq!(a.len(), 10);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() && !"01lIoO".contains(c)));
        assert_ne!(a, report_id().unwrap());
    }
}
