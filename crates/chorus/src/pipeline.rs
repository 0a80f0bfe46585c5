//! The pipeline stages over a [`Store`]: each stage picks up what the previous one left
//! and is idempotent, so running the pipeline twice on the same data changes nothing.

use crate::llm::LlmStage;
use chorus_cluster::{OnlineClusterer, StoryRef};
use chorus_core::{Article, StoryArticle, StoryId};
use chorus_embed::{E5_QUERY_PREFIX, EmbedError, Embedder};
use chorus_ingest::{Issue, Severity};
use chorus_store::{ClusterState, InsertOutcome, NewArticle, Store, StoreError};
use chorus_synth::SynthConfig;
use chorus_text::dedup::{DedupIndex, Fingerprint};
use chrono::Utc;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64;

/// Errors that stop a pipeline stage.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The embedding model failed.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The clusterer rejected a vector.
    #[error("clustering article {article}: {source}")]
    Cluster {
        /// Article being clustered.
        article: String,
        /// What was wrong.
        source: chorus_cluster::ClusterError,
    },
    /// Reading input or writing the rejected-lines file failed.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Result alias for pipeline stages.
pub type Result<T> = std::result::Result<T, PipelineError>;

/// What ingesting one input did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct IngestReport {
    /// Name of the input (file path or "demo:…").
    pub source: String,
    /// Non-blank lines read.
    pub lines: usize,
    /// Articles newly stored.
    pub inserted: usize,
    /// Articles already stored with the same content.
    pub unchanged: usize,
    /// Newly stored articles that duplicate an earlier text (exactly or nearly).
    pub duplicates: usize,
    /// Lines rejected (kept in `rejected_file`).
    pub rejected: usize,
    /// Ids already stored with different content (stored version kept).
    pub conflicts: Vec<String>,
    /// Newly stored articles per language.
    pub per_lang: BTreeMap<String, usize>,
    /// Every warning and rejection, naming its line.
    pub issues: Vec<Issue>,
    /// Where rejected lines were written, verbatim with the reason.
    pub rejected_file: Option<PathBuf>,
}

impl IngestReport {
    /// Whether anything in the input could not be stored as given.
    pub fn has_errors(&self) -> bool {
        self.rejected > 0 || !self.conflicts.is_empty()
    }
}

/// Rebuilds the duplicate index from the fingerprints in the store.
pub fn load_dedup_index(store: &dyn Store) -> Result<DedupIndex> {
    let mut index = DedupIndex::new();
    for (id, bytes) in store.fingerprints()? {
        match Fingerprint::from_bytes(&bytes) {
            Some(fp) => index.insert(id, fp),
            None => {
                // Written by another fingerprint version: recompute from the text.
                if let Some(rec) = store.article(&id)? {
                    index.insert(id, Fingerprint::of(&rec.article.text));
                }
            }
        }
    }
    Ok(index)
}

/// The hash that tells a re-run from an edit: xxh3 of URL, outlet, language, date, title and text.
pub fn content_hash(a: &Article) -> String {
    let published = a.published.map(|t| t.to_rfc3339()).unwrap_or_default();
    let joined = [a.url.as_str(), &a.outlet, &a.lang, &published, &a.title, &a.text].join("\u{0}");
    format!("{:016x}", xxh3_64(joined.as_bytes()))
}

