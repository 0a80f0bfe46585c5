//! chorus-eval: measuring quality on real data.
//!
//! * [`metrics`]: clustering scores (pairwise, BCubed, per language, cross-lingual recall);
//! * [`datasets`]: converters from the shared research data to the evaluation format;
//! * [`read_cluster_file`]: the strict reader of clustering evaluation files;
//! * [`synth`]: the synthesis evaluation format and its strict reader;
//! * [`rouge`]: ROUGE-1/2/L as the `rouge-score` package computes them;
//! * [`extraction`]: the article-extraction benchmark's shingle metric and its files;
//! * [`snippets`]: trafilatura's evaluation set and its must/must-not snippet metric.
//!
//! Running the product's pipeline over an evaluation file is the `chorus` crate's job
//! (`chorus eval cluster`); this crate has no model and no store, so its parts are easy to
//! test on their own.

pub mod datasets;
pub mod extraction;
pub mod metrics;
pub mod rouge;
pub mod snippets;
pub mod synth;

pub use datasets::EvalArticle;
use metrics::Prf;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

/// A problem with one line of an evaluation file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number (0 for problems with the whole file).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 { write!(f, "{}", self.message) } else { write!(f, "line {}: {}", self.line, self.message) }
    }
}

/// The non-blank lines of `input` with their 1-based numbers; a line that cannot be read
/// (bad UTF-8, I/O error) becomes an error naming it.
pub(crate) fn numbered_lines(input: impl BufRead, errors: &mut Vec<LineError>) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        match line {
            Ok(l) if l.trim().is_empty() => {}
            Ok(l) => out.push((i + 1, l)),
            Err(e) => errors.push(LineError { line: i + 1, message: format!("unreadable: {e}") }),
        }
    }
    out
}

/// Reads an evaluation file strictly: every article needs an id, a non-empty text and a
/// gold `cluster` label; ids must be unique; `published` must be RFC 3339 when present.
/// Scores on a partly read file would mislead, so any problem fails the whole read, and
/// every problem is listed.
pub fn read_cluster_file(input: impl BufRead) -> Result<Vec<EvalArticle>, Vec<LineError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (n, line) in numbered_lines(input, &mut errors) {
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                errors.push(LineError { line: n, message: format!("not JSON: {e}") });
                continue;
            }
        };
        let field = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
        let Some(id) = field("id") else {
            errors.push(LineError { line: n, message: "missing \"id\"".into() });
            continue;
        };
        let Some(cluster) = field("cluster") else {
            errors.push(LineError { line: n, message: format!("article {id:?} has no gold \"cluster\" label") });
            continue;
        };
        let Some(text) = field("text") else {
            errors.push(LineError { line: n, message: format!("article {id:?} has no \"text\"") });
            continue;
        };
        let published = field("published").map(str::to_string);
        if let Some(p) = &published
            && chrono::DateTime::parse_from_rfc3339(p).is_err()
        {
            errors.push(LineError { line: n, message: format!("article {id:?}: \"published\" {p:?} is not RFC 3339") });
            continue;
        }
        if let Some(first) = seen.insert(id.to_string(), n) {
            errors.push(LineError { line: n, message: format!("duplicate id {id:?} (first on line {first})") });
            continue;
        }
        out.push(EvalArticle {
            id: id.to_string(),
            lang: field("lang").map(str::to_string),
            published,
            title: field("title").unwrap_or("").to_string(),
            text: text.to_string(),
            cluster: cluster.to_string(),
        });
    }
    if out.is_empty() && errors.is_empty() {
        errors.push(LineError { line: 0, message: "the file has no articles".into() });
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Pairwise and BCubed scores of one set of items.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Pairwise precision/recall/F1.
    pub pairwise: Prf,
    /// BCubed precision/recall/F1.
    pub bcubed: Prf,
    /// Number of items.
    pub n: usize,
}

