//! `chorus bench cluster`: how fast articles go through embedding and clustering.
//!
//! Two parts, reported separately:
//!
//! * real articles (the demo corpus, cycled to the requested count) through the model and
//!   the online clusterer: articles/s of embedding and of clustering;
//! * the clusterer alone on synthetic vectors, at growing numbers of stories. Stories
//!   arrive at a steady rate over time (as news does), so the stories open within the time
//!   window stay bounded while the total grows: the cost per article should stay flat. A
//!   second curve puts every story in one day (nothing can close), the worst case.

use chorus_cluster::{ClusterConfig, OnlineClusterer};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;
use std::time::Instant;

/// One point of the synthetic curve.
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    /// Stories in the stream.
    pub stories: usize,
    /// Articles clustered.
    pub articles: usize,
    /// Most stories open at once.
    pub max_open: usize,
    /// Microseconds of clustering per article.
    pub us_per_article: f64,
    /// Stories the clusterer formed.
    pub stories_formed: usize,
}

/// Deterministic pseudo-random numbers (splitmix64), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gaussian(&mut self) -> f32 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// One synthetic article: arrival time, vector, terms.
type StreamItem = (DateTime<Utc>, Vec<f32>, Vec<(u64, f32)>);

/// Clusters a synthetic stream of `stories` stories of three articles each, `per_day`
/// stories starting per day (all on one day when `per_day` is `None`). Vectors share a
/// common component, as e5's do, plus a story direction and noise. Each article also
/// carries terms for lexical evidence: 30 drawn from its story's 40 and 30 from 5,000
/// words common to all stories (Zipf-like, so frequent ones are shared widely).
pub fn synthetic(stories: usize, per_day: Option<usize>, dim: usize, config: ClusterConfig) -> CurvePoint {
    let mut rng = Rng(0xC0FFEE ^ stories as u64);
    let common = unit((0..dim).map(|_| rng.gaussian()).collect());
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
    let mut stream: Vec<StreamItem> = Vec::with_capacity(stories * 3);
    for s in 0..stories {
        let dir = unit((0..dim).map(|_| rng.gaussian()).collect());
        let story_terms: Vec<u64> = (0..40).map(|_| rng.next_u64()).collect();
        let day = per_day.map(|r| s / r.max(1)).unwrap_or(0) as i64;
        for k in 0..3 {
            let noise: Vec<f32> = (0..dim).map(|_| rng.gaussian() * 0.35 / (dim as f32).sqrt()).collect();
            let v: Vec<f32> = (0..dim).map(|i| 0.85 * common[i] + 0.5 * dir[i] + noise[i]).collect();
            let t = start + Duration::days(day) + Duration::hours(k * 9 + (s % 7) as i64);
            let mut terms: Vec<(u64, f32)> = Vec::with_capacity(60);
            for _ in 0..30 {
                terms.push((story_terms[(rng.next_u64() % 40) as usize], 1.0));
                terms.push((((5000.0 * rng.uniform().powi(3)) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), 1.0));
            }
            stream.push((t, unit(v), chorus_text::terms::merge(terms)));
        }
    }
    stream.sort_by_key(|(t, _, _)| *t);
    let mut c = OnlineClusterer::new(config, dim);
    let mut max_open = 0;
    // As the product clusters: each article observed, then placed (the statistics'
    // snapshots and the story rebuilds they cause are part of the cost).
    let t0 = Instant::now();
    for (t, v, terms) in &stream {
        let _ = c.observe(v, None, terms);
        let _ = c.assign(v, Some(*t), None, terms);
        max_open = max_open.max(c.open_story_count());
    }
    let secs = t0.elapsed().as_secs_f64();
    CurvePoint {
        stories,
        articles: stream.len(),
        max_open,
        us_per_article: secs * 1e6 / stream.len() as f64,
        stories_formed: c.story_count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_stream_forms_its_stories_and_closes_old_ones() {
        let p = synthetic(300, Some(50), 64, ClusterConfig::default());
        assert_eq!(p.articles, 900);
        // Each story's three articles should mostly end up together.
        assert!(p.stories_formed >= 270 && p.stories_formed <= 400, "{p:?}");
        assert!(p.max_open < 300, "old stories close: {p:?}");
        let all_at_once = synthetic(300, None, 64, ClusterConfig::default());
        assert!(all_at_once.max_open >= all_at_once.stories_formed.min(300) - 5);
    }
}

/// Embedding and clustering speed on real articles.
#[derive(Debug, Clone, Serialize)]
pub struct RealBench {
    /// Articles processed.
    pub articles: usize,
    /// Seconds embedding them.
    pub embed_secs: f64,
    /// Seconds clustering them.
    pub cluster_secs: f64,
    /// Articles/s through the model.
    pub embed_articles_per_s: f64,
    /// Articles/s through the clusterer.
    pub cluster_articles_per_s: f64,
    /// Articles/s through both.
    pub articles_per_s: f64,
    /// Share of the time spent embedding.
    pub embed_share: f64,
}

/// Embeds and clusters `n` articles of the demo corpus (cycled when `n` is larger), in
/// publication order, with the product's settings.
pub fn real(
    n: usize,
    embedder: &dyn chorus_embed::Embedder,
    config: &crate::settings::PipelineSettings,
) -> Result<RealBench, crate::pipeline::PipelineError> {
    let mut corpus = Vec::new();
    for (_, text) in crate::demo::DEMO_CORPUS {
        let batch = chorus_ingest::read_jsonl(text.as_bytes())
            .map_err(|e| crate::pipeline::PipelineError::Io { path: "demo corpus".into(), source: e })?;
        corpus.extend(batch.articles.into_iter().map(|(_, a)| a));
    }
    corpus.sort_by_key(|a| a.published);
    let articles: Vec<_> = corpus.iter().cycle().take(n.min(corpus.len() * 1000)).collect();
    let texts: Vec<String> =
        articles.iter().map(|a| crate::pipeline::article_embedding_text(a, config.lead_chars)).collect();
    let t = Instant::now();
    let mut vectors = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(64) {
        vectors.extend(embedder.embed(chunk)?);
    }
    let embed_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut c = OnlineClusterer::new(config.cluster, embedder.dim());
    // As in the pipeline: each article observed, then placed.
    let terms: Vec<Vec<(u64, f32)>> = articles.iter().map(|a| crate::pipeline::article_terms(a)).collect();
    for ((a, v), t) in articles.iter().zip(&vectors).zip(&terms) {
        let err = |source| crate::pipeline::PipelineError::Cluster { article: a.id.clone(), source };
        c.observe(v, Some(&a.lang), t).map_err(err)?;
        c.assign(v, a.published, Some(&a.lang), t).map_err(err)?;
    }
    let cluster_secs = t.elapsed().as_secs_f64();
    let n = articles.len() as f64;
    let rate = |s: f64| if s > 0.0 { n / s } else { 0.0 };
    Ok(RealBench {
        articles: articles.len(),
        embed_secs,
        cluster_secs,
        embed_articles_per_s: rate(embed_secs),
        cluster_articles_per_s: rate(cluster_secs),
        articles_per_s: rate(embed_secs + cluster_secs),
        embed_share: embed_secs / (embed_secs + cluster_secs).max(f64::EPSILON),
    })
}

/// One run of the whole pipeline over the demo corpus (`chorus bench pipeline`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PipelineFigures {
    /// The embedding runtime (`candle` or `onnx`).
    pub embedder: String,
    /// Inference threads.
    pub threads: usize,
    /// Articles ingested.
    pub articles: usize,
    /// Stories written.
    pub stories: usize,
    /// Editions written.
    pub editions: usize,
    /// Seconds from the first line read to the last edition stored (model load excluded).
    pub end_to_end_secs: f64,
    /// Articles per second, end to end.
    pub end_to_end_articles_per_s: f64,
    /// Articles embedded per second.
    pub embed_articles_per_s: f64,
    /// Stories written per second (sentence embedding included).
    pub synth_stories_per_s: f64,
    /// Seconds per stage: ingest, embed, cluster, synthesise.
    pub stage_secs: [f64; 4],
    /// Seconds loading (and, the first time, fetching) the model; not in end to end.
    pub model_load_secs: f64,
    /// Peak resident memory of the process, in bytes (`VmHWM`; 0 where unknown).
    pub peak_rss_bytes: u64,
    /// Candidate sentences embedded while writing (not found in the sentence cache).
    #[serde(default)]
    pub sentences_embedded: usize,
    /// Seconds inside the model (articles and sentences), tokenizing included.
    #[serde(default)]
    pub model_secs: f64,
    /// Share of end to end spent inside the model.
    #[serde(default)]
    pub model_share: f64,
    /// Tokens embedded (articles and sentences, after truncation).
    #[serde(default)]
    pub embed_tokens: u64,
    /// Positions the model computed (tokens plus batch padding).
    #[serde(default)]
    pub embed_positions: u64,
    /// Tokens per second inside the model.
    #[serde(default)]
    pub embed_tokens_per_s: f64,
}

