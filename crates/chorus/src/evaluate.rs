//! `chorus eval cluster`: runs an evaluation file through the product's own ingest,
//! embedding and online clustering (on a throw-away in-memory store) and scores the
//! stories against the gold labels.

use crate::pipeline::{self, PipelineError};
use crate::settings::Settings;
use chorus_embed::Embedder;
use chorus_eval::{ClusterEval, EvalArticle};
use chorus_store::prelude::*;
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
    settings: &Settings,
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
        &settings.store.data_dir,
        &mut dedup,
        settings.pipeline.duplicate_threshold,
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
        stored.iter().map(|r| pipeline::article_embedding_text(&r.article, settings.pipeline.lead_chars)).collect();
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
    pipeline::cluster_pending(&store, model, embedder.dim(), settings.pipeline.cluster)?;
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

/// Scores of `chorus eval synth`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SynthEval {
    /// ROUGE-1 F1 of title + article against the reference (0..1).
    pub rouge1: f64,
    /// ROUGE-2 F1.
    pub rouge2: f64,
    /// ROUGE-L F1.
    #[serde(rename = "rougeL")]
    pub rouge_l: f64,
    /// Share of generated sentences found, word for word, in a source passage they cite.
    pub supported_share: f64,
    /// Mean words per generated article (title + text).
    pub mean_words: f64,
    /// Stories written per second (sentence embedding included).
    pub stories_per_s: f64,
    /// Stories scored.
    pub stories: usize,
    /// Generated sentences.
    pub sentences: usize,
    /// With a model stage: articles the model wrote, articles left extractive, and
    /// generated sentences dropped by verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmEval>,
}

/// What the model stage did during `eval synth`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LlmEval {
    /// Model id.
    pub model: String,
    /// Articles written by the model.
    pub written: usize,
    /// Articles left extractive (model failed or nothing passed).
    pub fallbacks: usize,
    /// Generated sentences kept.
    pub kept: usize,
    /// Generated sentences (and headlines) dropped.
    pub dropped: usize,
    /// Requests, cache hits, failures, tokens and cost.
    pub usage: chorus_llm::UsageTotals,
}

/// One generated article with its scores, as `--out` writes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GeneratedStory {
    /// Story id from the input.
    pub id: String,
    /// The article as chorus stores it.
    pub article: chorus_core::StoryArticle,
    /// Its title and text as one string (what was scored).
    pub text: String,
    /// ROUGE-1/2/L F1 of this story.
    pub rouge: [f64; 3],
}

/// Whether a sentence is supported by what it cites: a quoted sentence is found verbatim
/// in a cited source article; a generated one passes verification against its cited
/// claims again (claims exist, names, numbers and quotations in them).
fn supported(
    sentence: &chorus_core::SynthSentence,
    article: &chorus_core::StoryArticle,
    sources: &[chorus_core::ArticleRecord],
) -> bool {
    if sentence.generated {
        let drafted = chorus_synth::llm::Drafted {
            text: sentence.text.clone(),
            cited: sentence.claims.iter().map(|c| c + 1).collect(),
            translated_quote: sentence.translated_quote,
        };
        return chorus_synth::llm::verify(&drafted, article, None, &Default::default()).is_ok();
    }
    sentence.sources.iter().any(|p| {
        sources.iter().any(|r| {
            r.article.id == p.article_id && p.sentence == sentence.text && r.article.text.contains(&sentence.text)
        })
    })
}

