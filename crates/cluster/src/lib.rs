//! chorus-cluster: groups articles that report the same event into stories, online.
//!
//! Articles arrive in time order. Each one is compared with the stories active within a
//! time window and joins the most similar one if the similarity clears a threshold;
//! otherwise it starts a new story. Vectors come from a multilingual model, so an article
//! in Italian can join a story begun in Spanish.
//!
//! e5 vectors of unrelated news still have cosines of 0.75–0.85, because all of them share
//! a common direction. The clusterer therefore compares vectors *centred* on the running
//! mean of every vector it has observed, which spreads same-event and different-event
//! similarities far apart. A story is represented by the mean of its members' vectors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Tunable parameters of the online clusterer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusterConfig {
    /// Minimum centred cosine between an article and a story's centroid to join it.
    pub threshold: f32,
    /// A story takes new articles only within this many days of its latest article.
    pub window_days: f64,
    /// A story takes new articles only within this many days of its earliest article, so
    /// a centroid cannot drift from one event to the next for ever.
    pub max_story_days: f64,
    /// Whether to centre vectors on the running mean.
    pub centre: bool,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig { threshold: 0.45, window_days: 7.0, max_story_days: 21.0, centre: true }
    }
}

/// A story known to the clusterer: one already stored, or the k-th created in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StoryRef {
    /// A story that exists in the store.
    Existing(i64),
    /// The k-th story created by this clusterer (0-based).
    New(usize),
}

/// Where an article went and why.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Assignment {
    /// The story it joined or started.
    pub story: StoryRef,
    /// Whether it started a new story.
    pub started_new: bool,
    /// Similarity to the best candidate story, if any was in the window.
    pub best_similarity: Option<f32>,
}

/// Errors of the clusterer.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ClusterError {
    /// A vector had the wrong length.
    #[error("vector has {got} dimensions, the clusterer was built for {want}")]
    Dimension {
        /// Length received.
        got: usize,
        /// Length expected.
        want: usize,
    },
    /// A vector contained NaN or infinity.
    #[error("vector contains a non-finite value")]
    NonFinite,
}

#[derive(Debug, Clone)]
struct StoryState {
    story: StoryRef,
    sum: Vec<f32>,
    n: usize,
    latest: Option<DateTime<Utc>>,
    earliest: Option<DateTime<Utc>>,
}

/// The online clusterer's state: the running mean and every story's centroid.
#[derive(Debug, Clone)]
pub struct OnlineClusterer {
    config: ClusterConfig,
    dim: usize,
    mean_sum: Vec<f64>,
    mean_n: usize,
    /// Stories open to new articles.
    stories: Vec<StoryState>,
    /// Stories closed for good (out of the time window or past their lifetime).
    closed: usize,
    /// Newest article time seen.
    newest: Option<DateTime<Utc>>,
    created: usize,
}

