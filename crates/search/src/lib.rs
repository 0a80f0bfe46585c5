//! chorus-search: full-text search across stories and their source articles, in every
//! language, with tantivy.
//!
//! Each text goes into the field of its language, analysed with that language's stemmer
//! (18 languages), a character-bigram analyser for Chinese, Japanese and Korean (which are
//! written without spaces), or a plain lower-casing, accent-folding analyser for the rest.
//! A query is analysed once per field and searched in all of them, so "Gipfeltreffen"
//! finds German articles and "summits" English ones, whichever edition the reader is in.

use chorus_core::{StoryArticle, StoryDetail, StoryId};
use std::sync::Mutex;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TantivyDocument, TextFieldIndexing, TextOptions,
    Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, NgramTokenizer, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term, doc};

/// Errors of the search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy reported an error.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
}

/// Result alias for search calls.
pub type Result<T> = std::result::Result<T, SearchError>;

/// Languages with a stemmer: ISO 639-1 code and tantivy's language.
const STEMMED: [(&str, Language); 18] = [
    ("ar", Language::Arabic),
    ("da", Language::Danish),
    ("de", Language::German),
    ("el", Language::Greek),
    ("en", Language::English),
    ("es", Language::Spanish),
    ("fi", Language::Finnish),
    ("fr", Language::French),
    ("hu", Language::Hungarian),
    ("it", Language::Italian),
    ("nl", Language::Dutch),
    ("no", Language::Norwegian),
    ("pt", Language::Portuguese),
    ("ro", Language::Romanian),
    ("ru", Language::Russian),
    ("sv", Language::Swedish),
    ("ta", Language::Tamil),
    ("tr", Language::Turkish),
];
/// Languages written without spaces between words.
const CJK: [&str; 3] = ["zh", "ja", "ko"];

/// What a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    /// A written article of a story (one edition).
    Story,
    /// A source article.
    Article,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Hit {
    /// Story or source article.
    pub kind: HitKind,
    /// The story it belongs to.
    pub story_id: StoryId,
    /// Its language (the edition for a story).
    pub lang: String,
    /// Headline.
    pub title: String,
    /// The outlet (source articles) or `chorus` (stories).
    pub outlet: String,
    /// The source's address (source articles only).
    pub url: String,
    /// The opening of its text.
    pub excerpt: String,
    /// BM25 score.
    pub score: f32,
}

struct Fields {
    kind: Field,
    story_id: Field,
    lang: Field,
    title: Field,
    outlet: Field,
    url: Field,
    excerpt: Field,
    /// Text fields: (language code or "" for the fallback, field).
    text: Vec<(String, Field)>,
}

/// A search index over stories and their sources.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
}

fn analyser_name(lang: &str) -> String {
    if lang.is_empty() { "chorus_other".into() } else { format!("chorus_{lang}") }
}

fn text_field(lang: &str) -> String {
    if lang.is_empty() { "text_other".into() } else { format!("text_{lang}") }
}

const EXCERPT_CHARS: usize = 240;

fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(EXCERPT_CHARS) {
        Some((i, _)) => format!("{}…", t[..i].trim_end()),
        None => t.to_string(),
    }
}