/// Reads JSONL articles from `input` into the store. Problems are reported per line in
/// the result; rejected lines are written verbatim to `data_dir/rejected/` so nothing is
/// lost. Only I/O and storage failures are errors.
pub fn ingest_jsonl(
    store: &dyn Store,
    input: impl BufRead,
    source: &str,
    data_dir: &Path,
    dedup: &mut DedupIndex,
    duplicate_threshold: f64,
) -> Result<IngestReport> {
    let batch = chorus_ingest::read_jsonl(input).map_err(|e| PipelineError::Io { path: source.into(), source: e })?;
    let mut report = IngestReport { source: source.to_string(), lines: batch.lines, ..Default::default() };
    let mut new_articles = Vec::with_capacity(batch.articles.len());
    for (_, article) in &batch.articles {
        let fp = Fingerprint::of(&article.text);
        let duplicate_of = dedup.find(&fp, duplicate_threshold).map(|m| m.key).filter(|k| *k != article.id);
        new_articles.push(NewArticle {
            article,
            content_hash: content_hash(article),
            fingerprint: fp.to_bytes(),
            duplicate_of,
        });
        // Later lines of the same input can be copies of this one.
        dedup.insert(article.id.clone(), fp);
    }
    let outcomes = store.insert_articles(&new_articles)?;
    for ((n, outcome), (line, _)) in new_articles.iter().zip(&outcomes).zip(&batch.articles) {
        match outcome {
            InsertOutcome::Inserted => {
                report.inserted += 1;
                *report.per_lang.entry(n.article.lang.clone()).or_default() += 1;
                if n.duplicate_of.is_some() {
                    report.duplicates += 1;
                }
            }
            InsertOutcome::Unchanged => report.unchanged += 1,
            InsertOutcome::Conflict => {
                report.conflicts.push(n.article.id.clone());
                report.issues.push(Issue {
                    line: *line,
                    id: Some(n.article.id.clone()),
                    severity: Severity::Rejected,
                    message: "id already stored with different content; the stored version was kept".into(),
                });
            }
        }
    }
    report.issues.extend(batch.issues);
    report.issues.sort_by_key(|i| i.line);
    report.rejected = batch.rejected.len();
    let conflicted: Vec<(usize, &Article)> = batch
        .articles
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == InsertOutcome::Conflict)
        .map(|((line, a), _)| (*line, a))
        .collect();
    if !batch.rejected.is_empty() || !conflicted.is_empty() {
        let dir = data_dir.join("rejected");
        std::fs::create_dir_all(&dir).map_err(|e| PipelineError::Io { path: dir.clone(), source: e })?;
        let stem: String = Path::new(source)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "input".into())
            .chars()
            .map(|c| if c.is_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
            .collect();
        let path = dir.join(format!("{}-{stem}.jsonl", Utc::now().format("%Y%m%dT%H%M%S%.3fZ")));
        let mut f = std::fs::File::create(&path).map_err(|e| PipelineError::Io { path: path.clone(), source: e })?;
        let mut write = |line: usize, reason: &str, raw: serde_json::Value| {
            let rec = serde_json::json!({"source": source, "line": line, "reason": reason, "raw": raw});
            writeln!(f, "{rec}").map_err(|e| PipelineError::Io { path: path.clone(), source: e })
        };
        for r in &batch.rejected {
            write(r.line, &r.reason, serde_json::Value::String(r.raw.clone()))?;
        }
        for (line, a) in conflicted {
            let raw = serde_json::to_value(a).unwrap_or(serde_json::Value::Null);
            write(line, "id already stored with different content", raw)?;
        }
        report.rejected_file = Some(path);
    }
    Ok(report)
}

/// The text embedded for an article: e5's query prefix, headline and lead.
pub fn article_embedding_text(article: &Article, lead_chars: usize) -> String {
    format!("{E5_QUERY_PREFIX}{}", article.headline_and_lead(lead_chars))
}

/// Characters of headline + text whose terms give the clusterer its lexical evidence
/// (the same prefix the store hands back as `ClusteredVector::lead` after a restart).
pub const LEXICAL_CHARS: usize = 1000;

/// Weight of a name or number relative to another word in lexical evidence.
pub const ENTITY_BOOST: f32 = 2.0;

/// Terms (for TF-IDF evidence) of an article's headline and lead. `lead` is the headline,
/// a newline and the start of the text; the headline's terms count twice.
pub fn lexical_terms(lead: &str) -> Vec<(u64, f32)> {
    let lead: String = lead.chars().take(LEXICAL_CHARS).collect();
    let headline = lead.split('\n').next().unwrap_or("");
    let mut terms = chorus_text::terms::term_counts(&lead, ENTITY_BOOST);
    terms.extend(chorus_text::terms::term_counts(headline, ENTITY_BOOST));
    chorus_text::terms::merge(terms)
}

/// [`lexical_terms`] of an article.
pub fn article_terms(article: &Article) -> Vec<(u64, f32)> {
    let lead: String = format!("{}\n{}", article.title, article.text).chars().take(LEXICAL_CHARS).collect();
    lexical_terms(&lead)
}

/// Embeds every stored article that has no vector from `embedder` yet. A copy of an
/// earlier text reuses the original's vector instead of running the model again.
/// `on_batch` is called with the number of articles done after each batch.
pub fn embed_pending(
    store: &dyn Store,
    embedder: &dyn Embedder,
    lead_chars: usize,
    mut on_batch: impl FnMut(usize, usize),
) -> Result<usize> {
    let model = embedder.model_id();
    let pending = store.articles_without_vector(model)?;
    let total = pending.len();
    let (copies, originals): (Vec<_>, Vec<_>) = pending.iter().partition(|r| r.duplicate_of.is_some());
    let mut done = 0;
    // Originals first, so their copies find the vectors they share.
    for chunk in originals.chunks(64).chain(copies.chunks(256)) {
        embed_and_store(store, embedder, lead_chars, chunk)?;
        done += chunk.len();
        on_batch(done, total);
    }
    Ok(total)
}

