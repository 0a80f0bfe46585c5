//! Story view counting: one view per visitor per story per day, bots excluded, reloads
//! and scripted floods not counted, and nothing personal kept.
//!
//! A visitor is the SHA-256 of (a random salt of the day, the client address, its
//! User-Agent, the story), cut to 16 bytes. The salt lives only in memory and is replaced
//! at midnight UTC, so a stored hash cannot be tied to an address or linked to the same
//! visitor on another day; the store deletes the day-rows after two days and keeps totals.
//! Floods: one address counts at most [`PER_ADDRESS_PER_STORY`] visitors per story per day
//! (several people behind one router, not a script rotating User-Agents), and at most
//! [`NEW_VIEWS_PER_MINUTE`] new views a minute across stories.
//!
//! Counting does not write on the request path: a new view raises the story's total in
//! memory at once and waits in a queue that [`crate::keep_views_flushed`] writes to the
//! store in one transaction every [`crate::VIEW_FLUSH_EVERY`] (and [`crate::serve`] once
//! more on shutdown). A crash loses at most that long of views; a store that refuses the
//! write (a full disk) keeps them queued, up to [`MAX_PENDING_VIEWS`].

use crate::security::{RateLimiter, random_bytes};
use chorus_core::StoryId;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Views waiting for the store at most; beyond, the oldest are dropped (with a warning):
/// the store has refused writes for a long time, and memory must stay bounded.
pub const MAX_PENDING_VIEWS: usize = 200_000;

/// Visitors one address may add to one story per day.
pub const PER_ADDRESS_PER_STORY: u32 = 5;
/// New views one address may add per minute, all stories together.
pub const NEW_VIEWS_PER_MINUTE: u32 = 30;

/// User-Agent fragments of crawlers, link previews, monitors and scripts (lower case).
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "curl",
    "wget",
    "python",
    "java/",
    "go-http",
    "okhttp",
    "libwww",
    "httpclient",
    "headless",
    "preview",
    "facebookexternalhit",
    "monitor",
    "scrapy",
    "axios",
    "node-fetch",
    "wrk",
    "apachebench",
    "lighthouse",
    "feed",
    "fetch",
];

/// True for requests that should not count as a reader's view: a bot or script by its
/// User-Agent (or none), or a prefetch.
pub fn is_bot(user_agent: Option<&str>, prefetch: bool) -> bool {
    let ua = user_agent.unwrap_or("").trim().to_ascii_lowercase();
    prefetch || ua.is_empty() || !ua.contains("mozilla") || BOT_MARKERS.iter().any(|m| ua.contains(m))
}

struct Day {
    day: String,
    salt: Vec<u8>,
    seen: HashSet<[u8; 16]>,
    per_address: HashMap<[u8; 16], u32>,
}

/// What a view request decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewDecision {
    /// Not counted (bot, repeat, flood).
    Skip,
    /// A new view: record this visitor hash for this day.
    Record {
        /// Day, `YYYY-MM-DD` (UTC).
        day: String,
        /// The visitor hash.
        visitor: [u8; 16],
    },
}

/// Decides which requests are views and caches totals.
pub struct ViewCounter {
    day: Mutex<Day>,
    /// With a shared site secret, the day's salt is derived from it (every web node
    /// hashes a visitor alike, so the database counts them once); else random.
    shared: Option<Vec<u8>>,
    flood: RateLimiter,
    totals: Mutex<HashMap<StoryId, u64>>,
    pending: Mutex<VecDeque<chorus_store::StoryView>>,
}

