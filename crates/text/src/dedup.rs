//! Exact and near-duplicate detection for article texts.
//!
//! The same wire report republished by two outlets is one report, not two. Each text gets
//! a [`Fingerprint`]: a hash of its normalised words (exact copies) and a 64-value MinHash
//! signature over word 4-shingles (character 3-grams for scripts written without spaces),
//! whose agreement estimates the Jaccard similarity of the two shingle sets. [`DedupIndex`]
//! finds earlier texts with an estimated Jaccard at or above a threshold through LSH
//! banding (16 bands of 4 rows), so lookups stay fast as the index grows.
//!
//! The hash functions are part of chorus's stored data: changing them needs a new
//! [`FINGERPRINT_VERSION`].

use std::collections::HashMap;
use xxhash_rust::xxh3::xxh3_64;

/// Version of the fingerprint scheme; stored next to signatures.
pub const FINGERPRINT_VERSION: u32 = 1;
/// Number of MinHash values per signature.
pub const SIGNATURE_LEN: usize = 64;
const BANDS: usize = 16;
const ROWS: usize = SIGNATURE_LEN / BANDS;

/// Exact-content hash and MinHash signature of one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash of the normalised word sequence: equal for texts that differ only in case,
    /// punctuation and spacing.
    pub exact: u64,
    /// MinHash signature over shingles.
    pub minhash: [u64; SIGNATURE_LEN],
}

fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(|t| t.to_lowercase()).collect()
}

/// Scripts written without spaces between words (CJK, Thai, …) need character shingles.
fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF | 0x1000..=0x109F | 0x1780..=0x17FF | 0x3040..=0x30FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

fn shingles(tokens: &[String]) -> Vec<u64> {
    let chars: usize = tokens.iter().map(|t| t.chars().count()).sum();
    let unspaced = tokens.iter().flat_map(|t| t.chars()).filter(|c| is_unspaced(*c)).count();
    if chars > 0 && unspaced * 2 > chars {
        let cs: Vec<char> = tokens.iter().flat_map(|t| t.chars()).collect();
        if cs.len() < 3 {
            return vec![xxh3_64(cs.iter().collect::<String>().as_bytes())];
        }
        return cs.windows(3).map(|w| xxh3_64(w.iter().collect::<String>().as_bytes())).collect();
    }
    const K: usize = 4;
    if tokens.len() < K {
        return tokens.iter().map(|t| xxh3_64(t.as_bytes())).collect();
    }
    tokens.windows(K).map(|w| xxh3_64(w.join(" ").as_bytes())).collect()
}

/// Fixed odd multipliers and offsets of the 64 hash permutations (splitmix64 sequence).
fn permutations() -> &'static [(u64, u64); SIGNATURE_LEN] {
    static PERMS: std::sync::OnceLock<[(u64, u64); SIGNATURE_LEN]> = std::sync::OnceLock::new();
    PERMS.get_or_init(|| {
        let mut state: u64 = 0x5eed_c0de_0000_0001;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut p = [(0u64, 0u64); SIGNATURE_LEN];
        for slot in p.iter_mut() {
            *slot = (next() | 1, next());
        }
        p
    })
}

impl Fingerprint {
    /// Computes the fingerprint of a text.
    pub fn of(text: &str) -> Fingerprint {
        let toks = tokens(text);
        let exact = xxh3_64(toks.join(" ").as_bytes());
        let mut minhash = [u64::MAX; SIGNATURE_LEN];
        let perms = permutations();
        for h in shingles(&toks) {
            for (slot, (a, b)) in minhash.iter_mut().zip(perms.iter()) {
                let v = h.wrapping_mul(*a).wrapping_add(*b);
                if v < *slot {
                    *slot = v;
                }
            }
        }
        Fingerprint { exact, minhash }
    }

    /// Estimated Jaccard similarity of the two texts' shingle sets.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        if self.exact == other.exact {
            return 1.0;
        }
        let same = self.minhash.iter().zip(other.minhash.iter()).filter(|(a, b)| a == b).count();
        same as f64 / SIGNATURE_LEN as f64
    }

    /// Serialises the fingerprint: version (u32), exact hash, then the signature, all
    /// little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(4 + 8 * (1 + SIGNATURE_LEN));
        b.extend_from_slice(&FINGERPRINT_VERSION.to_le_bytes());
        b.extend_from_slice(&self.exact.to_le_bytes());
        for v in &self.minhash {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Reads a fingerprint written by [`to_bytes`](Self::to_bytes); `None` when the bytes
    /// are of another version or length (the caller should recompute it from the text).
    pub fn from_bytes(b: &[u8]) -> Option<Fingerprint> {
        if b.len() != 4 + 8 * (1 + SIGNATURE_LEN) || b[..4] != FINGERPRINT_VERSION.to_le_bytes() {
            return None;
        }
        let word = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[4 + 8 * i..12 + 8 * i]);
            u64::from_le_bytes(a)
        };
        let mut minhash = [0u64; SIGNATURE_LEN];
        for (i, slot) in minhash.iter_mut().enumerate() {
            *slot = word(i + 1);
        }
        Some(Fingerprint { exact: word(0), minhash })
    }

    fn band_keys(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.minhash.chunks(ROWS).enumerate().map(|(band, rows)| {
            let mut bytes = Vec::with_capacity(ROWS * 8);
            for r in rows {
                bytes.extend_from_slice(&r.to_le_bytes());
            }
            (band, xxh3_64(&bytes))
        })
    }
}

