//! chorus-core: the types every stage of the pipeline shares.
//!
//! Data flows one way: `ingest` produces [`Article`]s, `embed` turns them into vectors,
//! `cluster` groups them into stories, `synth` writes a [`StoryArticle`] per story and
//! edition language, `store` keeps all of it and `web` shows it. Only plain data lives
//! here, so every crate can depend on this one without pulling in the others.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Identifier of a story (a cluster of articles that report one event).
pub type StoryId = i64;

/// One news article as chorus stores it, after validation and language detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Article {
    /// Caller-supplied identifier, unique across the store.
    pub id: String,
    /// Where the article can be read.
    pub url: String,
    /// Name of the publishing outlet.
    pub outlet: String,
    /// ISO 639-1 code where one exists (ISO 639-3 otherwise, `und` when unknown).
    pub lang: String,
    /// Whether `lang` was detected by chorus rather than given by the source.
    pub lang_detected: bool,
    /// Publication time, when the source gave one.
    pub published: Option<DateTime<Utc>>,
    /// Headline; may be empty.
    pub title: String,
    /// Plain-text body.
    pub text: String,
    /// Author(s) as the source names them (the page's metadata or the feed item), in
    /// order; empty when unknown. Optional in JSONL input.
    #[serde(default)]
    pub authors: Vec<String>,
}

impl Article {
    /// The text that identifies the article for embedding and clustering: headline and lead.
    pub fn headline_and_lead(&self, max_chars: usize) -> String {
        let mut s = String::with_capacity(max_chars + 16);
        if !self.title.is_empty() {
            s.push_str(&self.title);
            s.push('\n');
        }
        for ch in self.text.chars() {
            if s.len() >= max_chars {
                break;
            }
            s.push(ch);
        }
        s
    }
}

/// A stored article plus what the pipeline derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArticleRecord {
    /// The article itself.
    pub article: Article,
    /// Id of the earlier article whose text this one duplicates (exactly or nearly);
    /// `None` when it is an original report. Duplicates count once as sources.
    pub duplicate_of: Option<String>,
    /// Story the clusterer put it in, once clustered.
    pub story_id: Option<StoryId>,
}

impl ArticleRecord {
    /// The id of the report this article belongs to: itself, or the original it copies.
    pub fn report_id(&self) -> &str {
        self.duplicate_of.as_deref().unwrap_or(&self.article.id)
    }
}

/// Summary of a story as listed on the front page and in `/api/stories`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StorySummary {
    /// Story id.
    pub id: StoryId,
    /// Title of the synthesised article (best-covered edition), or of its first article.
    pub title: String,
    /// Title of the written article per edition language.
    #[serde(default)]
    pub titles: std::collections::BTreeMap<String, String>,
    /// Languages of its source articles, most frequent first.
    pub languages: Vec<String>,
    /// Number of source articles.
    pub n_sources: usize,
    /// Number of independent reports (duplicates and reprints count once).
    pub n_independent: usize,
    /// Number of distinct outlets.
    pub n_outlets: usize,
    /// Earliest publication time among its articles.
    pub first_published: Option<DateTime<Utc>>,
    /// Latest publication time among its articles.
    pub last_published: Option<DateTime<Utc>>,
    /// When its article was last written.
    pub updated: Option<DateTime<Utc>>,
}

/// A passage of a source article that supports a synthesised sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourcePassage {
    /// Id of the source article.
    pub article_id: String,
    /// Outlet of the source article.
    pub outlet: String,
    /// Language of the passage.
    pub lang: String,
    /// The original sentence, verbatim.
    pub sentence: String,
    /// Cosine similarity of this passage to the chosen sentence (1.0 for the sentence itself).
    pub similarity: f32,
    /// The writing model's translation of the passage into the edition's language, when the
    /// edition was written from a passage in another language (machine-translated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<String>,
}

