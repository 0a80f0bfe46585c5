//! The outlet registry file (TOML) and OPML subscription lists, in and out.
//!
//! `data/outlets.toml` is the reviewable list of outlets chorus follows: name, home page,
//! country, languages, type (state / public / private / wire) and feed URLs. Every entry
//! is checked, and every problem names the entry and the field. OPML is what other feed
//! readers import and export; [`parse_opml`] reads any outline nesting, [`to_opml`]
//! writes one outline per outlet with its feeds under it.

use chorus_core::{Outlet, OutletKind};
use serde::Deserialize;

/// The registry that ships with chorus (real outlets, 21 countries, 20 languages).
pub const BUNDLED_REGISTRY: &str = include_str!("../../../data/outlets.toml");

/// Why a registry or OPML file was refused. Nothing of a refused file is imported.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file is not valid TOML / XML of the expected shape.
    #[error("{file}: {reason}")]
    Syntax {
        /// The file.
        file: String,
        /// What the parser said.
        reason: String,
    },
    /// Entries with wrong or missing fields, one message each.
    #[error("{file}: {} problem(s): {}", .problems.len(), .problems.join("; "))]
    Invalid {
        /// The file.
        file: String,
        /// "outlet 3 (\"Le Monde\"): country \"France\" is not a two-letter code", …
        problems: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    outlet: Vec<RawOutlet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutlet {
    name: String,
    homepage: String,
    country: String,
    languages: Vec<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    feeds: Vec<String>,
}

/// Whether `s` is an absolute http(s) URL with a host.
pub fn is_web_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// Checks one outlet; returns its problems (empty when valid).
pub fn validate(o: &Outlet) -> Vec<String> {
    let mut p = Vec::new();
    if o.name.trim().is_empty() {
        p.push("name is empty".to_string());
    }
    if !is_web_url(&o.homepage) {
        p.push(format!("homepage {:?} is not an http(s) URL", o.homepage));
    }
    if o.country.len() != 2 || !o.country.chars().all(|c| c.is_ascii_uppercase()) {
        p.push(format!("country {:?} is not a two-letter ISO code like \"FR\"", o.country));
    }
    if o.languages.is_empty() {
        p.push("languages is empty".to_string());
    }
    for l in &o.languages {
        if !(2..=3).contains(&l.len()) || !l.chars().all(|c| c.is_ascii_lowercase()) {
            p.push(format!("language {l:?} is not an ISO 639 code like \"fr\""));
        }
    }
    for f in &o.feeds {
        if !is_web_url(f) {
            p.push(format!("feed {f:?} is not an http(s) URL"));
        }
    }
    p
}

/// Reads a registry file (TOML, `[[outlet]]` tables). All or nothing: any invalid entry
/// refuses the file, listing every problem.
pub fn parse_registry(text: &str, file: &str) -> Result<Vec<Outlet>, RegistryError> {
    let raw: RegistryFile =
        toml::from_str(text).map_err(|e| RegistryError::Syntax { file: file.to_string(), reason: e.to_string() })?;
    let mut problems = Vec::new();
    let mut out: Vec<Outlet> = Vec::new();
    for (k, r) in raw.outlet.into_iter().enumerate() {
        let label = format!("outlet {} ({:?})", k + 1, r.name);
        let kind = match r.kind.parse::<OutletKind>() {
            Ok(kind) => kind,
            Err(e) => {
                problems.push(format!("{label}: {e}"));
                OutletKind::Private
            }
        };
        let o = Outlet {
            name: r.name.trim().to_string(),
            homepage: r.homepage.trim().to_string(),
            country: r.country.trim().to_string(),
            languages: r.languages.iter().map(|l| l.trim().to_string()).collect(),
            kind,
            feeds: r.feeds.iter().map(|f| f.trim().to_string()).collect(),
        };
        problems.extend(validate(&o).into_iter().map(|p| format!("{label}: {p}")));
        if out.iter().any(|x| x.name == o.name) {
            problems.push(format!("{label}: the name is used twice"));
        }
        out.push(o);
    }
    if problems.is_empty() { Ok(out) } else { Err(RegistryError::Invalid { file: file.to_string(), problems }) }
}

/// A feed found in an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// The outline's title (or text).
    pub title: String,
    /// The feed URL (`xmlUrl`).
    pub feed_url: String,
    /// The site (`htmlUrl`), when given.
    pub site_url: Option<String>,
}

