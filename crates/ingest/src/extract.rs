//! Main text and metadata from an article's web page.
//!
//! When a feed carries only a teaser, chorus fetches the page and takes the article out of
//! it: body text, headline, author, publication date, canonical URL and declared
//! language. The work is done by `rs-trafilatura` (a Rust port of trafilatura), which reads
//! JSON-LD, OpenGraph, Dublin Core and meta tags and detects the character encoding (meta,
//! BOM, byte statistics). `dom_smoothie` (a port of Mozilla's Readability) gives a second
//! opinion: when its text is less than half as long and at least 90 % of its 4-word
//! shingles are inside trafilatura's, the rest of trafilatura's text is boilerplate
//! (related links, teasers, comment prompts), and the shorter text is taken. Chosen by
//! measurement: `chorus eval extract` on the 181-page article-extraction benchmark
//! (`docs/quality.md`).
//! Any failure — a panic inside the extractor included — becomes an [`ExtractError`]
//! naming the page; nothing here can take down a worker.

use chrono::{DateTime, Utc};

/// What was taken out of a page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtractedPage {
    /// The article body as plain text, paragraphs separated by newlines.
    pub text: String,
    /// Headline.
    pub title: Option<String>,
    /// Author(s) as the page names them.
    pub author: Option<String>,
    /// Publication date.
    pub published: Option<DateTime<Utc>>,
    /// Canonical URL, when the page declares one.
    pub canonical_url: Option<String>,
    /// Language the page declares (`<html lang>`, meta), as given.
    pub lang: Option<String>,
    /// Site name.
    pub site: Option<String>,
    /// The extractor's own estimate of how well it did (0–1).
    pub quality: f64,
    /// Which extractor's text was taken (`trafilatura` or `readability`).
    pub extractor: &'static str,
}

/// Why a page gave no article.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The extractor refused the page.
    #[error("{page}: no article text found: {reason}")]
    NoText {
        /// The page (URL or file).
        page: String,
        /// What the extractor said.
        reason: String,
    },
    /// The page is beyond what is parsed (too large, or elements nested too deep: both
    /// signs of a broken or hostile page, and both can exhaust a worker).
    #[error("{page}: refused: {reason}")]
    Refused {
        /// The page (URL or file).
        page: String,
        /// Which limit it broke.
        reason: String,
    },
    /// The extractor crashed on this page (caught; the page is reported, not lost).
    #[error("{page}: the extractor crashed on this page: {reason}")]
    Crashed {
        /// The page (URL or file).
        page: String,
        /// The panic message.
        reason: String,
    },
}

/// Largest page extracted, in bytes (real article pages are well under 2 MB).
pub const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// Deepest element nesting extracted (real pages stay under a few hundred).
pub const MAX_NESTING: usize = 1_000;

/// Stack of the thread extraction runs on: the extractors recurse over the element tree.
const EXTRACT_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Elements without end tags, which do not nest.
const VOID: [&str; 14] =
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];

/// Deepest nesting of elements, estimated in one pass over the tags (end tags close the
/// innermost open element; unclosed `<p>`/`<li>` count, which only overestimates).
fn nesting_depth(html: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = html[i..].iter().position(|&b| b == b'<') {
        let start = i + off + 1;
        let Some(&first) = html.get(start) else { break };
        let end = html[start..].iter().position(|&b| b == b'>').map_or(html.len(), |e| start + e);
        if first == b'/' {
            depth = depth.saturating_sub(1);
        } else if first.is_ascii_alphabetic() {
            let name: String = html[start..end]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .map(|b| b.to_ascii_lowercase() as char)
                .collect();
            let self_closing = end > start && html[end - 1] == b'/';
            if !self_closing && !VOID.contains(&name.as_str()) {
                depth += 1;
                max = max.max(depth);
            }
        }
        i = end.max(start);
    }
    max
}