/// One sentence of a synthesised article, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SynthSentence {
    /// The sentence, verbatim from its first source passage.
    pub text: String,
    /// Language of the sentence.
    pub lang: String,
    /// Number of independent reports that support it.
    pub n_independent: usize,
    /// The passages that state it; the first is the one quoted.
    pub sources: Vec<SourcePassage>,
    /// The claim it states (an index into [`StoryArticle::claims`]).
    #[serde(default)]
    pub claim: Option<usize>,
    /// True when sources disagree about what it states (see [`StoryArticle::disagreements`]).
    #[serde(default)]
    pub disputed: bool,
    /// Written by a language model from the cited claims (and verified against them)
    /// rather than quoted from a source.
    #[serde(default)]
    pub generated: bool,
    /// Every claim the sentence cites (a generated sentence may combine several).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<usize>,
    /// Reworded by an editor (its sources are those of the sentence it replaced).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
    /// A generated sentence whose quotation the model translated from a source in another
    /// language (the original is in its sources).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub translated_quote: bool,
}

impl SynthSentence {
    /// A sentence with no sources and no marks (an editor's addition; tests).
    pub fn unsourced(text: &str, lang: &str) -> SynthSentence {
        SynthSentence {
            text: text.into(),
            lang: lang.into(),
            n_independent: 0,
            sources: Vec::new(),
            claim: None,
            disputed: false,
            generated: false,
            claims: Vec::new(),
            edited: false,
            translated_quote: false,
        }
    }
}

/// A statement made by one or more sources: their sentences that say the same thing, in
/// any language, agreeing on the numbers they give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Claim {
    /// Its id within the story article (its index in [`StoryArticle::claims`]).
    pub id: usize,
    /// The sentences that state it, best first.
    pub passages: Vec<SourcePassage>,
    /// Independent reports among them (reprints and translations of one report count once).
    pub n_independent: usize,
    /// Source articles among them.
    pub n_reports: usize,
    /// Distinct outlets.
    pub outlets: Vec<String>,
    /// Distinct languages.
    pub languages: Vec<String>,
    /// For a figure that moved (a toll rising over hours): when the stated figure was
    /// reported (its source's publication time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
    /// For a figure that moved: the other figures reported for the same quantity, oldest
    /// first (earlier ones, and newer ones in other languages), each with when and who.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<FigureUpdate>,
}

/// One reported value of a figure that moved, in a claim's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FigureUpdate {
    /// The values it gave for the quantity (digits, separators removed).
    pub values: Vec<String>,
    /// When its source was published.
    pub published: Option<DateTime<Utc>>,
    /// Outlet of the source.
    pub outlet: String,
    /// Language of the source.
    pub lang: String,
    /// Id of the source article.
    pub article_id: String,
    /// The source sentence, verbatim.
    pub sentence: String,
}

/// Claims about the same thing that differ in a number (casualties, dates, amounts…):
/// shown side by side, never smoothed over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Disagreement {
    /// What differs: `"number"` (independent reports give different values for one
    /// quantity at about the same time; only the values in dispute are listed) or
    /// `"quote"` (one remark quoted in different words).
    pub kind: String,
    /// Each side: a claim and the values it gives.
    pub sides: Vec<DisagreementSide>,
}

/// One side of a [`Disagreement`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DisagreementSide {
    /// The claim (an index into [`StoryArticle::claims`]).
    pub claim: usize,
    /// The values this side gives, as written (digits only, separators removed).
    pub values: Vec<String>,
}

/// How widely a story is covered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Coverage {
    /// Source articles.
    pub reports: usize,
    /// Independent reports: reprints of one wire text and translations of one article
    /// count once.
    pub independent: usize,
    /// Distinct outlets.
    pub outlets: usize,
    /// Distinct languages.
    pub languages: Vec<String>,
    /// News agencies credited by the sources (dateline or credit line), with how many
    /// source articles credit each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wire_agencies: Vec<(String, usize)>,
}

