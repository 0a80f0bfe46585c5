//! Main text and metadata from an article's web page.
//!
//! When a feed carries only a teaser, chorus fetches the page and takes the article out of
//! it: body text, headline, authors, publication and modification times, canonical URL,
//! declared language and site name. The page is decoded once (BOM, valid UTF-8, the
//! declared charset, else windows-1252) and handed to two extractors:
//! `rs-trafilatura` (a Rust port of trafilatura, in chorus's patched copy under
//! `vendor/rs-trafilatura`, which also reads JSON-LD, OpenGraph and meta tags) and
//! `dom_smoothie` (a port of Mozilla's Readability). Readability's text is taken when it
//! is the same article without trafilatura's extra text (under half as long, ≥ 90 % of its
//! 4-word shingles inside trafilatura's: related links, teasers), or when it is far fuller
//! (over 3× as long, or 2× when trafilatura found no main content). Then what follows the
//! article is cut (a "Das könnte Sie auch interessieren" / "Tags:" line in the last 60 %,
//! ad labels, photo credits) and layout whitespace tidied. Pages nested deeper than
//! [`MAX_NESTING`] are unwrapped past that depth rather than refused. Every rule was
//! chosen by measurement on trafilatura's evaluation set and the article-extraction
//! benchmark (`chorus eval extract`, `docs/quality.md`).
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
    /// Author(s) as the page names them, in one string (the extractor's reading).
    pub author: Option<String>,
    /// Each author the page names (JSON-LD `author`, `<meta name=author>` and the like,
    /// else `author` split at `;`), in order, without repeats.
    pub authors: Vec<String>,
    /// Publication date.
    pub published: Option<DateTime<Utc>>,
    /// Last modification, when the page declares one (JSON-LD `dateModified`,
    /// `article:modified_time`, `og:updated_time`).
    pub modified: Option<DateTime<Utc>>,
    /// Canonical URL, when the page declares one.
    pub canonical_url: Option<String>,
    /// Language the page declares (`<html lang>`, meta), as given.
    pub lang: Option<String>,
    /// Site name.
    pub site: Option<String>,
    /// The extractor's own estimate of how well it did (0–1).
    pub quality: f64,
    /// Which extractor's text was taken (`trafilatura`, `readability` or
    /// `trafilatura-classic`).
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

/// Deepest element nesting handed to the extractors. Real pages stay under ~550 (the
/// deepest of trafilatura's 990 evaluation pages, counted as a parser nests them); deeper
/// elements are unwrapped (their tags dropped, their text kept) so that the extractors'
/// recursive walks stay far inside the extraction thread's stack whatever a page does.
pub const MAX_NESTING: usize = 1_000;

/// Stack of the thread extraction runs on: the extractors recurse over the element tree.
const EXTRACT_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Elements without end tags, which do not nest.
const VOID: [&str; 16] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    "keygen", "frame",
];

/// Elements whose content is text up to their end tag (a `<div>` inside a script is not
/// an element).
const RAW_TEXT: [&str; 6] = ["script", "style", "textarea", "title", "xmp", "noembed"];

/// Elements an end tag of another name does not close past (HTML's scope boundaries).
const SCOPE_BOUNDARY: [&str; 9] = ["html", "table", "td", "th", "caption", "template", "marquee", "object", "applet"];

/// Block elements whose start tag ends an open paragraph.
const CLOSES_P: [&str; 24] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "div",
    "dl",
    "fieldset",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "section",
    "ul",
];

/// Elements a start tag of the same name closes when it is open (within its scope).
const SELF_ENDING: [&str; 6] = ["p", "li", "dt", "dd", "option", "tr"];

/// Whether a tag name (any case) is one of `list`.
fn is_one_of(name: &[u8], list: &[&str]) -> bool {
    list.iter().any(|t| t.as_bytes().eq_ignore_ascii_case(name))
}

/// Closes the innermost open `target` and everything opened inside it, unless a scope
/// boundary (or one of `extra_boundaries`) comes first.
fn close_open(stack: &mut Vec<&[u8]>, target: &[u8], extra_boundaries: &[&str]) {
    for k in (0..stack.len()).rev() {
        let open = stack[k];
        if open.eq_ignore_ascii_case(target) {
            stack.truncate(k);
            return;
        }
        if is_one_of(open, &SCOPE_BOUNDARY) || is_one_of(open, extra_boundaries) {
            return;
        }
    }
}

