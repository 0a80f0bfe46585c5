//! Rendered pages and story lists kept for a few seconds, so a popular page costs one
//! render per few seconds instead of one per request. Entries are dropped when the site's
//! generation changes (a write through the site) or after [`TTL`] (writes by another
//! process, such as the pipeline).

use chorus_core::StorySummary;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a rendered page is served from memory.
pub const TTL: Duration = Duration::from_secs(5);
/// Pages kept at most (the cache is emptied when full).
const MAX_PAGES: usize = 4_096;

/// A cached value with when it was made and the site generation it belongs to.
type Stamped<T> = (Instant, u64, T);

#[derive(Default)]
pub(crate) struct PageCache {
    pages: Mutex<HashMap<String, Stamped<Arc<str>>>>,
    summaries: Mutex<Option<Stamped<Arc<Vec<StorySummary>>>>>,
}

impl PageCache {
    pub(crate) fn page(&self, key: &str, generation: u64) -> Option<Arc<str>> {
        let pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        pages.get(key).filter(|(at, g, _)| *g == generation && at.elapsed() < TTL).map(|(_, _, p)| p.clone())
    }

    pub(crate) fn put_page(&self, key: String, generation: u64, page: Arc<str>) {
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        if pages.len() >= MAX_PAGES {
            pages.clear();
        }
        pages.insert(key, (Instant::now(), generation, page));
    }

    pub(crate) fn summaries(&self, generation: u64) -> Option<Arc<Vec<StorySummary>>> {
        let s = self.summaries.lock().unwrap_or_else(|p| p.into_inner());
        s.as_ref().filter(|(at, g, _)| *g == generation && at.elapsed() < TTL).map(|(_, _, v)| v.clone())
    }

    pub(crate) fn put_summaries(&self, generation: u64, v: Arc<Vec<StorySummary>>) {
        *self.summaries.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), generation, v));
    }
}