impl OnlineClusterer {
    /// A clusterer for vectors of length `dim`.
    pub fn new(config: ClusterConfig, dim: usize) -> OnlineClusterer {
        OnlineClusterer {
            config,
            dim,
            mean_sum: vec![0.0; dim],
            mean_n: 0,
            stories: Vec::new(),
            closed: 0,
            newest: None,
            created: 0,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Number of stories it knows.
    pub fn story_count(&self) -> usize {
        self.stories.len() + self.closed
    }

    /// Number of stories still open to new articles (those compared on each arrival).
    pub fn open_story_count(&self) -> usize {
        self.stories.len()
    }

    /// Closes stories that no article at or after `t` can join any more, so the work per
    /// article depends on the stories of the last few days, not on all stories ever.
    fn close_stale(&mut self, t: DateTime<Utc>, window: chrono::Duration, lifetime: chrono::Duration) {
        let before = self.stories.len();
        self.stories.retain(|s| {
            let too_quiet = s.latest.is_some_and(|l| t - l > window);
            let too_old = s.earliest.is_some_and(|e| t - e > lifetime);
            !(too_quiet || too_old)
        });
        self.closed += before - self.stories.len();
    }

    fn check(&self, v: &[f32]) -> Result<(), ClusterError> {
        if v.len() != self.dim {
            return Err(ClusterError::Dimension { got: v.len(), want: self.dim });
        }
        if !v.iter().all(|x| x.is_finite()) {
            return Err(ClusterError::NonFinite);
        }
        Ok(())
    }

    /// Records that a vector has arrived, updating the running mean used for centring.
    /// Call it for every article as it arrives, before [`assign`](Self::assign).
    pub fn observe(&mut self, v: &[f32]) -> Result<(), ClusterError> {
        self.check(v)?;
        for (m, x) in self.mean_sum.iter_mut().zip(v) {
            *m += *x as f64;
        }
        self.mean_n += 1;
        Ok(())
    }

    /// Adds an already-clustered article back to its stored story (after a restart).
    pub fn restore(&mut self, story_id: i64, v: &[f32], time: Option<DateTime<Utc>>) -> Result<(), ClusterError> {
        self.check(v)?;
        let idx = match self.stories.iter().position(|s| s.story == StoryRef::Existing(story_id)) {
            Some(i) => i,
            None => {
                self.stories.push(StoryState {
                    story: StoryRef::Existing(story_id),
                    sum: vec![0.0; self.dim],
                    n: 0,
                    latest: None,
                    earliest: None,
                });
                self.stories.len() - 1
            }
        };
        Self::add(&mut self.stories[idx], v, time);
        Ok(())
    }

    fn add(s: &mut StoryState, v: &[f32], time: Option<DateTime<Utc>>) {
        for (a, x) in s.sum.iter_mut().zip(v) {
            *a += x;
        }
        s.n += 1;
        s.latest = match (s.latest, time) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        s.earliest = match (s.earliest, time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    fn mean(&self) -> Vec<f32> {
        if !self.config.centre || self.mean_n == 0 {
            return vec![0.0; self.dim];
        }
        self.mean_sum.iter().map(|m| (*m / self.mean_n as f64) as f32).collect()
    }

    /// Puts an article into the best story within the window, or starts a new one.
    pub fn assign(&mut self, v: &[f32], time: Option<DateTime<Utc>>) -> Result<Assignment, ClusterError> {
        self.check(v)?;
        let mu = self.mean();
        let centred: Vec<f32> = v.iter().zip(&mu).map(|(x, m)| x - m).collect();
        let vn = norm(&centred);
        let days = |d: f64| chrono::Duration::milliseconds((d * 86_400_000.0) as i64);
        let (window, lifetime) = (days(self.config.window_days), days(self.config.max_story_days));
        // Articles arrive in time order, so stories closed now stay closed; an article
        // older than the newest one seen cannot reopen them.
        if let Some(t) = time
            && self.newest.is_none_or(|n| t > n)
        {
            self.newest = Some(t);
            self.close_stale(t, window, lifetime);
        }
        let mut best: Option<(usize, f32)> = None;
        for (i, s) in self.stories.iter().enumerate() {
            if let (Some(t), Some(latest)) = (time, s.latest)
                && (t - latest > window || latest - t > window)
            {
                continue;
            }
            if let (Some(t), Some(earliest)) = (time, s.earliest)
                && t - earliest > lifetime
            {
                continue;
            }
            let inv = 1.0 / s.n as f32;
            let (mut dot, mut cn) = (0f32, 0f32);
            for ((a, m), x) in s.sum.iter().zip(&mu).zip(&centred) {
                let c = a * inv - m;
                dot += c * x;
                cn += c * c;
            }
            let sim = if vn == 0.0 || cn == 0.0 { 0.0 } else { dot / (vn * cn.sqrt()) };
            if best.is_none_or(|(_, b)| sim > b) {
                best = Some((i, sim));
            }
        }
        let best_similarity = best.map(|(_, s)| s);
        match best {
            Some((i, sim)) if sim >= self.config.threshold => {
                Self::add(&mut self.stories[i], v, time);
                Ok(Assignment { story: self.stories[i].story, started_new: false, best_similarity })
            }
            _ => {
                let story = StoryRef::New(self.created);
                self.created += 1;
                let mut s = StoryState { story, sum: vec![0.0; self.dim], n: 0, latest: None, earliest: None };
                Self::add(&mut s, v, time);
                self.stories.push(s);
                Ok(Assignment { story, started_new: true, best_similarity })
            }
        }
    }
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let n = norm(&v);
        v.into_iter().map(|x| x / n).collect()
    }

    /// Vectors that share a large common component (as e5's do) plus an event direction.
    fn event_vec(event: usize, noise: f32, dim: usize) -> Vec<f32> {
        let mut v = vec![0.3f32; dim];
        v[event] += 0.25;
        v[(event * 7 + 3) % dim] += noise;
        unit(v)
    }

    fn day(d: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 1, d, 12, 0, 0).unwrap())
    }

    #[test]
    fn groups_same_event_and_separates_others() {
        let dim = 32;
        let mut c = OnlineClusterer::new(ClusterConfig::default(), dim);
        let items: Vec<(usize, Vec<f32>)> =
            (0..12).map(|i| (i % 4, event_vec(i % 4, 0.02 * (i / 4) as f32, dim))).collect();
        for (_, v) in &items {
            c.observe(v).unwrap();
        }
        let mut story_of = Vec::new();
        for (_, v) in &items {
            story_of.push(c.assign(v, day(5)).unwrap().story);
        }
        for i in 0..items.len() {
            for j in 0..items.len() {
                assert_eq!(items[i].0 == items[j].0, story_of[i] == story_of[j], "items {i} and {j}");
            }
        }
        assert_eq!(c.story_count(), 4);
    }

    #[test]
    fn without_centring_the_shared_component_merges_everything() {
        let dim = 32;
        let cfg = ClusterConfig { centre: false, threshold: 0.55, ..Default::default() };
        let mut c = OnlineClusterer::new(cfg, dim);
        for e in 0..4 {
            c.observe(&event_vec(e, 0.0, dim)).unwrap();
            c.assign(&event_vec(e, 0.0, dim), day(5)).unwrap();
        }
        assert_eq!(c.story_count(), 1, "raw cosines of these vectors are all high");
    }

    #[test]
    fn time_window_keeps_old_stories_closed() {
        let dim = 32;
        let mut c = OnlineClusterer::new(ClusterConfig { window_days: 3.0, ..Default::default() }, dim);
        let others: Vec<Vec<f32>> = (1..6).map(|e| event_vec(e, 0.0, dim)).collect();
        for v in &others {
            c.observe(v).unwrap();
        }
        let a = event_vec(0, 0.0, dim);
        c.observe(&a).unwrap();
        c.observe(&a).unwrap();
        let first = c.assign(&a, day(1)).unwrap();
        let same_week = c.assign(&a, day(3)).unwrap();
        let much_later = c.assign(&a, day(20)).unwrap();
        assert_eq!(first.story, same_week.story);
        assert!(much_later.started_new);
    }

    #[test]
    fn stories_stop_growing_after_their_lifetime() {
        let dim = 32;
        let cfg = ClusterConfig { window_days: 3.0, max_story_days: 5.0, ..Default::default() };
        let mut c = OnlineClusterer::new(cfg, dim);
        for e in 1..6 {
            c.observe(&event_vec(e, 0.0, dim)).unwrap();
        }
        let a = event_vec(0, 0.0, dim);
        c.observe(&a).unwrap();
        // Daily articles chain within the 3-day window, but not past day 1 + 5.
        let stories: Vec<StoryRef> = (1..=8).map(|d| c.assign(&a, day(d)).unwrap().story).collect();
        assert!(stories[..6].iter().all(|s| *s == stories[0]), "{stories:?}");
        assert_ne!(stories[6], stories[0]);
    }

    #[test]
    fn restored_stories_take_new_members() {
        let dim = 32;
        let mut c = OnlineClusterer::new(ClusterConfig::default(), dim);
        for e in 0..4 {
            let v = event_vec(e, 0.0, dim);
            c.observe(&v).unwrap();
            c.restore(100 + e as i64, &v, day(2)).unwrap();
        }
        let v = event_vec(2, 0.01, dim);
        c.observe(&v).unwrap();
        let a = c.assign(&v, day(3)).unwrap();
        assert_eq!(a.story, StoryRef::Existing(102));
        assert!(!a.started_new);
    }

    #[test]
    fn bad_vectors_are_errors_not_panics() {
        let mut c = OnlineClusterer::new(ClusterConfig::default(), 4);
        assert_eq!(c.assign(&[1.0, 0.0], None), Err(ClusterError::Dimension { got: 2, want: 4 }));
        assert_eq!(c.observe(&[f32::NAN, 0.0, 0.0, 0.0]), Err(ClusterError::NonFinite));
        // A zero vector and undated articles are fine.
        assert!(c.assign(&[0.0; 4], None).unwrap().started_new);
    }
}