/// Writes every story's article with the product's synthesiser (in the story's language),
/// scores it against the reference with ROUGE (`rouge-score`'s definition, Porter
/// stemming), and checks that each sentence traces to its cited sources. Sentence vectors
/// come from `vector_cache` when given (tuning), else from a throw-away store.
pub fn synth(
    stories: &[chorus_eval::synth::SynthStory],
    embedder: &dyn Embedder,
    config: &crate::settings::PipelineSettings,
    vector_cache: Option<&dyn Store>,
    llm: Option<&crate::llm::LlmStage>,
    mut each: impl FnMut(&GeneratedStory),
) -> Result<SynthEval, PipelineError> {
    let scratch;
    let cache: &dyn Store = match vector_cache {
        Some(c) => c,
        None => {
            scratch = SqliteStore::open_in_memory()?;
            &scratch
        }
    };
    let rouge = chorus_eval::rouge::Rouge::new(true);
    let (mut sums, mut supported_n, mut sentences, mut words) = ([0f64; 3], 0usize, 0usize, 0usize);
    let now = chrono::Utc::now();
    let mut llm_report = pipeline::SynthReport::default();
    let mut llm_kept = 0;
    let t = Instant::now();
    for (k, story) in stories.iter().enumerate() {
        let sources = story_sources(story, config.duplicate_threshold);
        let cands = chorus_synth::candidates(&sources, &config.synth);
        let (vectors, _) = pipeline::candidate_vectors(cache, embedder, &sources, &cands)?;
        let mut article =
            chorus_synth::write(k as i64 + 1, &sources, &cands, vectors.as_deref(), &story.lang, &config.synth, now);
        if let Some(stage) = llm {
            article = pipeline::rewrite_with_llm(cache, embedder, stage, &article, &mut llm_report);
            if let Some(g) = &article.generation {
                llm_kept += g.kept;
            }
        }
        let body: Vec<&str> = article.paragraphs.iter().flatten().map(|s| s.text.as_str()).collect();
        let text = format!("{}\n{}", article.title, body.join(" "));
        let reference = format!("{}\n{}", story.reference.title, story.reference.text);
        let s = rouge.score(&text, &reference);
        let scores = [s.rouge1.f1, s.rouge2.f1, s.rouge_l.f1];
        for (sum, x) in sums.iter_mut().zip(scores) {
            *sum += x;
        }
        for sentence in article.paragraphs.iter().flatten() {
            sentences += 1;
            supported_n += usize::from(supported(sentence, &article, &sources));
        }
        words += text.split_whitespace().count();
        each(&GeneratedStory { id: story.id.clone(), article, text, rouge: scores });
    }
    let secs = t.elapsed().as_secs_f64();
    let n = stories.len().max(1) as f64;
    Ok(SynthEval {
        rouge1: sums[0] / n,
        rouge2: sums[1] / n,
        rouge_l: sums[2] / n,
        supported_share: if sentences == 0 { 0.0 } else { supported_n as f64 / sentences as f64 },
        mean_words: words as f64 / n,
        stories_per_s: if secs > 0.0 { stories.len() as f64 / secs } else { 0.0 },
        stories: stories.len(),
        sentences,
        llm: llm.map(|stage| LlmEval {
            model: stage.model.id(),
            written: llm_report.llm_written,
            fallbacks: llm_report.llm_fallbacks,
            kept: llm_kept,
            dropped: llm_report.llm_dropped,
            usage: stage.usage.totals(),
        }),
    })
}

/// A story's sources as stored articles, reprints marked as the ingest stage marks them.
fn story_sources(story: &chorus_eval::synth::SynthStory, duplicate_threshold: f64) -> Vec<chorus_core::ArticleRecord> {
    let mut dedup = chorus_text::dedup::DedupIndex::new();
    story
        .sources
        .iter()
        .map(|s| {
            let id = format!("{}/{}", story.id, s.id);
            let fp = chorus_text::dedup::Fingerprint::of(&s.text);
            let duplicate_of = dedup.find(&fp, duplicate_threshold).map(|m| m.key);
            dedup.insert(id.clone(), fp);
            chorus_core::ArticleRecord {
                article: chorus_core::Article {
                    id,
                    url: String::new(),
                    outlet: s.outlet.clone().unwrap_or_else(|| format!("source {}", s.id)),
                    lang: s.lang.clone().unwrap_or_else(|| story.lang.clone()),
                    lang_detected: false,
                    published: None,
                    title: s.title.clone(),
                    text: s.text.clone(),
                    authors: Vec::new(),
                },
                duplicate_of,
                story_id: Some(1),
            }
        })
        .collect()
}

/// Scores of `chorus eval extract`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExtractEval {
    /// Mean shingle precision over pages (the benchmark's definition).
    pub precision: f64,
    /// Mean shingle recall over pages.
    pub recall: f64,
    /// F1 of the two means.
    pub f1: f64,
    /// Pages extracted per second (decompression and reading excluded).
    pub pages_per_s: f64,
    /// Pages scored.
    pub pages: usize,
    /// Pages where extraction failed (scored as an empty body), with the reason.
    pub failures: Vec<String>,
    /// Which metric: `shingles` (article-extraction benchmark) or `snippets`
    /// (trafilatura's evaluation set).
    pub metric: &'static str,
    /// Snippet sets only: scores per top-level domain of the page's URL (a stand-in for
    /// the language: `de`, `fr`, `pl`, `com`…), largest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_tld: Vec<TldScores>,
}

/// Snippet scores of the pages under one top-level domain.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TldScores {
    /// The top-level domain (`de`, `com`, …).
    pub tld: String,
    /// Pages under it.
    pub pages: usize,
    /// Snippet precision.
    pub precision: f64,
    /// Snippet recall.
    pub recall: f64,
    /// Snippet F1.
    pub f1: f64,
}