/// Nesting depth as an HTML parser builds it, estimated in one pass over the tags: a
/// stack of open elements where an end tag closes its element and everything opened
/// inside it (unless a table cell or similar boundary lies between), void elements and
/// raw-text content do not nest, and `<p>`/`<li>`-like tags close an open one of their
/// name. Returns the deepest nesting, and the page with elements beyond `limit`
/// unwrapped when there were any.
fn bound_nesting(html: &[u8], limit: usize) -> (usize, Option<Vec<u8>>) {
    // Names are lower-cased slices of the page itself: no allocation per tag.
    let mut stack: Vec<&[u8]> = Vec::new();
    let mut dropped: std::collections::HashMap<Vec<u8>, usize> = std::collections::HashMap::new();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let (mut max, mut unwrapped_open) = (0usize, 0usize);
    let mut i = 0;
    let find = |from: usize, needle: &[u8]| -> Option<usize> {
        html.get(from..)?.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle)).map(|p| from + p)
    };
    while let Some(off) = html.get(i..).and_then(|rest| rest.iter().position(|&b| b == b'<')) {
        let start = i + off + 1;
        let Some(&first) = html.get(start) else { break };
        if html[start..].starts_with(b"!--") {
            i = find(start + 3, b"-->").map_or(html.len(), |e| e + 3);
            continue;
        }
        let end = html[start..].iter().position(|&b| b == b'>').map_or(html.len(), |e| start + e);
        let closing = first == b'/';
        let name_start = if closing { start + 1 } else { start };
        let tail = html.get(name_start..end).unwrap_or_default();
        let name = &tail[..tail.iter().take_while(|b| b.is_ascii_alphanumeric()).count()];
        i = end.max(start);
        if !name.first().is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let is = |list: &[&str]| is_one_of(name, list);
        if closing {
            if let Some(n) = dropped.get_mut(&name.to_ascii_lowercase()).filter(|n| **n > 0) {
                *n -= 1;
                unwrapped_open = unwrapped_open.saturating_sub(1);
                cuts.push((start - 1, (end + 1).min(html.len())));
                continue;
            }
            if let Some(pos) = stack.iter().rposition(|open| open.eq_ignore_ascii_case(name))
                && !stack[pos + 1..].iter().any(|open| is_one_of(open, &SCOPE_BOUNDARY))
            {
                stack.truncate(pos);
            }
            continue;
        }
        let self_closing = end > start && html[end - 1] == b'/';
        if self_closing || is(&VOID) {
            continue;
        }
        // A start tag ends an open element of its own kind (`<li>` the previous item,
        // `<p>` the open paragraph) and a block start ends an open paragraph, unless a
        // list, table cell or similar boundary lies between (HTML's tree building).
        if is(&SELF_ENDING) {
            let list_scope: &[&str] = if is(&["li"]) {
                &["ul", "ol"]
            } else if is(&["dt", "dd"]) {
                &["dl"]
            } else {
                &["button"]
            };
            close_open(&mut stack, name, list_scope);
        }
        if !is(&["p"]) && is(&CLOSES_P) {
            close_open(&mut stack, b"p", &["button"]);
        }
        if is(&RAW_TEXT) {
            let close = [b"</", name].concat();
            i = find(end, &close).unwrap_or(html.len());
            continue;
        }
        if stack.len() >= limit {
            *dropped.entry(name.to_ascii_lowercase()).or_insert(0) += 1;
            unwrapped_open += 1;
            cuts.push((start - 1, (end + 1).min(html.len())));
            max = max.max(stack.len() + unwrapped_open);
            continue;
        }
        stack.push(name);
        max = max.max(stack.len());
    }
    if cuts.is_empty() {
        return (max, None);
    }
    let mut out = Vec::with_capacity(html.len());
    let mut at = 0;
    for (from, to) in cuts {
        out.extend_from_slice(&html[at..from]);
        at = to;
    }
    out.extend_from_slice(&html[at..]);
    (max, Some(out))
}

/// Extracts the article from a page's raw bytes (any encoding). `page` names it in errors.
/// Runs on a thread of its own with a large stack; pages over [`MAX_PAGE_BYTES`] are
/// refused, and elements nested deeper than [`MAX_NESTING`] are unwrapped (text kept).
pub fn extract_page(html: &[u8], page: &str) -> Result<ExtractedPage, ExtractError> {
    if html.len() > MAX_PAGE_BYTES {
        return Err(ExtractError::Refused {
            page: page.to_string(),
            reason: format!("{} bytes is over the {MAX_PAGE_BYTES}-byte limit", html.len()),
        });
    }
    let (depth, flattened) = bound_nesting(html, MAX_NESTING);
    if flattened.is_some() {
        tracing::debug!(page, depth, "elements nested deeper than {MAX_NESTING} unwrapped before extraction");
    }
    let html = flattened.as_deref().unwrap_or(html);
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
    // Decoded once, so that both extractors and the metadata read the same text.
    let decoded = decode_page(html);
    let html: &str = &decoded;
    let markup = noscript_as_markup(html);
    let result = std::panic::catch_unwind(|| rs_trafilatura::extract(&markup)).map_err(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        ExtractError::Crashed { page: page.to_string(), reason }
    })?;
    let r = result.map_err(|e| ExtractError::NoText { page: page.to_string(), reason: e.to_string() })?;
    // Whether rs-trafilatura read the page as an article, and whether it found no main
    // content and fell back to a whole-page pass (its warnings say so).
    let is_article = !matches!(r.metadata.page_type.as_deref(), Some("forum" | "service"));
    let fell_back = r
        .warnings
        .iter()
        .any(|w| w.starts_with("Used fallback extraction") || w.starts_with("Content extraction failed"));
    let m = r.metadata;
    let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let primary = tidy(&invisible_removed(&r.content_text));
    let second = readability_text(html, m.url.as_deref());
    let (mut text, extractor) = match second.as_deref() {
        // Readability says the first text carries extra text around the article (not on
        // forums and service pages: there the longer text is many posts or sections, of
        // which Readability keeps one). When trafilatura's own algorithm finds at least
        // as much as Readability, it decides: Readability alone sometimes keeps one block
        // (a quote box, the author's bio).
        Some(second) if is_article && tighter(second, &primary) => {
            let classic = tidy(&invisible_removed(&rs_trafilatura::extract_classic(&markup)));
            if classic.len() >= second.len() {
                (classic, "trafilatura-classic")
            } else {
                (second.to_string(), "readability")
            }
        }
        Some(second) if rescues(second, &primary, fell_back) => (second.to_string(), "readability"),
        _ => (primary, "trafilatura"),
    };
    // Readability's container often holds the standfirst the first extractor left out.
    if extractor != "readability"
        && let Some(lead) = second.as_deref().and_then(|second| lead_missing_from(&text, second))
    {
        text = format!("{lead}\n\n{text}");
    }
    let declared = declared_metadata(html);
    let author = clean(m.author);
    let mut authors = declared.authors;
    if authors.is_empty() {
        authors = author
            .iter()
            .flat_map(|a| a.split(';'))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect();
    }
    let text = without_trailing_sections(&text);
    Ok(ExtractedPage {
        text,
        extractor,
        title: clean(m.title),
        author,
        authors,
        published: m.date.or(declared.published),
        modified: declared.modified,
        canonical_url: clean(m.url),
        lang: clean(m.language),
        site: clean(m.sitename),
        quality: r.extraction_quality,
    })
}

