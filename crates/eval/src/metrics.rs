//! Clustering scores: pairwise and BCubed precision/recall/F1, per language, and the recall
//! of cross-lingual gold pairs.
//!
//! Definitions follow Miranda et al. (EMNLP 2018, "Multilingual Clustering of Streaming
//! News") and the stream-clustering papers after it (Bagga & Baldwin's BCubed):
//!
//! * pairwise: over all unordered pairs of items, a pair is a true positive when both the
//!   gold and the predicted clustering put it together; P = TP / predicted pairs,
//!   R = TP / gold pairs;
//! * BCubed: for each item, precision is the share of its predicted cluster that shares its
//!   gold label and recall the share of its gold cluster that shares its predicted cluster;
//!   P and R are averaged over items.
//!
//! Both are computed from the contingency table, so they cost O(items), not O(items²).

use serde::Serialize;
use std::collections::HashMap;
use std::hash::Hash;

/// Precision, recall and F1, as fractions in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prf {
    /// Precision.
    pub p: f64,
    /// Recall.
    pub r: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

impl Prf {
    fn new(p: f64, r: f64) -> Prf {
        let f1 = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        Prf { p, r, f1 }
    }
}

fn pairs(n: usize) -> f64 {
    (n as f64) * (n as f64 - 1.0) / 2.0
}

struct Table {
    cells: HashMap<(usize, usize), usize>,
    gold_sizes: HashMap<usize, usize>,
    pred_sizes: HashMap<usize, usize>,
    n: usize,
}

fn table<G: Hash + Eq, P: Hash + Eq>(gold: &[G], pred: &[P]) -> Table {
    let mut gi: HashMap<&G, usize> = HashMap::new();
    let mut pi: HashMap<&P, usize> = HashMap::new();
    let mut t = Table { cells: HashMap::new(), gold_sizes: HashMap::new(), pred_sizes: HashMap::new(), n: gold.len() };
    for (g, p) in gold.iter().zip(pred) {
        let next = gi.len();
        let g = *gi.entry(g).or_insert(next);
        let next = pi.len();
        let p = *pi.entry(p).or_insert(next);
        *t.cells.entry((g, p)).or_default() += 1;
        *t.gold_sizes.entry(g).or_default() += 1;
        *t.pred_sizes.entry(p).or_default() += 1;
    }
    t
}

/// Pairwise precision, recall and F1. With no pairs on a side, that side's score is 1.
pub fn pairwise<G: Hash + Eq, P: Hash + Eq>(gold: &[G], pred: &[P]) -> Prf {
    assert_eq!(gold.len(), pred.len(), "one gold and one predicted label per item");
    let t = table(gold, pred);
    let tp: f64 = t.cells.values().map(|&c| pairs(c)).sum();
    let pred_pairs: f64 = t.pred_sizes.values().map(|&c| pairs(c)).sum();
    let gold_pairs: f64 = t.gold_sizes.values().map(|&c| pairs(c)).sum();
    Prf::new(if pred_pairs > 0.0 { tp / pred_pairs } else { 1.0 }, if gold_pairs > 0.0 { tp / gold_pairs } else { 1.0 })
}

/// BCubed precision, recall and F1 (item-averaged). Empty input scores 0.
pub fn bcubed<G: Hash + Eq, P: Hash + Eq>(gold: &[G], pred: &[P]) -> Prf {
    assert_eq!(gold.len(), pred.len(), "one gold and one predicted label per item");
    let t = table(gold, pred);
    if t.n == 0 {
        return Prf::new(0.0, 0.0);
    }
    let (mut p, mut r) = (0.0, 0.0);
    for (&(g, q), &c) in &t.cells {
        let c2 = (c * c) as f64;
        p += c2 / t.pred_sizes[&q] as f64;
        r += c2 / t.gold_sizes[&g] as f64;
    }
    Prf::new(p / t.n as f64, r / t.n as f64)
}

