//! The site over a real SQLite store, request by request through the real router (no
//! socket): editions, story page, views, reports, the editor's desk, revisions, API,
//! feeds, search and the security rules.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chorus_core::{
    Article, Claim, Coverage, Disagreement, DisagreementSide, Outlet, OutletKind, SourcePassage, StoryArticle, StoryId,
    SynthSentence,
};
use chorus_store::prelude::*;
use chorus_store::{NewArticle, SqliteStore};
use chorus_web::{AppState, SiteConfig};
use std::sync::Arc;
use tower::ServiceExt;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn article(id: &str, outlet: &str, lang: &str, title: &str, text: &str) -> Article {
    Article {
        id: id.into(),
        url: format!("https://example.org/{id}"),
        outlet: outlet.into(),
        lang: lang.into(),
        lang_detected: false,
        published: Some("2026-01-06T12:00:00Z".parse().unwrap()),
        title: title.into(),
        text: text.into(),
        authors: Vec::new(),
    }
}

fn passage(id: &str, outlet: &str, lang: &str, sentence: &str) -> SourcePassage {
    SourcePassage {
        article_id: id.into(),
        outlet: outlet.into(),
        lang: lang.into(),
        sentence: sentence.into(),
        similarity: 1.0,
        translation: None,
    }
}

fn sentence(text: &str, lang: &str, sources: Vec<SourcePassage>) -> SynthSentence {
    SynthSentence {
        text: text.into(),
        lang: lang.into(),
        n_independent: sources.len(),
        sources,
        claim: Some(0),
        disputed: false,
        generated: false,
        claims: vec![0],
        edited: false,
        translated_quote: false,
    }
}

/// A store with one story (three sources, two outlets, de/fr/en) written in German and
/// English, and a second story on the same subject.
fn fixture() -> (Arc<SqliteStore>, StoryId, StoryId) {
    let s = SqliteStore::open_in_memory().unwrap();
    s.put_outlets(&[Outlet {
        name: "Le Monde".into(),
        homepage: "https://www.lemonde.fr/".into(),
        country: "FR".into(),
        languages: vec!["fr".into()],
        kind: OutletKind::Private,
        feeds: vec![],
    }])
    .unwrap();
    let arts = [
        article(
            "fr1",
            "Le Monde",
            "fr",
            "Sommet à Paris",
            "Trente-cinq pays se sont réunis à Paris mardi. Douze morts.",
        ),
        article(
            "de1",
            "Tagesschau <b>",
            "de",
            "Gipfeltreffen in Paris",
            "35 Staaten trafen sich am Dienstag in Paris.",
        ),
        article("en1", "Le Monde", "en", "Summit in Paris", "Thirty-five nations met in Paris on Tuesday."),
        article("x1", "Other", "en", "Storm in Lyon", "A storm hit Lyon."),
    ];
    let new: Vec<NewArticle> = arts
        .iter()
        .map(|a| NewArticle { article: a, content_hash: a.id.clone(), fingerprint: vec![], duplicate_of: None })
        .collect();
    s.insert_articles(&new).unwrap();
    let ids = s
        .assign(2, &[("fr1".into(), Err(0)), ("de1".into(), Err(0)), ("en1".into(), Err(0)), ("x1".into(), Err(1))])
        .unwrap();
    let (story, other) = (ids[0], ids[1]);
    let written = |lang: &str, title: &str, text: &str| StoryArticle {
        story_id: story,
        lang: lang.into(),
        title: title.into(),
        edited_by: "chorus".into(),
        written_at: chrono::Utc::now(),
        paragraphs: vec![vec![
            sentence(
                text,
                lang,
                vec![
                    passage("de1", "Tagesschau <b>", "de", "35 Staaten trafen sich am Dienstag in Paris."),
                    passage("fr1", "Le Monde", "fr", "Trente-cinq pays se sont réunis à Paris mardi."),
                ],
            ),
            SynthSentence {
                disputed: true,
                ..sentence("Zwölf Menschen starben.", lang, vec![passage("fr1", "Le Monde", "fr", "Douze morts.")])
            },
        ]],
        unconfirmed: false,
        coverage: Coverage { reports: 3, independent: 2, outlets: 2, languages: vec![], wire_agencies: vec![] },
        claims: vec![Claim {
            id: 0,
            passages: vec![passage("fr1", "Le Monde", "fr", "Douze morts.")],
            n_independent: 1,
            n_reports: 1,
            outlets: vec!["Le Monde".into()],
            languages: vec!["fr".into()],
            as_of: None,
            history: vec![],
        }],
        disagreements: vec![Disagreement {
            kind: "number".into(),
            sides: vec![
                DisagreementSide { claim: 0, values: vec!["12".into()] },
                DisagreementSide { claim: 0, values: vec!["15".into()] },
            ],
        }],
        generation: None,
        revision: 0,
    };
    s.put_story_texts(
        story,
        1,
        &[
            written("de", "Gipfel <script>alert(1)</script> in Paris", "35 Staaten trafen sich am Dienstag in Paris."),
            written("en", "Summit in Paris", "Thirty-five nations met in Paris on Tuesday."),
        ],
    )
    .unwrap();
    s.put_story_texts(
        other,
        1,
        &[StoryArticle { story_id: other, ..written("en", "Storm in Lyon", "A storm hit Lyon.") }],
    )
    .unwrap();
    s.put_related(story, &[(other, 0.5)]).unwrap();
    (Arc::new(s), story, other)
}

