//! Atom feeds: one per edition (its stories, most recently updated first) and one per
//! story (its revisions: every update and correction). Entry content is HTML built from
//! escaped text and then passed through ammonia, so no source markup can reach a reader.

use crate::reader::choose_edition;
use crate::{AppState, WebError, blocking, i18n};
use atom_syndication::{Content, Entry, Feed, FixedDateTime, Link, Person, Text};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chorus_core::{StoryArticle, StoryId};
use chrono::Utc;
use std::collections::HashMap;

/// Entries in an edition feed.
pub const FEED_ENTRIES: usize = 50;

/// An article as sanitised HTML: its paragraphs, then the number of sources.
pub fn article_html(a: &StoryArticle) -> String {
    let mut html = String::new();
    for p in &a.paragraphs {
        html.push_str("<p>");
        html.push_str(&ammonia::clean_text(&p.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ")));
        html.push_str("</p>");
    }
    ammonia::Builder::default().tags(["p"].into_iter().collect()).clean(&html).to_string()
}

fn time(t: chrono::DateTime<Utc>) -> FixedDateTime {
    t.fixed_offset()
}

fn link(href: String, rel: &str) -> Link {
    Link { href, rel: rel.into(), mime_type: Some("text/html".into()), ..Default::default() }
}

/// The feed's own address (`rel="self"`), which feed readers and validators expect.
fn self_link(href: String) -> Link {
    Link { href, rel: "self".into(), mime_type: Some("application/atom+xml".into()), ..Default::default() }
}

fn feed_response(feed: Feed) -> Response {
    ([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], feed.to_string()).into_response()
}

/// `path` under `base` (absolute), or site-relative without one.
fn under(base: Option<&str>, path: &str) -> String {
    format!("{}{path}", base.unwrap_or_default())
}

/// `GET /feeds/{lang}.atom`: the edition's stories, most recently updated first (cached
/// like the pages, per site address: feed readers poll it often and it reads 50 stories).
/// Links are absolute when the site's address is known ([`crate::SiteConfig::base_url`]),
/// with `xml:base`.
pub async fn edition_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let lang = file.strip_suffix(".atom").filter(|l| i18n::has_edition(l)).ok_or(WebError::NotFound)?.to_string();
    let base = state.config.base_url(&headers);
    let key = format!("feed:{lang}:{}", base.as_deref().unwrap_or_default());
    let xml = state
        .cached_page(key, move |state| async move { render_edition_feed(&state, &lang, base.as_deref()).await })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], xml.to_string()).into_response())
}