fn hash16(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

impl ViewCounter {
    /// A counter with a fresh salt.
    pub fn new() -> Result<ViewCounter, crate::security::SecurityError> {
        Ok(ViewCounter {
            day: Mutex::new(Day {
                day: String::new(),
                salt: random_bytes(32)?,
                seen: HashSet::new(),
                per_address: HashMap::new(),
            }),
            shared: None,
            flood: RateLimiter::new(NEW_VIEWS_PER_MINUTE, Duration::from_secs(60)),
            totals: Mutex::new(HashMap::new()),
            pending: Mutex::new(VecDeque::new()),
        })
    }

    /// A counter whose daily salt is derived from the site's shared secret and the day:
    /// web nodes of one site hash a visitor alike. The salt is still never stored and
    /// changes every day; whoever holds the secret could recompute a day's hashes for a
    /// guessed address, which is why the secret belongs in configuration, not the database.
    pub fn with_secret(secret: &str) -> Result<ViewCounter, crate::security::SecurityError> {
        let key = crate::security::derive_key(secret, "views")?;
        let mut counter = ViewCounter::new()?;
        counter.shared = Some(key);
        Ok(counter)
    }

    fn salt_of(&self, day: &str) -> Option<Vec<u8>> {
        match &self.shared {
            Some(key) => Some(hash16(&[key, day.as_bytes()]).to_vec()),
            None => random_bytes(32).ok(),
        }
    }

    /// Decides whether this request is a new view of `story` on `day`.
    pub fn decide(&self, story: StoryId, day: &str, address: &str, user_agent: &str) -> ViewDecision {
        let mut d = self.day.lock().unwrap_or_else(|p| p.into_inner());
        if d.day != day {
            // A new day: a new salt, and yesterday's hashes forgotten.
            let Some(salt) = self.salt_of(day) else { return ViewDecision::Skip };
            *d = Day { day: day.to_string(), salt, seen: HashSet::new(), per_address: HashMap::new() };
        }
        let sid = story.to_le_bytes();
        let visitor = hash16(&[&d.salt, address.as_bytes(), user_agent.as_bytes(), &sid]);
        if d.seen.contains(&visitor) {
            return ViewDecision::Skip;
        }
        let addr_key = hash16(&[&d.salt, address.as_bytes(), &sid]);
        let n = d.per_address.get(&addr_key).copied().unwrap_or(0);
        if n >= PER_ADDRESS_PER_STORY
            || !self.flood.allow(&crate::security::hex(&hash16(&[&d.salt, address.as_bytes()])))
        {
            return ViewDecision::Skip;
        }
        d.per_address.insert(addr_key, n + 1);
        d.seen.insert(visitor);
        ViewDecision::Record { day: d.day.clone(), visitor }
    }

    /// The cached total for a story, if known.
    pub fn cached(&self, story: StoryId) -> Option<u64> {
        self.totals.lock().unwrap_or_else(|p| p.into_inner()).get(&story).copied()
    }

    /// Sets the cached total for a story (read from the store).
    pub fn set(&self, story: StoryId, total: u64) {
        self.totals.lock().unwrap_or_else(|p| p.into_inner()).insert(story, total);
    }

    /// Queues a recorded view for the store and raises the story's cached total from
    /// `total`; returns the new total.
    pub fn queue(&self, story: StoryId, day: String, visitor: [u8; 16], total: u64) -> u64 {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push_back(chorus_store::StoryView { story, day, visitor: visitor.to_vec() });
            drop_oldest_beyond_limit(&mut pending);
        }
        self.set(story, total + 1);
        total + 1
    }

    /// The queued views, taken out of the queue.
    pub fn take_pending(&self) -> Vec<chorus_store::StoryView> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner())).into()
    }

    /// Puts views the store refused back at the front of the queue.
    pub fn requeue(&self, views: Vec<chorus_store::StoryView>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mut restored = VecDeque::from(views);
        restored.append(&mut pending);
        *pending = restored;
        drop_oldest_beyond_limit(&mut pending);
    }

    /// Views of `story` still queued.
    pub fn pending_of(&self, story: StoryId) -> u64 {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|v| v.story == story).count() as u64
    }
}