/// An embedder that measures the time spent in another one (for `bench pipeline`).
struct TimedEmbedder<'a> {
    inner: &'a dyn chorus_embed::Embedder,
    nanos: std::sync::atomic::AtomicU64,
}

impl chorus_embed::Embedder for TimedEmbedder<'_> {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, chorus_embed::EmbedError> {
        let t = Instant::now();
        let out = self.inner.embed(texts);
        let nanos = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
        out
    }
    fn usage(&self) -> chorus_embed::EmbedUsage {
        self.inner.usage()
    }
}

/// Runs the demo corpus through a fresh SQLite store in `data_dir` with `settings`
/// (ingest → embed → cluster → write every edition) and times it.
pub fn pipeline(
    settings: &crate::settings::Settings,
    data_dir: &std::path::Path,
) -> Result<PipelineFigures, crate::service::ServiceError> {
    use crate::pipeline;
    let t = Instant::now();
    let embedder = crate::service::load_embedder(&settings.pipeline)?;
    let model_load_secs = t.elapsed().as_secs_f64();
    let timed = TimedEmbedder { inner: embedder.as_ref(), nanos: std::sync::atomic::AtomicU64::new(0) };
    let store = chorus_store::SqliteStore::open(&data_dir.join("chorus.db"))?;
    let start = Instant::now();
    let mut dedup = pipeline::load_dedup_index(&store)?;
    let mut articles = 0;
    for (name, text) in crate::demo::DEMO_CORPUS {
        let r = pipeline::ingest_jsonl(
            &store,
            text.as_bytes(),
            name,
            data_dir,
            &mut dedup,
            settings.pipeline.duplicate_threshold,
        )?;
        articles += r.inserted;
    }
    let ingest_secs = start.elapsed().as_secs_f64();
    let p = pipeline::process(&store, &timed, &settings.pipeline, None, &mut |_, _, _| {})?;
    let end_to_end_secs = start.elapsed().as_secs_f64();
    let model_secs = timed.nanos.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9;
    let usage = chorus_embed::Embedder::usage(&timed);
    let rate = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    Ok(PipelineFigures {
        embedder: format!("{:?}", settings.pipeline.embedder).to_lowercase(),
        threads: settings.pipeline.threads,
        articles,
        stories: p.synth.stories,
        editions: p.synth.articles,
        end_to_end_secs,
        end_to_end_articles_per_s: rate(articles, end_to_end_secs),
        embed_articles_per_s: rate(p.embedded, p.embed_secs),
        synth_stories_per_s: rate(p.synth.stories, p.synth_secs),
        stage_secs: [ingest_secs, p.embed_secs, p.cluster_secs, p.synth_secs],
        model_load_secs,
        peak_rss_bytes: peak_rss_bytes(),
        sentences_embedded: p.synth.sentences_embedded,
        model_secs,
        model_share: if end_to_end_secs > 0.0 { model_secs / end_to_end_secs } else { 0.0 },
        embed_tokens: usage.tokens,
        embed_positions: usage.positions,
        embed_tokens_per_s: if model_secs > 0.0 { usage.tokens as f64 / model_secs } else { 0.0 },
    })
}

/// This process's peak resident memory (`VmHWM` in `/proc/self/status`), 0 where unknown.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}