/// Gives every article of `batch` its vector and stores them: a copy takes its original's
/// stored vector; everything else (copies whose original has none too) is embedded.
pub fn embed_and_store(
    store: &dyn Store,
    embedder: &dyn Embedder,
    lead_chars: usize,
    batch: &[&chorus_core::ArticleRecord],
) -> Result<()> {
    let model = embedder.model_id();
    let originals: Vec<String> = batch.iter().filter_map(|r| r.duplicate_of.clone()).collect();
    let found = if originals.is_empty() { HashMap::new() } else { store.article_vectors(model, &originals)? };
    let mut rows = Vec::with_capacity(batch.len());
    let mut to_embed = Vec::new();
    for r in batch {
        match r.duplicate_of.as_ref().and_then(|o| found.get(o)) {
            Some(v) => rows.push((r.article.id.clone(), v.clone())),
            None => to_embed.push(*r),
        }
    }
    if !to_embed.is_empty() {
        let texts: Vec<String> = to_embed.iter().map(|r| article_embedding_text(&r.article, lead_chars)).collect();
        rows.extend(to_embed.iter().map(|r| r.article.id.clone()).zip(embedder.embed(&texts)?));
    }
    store.put_article_vectors(model, &rows)?;
    Ok(())
}

/// What clustering did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct ClusterReport {
    /// Articles placed in stories.
    pub clustered: usize,
    /// Stories started.
    pub new_stories: usize,
    /// Articles that joined an existing story.
    pub joined: usize,
    /// Duplicates placed with the report they copy.
    pub with_original: usize,
    /// Stored articles whose stories were restored (only stories still open to the
    /// pending articles, once statistics were saved).
    pub restored: usize,
}

/// Clusters every article not yet in a story, in publication order, continuing from the
/// stories already stored.
pub fn cluster_pending(
    store: &dyn Store,
    model_id: &str,
    dim: usize,
    config: chorus_cluster::ClusterConfig,
) -> Result<ClusterReport> {
    cluster_pending_with(store, model_id, dim, config, Statistics::Saved)
}

/// Where [`cluster_pending_with`] takes what earlier rounds observed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistics {
    /// The statistics saved by the last round, and only the stories still open (falls
    /// back to `Rebuild` when they do not cover exactly the clustered articles).
    Saved,
    /// Every clustered vector, observed again, and every story restored.
    Rebuild,
}