/// Reads every feed (`xmlUrl`) of an OPML file given as bytes, decoded as pages are
/// (`extract::decode_document`): a BOM, else UTF-8 when the bytes are (mostly) UTF-8, else
/// the XML declaration's `encoding`, else windows-1252 (a declaration that says UTF-8 over
/// Latin-1 bytes is common). Then as [`parse_opml`].
pub fn parse_opml_bytes(bytes: &[u8], file: &str) -> Result<(Vec<OpmlFeed>, Vec<String>), RegistryError> {
    let xml_declared = |head: &str| {
        let declaration = head.strip_prefix("<?xml")?;
        crate::extract::encoding_after(&declaration[..declaration.find("?>")?], "encoding")
    };
    parse_opml(&crate::extract::decode_document(bytes, xml_declared), file)
}

/// Reads every feed (`xmlUrl`) of an OPML file, at any nesting depth, as leniently as
/// feed readers do: subscription lists people export are often not well-formed XML (a raw
/// `&` in a URL, unescaped quotes inside a title, HTML entities such as `&#039;` or
/// `&eacute;`, attribute names in any case, outlines without `type`). Each `<outline>` tag
/// is read on its own, so one broken tag costs only that outline. The second value lists,
/// with file and line, the outlines not imported and why (unreadable tag, a feed URL that
/// is not http(s), a site without a feed). Only a file with no outline at all is refused.
pub fn parse_opml(text: &str, file: &str) -> Result<(Vec<OpmlFeed>, Vec<String>), RegistryError> {
    let lower = text.to_ascii_lowercase();
    let mut feeds = Vec::new();
    let mut skipped = Vec::new();
    let mut found = 0;
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    let mut at = 0;
    while let Some(i) = lower[at..].find("<outline").map(|i| at + i) {
        at = i + "<outline".len();
        // Outlines inside a comment are not outlines.
        if lower[..i].rfind("<!--").is_some_and(|c| !lower[c..i].contains("-->")) {
            continue;
        }
        if !lower[at..].starts_with(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>') {
            continue;
        }
        found += 1;
        let line = line_of(i);
        let Some(tag) = read_tag(&text[at..]) else {
            skipped
                .push(format!("{file}:{line}: an outline tag that cannot be read (a quote or `>` missing); skipped"));
            continue;
        };
        at += tag.len;
        let attr = |name: &str| {
            tag.attributes.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
        };
        let title = attr("title").filter(|t| !t.is_empty()).or_else(|| attr("text")).unwrap_or_default();
        match attr("xmlUrl").filter(|u| !u.is_empty()) {
            Some(url) if is_web_url(&url) => {
                feeds.push(OpmlFeed { title, feed_url: url, site_url: attr("htmlUrl").filter(|u| is_web_url(u)) })
            }
            Some(url) => {
                skipped.push(format!("{file}:{line}: outline {title:?}: xmlUrl {url:?} is not an http(s) URL; skipped"))
            }
            None => {
                // A leaf with a web site but no feed: nothing to poll.
                let leaf = tag.self_closing || lower[at..].trim_start().starts_with("</outline");
                if let Some(site) = attr("htmlUrl").filter(|_| leaf) {
                    skipped.push(format!(
                        "{file}:{line}: outline {title:?} has a site ({site}) but no xmlUrl feed; skipped"
                    ));
                }
            }
        }
    }
    if found == 0 {
        return Err(RegistryError::Syntax {
            file: file.to_string(),
            reason: "not OPML: no <outline> in the file".into(),
        });
    }
    Ok((feeds, skipped))
}

/// One tag's attributes, read leniently, and the tag's length up to and including `>`.
struct LenientTag {
    attributes: Vec<(String, String)>,
    self_closing: bool,
    len: usize,
}

