//! Editorial rules every backend follows, in one place: when a machine rewrite becomes a
//! new revision, when it waits as a draft behind an editor's correction, how revisions are
//! numbered and noted, what a report's status becomes, and how a story's list entry is
//! summarised. Backends only read and write rows; they ask this module what to write.

use crate::{Result, StoreError};
use chorus_core::{StoryArticle, StoryDetail, StoryId, StorySummary};
use chrono::{DateTime, Timelike, Utc};

/// Name under which the machine signs the revisions it writes.
pub const MACHINE: &str = "chorus";

/// Note of a story's first revision.
pub const FIRST_VERSION_NOTE: &str = "first version";

/// Note of a machine rewrite published because the sources changed.
pub const REWRITE_NOTE: &str = "rewritten by chorus: its sources changed";

/// True when two versions of an article read the same (headline and sentences).
pub fn same_text(a: &StoryArticle, b: &StoryArticle) -> bool {
    let words = |x: &StoryArticle| -> Vec<String> {
        x.paragraphs.iter().map(|p| p.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ")).collect()
    };
    a.title == b.title && words(a) == words(b)
}

/// Serialises a written article for storage.
pub fn to_json(a: &StoryArticle) -> Result<String> {
    serde_json::to_string(a).map_err(|source| StoreError::Json { what: format!("story {}", a.story_id), source })
}

/// Reads a stored written article.
pub fn from_json(json: &str, story: StoryId) -> Result<StoryArticle> {
    serde_json::from_str(json).map_err(|source| StoreError::Json { what: format!("story {story}"), source })
}

/// The latest revision of a story's edition, as a backend read it.
#[derive(Debug, Clone)]
pub struct LatestRevision {
    /// Its number.
    pub number: u32,
    /// Published by an editor (not written by the machine).
    pub by_editor: bool,
    /// Its text.
    pub article: StoryArticle,
}

/// What to store when the pipeline hands over a new machine text for an edition.
#[derive(Debug, Clone, PartialEq)]
pub enum TextPlan {
    /// An editor's correction is the current text and stands. `draft` is the machine's
    /// new text to keep for review; `None` when it reads as the machine text the editor
    /// corrected (nothing new to review).
    KeepCorrection {
        /// The correction, to keep as the current text.
        current: Box<StoryArticle>,
        /// The rewrite waiting for an editor.
        draft: Option<StoryArticle>,
    },
    /// The text reads as the current revision: it replaces the current text under the
    /// same revision number (no new revision).
    Refresh(StoryArticle),
    /// A new revision, numbered, with its note.
    Append {
        /// The article, its `revision` set.
        article: StoryArticle,
        /// The change note.
        note: &'static str,
    },
}

/// Decides how a machine text for an edition is stored. `corrected_from` reads the latest
/// revision the machine wrote (only asked when an editor's correction is current).
pub fn plan_machine_text(
    latest: Option<LatestRevision>,
    corrected_from: impl FnOnce() -> Result<Option<StoryArticle>>,
    text: &StoryArticle,
) -> Result<TextPlan> {
    if let Some(current) = latest.as_ref().filter(|l| l.by_editor) {
        // An editor's correction stands: the machine's new text waits for review (unless
        // it reads like the machine text the editor corrected).
        let unchanged = corrected_from()?.is_some_and(|m| same_text(&m, text));
        return Ok(TextPlan::KeepCorrection {
            current: Box::new(current.article.clone()),
            draft: (!unchanged).then(|| text.clone()),
        });
    }
    // A text that reads as before keeps its revision number; a changed one becomes the
    // next revision, so readers can see what the machine rewrote and when.
    Ok(match latest {
        Some(l) if same_text(&l.article, text) => {
            TextPlan::Refresh(StoryArticle { revision: l.number, ..text.clone() })
        }
        Some(l) => {
            TextPlan::Append { article: StoryArticle { revision: l.number + 1, ..text.clone() }, note: REWRITE_NOTE }
        }
        None => TextPlan::Append { article: StoryArticle { revision: 1, ..text.clone() }, note: FIRST_VERSION_NOTE },
    })
}

/// The number of the revision after `latest` (1 for the first).
pub fn next_revision(latest: Option<u32>) -> u32 {
    latest.map_or(1, |n| n + 1)
}

/// An editor's version of an article, ready to store as revision `number`.
pub fn editor_revision(article: &StoryArticle, editor: &str, number: u32) -> StoryArticle {
    StoryArticle { revision: number, edited_by: editor.to_string(), ..article.clone() }
}

/// Note of a machine rewrite an editor published from the drafts.
pub fn accepted_draft_note(editor: &str) -> String {
    format!("rewritten by chorus as its sources changed; published by {editor}")
}

/// A report after an editor published revision `revision` answering it: an open report
/// is accepted with the revision's note as reason; a decided report keeps its decision
/// and only gains the link to the revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportAnswer {
    /// Status after the revision.
    pub status: String,
    /// Reason after the revision.
    pub reason: Option<String>,
    /// Who decided.
    pub resolved_by: Option<String>,
    /// When it was decided.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Applies [`ReportAnswer`]'s rule to a report's current decision.
pub fn answer_report(
    status: &str,
    reason: Option<String>,
    resolved_by: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
    note: &str,
    editor: &str,
    at: DateTime<Utc>,
) -> ReportAnswer {
    ReportAnswer {
        status: if status == "open" { "accepted".to_string() } else { status.to_string() },
        reason: reason.or_else(|| Some(note.to_string())),
        resolved_by: resolved_by.or_else(|| Some(editor.to_string())),
        resolved_at: resolved_at.or(Some(at)),
    }
}

/// What a story summary needs to know of one source article.
#[derive(Debug, Clone)]
pub struct SourceFacts {
    /// Its language.
    pub lang: String,
    /// Its outlet.
    pub outlet: String,
    /// Id of the report it belongs to (itself, or the original it copies).
    pub report: String,
    /// When it was published.
    pub published: Option<DateTime<Utc>>,
    /// Its headline.
    pub title: String,
}

/// What a story summary needs to know of one written article.
#[derive(Debug, Clone)]
pub struct WrittenFacts {
    /// Edition language.
    pub lang: String,
    /// Headline.
    pub title: String,
    /// When it was written.
    pub written_at: Option<DateTime<Utc>>,
    /// Independent reports as synthesis counted them (translations and wire copies folded).
    pub independent: Option<usize>,
}

/// Builds a story's list entry from its sources' facts and its written articles.
pub fn summarize(id: StoryId, arts: &[SourceFacts], titles: &[WrittenFacts]) -> StorySummary {
    let mut lang_counts: Vec<(String, usize)> = Vec::new();
    for a in arts {
        match lang_counts.iter_mut().find(|(l, _)| *l == a.lang) {
            Some((_, n)) => *n += 1,
            None => lang_counts.push((a.lang.clone(), 1)),
        }
    }
    lang_counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let languages: Vec<String> = lang_counts.into_iter().map(|(l, _)| l).collect();
    let distinct = |f: fn(&SourceFacts) -> &str| arts.iter().map(f).collect::<std::collections::BTreeSet<_>>().len();
    let reports = distinct(|a| a.report.as_str());
    let title = languages
        .first()
        .and_then(|l| titles.iter().find(|w| w.lang == *l))
        .or_else(|| titles.first())
        .map(|w| w.title.clone())
        .or_else(|| arts.first().map(|a| a.title.clone()))
        .unwrap_or_default();
    StorySummary {
        id,
        title,
        titles: titles.iter().map(|w| (w.lang.clone(), w.title.clone())).collect(),
        languages,
        n_sources: arts.len(),
        // Synthesis folds translations and wire copies that ingest's fingerprints miss;
        // its count (stored with each written article) is the finer one.
        n_independent: titles
            .iter()
            .filter_map(|w| w.independent)
            .filter(|&n| n > 0)
            .min()
            .map_or(reports, |n| n.min(reports)),
        n_outlets: distinct(|a| a.outlet.as_str()),
        first_published: arts.iter().filter_map(|a| a.published).min(),
        last_published: arts.iter().filter_map(|a| a.published).max(),
        // Whole seconds, as every backend keeps them.
        updated: titles.iter().filter_map(|w| w.written_at).max().map(|t| t.with_nanosecond(0).unwrap_or(t)),
    }
}

/// The front page's list: one summary per story from its sources' facts (`sources`
/// grouped by story, in the order the backend read them) and the written articles'
/// facts, ordered by [`sort_summaries`].
pub fn summaries(
    sources: impl IntoIterator<Item = (StoryId, SourceFacts)>,
    written: &std::collections::HashMap<StoryId, Vec<WrittenFacts>>,
) -> Vec<StorySummary> {
    let mut by_story: std::collections::BTreeMap<StoryId, Vec<SourceFacts>> = Default::default();
    for (id, facts) in sources {
        by_story.entry(id).or_default().push(facts);
    }
    let mut out: Vec<StorySummary> = by_story
        .into_iter()
        .map(|(id, arts)| summarize(id, &arts, written.get(&id).map(Vec::as_slice).unwrap_or(&[])))
        .collect();
    sort_summaries(&mut out);
    out
}

/// A story's page data from its sources (oldest first) and written articles.
pub fn detail(id: StoryId, sources: Vec<chorus_core::ArticleRecord>, articles: Vec<StoryArticle>) -> StoryDetail {
    let arts: Vec<SourceFacts> = sources
        .iter()
        .map(|r| SourceFacts {
            lang: r.article.lang.clone(),
            outlet: r.article.outlet.clone(),
            report: r.report_id().to_string(),
            published: r.article.published,
            title: r.article.title.clone(),
        })
        .collect();
    let titles: Vec<WrittenFacts> = articles
        .iter()
        .map(|a| WrittenFacts {
            lang: a.lang.clone(),
            title: a.title.clone(),
            written_at: Some(a.written_at),
            independent: Some(a.coverage.independent),
        })
        .collect();
    StoryDetail { summary: summarize(id, &arts, &titles), sources, articles }
}

/// Orders story summaries for the front page: most independently sourced first, then most
/// recent, then by id.
pub fn sort_summaries(list: &mut [StorySummary]) {
    list.sort_by(|a, b| {
        b.n_independent.cmp(&a.n_independent).then(b.last_published.cmp(&a.last_published)).then(a.id.cmp(&b.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::SynthSentence;

    fn text(sentence: &str) -> StoryArticle {
        StoryArticle {
            story_id: 1,
            lang: "en".into(),
            title: "T".into(),
            edited_by: MACHINE.into(),
            written_at: Utc::now(),
            paragraphs: vec![vec![SynthSentence::unsourced(sentence, "en")]],
            unconfirmed: false,
            coverage: Default::default(),
            claims: vec![],
            disagreements: vec![],
            generation: None,
            revision: 0,
        }
    }

    #[test]
    fn machine_texts_are_numbered_or_wait_behind_a_correction() {
        let none = || Ok(None);
        let first = plan_machine_text(None, none, &text("a")).unwrap();
        assert!(
            matches!(first, TextPlan::Append { ref article, note } if article.revision == 1 && note == FIRST_VERSION_NOTE)
        );
        let latest = LatestRevision { number: 3, by_editor: false, article: text("a") };
        assert!(
            matches!(plan_machine_text(Some(latest.clone()), none, &text("a")).unwrap(), TextPlan::Refresh(ref a) if a.revision == 3)
        );
        assert!(
            matches!(plan_machine_text(Some(latest), none, &text("b")).unwrap(), TextPlan::Append { ref article, .. } if article.revision == 4)
        );
        let corrected = LatestRevision { number: 4, by_editor: true, article: text("fixed") };
        let plan = plan_machine_text(Some(corrected.clone()), || Ok(Some(text("b"))), &text("b")).unwrap();
        assert!(matches!(plan, TextPlan::KeepCorrection { draft: None, .. }), "the text the editor corrected again");
        let plan = plan_machine_text(Some(corrected), || Ok(Some(text("b"))), &text("c")).unwrap();
        assert!(
            matches!(plan, TextPlan::KeepCorrection { draft: Some(_), ref current } if current.paragraphs[0][0].text == "fixed")
        );
    }

    #[test]
    fn an_open_report_is_accepted_by_the_revision_answering_it() {
        let at = Utc::now();
        let a = answer_report("open", None, None, None, "fixed", "alice", at);
        assert_eq!(
            (a.status.as_str(), a.reason.as_deref(), a.resolved_by.as_deref()),
            ("accepted", Some("fixed"), Some("alice"))
        );
        let b = answer_report("rejected", Some("no".into()), Some("bob".into()), None, "fixed", "alice", at);
        assert_eq!(
            (b.status.as_str(), b.reason.as_deref(), b.resolved_by.as_deref()),
            ("rejected", Some("no"), Some("bob"))
        );
        assert_eq!(next_revision(None), 1);
        assert_eq!(next_revision(Some(2)), 3);
    }
}