/// [`cluster_pending`], choosing where earlier rounds' observations come from.
pub fn cluster_pending_with(
    store: &dyn Store,
    model_id: &str,
    dim: usize,
    config: chorus_cluster::ClusterConfig,
    statistics: Statistics,
) -> Result<ClusterReport> {
    let mut pending = store.unclustered_articles()?;
    let mut report = ClusterReport::default();
    let cluster_err = |article: &str| {
        let article = article.to_string();
        move |source| PipelineError::Cluster { article, source }
    };
    let ids: Vec<String> = pending.iter().map(|r| r.article.id.clone()).collect();
    let vectors = store.article_vectors(model_id, &ids)?;
    // Articles are placed in order, and only up to the first one still waiting for its
    // vector (another worker may be embedding it): placing a later one first would give
    // other stories than one process does.
    if let Some(first_missing) = pending.iter().position(|r| !vectors.contains_key(&r.article.id)) {
        tracing::debug!(waiting = pending.len() - first_missing, "clustering waits for earlier articles' vectors");
        pending.truncate(first_missing);
    }
    if pending.is_empty() {
        return Ok(report);
    }
    let lexical = config.lexical_weight != 0.0;
    // What earlier rounds observed (the means behind centring, the terms' document
    // frequencies) is saved with their assignments; it is rebuilt from every clustered
    // vector only when it does not cover exactly the clustered articles (the first round
    // after an upgrade, a changed model or lexical setting).
    let saved = match statistics {
        Statistics::Saved => resume(store, model_id, dim, config)?,
        Statistics::Rebuild => None,
    };
    let stored = match &saved {
        Some(_) => {
            // Only stories some pending article may still join are restored: those whose
            // latest article is within the window, and whose first within the lifetime,
            // of the earliest pending article (an undated pending article may join any).
            let dated: Option<Vec<chrono::DateTime<Utc>>> = pending.iter().map(|r| r.article.published).collect();
            let days = |d: f64| chrono::Duration::milliseconds((d * 86_400_000.0) as i64);
            match dated.and_then(|t| t.into_iter().min()) {
                Some(first) => store.open_story_vectors(
                    model_id,
                    first - days(config.window_days),
                    first - days(config.max_story_days),
                )?,
                None => store.clustered_vectors(model_id)?,
            }
        }
        None => store.clustered_vectors(model_id)?,
    };
    let stored_terms: Vec<Vec<(u64, f32)>> =
        stored.iter().map(|cv| if lexical { lexical_terms(&cv.lead) } else { Vec::new() }).collect();
    let mut clusterer = match saved {
        Some(clusterer) => clusterer,
        None => {
            let mut clusterer = OnlineClusterer::new(config, dim).with_prior(&chorus_embed::E5_NEWS_MEAN);
            for (cv, terms) in stored.iter().zip(&stored_terms) {
                clusterer.observe(&cv.vector, Some(&cv.lang), terms).map_err(cluster_err("(stored)"))?;
            }
            clusterer
        }
    };
    // Stories as earlier rounds left them, built with the statistics as they stood then.
    for (cv, terms) in stored.iter().zip(&stored_terms) {
        clusterer
            .restore(cv.story_id, &cv.vector, cv.published, Some(&cv.lang), terms)
            .map_err(cluster_err("(stored)"))?;
    }
    let mut placed: HashMap<String, StoryRef> = HashMap::new();
    let mut assignments: Vec<(String, std::result::Result<StoryId, usize>)> = Vec::new();
    // One article at a time, observed and then placed: what decides an article's story is
    // the same whether the articles before it came in this round or in earlier ones.
    for r in &pending {
        let Some(v) = vectors.get(&r.article.id) else {
            continue;
        };
        let terms = if lexical { article_terms(&r.article) } else { Vec::new() };
        let lang = Some(r.article.lang.as_str());
        clusterer.observe(v, lang, &terms).map_err(cluster_err(&r.article.id))?;
        let original_story = match &r.duplicate_of {
            Some(orig) => match placed.get(orig) {
                Some(s) => Some(*s),
                None => store.article(orig)?.and_then(|o| o.story_id).map(StoryRef::Existing),
            },
            None => None,
        };
        let story = match original_story {
            Some(s) => {
                clusterer.place(s, v, r.article.published, lang, &terms).map_err(cluster_err(&r.article.id))?;
                report.with_original += 1;
                s
            }
            None => {
                let a = clusterer.assign(v, r.article.published, lang, &terms).map_err(cluster_err(&r.article.id))?;
                if a.started_new {
                    report.new_stories += 1;
                } else {
                    report.joined += 1;
                }
                a.story
            }
        };
        placed.insert(r.article.id.clone(), story);
        assignments.push((
            r.article.id.clone(),
            match story {
                StoryRef::Existing(id) => Ok(id),
                StoryRef::New(k) => Err(k),
            },
        ));
    }
    let state = ClusterState {
        model: model_id.to_string(),
        articles: clusterer.observed() as u64,
        observed: clusterer.observed_bytes(),
    };
    store.assign_observed(report.new_stories, &assignments, &state)?;
    report.clustered = assignments.len();
    report.restored = stored.len();
    Ok(report)
}

/// The clusterer as earlier rounds left it (statistics only, no stories), if the saved
/// statistics cover exactly the clustered articles; `None`: rebuild them.
fn resume(
    store: &dyn Store,
    model_id: &str,
    dim: usize,
    config: chorus_cluster::ClusterConfig,
) -> Result<Option<OnlineClusterer>> {
    let Some(saved) = store.cluster_state(model_id)? else { return Ok(None) };
    let clustered = store.clustered_count(model_id)?;
    match OnlineClusterer::with_observed(config, dim, &saved.observed)
        .map(|c| c.with_prior(&chorus_embed::E5_NEWS_MEAN))
    {
        Ok(c)
            if c.observed() as u64 == clustered
                && (config.lexical_weight == 0.0 || c.observed_docs() == c.observed()) =>
        {
            Ok(Some(c))
        }
        Ok(c) => {
            tracing::info!(saved = c.observed(), clustered, "clustering statistics are out of date; rebuilding them");
            Ok(None)
        }
        Err(e) => {
            tracing::warn!("saved clustering statistics unreadable ({e}); rebuilding them");
            Ok(None)
        }
    }
}