/// A near-duplicate found by [`DedupIndex::find`].
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateMatch {
    /// Key of the earlier text.
    pub key: String,
    /// Estimated Jaccard similarity (1.0 for exact copies).
    pub similarity: f64,
}

/// Index of fingerprints that answers "which earlier text does this one copy?".
#[derive(Debug, Default)]
pub struct DedupIndex {
    entries: Vec<(String, Fingerprint)>,
    exact: HashMap<u64, usize>,
    bands: HashMap<(usize, u64), Vec<usize>>,
}

impl DedupIndex {
    /// An empty index.
    pub fn new() -> DedupIndex {
        DedupIndex::default()
    }

    /// Number of texts indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a text's fingerprint under `key`.
    pub fn insert(&mut self, key: impl Into<String>, fp: Fingerprint) {
        let idx = self.entries.len();
        self.exact.entry(fp.exact).or_insert(idx);
        for bk in fp.band_keys() {
            self.bands.entry(bk).or_default().push(idx);
        }
        self.entries.push((key.into(), fp));
    }

    /// The most similar earlier text with estimated Jaccard ≥ `threshold`, if any
    /// (the earliest inserted one among equals).
    pub fn find(&self, fp: &Fingerprint, threshold: f64) -> Option<DuplicateMatch> {
        if let Some(&idx) = self.exact.get(&fp.exact) {
            return Some(DuplicateMatch { key: self.entries[idx].0.clone(), similarity: 1.0 });
        }
        let mut best: Option<(usize, f64)> = None;
        let mut seen = std::collections::HashSet::new();
        for bk in fp.band_keys() {
            for &idx in self.bands.get(&bk).into_iter().flatten() {
                if !seen.insert(idx) {
                    continue;
                }
                let sim = fp.similarity(&self.entries[idx].1);
                let better = match best {
                    None => true,
                    Some((bi, bs)) => sim > bs || (sim == bs && idx < bi),
                };
                if sim >= threshold && better {
                    best = Some((idx, sim));
                }
            }
        }
        best.map(|(idx, similarity)| DuplicateMatch { key: self.entries[idx].0.clone(), similarity })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIRE: &str = "PARIS (AFP) - Leaders of 35 nations met in Paris on Tuesday to agree on \
        security guarantees for Ukraine, French President Emmanuel Macron said after the summit, \
        adding that thousands of French soldiers could be deployed once a ceasefire holds.";

    #[test]
    fn exact_copy_differs_only_in_case_and_punctuation() {
        let a = Fingerprint::of(WIRE);
        let b = Fingerprint::of(&WIRE.to_uppercase().replace(',', ""));
        assert_eq!(a.exact, b.exact);
        assert_eq!(a.similarity(&b), 1.0);
    }

    #[test]
    fn light_edit_is_near_duplicate_and_other_text_is_not() {
        let edited = WIRE.replace("on Tuesday", "on Tuesday evening").replace("PARIS (AFP) - ", "");
        let other = "The central bank raised its key interest rate by a quarter point on Thursday, \
            citing persistent inflation in services and a tight labour market across the region.";
        let mut idx = DedupIndex::new();
        idx.insert("wire", Fingerprint::of(WIRE));
        idx.insert("other", Fingerprint::of(other));
        let hit = idx.find(&Fingerprint::of(&edited), 0.6).expect("near-duplicate found");
        assert_eq!(hit.key, "wire");
        assert!(hit.similarity < 1.0 && hit.similarity >= 0.6, "{}", hit.similarity);
        let unrelated = "Heavy rain flooded streets in Valencia, and rescuers evacuated hundreds of people.";
        assert!(idx.find(&Fingerprint::of(unrelated), 0.6).is_none());
    }

    #[test]
    fn unspaced_scripts_use_character_shingles() {
        let a = Fingerprint::of("巴黎峰会上三十五个国家同意为乌克兰提供安全保障");
        let b = Fingerprint::of("巴黎峰会上三十五个国家同意为乌克兰提供安全保障。");
        let c = Fingerprint::of("日本銀行は木曜日に政策金利を引き上げた");
        assert_eq!(a.similarity(&b), 1.0);
        assert!(a.similarity(&c) < 0.2);
    }

    #[test]
    fn bytes_round_trip_and_reject_other_versions() {
        let fp = Fingerprint::of(WIRE);
        let b = fp.to_bytes();
        assert_eq!(Fingerprint::from_bytes(&b), Some(fp));
        let mut other = b.clone();
        other[0] = 99;
        assert_eq!(Fingerprint::from_bytes(&other), None);
        assert_eq!(Fingerprint::from_bytes(&b[..10]), None);
    }

    #[test]
    fn empty_text_is_harmless() {
        let e = Fingerprint::of("");
        let mut idx = DedupIndex::new();
        assert!(idx.find(&e, 0.8).is_none());
        idx.insert("e", e.clone());
        assert_eq!(idx.find(&e, 0.8).map(|m| m.key), Some("e".to_string()));
        assert_eq!(idx.len(), 1);
    }
}
