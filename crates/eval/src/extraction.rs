//! Scoring main-text extraction the way the article-extraction benchmark does.
//!
//! The benchmark (scrapinghub/article-extraction-benchmark, 181 pages, in
//! `../shared/data/article-extraction-benchmark`) compares predicted and true
//! `articleBody` as multisets of 4-word shingles (tokens are `\w+` runs, case kept).
//! Per page TP/FP/FN are normalised to sum to 1 so long pages do not weigh more;
//! precision is averaged over pages with TP+FP > 0, recall over pages with TP+FN > 0, and
//! F1 is computed from the two averages. This module reproduces that exactly.

use std::collections::HashMap;
use std::path::Path;

/// One page's normalised true positives, false positives and false negatives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageCounts {
    /// Shingles in both.
    pub tp: f64,
    /// Shingles only predicted.
    pub fp: f64,
    /// Shingles only in the truth.
    pub fn_: f64,
}

/// Precision, recall and F1 over a set of pages.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ExtractionScores {
    /// Mean precision over pages that predicted anything.
    pub precision: f64,
    /// Mean recall over pages with a true body.
    pub recall: f64,
    /// Harmonic mean of the two.
    pub f1: f64,
}

fn tokens(text: &str) -> Vec<&str> {
    // Python's `\w+`: letters, digits (any script) and underscore.
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|t| !t.is_empty()).collect()
}

fn shingles(text: &str, n: usize) -> HashMap<Vec<&str>, usize> {
    let t = tokens(text);
    let mut out = HashMap::new();
    if t.is_empty() {
        return out;
    }
    // As the benchmark: one shorter shingle when the text has fewer than n tokens.
    let count = t.len().saturating_sub(n).saturating_add(1).max(1);
    for i in 0..count {
        let end = (i + n).min(t.len());
        *out.entry(t[i..end].to_vec()).or_insert(0) += 1;
    }
    out
}

/// Compares one predicted body with the true one.
pub fn shingle_matching(truth: &str, prediction: &str) -> PageCounts {
    let (t, p) = (shingles(truth, 4), shingles(prediction, 4));
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for key in t.keys().chain(p.keys().filter(|k| !t.contains_key(*k))) {
        let (tc, pc) = (t.get(key).copied().unwrap_or(0) as f64, p.get(key).copied().unwrap_or(0) as f64);
        tp += tc.min(pc);
        fp += (pc - tc).max(0.0);
        fn_ += (tc - pc).max(0.0);
    }
    let s = tp + fp + fn_;
    if s > 0.0 { PageCounts { tp: tp / s, fp: fp / s, fn_: fn_ / s } } else { PageCounts { tp, fp, fn_ } }
}

/// Averages page counts into scores, with the benchmark's conventions for empty pages.
pub fn scores(pages: &[PageCounts]) -> ExtractionScores {
    let precision_of = |c: &PageCounts| {
        if c.fp == 0.0 && c.fn_ == 0.0 {
            1.0
        } else if c.tp == 0.0 && c.fp == 0.0 {
            0.0
        } else {
            c.tp / (c.tp + c.fp)
        }
    };
    let recall_of = |c: &PageCounts| {
        if c.fp == 0.0 && c.fn_ == 0.0 {
            1.0
        } else if c.tp == 0.0 && c.fn_ == 0.0 {
            0.0
        } else {
            c.tp / (c.tp + c.fn_)
        }
    };
    let mean = |v: Vec<f64>| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    let precision = mean(pages.iter().filter(|c| c.tp + c.fp > 0.0).map(precision_of).collect());
    let recall = mean(pages.iter().filter(|c| c.tp + c.fn_ > 0.0).map(recall_of).collect());
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    ExtractionScores { precision, recall, f1 }
}

/// One benchmark page: id, URL and true body; the HTML is read from `html/{id}.html.gz`.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkPage {
    /// The page id (sha256 of the URL).
    pub id: String,
    /// Where the page came from.
    pub url: String,
    /// The human-labelled article body.
    pub body: String,
}

/// Why an evaluation folder (the benchmark, or trafilatura's set) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BenchmarkError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// `ground-truth.json` or `evaldata.json` is not what the set ships.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Reads `ground-truth.json` of a benchmark folder (sorted by id).
pub fn read_ground_truth(dir: &Path) -> Result<Vec<BenchmarkPage>, BenchmarkError> {
    let path = dir.join("ground-truth.json");
    let shown = path.display().to_string();
    let raw = std::fs::read_to_string(&path).map_err(|source| BenchmarkError::Io { path: shown.clone(), source })?;
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&raw).map_err(|e| {
        BenchmarkError::Format { path: shown.clone(), reason: format!("not a JSON object of pages: {e}") }
    })?;
    let mut pages: Vec<BenchmarkPage> = v
        .into_iter()
        .map(|(id, page)| BenchmarkPage {
            url: page.get("url").and_then(|u| u.as_str()).unwrap_or_default().to_string(),
            body: page.get("articleBody").and_then(|u| u.as_str()).unwrap_or_default().to_string(),
            id,
        })
        .collect();
    if pages.is_empty() {
        return Err(BenchmarkError::Format { path: shown, reason: "no pages".into() });
    }
    pages.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(pages)
}

/// Reads a page's gzipped HTML bytes.
pub fn read_page_html(dir: &Path, id: &str) -> Result<Vec<u8>, BenchmarkError> {
    use std::io::Read;
    let path = dir.join("html").join(format!("{id}.html.gz"));
    let shown = path.display().to_string();
    let file = std::fs::File::open(&path).map_err(|source| BenchmarkError::Io { path: shown.clone(), source })?;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut out)
        .map_err(|source| BenchmarkError::Io { path: shown, source })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_bodies_score_one_and_disjoint_ones_zero() {
        let same = shingle_matching("one two three four five", "one two three four five");
        assert_eq!(same, PageCounts { tp: 1.0, fp: 0.0, fn_: 0.0 });
        let none = shingle_matching("one two three four five", "six seven eight nine ten");
        assert_eq!(none.tp, 0.0);
        assert_eq!(scores(&[same]).f1, 1.0);
    }

    #[test]
    fn counts_match_the_benchmark_script() {
        // Truth has 2 shingles (5 tokens), prediction adds one token: 2 shared, 1 extra.
        let c = shingle_matching("a b c d e", "a b c d e f");
        assert!((c.tp - 2.0 / 3.0).abs() < 1e-12 && (c.fp - 1.0 / 3.0).abs() < 1e-12 && c.fn_ == 0.0, "{c:?}");
        // Repeated shingles count as a multiset; tokens keep their case.
        let c = shingle_matching("x y z w x y z w", "X y z w");
        assert_eq!(c.tp, 0.0);
        // Fewer than 4 tokens: one short shingle.
        assert_eq!(shingle_matching("hello world", "hello world").tp, 1.0);
        // Empty prediction: no precision contribution, recall 0.
        let empty = shingle_matching("a b c d", "");
        let s = scores(&[empty, shingle_matching("a b c d", "a b c d")]);
        assert_eq!((s.precision, s.recall), (1.0, 0.5));
    }

    #[test]
    fn unicode_words_are_tokens() {
        assert_eq!(tokens("Привет, мир! 東京 snake_case"), ["Привет", "мир", "東京", "snake_case"]);
    }
}
