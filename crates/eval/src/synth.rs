//! The synthesis evaluation format: one story a line,
//! `{"id", "lang", "sources": [{"id", "outlet"?, "lang"?, "title", "text"}], "reference": {"title", "text"}}`.

use crate::LineError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::BufRead;

/// One source article of a story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthSource {
    /// Unique within the story.
    pub id: String,
    /// Outlet, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub outlet: Option<String>,
    /// Language, when known (the story's otherwise).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lang: Option<String>,
    /// Headline; may be empty.
    #[serde(default)]
    pub title: String,
    /// Body.
    pub text: String,
}

/// A human-written reference article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Its headline.
    #[serde(default)]
    pub title: String,
    /// Its text.
    pub text: String,
}

/// One story to synthesise and score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthStory {
    /// Unique id.
    pub id: String,
    /// Language the article is written in.
    pub lang: String,
    /// Its sources.
    pub sources: Vec<SynthSource>,
    /// The reference.
    pub reference: Reference,
}

/// Reads a synthesis evaluation file strictly: every story needs an id, a language, at
/// least one source with a non-empty text and unique id, and a reference text; story ids
/// are unique. Any problem fails the read, and every problem is listed by line.
pub fn read_synth_file(input: impl BufRead) -> Result<Vec<SynthStory>, Vec<LineError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (n, line) in crate::numbered_lines(input, &mut errors) {
        let story: SynthStory = match serde_json::from_str(&line) {
            Ok(s) => s,
            Err(e) => {
                errors.push(LineError { line: n, message: format!("not a story: {e}") });
                continue;
            }
        };
        let mut problems = Vec::new();
        if story.id.trim().is_empty() {
            problems.push("empty \"id\"".to_string());
        }
        if story.lang.trim().is_empty() {
            problems.push("empty \"lang\"".to_string());
        }
        if story.sources.is_empty() {
            problems.push("no sources".to_string());
        }
        let mut ids = std::collections::BTreeSet::new();
        for (k, s) in story.sources.iter().enumerate() {
            if s.text.trim().is_empty() {
                problems.push(format!("source {} ({:?}) has an empty text", k + 1, s.id));
            }
            if !ids.insert(s.id.as_str()) {
                problems.push(format!("source id {:?} repeats", s.id));
            }
        }
        if story.reference.text.trim().is_empty() {
            problems.push("empty reference text".to_string());
        }
        if let Some(first) = seen.get(&story.id) {
            problems.push(format!("duplicate story id {:?} (first on line {first})", story.id));
        }
        if problems.is_empty() {
            seen.insert(story.id.clone(), n);
            out.push(story);
        } else {
            for p in problems {
                errors.push(LineError { line: n, message: format!("story {:?}: {p}", story.id) });
            }
        }
    }
    if out.is_empty() && errors.is_empty() {
        errors.push(LineError { line: 0, message: "the file has no stories".into() });
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_good_stories_and_names_bad_lines() {
        let good = r#"{"id":"s1","lang":"en","sources":[{"id":"a","title":"T","text":"Body."}],"reference":{"title":"R","text":"Ref."}}"#;
        let stories = read_synth_file(good.as_bytes()).unwrap();
        assert_eq!(stories[0].sources[0].outlet, None);
        let bad = format!(
            "{good}\n{}\n{}\n{good}\nnot json\n",
            r#"{"id":"s2","lang":"en","sources":[],"reference":{"text":"x"}}"#,
            r#"{"id":"s3","lang":"en","sources":[{"id":"a","text":" "}],"reference":{"text":""}}"#
        );
        let errors = read_synth_file(bad.as_bytes()).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 3, 4, 5], "{errors:?}");
        assert!(errors[3].message.contains("duplicate story id"));
        assert!(read_synth_file("".as_bytes()).is_err());
    }
}
