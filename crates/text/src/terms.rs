//! Bag-of-words terms for lexical similarity (TF-IDF), in any script.
//!
//! Words are runs of letters and digits, lower-cased. Scripts written without spaces
//! (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) are cut into overlapping character
//! pairs instead, the usual stand-in for words there. Names and numbers (capitalised
//! words that do not open a sentence, tokens that are mostly digits) count `entity_boost`
//! times, because two reports of one event share them even when their wording differs.
//!
//! Terms are hashes, so the clusterer can keep document frequencies and story term sums
//! in plain maps, and the same name matches across languages that share a script.

use xxhash_rust::xxh3::xxh3_64;

/// Whether `c` belongs to a script that does not separate words with spaces.
fn unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF      // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF) // CJK compatibility ideographs
}

/// Term counts of `text` as `(term hash, weight)`, sorted by hash, one entry per term.
/// Names and numbers weigh `entity_boost` per occurrence, other words 1.
pub fn term_counts(text: &str, entity_boost: f32) -> Vec<(u64, f32)> {
    let mut out: Vec<(u64, f32)> = Vec::new();
    let mut sentence_start = true;
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    let mut run: Vec<char> = Vec::new();
    let flush_run = |run: &mut Vec<char>, out: &mut Vec<(u64, f32)>| {
        if run.len() == 1 {
            out.push((xxh3_64(run[0].to_string().as_bytes()), 1.0));
        }
        for pair in run.windows(2) {
            let s: String = pair.iter().collect();
            out.push((xxh3_64(s.as_bytes()), 1.0));
        }
        run.clear();
    };
    while let Some(c) = chars.next() {
        if unspaced(c) {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            flush_run(&mut run, &mut out);
        }
        if c.is_alphanumeric() {
            word.push(c);
            let next_is_word = chars.peek().is_some_and(|n| n.is_alphanumeric() && !unspaced(*n));
            if next_is_word {
                continue;
            }
            let first = word.chars().next().unwrap_or(' ');
            let len = word.chars().count();
            let digits = word.chars().filter(char::is_ascii_digit).count();
            let is_number = digits >= 2 && digits * 2 >= len;
            let is_name = first.is_uppercase() && !sentence_start && len >= 3;
            let weight = if is_number || is_name { entity_boost } else { 1.0 };
            if len >= 2 || digits == 1 {
                out.push((xxh3_64(word.to_lowercase().as_bytes()), weight));
            }
            word.clear();
            sentence_start = false;
        } else if matches!(c, '.' | '!' | '?' | ':' | '\n' | '"' | '«' | '“') {
            sentence_start = true;
        }
    }
    if !run.is_empty() {
        flush_run(&mut run, &mut out);
    }
    merge(out)
}

/// Sorts `(term, weight)` pairs by term and sums the weights of repeated terms, so two
/// bags of terms can be added by concatenating them and merging.
pub fn merge(mut terms: Vec<(u64, f32)>) -> Vec<(u64, f32)> {
    terms.sort_unstable_by_key(|t| t.0);
    let mut merged: Vec<(u64, f32)> = Vec::with_capacity(terms.len());
    for (h, w) in terms {
        match merged.last_mut() {
            Some(last) if last.0 == h => last.1 += w,
            _ => merged.push((h, w)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight(terms: &[(u64, f32)], word: &str) -> f32 {
        let h = xxh3_64(word.as_bytes());
        terms.iter().find(|t| t.0 == h).map_or(0.0, |t| t.1)
    }

    #[test]
    fn words_lower_cased_and_counted() {
        let t = term_counts("The summit in Paris drew 35 leaders. The summit ended.", 2.0);
        assert_eq!(weight(&t, "summit"), 2.0);
        assert_eq!(weight(&t, "the"), 2.0, "sentence-initial 'The' is not a name");
        assert_eq!(weight(&t, "paris"), 2.0, "a name counts double");
        assert_eq!(weight(&t, "35"), 2.0, "a number counts double");
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "sorted, one entry per term");
    }

    #[test]
    fn unspaced_scripts_become_character_pairs() {
        let t = term_counts("北京举行峰会", 2.0);
        assert_eq!(t.len(), 5);
        assert_eq!(weight(&t, "峰会"), 1.0);
        let th = term_counts("ประชุมสุดยอด Bangkok", 2.0);
        assert!(weight(&th, "bangkok") > 0.0);
        assert!(term_counts("", 2.0).is_empty());
        assert!(term_counts("... !!", 2.0).is_empty());
    }
}
