//! chorus-ingest: turns raw input into validated [`Article`]s.
//!
//! The bulk format is JSONL, one article a line:
//! `{"id","url","outlet","lang"?,"published"?,"title","text"}`. Reading never stops at a
//! bad line: every problem becomes an [`Issue`] naming the line, a line that cannot become
//! an article is returned as a [`Rejected`] line with its raw text (so the caller can keep
//! it), and everything else is ingested. Missing languages are detected.

pub mod extract;
pub mod feeds;
pub mod outlets;

use chorus_core::Article;
use chorus_text::lang::{self, LangCode};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::BufRead;

/// Longest accepted line (bytes); longer lines are rejected whole, not truncated.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// How serious an [`Issue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Severity {
    /// The article was ingested, but something was repaired or guessed.
    Warning,
    /// The line could not become an article; it is returned in [`Rejected`].
    Rejected,
}

/// A problem found on one input line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    /// 1-based line number.
    pub line: usize,
    /// Article id, when the line had one.
    pub id: Option<String>,
    /// Warning or rejection.
    pub severity: Severity,
    /// What is wrong, in words.
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.severity {
            Severity::Warning => "warning",
            Severity::Rejected => "rejected",
        };
        match &self.id {
            Some(id) => write!(f, "line {}: {what}: {} (id {id:?})", self.line, self.message),
            None => write!(f, "line {}: {what}: {}", self.line, self.message),
        }
    }
}

/// A line that could not become an article, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line number.
    pub line: usize,
    /// The line as read (invalid UTF-8 replaced).
    pub raw: String,
    /// Why it was rejected.
    pub reason: String,
}

/// Everything read from one input.
#[derive(Debug, Default)]
pub struct Batch {
    /// Valid articles with their line numbers, in input order.
    pub articles: Vec<(usize, Article)>,
    /// Every problem found.
    pub issues: Vec<Issue>,
    /// Lines that could not become articles.
    pub rejected: Vec<Rejected>,
    /// Non-blank lines read.
    pub lines: usize,
}

#[derive(Deserialize)]
struct RawArticle {
    id: Option<serde_json::Value>,
    url: Option<String>,
    outlet: Option<String>,
    lang: Option<String>,
    published: Option<String>,
    title: Option<String>,
    text: Option<String>,
    /// A list of names, or one name.
    authors: Option<serde_json::Value>,
}

/// The `authors` of a JSONL line: a list of names or one name; blanks dropped.
fn authors_of(value: Option<serde_json::Value>) -> Result<Vec<String>, String> {
    let names = match value {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::String(s)) => vec![s],
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                other => Err(format!("\"authors\" holds {other}, not a name")),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("\"authors\" is {other}, not a list of names")),
    };
    Ok(names.into_iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect())
}

