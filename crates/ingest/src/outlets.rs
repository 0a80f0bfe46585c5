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

/// Reads every feed (`xmlUrl`) of an OPML file, at any nesting depth. Outlines whose
/// `xmlUrl` is not an http(s) URL are listed in the second value, not imported.
pub fn parse_opml(text: &str, file: &str) -> Result<(Vec<OpmlFeed>, Vec<String>), RegistryError> {
    let doc = opml::OPML::from_str(text)
        .map_err(|e| RegistryError::Syntax { file: file.to_string(), reason: format!("not OPML: {e}") })?;
    let mut feeds = Vec::new();
    let mut skipped = Vec::new();
    let mut stack: Vec<&opml::Outline> = doc.body.outlines.iter().rev().collect();
    while let Some(o) = stack.pop() {
        if let Some(url) = o.xml_url.as_deref() {
            let title = o.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| o.text.clone());
            if is_web_url(url.trim()) {
                feeds.push(OpmlFeed {
                    title: title.trim().to_string(),
                    feed_url: url.trim().to_string(),
                    site_url: o.html_url.clone().filter(|u| is_web_url(u)),
                });
            } else {
                skipped.push(format!("{file}: outline {title:?}: xmlUrl {url:?} is not an http(s) URL; skipped"));
            }
        }
        stack.extend(o.outlines.iter().rev());
    }
    Ok((feeds, skipped))
}

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
}