/// What synthesis did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct SynthReport {
    /// Stories (re)written.
    pub stories: usize,
    /// Articles written (stories × edition languages).
    pub articles: usize,
    /// Sentences embedded (not found in the cache).
    pub sentences_embedded: usize,
    /// Articles the language model wrote (all their sentences verified).
    pub llm_written: usize,
    /// Articles left extractive because the model failed or nothing it wrote passed.
    pub llm_fallbacks: usize,
    /// Generated sentences dropped by verification.
    pub llm_dropped: usize,
    /// Stories marked again while they were written (they stay dirty for the next run).
    pub remarked: usize,
}

/// Stories written together: their candidate sentences are embedded in one call, so
/// sentences of similar length from different stories share batches (little padding)
/// and the model runs on full batches rather than a story's few sentences.
pub const WRITE_GROUP: usize = 64;

/// Writes the article of every story whose sources changed, in each edition language;
/// with a model stage, the model then rewrites each (see [`rewrite_with_llm`]).
pub fn synthesize_dirty(
    store: &dyn Store,
    embedder: &dyn Embedder,
    config: &SynthConfig,
    llm: Option<&LlmStage>,
    mut on_story: impl FnMut(usize, usize),
) -> Result<SynthReport> {
    let dirty = store.dirty_stories()?;
    let mut report = SynthReport::default();
    let now = Utc::now();
    let mut done = 0;
    for group in dirty.chunks(WRITE_GROUP) {
        write_stories(store, embedder, config, llm, group, now, &mut report, |_| {
            done += 1;
            on_story(done, dirty.len());
            Ok(())
        })?;
    }
    Ok(report)
}

/// Writes stories' editions (and, with a model stage, the model's rewrites) and stores
/// each against the generation of its dirty mark: reads their sources, embeds the
/// candidate sentences of all of them at once, then writes and stores each in turn,
/// calling `on_written` after each is stored.
#[allow(clippy::too_many_arguments)]
pub fn write_stories(
    store: &dyn Store,
    embedder: &dyn Embedder,
    config: &SynthConfig,
    llm: Option<&LlmStage>,
    marks: &[chorus_store::DirtyStory],
    now: chrono::DateTime<Utc>,
    report: &mut SynthReport,
    mut on_written: impl FnMut(&chorus_store::DirtyStory) -> Result<()>,
) -> Result<()> {
    /// A story read for writing.
    struct Prepared<'m> {
        mark: &'m chorus_store::DirtyStory,
        sources: Vec<chorus_core::ArticleRecord>,
        cands: Vec<chorus_synth::Candidate>,
        embed: bool,
    }
    let mut prepared = Vec::with_capacity(marks.len());
    for mark in marks {
        let sources = store.story_sources(mark.id)?;
        let cands = chorus_synth::candidates(&sources, config);
        let embed = needs_vectors(&sources, &cands);
        prepared.push(Prepared { mark, sources, cands, embed });
    }
    let wanted = prepared.iter().filter(|p| p.embed).flat_map(|p| p.cands.iter().map(|c| c.text.as_str()));
    let (vectors, fresh) = sentence_vectors(store, embedder, wanted)?;
    report.sentences_embedded += fresh;
    let mut vectors = vectors.into_iter();
    for p in prepared {
        let story_vectors: Option<Vec<Vec<f32>>> = p.embed.then(|| vectors.by_ref().take(p.cands.len()).collect());
        write_prepared(
            store,
            embedder,
            config,
            llm,
            p.mark,
            &p.sources,
            &p.cands,
            story_vectors.as_deref(),
            now,
            report,
        )?;
        on_written(p.mark)?;
    }
    Ok(())
}