/// Parses a publication time: RFC 3339, or a bare date (taken as midnight UTC).
pub fn parse_published(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

/// Reads JSONL articles from `input`. I/O errors end the read and are returned; every
/// other problem is recorded in the batch and reading goes on.
pub fn read_jsonl(mut input: impl BufRead) -> std::io::Result<Batch> {
    let mut batch = Batch::default();
    let mut seen: HashMap<String, (usize, Article)> = HashMap::new();
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = input.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let raw_bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let raw_bytes = raw_bytes.strip_suffix(b"\r").unwrap_or(raw_bytes);
        let raw_bytes =
            if line_no == 1 { raw_bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw_bytes) } else { raw_bytes };
        if raw_bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        batch.lines += 1;
        let raw = String::from_utf8_lossy(raw_bytes).into_owned();
        let reject = |batch: &mut Batch, id: Option<String>, reason: String| {
            batch.issues.push(Issue { line: line_no, id, severity: Severity::Rejected, message: reason.clone() });
            batch.rejected.push(Rejected { line: line_no, raw: raw.clone(), reason });
        };
        if raw_bytes.len() > MAX_LINE_BYTES {
            reject(&mut batch, None, format!("line is {} bytes, over the {} limit", raw_bytes.len(), MAX_LINE_BYTES));
            continue;
        }
        let mut warnings = Vec::new();
        if std::str::from_utf8(raw_bytes).is_err() {
            warnings.push("line is not valid UTF-8; invalid bytes were replaced with U+FFFD".to_string());
        }
        let parsed: RawArticle = match serde_json::from_str(&raw) {
            Ok(p) => p,
            Err(e) => {
                reject(&mut batch, None, format!("not a JSON article object: {e}"));
                continue;
            }
        };
        let id = match parsed.id {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => {
                reject(&mut batch, None, "missing or empty \"id\"".into());
                continue;
            }
        };
        let authors = match authors_of(parsed.authors) {
            Ok(a) => a,
            Err(e) => {
                reject(&mut batch, Some(id), e);
                continue;
            }
        };
        let title = parsed.title.map(|t| t.trim().to_string()).unwrap_or_default();
        let text = parsed.text.map(|t| t.trim().to_string()).unwrap_or_default();
        if text.is_empty() {
            reject(&mut batch, Some(id), "empty \"text\": an article needs a body".into());
            continue;
        }
        let url = parsed.url.map(|u| u.trim().to_string()).unwrap_or_default();
        if url.is_empty() {
            warnings.push("no \"url\"".into());
        }
        let outlet = match parsed.outlet.map(|o| o.trim().to_string()).filter(|o| !o.is_empty()) {
            Some(o) => o,
            None => {
                warnings.push("no \"outlet\"; recorded as \"unknown outlet\"".into());
                "unknown outlet".into()
            }
        };
        let published = match parsed.published.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => match parse_published(p) {
                Some(t) => Some(t),
                None => {
                    warnings.push(format!("\"published\" {p:?} is not an RFC 3339 time; left empty"));
                    None
                }
            },
        };
        let declared = parsed.lang.as_deref().map(str::trim).filter(|l| !l.is_empty());
        let (lang, lang_detected) = match declared.map(lang::normalize_code) {
            Some(LangCode::Known(code)) => (code, false),
            other => {
                if let (Some(LangCode::Invalid), Some(d)) = (&other, declared) {
                    warnings.push(format!("\"lang\" {d:?} is not a language code; detecting it instead"));
                }
                match lang::detect(&format!("{title}\n{text}")) {
                    Some(d) => {
                        if !d.reliable {
                            warnings.push(format!(
                                "no \"lang\" given; detected {:?} with low confidence ({:.2})",
                                d.code, d.confidence
                            ));
                        }
                        (d.code, true)
                    }
                    None => {
                        warnings.push("language could not be detected; recorded as \"und\"".into());
                        (lang::UNDETERMINED.to_string(), true)
                    }
                }
            }
        };
        let article = Article { id: id.clone(), url, outlet, lang, lang_detected, published, title, text, authors };
        if let Some((first_line, first)) = seen.get(&id) {
            if *first == article {
                batch.issues.push(Issue {
                    line: line_no,
                    id: Some(id),
                    severity: Severity::Warning,
                    message: format!("repeats line {first_line} exactly; ingested once"),
                });
            } else {
                reject(
                    &mut batch,
                    Some(id),
                    format!("duplicate id: line {first_line} has the same id with different content"),
                );
            }
            continue;
        }
        for w in warnings {
            batch.issues.push(Issue { line: line_no, id: Some(id.clone()), severity: Severity::Warning, message: w });
        }
        seen.insert(id, (line_no, article.clone()));
        batch.articles.push((line_no, article));
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Batch {
        read_jsonl(s.as_bytes()).unwrap()
    }

    #[test]
    fn reads_valid_articles_and_detects_language() {
        let b = read(concat!(
            r#"{"id":"a1","url":"https://x.example/1","outlet":"X","lang":"de-DE","published":"2026-01-06T10:00:00+01:00","title":"T","text":"Ein Text."}"#,
            "\n\n",
            r#"{"id":"a2","url":"https://y.example/2","outlet":"Y","title":"","text":"Le président de la République a réuni mardi les dirigeants de trente-cinq pays à Paris."}"#,
            "\n"
        ));
        assert!(b.issues.is_empty(), "{:?}", b.issues);
        assert_eq!(b.articles.len(), 2);
        assert_eq!(b.articles[0].1.lang, "de");
        assert!(!b.articles[0].1.lang_detected);
        assert_eq!(b.articles[0].1.published.unwrap().to_rfc3339(), "2026-01-06T09:00:00+00:00");
        assert_eq!(b.articles[1].1.lang, "fr");
        assert!(b.articles[1].1.lang_detected);
        assert_eq!(b.articles[1].0, 3, "line numbers count blank lines");
    }

    #[test]
    fn authors_are_a_list_or_one_name_and_anything_else_is_named() {
        let b = read(concat!(
            r#"{"id":"a","url":"u","outlet":"O","lang":"en","title":"t","text":"One.","authors":["Ana Díaz"," ","Li Wei"]}"#,
            "\n",
            r#"{"id":"b","url":"u","outlet":"O","lang":"en","title":"t","text":"Two.","authors":"Max Muster"}"#,
            "\n",
            r#"{"id":"c","url":"u","outlet":"O","lang":"en","title":"t","text":"Three."}"#,
            "\n",
            r#"{"id":"d","url":"u","outlet":"O","lang":"en","title":"t","text":"Four.","authors":[1]}"#,
            "\n"
        ));
        let authors: Vec<&[String]> = b.articles.iter().map(|(_, a)| a.authors.as_slice()).collect();
        assert_eq!(
            authors,
            [&["Ana Díaz".to_string(), "Li Wei".to_string()][..], &["Max Muster".to_string()][..], &[][..]]
        );
        assert_eq!(b.issues.len(), 1, "{:?}", b.issues);
        assert!(format!("{:?}", b.issues[0]).contains("authors"), "{:?}", b.issues);
    }

    #[test]
    fn bad_lines_are_named_and_the_rest_is_kept() {
        let input = [
            r#"{"id":"ok1","url":"u","outlet":"O","lang":"en","title":"t","text":"First good article."}"#,
            r#"{"id":"broken", "text": "#,
            r#"{"id":"empty","url":"u","outlet":"O","lang":"en","title":"t","text":"   "}"#,
            r#"{"id":"weird","url":"u","outlet":"O","lang":"klingon","title":"t","text":"Das ist ein deutscher Satz über das Wetter in Berlin."}"#,
            r#"{"id":"ok1","url":"u","outlet":"O","lang":"en","title":"t","text":"A different text under a used id."}"#,
            r#"{"id":"ok1","url":"u","outlet":"O","lang":"en","title":"t","text":"First good article."}"#,
            r#"["not", "an", "object"]"#,
            r#"{"url":"u","text":"no id"}"#,
            r#"{"id":"late","url":"u","outlet":"O","lang":"en","published":"yesterday","title":"t","text":"Last good article."}"#,
        ]
        .join("\n");
        let b = read(&input);
        let ids: Vec<&str> = b.articles.iter().map(|(_, a)| a.id.as_str()).collect();
        assert_eq!(ids, ["ok1", "weird", "late"]);
        assert_eq!(b.articles[1].1.lang, "de");
        let rejected: Vec<usize> = b.rejected.iter().map(|r| r.line).collect();
        assert_eq!(rejected, [2, 3, 5, 7, 8]);
        assert!(b.rejected[0].reason.contains("not a JSON article object"));
        assert!(b.rejected[1].reason.contains("empty \"text\""));
        assert!(b.rejected[2].reason.contains("duplicate id: line 1"));
        assert_eq!(b.rejected[0].raw, r#"{"id":"broken", "text": "#);
        let msgs: Vec<String> = b.issues.iter().map(ToString::to_string).collect();
        assert!(msgs.iter().any(|m| m.starts_with("line 4: warning: \"lang\" \"klingon\"")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.starts_with("line 6: warning: repeats line 1")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.starts_with("line 9: warning: \"published\" \"yesterday\"")), "{msgs:?}");
        assert_eq!(b.lines, 9);
    }

    #[test]
    fn invalid_utf8_and_undetectable_language_are_kept_with_warnings() {
        let mut input = br#"{"id":"bytes","url":"u","outlet":"O","lang":"fr","title":"t","text":"caf"#.to_vec();
        input.extend_from_slice(b"\xE9 cr\xE8me\"}\n");
        input.extend_from_slice(br#"{"id":"digits","url":"u","outlet":"O","title":"","text":"12345 67890"}"#);
        let b = read_jsonl(&input[..]).unwrap();
        assert_eq!(b.articles.len(), 2);
        assert!(b.articles[0].1.text.contains('\u{FFFD}'));
        assert_eq!(b.articles[1].1.lang, "und");
        assert_eq!(b.issues.len(), 2);
        assert!(b.issues.iter().all(|i| i.severity == Severity::Warning));
    }

    #[test]
    fn empty_input_is_an_empty_batch() {
        let b = read("");
        assert!(b.articles.is_empty() && b.issues.is_empty() && b.lines == 0);
    }
}
