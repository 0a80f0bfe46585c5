//! `chorus eval articles`: reads every written edition of a data folder and measures how
//! it reads: sentences that say the same thing twice (one claim, a translation, or two
//! figures of one quantity), sentences not in the edition's language, headlines cut off,
//! length by independent reports, and disagreements per story.

use crate::pipeline::{self, PipelineError};
use chorus_core::{StoryArticle, StoryDetail};
use chorus_embed::Embedder;
use chorus_store::Store;
use chorus_synth::SynthConfig;
use chorus_synth::figures::{quantities, within_ratio};
use std::collections::{BTreeMap, BTreeSet};

/// Scores of `chorus eval articles` (JSON keys are a contract: extend, don't rename).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ArticlesEval {
    /// Written editions read.
    pub editions: usize,
    /// Stories read.
    pub stories: usize,
    /// Sentences read.
    pub sentences: usize,
    /// Sentence pairs in one edition that state one claim, say the same thing (cosine at
    /// the writer's repeat bar in one language, at its cross-lingual bar across two), or
    /// give two figures for one quantity. Must be 0.
    pub redundant_pairs: usize,
    /// Sentences in their edition's language over all sentences (1.0 for extractive
    /// editions).
    pub edition_language_share: f64,
    /// Editions with a sentence in another language than the edition's.
    pub mixed_language_editions: usize,
    /// Headlines ending cut off: an ellipsis, or a last word that is not a whole word of
    /// any source (extractive editions). Must be 0.
    pub truncated_headlines: usize,
    /// Mean words of an edition's text by the story's independent reports ("1", "2-3",
    /// "4-9", "10+").
    pub mean_words_by_independent: BTreeMap<String, f64>,
    /// Editions per bucket of `mean_words_by_independent`.
    pub editions_by_independent: BTreeMap<String, usize>,
    /// Mean disagreements per story (the most any of its editions lists).
    pub disagreements_per_story: f64,
}

/// One edition as `--out` writes it, for reading.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EditionReport {
    /// Story id.
    pub story: i64,
    /// Edition language.
    pub lang: String,
    /// Independent reports of the story.
    pub independent: usize,
    /// Headline.
    pub title: String,
    /// Paragraphs of sentence texts.
    pub paragraphs: Vec<Vec<String>>,
    /// Redundant pairs found, as sentence texts with why.
    pub redundant: Vec<(String, String, String)>,
    /// Disagreements: each side's values and passage.
    pub disagreements: Vec<Vec<(String, String)>>,
}

fn bucket(independent: usize) -> &'static str {
    match independent {
        0 | 1 => "1",
        2..=3 => "2-3",
        4..=9 => "4-9",
        _ => "10+",
    }
}

fn words_of(detail: &StoryDetail) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in &detail.sources {
        // Headlines drop bracketed asides, which can join a word's two halves ("기소(사진)되었다").
        let tidy = chorus_synth::without_asides(&r.article.text);
        for t in [&r.article.title, &r.article.text, &tidy] {
            for w in t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                out.insert(w.to_lowercase());
            }
        }
    }
    out
}

/// Whether a headline ends cut off: an ellipsis, or (for extractive editions) a last word
/// that no source has as a whole word.
pub fn headline_cut_off(title: &str, source_words: &BTreeSet<String>, generated: bool) -> bool {
    if chorus_synth::is_cut_off(title) || title.trim().is_empty() {
        return true;
    }
    if generated {
        return false;
    }
    let last = title.split(|c: char| !c.is_alphanumeric()).rfind(|w| !w.is_empty()).unwrap_or("");
    let spaced = title.split_whitespace().count() > 1;
    spaced && !last.is_empty() && !source_words.contains(&last.to_lowercase())
}