/// Writes one story from its sources, candidates and their vectors.
#[allow(clippy::too_many_arguments)]
fn write_prepared(
    store: &dyn Store,
    embedder: &dyn Embedder,
    config: &SynthConfig,
    llm: Option<&LlmStage>,
    mark: &chorus_store::DirtyStory,
    sources: &[chorus_core::ArticleRecord],
    cands: &[chorus_synth::Candidate],
    vectors: Option<&[Vec<f32>]>,
    now: chrono::DateTime<Utc>,
    report: &mut SynthReport,
) -> Result<()> {
    let story = &mark.id;
    // Claims, reports and figures once per story; then each edition from them.
    let analysis = chorus_synth::StoryAnalysis::new(sources, cands, vectors, config);
    let mut texts: Vec<StoryArticle> =
        chorus_synth::editions(sources).iter().map(|lang| analysis.edition(*story, lang, config, now)).collect();
    if let Some(stage) = llm {
        for text in &mut texts {
            *text = rewrite_with_llm(store, embedder, stage, text, report);
        }
        // Configured editions no source is in: the model writes them from the claims in
        // whatever languages they came in; kept only when it wrote verified text (an
        // extractive fallback would mix languages).
        for lang in stage.editions.iter().filter(|l| !analysis.has_edition(l)) {
            let brief = analysis.brief(*story, lang, config, now);
            let written = rewrite_with_llm(store, embedder, stage, &brief, report);
            match written.generation.as_ref() {
                Some(g) if g.status == "written" => texts.push(written),
                g => tracing::info!(
                    story = *story,
                    edition = %lang,
                    reason = g.and_then(|g| g.error.as_deref()).unwrap_or("no verified sentence"),
                    "no edition written: no source is in its language and the model's text did not pass"
                ),
            }
        }
    }
    if !store.put_story_texts(*story, mark.generation, &texts)? {
        // Marked again while it was written (a new source arrived): it stays dirty and
        // the next run writes it with the new sources.
        report.remarked += 1;
    }
    report.stories += 1;
    report.articles += texts.len();
    Ok(())
}

/// Lets the model stage rewrite one extractive article; the generated sentences are
/// embedded for the similarity check with the pipeline's embedder (and its cache).
/// Never fails: on any error the extractive article is kept, with the reason recorded.
pub fn rewrite_with_llm(
    store: &dyn Store,
    embedder: &dyn Embedder,
    stage: &LlmStage,
    extractive: &StoryArticle,
    report: &mut SynthReport,
) -> StoryArticle {
    let embed = |texts: &[String]| -> std::result::Result<Vec<Vec<f32>>, String> {
        sentence_vectors(store, embedder, texts.iter().map(String::as_str))
            .map(|(v, _)| v)
            .map_err(|e| format!("{e:#}"))
    };
    let out = chorus_synth::llm::rewrite(extractive, stage.model.as_ref(), Some(&embed), &stage.write);
    if let Some(g) = &out.generation {
        report.llm_dropped += g.dropped.len();
        if g.status == "written" {
            report.llm_written += 1;
        } else {
            report.llm_fallbacks += 1;
        }
    }
    out
}

/// Vectors for a story's candidate sentences: needed when two or more reports can support
/// each other, and for a single report with three or more candidates (so the writer sees
/// which of its sentences repeat each other). A one- or two-sentence single report is
/// written from its opening sentences without them. Returns them, if computed, and how
/// many had to be embedded.
pub(crate) fn candidate_vectors(
    store: &dyn Store,
    embedder: &dyn Embedder,
    sources: &[chorus_core::ArticleRecord],
    cands: &[chorus_synth::Candidate],
) -> Result<(Option<Vec<Vec<f32>>>, usize)> {
    if !needs_vectors(sources, cands) {
        return Ok((None, 0));
    }
    let (v, fresh) = sentence_vectors(store, embedder, cands.iter().map(|c| c.text.as_str()))?;
    Ok((Some(v), fresh))
}

/// Whether a story's candidates need vectors (see [`candidate_vectors`]).
fn needs_vectors(sources: &[chorus_core::ArticleRecord], cands: &[chorus_synth::Candidate]) -> bool {
    let reports: BTreeSet<&str> = sources.iter().map(|r| r.report_id()).collect();
    reports.len() >= 2 || cands.len() >= 3
}

/// Vectors for sentences, from the store's cache where possible. Returns the vectors in
/// order and how many had to be computed.
pub(crate) fn sentence_vectors<'a>(
    store: &dyn Store,
    embedder: &dyn Embedder,
    sentences: impl Iterator<Item = &'a str>,
) -> Result<(Vec<Vec<f32>>, usize)> {
    let texts: Vec<String> = sentences.map(|s| format!("{E5_QUERY_PREFIX}{s}")).collect();
    if texts.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let keys: Vec<u64> = texts.iter().map(|t| xxh3_64(t.as_bytes())).collect();
    let mut cached = store.sentence_vectors(embedder.model_id(), &keys)?;
    let missing: Vec<usize> = {
        let mut seen = BTreeSet::new();
        (0..texts.len()).filter(|&i| !cached.contains_key(&keys[i]) && seen.insert(keys[i])).collect()
    };
    if !missing.is_empty() {
        let batch: Vec<String> = missing.iter().map(|&i| texts[i].clone()).collect();
        let vectors = embedder.embed(&batch)?;
        let rows: Vec<(u64, Vec<f32>)> = missing.iter().map(|&i| keys[i]).zip(vectors).collect();
        store.put_sentence_vectors(embedder.model_id(), &rows)?;
        cached.extend(rows);
    }
    let out = keys.iter().map(|k| cached.get(k).cloned().unwrap_or_default()).collect();
    Ok((out, missing.len()))
}