impl SearchIndex {
    /// An empty index in memory; `heap_bytes` bounds the writer's memory (≥ 15 MB).
    pub fn in_memory(heap_bytes: usize) -> Result<SearchIndex> {
        let mut schema = Schema::builder();
        let kind = schema.add_text_field("kind", STRING | STORED);
        let story_id = schema.add_i64_field("story_id", INDEXED | STORED | FAST);
        let lang = schema.add_text_field("lang", STRING | STORED);
        let title = schema.add_text_field("title", STORED);
        let outlet = schema.add_text_field("outlet", STORED);
        let url = schema.add_text_field("url", STORED);
        let excerpt = schema.add_text_field("excerpt", STORED);
        let langs: Vec<String> = STEMMED
            .iter()
            .map(|(l, _)| l.to_string())
            .chain(CJK.iter().map(|l| l.to_string()))
            .chain([String::new()])
            .collect();
        let text = langs
            .iter()
            .map(|l| {
                let indexing = TextFieldIndexing::default()
                    .set_tokenizer(&analyser_name(l))
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions);
                (
                    l.clone(),
                    schema.add_text_field(&text_field(l), TextOptions::default().set_indexing_options(indexing)),
                )
            })
            .collect();
        let index = Index::create_in_ram(schema.build());
        let tokenizers = index.tokenizers();
        for (l, language) in STEMMED {
            tokenizers.register(
                &analyser_name(l),
                TextAnalyzer::builder(SimpleTokenizer::default())
                    .filter(RemoveLongFilter::limit(40))
                    .filter(LowerCaser)
                    .filter(Stemmer::new(language))
                    .build(),
            );
        }
        for l in CJK {
            let bigrams = NgramTokenizer::new(1, 2, false).map_err(SearchError::Index)?;
            tokenizers.register(&analyser_name(l), TextAnalyzer::builder(bigrams).filter(LowerCaser).build());
        }
        tokenizers.register(
            &analyser_name(""),
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(40))
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .build(),
        );
        let writer = index.writer(heap_bytes.max(15_000_000))?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields: Fields { kind, story_id, lang, title, outlet, url, excerpt, text },
        })
    }

    fn field_for(&self, lang: &str) -> Field {
        let f = &self.fields.text;
        f.iter()
            .find(|(l, _)| l == lang)
            .or_else(|| f.iter().find(|(l, _)| l.is_empty()))
            .map(|(_, f)| *f)
            .unwrap_or(f[0].1)
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces everything indexed for these stories with their current articles and
    /// sources, then makes the change visible to searches.
    pub fn index_stories(&self, stories: &[StoryDetail]) -> Result<()> {
        let f = &self.fields;
        let mut writer = self.writer();
        for d in stories {
            writer.delete_term(Term::from_field_i64(f.story_id, d.summary.id));
            for a in &d.articles {
                let body = article_text(a);
                writer.add_document(doc!(
                    f.kind => "story",
                    f.story_id => d.summary.id,
                    f.lang => a.lang.clone(),
                    f.title => a.title.clone(),
                    f.outlet => "chorus",
                    f.url => "",
                    f.excerpt => excerpt(&body),
                    self.field_for(&a.lang) => format!("{}\n{}", a.title, body),
                ))?;
            }
            for r in &d.sources {
                let a = &r.article;
                writer.add_document(doc!(
                    f.kind => "article",
                    f.story_id => d.summary.id,
                    f.lang => a.lang.clone(),
                    f.title => a.title.clone(),
                    f.outlet => a.outlet.clone(),
                    f.url => a.url.clone(),
                    f.excerpt => excerpt(&a.text),
                    self.field_for(&a.lang) => format!("{}\n{}", a.title, a.text),
                ))?;
            }
        }
        writer.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// Removes stories from the index.
    pub fn remove_stories(&self, ids: &[StoryId]) -> Result<()> {
        let mut writer = self.writer();
        for id in ids {
            writer.delete_term(Term::from_field_i64(self.fields.story_id, *id));
        }
        writer.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// The best `limit` hits for `query` in any language; with `lang`, only hits in that
    /// language. Query syntax errors are forgiven (the words still count).
    pub fn search(&self, query: &str, lang: Option<&str>, limit: usize) -> Result<Vec<Hit>> {
        let f = &self.fields;
        let fields: Vec<Field> = f.text.iter().map(|(_, f)| *f).collect();
        let parser = QueryParser::for_index(&self.index, fields);
        let (q, _errors) = parser.parse_query_lenient(query);
        let q: Box<dyn tantivy::query::Query> = match lang.filter(|l| !l.is_empty()) {
            Some(l) => Box::new(tantivy::query::BooleanQuery::new(vec![
                (tantivy::query::Occur::Must, q),
                (
                    tantivy::query::Occur::Must,
                    Box::new(tantivy::query::TermQuery::new(
                        Term::from_field_text(f.lang, l),
                        IndexRecordOption::Basic,
                    )),
                ),
            ])),
            None => q,
        };
        let searcher = self.reader.searcher();
        let top = searcher.search(&q, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let d: TantivyDocument = searcher.doc(address)?;
            let text = |field: Field| d.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            hits.push(Hit {
                kind: if text(f.kind) == "story" { HitKind::Story } else { HitKind::Article },
                story_id: d.get_first(f.story_id).and_then(|v| v.as_i64()).unwrap_or_default(),
                lang: text(f.lang),
                title: text(f.title),
                outlet: text(f.outlet),
                url: text(f.url),
                excerpt: text(f.excerpt),
                score,
            });
        }
        Ok(hits)
    }

    /// Documents indexed (written articles and sources).
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A written article as plain text, paragraph by paragraph.
pub fn article_text(a: &StoryArticle) -> String {
    a.paragraphs
        .iter()
        .map(|p| p.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::{Article, ArticleRecord, StorySummary};

    fn story(id: StoryId, sources: &[(&str, &str, &str)]) -> StoryDetail {
        StoryDetail {
            summary: StorySummary {
                id,
                title: String::new(),
                titles: Default::default(),
                languages: vec![],
                n_sources: sources.len(),
                n_independent: sources.len(),
                n_outlets: sources.len(),
                first_published: None,
                last_published: None,
                updated: None,
            },
            sources: sources
                .iter()
                .enumerate()
                .map(|(i, (lang, title, text))| ArticleRecord {
                    article: Article {
                        id: format!("{id}-{i}"),
                        url: format!("https://example.org/{id}/{i}"),
                        outlet: format!("Outlet {i}"),
                        lang: lang.to_string(),
                        lang_detected: false,
                        published: None,
                        title: title.to_string(),
                        text: text.to_string(),
                        authors: Vec::new(),
                    },
                    duplicate_of: None,
                    story_id: Some(id),
                })
                .collect(),
            articles: vec![],
        }
    }

    #[test]
    fn finds_inflected_words_in_each_language_and_filters_by_language() {
        let idx = SearchIndex::in_memory(15_000_000).unwrap();
        idx.index_stories(&[
            story(1, &[("de", "Gipfeltreffen in Paris", "Die Staats- und Regierungschefs trafen sich zu Gesprächen.")]),
            story(2, &[("en", "Leaders meet at summits", "The leaders were meeting in Paris on Tuesday.")]),
            story(3, &[("zh", "巴黎峰会", "欧洲领导人在巴黎举行会议。")]),
            story(4, &[("fr", "Les négociations continuent", "Les dirigeants négocient à Bruxelles.")]),
        ])
        .unwrap();
        assert_eq!(idx.len(), 4);
        let ids = |q: &str, l: Option<&str>| -> Vec<StoryId> {
            idx.search(q, l, 10).unwrap().into_iter().map(|h| h.story_id).collect()
        };
        assert_eq!(ids("summit", None), vec![2], "English stemming: summits → summit");
        assert_eq!(ids("Gesprächen", None), vec![1]);
        assert_eq!(ids("gespräch", None), vec![1], "German stemming");
        assert_eq!(ids("峰会", None), vec![3], "Chinese bigrams");
        assert_eq!(ids("négociation", None), vec![4], "French stemming");
        let both = ids("Paris", None);
        assert!(both.contains(&1) && both.contains(&2), "{both:?}");
        assert_eq!(ids("Paris", Some("de")), vec![1]);
        assert!(ids("AND OR (", None).is_empty(), "bad syntax forgiven");
        // Re-indexing a story replaces it.
        idx.index_stories(&[story(2, &[("en", "Talks end", "Nothing more.")])]).unwrap();
        assert!(ids("summit", None).is_empty());
        idx.remove_stories(&[1]).unwrap();
        assert!(ids("Gesprächen", None).is_empty());
    }
}
