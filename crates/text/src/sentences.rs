//! Sentence splitting per language.
//!
//! sentencex (Wikimedia) knows the abbreviations of ~30 languages and falls back to
//! generic rules for the rest. On top of it chorus splits at line breaks (paragraphs never
//! share a sentence in the corpora it reads) and trims the pieces.

/// Splits `text` in language `lang` (ISO 639-1) into trimmed, non-empty sentences.
pub fn split(text: &str, lang: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .flat_map(|line| sentencex::segment(lang, line).into_iter().map(str::trim).collect::<Vec<_>>())
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_per_language_and_line() {
        let en = split("Dr. Smith left at 5 p.m. He came back.\nA new paragraph starts here", "en");
        assert_eq!(en, vec!["Dr. Smith left at 5 p.m.", "He came back.", "A new paragraph starts here"]);
        let fr = split("M. Dupont est arrivé. Il est reparti le lendemain.", "fr");
        assert_eq!(fr.len(), 2, "{fr:?}");
    }

    #[test]
    fn unknown_language_and_empty_text() {
        assert!(split("", "xx").is_empty());
        assert!(split("  \n \n", "de").is_empty());
        assert_eq!(split("Eins. Zwei drei.", "zz").len(), 2);
    }
}