async fn render_edition_feed(
    state: &AppState,
    lang: &str,
    base: Option<&str>,
) -> Result<std::sync::Arc<str>, WebError> {
    let lang = lang.to_string();
    let ui = i18n::ui(&lang);
    let summaries = state.summaries().await?;
    let mut with_edition: Vec<_> = summaries.iter().filter(|s| s.titles.contains_key(&lang)).collect();
    with_edition.sort_by(|a, b| b.updated.cmp(&a.updated).then(b.id.cmp(&a.id)));
    let ids: Vec<StoryId> = with_edition.iter().take(FEED_ENTRIES).map(|s| s.id).collect();
    let l = lang.clone();
    let articles: Vec<StoryArticle> = blocking(state, move |s| {
        let mut out = Vec::new();
        for id in ids {
            if let Some(d) = s.story_detail(id)? {
                out.extend(d.articles.into_iter().filter(|a| a.lang == l));
            }
        }
        Ok(out)
    })
    .await?;
    let updated = articles.iter().map(|a| a.written_at).max().unwrap_or_else(Utc::now);
    let entries = articles
        .iter()
        .map(|a| Entry {
            id: format!("urn:chorus:story:{}:{}", a.story_id, a.lang),
            title: Text::plain(a.title.clone()),
            updated: time(a.written_at),
            authors: vec![Person { name: a.edited_by.clone(), ..Default::default() }],
            links: vec![link(under(base, &format!("/stories/{}?lang={}", a.story_id, a.lang)), "alternate")],
            content: Some(Content {
                value: Some(article_html(a)),
                content_type: Some("html".into()),
                lang: Some(a.lang.clone()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    Ok(Feed {
        id: format!("urn:chorus:edition:{lang}"),
        title: Text::plain(format!("chorus — {}", ui.stories)),
        subtitle: Some(Text::plain(ui.tagline)),
        updated: time(updated),
        lang: Some(lang.clone()),
        links: vec![
            link(under(base, &format!("/?lang={lang}")), "alternate"),
            self_link(under(base, &format!("/feeds/{lang}.atom"))),
        ],
        base: base.map(|b| format!("{b}/")),
        entries,
        ..Default::default()
    }
    .to_string()
    .into())
}

/// `GET /stories/{id}/feed.atom?lang=…`: a story's revisions, newest first, each linking
/// to its revision page; links absolute as in [`edition_feed`].
pub async fn story_feed(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let base = state.config.base_url(&headers);
    let base = base.as_deref();
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    let wanted: Vec<String> = q.get("lang").into_iter().cloned().collect();
    let (lang, title, revisions) = blocking(&state, move |s| {
        let Some(d) = s.story_detail(id)? else { return Ok(None) };
        let Some(a) = choose_edition(&d.articles, &d.summary, &wanted) else { return Ok(None) };
        let (lang, title) = (a.lang.clone(), a.title.clone());
        let mut revs = Vec::new();
        for info in s.story_revisions(id, &lang)?.into_iter().rev().take(FEED_ENTRIES) {
            if let Some(r) = s.story_revision(id, &lang, info.revision)? {
                revs.push(r);
            }
        }
        Ok(Some((lang, title, revs)))
    })
    .await?
    .ok_or(WebError::NotFound)?;
    let entries: Vec<Entry> = revisions
        .iter()
        .map(|(info, a)| Entry {
            id: format!("urn:chorus:story:{id}:{lang}:revision:{}", info.revision),
            title: Text::plain(format!("{} — revision {}: {}", a.title, info.revision, info.note)),
            updated: time(info.written_at),
            authors: vec![Person { name: info.edited_by.clone(), ..Default::default() }],
            links: vec![link(
                under(base, &format!("/stories/{id}/revisions/{}?lang={lang}", info.revision)),
                "alternate",
            )],
            content: Some(Content {
                value: Some(article_html(a)),
                content_type: Some("html".into()),
                lang: Some(lang.clone()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let updated = revisions.first().map(|(i, _)| i.written_at).unwrap_or_else(Utc::now);
    Ok(feed_response(Feed {
        id: format!("urn:chorus:story:{id}:{lang}"),
        title: Text::plain(title),
        updated: time(updated),
        lang: Some(lang.clone()),
        links: vec![
            link(under(base, &format!("/stories/{id}?lang={lang}")), "alternate"),
            self_link(under(base, &format!("/stories/{id}/feed.atom?lang={lang}"))),
        ],
        base: base.map(|b| format!("{b}/")),
        entries,
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_html_is_escaped_and_sanitised() {
        let s = |t: &str| chorus_core::SynthSentence::unsourced(t, "en");
        let a = StoryArticle {
            story_id: 1,
            lang: "en".into(),
            title: "t".into(),
            edited_by: "chorus".into(),
            written_at: Utc::now(),
            paragraphs: vec![vec![s("<script>alert(1)</script> Fine & dandy.")]],
            unconfirmed: false,
            coverage: Default::default(),
            claims: vec![],
            disagreements: vec![],
            generation: None,
            revision: 1,
        };
        let html = article_html(&a);
        assert_eq!(html, "<p>&lt;script&gt;alert(1)&lt;/script&gt; Fine &amp; dandy.</p>");
    }
}
