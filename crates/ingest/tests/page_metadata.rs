//! Metadata read from real pages of trafilatura's evaluation set in `../shared/data`
//! (headline, authors, published and modified times, language, canonical URL, site name),
//! on pages that declare them.

use chorus_ingest::extract::{ExtractedPage, extract_page};
use std::path::{Path, PathBuf};

/// trafilatura's evaluation set (`$CHORUS_SHARED_DATA` or `../shared/data`), or `None`
/// when it is missing: one line on standard error (past the harness's capture) says the
/// test is skipped and why; with `CHORUS_REQUIRE_SHARED_DATA` set (`.ci/run`) the test fails.
fn set(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CHORUS_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // `crates/ingest` is two levels inside the repository; the data sits beside it.
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            manifest.ancestors().nth(3).map_or_else(|| manifest.join("../../.."), Path::to_path_buf).join("shared/data")
        })
        .join("trafilatura-eval-dev");
    if dir.is_dir() {
        return Some(dir);
    }
    let line = format!("skipped {test}: research data {} is not here (set CHORUS_SHARED_DATA)", dir.display());
    assert!(std::env::var_os("CHORUS_REQUIRE_SHARED_DATA").is_none(), "{line}");
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    None
}

fn page(set: &Path, file: &str) -> ExtractedPage {
    let path = ["cache", "eval"].iter().map(|d| set.join(d).join(file)).find(|p| p.is_file()).expect("page in the set");
    extract_page(&std::fs::read(&path).expect("readable"), file).expect("extracted")
}

fn time(p: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    p.map(|t| t.to_rfc3339()).unwrap_or_default()
}

#[test]
fn a_news_page_gives_headline_times_language_canonical_and_site() {
    let Some(set) = set("a_news_page_gives_headline_times_language_canonical_and_site") else { return };
    let p = page(&set, "abc7news.com-Napa.html");
    assert!(p.title.as_deref().is_some_and(|t| t.contains("Margaritaville")), "{:?}", p.title);
    assert!(time(&p.published).starts_with("2023-"), "{:?}", p.published);
    assert!(time(&p.modified).starts_with("2023-11-"), "{:?}", p.modified);
    assert_eq!(p.lang.as_deref(), Some("en"));
    assert_eq!(
        p.canonical_url.as_deref(),
        Some(
            "https://abc7news.com/camp-margaritaville-resort-napa-county-lake-berryessa-hotel-jimmy-buffett/14031465/"
        )
    );
    assert_eq!(p.site.as_deref(), Some("ABC7 San Francisco"));
}

#[test]
fn an_author_named_by_reference_in_the_json_ld_graph_is_found() {
    let Some(set) = set("an_author_named_by_reference_in_the_json_ld_graph_is_found") else { return };
    let p = page(&set, "helge.at.mahu.html");
    assert!(!p.authors.is_empty(), "Yoast's Person node is resolved: {p:?}");
    assert_eq!(time(&p.modified), "2014-03-05T11:37:07+00:00");
    assert_eq!(p.site.as_deref(), Some("Helge.at"));
    assert!(p.lang.as_deref().is_some_and(|l| l.starts_with("en")), "{:?}", p.lang);
}

#[test]
fn a_german_association_page_gives_its_author_and_language() {
    let Some(set) = set("a_german_association_page_gives_its_author_and_language") else { return };
    let p = page(&set, "exlibris-deg.de.balsamo.html");
    assert_eq!(p.authors, ["Henry Tauber"]);
    assert!(p.lang.as_deref().is_some_and(|l| l.starts_with("de")), "{:?}", p.lang);
    assert!(p.site.as_deref().is_some_and(|s| s.contains("Exlibris")), "{:?}", p.site);
    assert_eq!(p.canonical_url.as_deref(), Some("https://www.exlibris-deg.de/2019/10/24/balsamo-stella-guido/"));
}

#[test]
fn json_ld_authors_are_read_by_name_and_by_reference() {
    let Some(set) = set("json_ld_authors_are_read_by_name_and_by_reference") else { return };
    assert_eq!(page(&set, "blog.amp.dev.axios.html").authors, ["Alex Durán"]);
    assert_eq!(page(&set, "battery-news.de.ultium-cells.html").authors, ["Cornelius Karow"]);
}

#[test]
fn the_deepest_page_of_the_set_is_extracted_not_refused() {
    let Some(set) = set("the_deepest_page_of_the_set_is_extracted_not_refused") else { return };
    let p = page(&set, "24ora.com-internationalschol.html");
    assert!(p.text.chars().count() > 500, "{}", p.text);
}