/// Reads the attributes of a tag from just after its name. A quoted value ends at the
/// quote that is followed by the tag's end or by another attribute (`"Tom "the cat""` keeps
/// its inner quotes) and before the next `<`; an unquoted value ends at whitespace. `None`
/// when no `>` ends the tag or a quoted value never ends.
fn read_tag(rest: &str) -> Option<LenientTag> {
    let bytes = rest.as_bytes();
    let mut attributes = Vec::new();
    let mut i = 0;
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.');
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        match bytes.get(i) {
            None => return None,
            Some(b'>') => return Some(LenientTag { attributes, self_closing: false, len: i + 1 }),
            Some(b'/') if bytes.get(i + 1) == Some(&b'>') => {
                return Some(LenientTag { attributes, self_closing: true, len: i + 2 });
            }
            Some(b) if is_name(*b) => {}
            Some(_) => {
                // Stray character: skip it.
                i += 1;
                continue;
            }
        }
        let name_start = i;
        while i < bytes.len() && is_name(bytes[i]) {
            i += 1;
        }
        let name = rest[name_start..i].to_string();
        let mut j = i;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if bytes.get(j) != Some(&b'=') {
            attributes.push((name, String::new()));
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let value;
        match bytes.get(j) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let start = j + 1;
                // A value never runs past the next tag: `<` is not allowed in one.
                let limit = rest[start..].find('<').map_or(rest.len(), |l| start + l);
                let mut end = None;
                let mut k = start;
                while let Some(off) = rest[k..limit].find(q as char) {
                    let close = k + off;
                    if closes_value(&bytes[close + 1..]) {
                        end = Some(close);
                        break;
                    }
                    k = close + 1;
                }
                let close = end?;
                value = &rest[start..close];
                i = close + 1;
            }
            _ => {
                let start = j;
                let mut k = j;
                while k < bytes.len() && !bytes[k].is_ascii_whitespace() && bytes[k] != b'>' {
                    k += 1;
                }
                if k > start && bytes[k - 1] == b'/' && bytes.get(k) == Some(&b'>') {
                    k -= 1;
                }
                value = &rest[start..k];
                i = k;
            }
        }
        attributes.push((name, decode_entities(value)));
    }
}

/// Whether what follows a quote ends the attribute value: the tag's end, or whitespace
/// and another `name=`.
fn closes_value(after: &[u8]) -> bool {
    let mut i = 0;
    while i < after.len() && after[i].is_ascii_whitespace() {
        i += 1;
    }
    match after.get(i) {
        None | Some(b'>') => true,
        Some(b'/') => after.get(i + 1) == Some(&b'>'),
        Some(_) if i == 0 => false,
        Some(_) => {
            let mut k = i;
            while k < after.len() && (after[k].is_ascii_alphanumeric() || matches!(after[k], b'_' | b':' | b'-' | b'.'))
            {
                k += 1;
            }
            while k < after.len() && after[k].is_ascii_whitespace() {
                k += 1;
            }
            k > i && after.get(k) == Some(&b'=')
        }
    }
}

