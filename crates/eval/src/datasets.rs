//! Converters from the research data in `../shared/data` to the evaluation format
//! (`{"id","lang"?,"published"?,"title","text","cluster"}` one article a line).
//!
//! * NeuS/AllSides (`neus-allsides/roundup_probe/{train,val}.source`): each line is one
//!   3-article roundup, so one gold story. The files carry no dates, so the articles are
//!   emitted in a seeded shuffle: an online clusterer must not see each story's articles
//!   back to back.
//! * ITN (`itn-corpus/corpus_dev.json`): blurbs keyed by subject (Wikidata QID); a subject's
//!   blurbs are split into separate events wherever consecutive blurbs are more than 7 days
//!   apart. HTML is stripped; the subject's name (`keyword`) is *not* used as the title,
//!   since it would give the label away.
//! * ML-Crisis (`ml-crisis-cl-tls`): every article, labelled with its topic (Egypt, Libya,
//!   Syria, Yemen). Topic labels are coarser than events: report the scores, do not tune to
//!   them.

use serde::Serialize;
use std::path::Path;

/// One article of an evaluation file.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct EvalArticle {
    /// Unique id.
    pub id: String,
    /// Language, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lang: Option<String>,
    /// Publication time (RFC 3339), when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub published: Option<String>,
    /// Headline; may be empty.
    #[serde(default)]
    pub title: String,
    /// Body.
    pub text: String,
    /// Gold story label.
    pub cluster: String,
}

