//! Sentence splitting per language.
//!
//! sentencex (Wikimedia) knows the abbreviations of ~30 languages and falls back to
//! generic rules for the rest. On top of it chorus splits at line breaks (paragraphs never
//! share a sentence in the corpora it reads), re-joins a piece that starts with a
//! lower-case letter or a digit to the one before it (a split after an abbreviation the
//! rules missed, such as French "janv." or "M."), and trims the pieces.

/// Splits `text` in language `lang` (ISO 639-1) into trimmed, non-empty sentences.
pub fn split(text: &str, lang: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut first_of_line = true;
        for piece in sentencex::segment(lang, line).into_iter().map(str::trim).filter(|p| !p.is_empty()) {
            let continues = piece.chars().next().is_some_and(|c| c.is_lowercase() || c.is_ascii_digit());
            match out.last_mut() {
                Some(prev) if continues && !first_of_line => {
                    prev.push(' ');
                    prev.push_str(piece);
                }
                _ => out.push(piece.to_string()),
            }
            first_of_line = false;
        }
    }
    out.retain(|s| s.chars().any(char::is_alphanumeric));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_per_language_and_line() {
        let en = split("Dr. Smith left at 5 p.m. He came back.\nA new paragraph starts here", "en");
        assert_eq!(en, vec!["Dr. Smith left at 5 p.m.", "He came back.", "A new paragraph starts here"]);
        let fr = split("Le sommet a eu lieu à Paris le 6 janv. 2026. Il a duré deux jours.", "fr");
        assert_eq!(fr, vec!["Le sommet a eu lieu à Paris le 6 janv. 2026.", "Il a duré deux jours."]);
        let de = split("Am 3. Oktober kam er an. Danach ging er.", "de");
        assert_eq!(de, vec!["Am 3. Oktober kam er an.", "Danach ging er."]);
    }

    #[test]
    fn unknown_language_and_empty_text() {
        assert!(split("", "xx").is_empty());
        assert!(split("  \n \n", "de").is_empty());
        assert_eq!(split("Eins. Zwei drei.", "zz").len(), 2);
        assert_eq!(split("!!! ...", "en").len(), 0);
    }
}
