//! The editors' desk: log in, review reader reports, correct an article and publish the
//! correction as a new revision, or send the story back to the pipeline.
//!
//! Editors are created from the command line (`chorus user add`). A login starts a session
//! (random token in an HttpOnly, SameSite=Strict cookie, `Secure` behind TLS; only its
//! hash is stored) lasting [`SESSION_HOURS`]. Every form carries the session's CSRF token.
//! Failed logins are limited per address and per user name.

use crate::i18n::{EN, Ui};
use crate::reader::{EditionSwitch, choose_edition, load_detail, switches};
use crate::security::{hash_password, random_token, same, sha256_hex, verify_password};
use crate::{AppState, Client, WebError, blocking, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chorus_core::{StoryArticle, StoryId, SynthSentence};
use chorus_store::{Report, Session};
use chrono::Utc;
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "chorus_session";
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A logged-in editor.
pub struct Editor {
    session: Session,
    token_hash: String,
}

/// The editor logged in on this request, if any.
pub(crate) async fn current_editor(state: &AppState, headers: &HeaderMap) -> Result<Option<Editor>, WebError> {
    let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| t.len() == 64) else { return Ok(None) };
    let token_hash = sha256_hex(token);
    let th = token_hash.clone();
    let session = blocking(state, move |s| s.session(&th, Utc::now())).await?;
    Ok(session.map(|session| Editor { session, token_hash }))
}

