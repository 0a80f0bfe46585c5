//! The reader's pages: front page, story page, error reports, revision history, search.

use crate::i18n::{EDITIONS, Ui};
use crate::views::{ViewDecision, is_bot};
use crate::{
    AppState, Client, PAGE_SIZE, WebError, accept_language, blocking, edition_for, preferred_languages, render,
};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chorus_core::{Outlet, StoryArticle, StoryDetail, StoryId, StorySummary};
use chorus_store::{NewReport, REPORT_KINDS, Report, RevisionInfo};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Query parameters the reader's pages take.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    /// Preferred language (edition).
    pub lang: Option<String>,
    /// Front-page page number.
    pub page: Option<usize>,
    /// Search words.
    pub q: Option<String>,
    /// A report id to look up.
    pub id: Option<String>,
}

/// A link to the same page in another edition.
pub(crate) struct EditionSwitch {
    pub lang: &'static str,
    pub name: &'static str,
    pub current: bool,
}

pub(crate) fn switches(ui: &Ui) -> Vec<EditionSwitch> {
    EDITIONS.iter().map(|u| EditionSwitch { lang: u.lang, name: u.name, current: u.lang == ui.lang }).collect()
}

pub(crate) fn date(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

fn date_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

// ---------------------------------------------------------------- front page

/// Ranking score of a story: independent sources, discounted by age in days relative to
/// the newest story (so an archive ranks like the live site did on its last day).
pub fn rank_score(s: &StorySummary, newest: DateTime<Utc>) -> f64 {
    let at = s.last_published.or(s.updated).unwrap_or(newest);
    let age_days = (newest - at).num_minutes().max(0) as f64 / 1440.0;
    s.n_independent as f64 / (1.0 + age_days).powf(0.8)
}

/// Stories in front-page order.
pub fn ranked(all: &[StorySummary], now: DateTime<Utc>) -> Vec<&StorySummary> {
    let newest = all.iter().filter_map(|s| s.last_published.or(s.updated)).max().map_or(now, |t| t.min(now));
    let mut v: Vec<(&StorySummary, f64)> = all.iter().map(|s| (s, rank_score(s, newest))).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.last_published.cmp(&a.0.last_published)).then(a.0.id.cmp(&b.0.id)));
    v.into_iter().map(|(s, _)| s).collect()
}

struct StoryRow {
    id: StoryId,
    title: String,
    title_lang: String,
    languages: String,
    n_sources: usize,
    n_independent: usize,
    n_outlets: usize,
    date: String,
    unconfirmed: bool,
}

#[derive(Template)]
#[template(path = "index.html")]
struct FrontPage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
    total: usize,
    stories: Vec<StoryRow>,
    prev_page: Option<usize>,
    next_page: Option<usize>,
}

/// The title of a story in the reader's languages, then English, then its best-covered
/// edition's, with its language.
fn title_for(s: &StorySummary, wanted: &[String]) -> (String, String) {
    wanted
        .iter()
        .map(String::as_str)
        .chain(["en"])
        .find_map(|l| s.titles.get(l).map(|t| (t.clone(), l.to_string())))
        .unwrap_or_else(|| (s.title.clone(), s.languages.first().cloned().unwrap_or_default()))
}

/// `GET /`: the edition's front page.
pub async fn front_page(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let ui = edition_for(q.lang.as_deref(), accept_language(&headers));
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let key = format!("front:{}:{page}", ui.lang);
    let html = state.cached_page(key, move |state| async move { render_front(&state, ui, page).await }).await?;
    Ok(html_response(html))
}

async fn render_front(state: &AppState, ui: &'static Ui, page: usize) -> Result<Arc<str>, WebError> {
    let all = state.summaries().await?;
    let order = ranked(&all, Utc::now());
    let wanted = vec![ui.lang.to_string()];
    let stories = order
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|s| {
            let (title, title_lang) = title_for(s, &wanted);
            StoryRow {
                id: s.id,
                title,
                title_lang,
                languages: s.languages.join(", "),
                n_sources: s.n_sources,
                n_independent: s.n_independent,
                n_outlets: s.n_outlets,
                date: date(s.last_published),
                unconfirmed: s.n_independent <= 1,
            }
        })
        .collect();
    Ok(render(FrontPage {
        ui,
        page_lang: ui.lang.into(),
        switch_path: "/".into(),
        editions: switches(ui),
        total: all.len(),
        stories,
        prev_page: (page > 1).then(|| page - 1),
        next_page: (page * PAGE_SIZE < all.len()).then_some(page + 1),
    })?
    .0
    .into())
}

