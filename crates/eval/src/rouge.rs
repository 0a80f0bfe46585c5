//! ROUGE-1, ROUGE-2 and ROUGE-L F1, computed the way Google's `rouge-score` package does,
//! so chorus's numbers compare with published ones.
//!
//! Tokens: the text is lower-cased, every run of characters other than `a-z0-9` becomes
//! a space, and, with stemming, tokens longer than three characters are stemmed with
//! NLTK's Porter stemmer (its default, NLTK-extensions mode: the one `rouge-score`
//! calls). Non-ASCII letters vanish, as there: ROUGE so computed is for English.
//! ROUGE-N counts clipped n-gram overlaps; ROUGE-L is the longest common subsequence of
//! the two token sequences (`rougeL`, not the sentence-split `rougeLsum`).

use crate::metrics::Prf;
use serde::Serialize;
use std::collections::HashMap;

/// ROUGE scores of one candidate against one reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RougeScores {
    /// Unigram overlap.
    pub rouge1: Prf,
    /// Bigram overlap.
    pub rouge2: Prf,
    /// Longest common subsequence.
    pub rouge_l: Prf,
}

/// A ROUGE scorer; build it once, it holds the stemmer.
pub struct Rouge {
    stemmer: Option<nltk_porter::PorterStemmer>,
}

impl Rouge {
    /// A scorer with (`true`) or without Porter stemming.
    pub fn new(stem: bool) -> Rouge {
        Rouge { stemmer: stem.then(|| nltk_porter::PorterStemmer::new(nltk_porter::Mode::Nltk)) }
    }

    /// `rouge-score`'s tokens of `text`.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let lowered = text.to_lowercase();
        lowered
            .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
            .filter(|t| !t.is_empty())
            .map(|t| match &self.stemmer {
                Some(s) if t.len() > 3 => s.stem(t),
                _ => t.to_string(),
            })
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            .collect()
    }

    /// Scores `candidate` against `reference`.
    pub fn score(&self, candidate: &str, reference: &str) -> RougeScores {
        let (c, r) = (self.tokens(candidate), self.tokens(reference));
        RougeScores { rouge1: rouge_n(&c, &r, 1), rouge2: rouge_n(&c, &r, 2), rouge_l: rouge_l(&c, &r) }
    }
}

fn prf(overlap: usize, candidate_total: usize, reference_total: usize) -> Prf {
    let p = overlap as f64 / candidate_total.max(1) as f64;
    let r = overlap as f64 / reference_total.max(1) as f64;
    let f1 = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
    Prf { p, r, f1 }
}

fn ngrams(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut out: HashMap<&[String], usize> = HashMap::new();
    if n > 0 && tokens.len() >= n {
        for w in tokens.windows(n) {
            *out.entry(w).or_default() += 1;
        }
    }
    out
}

/// ROUGE-N of token sequences.
pub fn rouge_n(candidate: &[String], reference: &[String], n: usize) -> Prf {
    let (c, r) = (ngrams(candidate, n), ngrams(reference, n));
    let overlap: usize = c.iter().map(|(g, k)| (*k).min(r.get(g).copied().unwrap_or(0))).sum();
    prf(overlap, c.values().sum(), r.values().sum())
}

/// ROUGE-L of token sequences (longest common subsequence, two rows of the table).
pub fn rouge_l(candidate: &[String], reference: &[String]) -> Prf {
    let mut prev = vec![0usize; reference.len() + 1];
    let mut cur = vec![0usize; reference.len() + 1];
    for c in candidate {
        for (j, r) in reference.iter().enumerate() {
            cur[j + 1] = if c == r { prev[j] + 1 } else { cur[j].max(prev[j + 1]) };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prf(prev[reference.len()], candidate.len(), reference.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Expected values printed by `rouge-score` 0.1.2 with nltk 3.10.4:
    /// `rouge_scorer.RougeScorer(["rouge1","rouge2","rougeL"], use_stemmer=True).score(reference, candidate)`.
    #[test]
    fn matches_rouge_score_package() {
        let rouge = Rouge::new(true);
        let cases: &[(&str, &str, [f64; 3])] = &[
            (
                "A cat runs quickly home to its house!",
                "The cats were running quickly to the houses.",
                [0.625, 0.14285714285714285, 0.625],
            ),
            (
                "Florida reported 15,000 new COVID-19 coronavirus cases on Sunday, breaking a record.",
                "Florida Breaks Record At 15,000 Coronavirus Cases In A Day. Florida reported 15,000 new \
                 COVID-19 coronavirus cases on Sunday, breaking a new national single-day record.",
                ROUGE_CASE_2,
            ),
            (
                "Moderate Democrats are voicing concern over Sen. Bernie Sanders' front-runner status; \
                 they believe a Sanders win would seal Donald Trump's reelection.",
                "Moderate Democrats and Democratic Party loyalists are voicing concern — even panic — over \
                 Sen. Bernie Sanders' apparent cementing of his front-runner status.",
                ROUGE_CASE_3,
            ),
        ];
        for (candidate, reference, want) in cases {
            let s = rouge.score(candidate, reference);
            assert!(close(s.rouge1.f1, want[0]), "rouge1 {} vs {} for {candidate:?}", s.rouge1.f1, want[0]);
            assert!(close(s.rouge2.f1, want[1]), "rouge2 {} vs {} for {candidate:?}", s.rouge2.f1, want[1]);
            assert!(close(s.rouge_l.f1, want[2]), "rougeL {} vs {} for {candidate:?}", s.rouge_l.f1, want[2]);
        }
    }

    const ROUGE_CASE_2: [f64; 3] = [0.6511627906976745, 0.5853658536585366, 0.6511627906976745];
    const ROUGE_CASE_3: [f64; 3] = [0.5333333333333332, 0.37209302325581395, 0.5333333333333332];

    #[test]
    fn stemming_and_tokens() {
        let rouge = Rouge::new(true);
        assert_eq!(rouge.tokens("Running, cats! The 2024 élection"), vec!["run", "cat", "the", "2024", "lection"]);
        let plain = Rouge::new(false);
        assert_eq!(plain.tokens("Running cats"), vec!["running", "cats"]);
        let empty = rouge.score("", "anything");
        assert_eq!(empty.rouge1.f1, 0.0);
    }
}