struct App {
    state: AppState,
    store: Arc<SqliteStore>,
    story: StoryId,
}

fn app() -> App {
    let (store, story, _) = fixture();
    let search = Arc::new(chorus_search::SearchIndex::in_memory(15_000_000).unwrap());
    let state = AppState::new(store.clone(), None, Some(search), SiteConfig::default()).unwrap();
    App { state, store, story }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl App {
    async fn send(&self, req: Request<Body>) -> Reply {
        let res = chorus_web::router(self.state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), 10 << 20).await.unwrap();
        Reply { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut b = Request::get(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(Body::from(body)).unwrap()).await
    }
}

/// Python's feedparser (the parser most feed readers' code descends from) reads each
/// feed with `bozo` false, every link absolute. It is installed once into a virtual
/// environment under the test's target folder (PyPI is reachable where chorus is built).
fn feedparser_reads_without_complaint(feeds: &[&str]) {
    use std::process::Command;
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("feedparser-venv");
    let python = venv.join("bin").join("python");
    let ready = || Command::new(&python).args(["-c", "import feedparser"]).status().is_ok_and(|s| s.success());
    if !ready() {
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 runs");
        assert!(made.success(), "python3 -m venv");
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "feedparser==6.0.11"])
            .status()
            .expect("pip runs");
        assert!(installed.success() && ready(), "pip install feedparser==6.0.11");
    }
    let dir = tempfile::tempdir().unwrap();
    for (n, feed) in feeds.iter().enumerate() {
        let path = dir.path().join(format!("feed{n}.xml"));
        std::fs::write(&path, feed).unwrap();
        let check = "import sys, feedparser\n\
            d = feedparser.parse(sys.argv[1])\n\
            assert not d.bozo, repr(d.get('bozo_exception'))\n\
            assert d.entries, 'no entries'\n\
            links = [d.feed.link] + [e.link for e in d.entries]\n\
            assert all(l.startswith('http://127.0.0.1:8080/') for l in links), links\n\
            print('ok', len(d.entries))";
        let out = Command::new(&python).args(["-c", check]).arg(&path).output().expect("python runs");
        assert!(
            out.status.success(),
            "feedparser on feed {n}: {}{}\n{feed}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The value of a hidden input in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in page")) + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn editions_follow_the_query_then_accept_language() {
    let app = app();
    let de = app.get("/", &[("accept-language", "de-CH,de;q=0.9,en;q=0.5")]).await;
    assert_eq!(de.status, StatusCode::OK);
    assert!(de.body.contains("<html lang=\"de\"") && de.body.contains("<h1>Meldungen</h1>"), "{}", de.body);
    assert!(de.body.contains("Gipfel &#60;script&#62;") || de.body.contains("Gipfel &lt;script&gt;"), "German title");
    let fr = app.get("/?lang=fr", &[("accept-language", "de")]).await;
    assert!(fr.body.contains("<h1>Actualités</h1>"));
    for (lang, word) in [("es", "Noticias"), ("it", "Notizie"), ("en", "Stories")] {
        assert!(app.get(&format!("/?lang={lang}"), &[]).await.body.contains(&format!("<h1>{word}</h1>")), "{lang}");
    }
    let unknown = app.get("/", &[("accept-language", "ja")]).await;
    assert!(unknown.body.contains("<html lang=\"en\""));
    // The ranking puts the three-source story first.
    let first = de.body.find(&format!("data-story-id=\"{}\"", app.story)).unwrap();
    assert!(de.body[first..].contains("Storm in Lyon"));
}