/// One page of a snippet set as `--report` shows it: what was missed and what was kept.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PageReport {
    /// The page's URL.
    pub url: String,
    /// Its HTML file.
    pub file: String,
    /// `with` snippets missing from the output.
    pub missed: Vec<String>,
    /// `without` snippets (boilerplate) the output kept.
    pub kept: Vec<String>,
    /// Why extraction failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Which extractor's text was taken.
    pub extractor: &'static str,
    /// Characters of output.
    pub chars: usize,
}

/// Runs the product's page extractor over an article-extraction benchmark folder
/// (`ground-truth.json`, `html/{id}.html.gz`) and scores it with the benchmark's metric.
/// `each` receives every page's id and predicted body (for the prediction file).
pub fn extract(
    dir: &std::path::Path,
    mut each: impl FnMut(&str, &str),
) -> Result<ExtractEval, chorus_eval::extraction::BenchmarkError> {
    use chorus_eval::extraction::{read_ground_truth, read_page_html, scores, shingle_matching};
    let pages = read_ground_truth(dir)?;
    let mut counts = Vec::with_capacity(pages.len());
    let mut failures = Vec::new();
    let mut busy = std::time::Duration::ZERO;
    for page in &pages {
        let html = read_page_html(dir, &page.id)?;
        let t = Instant::now();
        let body = match chorus_ingest::extract::extract_page(&html, &page.url) {
            Ok(p) => p.text,
            Err(e) => {
                failures.push(format!("{}: {e}", page.id));
                String::new()
            }
        };
        busy += t.elapsed();
        counts.push(shingle_matching(&page.body, &body));
        each(&page.id, &body);
    }
    let s = scores(&counts);
    let secs = busy.as_secs_f64();
    Ok(ExtractEval {
        precision: s.precision,
        recall: s.recall,
        f1: s.f1,
        pages_per_s: if secs > 0.0 { pages.len() as f64 / secs } else { 0.0 },
        pages: pages.len(),
        failures,
        metric: "shingles",
        by_tld: Vec::new(),
    })
}

/// The top-level domain of a URL's host (`https://www.spiegel.de/x` → `de`).
fn top_level_domain(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().and_then(|h| h.rsplit('.').next()).map(str::to_ascii_lowercase))
        .unwrap_or_else(|| "(no URL)".into())
}

/// Runs the product's page extractor over trafilatura's evaluation set (`evaldata.json`,
/// HTML in `cache/` or `eval/`) and scores it with trafilatura's snippet metric.
/// `each` receives every page's URL and output (for the prediction file); `report` every
/// page's missed and kept snippets.
pub fn extract_snippets(
    dir: &std::path::Path,
    mut each: impl FnMut(&str, &str),
    mut report: impl FnMut(PageReport),
) -> Result<ExtractEval, chorus_eval::snippets::SnippetSetError> {
    use chorus_eval::snippets::{SnippetCounts, read_page, read_snippet_set, score_page};
    let pages = read_snippet_set(dir)?;
    let mut all = SnippetCounts::default();
    let mut tlds: std::collections::BTreeMap<String, (usize, SnippetCounts)> = Default::default();
    let mut failures = Vec::new();
    let mut busy = std::time::Duration::ZERO;
    for page in &pages {
        let html = read_page(dir, page)?;
        let t = Instant::now();
        let extracted = chorus_ingest::extract::extract_page(&html, &page.url);
        busy += t.elapsed();
        let (output, failure, extractor) = match extracted {
            Ok(p) => (Some(p.text), None, p.extractor),
            Err(e) => {
                failures.push(format!("{}: {e}", page.file));
                (None, Some(e.to_string()), "none")
            }
        };
        let verdict = score_page(page, output.as_deref());
        all.add(verdict.counts);
        let tld = tlds.entry(top_level_domain(&page.url)).or_default();
        tld.0 += 1;
        tld.1.add(verdict.counts);
        each(&page.url, output.as_deref().unwrap_or_default());
        report(PageReport {
            url: page.url.clone(),
            file: page.file.clone(),
            missed: verdict.missed,
            kept: verdict.kept,
            failure,
            extractor,
            chars: output.as_deref().map_or(0, |o| o.chars().count()),
        });
    }
    let (precision, recall, f1) = all.scores();
    let mut by_tld: Vec<TldScores> = tlds
        .into_iter()
        .map(|(tld, (pages, c))| {
            let (precision, recall, f1) = c.scores();
            TldScores { tld, pages, precision, recall, f1 }
        })
        .collect();
    by_tld.sort_by(|a, b| b.pages.cmp(&a.pages).then_with(|| a.tld.cmp(&b.tld)));
    let secs = busy.as_secs_f64();
    Ok(ExtractEval {
        precision,
        recall,
        f1,
        pages_per_s: if secs > 0.0 { pages.len() as f64 / secs } else { 0.0 },
        pages: pages.len(),
        failures,
        metric: "snippets",
        by_tld,
    })
}
