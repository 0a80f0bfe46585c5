//! Sentence splitting per language.
//!
//! sentencex (Wikimedia) knows the abbreviations of ~30 languages and falls back to
//! generic rules for the rest. On top of it chorus splits at line breaks (paragraphs never
//! share a sentence in the corpora it reads), re-joins a piece that starts with a
//! lower-case letter or a digit to the one before it (a split after an abbreviation the
//! rules missed, such as French "janv." or "M."), and trims the pieces.

/// Splits `text` in language `lang` (ISO 639-1) into trimmed, non-empty sentences. Every
/// sentence is a verbatim slice of `text` (re-joined pieces keep the original characters
/// between them), so a quoted sentence can always be found in its source.
pub fn split(text: &str, lang: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // Byte range in `line` of the sentence being built.
        let mut current: Option<(usize, usize)> = None;
        let mut cursor = 0;
        for piece in sentencex::segment(lang, line).into_iter().map(str::trim).filter(|p| !p.is_empty()) {
            let Some(found) = line.get(cursor..).and_then(|rest| rest.find(piece)) else {
                continue;
            };
            let (start, end) = (cursor + found, cursor + found + piece.len());
            cursor = end;
            let continues = piece.chars().next().is_some_and(|c| c.is_lowercase() || c.is_ascii_digit());
            current = match current {
                Some((s, _)) if continues => Some((s, end)),
                Some((s, e)) => {
                    out.push(line[s..e].to_string());
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        if let Some((s, e)) = current {
            out.push(line[s..e].to_string());
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
    fn rejoined_pieces_stay_verbatim() {
        let text = "He hosted a commemoration. \u{201c}500,071 dead.\u{201d} It was  dark.";
        for s in split(text, "en") {
            assert!(text.contains(&s), "{s:?} is not a slice of the text");
        }
    }

    #[test]
    fn unknown_language_and_empty_text() {
        assert!(split("", "xx").is_empty());
        assert!(split("  \n \n", "de").is_empty());
        assert_eq!(split("Eins. Zwei drei.", "zz").len(), 2);
        assert_eq!(split("!!! ...", "en").len(), 0);
    }
}
