//! chorus-cluster: groups articles that report the same event into stories, online.
//!
//! Articles arrive in time order. Each one is compared with the stories active within a
//! time window and joins the most similar one if the similarity clears a threshold;
//! otherwise it starts a new story. Vectors come from a multilingual model, so an article
//! in Italian can join a story begun in Spanish.
//!
//! e5 vectors of unrelated news still have cosines of 0.75–0.85, because all of them share
//! a common direction. The clusterer therefore compares vectors *centred* on the running
//! mean of the vectors it has observed, which spreads same-event and different-event
//! similarities far apart. Vectors of one language also share a language direction, which
//! pulls same-language articles together and different-language reports of one event
//! apart; centring each vector on the running mean of *its own language* removes it
//! (languages with few articles borrow from the overall mean). A story is represented by
//! the sum of its members' centred, unit-length vectors.
//!
//! Lexical evidence adds to the embedding similarity: the TF-IDF cosine between an
//! article's most distinctive terms (names and numbers weighted up) and the sum of its
//! story's, times `lexical_weight`. By default it applies only between an article and a
//! story with no member in the article's language, where shared names and figures are
//! what the multilingual embedding underrates (measured in `docs/quality.md`).
//!
//! The same articles in the same order give the same stories however they arrive: in one
//! call, poll by poll, or through workers that stop and resume. The means and document
//! frequencies that centring and TF-IDF use are therefore a snapshot taken at counts of
//! observed articles that depend on the count alone (every article up to 1,024, then
//! whenever the articles since the last snapshot reach 1/512 of all), never "whatever this
//! call has seen"; at each snapshot every open story is rebuilt from its members, so a
//! story restored in a later process from its stored articles is the very same state.

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
    /// Whether to centre each vector on the running mean of its own language.
    #[serde(default)]
    pub centre_per_language: bool,
    /// How many articles' worth of the overall mean a language's mean is blended with, so
    /// a language seen a few times is centred on a stable estimate.
    #[serde(default)]
    pub language_prior: f64,
    /// Weight of lexical evidence: the TF-IDF cosine between an article's terms and its
    /// story's (names and numbers weighted up) is added, times this weight, to the
    /// embedding similarity. 0 switches it off.
    #[serde(default)]
    pub lexical_weight: f32,
    /// How many of an article's most distinctive terms (highest TF-IDF) it is compared on.
    #[serde(default = "default_lexical_terms")]
    pub lexical_terms: usize,
    /// Apply lexical evidence only between an article and stories with no member in its
    /// language: within one language the embedding already sees shared words, across
    /// languages shared names and numbers are evidence the embedding underrates.
    #[serde(default)]
    pub lexical_across_languages_only: bool,
    /// Embedding similarity below which lexical evidence is not consulted: unrelated
    /// stories that merely share a name stay apart, and most comparisons skip the lookups.
    #[serde(default)]
    pub lexical_min_similarity: f32,
    /// Share of the similarity taken from the story's closest member rather than its
    /// centroid (0 = centroid only, 1 = single link).
    #[serde(default)]
    pub member_weight: f32,
    /// How many articles' worth of a prior mean (see [`OnlineClusterer::with_prior`]) the
    /// running mean is blended with, so the first articles of a new data folder are
    /// centred on news in general rather than on the one topic seen so far.
    #[serde(default)]
    pub prior_weight: f64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            threshold: 0.45,
            window_days: 7.0,
            max_story_days: 21.0,
            centre: true,
            centre_per_language: true,
            language_prior: 20.0,
            lexical_weight: 0.5,
            lexical_terms: default_lexical_terms(),
            lexical_across_languages_only: true,
            lexical_min_similarity: 0.2,
            member_weight: 0.6,
            prior_weight: 64.0,
        }
    }
}

/// Hasher for term keys, which are already well-mixed 64-bit hashes (xxh3): using
/// them as they are makes the map lookups of lexical evidence several times cheaper
/// than re-hashing with SipHash.
#[derive(Default, Clone, Copy)]
struct TermHasher(u64);

impl std::hash::Hasher for TermHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by term hash.
type TermMap<V> = std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<TermHasher>>;