/// The editor pages take an [`Editor`]: without a session they redirect to the login.
impl axum::extract::FromRequestParts<AppState> for Editor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Response> {
        match current_editor(state, &parts.headers).await {
            Ok(Some(e)) => Ok(e),
            Ok(None) => Err(Redirect::to("/editor/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

fn check_csrf(editor: &Editor, token: &str) -> Result<(), WebError> {
    if same(&editor.session.csrf, token) { Ok(()) } else { Err(WebError::BadRequest("the form has expired".into())) }
}

/// A hash to verify against when the user does not exist, so a login takes as long
/// for an unknown name as for a wrong password.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

#[derive(Template)]
#[template(path = "editor_login.html")]
struct LoginPage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
    token: String,
    error: String,
}

fn login_page(state: &AppState, error: &str) -> Result<Html<String>, WebError> {
    render(LoginPage {
        ui: &EN,
        page_lang: "en".into(),
        switch_path: "/editor/login".into(),
        editions: switches(&EN),
        token: state.forms.token("login", Utc::now().timestamp()),
        error: error.into(),
    })
}

/// `GET /editor/login`.
pub async fn login_form(State(state): State<AppState>) -> Result<Html<String>, WebError> {
    login_page(&state, "")
}

/// The login form.
#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    token: String,
}

/// `POST /editor/login`: checks the password (rate-limited) and starts a session.
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    if !state.forms.check("login", &f.token, Utc::now().timestamp()) {
        return Err(WebError::BadRequest("the form has expired; please reload the page".into()));
    }
    let name = f.name.trim().to_string();
    let user_key = format!("user:{}", name.to_lowercase());
    if state.limits.login_address.blocked(&client.address) || state.limits.login_user.blocked(&user_key) {
        crate::metrics::SiteCounters::bump(&state.counters.rate_limited);
        return Err(WebError::TooMany);
    }
    let n = name.clone();
    let stored = blocking(&state, move |s| s.user_password_hash(&n)).await?;
    let password = f.password;
    let ok = tokio::task::spawn_blocking(move || match stored {
        Some(h) => verify_password(&password, &h),
        None => {
            verify_password(&password, dummy_hash());
            false
        }
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?;
    if !ok {
        state.limits.login_address.allow(&client.address);
        state.limits.login_user.allow(&user_key);
        crate::metrics::SiteCounters::bump(&state.counters.failed_logins);
        tracing::warn!(user = %name, "failed editor login");
        let page = login_page(&state, "Wrong name or password.")?;
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    }
    state.limits.login_user.reset(&user_key);
    let token = random_token(32).map_err(|e| WebError::Internal(e.to_string()))?;
    let session = Session {
        user: name.clone(),
        csrf: random_token(16).map_err(|e| WebError::Internal(e.to_string()))?,
        expires_at: Utc::now() + chrono::Duration::hours(SESSION_HOURS),
    };
    let th = sha256_hex(&token);
    blocking(&state, move |s| s.create_session(&th, &session)).await?;
    tracing::info!(user = %name, "editor logged in");
    let secure = if client.https { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_HOURS * 3600
    );
    let mut res = Redirect::to("/editor").into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| WebError::Internal(e.to_string()))?);
    Ok(res)
}

/// A form that carries only the CSRF token.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /editor/logout`.
pub async fn logout(
    State(state): State<AppState>,
    editor: Editor,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_csrf(&editor, &f.csrf)?;
    let th = editor.token_hash.clone();
    blocking(&state, move |s| s.delete_session(&th, Utc::now())).await?;
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("chorus_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(res)
}

struct DraftRow {
    story_id: StoryId,
    lang: String,
    title: String,
    written: String,
}

struct QueueRow {
    report: Report,
    story_title: String,
    created: String,
}

#[derive(Template)]
#[template(path = "editor_queue.html")]
struct QueuePage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
    user: String,
    csrf: String,
    status: String,
    rows: Vec<QueueRow>,
    drafts: Vec<DraftRow>,
    notice: String,
}

/// `GET /editor?status=open|accepted|rejected|all`: the report queue.
pub async fn queue(
    State(state): State<AppState>,
    editor: Editor,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let status = match q.get("status").map(String::as_str) {
        Some(s @ ("open" | "accepted" | "rejected" | "all")) => s.to_string(),
        _ => "open".to_string(),
    };
    let filter = (status != "all").then(|| status.clone());
    let (reports, drafts) = blocking(&state, move |s| Ok((s.reports(filter.as_deref(), 500)?, s.drafts()?))).await?;
    let summaries = state.summaries().await?;
    let titles: HashMap<StoryId, &str> = summaries.iter().map(|s| (s.id, s.title.as_str())).collect();
    let rows = reports
        .into_iter()
        .map(|r| QueueRow {
            story_title: titles.get(&r.story_id).map(|t| t.to_string()).unwrap_or_default(),
            created: r.created_at.format("%Y-%m-%d %H:%M").to_string(),
            report: r,
        })
        .collect();
    let drafts = drafts
        .into_iter()
        .map(|(story_id, lang, at)| DraftRow {
            title: titles.get(&story_id).map(|t| t.to_string()).unwrap_or_default(),
            story_id,
            lang,
            written: at.format("%Y-%m-%d %H:%M").to_string(),
        })
        .collect();
    let notice = match q.get("done").map(String::as_str) {
        Some("rewrite") => "The story is queued for the pipeline's next run.",
        Some("resolved") => "Report updated.",
        Some("published") => "The machine rewrite is published.",
        Some("discarded") => "The machine rewrite is discarded; the correction stands.",
        _ => "",
    };
    Ok(render(QueuePage {
        ui: &EN,
        page_lang: "en".into(),
        switch_path: "/editor".into(),
        editions: switches(&EN),
        user: editor.session.user.clone(),
        csrf: editor.session.csrf.clone(),
        status,
        rows,
        drafts,
        notice: notice.into(),
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "editor_draft.html")]
struct DraftPage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
    user: String,
    csrf: String,
    id: StoryId,
    lang: String,
    revision: u32,
    parts: Vec<crate::diff::DiffPart>,
}

/// `GET /editor/stories/{id}/draft?lang=…`: a machine rewrite of a corrected edition,
/// as a diff from the current (corrected) text.
pub async fn draft_review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    editor: Editor,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    let lang = q.get("lang").cloned().unwrap_or_default();
    let l = lang.clone();
    let draft = blocking(&state, move |s| s.draft(id, &l)).await?.ok_or(WebError::NotFound)?;
    let detail = load_detail(&state, id).await?;
    let current = detail.articles.iter().find(|a| a.lang == lang).ok_or(WebError::NotFound)?;
    let parts = crate::diff::word_diff(&crate::diff::diff_text(current), &crate::diff::diff_text(&draft));
    Ok(render(DraftPage {
        ui: &EN,
        page_lang: "en".into(),
        switch_path: format!("/editor/stories/{id}/draft"),
        editions: switches(&EN),
        user: editor.session.user.clone(),
        csrf: editor.session.csrf.clone(),
        id,
        lang,
        revision: current.revision.max(1),
        parts,
    })?
    .into_response())
}

/// The draft decision form.
#[derive(Debug, serde::Deserialize)]
pub struct DraftForm {
    lang: String,
    action: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /editor/stories/{id}/draft`: publishes or discards a waiting machine rewrite.
pub async fn draft_decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    editor: Editor,
    Form(f): Form<DraftForm>,
) -> Result<Response, WebError> {
    check_csrf(&editor, &f.csrf)?;
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    let user = editor.session.user.clone();
    let lang = f.lang.clone();
    let done = match f.action.as_str() {
        "publish" => {
            blocking(&state, move |s| s.accept_draft(id, &lang, &user)).await?.ok_or(WebError::NotFound)?;
            "published"
        }
        "discard" => {
            if !blocking(&state, move |s| s.discard_draft(id, &lang)).await? {
                return Err(WebError::NotFound);
            }
            "discarded"
        }
        _ => return Err(WebError::BadRequest("action must be publish or discard".into())),
    };
    state.changed();
    Ok(Redirect::to(&format!("/editor?done={done}")).into_response())
}

/// The accept/reject form.
#[derive(Debug, serde::Deserialize)]
pub struct ResolveForm {
    status: String,
    reason: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /editor/reports/{rid}`: accepts or rejects a report with a reason.
pub async fn resolve(
    State(state): State<AppState>,
    Path(rid): Path<String>,
    editor: Editor,
    Form(f): Form<ResolveForm>,
) -> Result<Response, WebError> {
    check_csrf(&editor, &f.csrf)?;
    if !matches!(f.status.as_str(), "accepted" | "rejected" | "open") {
        return Err(WebError::BadRequest("status must be accepted, rejected or open".into()));
    }
    let reason = f.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 2_000 {
        return Err(WebError::BadRequest("give a reason (at most 2,000 characters)".into()));
    }
    let user = editor.session.user.clone();
    let found = blocking(&state, move |s| s.resolve_report(&rid, &f.status, &reason, &user, Utc::now())).await?;
    if !found {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/editor?done=resolved").into_response())
}

#[derive(Template)]
#[template(path = "editor_edit.html")]
struct EditPage {
    ui: &'static Ui,
    page_lang: String,
    switch_path: String,
    editions: Vec<EditionSwitch>,
    user: String,
    csrf: String,
    id: StoryId,
    lang: String,
    revision: u32,
    title: String,
    body: String,
    report: String,
    report_body: String,
}

/// An article as the editor edits it: paragraphs separated by a blank line, one sentence
/// per line.
pub fn editable_text(a: &StoryArticle) -> String {
    a.paragraphs
        .iter()
        .map(|p| p.iter().map(|s| s.text.trim()).collect::<Vec<_>>().join("\n"))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn words(s: &str) -> BTreeSet<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Applies an editor's text to an article. A sentence left as it was keeps everything;
/// a reworded one (sharing at least half its words with an old sentence) keeps that
/// sentence's sources and is marked edited; a new one is marked edited with no sources.
pub fn apply_edit(old: &StoryArticle, title: &str, body: &str, editor: &str) -> StoryArticle {
    let old_sentences: Vec<&SynthSentence> = old.paragraphs.iter().flatten().collect();
    let paragraphs: Vec<Vec<SynthSentence>> = body
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| {
            p.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|line| {
                    if let Some(s) = old_sentences.iter().find(|s| s.text.trim() == line) {
                        return (*s).clone();
                    }
                    let mine = words(line);
                    let best = old_sentences
                        .iter()
                        .map(|s| {
                            let theirs = words(&s.text);
                            let shared = mine.intersection(&theirs).count() as f32;
                            (s, shared / mine.len().max(theirs.len()).max(1) as f32)
                        })
                        .max_by(|a, b| a.1.total_cmp(&b.1));
                    match best {
                        Some((s, overlap)) if overlap >= 0.5 => {
                            SynthSentence { text: line.to_string(), generated: false, edited: true, ..(*s).clone() }
                        }
                        _ => SynthSentence { edited: true, ..SynthSentence::unsourced(line, &old.lang) },
                    }
                })
                .collect::<Vec<_>>()
        })
        .filter(|p| !p.is_empty())
        .collect();
    StoryArticle {
        title: title.trim().to_string(),
        edited_by: editor.to_string(),
        written_at: Utc::now(),
        paragraphs,
        generation: None,
        ..old.clone()
    }
}

/// `GET /editor/stories/{id}/edit?lang=…&report=…`: the correction form.
pub async fn edit_form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    editor: Editor,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    let detail = load_detail(&state, id).await?;
    let wanted: Vec<String> = q.get("lang").into_iter().cloned().collect();
    let a = choose_edition(&detail.articles, &detail.summary, &wanted).ok_or(WebError::NotFound)?;
    let report = q.get("report").cloned().unwrap_or_default();
    let r = report.clone();
    let report_body = if report.is_empty() {
        String::new()
    } else {
        blocking(&state, move |s| s.report(&r)).await?.map(|r| r.body).unwrap_or_default()
    };
    Ok(render(EditPage {
        ui: &EN,
        page_lang: "en".into(),
        switch_path: format!("/editor/stories/{id}/edit"),
        editions: switches(&EN),
        user: editor.session.user.clone(),
        csrf: editor.session.csrf.clone(),
        id,
        lang: a.lang.clone(),
        revision: a.revision.max(1),
        title: a.title.clone(),
        body: editable_text(a),
        report,
        report_body,
    })?
    .into_response())
}

/// The correction form.
#[derive(Debug, serde::Deserialize)]
pub struct PublishForm {
    lang: String,
    title: String,
    body: String,
    note: String,
    #[serde(default)]
    report: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /editor/stories/{id}/edit`: publishes the correction as the next revision.
pub async fn publish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    editor: Editor,
    Form(f): Form<PublishForm>,
) -> Result<Response, WebError> {
    check_csrf(&editor, &f.csrf)?;
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    let note = f.note.trim().to_string();
    if note.is_empty() || note.chars().count() > 2_000 {
        return Err(WebError::BadRequest("a change note is required (at most 2,000 characters)".into()));
    }
    if f.title.trim().is_empty() || f.body.trim().is_empty() {
        return Err(WebError::BadRequest("the headline and the text may not be empty".into()));
    }
    let detail = load_detail(&state, id).await?;
    let old = detail
        .articles
        .iter()
        .find(|a| a.lang == f.lang)
        .ok_or_else(|| WebError::BadRequest(format!("story {id} has no {} edition", f.lang)))?;
    let article = apply_edit(old, &f.title, &f.body, &editor.session.user);
    let report = Some(f.report.trim().to_string()).filter(|r| !r.is_empty());
    if let Some(r) = report.clone() {
        let rep = blocking(&state, move |s| s.report(&r)).await?;
        if rep.is_none_or(|r| r.story_id != id) {
            return Err(WebError::BadRequest("the linked report does not belong to this story".into()));
        }
    }
    let user = editor.session.user.clone();
    let n = blocking(&state, move |s| s.publish_revision(&article, &user, &note, report.as_deref())).await?;
    tracing::info!(story = id, lang = %f.lang, revision = n, user = %editor.session.user, "revision published");
    state.changed();
    crate::metrics::SiteCounters::bump(&state.counters.revisions);
    // `f.lang` is the language of a stored edition (checked above), so a valid header value.
    Ok(Redirect::to(&format!("/stories/{id}?lang={}", f.lang)).into_response())
}

/// `POST /editor/stories/{id}/rewrite`: marks the story for the pipeline's next run.
pub async fn rewrite(
    State(state): State<AppState>,
    Path(id): Path<String>,
    editor: Editor,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_csrf(&editor, &f.csrf)?;
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    if !blocking(&state, move |s| s.mark_dirty(id)).await? {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/editor?done=rewrite").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::SourcePassage;

    fn sentence(text: &str, source: &str) -> SynthSentence {
        SynthSentence {
            text: text.into(),
            lang: "en".into(),
            n_independent: 1,
            sources: vec![SourcePassage {
                article_id: source.into(),
                outlet: "O".into(),
                lang: "en".into(),
                sentence: text.into(),
                similarity: 1.0,
                translation: None,
            }],
            claim: None,
            disputed: false,
            generated: false,
            claims: vec![],
            edited: false,
            translated_quote: false,
        }
    }

    #[test]
    fn edits_keep_sources_of_unchanged_and_reworded_sentences() {
        let old = StoryArticle {
            story_id: 1,
            lang: "en".into(),
            title: "Old".into(),
            edited_by: "chorus".into(),
            written_at: Utc::now(),
            paragraphs: vec![
                vec![sentence("Twelve people died in the fire in Lyon.", "a"), sentence("The mayor spoke.", "b")],
                vec![sentence("Firefighters came at noon.", "c")],
            ],
            unconfirmed: false,
            coverage: Default::default(),
            claims: vec![],
            disagreements: vec![],
            generation: None,
            revision: 3,
        };
        assert_eq!(
            editable_text(&old),
            "Twelve people died in the fire in Lyon.\nThe mayor spoke.\n\nFirefighters came at noon."
        );
        let body = "Fifteen people died in the fire in Lyon.\r\nThe mayor spoke.\n\nA new sentence of mine.\n\n\n";
        let new = apply_edit(&old, " New ", body, "alice");
        assert_eq!(new.title, "New");
        assert_eq!(new.edited_by, "alice");
        assert_eq!(new.paragraphs.len(), 2);
        let s = &new.paragraphs[0];
        assert!(s[0].edited && s[0].sources[0].article_id == "a", "reworded keeps its source");
        assert_eq!(s[0].text, "Fifteen people died in the fire in Lyon.");
        assert!(!s[1].edited && s[1].sources[0].article_id == "b", "unchanged");
        let added = &new.paragraphs[1][0];
        assert!(added.edited && added.sources.is_empty(), "new sentence has no source");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; chorus_session=abc ; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