/// The page with each `<noscript>` after `<body` renamed `<chorus-noscript>`, so that
/// the parser reads its content as markup rather than raw text (html5ever parses as a
/// browser with scripts on). Pages that render their article with a script often carry
/// the whole text in a noscript; rs-trafilatura keeps a long one and drops the rest.
/// Readability and the metadata read the page as it is.
fn noscript_as_markup(html: &str) -> std::borrow::Cow<'_, str> {
    let lower = html.to_ascii_lowercase();
    let Some(body) = lower.find("<body") else { return html.into() };
    if !lower[body..].contains("<noscript") {
        return html.into();
    }
    let mut out = String::with_capacity(html.len() + 64);
    out.push_str(&html[..body]);
    let mut at = body;
    while let Some(found) = lower[at..].find("noscript").map(|i| at + i) {
        let bytes = lower.as_bytes();
        let opens = found >= 1 && bytes[found - 1] == b'<';
        let closes = found >= 2 && bytes[found - 1] == b'/' && bytes[found - 2] == b'<';
        let name_ends = bytes.get(found + "noscript".len()).is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'-'));
        out.push_str(&html[at..found]);
        if (opens || closes) && name_ends {
            out.push_str("chorus-noscript");
        } else {
            out.push_str(&html[found..found + "noscript".len()]);
        }
        at = found + "noscript".len();
    }
    out.push_str(&html[at..]);
    out.into()
}

/// What a page declares about itself in JSON-LD and `<meta>` tags beyond what the
/// extractor reads: every author, and the modification time.
#[derive(Debug, Default, PartialEq)]
struct Declared {
    authors: Vec<String>,
    published: Option<DateTime<Utc>>,
    modified: Option<DateTime<Utc>>,
}

/// Types of JSON-LD object that describe the page's own article.
const ARTICLE_TYPES: [&str; 8] = [
    "Article",
    "NewsArticle",
    "BlogPosting",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "WebPage",
    "LiveBlogPosting",
];

/// Reads JSON-LD blocks and `<meta>` tags with a byte scan (no second parse of the page).
fn declared_metadata(page: &str) -> Declared {
    let lower = page.to_ascii_lowercase();
    let mut out = Declared::default();
    let add_author = |out: &mut Declared, name: &str| {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if !name.is_empty() && name.len() <= 100 && !name.contains("://") && !out.authors.contains(&name) {
            out.authors.push(name);
        }
    };
    // JSON-LD: the first article-like object's authors and dates.
    let mut at = 0;
    while let Some(off) = lower[at..].find("application/ld+json") {
        let Some(open) = lower[at + off..].find('>').map(|e| at + off + e + 1) else { break };
        let Some(close) = lower[open..].find("</script").map(|e| open + e) else { break };
        at = close;
        let Ok(json) = serde_json::from_str::<serde_json::Value>(page[open..close].trim()) else { continue };
        let mut objects = Vec::new();
        collect_objects(&json, &mut objects, 0);
        // Yoast and others name the author in a Person object elsewhere in the graph.
        let named: std::collections::HashMap<&str, &str> =
            objects.iter().filter_map(|o| Some((o.get("@id")?.as_str()?, o.get("name")?.as_str()?))).collect();
        for o in &objects {
            let typed = |t: &serde_json::Value| t.as_str().is_some_and(|t| ARTICLE_TYPES.contains(&t));
            let is_article =
                o.get("@type").is_some_and(|t| typed(t) || t.as_array().is_some_and(|a| a.iter().any(typed)));
            if !is_article {
                continue;
            }
            let date = |k: &str| o.get(k).and_then(|d| d.as_str()).and_then(crate::parse_published);
            out.published = out.published.or(date("datePublished"));
            out.modified = out.modified.or(date("dateModified"));
            if out.authors.is_empty() {
                let list = match o.get("author") {
                    Some(serde_json::Value::Array(a)) => a.clone(),
                    Some(one) => vec![one.clone()],
                    None => Vec::new(),
                };
                for a in list {
                    match &a {
                        serde_json::Value::String(n) => add_author(&mut out, n),
                        serde_json::Value::Object(m) => {
                            let by_id = || m.get("@id").and_then(|i| i.as_str()).and_then(|i| named.get(i).copied());
                            if let Some(n) = m.get("name").and_then(|n| n.as_str()).or_else(by_id) {
                                add_author(&mut out, n);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    // <meta> tags.
    let mut at = 0;
    let mut meta_authors = Vec::new();
    while let Some(off) = lower[at..].find("<meta") {
        let start = at + off;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        at = end;
        let tag = &page[start..end];
        let key = attribute(tag, "property").or_else(|| attribute(tag, "name")).or_else(|| attribute(tag, "itemprop"));
        let (Some(key), Some(content)) = (key, attribute(tag, "content")) else { continue };
        match key.to_ascii_lowercase().as_str() {
            "article:modified_time" | "og:updated_time" | "datemodified" | "dcterms.modified" => {
                out.modified = out.modified.or_else(|| crate::parse_published(&content));
            }
            "author" | "article:author" | "dc.creator" | "dcterms.creator" | "parsely-author" | "sailthru.author" => {
                meta_authors.push(content)
            }
            _ => {}
        }
    }
    if out.authors.is_empty() {
        for a in meta_authors.iter().flat_map(|a| a.split(';')) {
            add_author(&mut out, a);
        }
    }
    out
}

/// JSON-LD objects, `@graph` members and list items included (bounded depth).
fn collect_objects<'a>(
    v: &'a serde_json::Value,
    out: &mut Vec<&'a serde_json::Map<String, serde_json::Value>>,
    depth: usize,
) {
    if depth > 4 {
        return;
    }
    match v {
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_objects(i, out, depth + 1)),
        serde_json::Value::Object(o) => {
            out.push(o);
            if let Some(g) = o.get("@graph") {
                collect_objects(g, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// An attribute's value in one tag's source (`name="v"`, `name='v'` or bare), entities
/// for quotes and ampersands decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(off) = lower[from..].find(name) {
        let i = from + off;
        from = i + name.len();
        let before_ok = i > 0 && lower.as_bytes()[i - 1].is_ascii_whitespace();
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_at = tag.len() - rest.len() + 1;
        let value = tag[value_at..].trim_start();
        let v = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or_default(),
            _ => value.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or_default(),
        };
        let v = v.replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&");
        return Some(v.trim().to_string());
    }
    None
}

/// The page as text: UTF-8 when it is (a BOM says so, or the bytes are valid), else
/// the encoding its `<meta charset>` or `http-equiv` declares in the first 4 KiB (WHATWG
/// labels: `iso-8859-1` reads as windows-1252, as browsers do), else windows-1252.
fn decode_page(html: &[u8]) -> std::borrow::Cow<'_, str> {
    decode_document(html, declared_charset)
}

/// Bytes to text as [`decode_page`] does it, with the declaration read from the
/// lower-cased first 4 KiB by `declared` (a page's `<meta>`, an XML file's declaration).
pub(crate) fn decode_document(
    html: &[u8],
    declared: fn(&str) -> Option<&'static encoding_rs::Encoding>,
) -> std::borrow::Cow<'_, str> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(html) {
        return encoding.decode_without_bom_handling(&html[bom..]).0;
    }
    if let Ok(text) = std::str::from_utf8(html) {
        return text.into();
    }
    let head = String::from_utf8_lossy(&html[..html.len().min(4096)]).to_ascii_lowercase();
    let declared = declared(&head);
    // Mostly UTF-8 with a few stray bytes (pages pasted together) reads best as UTF-8;
    // otherwise the declared single-byte encoding, or windows-1252.
    let (multibyte, invalid) = utf8_evidence(html);
    let mostly_utf8 = multibyte > invalid * if declared.is_some_and(|e| e != encoding_rs::UTF_8) { 10 } else { 1 };
    if mostly_utf8 {
        return String::from_utf8_lossy(html);
    }
    let encoding = declared.filter(|e| *e != encoding_rs::UTF_8).unwrap_or(encoding_rs::WINDOWS_1252);
    encoding.decode_without_bom_handling(html).0
}

/// The encoding a `<meta charset>` or `<meta http-equiv content="…; charset=…">` in
/// `head` (lower-cased) declares. Only `meta` tags count: a `charset` attribute on a
/// `script` (as web archives insert before the page's own head) says nothing about the page.
fn declared_charset(head: &str) -> Option<&'static encoding_rs::Encoding> {
    head.match_indices("<meta").find_map(|(start, _)| {
        let tag = &head[start..];
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        encoding_after(tag, "charset")
    })
}

/// The encoding named by `key = "label"` in `tag` (lower-cased), if `key` is there and the
/// label is one the WHATWG list knows.
pub(crate) fn encoding_after(tag: &str, key: &str) -> Option<&'static encoding_rs::Encoding> {
    let i = tag.find(key)?;
    let rest = tag[i + key.len()..].trim_start().strip_prefix('=')?.trim_start();
    let label: String = rest
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        .collect();
    encoding_rs::Encoding::for_label(label.as_bytes())
}

/// Valid multi-byte UTF-8 sequences and invalid bytes in `bytes`.
fn utf8_evidence(bytes: &[u8]) -> (usize, usize) {
    let (mut multibyte, mut invalid) = (0, 0);
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                multibyte += text.chars().filter(|c| c.len_utf8() > 1).count();
                return (multibyte, invalid);
            }
            Err(e) => {
                let (good, after) = rest.split_at(e.valid_up_to());
                multibyte += std::str::from_utf8(good).map_or(0, |t| t.chars().filter(|c| c.len_utf8() > 1).count());
                let skip = e.error_len().unwrap_or(after.len()).max(1);
                invalid += 1;
                rest = &after[skip.min(after.len())..];
            }
        }
    }
}