/// Everything `chorus eval cluster` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterEval {
    /// Scores over all articles.
    pub pairwise: Prf,
    /// BCubed over all articles.
    pub bcubed: Prf,
    /// Scores per language (articles of that language only).
    pub per_lang: BTreeMap<String, Scores>,
    /// Recall of gold pairs in different languages; `null` when there are none.
    pub crosslingual_pair_recall: Option<f64>,
    /// Gold clusters.
    pub n_gold: usize,
    /// Predicted clusters.
    pub n_pred: usize,
    /// Articles scored.
    pub n_articles: usize,
    /// Articles per second through embedding and clustering together.
    pub articles_per_s: f64,
    /// Articles per second of embedding alone.
    pub embed_articles_per_s: f64,
    /// Articles per second of clustering alone.
    pub cluster_articles_per_s: f64,
}

/// Scores a predicted clustering against gold labels. `langs[i]` is item i's language.
pub fn score_clustering(gold: &[String], pred: &[i64], langs: &[String]) -> ClusterEval {
    let mut per_lang: BTreeMap<String, (Vec<&String>, Vec<i64>)> = BTreeMap::new();
    for ((g, p), l) in gold.iter().zip(pred).zip(langs) {
        let e = per_lang.entry(l.clone()).or_default();
        e.0.push(g);
        e.1.push(*p);
    }
    let distinct = |v: Vec<String>| v.into_iter().collect::<std::collections::BTreeSet<_>>().len();
    ClusterEval {
        pairwise: metrics::pairwise(gold, pred),
        bcubed: metrics::bcubed(gold, pred),
        per_lang: per_lang
            .into_iter()
            .map(|(l, (g, p))| {
                (l, Scores { pairwise: metrics::pairwise(&g, &p), bcubed: metrics::bcubed(&g, &p), n: g.len() })
            })
            .collect(),
        crosslingual_pair_recall: metrics::crosslingual_pair_recall(gold, pred, langs),
        n_gold: distinct(gold.to_vec()),
        n_pred: pred.iter().collect::<std::collections::BTreeSet<_>>().len(),
        n_articles: gold.len(),
        articles_per_s: 0.0,
        embed_articles_per_s: 0.0,
        cluster_articles_per_s: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_reader_names_every_bad_line() {
        let input = [
            r#"{"id":"a","lang":"en","published":"2026-01-06T10:00:00Z","title":"","text":"x","cluster":"e1"}"#,
            r#"{"id":"b","text":"y"}"#,
            r#"not json"#,
            r#"{"id":"a","text":"z","cluster":"e2"}"#,
            r#"{"id":"c","text":"w","cluster":"e2","published":"tuesday"}"#,
            r#"{"text":"v","cluster":"e2"}"#,
            r#"{"id":"d","text":"","cluster":"e2"}"#,
            r#"{"id":"e","text":"ok","cluster":"e2"}"#,
        ]
        .join("\n");
        let errs = read_cluster_file(input.as_bytes()).unwrap_err();
        let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7]);
        assert!(errs[0].to_string().contains("no gold \"cluster\""));
        assert!(errs[2].to_string().contains("duplicate id \"a\" (first on line 1)"));
        assert!(errs[3].to_string().contains("not RFC 3339"));
    }

    #[test]
    fn empty_file_is_an_error_and_good_file_reads() {
        assert_eq!(read_cluster_file("".as_bytes()).unwrap_err()[0].message, "the file has no articles");
        let ok = read_cluster_file(r#"{"id":"a","text":"x","cluster":"e"}"#.as_bytes()).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].title, "");
    }

    #[test]
    fn scores_per_language_and_counts() {
        let gold: Vec<String> = ["e1", "e1", "e2", "e2"].map(String::from).to_vec();
        let langs: Vec<String> = ["en", "de", "en", "de"].map(String::from).to_vec();
        let s = score_clustering(&gold, &[1, 1, 2, 3], &langs);
        assert_eq!((s.n_gold, s.n_pred, s.n_articles), (2, 3, 4));
        assert_eq!(s.crosslingual_pair_recall, Some(0.5));
        assert_eq!(s.per_lang["en"].n, 2);
        assert_eq!(s.per_lang["en"].bcubed.f1, 1.0);
        assert!(s.bcubed.p == 1.0 && s.bcubed.r < 1.0);
    }
}
