//! Cheap, language-independent "entity" keys: capitalised words that do not open a
//! sentence (names of people, places, organisations in scripts with case) and numbers.
//!
//! Two reports of one event share names and figures even when their wording differs; the
//! clusterer uses the overlap of these keys as evidence next to the embedding similarity.
//! Keys are hashes of the lower-cased token, so "Macron" in a French and a German article
//! match.

use xxhash_rust::xxh3::xxh3_64;

/// Hashed entity keys of `text`, sorted and without repeats.
pub fn keys(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    for raw in text.split(|c: char| c.is_whitespace()) {
        let word: &str = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let ends_sentence = raw.ends_with(['.', '!', '?', ':', '\n']);
        if word.is_empty() {
            sentence_start |= ends_sentence;
            continue;
        }
        let first = word.chars().next().unwrap_or(' ');
        let digits = word.chars().filter(char::is_ascii_digit).count();
        let is_number = digits >= 2 && digits * 2 >= word.chars().count();
        let is_name = first.is_uppercase() && !sentence_start && word.chars().count() >= 3;
        if is_number || is_name {
            out.push(xxh3_64(word.to_lowercase().as_bytes()));
        }
        sentence_start = ends_sentence;
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_not_sentence_openers() {
        let k = keys("The summit in Paris drew 35 leaders. Macron spoke first, then Merz.");
        // Paris, 35, Merz; "The" and "Macron" open sentences; "leaders" is lower case.
        assert_eq!(k.len(), 3);
        let de = keys("Das Treffen in Paris brachte 35 Staatschefs zusammen, sagte Merz.");
        let shared = k.iter().filter(|x| de.contains(x)).count();
        assert_eq!(shared, 3, "Paris, 35 and Merz match across languages");
        assert!(keys("").is_empty());
        assert!(keys("小さな文。").is_empty());
    }
}