/// Readability's text for the page, if it finds an article (a panic counts as none).
fn readability_text(html: &str, url: Option<&str>) -> Option<String> {
    let html = html.to_string();
    std::panic::catch_unwind(move || {
        let mut r = dom_smoothie::Readability::new(html, url, None).ok()?;
        r.parse().ok().map(|a| tidy(&invisible_removed(&a.text_content)))
    })
    .ok()
    .flatten()
}

/// The lines that open `second` (Readability's text) before the first line `text` also
/// has, when `text` lacks them: the standfirst or lead that the first extractor left
/// outside the body container it picked. At most [`MAX_LEAD_LINES`] lines and
/// [`MAX_LEAD_CHARS`] characters, or nothing (then they are not a lead).
fn lead_missing_from(text: &str, second: &str) -> Option<String> {
    let squeeze = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = squeeze(text);
    let key = |line: &str| squeeze(line).chars().take(40).collect::<String>();
    let lines: Vec<&str> = second.lines().map(str::trim).filter(|l| !l.is_empty()).take(MAX_LEAD_LINES + 1).collect();
    let anchor = lines.iter().position(|l| flat.contains(&key(l)))?;
    if anchor == 0 {
        return None;
    }
    let lead: Vec<&str> = lines[..anchor].iter().copied().filter(|l| reads_as_lead(l)).collect();
    let chars: usize = lead.iter().map(|l| l.chars().count()).sum();
    (!lead.is_empty() && chars <= MAX_LEAD_CHARS).then(|| lead.join("\n\n"))
}

/// Whether a line reads as a lead sentence: eight words or more, ending as a sentence
/// ends, not a picture credit or a script notice, not a breadcrumb trail (dates and
/// labels are too short).
fn reads_as_lead(line: &str) -> bool {
    let lower = line.to_lowercase();
    let trail = [" » ", " › ", " > "].iter().any(|sep| line.matches(sep).count() >= 2);
    line.split_whitespace().count() >= 8
        && line.trim_end().ends_with(['.', '!', '?', '…', '"', '“', '”', '»', '«'])
        && !trail
        && !NOT_LEAD_MARKERS.iter().any(|m| lower.contains(m))
}

/// Words that mark a line as a picture caption or credit, or a notice about scripts.
const NOT_LEAD_MARKERS: [&str; 10] =
    ["foto", "photo", "bild:", "credit", "quelle:", "©", "copyright", "click to enlarge", "imagen", "javascript"];