/// Reads every story of `store` and scores its editions; sentence vectors come from the
/// store's cache (embedded with `embedder` where missing). `each` gets every edition.
pub fn articles(
    store: &dyn Store,
    embedder: &dyn Embedder,
    cfg: &SynthConfig,
    mut each: impl FnMut(&EditionReport),
) -> Result<ArticlesEval, PipelineError> {
    let mut out = ArticlesEval::default();
    let (mut in_lang, mut word_sums, mut dis_sum) = (0usize, BTreeMap::<String, usize>::new(), 0usize);
    for summary in store.story_summaries()? {
        let Some(detail) = store.story_detail(summary.id)? else { continue };
        if detail.articles.is_empty() {
            continue;
        }
        out.stories += 1;
        let source_words = words_of(&detail);
        let mut most_disagreements = 0;
        for a in &detail.articles {
            let report = score_edition(store, embedder, cfg, &detail, a)?;
            out.editions += 1;
            let sentences: Vec<_> = a.paragraphs.iter().flatten().collect();
            out.sentences += sentences.len();
            let own = sentences.iter().filter(|s| s.lang == a.lang).count();
            in_lang += own;
            out.mixed_language_editions += usize::from(own < sentences.len());
            out.redundant_pairs += report.redundant.len();
            let generated = sentences.iter().any(|s| s.generated);
            out.truncated_headlines += usize::from(headline_cut_off(&a.title, &source_words, generated));
            let b = bucket(a.coverage.independent);
            let words: usize = sentences.iter().map(|s| s.text.split_whitespace().count()).sum();
            *word_sums.entry(b.to_string()).or_default() += words;
            *out.editions_by_independent.entry(b.to_string()).or_default() += 1;
            most_disagreements = most_disagreements.max(a.disagreements.len());
            each(&report);
        }
        dis_sum += most_disagreements;
    }
    out.edition_language_share = if out.sentences == 0 { 1.0 } else { in_lang as f64 / out.sentences as f64 };
    out.mean_words_by_independent = word_sums
        .iter()
        .map(|(b, w)| (b.clone(), *w as f64 / out.editions_by_independent.get(b).copied().unwrap_or(1).max(1) as f64))
        .collect();
    out.disagreements_per_story = if out.stories == 0 { 0.0 } else { dis_sum as f64 / out.stories as f64 };
    Ok(out)
}

