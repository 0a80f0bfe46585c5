//! A readable word-level diff between two revisions of an article.

use chorus_core::StoryArticle;
use similar::{ChangeTag, TextDiff};

/// One run of the diff.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DiffPart {
    /// `same`, `removed` or `added`.
    pub change: &'static str,
    /// The text of the run (paragraphs separated by blank lines).
    pub text: String,
}

/// An article as the diff compares it: the headline, then each paragraph.
pub fn diff_text(a: &StoryArticle) -> String {
    let mut out = a.title.clone();
    for p in &a.paragraphs {
        out.push_str("\n\n");
        out.push_str(&p.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" "));
    }
    out
}

/// The word-level changes from `old` to `new`, adjacent words of one kind merged.
pub fn word_diff(old: &str, new: &str) -> Vec<DiffPart> {
    let diff = TextDiff::from_words(old, new);
    let mut parts: Vec<DiffPart> = Vec::new();
    for change in diff.iter_all_changes() {
        let kind = match change.tag() {
            ChangeTag::Equal => "same",
            ChangeTag::Delete => "removed",
            ChangeTag::Insert => "added",
        };
        match parts.last_mut() {
            Some(last) if last.change == kind => last.text.push_str(change.value()),
            _ => parts.push(DiffPart { change: kind, text: change.value().to_string() }),
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_words_are_marked_and_runs_merged() {
        let parts = word_diff("Twelve people died in Lyon.", "Fifteen people died in Lyon on Monday.");
        let removed: String = parts.iter().filter(|p| p.change == "removed").map(|p| p.text.as_str()).collect();
        let added: String = parts.iter().filter(|p| p.change == "added").map(|p| p.text.as_str()).collect();
        assert!(removed.contains("Twelve") && !removed.contains("people"), "{parts:?}");
        let rebuilt_old: String = parts.iter().filter(|p| p.change != "added").map(|p| p.text.as_str()).collect();
        assert_eq!(rebuilt_old, "Twelve people died in Lyon.");
        assert!(added.contains("Fifteen") && added.contains("Monday."), "{parts:?}");
        let rebuilt_new: String = parts.iter().filter(|p| p.change != "removed").map(|p| p.text.as_str()).collect();
        assert_eq!(rebuilt_new, "Fifteen people died in Lyon on Monday.");
        assert_eq!(word_diff("same", "same"), vec![DiffPart { change: "same", text: "same".into() }]);
    }
}