/// Most lines taken from the second opinion as a lead.
const MAX_LEAD_LINES: usize = 4;

/// Most characters taken from the second opinion as a lead.
const MAX_LEAD_CHARS: usize = 800;

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

/// Whether `second` should replace `primary` as the fuller article: at least
/// [`MIN_SECOND_OPINION_CHARS`] and more than three times as long (the first took one
/// block of a split article, or a menu), or twice as long when the first extractor
/// found no main content and fell back to a whole-page pass.
fn rescues(second: &str, primary: &str, fell_back: bool) -> bool {
    let times = if fell_back { 2 } else { 3 };
    second.len() >= MIN_SECOND_OPINION_CHARS && second.len() > primary.len() * times
}

/// Layout whitespace out: each line's runs of spaces and tabs become one space, blank
/// lines between paragraphs become one, ends trimmed (pages indent text with tabs and
/// newlines that are not part of it).
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines() {
        let mut words = line.split_whitespace().peekable();
        if words.peek().is_none() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        for (k, word) in words.enumerate() {
            if k > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

/// Lines that open what follows an article on news and blog pages (related links, tag
/// lists, "back to the list"), in the languages of chorus's outlets, lower-cased and
/// without a trailing colon. Matched as whole short lines, never inside a sentence.
const TRAILING_SECTION_CUES: [&str; 63] = [
    // de
    "das könnte sie auch interessieren",
    "das könnte dich auch interessieren",
    "das könnte ihnen auch gefallen",
    "lesen sie auch",
    "lies auch",
    "mehr lesen",
    "mehr zum thema",
    "weitere artikel",
    "ähnliche artikel",
    "verwandte artikel",
    "auch interessant",
    "zurück zur liste",
    "zurück zur übersicht",
    "zurück zur listenansicht",
    "themen in diesem artikel",
    "schlagworte",
    "schlagwörter",
    "weitere videos",
    "meistgelesen",
    "über den autor",
    "über die autorin",
    "zum autor",
    "zur autorin",
    "weiterführende informationen",
    "mehr kolumnen",
    "fragen zu diesem artikel",
    "produktempfehlung",
    "about the author",
    // en
    "explore further",
    "you might also like",
    "you may also like",
    "related articles",
    "related stories",
    "related posts",
    "related content",
    "more stories",
    "recommended for you",
    "read next",
    "tags",
    "topics",
    // fr / es / it / pt / pl
    "lire aussi",
    "à lire aussi",
    "sur le même sujet",
    "dans la même rubrique",
    "relacionadas",
    "noticias relacionadas",
    "temas relacionados",
    "artículos relacionados",
    "te puede interesar",
    "también te puede interesar",
    "etiquetas",
    "temas",
    "leggi anche",
    "potrebbe interessarti",
    "articoli correlati",
    "notícias relacionadas",
    "leia também",
    "veja também",
    "czytaj także",
    "czytaj też",
    "zobacz także",
    "zobacz też",
    "polecamy",
];

/// Single lines that are page furniture wherever they stand (ad labels, print and
/// share buttons, "back to top"); print and permalink lines are [`FURNITURE_PREFIXES`].
const FURNITURE_LINES: [&str; 22] = [
    "advertisement",
    "anzeige",
    "werbung",
    "publicité",
    "publicidad",
    "pubblicità",
    "reklama",
    "lesen sie auch",
    "rezept drucken",
    "drucken",
    "teilen",
    "tweet",
    "zurück nach oben",
    "nach oben",
    "back to top",
    "share",
    "kommentare geschlossen",
    "comments closed",
    "diese seite teilen",
    "artikel teilen",
    "hier können sie den artikel bewerten",
    "artikel bewerten",
];

/// Ends of short lines that are download or print links ("Dieses Skript als PDF
/// herunterladen").
const FURNITURE_SUFFIXES: [&str; 4] = ["pdf herunterladen", "als pdf speichern", "download pdf", "télécharger le pdf"];

/// Starts of short lines that are a page's own address or a print link
/// ("Permalink https://…").
const FURNITURE_PREFIXES: [&str; 3] = ["permalink", "permalien", "imprimer"];

/// Lines that start a tag or topic list (`Tags: python, docker`): cut like the cues.
const LIST_PREFIXES: [&str; 13] = [
    "tags:",
    "themen:",
    "schlagworte:",
    "schlagwörter:",
    "etiquetas:",
    "kategorien:",
    "categories:",
    "mots-clés",
    "tagi:",
    "temas:",
    // a blog post's filing line, "read more in the print edition"
    "this entry was posted in",
    "czytaj więcej",
    "lesen sie mehr",
];

/// Phrases that end a page's last line without being part of the text ("… (9) Zurück
/// zur Liste": a link back to the overview run into the last paragraph).
const CLOSING_PHRASES: [&str; 5] =
    ["zurück zur liste", "zurück zur listenansicht", "zurück zur übersicht", "back to list", "diese seite teilen"];

/// Weaker cues, cut only in the last 20 % of the text (inside it they can head content).
const LATE_CUES: [&str; 8] = [
    "weitere informationen",
    "kontakt",
    "quellen",
    "quellen ausblenden",
    "autoren",
    "mehr informationen",
    "more information",
    "links",
];

/// Starts of short lines that credit a photo, not part of the text.
const CREDIT_PREFIXES: [&str; 6] = ["foto:", "fotos:", "bild:", "photo:", "crédit photo", "©"];

/// The article without what follows it: from the first line in the last 60 % of the
/// text that is one of [`TRAILING_SECTION_CUES`] on its own (a heading over related links
/// or tags) to the end, and without [`FURNITURE_LINES`]. Text before the first 40 % is
/// never cut (a "Lesen Sie auch" box inside the article drops only its own line).
fn without_trailing_sections(text: &str) -> String {
    let key = |line: &str| line.trim().trim_end_matches([':', '»', '›', '>', '.', '!']).trim().to_lowercase();
    let credit = |k: &str| CREDIT_PREFIXES.iter().any(|p| k.starts_with(p));
    let total = text.len();
    let mut out = String::with_capacity(total);
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let k = key(line);
        let chars = line.trim().chars().count();
        let short = chars <= 60;
        let trailing = at * 10 >= total * 4;
        if trailing
            && ((short && TRAILING_SECTION_CUES.contains(&k.as_str()))
                || (chars <= 100 && LIST_PREFIXES.iter().any(|p| k.starts_with(p))))
        {
            break;
        }
        if short && at * 100 >= total * 80 && LATE_CUES.contains(&k.as_str()) {
            break;
        }
        at += line.len();
        let furniture_edge =
            FURNITURE_SUFFIXES.iter().any(|f| k.ends_with(f)) || FURNITURE_PREFIXES.iter().any(|f| k.starts_with(f));
        if short && (FURNITURE_LINES.contains(&k.as_str()) || credit(&k) || furniture_edge) {
            continue;
        }
        out.push_str(line);
    }
    // A label left dangling at the end ("Autoren:", "Von:") introduces nothing.
    let mut out = tidy(&out);
    loop {
        let lower = out.to_lowercase();
        let Some(phrase) = CLOSING_PHRASES.iter().find(|p| lower.ends_with(*p)) else { break };
        // Lower-casing keeps these phrases' byte lengths (ASCII and "ü" alike).
        let keep = out.len() - phrase.len();
        if !out.is_char_boundary(keep) || out[keep..].to_lowercase() != **phrase {
            break;
        }
        out.truncate(out[..keep].trim_end().len());
    }
    while let Some(last) = out.rsplit('\n').next().filter(|l| l.chars().count() <= 60 && l.ends_with(':')) {
        let keep = out.len() - last.len();
        out.truncate(out[..keep].trim_end().len());
    }
    // A byline closing the page ("Von:" and a name on the last two lines).
    let lines: Vec<&str> = out.rsplit('\n').filter(|l| !l.trim().is_empty()).take(2).collect();
    if let [name, label] = lines[..] {
        let is_label = BYLINE_LABELS.contains(&label.trim().to_lowercase().as_str());
        if is_label && name.split_whitespace().count() <= 4 && name.chars().count() <= 40 {
            let keep = out.rfind(label.trim()).unwrap_or(out.len());
            out.truncate(out[..keep].trim_end().len());
        }
    }
    out
}

/// Labels that introduce the author's name on a line of its own.
const BYLINE_LABELS: [&str; 8] = ["von:", "by:", "autor:", "autorin:", "text:", "par :", "par:", "por:"];

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
        assert_eq!(p.authors, ["Marie Dupont"]);
        assert_eq!(p.published.map(|d| d.to_rfc3339()).as_deref(), Some("2026-01-06T17:30:00+00:00"));
        assert_eq!(p.canonical_url.as_deref(), Some("https://journal.example/monde/accord-paris"));
        assert!(p.title.is_some_and(|t| t.contains("Trente-cinq dirigeants")));
    }

    #[test]
    fn nesting_is_measured_as_a_parser_nests() {
        let depth = |html: &[u8]| bound_nesting(html, usize::MAX).0;
        assert_eq!(depth(b"<html><body><p>a<br>b<img src=x></p><div/></body></html>"), 3);
        assert_eq!(depth(b"<div><div></div><div><span>x</span></div></div>"), 3);
        // Unclosed spans end with their div; unclosed paragraphs and items end at the next.
        assert_eq!(depth(&b"<div><span><span>a</div>".repeat(1000)), 3);
        assert_eq!(depth(&b"<p>one<p>two<li>x<li>y".repeat(1000)), 2);
        // Tags inside scripts and comments are not elements.
        assert_eq!(depth(b"<div><script>'<div><div><div>'</script><!-- <div><div> --></div>"), 1);
        // A cell is a boundary: </div> does not close past it.
        assert_eq!(depth(b"<div><table><td><span>x</div><b>y"), 5);
    }

    #[test]
    fn deep_pages_are_unwrapped_not_refused_and_keep_their_text() {
        let (depth, flat) = bound_nesting(b"<div><div><div><b>deep</b></div></div></div><p>after</p>", 2);
        assert_eq!(depth, 4);
        assert_eq!(
            String::from_utf8(flat.expect("unwrapped")).expect("utf-8"),
            "<div><div>deep</div></div><p>after</p>"
        );
        // A real-looking article under 1,500 levels of wrappers (a broken template).
        let article = "<p>Der Stadtrat hat am Dienstag den Haushalt für das kommende Jahr mit großer Mehrheit beschlossen, nach einer langen Debatte über die Kosten der neuen Schwimmhalle.</p>".repeat(4);
        let page = format!(
            "<html><body>{}<article>{article}</article>{}</body></html>",
            "<div>".repeat(1500),
            "</div>".repeat(1500)
        );
        let p = extract_page(page.as_bytes(), "deep.html").expect("a deep page is extracted");
        assert!(p.text.contains("Schwimmhalle"), "{}", p.text);
        // Hostile nesting: bounded, no stack overflow, no refusal for depth.
        for hostile in [b"<div>".repeat(200_000), b"<span><i>".repeat(100_000), b"<table><td>".repeat(50_000)] {
            match extract_page(&hostile, "hostile.html") {
                Ok(_) => {}
                Err(e) => assert!(!e.to_string().contains("nested"), "{e}"),
            }
        }
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
    fn every_author_and_the_modification_time_are_read() {
        let page = r#"<html><head>
<meta property="article:modified_time" content="2026-01-07T08:00:00+01:00">
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"X"},
{"@type":["NewsArticle"],"headline":"H","datePublished":"2026-01-06T18:30:00+01:00",
"author":[{"@type":"Person","name":"Marie  Dupont"},{"@type":"Person","name":"Jean Martin"},"Marie Dupont"]}]}</script>
</head><body><p>x</p></body></html>"#;
        let d = declared_metadata(page);
        assert_eq!(d.authors, ["Marie Dupont", "Jean Martin"]);
        assert_eq!(d.modified.map(|t| t.to_rfc3339()).as_deref(), Some("2026-01-07T07:00:00+00:00"));
        assert_eq!(d.published.map(|t| t.to_rfc3339()).as_deref(), Some("2026-01-06T17:30:00+00:00"));
        let metas = r#"<meta name='author' content='Anna Schmidt; Tom Berg'><meta name="author" content="https://x.example/anna"><meta content="B" name=description>"#;
        assert_eq!(declared_metadata(metas).authors, ["Anna Schmidt", "Tom Berg"]);
        assert_eq!(attribute(r#"<meta name=author content="A &amp; B">"#, "content").as_deref(), Some("A & B"));
        assert_eq!(declared_metadata("<script type=application/ld+json>{broken</script>"), Declared::default());
    }

    #[test]
    fn related_links_and_tags_after_the_article_are_cut_and_furniture_lines_dropped() {
        let body = "Der Stadtrat hat den Haushalt beschlossen. Die Opposition stimmte dagegen.\n\n".repeat(4);
        let page = format!(
            "{body}Anzeige\n\nDer Bürgermeister sprach von einem guten Tag.\n\nDas könnte Sie auch interessieren:\n\nNeue Schwimmhalle eröffnet\n\nTags: Haushalt, Stadtrat"
        );
        let out = without_trailing_sections(&page);
        assert!(out.ends_with("Der Bürgermeister sprach von einem guten Tag."), "{out}");
        let tagged = format!("{body}Tags: python, docker\n\nMehr von uns");
        assert_eq!(without_trailing_sections(&tagged), tidy(&body));
        let dangling = format!("{body}Autoren:\nVon:");
        assert_eq!(without_trailing_sections(&dangling), tidy(&body));
        assert!(!out.contains("Anzeige") && !out.contains("Schwimmhalle"), "{out}");
        // A cue early in the text is a box inside the article: only furniture goes.
        let early = format!("Lesen Sie auch\n\n{body}");
        assert_eq!(without_trailing_sections(&early), tidy(&body));
        // A cue inside a sentence is not a heading.
        let sentence = format!("{body}Wer mehr lesen will, findet den Bericht online.");
        assert_eq!(without_trailing_sections(&sentence), tidy(&sentence));
    }

    #[test]
    fn closing_links_bylines_and_download_lines_are_dropped() {
        let body = "Der Stadtrat hat den Haushalt beschlossen. Die Opposition stimmte dagegen.\n\n".repeat(4);
        let run_in = format!("{body}Das Ergebnis: 30. Lisa Vittozzi (ITA) +4.11,5 (9) Zurück zur Liste");
        assert!(without_trailing_sections(&run_in).ends_with("(9)"), "{}", without_trailing_sections(&run_in));
        let byline = format!("{body}Von:\n\nGötz Warnke");
        assert_eq!(without_trailing_sections(&byline), tidy(&body));
        // A closing sentence that starts with "Von" is text.
        let sentence = format!("{body}Von: Bonn bis Berlin reichte die Kette der Proteste am Wochenende.");
        assert_eq!(without_trailing_sections(&sentence), tidy(&sentence));
        let furniture = format!(
            "Dieses Skript als PDF herunterladen\n\n{body}Permalink https://p.example/p/RPYx\n\nDiese Seite teilen"
        );
        assert_eq!(without_trailing_sections(&furniture), tidy(&body));
        let filed = format!("{body}This entry was posted in Allgemein. Bookmark the permalink.");
        assert_eq!(without_trailing_sections(&filed), tidy(&body));
        let late = format!("{body}Kontakt:\nJan Koch, Telefon 040 49 07 11 06");
        assert_eq!(without_trailing_sections(&late), tidy(&body));
    }

    #[test]
    fn a_lead_that_readability_has_and_the_first_text_lacks_is_prepended() {
        let body = "Der Stadtrat hat den Haushalt beschlossen.\nDie Opposition stimmte dagegen.";
        let second = "Start » Politik » Haushalt\n\
            Der Stadtrat hat am Dienstag nach langer Debatte den Haushalt für das kommende Jahr beschlossen.\n\
            Der Bürgermeister im Rathaus. Foto: Stadt Musterstadt\n\
            Der Stadtrat hat den Haushalt beschlossen.\nDie Opposition stimmte dagegen.";
        assert_eq!(
            lead_missing_from(body, second).as_deref(),
            Some("Der Stadtrat hat am Dienstag nach langer Debatte den Haushalt für das kommende Jahr beschlossen.")
        );
        // Nothing when Readability starts where the text starts, or shares no line with it.
        assert_eq!(lead_missing_from(body, body), None);
        assert_eq!(lead_missing_from(body, "Etwas ganz anderes steht hier, lang genug für einen Satz."), None);
        // Only breadcrumbs, dates and captions before the shared line: no lead.
        let junk = "Start » Politik » Haushalt\n12.01.2022\nDer Bürgermeister. Foto: Stadt\nDer Stadtrat hat den Haushalt beschlossen.";
        assert_eq!(lead_missing_from(body, junk), None);
    }

    #[test]
    fn an_article_inside_noscript_is_read_as_markup() {
        let page = "<html><head><noscript><link rel=stylesheet href=a.css></noscript></head><BODY>\
            <NOSCRIPT><p>x</p></NOSCRIPT><p>noscript is a word here</p></body></html>";
        let renamed = noscript_as_markup(page);
        assert!(renamed.contains("<head><noscript><link"), "{renamed}");
        assert!(renamed.contains("<chorus-noscript><p>x</p></chorus-noscript>"), "{renamed}");
        assert!(renamed.contains("<p>noscript is a word here</p>"), "{renamed}");
        let paragraph = "<p>Phishing sites rotate domains very quickly to avoid being blocked, and malware \
            campaigns target users directly. Enhanced protection checks pages in real time.</p>";
        let page = format!(
            "<html><head><title>Blog</title></head><body><nav><a href=/>Home</a></nav><div class=post>\
             <script>render()</script><noscript>{}</noscript></div></body></html>",
            paragraph.repeat(4)
        );
        let p = extract_page(page.as_bytes(), "noscript.html").expect("extracted");
        assert!(p.text.contains("Phishing sites rotate domains very quickly"), "{}", p.text);
        assert!(!p.text.contains("<p>"), "{}", p.text);
    }

    #[test]
    fn boilerplate_boxes_inside_the_article_are_pruned_but_code_stays() {
        let paragraph = "<p>Der Stadtrat hat den Haushalt nach langer Debatte beschlossen, die Opposition \
            stimmte geschlossen dagegen und kündigte eine Klage an.</p>";
        let page = format!(
            "<html><head><title>Haushalt</title></head><body><article>{}\
             <div class=\"share-buttons\">Auf Facebook teilen Auf X teilen</div>{}\
             <div class=\"snippet-clipboard-content position-relative\"><pre><code>cargo add chorus</code></pre></div>\
             <div class=\"related-posts\"><a href=/a>Neue Schwimmhalle eröffnet</a></div></article></body></html>",
            paragraph.repeat(3),
            paragraph.repeat(3)
        );
        let p = extract_page(page.as_bytes(), "prune.html").expect("extracted");
        assert!(p.text.contains("kündigte eine Klage an"), "{}", p.text);
        assert!(!p.text.contains("Auf Facebook teilen"), "{}", p.text);
        assert!(!p.text.contains("Schwimmhalle"), "{}", p.text);
        assert!(p.text.contains("cargo add chorus"), "{}", p.text);
    }

    #[test]
    fn trafilatura_classic_keeps_paragraphs_apart_and_words_whole() {
        let paragraph = "<p>Das <b>Bundes</b>verfassungsgericht hat die Klage nach langer Beratung abgewiesen, \
            die Kläger wollen nun vor den Europäischen Gerichtshof ziehen.</p>";
        let page = format!(
            "<html><body><nav><a href=/>Start</a></nav><article>{}</article><footer>Impressum</footer></body></html>",
            paragraph.repeat(4)
        );
        let text = rs_trafilatura::extract_classic(&page);
        assert!(text.contains("Das Bundesverfassungsgericht hat die Klage"), "{text}");
        assert_eq!(text.lines().filter(|l| l.contains("abgewiesen")).count(), 4, "{text}");
        assert!(!text.contains("Impressum"), "{text}");
    }

    #[test]
    fn layout_whitespace_is_tidied_and_paragraphs_kept() {
        assert_eq!(
            tidy("  \t Erster   Absatz\n\t\t\n \n  zweiter\tAbsatz  \nZeile\n\n"),
            "Erster Absatz\n\nzweiter Absatz\nZeile"
        );
        assert_eq!(tidy(" \n\t"), "");
        assert!(
            rescues(&"x".repeat(500), &"y".repeat(200), true) && !rescues(&"x".repeat(300), &"y".repeat(200), true)
        );
        assert!(
            rescues(&"x".repeat(700), &"y".repeat(200), false) && !rescues(&"x".repeat(500), &"y".repeat(200), false)
        );
    }

    #[test]
    fn words_split_by_inline_markup_and_furigana_stay_whole() {
        let page = format!(
            "<html><body><article><p>{}</p><p>Die Zeitung „<i>Die Zeit</i>“ berichtete über das <b>Bundes</b>verfassungsgericht.</p><p><ruby>子<rt>こ</rt></ruby>どもへの<ruby>虐待<rt>ぎゃくたい</rt></ruby>をなくす</p></article></body></html>",
            "Der Stadtrat hat am Dienstag den Haushalt für das kommende Jahr mit großer Mehrheit beschlossen. "
                .repeat(5)
        );
        let p = extract_page(page.as_bytes(), "inline.html").expect("extracted");
        assert!(p.text.contains("„Die Zeit“ berichtete über das Bundesverfassungsgericht."), "{}", p.text);
        assert!(p.text.contains("子どもへの虐待をなくす"), "{}", p.text);
    }

    #[test]
    fn the_declared_encoding_is_used_and_windows_1252_is_the_fallback() {
        let mut page =
            b"<html><head><meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'></head><body>"
                .to_vec();
        page.extend_from_slice(b"\x84Brave New Woman\x93 \xfcber S\xe4ngerin</body></html>");
        assert!(decode_page(&page).contains("„Brave New Woman“ über Sängerin"), "{}", decode_page(&page));
        let undeclared = b"<p>Stra\xdfe</p>";
        assert_eq!(decode_page(undeclared), "<p>Straße</p>");
        assert_eq!(decode_page("<p>Grüße</p>".as_bytes()), "<p>Grüße</p>");
        // Mostly UTF-8 with one stray Latin-1 byte stays UTF-8.
        let mut mixed = "<p>Mäscot Schaf, Standardausführung, weiß</p>".as_bytes().to_vec();
        mixed.extend_from_slice(b"<p>M\xe4rz</p>");
        assert!(
            decode_page(&mixed).starts_with("<p>Mäscot Schaf, Standardausführung, weiß</p>"),
            "{}",
            decode_page(&mixed)
        );
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice("<p>é</p>".as_bytes());
        assert_eq!(decode_page(&bom), "<p>é</p>");
    }

    #[test]
    fn only_a_meta_tag_declares_the_encoding() {
        // A web archive's `<script charset="utf-8">` comes before the page's own GB2312
        // declaration; the page is GB2312 ("新华网" in GB2312 bytes).
        let mut page = b"<html><head><script src='/a.js' charset=\"utf-8\"></script>\
            <meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"/></head><body><p>"
            .to_vec();
        page.extend_from_slice(b"\xd0\xc2\xbb\xaa\xcd\xf8</p></body></html>");
        assert!(decode_page(&page).contains("<p>新华网</p>"), "{}", decode_page(&page));
        assert_eq!(declared_charset("<script charset=\"utf-8\"></script>"), None);
        assert_eq!(declared_charset("<meta charset='windows-1250'>"), Some(encoding_rs::WINDOWS_1250));
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
