//! Rendered pages and story lists kept in memory, so a page costs one render per few
//! minutes instead of one per request.
//!
//! An entry older than [`TTL`] is served stale while exactly one request renders it anew
//! (stale-while-revalidate), so when a hot page expires 64 waiting readers do not all
//! render it at once. An entry from before the site's last write (an editor's revision)
//! is not served at all: the next request renders the new version.

use chorus_core::StorySummary;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a rendered page is served as fresh. Writes drop it sooner: this process's own
/// through [`crate::AppState::changed`], other processes' through the store's text watch
/// (`chorus serve` and `chorus run` both follow it), so this is only the safety net for
/// what neither sees. It was 5 s: under random pages over every story and edition (3,105
/// pages) that re-rendered 600 pages a second, more than two cores could.
pub const TTL: Duration = Duration::from_secs(300);
/// A refresh that has not finished after this long is handed to the next request.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(10);
/// Pages kept at most (the cache is emptied when full).
const MAX_PAGES: usize = 4_096;

struct Entry<T> {
    made: Instant,
    generation: u64,
    value: T,
    /// When a request started rendering a replacement.
    refreshing: Option<Instant>,
}

/// What a look-up found.
pub(crate) enum Lookup<T> {
    /// Serve this.
    Hit(T),
    /// Serve this, and render a replacement (this request was picked to refresh it).
    Refresh(T),
    /// Nothing usable: render.
    Miss,
}

fn look<T: Clone>(entry: Option<&mut Entry<T>>, generation: u64) -> Lookup<T> {
    let Some(e) = entry.filter(|e| e.generation == generation) else { return Lookup::Miss };
    if e.made.elapsed() < TTL {
        return Lookup::Hit(e.value.clone());
    }
    match e.refreshing {
        Some(since) if since.elapsed() < REFRESH_TIMEOUT => Lookup::Hit(e.value.clone()),
        _ => {
            e.refreshing = Some(Instant::now());
            Lookup::Refresh(e.value.clone())
        }
    }
}

#[derive(Default)]
pub(crate) struct PageCache {
    pages: Mutex<HashMap<String, Entry<Arc<str>>>>,
    summaries: Mutex<Option<Entry<Arc<Vec<StorySummary>>>>>,
}

impl PageCache {
    pub(crate) fn page(&self, key: &str, generation: u64) -> Lookup<Arc<str>> {
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        look(pages.get_mut(key), generation)
    }

    pub(crate) fn put_page(&self, key: String, generation: u64, page: Arc<str>) {
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        if pages.len() >= MAX_PAGES {
            pages.clear();
        }
        pages.insert(key, Entry { made: Instant::now(), generation, value: page, refreshing: None });
    }

    pub(crate) fn summaries(&self, generation: u64) -> Lookup<Arc<Vec<StorySummary>>> {
        let mut s = self.summaries.lock().unwrap_or_else(|p| p.into_inner());
        look(s.as_mut(), generation)
    }

    pub(crate) fn put_summaries(&self, generation: u64, v: Arc<Vec<StorySummary>>) {
        *self.summaries.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Entry { made: Instant::now(), generation, value: v, refreshing: None });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_refreshes_a_stale_page_others_get_the_old_one() {
        let c = PageCache::default();
        assert!(matches!(c.page("k", 0), Lookup::Miss));
        c.put_page("k".into(), 0, "v1".into());
        assert!(matches!(c.page("k", 0), Lookup::Hit(p) if &*p == "v1"));
        assert!(matches!(c.page("k", 1), Lookup::Miss), "written since: not served");
        // Age the entry.
        c.pages.lock().unwrap().get_mut("k").unwrap().made = Instant::now() - TTL - Duration::from_secs(1);
        assert!(matches!(c.page("k", 0), Lookup::Refresh(_)), "the first request refreshes");
        assert!(matches!(c.page("k", 0), Lookup::Hit(_)), "the others get the stale page");
        c.put_page("k".into(), 0, "v2".into());
        assert!(matches!(c.page("k", 0), Lookup::Hit(p) if &*p == "v2"));
    }
}