/// Timings and results of embedding, clustering and synthesis in one run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ProcessReport {
    /// Articles embedded.
    pub embedded: usize,
    /// Seconds spent embedding articles.
    pub embed_secs: f64,
    /// What clustering did.
    pub cluster: ClusterReport,
    /// Seconds spent clustering.
    pub cluster_secs: f64,
    /// What synthesis did.
    pub synth: SynthReport,
    /// Seconds spent writing articles (including sentence embedding).
    pub synth_secs: f64,
    /// Follow-up links between stories written.
    pub related: usize,
}

/// Progress callbacks for [`process`]: `(stage, done, total)`.
pub type Progress<'a> = &'a mut dyn FnMut(&str, usize, usize);

/// Runs embed → cluster → synthesise over whatever is pending in the store.
pub fn process(
    store: &dyn Store,
    embedder: &dyn Embedder,
    config: &crate::settings::PipelineSettings,
    llm: Option<&LlmStage>,
    progress: Progress<'_>,
) -> Result<ProcessReport> {
    let mut r = ProcessReport::default();
    let t = std::time::Instant::now();
    r.embedded = embed_pending(store, embedder, config.lead_chars, |d, n| progress("embed", d, n))?;
    r.embed_secs = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    r.cluster = cluster_pending(store, embedder.model_id(), embedder.dim(), config.cluster)?;
    r.cluster_secs = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    r.synth = synthesize_dirty(store, embedder, &config.synth, llm, |d, n| progress("synthesise", d, n))?;
    r.synth_secs = t.elapsed().as_secs_f64();
    if r.synth.stories > 0 {
        r.related = relate_stories(store, embedder.model_id())?;
    }
    Ok(r)
}

/// Smallest similarity of two stories' centred centroids for one to be listed as a
/// follow-up of the other (same subject, another event). Chosen by reading pairs of the
/// demo's stories: 10 of 12 random pairs at 0.5–0.6 share a subject (Syrian protests,
/// Yemen, the BAFTAs and the film that won), about 4 of 12 at 0.35–0.45 (plane crash next
/// to another plane crash). Demo: 890 links on 357 of 604 stories.
pub const RELATED_MIN_SIMILARITY: f32 = 0.5;
/// Follow-ups listed per story.
pub const RELATED_PER_STORY: usize = 6;