fn html_response(html: Arc<str>) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html.to_string()).into_response()
}

// ---------------------------------------------------------------- story page

/// Picks the edition to show: the reader's languages in order, then English, then the
/// story's best-covered language. Each edition is in one language, so a reader never gets
/// a mix: without their language they get one whole article in the next.
pub fn choose_edition<'a>(
    articles: &'a [StoryArticle],
    summary: &StorySummary,
    preferred: &[String],
) -> Option<&'a StoryArticle> {
    let by_lang = |l: &str| articles.iter().find(|a| a.lang.eq_ignore_ascii_case(l));
    let english = ["en".to_string()];
    preferred
        .iter()
        .chain(english.iter())
        .chain(summary.languages.iter())
        .find_map(|l| by_lang(l))
        .or_else(|| articles.first())
}

struct PassageView {
    n: usize,
    outlet: String,
    lang: String,
    sentence: String,
    url: String,
    /// The writing model's translation into the edition's language (machine-translated).
    translation: String,
}

struct SentenceView {
    text: String,
    lang: String,
    /// For a figure that moved: when the stated figure was reported.
    as_of: String,
    /// For a figure that moved: the other figures, "value — outlet (lang), date".
    history: Vec<String>,
    passages: Vec<PassageView>,
    disputed: bool,
    single_source: bool,
    generated: bool,
    edited: bool,
    translated_quote: bool,
}

struct SideView {
    values: String,
    outlet: String,
    lang: String,
    sentence: String,
    n: Option<usize>,
}

struct SourceView {
    n: usize,
    lang: String,
    title: String,
    url: String,
    date: String,
    duplicate_of: Option<usize>,
}

struct OutletGroup {
    name: String,
    country: String,
    kind: String,
    homepage: String,
    articles: Vec<SourceView>,
}

struct TimelineItem {
    id: StoryId,
    title: String,
    /// Language of the title.
    lang: String,
    date: String,
    n_independent: usize,
    current: bool,
}

struct ArticleEdition {
    lang: String,
    current: bool,
}

struct Count {
    label: String,
    n: usize,
}

/// The coverage panel: who covered the story, by language, country and outlet type.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CoverageBreakdown {
    /// Source articles per language, most first.
    pub languages: Vec<(String, usize)>,
    /// Outlets per country (ISO code, `??` when the outlet is not in the registry).
    pub countries: Vec<(String, usize)>,
    /// Outlets per type (state, public, private, wire; `unknown` when not in the registry).
    pub outlet_types: Vec<(String, usize)>,
    /// Independent reports.
    pub independent: usize,
    /// Source articles that reprint, copy a wire or translate another.
    pub reprints: usize,
}