/// Among gold pairs whose two items are in different languages, the share that the
/// prediction puts together. `None` when the gold has no cross-lingual pair.
pub fn crosslingual_pair_recall<G: Hash + Eq, P: Hash + Eq + Clone, L: Hash + Eq + Clone>(
    gold: &[G],
    pred: &[P],
    langs: &[L],
) -> Option<f64> {
    /// Per gold cluster: items per language, and per (language, predicted cluster).
    type Counts<L, P> = (HashMap<L, usize>, HashMap<(L, P), usize>);
    let mut by_gold: HashMap<&G, Counts<L, P>> = HashMap::new();
    for ((g, p), l) in gold.iter().zip(pred).zip(langs) {
        let e = by_gold.entry(g).or_default();
        *e.0.entry(l.clone()).or_default() += 1;
        *e.1.entry((l.clone(), p.clone())).or_default() += 1;
    }
    let (mut total, mut hit) = (0f64, 0f64);
    for (per_lang, per_lang_pred) in by_gold.values() {
        let n: usize = per_lang.values().sum();
        let same_lang: f64 = per_lang.values().map(|&c| pairs(c)).sum();
        total += pairs(n) - same_lang;
        // Pairs together in the prediction, minus those within one language.
        let mut per_pred: HashMap<&P, usize> = HashMap::new();
        for ((_, p), &c) in per_lang_pred {
            *per_pred.entry(p).or_default() += c;
        }
        let together: f64 = per_pred.values().map(|&c| pairs(c)).sum();
        let together_same_lang: f64 = per_lang_pred.values().map(|&c| pairs(c)).sum();
        hit += together - together_same_lang;
    }
    (total > 0.0).then(|| hit / total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn perfect_and_all_in_one() {
        let gold = [1, 1, 2, 2, 2];
        let same = pairwise(&gold, &["a", "a", "b", "b", "b"]);
        assert_eq!((same.p, same.r, same.f1), (1.0, 1.0, 1.0));
        assert_eq!(bcubed(&gold, &["a", "a", "b", "b", "b"]).f1, 1.0);
        let one = bcubed(&gold, &[0; 5]);
        // Each item's predicted cluster has 5 items of which 2 or 3 share its label.
        assert!(close(one.p, (2.0 * 2.0 / 5.0 + 3.0 * 3.0 / 5.0) / 5.0));
        assert_eq!(one.r, 1.0);
        let pw = pairwise(&gold, &[0; 5]);
        assert!(close(pw.p, 4.0 / 10.0) && pw.r == 1.0);
    }

    #[test]
    fn textbook_bcubed_example() {
        // Amigó et al. style: gold {a,b,c},{d,e}; predicted {a,b},{c,d,e}.
        let gold = ["x", "x", "x", "y", "y"];
        let pred = [1, 1, 2, 2, 2];
        let b = bcubed(&gold, &pred);
        // Precision: a,b: 1; c: 1/3; d,e: 2/3 → (1+1+1/3+2/3+2/3)/5.
        assert!(close(b.p, (1.0 + 1.0 + 1.0 / 3.0 + 2.0 / 3.0 + 2.0 / 3.0) / 5.0));
        // Recall: a,b: 2/3; c: 1/3; d,e: 1 → (2/3+2/3+1/3+1+1)/5.
        assert!(close(b.r, (2.0 / 3.0 + 2.0 / 3.0 + 1.0 / 3.0 + 1.0 + 1.0) / 5.0));
        let p = pairwise(&gold, &pred);
        // Gold pairs: ab ac bc de = 4; predicted: ab cd ce de = 4; TP: ab de = 2.
        assert!(close(p.p, 0.5) && close(p.r, 0.5));
    }

    #[test]
    fn cross_lingual_recall_counts_only_mixed_language_pairs() {
        let gold = ["e", "e", "e", "f"];
        let langs = ["en", "de", "en", "fr"];
        // Gold cross-lingual pairs: (0,1), (1,2). The prediction joins 0 and 1 only.
        let pred = [1, 1, 2, 3];
        assert!(close(crosslingual_pair_recall(&gold, &pred, &langs).unwrap(), 0.5));
        assert_eq!(crosslingual_pair_recall(&gold, &pred, &["en"; 4]), None);
    }

    #[test]
    fn empty_input() {
        let e: [u8; 0] = [];
        assert_eq!(bcubed(&e, &e).f1, 0.0);
        assert_eq!(pairwise(&e, &e).f1, 1.0);
    }
}