/// Keeps the queue at [`MAX_PENDING_VIEWS`], dropping the oldest (with a warning).
fn drop_oldest_beyond_limit(pending: &mut VecDeque<chorus_store::StoryView>) {
    let excess = pending.len().saturating_sub(MAX_PENDING_VIEWS);
    if excess > 0 {
        pending.drain(..excess);
        tracing::warn!(dropped = excess, "the store has not taken views for a long time; the oldest are dropped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

    #[test]
    fn nodes_sharing_a_secret_hash_a_visitor_alike_and_others_do_not() {
        let visitor = |c: &ViewCounter, day: &str| match c.decide(7, day, "203.0.113.9", FIREFOX) {
            ViewDecision::Record { visitor, .. } => visitor,
            ViewDecision::Skip => panic!("a first view is recorded"),
        };
        let (a, b) = (
            ViewCounter::with_secret("shared site secret").unwrap(),
            ViewCounter::with_secret("shared site secret").unwrap(),
        );
        assert_eq!(visitor(&a, "2026-11-30"), visitor(&b, "2026-11-30"), "the database counts them once");
        assert_ne!(
            visitor(&a, "2026-12-01"),
            visitor(&ViewCounter::with_secret("shared site secret").unwrap(), "2026-11-30"),
            "a new salt each day"
        );
        assert_ne!(
            visitor(&ViewCounter::new().unwrap(), "2026-11-30"),
            visitor(&ViewCounter::new().unwrap(), "2026-11-30")
        );
    }

    #[test]
    fn bots_scripts_and_prefetches_are_not_readers() {
        assert!(!is_bot(Some(FIREFOX), false));
        assert!(is_bot(Some(FIREFOX), true), "prefetch");
        assert!(is_bot(None, false) && is_bot(Some(""), false));
        assert!(is_bot(Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"), false));
        assert!(is_bot(Some("curl/8.5.0"), false));
        assert!(is_bot(Some("Mozilla/5.0 HeadlessChrome/120.0"), false));
        assert!(is_bot(Some("python-requests/2.31"), false));
    }

    #[test]
    fn one_view_per_visitor_per_day_and_floods_capped() {
        let c = ViewCounter::new().unwrap();
        let first = c.decide(1, "2026-11-27", "198.51.100.7", FIREFOX);
        assert!(matches!(first, ViewDecision::Record { .. }));
        assert_eq!(c.decide(1, "2026-11-27", "198.51.100.7", FIREFOX), ViewDecision::Skip, "reload");
        assert!(
            matches!(c.decide(2, "2026-11-27", "198.51.100.7", FIREFOX), ViewDecision::Record { .. }),
            "other story"
        );
        assert!(matches!(c.decide(1, "2026-11-28", "198.51.100.7", FIREFOX), ViewDecision::Record { .. }), "next day");
        // A script rotating User-Agents from one address adds at most PER_ADDRESS_PER_STORY.
        let counted = (0..50)
            .filter(|i| {
                matches!(
                    c.decide(3, "2026-11-28", "203.0.113.9", &format!("{FIREFOX} v{i}")),
                    ViewDecision::Record { .. }
                )
            })
            .count();
        assert_eq!(counted, PER_ADDRESS_PER_STORY as usize);
        // Different salts each day: the same visitor hashes differently.
        let h = |c: &ViewCounter, day: &str| match c.decide(9, day, "192.0.2.1", FIREFOX) {
            ViewDecision::Record { visitor, .. } => visitor,
            ViewDecision::Skip => panic!("not counted"),
        };
        let other = ViewCounter::new().unwrap();
        assert_ne!(h(&c, "2026-11-29"), h(&other, "2026-11-29"), "salt is random per counter and day");
    }

    #[test]
    fn many_stories_from_one_address_hit_the_minute_cap() {
        let c = ViewCounter::new().unwrap();
        let counted = (0..100)
            .filter(|s| matches!(c.decide(*s, "2026-11-27", "198.51.100.8", FIREFOX), ViewDecision::Record { .. }))
            .count();
        assert_eq!(counted, NEW_VIEWS_PER_MINUTE as usize);
    }
}