fn score_edition(
    store: &dyn Store,
    embedder: &dyn Embedder,
    cfg: &SynthConfig,
    detail: &StoryDetail,
    a: &StoryArticle,
) -> Result<EditionReport, PipelineError> {
    let sentences: Vec<_> = a.paragraphs.iter().flatten().collect();
    let (vectors, _) = pipeline::sentence_vectors(store, embedder, sentences.iter().map(|s| s.text.as_str()))?;
    let qty: Vec<BTreeSet<String>> = sentences.iter().map(|s| quantities(&s.text)).collect();
    let mut redundant = Vec::new();
    for i in 0..sentences.len() {
        for j in i + 1..sentences.len() {
            let (x, y) = (sentences[i], sentences[j]);
            let cos: f32 = vectors[i].iter().zip(&vectors[j]).map(|(p, q)| p * q).sum();
            let why = if x.claim.is_some() && x.claim == y.claim {
                Some("one claim".to_string())
            } else if x.lang == y.lang && cos >= cfg.repeat_threshold {
                Some(format!("same thing (cosine {cos:.2})"))
            } else if x.lang != y.lang && cos >= cfg.cross_lingual_threshold {
                Some(format!("same thing across languages (cosine {cos:.2})"))
            } else if (cos >= cfg.conflict_threshold && !within_ratio(&qty[i], &qty[j], 1.25).0.is_empty())
                || (cos >= cfg.support_threshold && !within_ratio(&qty[i], &qty[j], 4.0).0.is_empty())
            {
                Some(format!("two figures of one quantity (cosine {cos:.2})"))
            } else {
                None
            };
            if let Some(why) = why {
                redundant.push((x.text.clone(), y.text.clone(), why));
            }
        }
    }
    let disagreements = a
        .disagreements
        .iter()
        .map(|d| {
            d.sides
                .iter()
                .map(|s| {
                    let passage = a.claims.get(s.claim).and_then(|c| c.passages.first());
                    (
                        s.values.join(", "),
                        passage.map(|p| format!("{} ({}): {}", p.outlet, p.lang, p.sentence)).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .collect();
    Ok(EditionReport {
        story: detail.summary.id,
        lang: a.lang.clone(),
        independent: a.coverage.independent,
        title: a.title.clone(),
        paragraphs: a.paragraphs.iter().map(|p| p.iter().map(|s| s.text.clone()).collect()).collect(),
        redundant,
        disagreements,
    })
}

/// Cosine distributions of sentences and their translations, for choosing the
/// cross-lingual threshold (`chorus eval translations`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TranslationCalibration {
    /// Article pairs taken as translations of one post.
    pub translation_pairs: usize,
    /// Aligned sentence pairs (mutual best matches) in those.
    pub positives: usize,
    /// Sentences compared with a same-topic article that is not their translation.
    pub negatives: usize,
    /// Percentiles (5, 10, 25, 50) of the aligned translations' cosines.
    pub positive_percentiles: BTreeMap<String, f32>,
    /// Percentiles (50, 90, 95, 99) of the best cosine to a non-translation.
    pub negative_percentiles: BTreeMap<String, f32>,
    /// Per threshold: share of translations kept and of non-translations let through.
    pub thresholds: Vec<(f32, f32, f32)>,
}

fn percentile(sorted: &[f32], p: f32) -> f32 {
    if sorted.is_empty() {
        return 0.0;
    }
    let k = ((sorted.len() - 1) as f32 * p / 100.0).round() as usize;
    sorted[k.min(sorted.len() - 1)]
}

/// Calibrates the cross-lingual threshold on Global Voices posts and their translations
/// (ids `gv-LANG-TOPIC-DATE-N`, as in `data/demo/global-voices.jsonl`). Two posts of one
/// topic and day in two languages are a translation pair when most of the shorter's
/// sentences (60 %) have a counterpart there at cosine ≥ 0.80 and their figures agree; in
/// those, mutual best matches are the positives. Negatives: each sentence's best match in
/// a post of the same topic in another language from another day (never a translation).
pub fn translation_calibration(
    articles: &[chorus_core::Article],
    store: &dyn Store,
    embedder: &dyn Embedder,
) -> Result<TranslationCalibration, PipelineError> {
    struct Post {
        lang: String,
        topic: String,
        day: String,
        sentences: Vec<String>,
        vectors: Vec<Vec<f32>>,
    }
    let mut posts: Vec<Post> = Vec::new();
    for a in articles {
        let parts: Vec<&str> = a.id.splitn(4, '-').collect();
        if parts.len() < 4 || parts[0] != "gv" {
            continue;
        }
        let day = parts[3].get(..10).unwrap_or("").to_string();
        let sentences: Vec<String> = chorus_text::sentences::split(&a.text, &a.lang)
            .into_iter()
            .filter(|s| s.chars().count() >= 40 && s.chars().count() <= 400)
            .take(12)
            .collect();
        if sentences.len() < 2 {
            continue;
        }
        let (vectors, _) = pipeline::sentence_vectors(store, embedder, sentences.iter().map(String::as_str))?;
        posts.push(Post { lang: a.lang.clone(), topic: parts[2].to_string(), day, sentences, vectors });
    }
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let best = |x: &Post, y: &Post, i: usize| -> (usize, f32) {
        (0..y.vectors.len())
            .map(|j| (j, cos(&x.vectors[i], &y.vectors[j])))
            .fold((0, f32::MIN), |b, c| if c.1 > b.1 { c } else { b })
    };
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let mut pairs = 0;
    for a in 0..posts.len() {
        for b in a + 1..posts.len() {
            let (x, y) = (&posts[a], &posts[b]);
            if x.lang == y.lang || x.topic != y.topic {
                continue;
            }
            if x.day != y.day {
                // Another day: never a translation. One negative per sentence of x.
                if neg.len() < 20_000 {
                    neg.extend((0..x.vectors.len()).map(|i| best(x, y, i).1));
                }
                continue;
            }
            let (short, long) = if x.sentences.len() <= y.sentences.len() { (x, y) } else { (y, x) };
            let hits = (0..short.vectors.len())
                .filter(|&i| {
                    let (j, c) = best(short, long, i);
                    c >= 0.80 && chorus_synth::numbers(&short.sentences[i]) == chorus_synth::numbers(&long.sentences[j])
                })
                .count();
            if hits * 10 < short.vectors.len() * 6 {
                continue;
            }
            pairs += 1;
            for i in 0..short.vectors.len() {
                let (j, c) = best(short, long, i);
                if best(long, short, j).0 == i {
                    pos.push(c);
                }
            }
        }
    }
    pos.sort_by(f32::total_cmp);
    neg.sort_by(f32::total_cmp);
    let share = |v: &[f32], t: f32| v.iter().filter(|&&c| c >= t).count() as f32 / v.len().max(1) as f32;
    Ok(TranslationCalibration {
        translation_pairs: pairs,
        positives: pos.len(),
        negatives: neg.len(),
        positive_percentiles: [5.0, 10.0, 25.0, 50.0].iter().map(|&p| (format!("p{p}"), percentile(&pos, p))).collect(),
        negative_percentiles: [50.0, 90.0, 95.0, 99.0]
            .iter()
            .map(|&p| (format!("p{p}"), percentile(&neg, p)))
            .collect(),
        thresholds: (0..=10).map(|k| 0.80 + 0.01 * k as f32).map(|t| (t, share(&pos, t), share(&neg, t))).collect(),
    })
}
