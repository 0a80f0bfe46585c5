//! Feeds in: RSS 0.9x/1.0/2.0, Atom and JSON Feed, parsed by `feed-rs`, made safe.
//!
//! `feed-rs` 3.0 panics on some author strings (an e-mail address followed by a
//! multi-byte character, `jose@x.org（José）`). A panic would lose every item of the
//! feed, so parsing runs inside `catch_unwind`; after a panic the feed is parsed again
//! with its author elements emptied, and the items are kept without authors (with a
//! warning saying so). Only a feed that still cannot be read is an error, and the error
//! names the feed and says why.
//!
//! Item texts arrive as HTML; they are reduced to plain text here. An item whose text is
//! short is a *teaser*: the caller fetches its page and extracts the article
//! ([`crate::extract`]).

use chrono::{DateTime, Utc};

/// Items with less text than this (characters) are teasers: the page must be fetched.
pub const TEASER_CHARS: usize = 600;

/// One item of a feed, as plain text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedItem {
    /// The item's id (guid, Atom id), else its link.
    pub id: String,
    /// Link to the article page.
    pub url: Option<String>,
    /// Headline.
    pub title: String,
    /// Publication (else last update) time.
    pub published: Option<DateTime<Utc>>,
    /// Authors, comma-separated.
    pub author: Option<String>,
    /// The longest text the feed carries for it (content, else summary), as plain text.
    pub text: String,
    /// Language the feed declares.
    pub lang: Option<String>,
}

impl FeedItem {
    /// Whether the feed gives only a teaser, so the page must be fetched for the article.
    pub fn is_teaser(&self) -> bool {
        self.text.chars().count() < TEASER_CHARS
    }
}

/// A parsed feed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedFeed {
    /// The feed's title.
    pub title: String,
    /// Declared language.
    pub lang: Option<String>,
    /// The site the feed belongs to.
    pub site_url: Option<String>,
    /// Items, in feed order.
    pub items: Vec<FeedItem>,
    /// What was repaired or dropped, in words (items without a link and an id are dropped).
    pub warnings: Vec<String>,
}

/// Why a feed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Not a feed in any supported format, or broken beyond parsing.
    #[error("{feed}: not a readable RSS, Atom or JSON feed: {reason}")]
    Malformed {
        /// The feed (URL or file).
        feed: String,
        /// What the parser said.
        reason: String,
    },
}

/// Parses a feed's bytes; `feed` names it in messages and resolves relative links.
pub fn parse_feed(bytes: &[u8], feed: &str) -> Result<ParsedFeed, FeedError> {
    let malformed = |reason: String| FeedError::Malformed { feed: feed.to_string(), reason };
    let mut warnings = Vec::new();
    let parsed = match parse_guarded(bytes, feed) {
        Ok(result) => result.map_err(|e| malformed(e.to_string()))?,
        Err(panic) => {
            warnings.push(format!(
                "the feed parser crashed ({panic}); parsed again without author fields, so items have no author"
            ));
            let cleaned = without_authors(bytes);
            match parse_guarded(&cleaned, feed) {
                Ok(result) => result.map_err(|e| malformed(e.to_string()))?,
                Err(panic) => return Err(malformed(format!("the parser crashed: {panic}"))),
            }
        }
    };
    let lang = parsed.language.clone();
    let mut items = Vec::new();
    for (k, e) in parsed.entries.into_iter().enumerate() {
        let url = e.links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).map(|l| l.href.clone());
        let id = if !e.id.trim().is_empty() { e.id.trim().to_string() } else { url.clone().unwrap_or_default() };
        if id.is_empty() {
            warnings.push(format!("item {} has neither id nor link; skipped", k + 1));
            continue;
        }
        let content = e.content.and_then(|c| c.body).map(|b| html_to_text(&b)).unwrap_or_default();
        let summary = e.summary.map(|s| html_to_text(&s.content)).unwrap_or_default();
        let text = if content.chars().count() >= summary.chars().count() { content } else { summary };
        let authors: Vec<String> = e
            .authors
            .iter()
            .filter_map(|p| p.name.as_deref())
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        items.push(FeedItem {
            id,
            url,
            title: e.title.map(|t| html_to_text(&t.content)).unwrap_or_default(),
            published: e.published.or(e.updated),
            author: (!authors.is_empty()).then(|| authors.join(", ")),
            text,
            lang: lang.clone(),
        });
    }
    Ok(ParsedFeed {
        title: parsed.title.map(|t| html_to_text(&t.content)).unwrap_or_default(),
        lang,
        site_url: parsed.links.iter().find(|l| l.rel.as_deref() != Some("self")).map(|l| l.href.clone()),
        items,
        warnings,
    })
}

type ParseResult = Result<feed_rs::model::Feed, feed_rs::parser::ParseFeedError>;

/// Runs the parser, turning a panic into `Err(message)`.
fn parse_guarded(bytes: &[u8], feed: &str) -> Result<ParseResult, String> {
    // Relative links resolve against the feed's URL; a file name is no base.
    let base = url::Url::parse(feed).ok().map(|_| feed);
    let parser = feed_rs::parser::Builder::new().base_uri(base).build();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(bytes))).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