fn counted(it: impl Iterator<Item = String>) -> Vec<(String, usize)> {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for k in it {
        *m.entry(k).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = m.into_iter().collect();
    // Most first; outlets missing from the registry last.
    let unknown = |k: &str| k == "??" || k == "unknown";
    v.sort_by(|a, b| unknown(&a.0).cmp(&unknown(&b.0)).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
    v
}

/// Independent reports behind a story: synthesis' count for the edition (it also folds
/// translations of one report), else the store's, never more than the sources.
pub fn independent_reports(detail: &StoryDetail, edition: Option<&StoryArticle>) -> usize {
    edition
        .map(|a| a.coverage.independent)
        .filter(|&n| n > 0)
        .unwrap_or(detail.summary.n_independent)
        .min(detail.sources.len())
}

/// The coverage breakdown of a story from its sources and the outlet registry.
pub fn coverage_breakdown(detail: &StoryDetail, independent: usize, registry: &[Outlet]) -> CoverageBreakdown {
    let by_name: HashMap<&str, &Outlet> = registry.iter().map(|o| (o.name.as_str(), o)).collect();
    let outlets: std::collections::BTreeSet<&str> = detail.sources.iter().map(|r| r.article.outlet.as_str()).collect();
    CoverageBreakdown {
        languages: counted(detail.sources.iter().map(|r| r.article.lang.clone())),
        countries: counted(outlets.iter().map(|o| by_name.get(o).map_or("??".into(), |x| x.country.clone()))),
        outlet_types: counted(
            outlets.iter().map(|o| by_name.get(o).map_or("unknown".into(), |x| x.kind.as_str().to_string())),
        ),
        independent,
        reprints: detail.sources.len().saturating_sub(independent),
    }
}

#[derive(Template)]
#[template(path = "story.html")]
struct StoryPage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
    id: StoryId,
    lang: String,
    title: String,
    edited_by: String,
    revision: u32,
    written_iso: String,
    written_human: String,
    unconfirmed: bool,
    no_edition_notice: bool,
    n_sources: usize,
    n_independent: usize,
    n_reprints: usize,
    n_outlets: usize,
    wire: String,
    article_editions: Vec<ArticleEdition>,
    paragraphs: Vec<Vec<SentenceView>>,
    /// Index of the first paragraph of the closing "not yet confirmed" part (the trailing
    /// paragraphs whose every sentence has one source); the paragraph count when none.
    unconfirmed_from: usize,
    disagreements: Vec<Vec<SideView>>,
    languages: Vec<Count>,
    countries: Vec<Count>,
    outlet_types: Vec<Count>,
    outlets: Vec<OutletGroup>,
    timeline: Vec<TimelineItem>,
    /// Earlier stories of the timeline written in this edition's language.
    background: Vec<TimelineItem>,
    form_token: String,
    report_kinds: Vec<(&'static str, &'static str)>,
}

/// Placeholder for the view count in a cached story page.
const VIEWS_SLOT: &str = "<span class=\"views\">@@VIEWS@@</span>";

/// Everything a story page shows, loaded in one blocking call.
pub(crate) struct StoryData {
    pub detail: StoryDetail,
    pub registry: Vec<Outlet>,
    pub related: Vec<(StoryId, f32)>,
}

/// A story's summary, sources and written articles (without what only its page shows).
pub(crate) async fn load_detail(state: &AppState, id: StoryId) -> Result<StoryDetail, WebError> {
    blocking(state, move |s| s.story_detail(id)).await?.ok_or(WebError::NotFound)
}

pub(crate) async fn load_story(state: &AppState, id: StoryId) -> Result<StoryData, WebError> {
    blocking(state, move |s| {
        let Some(detail) = s.story_detail(id)? else { return Ok(None) };
        Ok(Some(StoryData { detail, registry: s.outlets()?, related: s.related(id)? }))
    })
    .await?
    .ok_or(WebError::NotFound)
}

fn story_view(
    data: &StoryData,
    summaries: &[StorySummary],
    ui: &'static Ui,
    preferred: &[String],
    form_token: String,
) -> StoryPage {
    let StoryDetail { summary, sources, articles } = &data.detail;
    let number: HashMap<&str, usize> =
        sources.iter().enumerate().map(|(i, r)| (r.article.id.as_str(), i + 1)).collect();
    let url_of: HashMap<&str, String> =
        sources.iter().map(|r| (r.article.id.as_str(), crate::safe_url(&r.article.url))).collect();
    let chosen = choose_edition(articles, summary, preferred);
    let passage = |p: &chorus_core::SourcePassage| -> Option<PassageView> {
        Some(PassageView {
            n: *number.get(p.article_id.as_str())?,
            outlet: p.outlet.clone(),
            lang: p.lang.clone(),
            sentence: p.sentence.clone(),
            url: url_of.get(p.article_id.as_str()).cloned().unwrap_or_default(),
            translation: p.translation.clone().unwrap_or_default(),
        })
    };
    fn claim_of<'a>(a: &'a StoryArticle, s: &chorus_core::SynthSentence) -> Option<&'a chorus_core::Claim> {
        s.claim.and_then(|c| a.claims.get(c))
    }
    let paragraphs: Vec<Vec<SentenceView>> = chosen
        .map(|a| {
            a.paragraphs
                .iter()
                .map(|p| {
                    p.iter()
                        .map(|s| SentenceView {
                            text: s.text.clone(),
                            lang: s.lang.clone(),
                            as_of: claim_of(a, s).and_then(|c| c.as_of).map(|t| date(Some(t))).unwrap_or_default(),
                            history: claim_of(a, s)
                                .map(|c| {
                                    c.history
                                        .iter()
                                        .map(|h| {
                                            let when = date(h.published);
                                            let when =
                                                if when.is_empty() { String::new() } else { format!(", {when}") };
                                            format!("{} — {} ({}{when})", h.values.join(", "), h.outlet, h.lang)
                                        })
                                        .collect()
                                })
                                .unwrap_or_default(),
                            disputed: s.disputed,
                            single_source: s.n_independent <= 1 && !a.unconfirmed && !s.sources.is_empty(),
                            generated: s.generated,
                            edited: s.edited,
                            translated_quote: s.translated_quote,
                            passages: s.sources.iter().filter_map(passage).collect(),
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let disagreements: Vec<Vec<SideView>> = chosen
        .map(|a| {
            a.disagreements
                .iter()
                .map(|d| {
                    d.sides
                        .iter()
                        .filter_map(|side| {
                            // The passage that carries this side's wording, else the claim's first.
                            let passages = &a.claims.get(side.claim)?.passages;
                            let p = passages
                                .iter()
                                .find(|p| side.values.iter().all(|v| p.sentence.contains(v.as_str())))
                                .or(passages.first())?;
                            Some(SideView {
                                values: side.values.join(", "),
                                outlet: p.outlet.clone(),
                                lang: p.lang.clone(),
                                sentence: p.sentence.clone(),
                                n: number.get(p.article_id.as_str()).copied(),
                            })
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let independent = independent_reports(&data.detail, chosen);
    let coverage = coverage_breakdown(&data.detail, independent, &data.registry);
    let registry: HashMap<&str, &Outlet> = data.registry.iter().map(|o| (o.name.as_str(), o)).collect();
    let mut outlets: Vec<OutletGroup> = Vec::new();
    for (i, r) in sources.iter().enumerate() {
        let view = SourceView {
            n: i + 1,
            lang: r.article.lang.clone(),
            title: if r.article.title.is_empty() { "—".into() } else { r.article.title.clone() },
            url: crate::safe_url(&r.article.url),
            date: date(r.article.published),
            duplicate_of: r.duplicate_of.as_deref().and_then(|d| number.get(d).copied()),
        };
        match outlets.iter_mut().find(|g| g.name == r.article.outlet) {
            Some(g) => g.articles.push(view),
            None => {
                let known = registry.get(r.article.outlet.as_str());
                outlets.push(OutletGroup {
                    name: r.article.outlet.clone(),
                    country: known.map(|o| o.country.clone()).unwrap_or_default(),
                    kind: known.map(|o| ui.outlet_kind(o.kind.as_str()).to_string()).unwrap_or_default(),
                    homepage: known.map(|o| crate::safe_url(&o.homepage)).unwrap_or_default(),
                    articles: vec![view],
                })
            }
        }
    }
    outlets.sort_by(|a, b| b.articles.len().cmp(&a.articles.len()).then(a.name.cmp(&b.name)));
    let by_id: HashMap<StoryId, &StorySummary> = summaries.iter().map(|s| (s.id, s)).collect();
    let mut timeline: Vec<TimelineItem> = data
        .related
        .iter()
        .filter_map(|(id, _)| by_id.get(id))
        .chain(by_id.get(&summary.id))
        .map(|s| {
            let (title, lang) = title_for(s, preferred);
            TimelineItem {
                id: s.id,
                title,
                lang,
                date: date(s.first_published),
                n_independent: s.n_independent,
                current: s.id == summary.id,
            }
        })
        .collect();
    timeline.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
    if timeline.len() < 2 {
        timeline.clear();
    }
    let current = chosen.map(|a| a.lang.clone()).unwrap_or_default();
    // Background: the earlier stories of the timeline whose article exists in this
    // edition's language (so the article stays in one language), newest first, at most 3.
    let mut background: Vec<TimelineItem> = data
        .related
        .iter()
        .filter_map(|(id, _)| by_id.get(id))
        .filter(|s| s.first_published.is_some() && s.first_published < summary.first_published)
        .filter_map(|s| {
            Some(TimelineItem {
                id: s.id,
                title: s.titles.get(&current)?.clone(),
                lang: current.clone(),
                date: date(s.first_published),
                n_independent: s.n_independent,
                current: false,
            })
        })
        .collect();
    background.sort_by(|a, b| b.date.cmp(&a.date).then(a.id.cmp(&b.id)));
    background.truncate(3);
    let label_counts = |v: &[(String, usize)], f: &dyn Fn(&str) -> String| {
        v.iter().map(|(k, n)| Count { label: f(k), n: *n }).collect()
    };
    StoryPage {
        ui,
        page_lang: if current.is_empty() { ui.lang.into() } else { current.clone() },
        switch_path: format!("/stories/{}", summary.id),
        editions: switches(ui),
        id: summary.id,
        lang: current.clone(),
        title: chosen.map(|a| a.title.clone()).unwrap_or_else(|| summary.title.clone()),
        edited_by: chosen.map(|a| a.edited_by.clone()).unwrap_or_else(|| "chorus".into()),
        revision: chosen.map(|a| a.revision.max(1)).unwrap_or(0),
        written_iso: chosen.map(|a| a.written_at.to_rfc3339()).unwrap_or_default(),
        written_human: chosen.map(|a| date_time(&a.written_at)).unwrap_or_default(),
        unconfirmed: chosen.map(|a| a.unconfirmed).unwrap_or(summary.n_independent <= 1),
        no_edition_notice: !current.is_empty() && current != ui.lang,
        n_sources: sources.len(),
        n_independent: independent,
        n_reprints: coverage.reprints,
        n_outlets: summary.n_outlets,
        wire: chosen
            .map(|a| {
                a.coverage.wire_agencies.iter().map(|(name, n)| format!("{name} ({n})")).collect::<Vec<_>>().join(", ")
            })
            .unwrap_or_default(),
        article_editions: articles
            .iter()
            .map(|a| ArticleEdition { lang: a.lang.clone(), current: a.lang == current })
            .collect(),
        unconfirmed_from: {
            let trailing = paragraphs.iter().rev().take_while(|p| p.iter().all(|s| s.single_source)).count();
            // The lead is never the "not yet confirmed" part.
            if trailing > 0 && trailing < paragraphs.len() { paragraphs.len() - trailing } else { paragraphs.len() }
        },
        paragraphs,
        disagreements,
        languages: label_counts(&coverage.languages, &|k| k.to_string()),
        countries: label_counts(&coverage.countries, &|k| {
            if k == "??" { ui.unknown.to_string() } else { k.to_string() }
        }),
        outlet_types: label_counts(&coverage.outlet_types, &|k| ui.outlet_kind(k).to_string()),
        outlets,
        timeline,
        background,
        form_token,
        report_kinds: REPORT_KINDS.iter().map(|k| (*k, ui.report_kind(k))).collect(),
    }
}

/// `GET /stories/{id}`: a story in the reader's edition.
pub async fn story_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    client: Client,
) -> Result<Response, WebError> {
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    let accept = accept_language(&headers);
    let ui = edition_for(q.lang.as_deref(), accept);
    let mut preferred = preferred_languages(q.lang.as_deref(), accept);
    preferred.truncate(6);
    if !preferred.iter().any(|l| l == ui.lang) {
        preferred.push(ui.lang.to_string());
    }
    let key = format!("story:{id}:{}:{}", ui.lang, preferred.join(","));
    let html = state
        .cached_page(key, move |state| async move {
            let data = load_story(&state, id).await?;
            let summaries = state.summaries().await?;
            let token = state.forms.token(&format!("report:{id}"), Utc::now().timestamp());
            Ok(render(story_view(&data, &summaries, ui, &preferred, token))?.0.into())
        })
        .await?;
    let views = count_view(&state, id, &client).await?;
    let word = if views == 1 { ui.view_one } else { ui.views };
    Ok(with_views(html, format!("<span class=\"views\">{views}</span> {word}")))
}

/// The cached page as the response, its views slot filled, without copying the page: the
/// parts before and after the slot are slices of the cached text, sent with the count
/// between them (a page is 10–150 KB; copying it for every request cost a tenth of the
/// throughput under load).
fn with_views(html: Arc<str>, views: String) -> Response {
    struct Page(Arc<str>);
    impl AsRef<[u8]> for Page {
        fn as_ref(&self) -> &[u8] {
            self.0.as_bytes()
        }
    }
    let at = memchr::memmem::find(html.as_bytes(), VIEWS_SLOT.as_bytes());
    let all = axum::body::Bytes::from_owner(Page(html));
    let parts = match at {
        Some(at) => vec![all.slice(..at), axum::body::Bytes::from(views), all.slice(at + VIEWS_SLOT.len()..)],
        None => vec![all],
    };
    let length: usize = parts.iter().map(|p| p.len()).sum();
    let body = axum::body::Body::from_stream(futures_util::stream::iter(
        parts.into_iter().map(Ok::<_, std::convert::Infallible>),
    ));
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()), (header::CONTENT_LENGTH, length.to_string())],
        body,
    )
        .into_response()
}

/// A story's views, from memory once read from the store.
pub(crate) async fn view_total(state: &AppState, id: StoryId) -> Result<u64, WebError> {
    if let Some(n) = state.views.cached(id) {
        return Ok(n);
    }
    let n = blocking(state, move |s| s.story_views(id)).await?;
    state.views.set(id, n);
    Ok(n)
}

/// Counts this request as a view when it is one, and returns the story's views.
pub(crate) async fn count_view(state: &AppState, id: StoryId, client: &Client) -> Result<u64, WebError> {
    let total = view_total(state, id).await?;
    if is_bot(Some(&client.user_agent), client.prefetch) {
        return Ok(total);
    }
    let today = Utc::now().date_naive();
    let decision = state.views.decide(id, &today.to_string(), &client.address, &client.user_agent);
    let ViewDecision::Record { day, visitor } = decision else { return Ok(total) };
    // Stored in the next batch (`keep_views_flushed`), not on the request path.
    crate::metrics::SiteCounters::bump(&state.counters.views);
    Ok(state.views.queue(id, day, visitor, total))
}

// ---------------------------------------------------------------- reports

/// The error-report form.
#[derive(Debug, serde::Deserialize)]
pub struct ReportForm {
    /// One of the report kinds.
    pub kind: String,
    /// What is wrong.
    pub body: String,
    /// A source showing it.
    #[serde(default)]
    pub source_url: String,
    /// The edition being read.
    #[serde(default)]
    pub lang: String,
    /// The signed form token.
    #[serde(default)]
    pub token: String,
}

/// Longest report text accepted, in characters.
pub const MAX_REPORT_CHARS: usize = 5_000;

/// Checks a report's fields; the error says which field is wrong.
pub fn validate_report(kind: &str, body: &str, source_url: &str, lang: &str) -> Result<(), String> {
    if !REPORT_KINDS.contains(&kind) {
        return Err(format!("kind must be one of {}", REPORT_KINDS.join(", ")));
    }
    // The API's schema states these rules exactly (`pattern`, `maxLength`), so only the
    // blanks a regex engine agrees on are set aside, and the length is the text's own.
    if body.trim_matches([' ', '\t', '\n', '\r']).chars().count() < 3 {
        return Err("please say what is wrong".into());
    }
    let n = body.chars().count();
    if n > MAX_REPORT_CHARS {
        return Err(format!("the text is {n} characters; at most {MAX_REPORT_CHARS}"));
    }
    let url = source_url.trim();
    if !url.is_empty() && (url.len() > 2_000 || !SOURCE_URL.is_match(url)) {
        return Err("the source must be an http(s) address".into());
    }
    if lang.len() > 8 || !lang.chars().all(|c| c.is_ascii_alphabetic() || c == '-') {
        return Err("bad language".into());
    }
    Ok(())
}

/// [`crate::api::SOURCE_URL_PATTERN`], compiled once.
static SOURCE_URL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(crate::api::SOURCE_URL_PATTERN).expect("SOURCE_URL_PATTERN compiles")
});

/// Files a report after its checks; returns its id.
pub(crate) async fn store_report(
    state: &AppState,
    client: &Client,
    story: StoryId,
    kind: &str,
    body: &str,
    source_url: &str,
    lang: &str,
) -> Result<String, WebError> {
    validate_report(kind, body, source_url, lang).map_err(WebError::BadRequest)?;
    if !state.limits.reports.allow(&client.address) {
        crate::metrics::SiteCounters::bump(&state.counters.rate_limited);
        return Err(WebError::TooMany);
    }
    let exists = blocking(state, move |s| Ok(s.story_detail(story)?.is_some())).await?;
    if !exists {
        return Err(WebError::NotFound);
    }
    let id = crate::security::report_id().map_err(|e| WebError::Internal(e.to_string()))?;
    let report = NewReport {
        id: id.clone(),
        story_id: story,
        lang: lang.to_ascii_lowercase(),
        kind: kind.to_string(),
        body: body.trim().replace('\0', ""),
        source_url: Some(source_url.trim().to_string()).filter(|u| !u.is_empty()),
        created_at: Utc::now(),
    };
    blocking(state, move |s| s.add_report(&report)).await?;
    crate::metrics::SiteCounters::bump(&state.counters.reports);
    Ok(id)
}

/// `POST /stories/{id}/reports`: files an error report and shows its number.
pub async fn file_report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: Client,
    Form(f): Form<ReportForm>,
) -> Result<Response, WebError> {
    let story: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    if !state.forms.check(&format!("report:{story}"), &f.token, Utc::now().timestamp()) {
        return Err(WebError::BadRequest("the form has expired; please reload the page".into()));
    }
    let rid = store_report(&state, &client, story, &f.kind, &f.body, &f.source_url, &f.lang).await?;
    Ok(Redirect::to(&format!("/reports/{rid}?lang={}&new=1", crate::i18n::ui(&f.lang).lang)).into_response())
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
    report: Report,
    status: &'static str,
    kind: &'static str,
    created: String,
    resolved: String,
    is_new: bool,
    story_title: String,
}

/// `GET /reports/{rid}`: a report's status.
pub async fn report_page(
    State(state): State<AppState>,
    Path(rid): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let ui = edition_for(q.get("lang").map(String::as_str), accept_language(&headers));
    let rid_lookup = rid.trim().to_ascii_lowercase();
    let report = blocking(&state, move |s| s.report(&rid_lookup)).await?.ok_or(WebError::NotFound)?;
    let story = report.story_id;
    let story_title = state
        .summaries()
        .await?
        .iter()
        .find(|s| s.id == story)
        .map(|s| title_for(s, &[ui.lang.to_string()]).0)
        .unwrap_or_default();
    render(ReportPage {
        ui,
        page_lang: ui.lang.into(),
        switch_path: format!("/reports/{}", report.id),
        editions: switches(ui),
        status: ui.status_word(&report.status),
        kind: ui.report_kind(&report.kind),
        created: date_time(&report.created_at),
        resolved: report.resolved_at.as_ref().map(date_time).unwrap_or_default(),
        is_new: q.contains_key("new"),
        story_title,
        report,
    })
}

#[derive(Template)]
#[template(path = "report_lookup.html")]
struct ReportLookupPage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
}

/// `GET /reports?id=…`: the look-up form, and its target.
pub async fn report_lookup(Query(q): Query<PageQuery>, headers: HeaderMap) -> Result<Response, WebError> {
    let ui = edition_for(q.lang.as_deref(), accept_language(&headers));
    let id: String = q.id.unwrap_or_default().trim().chars().filter(|c| c.is_ascii_alphanumeric()).take(32).collect();
    if id.is_empty() {
        let page =
            ReportLookupPage { ui, page_lang: ui.lang.into(), switch_path: "/reports".into(), editions: switches(ui) };
        return Ok(render(page)?.into_response());
    }
    Ok(Redirect::to(&format!("/reports/{}?lang={}", id.to_ascii_lowercase(), ui.lang)).into_response())
}

// ---------------------------------------------------------------- revisions

struct RevisionRow {
    info: RevisionInfo,
    when: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "revisions.html")]
struct RevisionsPage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
    id: StoryId,
    lang: String,
    title: String,
    rows: Vec<RevisionRow>,
}

/// The edition a revision page is about: `?lang=` when the story has it, else the
/// reader's first language it has, else its first.
async fn revision_edition(state: &AppState, id: StoryId, preferred: Vec<String>) -> Result<(String, String), WebError> {
    let detail = load_detail(state, id).await?;
    let a = choose_edition(&detail.articles, &detail.summary, &preferred).ok_or(WebError::NotFound)?;
    Ok((a.lang.clone(), a.title.clone()))
}

/// `GET /stories/{id}/revisions`: the public revision history of an edition.
pub async fn revisions_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    let accept = accept_language(&headers);
    let ui = edition_for(q.lang.as_deref(), accept);
    let (lang, title) = revision_edition(&state, id, preferred_languages(q.lang.as_deref(), accept)).await?;
    let l = lang.clone();
    let revisions = blocking(&state, move |s| s.story_revisions(id, &l)).await?;
    let last = revisions.last().map(|r| r.revision);
    let rows = revisions
        .into_iter()
        .rev()
        .map(|info| RevisionRow { when: date_time(&info.written_at), current: Some(info.revision) == last, info })
        .collect();
    render(RevisionsPage {
        ui,
        page_lang: lang.clone(),
        switch_path: format!("/stories/{id}/revisions"),
        editions: switches(ui),
        id,
        lang,
        title,
        rows,
    })
}

