//! Scoring main-text extraction the way the trafilatura project does.
//!
//! trafilatura's evaluation set (`evaldata.json` beside `cache/` and `eval/` folders of
//! HTML; half of it in `../shared/data/trafilatura-eval-dev`) marks each page with up to six
//! snippets the main text must contain (`with`) and up to six it must not contain
//! (`without`: menus, imprints, share links, comments). Its metric
//! (`tests/eval_common.py`, `count_item`): the output and each snippet are
//! whitespace-normalised (`re.sub(r"\s+", " ", t).strip()`); a `with` snippet found is a
//! true positive, one missing a false negative; a `without` snippet found is a false
//! positive, one missing a true negative. Precision, recall and F1 over all snippets of all
//! pages; a page whose extraction failed counts as an empty output. This module reproduces
//! that exactly.

use std::path::{Path, PathBuf};

/// One page of the set: its URL, file name and snippets.
#[derive(Debug, Clone, PartialEq)]
pub struct SnippetPage {
    /// The page's URL (the key in `evaldata.json`).
    pub url: String,
    /// The HTML file's name, looked up in `cache/` and then `eval/`.
    pub file: String,
    /// Snippets the main text must contain.
    pub with: Vec<String>,
    /// Snippets the main text must not contain.
    pub without: Vec<String>,
}

/// One page's (or a set's) snippet counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SnippetCounts {
    /// `with` snippets found.
    pub tp: usize,
    /// `without` snippets found.
    pub fp: usize,
    /// `with` snippets missing.
    pub fn_: usize,
    /// `without` snippets missing.
    pub tn: usize,
}

impl SnippetCounts {
    /// Adds another page's counts.
    pub fn add(&mut self, other: SnippetCounts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
        self.tn += other.tn;
    }

    /// Precision, recall and F1 (each 0 when its denominator is empty), as trafilatura's
    /// `ConfusionMatrix.scores`.
    pub fn scores(&self) -> (f64, f64, f64) {
        let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        (ratio(self.tp, self.tp + self.fp), ratio(self.tp, self.tp + self.fn_), self.f1())
    }

    /// F1 = 2·tp / (2·tp + fp + fn).
    pub fn f1(&self) -> f64 {
        let denominator = 2 * self.tp + self.fp + self.fn_;
        if denominator > 0 { 2.0 * self.tp as f64 / denominator as f64 } else { 0.0 }
    }
}

/// Python's `\s` for `str` patterns: Unicode whitespace plus the four ASCII separators
/// (0x1C–0x1F) that Rust's `char::is_whitespace` leaves out.
fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Whitespace-normalised text: runs of whitespace become one space, ends trimmed.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(python_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// What one page's extraction got right and wrong, snippet by snippet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageVerdict {
    /// The counts.
    pub counts: SnippetCounts,
    /// `with` snippets the output misses.
    pub missed: Vec<String>,
    /// `without` snippets the output keeps.
    pub kept: Vec<String>,
}

/// Scores one page's output (`None`: the extraction failed, an empty output).
pub fn score_page(page: &SnippetPage, output: Option<&str>) -> PageVerdict {
    let text = normalise(output.unwrap_or_default());
    let has = |snippet: &String| output.is_some() && text.contains(&normalise(snippet));
    let missed: Vec<String> = page.with.iter().filter(|s| !has(s)).cloned().collect();
    let kept: Vec<String> = page.without.iter().filter(|s| has(s)).cloned().collect();
    let counts = SnippetCounts {
        tp: page.with.len() - missed.len(),
        fn_: missed.len(),
        fp: kept.len(),
        tn: page.without.len() - kept.len(),
    };
    PageVerdict { counts, missed, kept }
}

/// Why the set could not be read (the same error as the benchmark's: a file that cannot
/// be read, or one that is not in the set's format).
pub type SnippetSetError = crate::extraction::BenchmarkError;

/// Whether `dir` is laid out as trafilatura's evaluation set (has `evaldata.json`).
pub fn is_snippet_set(dir: &Path) -> bool {
    dir.join("evaldata.json").is_file()
}

/// Reads `evaldata.json` of a set folder, pages sorted by URL.
pub fn read_snippet_set(dir: &Path) -> Result<Vec<SnippetPage>, SnippetSetError> {
    let path = dir.join("evaldata.json");
    let shown = path.display().to_string();
    let raw = std::fs::read_to_string(&path).map_err(|source| SnippetSetError::Io { path: shown.clone(), source })?;
    let entries: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&raw).map_err(|e| {
        SnippetSetError::Format { path: shown.clone(), reason: format!("not a JSON object of pages: {e}") }
    })?;
    let mut pages = Vec::with_capacity(entries.len());
    for (url, entry) in entries {
        let bad = |what: &str| SnippetSetError::Format { path: format!("{shown}: {url}"), reason: what.to_string() };
        let file =
            entry.get("file").and_then(|f| f.as_str()).filter(|f| !f.is_empty()).ok_or_else(|| bad("no \"file\""))?;
        let list = |key: &str| -> Result<Vec<String>, SnippetSetError> {
            match entry.get(key) {
                None => Ok(Vec::new()),
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .map(|s| s.as_str().map(String::from).ok_or_else(|| bad(&format!("\"{key}\" holds a non-string"))))
                    .collect(),
                Some(_) => Err(bad(&format!("\"{key}\" is not a list"))),
            }
        };
        pages.push(SnippetPage { file: file.to_string(), with: list("with")?, without: list("without")?, url });
    }
    if pages.is_empty() {
        return Err(SnippetSetError::Format { path: shown, reason: "no pages".into() });
    }
    pages.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(pages)
}

