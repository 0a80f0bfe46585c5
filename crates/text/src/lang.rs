//! Language identification and language-code normalisation.
//!
//! chorus names languages by ISO 639-1 codes (`de`, `fr`, …) where one exists, so that
//! codes from feeds (`de-DE`, `fra`, `FR`) and from detection agree.

/// Code used when the language is unknown.
pub const UNDETERMINED: &str = "und";

/// ISO 639-3 (as whatlang names them) to ISO 639-1.
const ISO3_TO_ISO1: &[(&str, &str)] = &[
    ("afr", "af"),
    ("aka", "ak"),
    ("amh", "am"),
    ("ara", "ar"),
    ("aze", "az"),
    ("bel", "be"),
    ("ben", "bn"),
    ("bul", "bg"),
    ("cat", "ca"),
    ("ces", "cs"),
    ("cmn", "zh"),
    ("cym", "cy"),
    ("dan", "da"),
    ("deu", "de"),
    ("ell", "el"),
    ("eng", "en"),
    ("epo", "eo"),
    ("est", "et"),
    ("fin", "fi"),
    ("fra", "fr"),
    ("guj", "gu"),
    ("heb", "he"),
    ("hin", "hi"),
    ("hrv", "hr"),
    ("hun", "hu"),
    ("hye", "hy"),
    ("ind", "id"),
    ("ita", "it"),
    ("jav", "jv"),
    ("jpn", "ja"),
    ("kan", "kn"),
    ("kat", "ka"),
    ("khm", "km"),
    ("kor", "ko"),
    ("lat", "la"),
    ("lav", "lv"),
    ("lit", "lt"),
    ("mal", "ml"),
    ("mar", "mr"),
    ("mkd", "mk"),
    ("mya", "my"),
    ("nep", "ne"),
    ("nld", "nl"),
    ("nob", "nb"),
    ("ori", "or"),
    ("pan", "pa"),
    ("pes", "fa"),
    ("pol", "pl"),
    ("por", "pt"),
    ("ron", "ro"),
    ("rus", "ru"),
    ("sin", "si"),
    ("slk", "sk"),
    ("slv", "sl"),
    ("sna", "sn"),
    ("spa", "es"),
    ("srp", "sr"),
    ("swe", "sv"),
    ("tam", "ta"),
    ("tel", "te"),
    ("tgl", "tl"),
    ("tha", "th"),
    ("tuk", "tk"),
    ("tur", "tr"),
    ("ukr", "uk"),
    ("urd", "ur"),
    ("uzb", "uz"),
    ("vie", "vi"),
    ("yid", "yi"),
    ("zul", "zu"),
    // Common bibliographic / macro-language variants seen in feeds.
    ("fre", "fr"),
    ("ger", "de"),
    ("zho", "zh"),
    ("chi", "zh"),
    ("fas", "fa"),
    ("per", "fa"),
    ("nor", "no"),
    ("dut", "nl"),
    ("gre", "el"),
    ("cze", "cs"),
    ("rum", "ro"),
    ("slo", "sk"),
];

/// Every ISO 639-1 code (plus the withdrawn `sh`, still used by Wikipedia).
const ISO1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy \
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig \
    ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml \
    mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg \
    sh si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo \
    xh yi yo za zh zu";

/// Result of normalising a declared language code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LangCode {
    /// A well-formed code, normalised (`de-DE` → `de`, `FRA` → `fr`).
    Known(String),
    /// Not a language code chorus understands.
    Invalid,
}

/// Normalises a declared language tag (BCP 47 or ISO 639-1/-3) to chorus's form.
///
/// Only the primary subtag is kept. Two-letter tags must be ISO 639-1 codes; three-letter
/// tags are mapped to two letters where a mapping is known and otherwise kept (ISO 639-3
/// has thousands of codes, e.g. `ckb`, `wuu`, used by Wikipedia editions).
pub fn normalize_code(tag: &str) -> LangCode {
    let primary = tag.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    if !primary.chars().all(|c| c.is_ascii_lowercase()) {
        return LangCode::Invalid;
    }
    match primary.len() {
        2 if ISO1.split_whitespace().any(|c| c == primary) => LangCode::Known(primary),
        2 => LangCode::Invalid,
        3 => LangCode::Known(
            ISO3_TO_ISO1
                .iter()
                .find(|(three, _)| *three == primary)
                .map(|(_, two)| (*two).to_string())
                .unwrap_or(primary),
        ),
        _ => LangCode::Invalid,
    }
}

/// A detected language with the detector's confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// ISO 639-1 code (ISO 639-3 where no two-letter code exists).
    pub code: String,
    /// Detector confidence in 0..=1.
    pub confidence: f64,
    /// Whether the detector considers the answer reliable.
    pub reliable: bool,
}

/// Detects the language of `text` (whatlang, 69 languages, data inside the crate).
///
/// Returns `None` when the text has no letters to go on.
pub fn detect(text: &str) -> Option<Detection> {
    let info = whatlang::detect(text)?;
    let code3 = info.lang().code();
    let code = match normalize_code(code3) {
        LangCode::Known(c) => c,
        LangCode::Invalid => code3.to_string(),
    };
    Some(Detection { code, confidence: info.confidence(), reliable: info.is_reliable() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_declared_codes() {
        assert_eq!(normalize_code("de-DE"), LangCode::Known("de".into()));
        assert_eq!(normalize_code("FRA"), LangCode::Known("fr".into()));
        assert_eq!(normalize_code("pt_BR"), LangCode::Known("pt".into()));
        assert_eq!(normalize_code("zho"), LangCode::Known("zh".into()));
        assert_eq!(normalize_code("klingon"), LangCode::Invalid);
        assert_eq!(normalize_code("1x"), LangCode::Invalid);
        assert_eq!(normalize_code("xx"), LangCode::Invalid);
        assert_eq!(normalize_code("ckb"), LangCode::Known("ckb".into()));
        assert_eq!(normalize_code(""), LangCode::Invalid);
    }

    #[test]
    fn detects_news_sentences() {
        let cases = [
            ("Der Bundestag hat am Dienstag ein neues Klimaschutzgesetz beschlossen.", "de"),
            ("Le Parlement a adopté mardi une nouvelle loi sur le climat.", "fr"),
            (
                "El Gobierno de España anunció este martes que la nueva ley sobre el clima entrará en vigor en enero.",
                "es",
            ),
            ("Il governo ha annunciato martedì una nuova legge sul clima.", "it"),
            ("At least 100 people are killed in renewed fighting between Kyrgyzstan and Tajikistan.", "en"),
            ("Верховная рада приняла во вторник новый закон о климате.", "ru"),
        ];
        for (text, want) in cases {
            let got = detect(text).expect("detects");
            assert_eq!(got.code, want, "{text}");
        }
        assert!(detect("12345 !!!").is_none());
        // Known weakness of whatlang on short text: it may guess wrong, but then says so.
        let short = detect("El Gobierno anunció este martes una nueva ley sobre el clima.").expect("detects");
        assert!(short.code == "es" || !short.reliable, "{short:?}");
        let short = detect("Parliament passed a new climate law on Tuesday.").expect("detects");
        assert!(short.code == "en" || !short.reliable, "{short:?}");
    }
}