fn default_lexical_terms() -> usize {
    60
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
    /// Saved statistics (see [`OnlineClusterer::observed_bytes`]) could not be read.
    #[error("saved clustering statistics: {0}")]
    Saved(&'static str),
}

#[derive(Debug, Clone)]
struct StoryState {
    story: StoryRef,
    sum: Vec<f32>,
    /// Euclidean norm of `sum`, kept up to date by `add`.
    sum_norm: f32,
    /// Its members' centred vectors (kept only when `member_weight` is set).
    members: Vec<Vec<f32>>,
    /// Its members as they arrived, to rebuild the story when the statistics change.
    raw: Vec<Member>,
    /// Sum of its members' unit TF-IDF vectors (term hash → weight).
    lex: TermMap<f32>,
    /// Squared norm of `lex`, kept up to date by `add`.
    lex_norm2: f32,
    n: usize,
    /// Languages of its members.
    langs: Vec<String>,
    latest: Option<DateTime<Utc>>,
    earliest: Option<DateTime<Utc>>,
}

impl StoryState {
    /// A story with no members yet.
    fn empty(story: StoryRef, dim: usize) -> StoryState {
        StoryState {
            story,
            sum: vec![0.0; dim],
            sum_norm: 0.0,
            members: Vec::new(),
            raw: Vec::new(),
            lex: Default::default(),
            lex_norm2: 0.0,
            n: 0,
            langs: Vec::new(),
            latest: None,
            earliest: None,
        }
    }
}

/// An article of a story as it arrived: what rebuilding the story needs.
#[derive(Debug, Clone)]
struct Member {
    vector: Vec<f32>,
    lang: Option<String>,
    terms: Vec<(u64, f32)>,
    time: Option<DateTime<Utc>>,
}

/// What the clusterer has observed: sums behind the centring means and the terms'
/// document frequencies.
#[derive(Debug, Clone, Default)]
struct Observed {
    mean_sum: Vec<f64>,
    mean_n: usize,
    /// Per language: sum of observed vectors and their count.
    lang_sums: std::collections::HashMap<String, (Vec<f64>, usize)>,
    /// Document frequency of each term among observed articles (lexical evidence only).
    df: TermMap<u32>,
    /// Number of articles whose terms were observed.
    docs: usize,
}

impl Observed {
    fn new(dim: usize) -> Observed {
        Observed { mean_sum: vec![0.0; dim], ..Default::default() }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.mean_n as u64).to_le_bytes());
        self.mean_sum.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        let mut langs: Vec<_> = self.lang_sums.iter().collect();
        langs.sort_by(|a, b| a.0.cmp(b.0));
        out.extend_from_slice(&(langs.len() as u32).to_le_bytes());
        for (lang, (sum, n)) in langs {
            out.extend_from_slice(&(lang.len() as u32).to_le_bytes());
            out.extend_from_slice(lang.as_bytes());
            out.extend_from_slice(&(*n as u64).to_le_bytes());
            sum.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        }
        out.extend_from_slice(&(self.docs as u64).to_le_bytes());
        let mut df: Vec<_> = self.df.iter().collect();
        df.sort_unstable();
        out.extend_from_slice(&(df.len() as u64).to_le_bytes());
        for (t, n) in df {
            out.extend_from_slice(&t.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
    }

    fn read(r: &mut Reader<'_>, dim: usize) -> Result<Observed, ClusterError> {
        let mut o = Observed::new(dim);
        o.mean_n = r.len()?;
        for m in o.mean_sum.iter_mut() {
            *m = r.f64()?;
        }
        for _ in 0..r.u32()? {
            let n = r.u32()? as usize;
            let lang = std::str::from_utf8(r.take(n)?).map_err(|_| ClusterError::Saved("language not UTF-8"))?;
            let count = r.len()?;
            let mut sum = vec![0.0; dim];
            for m in sum.iter_mut() {
                *m = r.f64()?;
            }
            o.lang_sums.insert(lang.to_string(), (sum, count));
        }
        o.docs = r.len()?;
        let terms = r.len()?;
        if terms > r.0.len() / 12 {
            return Err(ClusterError::Saved("truncated"));
        }
        o.df.reserve(terms);
        for _ in 0..terms {
            let t = r.u64()?;
            let n = r.u32()?;
            o.df.insert(t, n);
        }
        Ok(o)
    }
}

/// The statistics are refreshed whenever the articles observed since the last refresh
/// reach this share of all observed (1/`REFRESH_SHARE`, at least one article): at every
/// article while few are known, ever more rarely as the means settle, so a year of news
/// costs a few hundred rebuilds of the open stories, not one per article.
pub const REFRESH_SHARE: usize = 512;

/// Whether the statistics are refreshed once the `n`-th article has been observed, the
/// last refresh having been at `last`.
fn refreshes_at(n: usize, last: usize) -> bool {
    n.saturating_sub(last) >= (n / REFRESH_SHARE).max(1)
}

/// The online clusterer's state: what it has observed and every open story's centroid.
#[derive(Debug, Clone)]
pub struct OnlineClusterer {
    config: ClusterConfig,
    dim: usize,
    /// Everything observed so far.
    running: Observed,
    /// The snapshot centring and TF-IDF use: `running` as it was at the last refresh.
    frozen: Observed,
    /// Stories open to new articles.
    stories: Vec<StoryState>,
    /// Position of each open story in `stories`.
    index: std::collections::HashMap<StoryRef, usize>,
    /// Stories closed for good (out of the time window or past their lifetime).
    closed: usize,
    /// Newest article time seen.
    newest: Option<DateTime<Utc>>,
    created: usize,
    /// The mean centring starts from (blended in with `prior_weight`), if any.
    prior: Option<Vec<f32>>,
    /// What centring subtracts under the current snapshot.
    means: Option<CentringMeans>,
}

/// The means centring subtracts, as of one snapshot: overall, and per language (blended
/// with the overall mean by `language_prior`).
#[derive(Debug, Clone)]
struct CentringMeans {
    global: Vec<f32>,
    per_lang: std::collections::HashMap<String, Vec<f32>>,
}

impl OnlineClusterer {
    /// A clusterer for vectors of length `dim`.
    pub fn new(config: ClusterConfig, dim: usize) -> OnlineClusterer {
        OnlineClusterer {
            config,
            dim,
            running: Observed::new(dim),
            frozen: Observed::new(dim),
            stories: Vec::new(),
            index: std::collections::HashMap::new(),
            closed: 0,
            newest: None,
            created: 0,
            prior: None,
            means: None,
        }
    }

    /// The same clusterer centring on its running mean blended with `mean` (the typical
    /// vector of news for its model, e.g. `chorus_embed::E5_NEWS_MEAN`), weighted as
    /// `prior_weight` articles. Ignored when its length is not the clusterer's.
    pub fn with_prior(mut self, mean: &[f32]) -> OnlineClusterer {
        self.prior = (mean.len() == self.dim && self.config.prior_weight > 0.0).then(|| mean.to_vec());
        self.means = self.centring_means();
        self
    }

    /// How many articles it has observed (see [`observe`](Self::observe)).
    pub fn observed(&self) -> usize {
        self.running.mean_n
    }

    /// How many articles' terms it has observed (0 when lexical evidence is off).
    pub fn observed_docs(&self) -> usize {
        self.running.docs
    }

    /// What it has observed — the running sums behind centring (overall and per
    /// language), the document frequencies of terms, and the snapshot of both taken at the
    /// last refresh — as bytes, so a later process continues from them instead of
    /// observing every stored article again. Stories are not included: those still open
    /// are restored from their articles.
    pub fn observed_bytes(&self) -> Vec<u8> {
        let langs = self.running.lang_sums.len() + self.frozen.lang_sums.len();
        let terms = self.running.df.len() + self.frozen.df.len();
        let mut out = Vec::with_capacity(32 + 8 * self.dim * (2 + langs) + 12 * terms);
        out.extend_from_slice(OBSERVED_MAGIC);
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        self.running.write(&mut out);
        self.frozen.write(&mut out);
        out
    }

    /// A clusterer that has observed what `bytes` (from [`observed_bytes`](Self::observed_bytes))
    /// records, with no stories yet.
    pub fn with_observed(config: ClusterConfig, dim: usize, bytes: &[u8]) -> Result<OnlineClusterer, ClusterError> {
        let mut c = OnlineClusterer::new(config, dim);
        let mut r = Reader(bytes);
        if r.take(OBSERVED_MAGIC.len())? != OBSERVED_MAGIC {
            return Err(ClusterError::Saved("not chorus clustering statistics of this version"));
        }
        if r.u32()? as usize != dim {
            return Err(ClusterError::Saved("saved for another vector length"));
        }
        c.running = Observed::read(&mut r, dim)?;
        c.frozen = Observed::read(&mut r, dim)?;
        c.means = c.centring_means();
        if !r.0.is_empty() {
            return Err(ClusterError::Saved("trailing bytes"));
        }
        Ok(c)
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
        if self.stories.len() != before {
            self.index = self.stories.iter().enumerate().map(|(i, s)| (s.story, i)).collect();
        }
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

    /// Records that an article has arrived, updating the running means used for centring
    /// and the document frequencies of its terms (`(term hash, count)`, one entry per
    /// term, as from `chorus_text::terms::term_counts`). Call it for every article as it
    /// arrives, before [`assign`](Self::assign).
    ///
    /// Centring and TF-IDF use the statistics as they were at the last refresh (see the
    /// crate's doc); when this article completes a refresh count, the snapshot is taken
    /// and every open story rebuilt from its members.
    pub fn observe(&mut self, v: &[f32], lang: Option<&str>, terms: &[(u64, f32)]) -> Result<(), ClusterError> {
        self.check(v)?;
        let o = &mut self.running;
        if self.config.lexical_weight != 0.0 {
            for (t, _) in terms {
                *o.df.entry(*t).or_default() += 1;
            }
            o.docs += 1;
        }
        for (m, x) in o.mean_sum.iter_mut().zip(v) {
            *m += *x as f64;
        }
        o.mean_n += 1;
        if let Some(l) = lang {
            let e = o.lang_sums.entry(l.to_string()).or_insert_with(|| (vec![0.0; self.dim], 0));
            for (m, x) in e.0.iter_mut().zip(v) {
                *m += *x as f64;
            }
            e.1 += 1;
        }
        if refreshes_at(o.mean_n, self.frozen.mean_n) {
            self.frozen = self.running.clone();
            self.means = self.centring_means();
            self.rebuild_stories();
        }
        Ok(())
    }

    /// Recomputes every open story from its members with the current snapshot, adding
    /// them in the order they arrived (so a story restored later adds the same numbers in
    /// the same order).
    fn rebuild_stories(&mut self) {
        let keep = self.config.member_weight != 0.0;
        let stories = std::mem::take(&mut self.stories);
        self.stories = stories
            .into_iter()
            .map(|old| {
                let mut s = StoryState::empty(old.story, self.dim);
                for m in old.raw {
                    let (c, lex) = (self.centred(&m.vector, m.lang.as_deref()), self.lexical(&m.terms));
                    Self::add(&mut s, &c, &lex, m, keep);
                }
                s
            })
            .collect();
    }

    /// The vector as the clusterer compares it: centred (per language where configured)
    /// and scaled to unit length.
    fn centred(&self, v: &[f32], lang: Option<&str>) -> Vec<f32> {
        let mut out = v.to_vec();
        if let Some(means) = &self.means {
            let per_lang = lang.filter(|_| self.config.centre_per_language).and_then(|l| means.per_lang.get(l));
            for (x, m) in out.iter_mut().zip(per_lang.unwrap_or(&means.global)) {
                *x -= m;
            }
        }
        let n = norm(&out);
        if n > 0.0 {
            out.iter_mut().for_each(|x| *x /= n);
        }
        out
    }

    /// The means [`centred`](Self::centred) subtracts, from the snapshot (and the prior):
    /// computed once per snapshot, not once per vector. `None` when nothing is centred.
    fn centring_means(&self) -> Option<CentringMeans> {
        let o = &self.frozen;
        let prior_weight = if self.prior.is_some() { self.config.prior_weight.max(0.0) } else { 0.0 };
        if !self.config.centre || (o.mean_n == 0 && prior_weight == 0.0) {
            return None;
        }
        let prior = |i: usize| self.prior.as_ref().map_or(0.0, |p| f64::from(p[i]) * prior_weight);
        let global: Vec<f64> =
            (0..self.dim).map(|i| (o.mean_sum[i] + prior(i)) / (o.mean_n as f64 + prior_weight)).collect();
        let k = self.config.language_prior.max(0.0);
        let per_lang = o
            .lang_sums
            .iter()
            .map(|(l, (sum, n))| {
                let m = sum.iter().zip(&global).map(|(s, g)| ((s + k * g) / (*n as f64 + k)) as f32).collect();
                (l.clone(), m)
            })
            .collect();
        Some(CentringMeans { global: global.iter().map(|&g| g as f32).collect(), per_lang })
    }

    /// An article's unit TF-IDF vector over its `lexical_terms` most distinctive terms,
    /// sorted by term; empty when lexical evidence is off.
    fn lexical(&self, terms: &[(u64, f32)]) -> Vec<(u64, f32)> {
        if self.config.lexical_weight == 0.0 || terms.is_empty() {
            return Vec::new();
        }
        let n = self.frozen.docs as f32;
        let mut weighted: Vec<(u64, f32)> = terms
            .iter()
            .filter(|(_, tf)| *tf > 0.0)
            .map(|&(t, tf)| {
                let df = self.frozen.df.get(&t).copied().unwrap_or(0) as f32;
                let idf = ((1.0 + n) / (1.0 + df)).ln() + 1.0;
                (t, (1.0 + tf.ln()) * idf)
            })
            .collect();
        weighted.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        weighted.truncate(self.config.lexical_terms.max(1));
        let norm = weighted.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            weighted.iter_mut().for_each(|(_, w)| *w /= norm);
        }
        weighted.sort_unstable_by_key(|t| t.0);
        weighted
    }

    /// Adds an already-clustered article back to its stored story (after a restart).
    pub fn restore(
        &mut self,
        story_id: i64,
        v: &[f32],
        time: Option<DateTime<Utc>>,
        lang: Option<&str>,
        terms: &[(u64, f32)],
    ) -> Result<(), ClusterError> {
        self.place(StoryRef::Existing(story_id), v, time, lang, terms)
    }

    /// Adds an article to `story` without comparing (a restored member, or a copy placed
    /// with its original); the story is opened if it is not open.
    pub fn place(
        &mut self,
        story: StoryRef,
        v: &[f32],
        time: Option<DateTime<Utc>>,
        lang: Option<&str>,
        terms: &[(u64, f32)],
    ) -> Result<(), ClusterError> {
        self.check(v)?;
        let c = self.centred(v, lang);
        let lex = self.lexical(terms);
        let found = self.index.get(&story).copied().filter(|&i| self.stories.get(i).is_some_and(|s| s.story == story));
        let idx = match found {
            Some(i) => i,
            None => {
                self.index.insert(story, self.stories.len());
                self.stories.push(StoryState::empty(story, self.dim));
                self.stories.len() - 1
            }
        };
        let keep = self.config.member_weight != 0.0;
        Self::add(&mut self.stories[idx], &c, &lex, Member::new(v, lang, terms, time), keep);
        Ok(())
    }

    fn add(s: &mut StoryState, v: &[f32], lex: &[(u64, f32)], member: Member, keep_member: bool) {
        if let Some(l) = member.lang.as_deref()
            && !s.langs.iter().any(|x| x == l)
        {
            s.langs.push(l.to_string());
        }
        if keep_member {
            s.members.push(v.to_vec());
        }
        if !lex.is_empty() {
            let overlap = lexical_dot(lex, &s.lex);
            s.lex_norm2 += 2.0 * overlap + lex.iter().map(|(_, w)| w * w).sum::<f32>();
            for (t, w) in lex {
                *s.lex.entry(*t).or_default() += w;
            }
        }
        for (a, x) in s.sum.iter_mut().zip(v) {
            *a += x;
        }
        s.sum_norm = norm(&s.sum);
        s.n += 1;
        let time = member.time;
        s.latest = match (s.latest, time) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        s.earliest = match (s.earliest, time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        s.raw.push(member);
    }

    /// Puts an article into the best story within the window, or starts a new one.
    pub fn assign(
        &mut self,
        v: &[f32],
        time: Option<DateTime<Utc>>,
        lang: Option<&str>,
        terms: &[(u64, f32)],
    ) -> Result<Assignment, ClusterError> {
        self.check(v)?;
        let centred = self.centred(v, lang);
        let lex = self.lexical(terms);
        let lex_weight = self.config.lexical_weight;
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
            let mut sim = if s.sum_norm == 0.0 { 0.0 } else { dot(&s.sum, &centred) / s.sum_norm };
            if self.config.member_weight != 0.0 {
                let closest = s.members.iter().map(|m| dot(m, &centred)).fold(f32::MIN, f32::max);
                let a = self.config.member_weight;
                sim = (1.0 - a) * sim + a * closest;
            }
            // Lexical evidence can add at most `lex_weight`: skip the map lookups for
            // stories it cannot lift above the threshold or the best so far.
            let bar = best
                .map_or(self.config.threshold, |(_, b)| b.max(self.config.threshold))
                .max(self.config.lexical_min_similarity + lex_weight);
            let lexical_applies =
                !self.config.lexical_across_languages_only || lang.is_none_or(|l| !s.langs.iter().any(|x| x == l));
            if lexical_applies && !lex.is_empty() && s.lex_norm2 > 0.0 && sim + lex_weight >= bar {
                sim += lex_weight * lexical_dot(&lex, &s.lex) / s.lex_norm2.sqrt();
            }
            if best.is_none_or(|(_, b)| sim > b) {
                best = Some((i, sim));
            }
        }
        let best_similarity = best.map(|(_, s)| s);
        match best {
            Some((i, sim)) if sim >= self.config.threshold => {
                let keep = self.config.member_weight != 0.0;
                Self::add(&mut self.stories[i], &centred, &lex, Member::new(v, lang, terms, time), keep);
                Ok(Assignment { story: self.stories[i].story, started_new: false, best_similarity })
            }
            _ => {
                let story = StoryRef::New(self.created);
                self.created += 1;
                let mut s = StoryState::empty(story, self.dim);
                Self::add(&mut s, &centred, &lex, Member::new(v, lang, terms, time), self.config.member_weight != 0.0);
                self.index.insert(story, self.stories.len());
                self.stories.push(s);
                Ok(Assignment { story, started_new: true, best_similarity })
            }
        }
    }
}

impl Member {
    fn new(v: &[f32], lang: Option<&str>, terms: &[(u64, f32)], time: Option<DateTime<Utc>>) -> Member {
        Member { vector: v.to_vec(), lang: lang.map(str::to_string), terms: terms.to_vec(), time }
    }
}

/// First bytes of [`OnlineClusterer::observed_bytes`] (format version 2: running and
/// snapshot statistics).
const OBSERVED_MAGIC: &[u8] = b"chorus-observed-2";

/// Reads little-endian values off the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ClusterError> {
        if self.0.len() < n {
            return Err(ClusterError::Saved("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ClusterError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, ClusterError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, ClusterError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn len(&mut self) -> Result<usize, ClusterError> {
        usize::try_from(self.u64()?).map_err(|_| ClusterError::Saved("count out of range"))
    }
    fn f64(&mut self) -> Result<f64, ClusterError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
}

/// Dot product of a sparse vector with a story's term sums.
fn lexical_dot(lex: &[(u64, f32)], sums: &TermMap<f32>) -> f32 {
    lex.iter().map(|(t, w)| w * sums.get(t).copied().unwrap_or(0.0)).sum()
}

fn norm(v: &[f32]) -> f32 {
    dot(v, v).sqrt()
}

/// Dot product with eight independent accumulators, which the compiler turns into SIMD
/// (a single running sum cannot be reordered, so it would stay scalar).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
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
            c.observe(v, None, &[]).unwrap();
        }
        let mut story_of = Vec::new();
        for (_, v) in &items {
            story_of.push(c.assign(v, day(5), None, &[]).unwrap().story);
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
            c.observe(&event_vec(e, 0.0, dim), None, &[]).unwrap();
            c.assign(&event_vec(e, 0.0, dim), day(5), None, &[]).unwrap();
        }
        assert_eq!(c.story_count(), 1, "raw cosines of these vectors are all high");
    }

    #[test]
    fn time_window_keeps_old_stories_closed() {
        let dim = 32;
        let mut c = OnlineClusterer::new(ClusterConfig { window_days: 3.0, ..Default::default() }, dim);
        let others: Vec<Vec<f32>> = (1..6).map(|e| event_vec(e, 0.0, dim)).collect();
        for v in &others {
            c.observe(v, None, &[]).unwrap();
        }
        let a = event_vec(0, 0.0, dim);
        c.observe(&a, None, &[]).unwrap();
        c.observe(&a, None, &[]).unwrap();
        let first = c.assign(&a, day(1), None, &[]).unwrap();
        let same_week = c.assign(&a, day(3), None, &[]).unwrap();
        let much_later = c.assign(&a, day(20), None, &[]).unwrap();
        assert_eq!(first.story, same_week.story);
        assert!(much_later.started_new);
    }

    #[test]
    fn stories_stop_growing_after_their_lifetime() {
        let dim = 32;
        let cfg = ClusterConfig { window_days: 3.0, max_story_days: 5.0, ..Default::default() };
        let mut c = OnlineClusterer::new(cfg, dim);
        for e in 1..6 {
            c.observe(&event_vec(e, 0.0, dim), None, &[]).unwrap();
        }
        let a = event_vec(0, 0.0, dim);
        c.observe(&a, None, &[]).unwrap();
        // Daily articles chain within the 3-day window, but not past day 1 + 5.
        let stories: Vec<StoryRef> = (1..=8).map(|d| c.assign(&a, day(d), None, &[]).unwrap().story).collect();
        assert!(stories[..6].iter().all(|s| *s == stories[0]), "{stories:?}");
        assert_ne!(stories[6], stories[0]);
    }

    #[test]
    fn restored_stories_take_new_members() {
        let dim = 32;
        let mut c = OnlineClusterer::new(ClusterConfig::default(), dim);
        for e in 0..4 {
            let v = event_vec(e, 0.0, dim);
            c.observe(&v, None, &[]).unwrap();
            c.restore(100 + e as i64, &v, day(2), None, &[]).unwrap();
        }
        let v = event_vec(2, 0.01, dim);
        c.observe(&v, None, &[]).unwrap();
        let a = c.assign(&v, day(3), None, &[]).unwrap();
        assert_eq!(a.story, StoryRef::Existing(102));
        assert!(!a.started_new);
    }

    /// Articles about `event` in `lang`: a shared component, a language direction stronger
    /// than the event direction, as in multilingual models.
    fn bilingual(event: usize, lang: usize, dim: usize) -> Vec<f32> {
        let mut v = vec![0.3f32; dim];
        v[20 + lang] += 0.35;
        v[event] += 0.25;
        unit(v)
    }

    #[test]
    fn per_language_centring_links_languages() {
        let dim = 32;
        let langs = ["en", "de"];
        let run = |cfg: ClusterConfig| {
            let mut c = OnlineClusterer::new(cfg, dim);
            let items: Vec<(usize, usize)> = (0..4).flat_map(|e| (0..2).map(move |l| (e, l))).collect();
            for &(e, l) in &items {
                c.observe(&bilingual(e, l, dim), Some(langs[l]), &[]).unwrap();
            }
            let stories: Vec<StoryRef> = items
                .iter()
                .map(|&(e, l)| c.assign(&bilingual(e, l, dim), day(5), Some(langs[l]), &[]).unwrap().story)
                .collect();
            (items, stories)
        };
        let per_lang = ClusterConfig { language_prior: 0.0, ..Default::default() };
        let (items, stories) = run(per_lang);
        for i in 0..items.len() {
            for j in 0..items.len() {
                assert_eq!(items[i].0 == items[j].0, stories[i] == stories[j], "per-language: {i} {j}");
            }
        }
        let global = ClusterConfig { centre_per_language: false, ..Default::default() };
        let (items, stories) = run(global);
        let cross_joined = (0..items.len())
            .flat_map(|i| (0..items.len()).map(move |j| (i, j)))
            .filter(|&(i, j)| items[i].0 == items[j].0 && items[i].1 != items[j].1 && stories[i] == stories[j])
            .count();
        assert_eq!(cross_joined, 0, "with one global mean the language direction wins");
    }

    #[test]
    fn shared_names_and_numbers_decide_between_close_stories() {
        // Two stories whose vectors are equally near a third article's; the article
        // shares its distinctive terms with the first story only.
        let dim = 16;
        let mut v1 = vec![0.0f32; dim];
        v1[0] = 1.0;
        let mut v2 = vec![0.0f32; dim];
        v2[1] = 1.0;
        let mut v3 = vec![0.0f32; dim];
        (v3[0], v3[1]) = (0.69, 0.72);
        let common: Vec<(u64, f32)> = (100..110).map(|t| (t, 1.0)).collect();
        let with = |extra: &[u64]| {
            let mut t = common.clone();
            t.extend(extra.iter().map(|&x| (x, 2.0)));
            t.sort_unstable_by_key(|x| x.0);
            t
        };
        let (t1, t2, t3) = (with(&[1, 2, 3]), with(&[7, 8, 9]), with(&[1, 2, 3]));
        let placed = |lexical_weight: f32| {
            let config = ClusterConfig { centre: false, threshold: 0.4, lexical_weight, ..ClusterConfig::default() };
            let mut c = OnlineClusterer::new(config, dim);
            for (v, t) in [(&v1, &t1), (&v2, &t2), (&v3, &t3)] {
                c.observe(v, None, t).unwrap();
            }
            let a = c.assign(&v1, day(1), None, &t1).unwrap().story;
            let b = c.assign(&v2, day(1), None, &t2).unwrap().story;
            assert_ne!(a, b);
            let third = c.assign(&v3, day(1), None, &t3).unwrap().story;
            (third == a, third == b)
        };
        assert_eq!(placed(0.0), (false, true), "without lexical evidence the vector decides");
        assert_eq!(placed(0.3), (true, false), "shared names and numbers tip the balance");
    }

    /// Articles of `events` events in three languages over a month, with terms, in time
    /// order; deterministic noise.
    type Arrival = (Vec<f32>, &'static str, Vec<(u64, f32)>, Option<DateTime<Utc>>);

    fn stream(n: usize, dim: usize) -> Vec<Arrival> {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut noise = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let langs = ["en", "de", "fr"];
        (0..n)
            .map(|i| {
                let event = (i / 3) % 40;
                let lang = i % 3;
                let mut v: Vec<f32> = (0..dim).map(|_| 0.3 + 0.08 * noise()).collect();
                v[event % dim] += 0.3;
                v[(dim - 1 - lang) % dim] += 0.2;
                let terms = vec![(event as u64, 2.0), (1000 + (i % 7) as u64, 1.0), (7, 1.0)];
                (unit(v), langs[lang], terms, day(1 + (i * 28 / n) as u32))
            })
            .collect()
    }

    /// The same articles in the same order give the same stories whether they come in one
    /// call or in several, each later call starting from saved statistics and the stories
    /// restored from their members (as a restarted process does).
    #[test]
    fn the_same_articles_give_the_same_stories_in_one_call_or_several() {
        let dim = 24;
        let config = ClusterConfig { lexical_weight: 0.3, ..ClusterConfig::default() };
        let items = stream(600, dim);
        let mut one = OnlineClusterer::new(config, dim);
        let mut whole = Vec::new();
        for (v, lang, terms, t) in &items {
            one.observe(v, Some(lang), terms).unwrap();
            whole.push(one.assign(v, *t, Some(lang), terms).unwrap());
        }
        // Calls ending at 100, 257 (past a refresh), 300 and 512; ids as a store gives them.
        let mut story_of: Vec<i64> = Vec::new();
        let mut parts = Vec::new();
        let mut bytes = OnlineClusterer::new(config, dim).observed_bytes();
        let mut start = 0;
        for end in [100, 257, 300, 512, 600] {
            let mut c = OnlineClusterer::with_observed(config, dim, &bytes).unwrap();
            for (k, (v, lang, terms, t)) in items[..start].iter().enumerate() {
                c.restore(story_of[k], v, *t, Some(lang), terms).unwrap();
            }
            let base = story_of.iter().max().map_or(0, |m| m + 1);
            for (v, lang, terms, t) in &items[start..end] {
                c.observe(v, Some(lang), terms).unwrap();
                let a = c.assign(v, *t, Some(lang), terms).unwrap();
                story_of.push(match a.story {
                    StoryRef::Existing(id) => id,
                    StoryRef::New(k) => base + k as i64,
                });
                parts.push(a.best_similarity);
            }
            bytes = c.observed_bytes();
            start = end;
        }
        assert_eq!(parts, whole.iter().map(|a| a.best_similarity).collect::<Vec<_>>(), "the same similarities");
        let canonical = |ids: Vec<String>| {
            let mut first = std::collections::HashMap::new();
            ids.iter()
                .map(|id| {
                    let next = first.len();
                    *first.entry(id.clone()).or_insert(next)
                })
                .collect::<Vec<_>>()
        };
        let split: Vec<String> = story_of.iter().map(|s| s.to_string()).collect();
        let together: Vec<String> = whole.iter().map(|a| format!("{:?}", a.story)).collect();
        assert_eq!(canonical(split), canonical(together), "the same partition");
        assert!(one.story_count() > 30 && one.story_count() < 300, "{} stories", one.story_count());
    }

    #[test]
    fn bad_vectors_are_errors_not_panics() {
        let mut c = OnlineClusterer::new(ClusterConfig::default(), 4);
        assert_eq!(c.assign(&[1.0, 0.0], None, None, &[]), Err(ClusterError::Dimension { got: 2, want: 4 }));
        assert_eq!(c.observe(&[f32::NAN, 0.0, 0.0, 0.0], None, &[]), Err(ClusterError::NonFinite));
        // A zero vector and undated articles are fine.
        assert!(c.assign(&[0.0; 4], None, None, &[]).unwrap().started_new);
    }

    #[test]
    fn saved_observations_continue_exactly() {
        let dim = 16;
        let config = ClusterConfig { lexical_weight: 0.3, ..ClusterConfig::default() };
        let mut full = OnlineClusterer::new(config, dim);
        let terms = |k: u64| vec![(k, 1.0), (k + 100, 2.0), (7, 1.0)];
        let langs = ["en", "de", "fr"];
        for k in 0..30 {
            full.observe(&event_vec(k % 5, 0.01 * k as f32, dim), Some(langs[k % 3]), &terms(k as u64 % 5)).unwrap();
        }
        let bytes = full.observed_bytes();
        let mut resumed = OnlineClusterer::with_observed(config, dim, &bytes).unwrap();
        assert_eq!(resumed.observed_bytes(), bytes);
        assert_eq!((resumed.observed(), resumed.observed_docs()), (30, 30));
        // The same arrivals give the same stories and similarities.
        for k in 0..10 {
            let v = event_vec(k % 4, 0.02, dim);
            let (a, b) = (
                full.assign(&v, None, Some(langs[k % 3]), &terms(k as u64 % 4)).unwrap(),
                resumed.assign(&v, None, Some(langs[k % 3]), &terms(k as u64 % 4)).unwrap(),
            );
            assert_eq!(a, b);
        }
        // Damaged or foreign bytes are refused, never half-read.
        assert!(OnlineClusterer::with_observed(config, dim, &bytes[..bytes.len() - 3]).is_err());
        assert!(OnlineClusterer::with_observed(config, dim + 1, &bytes).is_err());
        assert!(OnlineClusterer::with_observed(config, dim, b"garbage").is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(OnlineClusterer::with_observed(config, dim, &long).is_err());
    }
}