/// Extracts the article from a page's raw bytes (any encoding). `page` names it in errors.
/// Runs on a thread of its own with a large stack; pages over [`MAX_PAGE_BYTES`] or nested
/// deeper than [`MAX_NESTING`] are refused.
pub fn extract_page(html: &[u8], page: &str) -> Result<ExtractedPage, ExtractError> {
    let refused = |reason: String| ExtractError::Refused { page: page.to_string(), reason };
    if html.len() > MAX_PAGE_BYTES {
        return Err(refused(format!("{} bytes is over the {MAX_PAGE_BYTES}-byte limit", html.len())));
    }
    let depth = nesting_depth(html);
    if depth > MAX_NESTING {
        return Err(refused(format!("elements nested {depth} deep, over the limit of {MAX_NESTING}")));
    }
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("extract".into())
            .stack_size(EXTRACT_STACK_BYTES)
            .spawn_scoped(s, || extract_unchecked(html, page))
            .map_err(|e| ExtractError::Crashed { page: page.to_string(), reason: format!("no thread: {e}") })?
            .join()
            .unwrap_or_else(|_| Err(ExtractError::Crashed { page: page.to_string(), reason: "thread panicked".into() }))
    })
}

fn extract_unchecked(html: &[u8], page: &str) -> Result<ExtractedPage, ExtractError> {
    // Valid UTF-8 goes in as text; anything else lets the extractor detect the encoding.
    let result = std::panic::catch_unwind(|| match std::str::from_utf8(html) {
        Ok(text) => rs_trafilatura::extract(text),
        Err(_) => rs_trafilatura::extract_bytes(html),
    })
    .map_err(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        ExtractError::Crashed { page: page.to_string(), reason }
    })?;
    let r = result.map_err(|e| ExtractError::NoText { page: page.to_string(), reason: e.to_string() })?;
    let m = r.metadata;
    let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let primary = invisible_removed(&r.content_text).trim().to_string();
    let (text, extractor) = match readability_text(html, m.url.as_deref()) {
        Some(second) if tighter(&second, &primary) => (second, "readability"),
        _ => (primary, "trafilatura"),
    };
    Ok(ExtractedPage {
        text,
        extractor,
        title: clean(m.title),
        author: clean(m.author),
        published: m.date,
        canonical_url: clean(m.url),
        lang: clean(m.language),
        site: clean(m.sitename),
        quality: r.extraction_quality,
    })
}

/// Readability's text for the page, if it finds an article (a panic counts as none).
fn readability_text(html: &[u8], url: Option<&str>) -> Option<String> {
    let html = String::from_utf8_lossy(html).into_owned();
    std::panic::catch_unwind(move || {
        let mut r = dom_smoothie::Readability::new(html, url, None).ok()?;
        r.parse().ok().map(|a| invisible_removed(&a.text_content).trim().to_string())
    })
    .ok()
    .flatten()
}

/// Shortest second opinion worth trusting, in characters.
const MIN_SECOND_OPINION_CHARS: usize = 200;

/// Whether `second` is the same article as `primary` without its extra text: under half
/// as long, and ≥ 90 % of its 4-word shingles occur in `primary`.
fn tighter(second: &str, primary: &str) -> bool {
    if second.len() < MIN_SECOND_OPINION_CHARS || second.len() * 2 >= primary.len() {
        return false;
    }
    let shingles = |t: &str| -> std::collections::HashMap<Vec<String>, usize> {
        let words: Vec<String> =
            t.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).map(String::from).collect();
        let mut out = std::collections::HashMap::new();
        for w in words.windows(4) {
            *out.entry(w.to_vec()).or_insert(0) += 1;
        }
        out
    };
    let (a, b) = (shingles(second), shingles(primary));
    let total: usize = a.values().sum();
    let inside: usize = a.iter().map(|(k, n)| (*n).min(b.get(k).copied().unwrap_or(0))).sum();
    total > 0 && inside * 10 >= total * 9
}