/// A synthesised article for one story in one edition language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoryArticle {
    /// The story it describes.
    pub story_id: StoryId,
    /// Edition language it was written for.
    pub lang: String,
    /// Headline.
    pub title: String,
    /// Who is responsible for the text ("chorus" for machine-written articles).
    pub edited_by: String,
    /// When it was written.
    pub written_at: DateTime<Utc>,
    /// Paragraphs, the first being the lead.
    pub paragraphs: Vec<Vec<SynthSentence>>,
    /// True when only one independent report backs the story.
    pub unconfirmed: bool,
    /// Coverage of the story.
    #[serde(default)]
    pub coverage: Coverage,
    /// Claims its sentences state, and those on either side of a disagreement.
    #[serde(default)]
    pub claims: Vec<Claim>,
    /// Where sources disagree.
    #[serde(default)]
    pub disagreements: Vec<Disagreement>,
    /// How a language model was used to write it, when one was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<Generation>,
    /// Its revision number (1 for the first version; 0 before it is stored).
    #[serde(default)]
    pub revision: u32,
}

/// The record of a language model writing an article: which model, what it cost, and
/// every generated sentence that failed verification with the reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Generation {
    /// Backend and model (`openai:model@url`, `llama.cpp:file`).
    pub model: String,
    /// `written` when the article text is the model's (verified), `fallback` when the
    /// extractive text was kept because the model failed or nothing it wrote passed.
    pub status: String,
    /// Why the model's text was not used, for `fallback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Chats sent (the first draft plus regenerations).
    pub requests: u32,
    /// Whether every answer came from the response cache.
    pub cached: bool,
    /// Prompt tokens spent.
    pub prompt_tokens: u64,
    /// Generated tokens spent.
    pub completion_tokens: u64,
    /// Generated sentences kept.
    pub kept: usize,
    /// Generated sentences (and headlines) dropped, with why.
    #[serde(default)]
    pub dropped: Vec<DroppedSentence>,
}

/// A generated sentence that failed verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DroppedSentence {
    /// What the model wrote.
    pub text: String,
    /// Why it was dropped ("number 12 is not in the cited claims", …).
    pub reason: String,
    /// Which draft it came from (1 = first).
    pub draft: u32,
}

/// Detailed view of a story: its summary, the articles behind it and its written articles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoryDetail {
    /// Front-page summary.
    pub summary: StorySummary,
    /// Source articles, oldest first.
    pub sources: Vec<ArticleRecord>,
    /// One article per edition language written so far.
    pub articles: Vec<StoryArticle>,
}

/// What kind of organisation an outlet is (for the coverage panel: state, public,
/// private media and wire agencies weigh differently for readers).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OutletKind {
    /// Controlled by a government.
    State,
    /// Public-service broadcaster or publicly funded, editorially independent.
    Public,
    /// Privately owned.
    #[default]
    Private,
    /// A news agency whose copy other outlets run.
    Wire,
}

impl OutletKind {
    /// The lower-case name used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            OutletKind::State => "state",
            OutletKind::Public => "public",
            OutletKind::Private => "private",
            OutletKind::Wire => "wire",
        }
    }
}

impl std::str::FromStr for OutletKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "state" => Ok(OutletKind::State),
            "public" => Ok(OutletKind::Public),
            "private" => Ok(OutletKind::Private),
            "wire" | "agency" | "wire agency" => Ok(OutletKind::Wire),
            other => Err(format!("unknown outlet type {other:?} (state, public, private or wire)")),
        }
    }
}

/// A news outlet chorus follows, with its feeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outlet {
    /// Display name; unique.
    pub name: String,
    /// Home page.
    pub homepage: String,
    /// ISO 3166-1 alpha-2 country code (upper case).
    pub country: String,
    /// Languages it publishes in (ISO 639-1).
    pub languages: Vec<String>,
    /// State, public, private or wire.
    #[serde(rename = "type")]
    pub kind: OutletKind,
    /// Feed URLs (RSS, Atom or JSON Feed).
    #[serde(default)]
    pub feeds: Vec<String>,
}