#[tokio::test]
async fn story_page_shows_provenance_coverage_and_grouped_sources() {
    let app = app();
    let r = app.get(&format!("/stories/{}?lang=de", app.story), &[("user-agent", FIREFOX)]).await;
    assert_eq!(r.status, StatusCode::OK);
    let h = &r.body;
    assert!(h.contains("Bearbeitet von <strong>chorus</strong>"), "byline");
    assert!(h.contains(">Fassung 1</a>"), "revision");
    assert!(!h.contains("<script>alert"), "title escaped");
    assert_eq!(h.matches("<details class=\"cite\">").count(), 2, "a citation per sentence");
    assert!(h.contains("<q lang=\"fr\">Trente-cinq pays se sont réunis à Paris mardi.</q>"), "original sentence");
    assert!(h.contains("class=\"label disputed\">umstritten"));
    assert!(h.contains("Worin die Quellen abweichen"));
    assert!(h.contains("<dt>Länder</dt><dd>FR (1), nicht im Medienverzeichnis (1)</dd>"), "{h}");
    assert!(h.contains("privat (1)"), "outlet types");
    assert_eq!(h.matches("<li class=\"outlet\">").count(), 2, "one entry per outlet");
    assert!(h.contains("Tagesschau &#60;b&#62;") || h.contains("Tagesschau &lt;b&gt;"), "outlet name escaped");
    assert!(h.contains("Chronik") && h.contains("Storm in Lyon"), "timeline with the follow-up");
    assert!(h.contains("Haben Sie einen Fehler gefunden?") && h.contains("name=\"token\""));
    assert!(h.contains("<span class=\"views\">1</span> Ansicht<"), "first view counted, singular");
    let csp = r.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline") && !csp.contains("script-src"));
    // No German? An Italian reader gets the Italian interface around the best edition.
    let it = app.get(&format!("/stories/{}", app.story), &[("accept-language", "it")]).await;
    assert!(
        it.body.contains("A cura di") && it.body.contains("class=\"notice\""),
        "notice that no Italian edition exists"
    );
    assert!(it.body.contains("<div class=\"body\" lang=\"en\">"), "after the reader's languages comes English");
    assert_eq!(app.get("/stories/99999", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/stories/abc", &[]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn views_count_once_per_visitor_and_not_bots() {
    let app = app();
    let path = format!("/stories/{}", app.story);
    let views = |body: &str| -> u64 {
        let at = body.find("<span class=\"views\">").unwrap() + "<span class=\"views\">".len();
        body[at..].split('<').next().unwrap().parse().unwrap()
    };
    assert_eq!(views(&app.get(&path, &[("user-agent", FIREFOX)]).await.body), 1);
    assert_eq!(views(&app.get(&path, &[("user-agent", FIREFOX)]).await.body), 1, "reload");
    assert_eq!(views(&app.get(&path, &[("user-agent", "curl/8")]).await.body), 1, "script");
    assert_eq!(views(&app.get(&path, &[("user-agent", "Googlebot/2.1")]).await.body), 1, "bot");
    assert_eq!(views(&app.get(&path, &[]).await.body), 1, "no user agent");
    let other_browser = "Mozilla/5.0 (Macintosh) Safari/605.1.15";
    assert_eq!(views(&app.get(&path, &[("user-agent", other_browser)]).await.body), 2);
    // Counted views wait in memory for the next batch: the store has none yet.
    assert_eq!(app.store.story_views(app.story).unwrap(), 0, "nothing written on the request path");
    assert_eq!(chorus_web::flush_views(&app.state).await.unwrap(), 2);
    assert_eq!(app.store.story_views(app.story).unwrap(), 2);
    let flood: Vec<u64> = futures_lite(&app, &path).await;
    assert!(flood.iter().all(|&n| n <= 2 + chorus_web::views::PER_ADDRESS_PER_STORY as u64), "{flood:?}");
    chorus_web::flush_views(&app.state).await.unwrap();
    assert!(app.store.story_views(app.story).unwrap() <= 2 + chorus_web::views::PER_ADDRESS_PER_STORY as u64);
    assert_eq!(
        views(&app.get(&path, &[("user-agent", FIREFOX)]).await.body),
        app.store.story_views(app.story).unwrap()
    );
}

#[tokio::test]
async fn views_another_node_already_stored_are_not_counted_twice() {
    // Two web nodes of one site (a shared secret: they hash a visitor alike) over one store.
    let (store, story, _) = fixture();
    let config = SiteConfig { secret: Some("one secret for the whole site".into()), ..SiteConfig::default() };
    let first = AppState::new(store.clone(), None, None, config.clone()).unwrap();
    let second = AppState::new(store.clone(), None, None, config).unwrap();
    let path = format!("/stories/{story}");
    for state in [&first, &second] {
        let req = Request::get(&path).header("user-agent", FIREFOX).body(Body::empty()).unwrap();
        assert_eq!(chorus_web::router(state.clone()).oneshot(req).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(chorus_web::flush_views(&first).await.unwrap(), 1);
    assert_eq!(chorus_web::flush_views(&second).await.unwrap(), 0, "the same visitor, counted by the first node");
    assert_eq!(store.story_views(story).unwrap(), 1);
    assert_eq!(second.views.cached(story), Some(1), "the second node's total is read again");
}

#[tokio::test]
async fn every_api_error_is_json_with_a_code_from_the_one_table() {
    let app = app();
    let json = |r: &Reply| -> serde_json::Value {
        assert!(
            r.headers.get(header::CONTENT_TYPE).is_some_and(|v| v.to_str().unwrap().starts_with("application/json")),
            "{:?} {}",
            r.headers,
            r.body
        );
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
    };
    let codes: Vec<&str> = chorus_web::api::ERROR_CODES.iter().map(|(_, c, _)| *c).collect();
    let check = |r: Reply, status: StatusCode, code: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        let v = json(&r);
        assert_eq!(v["code"], code, "{v}");
        assert!(codes.contains(&code));
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    };
    // The framework's own rejections.
    let missing_q = app.get("/api/search", &[]).await;
    assert!(missing_q.body.contains("q"), "the message names the parameter: {}", missing_q.body);
    check(missing_q, StatusCode::BAD_REQUEST, "bad_request");
    check(app.get("/api/no-such-route", &[]).await, StatusCode::NOT_FOUND, "not_found");
    let delete = Request::delete("/api/stories").body(Body::empty()).unwrap();
    let refused = app.send(delete).await;
    assert!(refused.headers.get(header::ALLOW).is_some(), "405 keeps its Allow header");
    check(refused, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let post = |content_type: &str, body: String| {
        Request::post("/api/reports").header(header::CONTENT_TYPE, content_type).body(Body::from(body)).unwrap()
    };
    check(
        app.send(post("text/plain", "{}".into())).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    check(app.send(post("application/json", "{not json".into())).await, StatusCode::BAD_REQUEST, "bad_request");
    check(
        app.send(post("application/json", r#"{"story_id":"x"}"#.into())).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_entity",
    );
    check(
        app.send(post("application/json", "x".repeat(chorus_web::MAX_BODY_BYTES + 1))).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    // The site's own refusal of a cross-origin write, under /api, is JSON too.
    let cross = Request::post("/api/reports")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::HOST, "news.example.org")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from("{}"))
        .unwrap();
    check(app.send(cross).await, StatusCode::FORBIDDEN, "forbidden");
    // Pages outside /api keep their HTML error pages.
    let page = app.get("/no-such-page", &[]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("<html"), "{}", page.body);
    // The document lists exactly the table's codes.
    let doc: serde_json::Value = serde_json::from_str(&app.get("/api/openapi.json", &[]).await.body).unwrap();
    let listed: Vec<&str> = doc["components"]["schemas"]["ApiError"]["properties"]["code"]["enum"]
        .as_array()
        .expect("enum of codes")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(listed, codes);
    let q = doc["paths"]["/api/search"]["get"]["parameters"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "q"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(q["required"], true, "{q}");
    assert_eq!(q["in"], "query", "{q}");
    let lang = doc["paths"]["/api/stories/{id}/revisions"]["get"]["parameters"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "lang"))
        .cloned()
        .unwrap_or_default();
    assert_eq!((&lang["in"], &lang["required"]), (&"query".into(), &false.into()), "{lang}");
}

/// 40 requests from one address with rotating browser User-Agents.
async fn futures_lite(app: &App, path: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for i in 0..40 {
        let ua = format!("{FIREFOX} build/{i}");
        let body = app.get(path, &[("user-agent", &ua)]).await.body;
        let at = body.find("<span class=\"views\">").unwrap() + "<span class=\"views\">".len();
        out.push(body[at..].split('<').next().unwrap().parse().unwrap());
    }
    out
}

#[tokio::test]
async fn reader_reports_an_error_editor_corrects_it_reader_sees_revision_two() {
    let app = app();
    let story = app.story;
    let page = app.get(&format!("/stories/{story}?lang=de"), &[]).await.body;
    let token = hidden(&page, "token");
    // A forged or missing token is refused, and so are bad fields.
    let path = format!("/stories/{story}/reports");
    let post = |token: String, kind: &'static str, body: &'static str| {
        let path = path.clone();
        let app = &app;
        async move { app.post_form(&path, &[("kind", kind), ("body", body), ("lang", "de"), ("token", &token)], &[]).await }
    };
    assert_eq!(post("123.abc".into(), "factual", "Twelve, not fifteen.").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(post(token.clone(), "rude", "Twelve, not fifteen.").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(post(token.clone(), "factual", "").await.status, StatusCode::BAD_REQUEST);
    let filed = post(token.clone(), "factual", "Es waren fünfzehn Tote, nicht zwölf.").await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.body);
    let location = filed.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_string();
    assert!(location.starts_with("/reports/"), "{location}");
    let rid = location.trim_start_matches("/reports/").split('?').next().unwrap().to_string();
    let status_page = app.get(&location, &[]).await.body;
    let lookup = app.get("/reports?lang=de", &[]).await.body;
    assert!(lookup.contains("Meldungsnummer"), "the look-up form");
    let found = app.get(&format!("/reports?id={}&lang=de", rid.to_uppercase()), &[]).await;
    assert_eq!(found.headers.get(header::LOCATION).unwrap().to_str().unwrap(), format!("/reports/{rid}?lang=de"));
    assert!(status_page.contains(&rid) && status_page.contains("offen"), "{status_page}");

    // The editor's desk needs a login.
    let r = app.get("/editor", &[]).await;
    assert_eq!(
        (r.status, r.headers.get(header::LOCATION).unwrap().to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/editor/login")
    );
    app.store
        .put_user("alice", &chorus_web::security::hash_password("correct horse battery").unwrap(), chrono::Utc::now())
        .unwrap();
    let login_page = app.get("/editor/login", &[]).await.body;
    let login_token = hidden(&login_page, "token");
    let wrong =
        app.post_form("/editor/login", &[("name", "alice"), ("password", "nope"), ("token", &login_token)], &[]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok = app
        .post_form(
            "/editor/login",
            &[("name", "alice"), ("password", "correct horse battery"), ("token", &login_token)],
            &[],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let set_cookie = ok.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict") && !set_cookie.contains("Secure")
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let auth = [("cookie", cookie.as_str())];
    let queue = app.get("/editor", &auth).await.body;
    assert!(queue.contains(&rid) && queue.contains("fünfzehn"), "{queue}");
    let csrf = hidden(&queue, "csrf");

    // The edit form, then a correction linked to the report.
    let edit = app.get(&format!("/editor/stories/{story}/edit?lang=de&report={rid}"), &auth).await.body;
    assert!(edit.contains("Zwölf Menschen starben."));
    let no_csrf = app
        .post_form(
            &format!("/editor/stories/{story}/edit"),
            &[("lang", "de"), ("title", "t"), ("body", "b"), ("note", "n")],
            &auth,
        )
        .await;
    assert_eq!(no_csrf.status, StatusCode::BAD_REQUEST, "CSRF token required");
    let body = "35 Staaten trafen sich am Dienstag in Paris.\nFünfzehn Menschen starben.";
    let published = app
        .post_form(
            &format!("/editor/stories/{story}/edit"),
            &[
                ("lang", "de"),
                ("title", "Gipfel in Paris"),
                ("body", body),
                ("note", "Zahl der Toten korrigiert"),
                ("report", &rid),
                ("csrf", &csrf),
            ],
            &auth,
        )
        .await;
    assert_eq!(published.status, StatusCode::SEE_OTHER, "{}", published.body);

    // The reader sees revision 2, the diff and the report's status.
    let page = app.get(&format!("/stories/{story}?lang=de"), &[]).await.body;
    assert!(page.contains(">Fassung 2</a>") && page.contains("Bearbeitet von <strong>alice</strong>"), "{page}");
    assert!(page.contains("Fünfzehn Menschen starben.") && page.contains("von der Redaktion formuliert"));
    let history = app.get(&format!("/stories/{story}/revisions?lang=de"), &[]).await.body;
    assert!(history.contains("Zahl der Toten korrigiert") && history.contains(&rid));
    let diff = app.get(&format!("/stories/{story}/revisions/2?lang=de"), &[]).await.body;
    assert!(diff.contains("<del>") && diff.contains("<ins>") && diff.contains("Fünfzehn"), "{diff}");
    let report = app.get(&format!("/reports/{rid}?lang=de"), &[]).await.body;
    assert!(report.contains("angenommen") && report.contains("revisions/2"), "{report}");

    // Rejecting another report with a reason; the queue filters by status.
    let r2 = app
        .send(
            Request::post("/api/reports")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(format!(
                    r#"{{"story_id":{story},"lang":"en","kind":"translation","body":"Bad translation."}}"#
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(r2.status, StatusCode::CREATED, "{}", r2.body);
    let rid2 = serde_json::from_str::<serde_json::Value>(&r2.body).unwrap()["id"].as_str().unwrap().to_string();
    let rejected = app
        .post_form(
            &format!("/editor/reports/{rid2}"),
            &[("status", "rejected"), ("reason", "Die Übersetzung stimmt."), ("csrf", &csrf)],
            &auth,
        )
        .await;
    assert_eq!(rejected.status, StatusCode::SEE_OTHER);
    let api: serde_json::Value =
        serde_json::from_str(&app.get(&format!("/api/reports/{rid2}"), &[]).await.body).unwrap();
    assert_eq!((api["status"].as_str(), api["reason"].as_str()), (Some("rejected"), Some("Die Übersetzung stimmt.")));
    assert!(app.get("/editor?status=rejected", &auth).await.body.contains(&rid2));
    // Another site cannot post with the editor's cookie.
    let cross = app
        .post_form(
            &format!("/editor/reports/{rid2}"),
            &[("status", "accepted"), ("reason", "x"), ("csrf", &csrf)],
            &[("cookie", &cookie), ("origin", "https://evil.example"), ("host", "news.example")],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    // New sources: the machine's rewrite does not replace the correction; it waits.
    let mut machine =
        app.store.story_detail(story).unwrap().unwrap().articles.into_iter().find(|a| a.lang == "de").unwrap();
    machine.edited_by = "chorus".into();
    machine.title = "Gipfel in Paris: neue Quellen".into();
    app.store.put_story_texts(story, 0, &[machine.clone()]).unwrap();
    app.state.changed();
    assert!(
        app.get(&format!("/stories/{story}?lang=de"), &[]).await.body.contains(">Fassung 2</a>"),
        "correction stands"
    );
    let queue = app.get("/editor", &auth).await.body;
    assert!(
        queue.contains("Machine rewrites waiting") && queue.contains(&format!("/editor/stories/{story}/draft?lang=de"))
    );
    let review = app.get(&format!("/editor/stories/{story}/draft?lang=de"), &auth).await.body;
    assert!(review.contains("<ins>") && review.contains("Quellen"), "{review}");
    let draft_path = format!("/editor/stories/{story}/draft");
    let discard = app.post_form(&draft_path, &[("lang", "de"), ("action", "discard"), ("csrf", &csrf)], &auth).await;
    assert_eq!(discard.status, StatusCode::SEE_OTHER);
    assert!(!app.get("/editor", &auth).await.body.contains("Machine rewrites waiting"));
    app.store.put_story_texts(story, 0, &[machine]).unwrap();
    let publish = app.post_form(&draft_path, &[("lang", "de"), ("action", "publish"), ("csrf", &csrf)], &auth).await;
    assert_eq!(publish.status, StatusCode::SEE_OTHER);
    let page = app.get(&format!("/stories/{story}?lang=de"), &[]).await.body;
    assert!(page.contains(">Fassung 3</a>") && page.contains("neue Quellen"), "the rewrite is published");
    // Logging out ends the session.
    assert_eq!(app.post_form("/editor/logout", &[("csrf", &csrf)], &auth).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/editor", &auth).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn logins_and_reports_are_rate_limited() {
    let app = app();
    app.store
        .put_user("bob", &chorus_web::security::hash_password("a long password").unwrap(), chrono::Utc::now())
        .unwrap();
    let token = hidden(&app.get("/editor/login", &[]).await.body, "token");
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            app.post_form("/editor/login", &[("name", "bob"), ("password", "guess"), ("token", &token)], &[])
                .await
                .status,
        );
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5..], [StatusCode::TOO_MANY_REQUESTS; 2]);
    let right = app
        .post_form("/editor/login", &[("name", "bob"), ("password", "a long password"), ("token", &token)], &[])
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "locked even with the right password");

    let page = app.get(&format!("/stories/{}", app.story), &[]).await.body;
    let token = hidden(&page, "token");
    let path = format!("/stories/{}/reports", app.story);
    let mut codes = Vec::new();
    for i in 0..7 {
        let body = format!("Report number {i}.");
        codes.push(
            app.post_form(&path, &[("kind", "other"), ("body", &body), ("lang", "en"), ("token", &token)], &[])
                .await
                .status,
        );
    }
    assert_eq!(codes.iter().filter(|c| **c == StatusCode::SEE_OTHER).count(), 5, "{codes:?}");
    assert_eq!(codes[6], StatusCode::TOO_MANY_REQUESTS);
    let metrics = app.get("/metrics", &[]).await.body;
    for line in ["chorus_failed_logins_total 5", "chorus_reports_total 5", "chorus_rate_limited_total 5"] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn api_openapi_feeds_and_search() {
    let app = app();
    let doc: serde_json::Value = serde_json::from_str(&app.get("/api/openapi.json", &[]).await.body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with('3'));
    for path in ["/api/stories", "/api/stories/{id}", "/api/stories/{id}/revisions", "/api/reports", "/api/search"] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    assert!(doc["components"]["schemas"].get("StoryPageJson").is_some());
    let story: serde_json::Value =
        serde_json::from_str(&app.get(&format!("/api/stories/{}", app.story), &[]).await.body).unwrap();
    for key in ["summary", "sources", "articles", "views", "coverage", "related"] {
        assert!(story.get(key).is_some(), "missing {key}");
    }
    assert_eq!(story["coverage"]["countries"][0][0], "FR");
    assert_eq!(story["articles"][0]["revision"], 1);
    let missing = app.get("/api/stories/424242", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&missing.body).unwrap()["code"], "not_found");
    let revs: serde_json::Value =
        serde_json::from_str(&app.get(&format!("/api/stories/{}/revisions?lang=de", app.story), &[]).await.body)
            .unwrap();
    assert_eq!(revs[0]["revision"], 1);

    let feed = app.get("/feeds/de.atom", &[]).await;
    assert_eq!(feed.headers.get(header::CONTENT_TYPE).unwrap(), "application/atom+xml; charset=utf-8");
    let parsed: atom_syndication::Feed = feed.body.parse().unwrap();
    assert_eq!(parsed.entries().len(), 1);
    assert!(parsed.entries()[0].content().unwrap().value().unwrap().starts_with("<p>35 Staaten"));
    assert!(!feed.body.contains("<script>"), "titles escaped in XML");
    let story_feed: atom_syndication::Feed =
        app.get(&format!("/stories/{}/feed.atom?lang=en", app.story), &[]).await.body.parse().unwrap();
    assert_eq!(story_feed.entries().len(), 1);
    assert_eq!(app.get("/feeds/xx.atom", &[]).await.status, StatusCode::NOT_FOUND);
    // Absolute links and xml:base from an allowed Host (loopback is); a Host nobody
    // allowed gets site-relative links, and is not cached into the others' feed.
    let host = [("host", "127.0.0.1:8080")];
    let edition_xml = app.get("/feeds/de.atom", &host).await.body;
    let edition: atom_syndication::Feed = edition_xml.parse().unwrap();
    assert_eq!(edition.base(), Some("http://127.0.0.1:8080/"));
    let entry_link = edition.entries()[0].links()[0].href();
    assert_eq!(entry_link, format!("http://127.0.0.1:8080/stories/{}?lang=de", app.story));
    let forged: atom_syndication::Feed =
        app.get("/feeds/de.atom", &[("host", "evil.example")]).await.body.parse().unwrap();
    assert_eq!(forged.base(), None);
    assert!(forged.entries()[0].links()[0].href().starts_with("/stories/"));
    let story_xml = app.get(&format!("/stories/{}/feed.atom?lang=en", app.story), &host).await.body;
    let story_feed: atom_syndication::Feed = story_xml.parse().unwrap();
    for entry in story_feed.entries() {
        let href = entry.links()[0].href();
        let path = href.strip_prefix("http://127.0.0.1:8080").expect("absolute link");
        assert_eq!(app.get(path, &[]).await.status, StatusCode::OK, "{href} exists");
    }
    feedparser_reads_without_complaint(&[&edition_xml, &story_xml]);

    // Search, once the index has caught up.
    let index = app.state.search.clone().unwrap();
    let mut indexed = Default::default();
    assert_eq!(chorus_web::refresh_index(&app.state, &index, &mut indexed).await.unwrap(), 2);
    assert_eq!(chorus_web::refresh_index(&app.state, &index, &mut indexed).await.unwrap(), 0, "nothing changed");
    let page = app.get("/search?q=Gipfeltreffen&lang=de", &[]).await.body;
    assert!(page.contains("Gipfeltreffen in Paris") && page.contains("Tagesschau"), "{page}");
    let hits: serde_json::Value = serde_json::from_str(&app.get("/api/search?q=summits", &[]).await.body).unwrap();
    assert!(hits.as_array().unwrap().iter().any(|h| h["title"] == "Summit in Paris"), "{hits}");
}

#[tokio::test]
async fn bodies_are_limited_and_errors_say_nothing_of_internals() {
    let app = app();
    let huge = "x".repeat(chorus_web::MAX_BODY_BYTES + 1);
    let r = app.post_form(&format!("/stories/{}/reports", app.story), &[("kind", "other"), ("body", &huge)], &[]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let missing = app.get("/no/such/page", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Not found") && !missing.body.contains("panicked"));
    assert_eq!(app.get("/healthz", &[]).await.body, "ok");
    assert!(app.get("/metrics", &[]).await.body.contains("chorus_stories 2"));
    let css = app.get("/static/site.css", &[]).await;
    assert_eq!(css.headers.get(header::CONTENT_TYPE).unwrap(), "text/css; charset=utf-8");
}

/// The OpenAPI document states exactly what the API takes and answers: report kinds and
/// editions as enums, the body and source rules as the patterns the server applies, each
/// operation's error statuses from the one table, and a link from a filed report to it.
#[tokio::test]
async fn api_contract_is_exact() {
    use chorus_web::api::{ERROR_CODES, OPERATION_ERRORS, SOURCE_URL_PATTERN};
    let app = app();
    let doc: serde_json::Value = serde_json::from_str(&app.get("/api/openapi.json", &[]).await.body).unwrap();
    let schemas = &doc["components"]["schemas"];
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("an array: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(strings(&schemas["ReportKind"]["enum"]), chorus_store::REPORT_KINDS);
    let editions: serde_json::Value = serde_json::from_str(&app.get("/api/editions", &[]).await.body).unwrap();
    let edition_codes: Vec<String> =
        editions.as_array().unwrap().iter().map(|e| e["lang"].as_str().unwrap().to_string()).collect();
    assert_eq!(strings(&schemas["EditionLang"]["enum"]), edition_codes);
    let revisions_lang = doc["paths"]["/api/stories/{id}/revisions"]["get"]["parameters"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "lang"))
        .cloned()
        .unwrap_or_default();
    assert!(revisions_lang.to_string().contains("\"de\""), "the lang parameter lists the editions: {revisions_lang}");

    // The patterns of the document are the server's rules, character for character.
    let request = &schemas["ReportRequest"]["properties"];
    let url_pattern = request["source_url"]["pattern"].as_str().expect("source_url pattern");
    assert_eq!(url_pattern, SOURCE_URL_PATTERN);
    let body_pattern = regex::Regex::new(request["body"]["pattern"].as_str().expect("body pattern")).unwrap();
    let url = regex::Regex::new(url_pattern).unwrap();
    for body in ["abc", "  ab  ", "a b", "\ta\n", "ab", " \u{a0}\u{a0} ", "x\u{1c}y", "\r\n\r\n", "Zwölf, nicht 15."] {
        let accepted = chorus_web::reader::validate_report("factual", body, "", "de").is_ok();
        assert_eq!(accepted, body_pattern.is_match(body), "body {body:?}");
    }
    for source in
        ["https://example.org/a?b#c", "http://x", "ftp://x", "https://", "https://a b", "https://münchen.de/ü"]
    {
        let accepted = chorus_web::reader::validate_report("factual", "abc", source, "de").is_ok();
        assert_eq!(accepted, url.is_match(source), "source {source:?}");
    }

    // Each operation documents the errors it can answer, with the table's meanings.
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let id = operation["operationId"].as_str().unwrap();
            let (_, statuses) = OPERATION_ERRORS
                .iter()
                .find(|(op, _)| *op == id)
                .unwrap_or_else(|| panic!("{method} {path} ({id}) is missing from OPERATION_ERRORS"));
            for status in *statuses {
                let response = &operation["responses"][status.to_string()];
                let meaning = ERROR_CODES.iter().find(|(s, _, _)| s == status).unwrap().2;
                assert_eq!(response["description"], meaning, "{method} {path} {status}");
                assert_eq!(response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ApiError");
            }
        }
    }
    assert_eq!(operations, OPERATION_ERRORS.len());

    // Enums are enforced: an unknown kind or edition is refused before anything is stored.
    let post = |body: String| {
        Request::post("/api/reports").header(header::CONTENT_TYPE, "application/json").body(Body::from(body)).unwrap()
    };
    let story = app.story;
    for bad in [
        format!(r#"{{"story_id":{story},"lang":"de","kind":"","body":"Zwölf, nicht 15."}}"#),
        format!(r#"{{"story_id":{story},"lang":"xx","kind":"factual","body":"Zwölf, nicht 15."}}"#),
    ] {
        let refused = app.send(post(bad)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    }
    assert_eq!(app.get(&format!("/api/stories/{story}/revisions?lang=xx"), &[]).await.status, StatusCode::BAD_REQUEST);

    // The link from the 201 leads to the report just filed.
    let link = &doc["paths"]["/api/reports"]["post"]["responses"]["201"]["links"]["GetReport"];
    assert_eq!(link["operationId"], "report", "{link}");
    let pointer = link["parameters"]["id"].as_str().unwrap().trim_start_matches("$response.body#").to_string();
    let filed = app
        .send(post(format!(
            // `7.0` is an integer to JSON Schema, so the API takes it as one.
            r#"{{"story_id":{story}.0,"lang":"de","kind":"factual","body":"Zwölf, nicht 15.","source_url":"https://example.org/x"}}"#
        )))
        .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
    let created: serde_json::Value = serde_json::from_str(&filed.body).unwrap();
    let id = created.pointer(&pointer).and_then(|v| v.as_str()).expect("the link's parameter is in the body");
    let report = app.get(&format!("/api/reports/{id}"), &[]).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&report.body).unwrap()["source_url"], "https://example.org/x");
}