/// Errors of the converters.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A file is not in the expected format.
    #[error("{path}: {message}")]
    Format {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn read(path: &Path) -> Result<String, DatasetError> {
    std::fs::read_to_string(path).map_err(|source| DatasetError::Io { path: path.display().to_string(), source })
}

/// Deterministic xorshift permutation, so converted files are reproducible.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Converts a NeuS split (`train` or `val`) from `neus_dir/roundup_probe/<split>.source`.
pub fn neus(neus_dir: &Path, split: &str) -> Result<Vec<EvalArticle>, DatasetError> {
    let path = neus_dir.join("roundup_probe").join(format!("{split}.source"));
    let text = read(&path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let parts: Vec<&str> = line.split("[SEP]").map(str::trim).filter(|p| !p.is_empty()).collect();
        if parts.is_empty() {
            continue;
        }
        for (k, part) in parts.iter().enumerate() {
            let body = part.strip_prefix("TITLE=>").unwrap_or(part);
            let (title, article) = match body.split_once("ARTICLE=>") {
                Some((t, a)) => (t.trim(), a.trim()),
                None => ("", body.trim()),
            };
            if article.is_empty() && title.is_empty() {
                return Err(DatasetError::Format {
                    path: path.display().to_string(),
                    message: format!("line {}: article {} is empty", n + 1, k + 1),
                });
            }
            out.push(EvalArticle {
                id: format!("neus-{split}-{}-{}", n + 1, k + 1),
                lang: Some("en".into()),
                published: None,
                title: title.to_string(),
                text: if article.is_empty() { title.to_string() } else { article.to_string() },
                cluster: format!("neus-{split}-{}", n + 1),
            });
        }
    }
    shuffle(&mut out, 0x4e65_7553);
    Ok(out)
}

/// Splits one NeuS `TITLE=> … ARTICLE=> …` record into headline and text.
fn neus_record(part: &str) -> (String, String) {
    let body = part.trim().strip_prefix("TITLE=>").unwrap_or(part);
    match body.split_once("ARTICLE=>") {
        Some((t, a)) => (t.trim().to_string(), a.trim().to_string()),
        None => (String::new(), body.trim().to_string()),
    }
}

/// Converts a NeuS split into the synthesis evaluation format: each line of
/// `<split>.source` (three articles) with the same line of `<split>.target` (the AllSides
/// editors' neutral roundup) as reference.
pub fn neus_synth(neus_dir: &Path, split: &str) -> Result<Vec<crate::synth::SynthStory>, DatasetError> {
    use crate::synth::{Reference, SynthSource, SynthStory};
    let dir = neus_dir.join("roundup_probe");
    let (src_path, tgt_path) = (dir.join(format!("{split}.source")), dir.join(format!("{split}.target")));
    let (sources, targets) = (read(&src_path)?, read(&tgt_path)?);
    let (sources, targets): (Vec<&str>, Vec<&str>) = (sources.lines().collect(), targets.lines().collect());
    if sources.len() != targets.len() {
        return Err(DatasetError::Format {
            path: tgt_path.display().to_string(),
            message: format!("{} references for {} source lines", targets.len(), sources.len()),
        });
    }
    let mut out = Vec::new();
    for (n, (line, target)) in sources.iter().zip(&targets).enumerate() {
        let parts: Vec<&str> = line.split("[SEP]").map(str::trim).filter(|p| !p.is_empty()).collect();
        let srcs: Vec<SynthSource> = parts
            .iter()
            .enumerate()
            .map(|(k, part)| {
                let (title, text) = neus_record(part);
                SynthSource { id: format!("{}", k + 1), outlet: None, lang: Some("en".into()), title, text }
            })
            .filter(|s| !s.text.is_empty())
            .collect();
        let (ref_title, ref_text) = neus_record(target);
        if srcs.is_empty() || ref_text.is_empty() {
            return Err(DatasetError::Format {
                path: src_path.display().to_string(),
                message: format!("line {}: no source text or no reference", n + 1),
            });
        }
        out.push(SynthStory {
            id: format!("neus-{split}-{}", n + 1),
            lang: "en".into(),
            sources: srcs,
            reference: Reference { title: ref_title.trim_end_matches('.').to_string(), text: ref_text },
        });
    }
    Ok(out)
}

/// Removes tags and decodes the common character references of Wikipedia HTML.
pub fn strip_html(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &tail[1..e];
            match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => name
                    .strip_prefix("#x")
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }
            .map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Converts the ITN development corpus (`itn_dir/corpus_dev.json`), splitting each subject
/// into events at gaps of more than `gap_days` days.
pub fn itn(itn_dir: &Path, gap_days: f64) -> Result<Vec<EvalArticle>, DatasetError> {
    let path = itn_dir.join("corpus_dev.json");
    let fmt_err = |message: String| DatasetError::Format { path: path.display().to_string(), message };
    let corpus: serde_json::Value = serde_json::from_str(&read(&path)?).map_err(|e| fmt_err(e.to_string()))?;
    let subjects = corpus.as_object().ok_or_else(|| fmt_err("top level is not an object".into()))?;
    let mut out = Vec::new();
    for (qid, blurbs) in subjects {
        let blurbs = blurbs.as_object().ok_or_else(|| fmt_err(format!("{qid}: not an object")))?;
        let mut items: Vec<(f64, &str, &serde_json::Value)> = Vec::new();
        for (ts, b) in blurbs {
            let t: f64 = ts.parse().map_err(|_| fmt_err(format!("{qid}: timestamp {ts:?} is not a number")))?;
            items.push((t, ts, b));
        }
        items.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        let mut event = 0;
        let mut last: Option<f64> = None;
        for (t, ts, b) in items {
            if last.is_some_and(|l| t - l > gap_days * 86_400.0) {
                event += 1;
            }
            last = Some(t);
            let lang = b["lang"].as_str().unwrap_or("").to_string();
            let text = strip_html(b["blurb"].as_str().unwrap_or(""));
            if text.is_empty() {
                continue;
            }
            let published = chrono::DateTime::from_timestamp(t as i64, 0)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            out.push(EvalArticle {
                id: format!("itn-{qid}-{lang}-{ts}"),
                lang: (!lang.is_empty()).then_some(lang),
                published,
                title: String::new(),
                text,
                cluster: format!("{qid}#{event}"),
            });
        }
    }
    out.sort_by(|a, b| a.published.cmp(&b.published).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Converts every article of ML-Crisis (`crisis_dir/manifest.tsv`), labelled by topic.
pub fn crisis(crisis_dir: &Path) -> Result<Vec<EvalArticle>, DatasetError> {
    let manifest_path = crisis_dir.join("manifest.tsv");
    let manifest = read(&manifest_path)?;
    let mut out = Vec::new();
    for (n, line) in manifest.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let [path, lang, topic, date, ..] = f[..] else {
            return Err(DatasetError::Format {
                path: manifest_path.display().to_string(),
                message: format!("line {}: expected tab-separated path, lang, topic, date", n + 1),
            });
        };
        let body = read(&crisis_dir.join(path))?;
        let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
        let title = lines.next().unwrap_or("").to_string();
        let text: Vec<&str> = lines.collect();
        out.push(EvalArticle {
            id: format!("crisis-{}", path.trim_end_matches(".txt").replace('/', "-")),
            lang: Some(lang.to_string()),
            published: Some(format!("{date}T12:00:00Z")),
            title,
            text: if text.is_empty() { body.trim().to_string() } else { text.join("\n") },
            cluster: topic.to_string(),
        });
    }
    out.sort_by(|a, b| a.published.cmp(&b.published).then(a.id.cmp(&b.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_wikipedia_html() {
        let html = r#"At least <b><a href="x" title="y">100 people</a></b> are killed&nbsp;in <i>Iran</i> &amp; Iraq &#8212; &#x2014; &bogus; &"#;
        assert_eq!(strip_html(html), "At least 100 people are killed in Iran & Iraq — — &bogus; &");
    }

    #[test]
    fn shuffle_is_a_reproducible_permutation() {
        let mut a: Vec<u32> = (0..50).collect();
        let mut b = a.clone();
        shuffle(&mut a, 7);
        shuffle(&mut b, 7);
        assert_eq!(a, b);
        assert_ne!(a, (0..50).collect::<Vec<_>>());
        a.sort();
        assert_eq!(a, (0..50).collect::<Vec<_>>());
    }
}