/// Where a page's HTML is: `cache/FILE`, else `eval/FILE` (as trafilatura's `resolve`).
pub fn page_path(dir: &Path, file: &str) -> Option<PathBuf> {
    ["cache", "eval"].iter().map(|sub| dir.join(sub).join(file)).find(|p| p.is_file())
}

/// Reads a page's HTML bytes.
pub fn read_page(dir: &Path, page: &SnippetPage) -> Result<Vec<u8>, SnippetSetError> {
    let path = page_path(dir, &page.file).ok_or_else(|| SnippetSetError::Io {
        path: dir.join("{cache,eval}").join(&page.file).display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file in cache/ or eval/"),
    })?;
    std::fs::read(&path).map_err(|source| SnippetSetError::Io { path: path.display().to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(with: &[&str], without: &[&str]) -> SnippetPage {
        SnippetPage {
            url: "https://example.org/a".into(),
            file: "a.html".into(),
            with: with.iter().map(|s| s.to_string()).collect(),
            without: without.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn whitespace_is_normalised_on_both_sides() {
        assert_eq!(normalise("  a\u{a0}\tb\n\n c \u{1f}d "), "a b c d");
        let p = page(&["Der  Rat\nbeschloss"], &["Impressum"]);
        let v = score_page(&p, Some("Am Dienstag: der Rat. Der Rat\u{a0}beschloss das Budget."));
        assert_eq!(v.counts, SnippetCounts { tp: 1, fp: 0, fn_: 0, tn: 1 });
    }

    #[test]
    fn hand_computed_pages_give_trafilaturas_counts_and_scores() {
        // Page 1: 2 of 3 `with` found, 1 of 2 `without` kept.
        let p1 = page(&["alpha beta", "gamma", "delta"], &["Impressum", "Teilen"]);
        let v1 = score_page(&p1, Some("alpha  beta gamma — Teilen"));
        assert_eq!(v1.counts, SnippetCounts { tp: 2, fp: 1, fn_: 1, tn: 1 });
        assert_eq!(
            (v1.missed.as_slice(), v1.kept.as_slice()),
            (&["delta".to_string()][..], &["Teilen".to_string()][..])
        );
        // Page 2: the extraction failed: every `with` missed, every `without` a true negative.
        let p2 = page(&["x", "y"], &["z"]);
        let v2 = score_page(&p2, None);
        assert_eq!(v2.counts, SnippetCounts { tp: 0, fp: 0, fn_: 2, tn: 1 });
        // Snippets are case-sensitive substrings.
        let v3 = score_page(&page(&["Alpha"], &["menu"]), Some("alpha Menu"));
        assert_eq!(v3.counts, SnippetCounts { tp: 0, fp: 0, fn_: 1, tn: 1 });
        let mut all = SnippetCounts::default();
        for v in [&v1, &v2, &v3] {
            all.add(v.counts);
        }
        // tp 2, fp 1, fn 4: P = 2/3, R = 2/6, F1 = 4/(4+1+4).
        let (p, r, f) = all.scores();
        assert!((p - 2.0 / 3.0).abs() < 1e-12 && (r - 1.0 / 3.0).abs() < 1e-12 && (f - 4.0 / 9.0).abs() < 1e-12);
        assert_eq!(SnippetCounts::default().scores(), (0.0, 0.0, 0.0));
    }

    #[test]
    fn the_set_is_read_and_pages_are_found_in_cache_then_eval() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("cache")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("eval")).expect("mkdir");
        std::fs::write(
            dir.path().join("evaldata.json"),
            r#"{"https://b.example/": {"file": "b.html", "with": ["x"], "without": ["y"]},
                "https://a.example/": {"file": "a.html", "with": ["p"]}}"#,
        )
        .expect("write");
        std::fs::write(dir.path().join("eval/a.html"), "eval copy").expect("write");
        std::fs::write(dir.path().join("cache/a.html"), "cache copy").expect("write");
        assert!(is_snippet_set(dir.path()));
        let pages = read_snippet_set(dir.path()).expect("read");
        assert_eq!(
            pages.iter().map(|p| p.url.as_str()).collect::<Vec<_>>(),
            ["https://a.example/", "https://b.example/"]
        );
        assert!(pages[0].without.is_empty());
        assert_eq!(read_page(dir.path(), &pages[0]).expect("found"), b"cache copy");
        let e = read_page(dir.path(), &pages[1]).unwrap_err().to_string();
        assert!(e.contains("b.html") && e.contains("cache/ or eval/"), "{e}");
        std::fs::write(dir.path().join("evaldata.json"), r#"{"u": {"with": []}}"#).expect("write");
        let e = read_snippet_set(dir.path()).unwrap_err().to_string();
        assert!(e.contains("evaldata.json: u") && e.contains("no \"file\""), "{e}");
    }
}