/// Removes soft hyphens and zero-width characters: invisible on the page, they split
/// words for every later step (sentence splitting, terms, quotes).
fn invisible_removed(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\u{ad}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Accord à Paris | Le Journal</title>
<link rel="canonical" href="https://journal.example/monde/accord-paris">
<meta property="og:title" content="Trente-cinq dirigeants s'accordent à Paris">
<meta property="og:site_name" content="Le Journal">
<script type="application/ld+json">{"@type":"NewsArticle","headline":"Trente-cinq dirigeants s'accordent à Paris","datePublished":"2026-01-06T18:30:00+01:00","author":{"@type":"Person","name":"Marie Dupont"}}</script>
</head><body>
<nav><a href="/">Accueil</a> | <a href="/monde">Monde</a> | <a href="/sport">Sport</a></nav>
<article><h1>Trente-cinq dirigeants s'accordent à Paris</h1>
<p>Trente-cinq dirigeants se sont accordés mardi à Paris sur des garanties de sécurité pour l'Ukraine, a annoncé l'Élysée dans un communiqué publié en fin de journée.</p>
<p>Les garanties prévoient une force multinationale et un mécanisme de surveillance du cessez-le-feu, selon le texte adopté par les participants au sommet.</p>
<p>Un sommet de suivi doit se tenir la semaine prochaine à Rome, où les ministres de la défense détailleront les contributions de chaque pays.</p>
</article>
<footer>© Le Journal 2026 — Mentions légales — Contact — Abonnement</footer>
</body></html>"#;

    #[test]
    fn body_and_metadata_come_out_without_navigation_or_footer() {
        let p = extract_page(PAGE.as_bytes(), "test page").unwrap();
        assert!(p.text.contains("garanties de sécurité pour l'Ukraine"), "{}", p.text);
        assert!(p.text.contains("sommet de suivi"), "{}", p.text);
        assert!(!p.text.contains("Mentions légales") && !p.text.contains("Accueil"), "{}", p.text);
        assert_eq!(p.author.as_deref(), Some("Marie Dupont"));
        assert_eq!(p.published.map(|d| d.to_rfc3339()).as_deref(), Some("2026-01-06T17:30:00+00:00"));
        assert_eq!(p.canonical_url.as_deref(), Some("https://journal.example/monde/accord-paris"));
        assert!(p.title.is_some_and(|t| t.contains("Trente-cinq dirigeants")));
    }

    #[test]
    fn nesting_is_measured_and_hostile_pages_are_refused() {
        assert_eq!(nesting_depth(b"<html><body><p>a<br>b<img src=x></p><div/></body></html>"), 3);
        assert_eq!(nesting_depth(b"<div><div></div><div><span>x</span></div></div>"), 3);
        let deep = b"<div>".repeat(50_000);
        let e = extract_page(&deep, "deep.html").unwrap_err().to_string();
        assert!(e.contains("deep.html") && e.contains("nested 50000 deep"), "{e}");
        let huge = vec![b'a'; MAX_PAGE_BYTES + 1];
        assert!(extract_page(&huge, "huge.html").unwrap_err().to_string().contains("over the"));
    }

    #[test]
    fn a_shorter_second_opinion_wins_only_when_it_is_inside_the_first() {
        let article = "The council approved the new budget on Tuesday after a long debate. ".repeat(5);
        let with_links =
            format!("{article}{}", "Read more: ten things you missed this week in sport and culture. ".repeat(12));
        assert!(tighter(&article, &with_links));
        assert!(!tighter(&article, &article), "not shorter");
        let other = "A completely different text about football results and the weather at the weekend. ".repeat(3);
        assert!(!tighter(&other, &with_links), "not inside");
        assert!(!tighter("short", &with_links), "too short to trust");
    }

    #[test]
    fn a_page_in_a_legacy_encoding_is_decoded() {
        let latin1: Vec<u8> = PAGE
            .replace("utf-8", "iso-8859-1")
            .chars()
            .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
            .collect();
        let p = extract_page(&latin1, "latin-1 page").unwrap();
        assert!(p.text.contains("garanties de sécurité"), "{}", p.text);
    }

    #[test]
    fn garbage_empty_and_huge_inputs_give_errors_or_text_never_a_panic() {
        for (name, bytes) in [
            ("empty", Vec::new()),
            ("binary", (0..=255u8).cycle().take(100_000).collect()),
            ("unclosed", b"<html><body><div><div><p>".repeat(20_000)),
            ("deep but legal", b"<div>".repeat(900)),
            ("text", b"just some words, no markup at all".to_vec()),
        ] {
            match extract_page(&bytes, name) {
                Ok(p) => assert!(p.quality >= 0.0, "{name}"),
                Err(e) => assert!(e.to_string().starts_with(name), "{e}"),
            }
        }
    }
}