/// Links each story to the stories on the same subject (its timeline): the cosine of
/// their centroids, after removing the mean of all article vectors (the direction every
/// news text shares), must reach [`RELATED_MIN_SIMILARITY`]. Returns the links written.
pub fn relate_stories(store: &dyn Store, model_id: &str) -> Result<usize> {
    let vectors = store.clustered_vectors(model_id)?;
    let Some(dim) = vectors.first().map(|v| v.vector.len()) else { return Ok(0) };
    let mut mean = vec![0f32; dim];
    for v in vectors.iter().filter(|v| v.vector.len() == dim) {
        mean.iter_mut().zip(&v.vector).for_each(|(m, x)| *m += x / vectors.len() as f32);
    }
    let normalise = |v: &mut Vec<f32>| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            v.iter_mut().for_each(|x| *x /= n);
        }
    };
    let mut centroids: std::collections::BTreeMap<StoryId, Vec<f32>> = Default::default();
    for v in vectors.iter().filter(|v| v.vector.len() == dim) {
        let mut c: Vec<f32> = v.vector.iter().zip(&mean).map(|(x, m)| x - m).collect();
        normalise(&mut c);
        let acc = centroids.entry(v.story_id).or_insert_with(|| vec![0.0; dim]);
        acc.iter_mut().zip(&c).for_each(|(a, x)| *a += x);
    }
    centroids.values_mut().for_each(normalise);
    let ids: Vec<StoryId> = centroids.keys().copied().collect();
    let mut written = 0;
    for (i, a) in ids.iter().enumerate() {
        let mut sims: Vec<(StoryId, f32)> = ids
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, b)| (*b, centroids[a].iter().zip(&centroids[b]).map(|(x, y)| x * y).sum::<f32>()))
            .filter(|&(_, s)| s >= RELATED_MIN_SIMILARITY)
            .collect();
        sims.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        sims.truncate(RELATED_PER_STORY);
        written += sims.len();
        store.put_related(*a, &sims)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_store::SqliteStore;
    use chorus_store::prelude::*;

    /// `n` articles on `events` events spread over 90 days, in three languages, each
    /// with a vector near its event's direction and words of its event.
    fn stream(n: usize, events: usize, dim: usize) -> Vec<(Article, Vec<f32>)> {
        let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let langs = ["en", "de", "fr"];
        (0..n)
            .map(|i| {
                let e = (i * 7) % events;
                // Each event lives about a week, starting at a point of the 90 days.
                let t = start + chrono::Duration::hours((e * 90 * 24 / events) as i64 + ((i * 13) % 150) as i64);
                let mut v = vec![0.3f32; dim];
                v[e % dim] += 0.5;
                v[(e * 5 + 1) % dim] += 0.3;
                v[(i * 3) % dim] += 0.05;
                let a = Article {
                    id: format!("a{i}"),
                    url: format!("https://example.org/{i}"),
                    outlet: format!("Outlet {}", i % 9),
                    lang: langs[i % 3].into(),
                    lang_detected: false,
                    published: Some(t),
                    title: format!("Event{e} report {i}"),
                    text: format!("Event{e} happened in Place{e}; {} people took part. Report number {i}.", e * 11),
                    authors: Vec::new(),
                };
                (a, v)
            })
            .collect()
    }

    fn partition(store: &dyn Store) -> BTreeSet<BTreeSet<String>> {
        let mut by_story: BTreeMap<StoryId, BTreeSet<String>> = BTreeMap::new();
        for s in store.story_summaries().unwrap() {
            let ids = store.story_sources(s.id).unwrap().into_iter().map(|r| r.article.id).collect();
            by_story.insert(s.id, ids);
        }
        by_story.into_values().collect()
    }

    /// Stores `articles` and their vectors (under model "m"), unclustered.
    fn store_with_vectors(store: &SqliteStore, articles: &[(Article, Vec<f32>)]) {
        let rows: Vec<NewArticle<'_>> = articles
            .iter()
            .map(|(a, _)| NewArticle {
                article: a,
                content_hash: a.id.clone(),
                fingerprint: vec![1],
                duplicate_of: None,
            })
            .collect();
        store.insert_articles(&rows).unwrap();
        let vectors: Vec<(String, Vec<f32>)> = articles.iter().map(|(a, v)| (a.id.clone(), v.clone())).collect();
        store.put_article_vectors("m", &vectors).unwrap();
    }

    #[test]
    fn rounds_from_saved_statistics_cluster_as_rebuilding_from_every_vector() {
        let dim = 24;
        let config = chorus_cluster::ClusterConfig { lexical_weight: 0.2, ..Default::default() };
        let mut articles = stream(360, 30, dim);
        articles.sort_by_key(|(a, _)| a.published);
        let (saved, rebuilt) = (SqliteStore::open_in_memory().unwrap(), SqliteStore::open_in_memory().unwrap());
        let mut restored = Vec::new();
        for round in articles.chunks(40) {
            for (store, how) in [(&saved, Statistics::Saved), (&rebuilt, Statistics::Rebuild)] {
                store_with_vectors(store, round);
                let r = cluster_pending_with(store, "m", dim, config, how).unwrap();
                assert_eq!(r.clustered, round.len());
                if how == Statistics::Saved {
                    restored.push(r.restored);
                }
            }
        }
        // The same articles in one call.
        let once = SqliteStore::open_in_memory().unwrap();
        store_with_vectors(&once, &articles);
        cluster_pending_with(&once, "m", dim, config, Statistics::Saved).unwrap();
        let p = partition(&saved);
        assert!(p.len() >= 25 && p.len() <= 40, "{} stories", p.len());
        assert_eq!(p, partition(&rebuilt), "saved statistics and open stories give the same stories");
        assert_eq!(p, partition(&once), "rounds of 40 give the stories of one call");
        // Later rounds restored the open stories only, not everything clustered before.
        let last = *restored.last().unwrap();
        assert!(last < 320 / 2, "restored {restored:?}");
        assert_eq!(saved.cluster_state("m").unwrap().map(|s| s.articles), Some(360));
    }
}