/// The feed with the contents of its author elements (`<author>`, `<dc:creator>`,
/// `<managingEditor>`, `<webMaster>`) emptied.
fn without_authors(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = text.into_owned();
    for tag in ["author", "dc:creator", "managingEditor", "webMaster", "itunes:author"] {
        let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
        let mut from = 0;
        while let Some(a) = out[from..].find(&open).map(|i| i + from) {
            let Some(gt) = out[a..].find('>').map(|i| i + a + 1) else { break };
            let Some(end) = out[gt..].find(&close).map(|i| i + gt) else { break };
            out.replace_range(gt..end, "");
            from = gt;
        }
    }
    out.into_bytes()
}

/// Plain text of an HTML fragment: tags dropped, entities decoded, block elements on
/// lines of their own, runs of spaces collapsed.
pub fn html_to_text(html: &str) -> String {
    if !html.contains('<') && !html.contains('&') {
        return html.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let doc = dom_query::Document::from(html);
    doc.formatted_text()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss(author: &str, description: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Le Journal — Monde</title><link>https://journal.example/</link><language>fr</language>
<item><title>Accord &amp; garanties à Paris</title><link>https://journal.example/a1</link>
<guid isPermaLink="false">journal-a1</guid><pubDate>Tue, 06 Jan 2026 18:30:00 +0100</pubDate>
<author>{author}</author><description>{description}</description></item>
<item><title>Second</title><link>/relative/a2</link><description>Court.</description></item>
</channel></rss>"#
        )
    }

    #[test]
    fn rss_items_become_plain_text_with_ids_dates_and_links() {
        let f = parse_feed(
            rss(
                "marie@journal.example (Marie Dupont)",
                "&lt;p&gt;Trente-cinq &lt;b&gt;dirigeants&lt;/b&gt; se sont accordés.&lt;/p&gt;",
            )
            .as_bytes(),
            "https://journal.example/feed.xml",
        )
        .unwrap();
        assert_eq!(f.title, "Le Journal — Monde");
        assert_eq!(f.lang.as_deref(), Some("fr"));
        assert_eq!(f.items.len(), 2);
        let a = &f.items[0];
        assert_eq!(a.id, "journal-a1");
        assert_eq!(a.title, "Accord & garanties à Paris");
        assert_eq!(a.text, "Trente-cinq dirigeants se sont accordés.");
        assert_eq!(a.url.as_deref(), Some("https://journal.example/a1"));
        assert_eq!(a.published.map(|d| d.to_rfc3339()).as_deref(), Some("2026-01-06T17:30:00+00:00"));
        assert!(a.is_teaser());
        assert_eq!(f.items[1].url.as_deref(), Some("https://journal.example/relative/a2"), "relative link resolved");
        assert!(f.warnings.is_empty());
    }

    #[test]
    fn the_author_string_that_crashes_feed_rs_loses_no_item() {
        let f = parse_feed(rss("jose@x.org（José）", "Texte.").as_bytes(), "https://journal.example/feed.xml").unwrap();
        assert_eq!(f.items.len(), 2, "both items kept");
        assert_eq!(f.items[0].author, None);
        assert!(f.warnings[0].contains("crashed"), "{:?}", f.warnings);
    }

    #[test]
    fn atom_and_json_feed_are_read_too() {
        let atom = r#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">
<title>Nachrichten</title><id>urn:x</id><updated>2026-01-06T10:00:00Z</updated>
<entry><title>Einigung in Paris</title><id>urn:x:1</id><updated>2026-01-06T10:00:00Z</updated>
<link href="https://zeitung.example/1"/><author><name>Max Muster</name></author>
<content type="html">&lt;p&gt;Absatz eins.&lt;/p&gt;&lt;p&gt;Absatz zwei.&lt;/p&gt;</content></entry></feed>"#;
        let f = parse_feed(atom.as_bytes(), "https://zeitung.example/atom").unwrap();
        assert_eq!(f.items[0].text, "Absatz eins.\nAbsatz zwei.");
        assert_eq!(f.items[0].author.as_deref(), Some("Max Muster"));
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"7","url":"https://j.example/7","title":"T","content_text":"Body text."}]}"#;
        let f = parse_feed(json.as_bytes(), "https://j.example/feed.json").unwrap();
        assert_eq!((f.items[0].id.as_str(), f.items[0].text.as_str()), ("7", "Body text."));
    }

    #[test]
    fn broken_feeds_are_errors_that_name_the_feed() {
        for (name, bytes) in [
            ("empty", b"".to_vec()),
            ("html", b"<html><body>Not a feed</body></html>".to_vec()),
            ("truncated", rss("a", "b").as_bytes()[..200].to_vec()),
            ("binary", (0..=255u8).collect()),
        ] {
            match parse_feed(&bytes, name) {
                Err(e) => assert!(e.to_string().starts_with(name), "{e}"),
                Ok(f) => assert!(f.items.is_empty(), "{name}: {f:?}"),
            }
        }
    }
}

#[cfg(test)]
mod encoding_tests {
    use super::*;

    #[test]
    fn legacy_encodings_declared_in_the_xml_are_decoded() {
        let xml = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><title>Новости</title><item><title>Заголовок</title><link>https://r.example/1</link></item></channel></rss>";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(xml);
        let f = parse_feed(&bytes, "cp1251").unwrap();
        assert_eq!(f.title, "Новости");
        assert_eq!(f.items[0].title, "Заголовок");
    }
}