/// XML and common HTML character references decoded; a `&` that starts none stays as it is.
fn decode_entities(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..].find(';').map(|e| e + 1).filter(|e| *e <= 12);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = if let Some(num) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(num, 16).ok().and_then(char::from_u32)
            } else if let Some(num) = name.strip_prefix('#') {
                num.parse().ok().and_then(char::from_u32)
            } else {
                NAMED_ENTITIES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The named references found in exported subscription lists: XML's five and the HTML
/// ones of Western European titles.
const NAMED_ENTITIES: [(&str, char); 24] = [
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("eacute", 'é'),
    ("egrave", 'è'),
    ("ecirc", 'ê'),
    ("agrave", 'à'),
    ("aacute", 'á'),
    ("acirc", 'â'),
    ("ccedil", 'ç'),
    ("iacute", 'í'),
    ("oacute", 'ó'),
    ("ocirc", 'ô'),
    ("uacute", 'ú'),
    ("ntilde", 'ñ'),
    ("auml", 'ä'),
    ("ouml", 'ö'),
    ("uuml", 'ü'),
    ("szlig", 'ß'),
    ("ndash", '–'),
    ("mdash", '—'),
];

/// Writes outlets and their feeds as OPML 2.0: one outline per outlet (with its country,
/// languages and type as attributes other readers ignore), one child per feed.
pub fn to_opml(outlets: &[Outlet]) -> String {
    let mut doc = opml::OPML { version: "2.0".into(), ..opml::OPML::default() };
    doc.head = Some(opml::Head { title: Some("chorus outlets".into()), ..opml::Head::default() });
    for o in outlets.iter().filter(|o| !o.feeds.is_empty()) {
        let mut parent = opml::Outline {
            text: o.name.clone(),
            title: Some(o.name.clone()),
            html_url: Some(o.homepage.clone()),
            category: Some(format!("{} / {} / {}", o.country, o.languages.join(","), o.kind.as_str())),
            ..opml::Outline::default()
        };
        for f in &o.feeds {
            parent.outlines.push(opml::Outline {
                text: o.name.clone(),
                title: Some(o.name.clone()),
                r#type: Some("rss".into()),
                xml_url: Some(f.clone()),
                html_url: Some(o.homepage.clone()),
                ..opml::Outline::default()
            });
        }
        doc.body.outlines.push(parent);
    }
    doc.to_string().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_bundled_registry_is_valid_and_wide() {
        let outlets = parse_registry(BUNDLED_REGISTRY, "data/outlets.toml").unwrap();
        let countries: BTreeSet<&str> = outlets.iter().map(|o| o.country.as_str()).collect();
        let langs: BTreeSet<&str> = outlets.iter().flat_map(|o| o.languages.iter().map(String::as_str)).collect();
        assert!(countries.len() >= 15, "{countries:?}");
        assert!(langs.len() >= 10, "{langs:?}");
        for name in ["AFP", "EFE", "Anadolu Agency", "Xinhua", "Euractiv", "The Kyiv Independent", "The Moscow Times"] {
            assert!(outlets.iter().any(|o| o.name == name), "{name}");
        }
        for name in ["Al Jazeera", "The Irish Times", "L'Express", "24.hu", "wnp.pl", "swissinfo.ch"] {
            assert!(outlets.iter().any(|o| o.name == name), "{name}");
        }
        assert!(
            outlets.iter().any(|o| o.kind == OutletKind::Wire) && outlets.iter().any(|o| o.kind == OutletKind::State)
        );
    }

    #[test]
    fn every_bad_field_is_named_and_nothing_is_imported() {
        let bad = r#"
[[outlet]]
name = "Le Monde"
homepage = "lemonde.fr"
country = "France"
languages = ["French"]
type = "newspaper"
feeds = ["ftp://x"]

[[outlet]]
name = "Le Monde"
homepage = "https://www.lemonde.fr/"
country = "FR"
languages = ["fr"]
type = "private"
"#;
        let e = parse_registry(bad, "bad.toml").unwrap_err().to_string();
        for part in [
            "bad.toml",
            "homepage \"lemonde.fr\"",
            "country \"France\"",
            "language \"French\"",
            "\"newspaper\"",
            "feed \"ftp://x\"",
            "used twice",
        ] {
            assert!(e.contains(part), "{part} in {e}");
        }
        assert!(parse_registry("[[outlet]]\nname = 1", "x.toml").unwrap_err().to_string().starts_with("x.toml: "));
        assert!(parse_registry("[[outlet]]\nname=\"a\"\nhomepage=\"https://a.b\"\ncountry=\"FR\"\nlanguages=[\"fr\"]\ntype=\"wire\"\nfeeds=[]\ncolour=\"red\"", "x.toml").is_err(), "unknown fields refused");
    }

    #[test]
    fn opml_round_trips_and_reads_nested_outlines() {
        let outlets = parse_registry(BUNDLED_REGISTRY, "data/outlets.toml").unwrap();
        let xml = to_opml(&outlets);
        let (feeds, skipped) = parse_opml(&xml, "export.opml").unwrap();
        let expected: usize = outlets.iter().map(|o| o.feeds.len()).sum();
        assert_eq!(feeds.len(), expected);
        assert!(skipped.is_empty());
        assert!(
            feeds.iter().any(|f| f.feed_url == "https://www.tagesschau.de/xml/rss2/" && f.title == "tagesschau.de")
        );
        let other = r#"<?xml version="1.0"?><opml version="1.0"><head><title>x</title></head><body>
<outline text="News"><outline text="Deep"><outline text="A" xmlUrl="https://a.example/feed"/></outline></outline>
<outline text="Bad" xmlUrl="javascript:alert(1)"/></body></opml>"#;
        let (feeds, skipped) = parse_opml(other, "other.opml").unwrap();
        assert_eq!(feeds.len(), 1);
        assert_eq!(feeds[0].feed_url, "https://a.example/feed");
        assert!(skipped[0].contains("javascript:"), "{skipped:?}");
        assert!(parse_opml("<html>not opml</html>", "x.opml").unwrap_err().to_string().contains("not OPML"));
    }

    /// A list as real exports have them: each defect of the 13 lists a strict XML parser
    /// refused, one per outline, around outlines that are fine.
    const MALFORMED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<opml version=\"1.0\"><head><title>Feeds & more</title></head><body>
<outline text=\"Nachrichten\" title=\"Nachrichten\">
  <outline text=\"Backend\" type=\"rss\" xmlUrl=\"https://a.example/feed?page=backend-fd&lang=en\"/>
  <outline text=\"Le \"Monde\" diplo\" xmlUrl=\"https://b.example/rss\" htmlUrl=\"https://b.example/\"/>
  <outline text=\"L&#039;Équipe &amp; co\" xmlUrl='https://c.example/rss.xml'/>
  <outline text=\"Caf&eacute;\" XMLURL=\"https://d.example/atom\">
  </outline>
</outline>
<outline text=\"Broken xmlUrl=\"https://e.example/rss
<outline text=\"Site only\" htmlUrl=\"https://f.example/\"/>
<outline text=\"Script\" xmlUrl=\"javascript:alert(1)\"/>
<!-- <outline text=\"Commented\" xmlUrl=\"https://g.example/rss\"/> -->
<outline text=unquoted xmlUrl=https://h.example/feed/>
</body></opml>";

    #[test]
    fn malformed_lists_give_every_outline_they_can_and_name_the_lines_they_cannot() {
        let (feeds, skipped) = parse_opml(MALFORMED, "list.opml").unwrap();
        let urls: Vec<&str> = feeds.iter().map(|f| f.feed_url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://a.example/feed?page=backend-fd&lang=en",
                "https://b.example/rss",
                "https://c.example/rss.xml",
                "https://d.example/atom",
                "https://h.example/feed"
            ]
        );
        assert_eq!(feeds[1].title, "Le \"Monde\" diplo");
        assert_eq!(feeds[1].site_url.as_deref(), Some("https://b.example/"));
        assert_eq!(feeds[2].title, "L'Équipe & co");
        assert_eq!(feeds[3].title, "Café");
        assert_eq!(feeds[4].title, "unquoted");
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(skipped[0].starts_with("list.opml:10:"), "{skipped:?}");
        assert!(skipped[1].starts_with("list.opml:11:") && skipped[1].contains("no xmlUrl"), "{skipped:?}");
        assert!(skipped[2].starts_with("list.opml:12:") && skipped[2].contains("javascript:"), "{skipped:?}");
    }

    #[test]
    fn wrong_or_missing_encoding_declarations_are_read() {
        // Latin-1 bytes under a declaration that says UTF-8, and under none.
        let latin1 = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><opml><body>\
            <outline text=\"M\xfcnchen Stra\xdfe\" xmlUrl=\"https://m.example/rss\"/></body></opml>";
        let (feeds, _) = parse_opml_bytes(latin1, "l.opml").unwrap();
        assert_eq!(feeds[0].title, "München Straße");
        let declared = b"<?xml version=\"1.0\" encoding=\"windows-1250\"?><opml><body>\
            <outline text=\"\x8alask\xfd\" xmlUrl=\"https://s.example/rss\"/></body></opml>";
        assert_eq!(parse_opml_bytes(declared, "s.opml").unwrap().0[0].title, "Šlaský");
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(
            "<opml><body><outline text=\"Zürich\" xmlUrl=\"https://z.example/\"/></body></opml>".as_bytes(),
        );
        assert_eq!(parse_opml_bytes(&bom, "z.opml").unwrap().0[0].title, "Zürich");
    }

    #[test]
    fn a_generated_list_of_a_thousand_outlines_is_read_whole() {
        let mut xml = String::from("<opml version=\"2.0\"><body>");
        for c in 0..10 {
            xml.push_str(&format!("<outline text=\"Category {c}\">"));
            for n in 0..100 {
                // Every seventh with a raw `&`, every eleventh with quotes in its title.
                let q = if n % 11 == 0 { "\"quoted\" " } else { "" };
                let amp = if n % 7 == 0 { "&page=2" } else { "" };
                xml.push_str(&format!(
                    "<outline type=\"rss\" text=\"{q}Feed {c}-{n}\" xmlUrl=\"https://f{c}.example/{n}.xml?a=1{amp}\"/>\n"
                ));
            }
            xml.push_str("</outline>");
        }
        xml.push_str("</body></opml>");
        let (feeds, skipped) = parse_opml(&xml, "big.opml").unwrap();
        assert_eq!(feeds.len(), 1000);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(feeds[0].title, "\"quoted\" Feed 0-0");
        assert_eq!(feeds[7].feed_url, "https://f0.example/7.xml?a=1&page=2");
    }
}