#[derive(Template)]
#[template(path = "revision.html")]
struct RevisionPage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
    id: StoryId,
    lang: String,
    info: RevisionInfo,
    when: String,
    previous: Option<u32>,
    parts: Vec<crate::diff::DiffPart>,
}

/// A revision and the diff from the one before (or the whole text for the first).
pub(crate) async fn revision_with_diff(
    state: &AppState,
    id: StoryId,
    lang: String,
    n: u32,
) -> Result<(RevisionInfo, StoryArticle, Option<u32>, Vec<crate::diff::DiffPart>), WebError> {
    let (info, article, before) = blocking(state, move |s| {
        let Some((info, article)) = s.story_revision(id, &lang, n)? else { return Ok(None) };
        let before = if n > 1 { s.story_revision(id, &lang, n - 1)? } else { None };
        Ok(Some((info, article, before)))
    })
    .await?
    .ok_or(WebError::NotFound)?;
    let old = before.as_ref().map(|(_, a)| crate::diff::diff_text(a)).unwrap_or_default();
    let parts = crate::diff::word_diff(&old, &crate::diff::diff_text(&article));
    Ok((info, article, before.map(|(i, _)| i.revision), parts))
}

/// `GET /stories/{id}/revisions/{n}`: one revision with a readable diff.
pub async fn revision_page(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    let n: u32 = n.parse().map_err(|_| WebError::NotFound)?;
    let accept = accept_language(&headers);
    let ui = edition_for(q.lang.as_deref(), accept);
    let (lang, _) = revision_edition(&state, id, preferred_languages(q.lang.as_deref(), accept)).await?;
    let (info, _article, previous, parts) = revision_with_diff(&state, id, lang.clone(), n).await?;
    render(RevisionPage {
        ui,
        page_lang: lang.clone(),
        switch_path: format!("/stories/{id}/revisions/{n}"),
        editions: switches(ui),
        id,
        lang,
        when: date_time(&info.written_at),
        info,
        previous,
        parts,
    })
}

