//! `chorus eval cluster`: runs an evaluation file through the product's own ingest,
//! embedding and online clustering (on a throw-away in-memory store) and scores the
//! stories against the gold labels.

use crate::config::Config;
use crate::pipeline::{self, PipelineError};
use chorus_embed::Embedder;
use chorus_eval::{ClusterEval, EvalArticle};
use chorus_store::{SqliteStore, Store};
use std::time::Instant;
use xxhash_rust::xxh3::xxh3_64;

/// Runs the articles, in `published` order (file order where absent), through ingest,
/// embedding and clustering, and scores the result. `vector_cache`, when given, supplies
/// and keeps article vectors by text, so repeated runs (tuning) skip the model; the
/// reported embedding speed then covers only the vectors computed.
pub fn cluster(
    articles: &[EvalArticle],
    embedder: &dyn Embedder,
    config: &Config,
    vector_cache: Option<&dyn Store>,
) -> Result<ClusterEval, PipelineError> {
    let store = SqliteStore::open_in_memory()?;
    let mut jsonl = String::new();
    for a in articles {
        let rec = serde_json::json!({
            "id": a.id, "url": "", "outlet": "eval", "lang": a.lang, "published": a.published,
            "title": a.title, "text": a.text,
        });
        jsonl.push_str(&rec.to_string());
        jsonl.push('\n');
    }
    let mut dedup = chorus_text::dedup::DedupIndex::new();
    let report = pipeline::ingest_jsonl(
        &store,
        jsonl.as_bytes(),
        "eval",
        &config.data_dir,
        &mut dedup,
        config.duplicate_threshold,
    )?;
    if report.inserted != articles.len() {
        let first = report.issues.iter().find(|i| i.severity == chorus_ingest::Severity::Rejected);
        return Err(PipelineError::Io {
            path: "evaluation input".into(),
            source: std::io::Error::other(format!(
                "only {} of {} articles were accepted by ingest; first problem: {}",
                report.inserted,
                articles.len(),
                first.map(ToString::to_string).unwrap_or_default()
            )),
        });
    }

    // Embedding, timed on its own (vectors cached by text when a cache is given).
    let model = embedder.model_id();
    let stored = store.articles_without_vector(model)?;
    let texts: Vec<String> =
        stored.iter().map(|r| pipeline::article_embedding_text(&r.article, config.lead_chars)).collect();
    let keys: Vec<u64> = texts.iter().map(|t| xxh3_64(t.as_bytes())).collect();
    let mut cached = match vector_cache {
        Some(c) => c.sentence_vectors(model, &keys)?,
        None => Default::default(),
    };
    let missing: Vec<usize> = (0..texts.len()).filter(|&i| !cached.contains_key(&keys[i])).collect();
    let t = Instant::now();
    for chunk in missing.chunks(64) {
        let batch: Vec<String> = chunk.iter().map(|&i| texts[i].clone()).collect();
        let vectors = embedder.embed(&batch)?;
        let rows: Vec<(u64, Vec<f32>)> = chunk.iter().map(|&i| keys[i]).zip(vectors).collect();
        if let Some(c) = vector_cache {
            c.put_sentence_vectors(model, &rows)?;
        }
        cached.extend(rows);
    }
    let embed_secs = t.elapsed().as_secs_f64();
    let rows: Vec<(String, Vec<f32>)> = stored
        .iter()
        .zip(&keys)
        .filter_map(|(r, k)| cached.get(k).map(|v| (r.article.id.clone(), v.clone())))
        .collect();
    store.put_article_vectors(model, &rows)?;

    let t = Instant::now();
    pipeline::cluster_pending(&store, model, embedder.dim(), config.cluster)?;
    let cluster_secs = t.elapsed().as_secs_f64();

    let mut gold = Vec::with_capacity(articles.len());
    let mut pred = Vec::with_capacity(articles.len());
    let mut langs = Vec::with_capacity(articles.len());
    for a in articles {
        let rec = store.article(&a.id)?.ok_or_else(|| PipelineError::Io {
            path: "evaluation store".into(),
            source: std::io::Error::other(format!("article {} vanished", a.id)),
        })?;
        gold.push(a.cluster.clone());
        pred.push(rec.story_id.unwrap_or(-1));
        langs.push(a.lang.clone().unwrap_or(rec.article.lang));
    }
    let mut scores = chorus_eval::score_clustering(&gold, &pred, &langs);
    let n = articles.len() as f64;
    let per_s = |secs: f64, count: f64| if secs > 0.0 { count / secs } else { 0.0 };
    scores.embed_articles_per_s = per_s(embed_secs, missing.len() as f64);
    scores.cluster_articles_per_s = per_s(cluster_secs, n);
    scores.articles_per_s = per_s(embed_secs + cluster_secs, n);
    Ok(scores)
}