// ---------------------------------------------------------------- search

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
    query: String,
    hits: Vec<SearchRow>,
    unavailable: bool,
}

struct SearchRow {
    story_id: StoryId,
    is_story: bool,
    lang: String,
    title: String,
    outlet: String,
    url: String,
    excerpt: String,
}

/// Runs a search (rate-limited per client).
pub(crate) async fn run_search(
    state: &AppState,
    client: &Client,
    query: &str,
    lang: Option<String>,
) -> Result<Option<Vec<chorus_search::Hit>>, WebError> {
    let Some(index) = state.search.clone() else { return Ok(None) };
    let query: String = query.trim().chars().take(200).collect();
    if query.is_empty() {
        return Ok(Some(Vec::new()));
    }
    if !state.limits.search.allow(&client.address) {
        crate::metrics::SiteCounters::bump(&state.counters.rate_limited);
        return Err(WebError::TooMany);
    }
    let hits = tokio::task::spawn_blocking(move || index.search(&query, lang.as_deref(), 40))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(Some(hits))
}

/// `GET /search?q=…`: stories and sources in every language.
pub async fn search_page(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    client: Client,
) -> Result<Html<String>, WebError> {
    let ui = edition_for(q.lang.as_deref(), accept_language(&headers));
    let query = q.q.unwrap_or_default();
    let hits = run_search(&state, &client, &query, None).await?;
    render(SearchPage {
        ui,
        page_lang: ui.lang.into(),
        switch_path: "/search".into(),
        editions: switches(ui),
        unavailable: hits.is_none(),
        hits: hits
            .unwrap_or_default()
            .into_iter()
            .map(|h| SearchRow {
                story_id: h.story_id,
                is_story: h.kind == chorus_search::HitKind::Story,
                lang: h.lang,
                title: if h.title.is_empty() { "—".into() } else { h.title },
                outlet: h.outlet,
                url: crate::safe_url(&h.url),
                excerpt: h.excerpt,
            })
            .collect(),
        query,
    })
}
