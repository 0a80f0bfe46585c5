//! Live ingestion over real HTTP on loopback: a server in this process plays three
//! outlets' feeds (a good one with a teaser item whose page must be fetched and one whose
//! page is gone, a malformed one, a gone one). No item may be lost, every failure must be
//! recorded on its feed, and the next round must use conditional GET and the schedule.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chorus::live::poll_due;
use chorus_core::{Outlet, OutletKind};
use chorus_fetch::{FetchConfig, Fetcher};
use chorus_store::SqliteStore;
use chorus_store::prelude::*;
use std::time::Duration;

const LONG: &str = "Thirty-five leaders agreed on security guarantees for Ukraine in Paris on Tuesday. The guarantees include a multinational force and a ceasefire monitoring mechanism, according to the text adopted by the participants. A follow-up summit is planned in Rome next week, where defence ministers will detail each country's contribution. Observers called the agreement the most concrete step in months. Several governments still have to approve their share in parliament before troops can be sent.";

fn feed_xml(base: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Good Outlet</title><link>{base}/</link><language>en</language>
<item><title>Leaders agree in Paris</title><link>{base}/articles/1</link><guid>g1</guid><pubDate>Tue, 06 Jan 2026 18:30:00 +0000</pubDate><description>{LONG} The text also sets up a coordination cell in Paris. Its first report is due within a month, officials said. Talks on financing continue in Brussels on Friday.</description></item>
<item><title>Summit follow-up</title><link>{base}/articles/2</link><guid>g2</guid><pubDate>Tue, 06 Jan 2026 20:30:00 +0000</pubDate><description>Short teaser.</description></item>
<item><title>Vanished piece</title><link>{base}/articles/404</link><guid>g3</guid><pubDate>Tue, 06 Jan 2026 21:30:00 +0000</pubDate><description>Teaser of a page that is gone.</description></item>
</channel></rss>"#
    )
}

/// An outlet at `base` with one feed.
fn outlet(name: &str, base: &str, lang: &str, feed: &str) -> Outlet {
    Outlet {
        name: name.into(),
        homepage: format!("{base}/"),
        country: if lang == "fr" { "FR".into() } else { "GB".into() },
        languages: vec![lang.into()],
        kind: OutletKind::Private,
        feeds: vec![format!("{base}{feed}")],
    }
}

/// A fetcher that may reach the loopback test servers, without per-host spacing.
fn loopback_fetcher() -> Fetcher {
    Fetcher::new(FetchConfig { allow_loopback: true, per_host_interval: Duration::ZERO, ..FetchConfig::default() })
        .expect("fetcher")
}

async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let feed = feed_xml(&base);
    let latin_base = base.clone();
    let app = Router::new()
        .route(
            "/feed.xml",
            get(move |headers: HeaderMap| {
                let feed = feed.clone();
                async move {
                    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v == "\"f1\"") {
                        return StatusCode::NOT_MODIFIED.into_response();
                    }
                    ([(header::ETAG, "\"f1\""), (header::CONTENT_TYPE, "application/rss+xml")], feed).into_response()
                }
            }),
        )
        .route(
            "/articles/2",
            get(|| async {
                Html(format!(
                    "<html><head><title>Summit follow-up</title></head><body><nav>Home | World | Sport</nav>\
                     <article><h1>Summit follow-up</h1><p>{LONG}</p><p>Defence ministers will meet in Rome on Monday to set out the contributions.</p></article>\
                     <footer>Contact us</footer></body></html>"
                ))
            }),
        )
        .route("/broken.xml", get(|| async { "<rss><channel><item><title>unclosed" }))
        .route(
            "/latin.xml",
            get(move || {
                let base = latin_base.clone();
                async move {
                    let xml = format!("<rss version=\"2.0\"><channel><title>Caf\u{e9}</title><item><title>Cr\u{e8}me br\u{fb}l\u{e9}e</title><link>{base}/articles/latin</link><guid>l1</guid></item></channel></rss>");
                    let bytes: Vec<u8> = xml.chars().map(|c| c as u32 as u8).collect();
                    ([(header::CONTENT_TYPE, "application/rss+xml; charset=ISO-8859-1")], bytes)
                }
            }),
        )
        .route(
            "/articles/latin",
            get(|| async {
                let html = format!("<html><body><article><h1>Cr\u{e8}me</h1><p>{LONG} La cr\u{e8}me br\u{fb}l\u{e9}e \u{e9}tait d\u{e9}licieuse.</p></article></body></html>");
                let bytes: Vec<u8> = html.chars().map(|c| if (c as u32) < 256 { c as u32 as u8 } else { b'?' }).collect();
                ([(header::CONTENT_TYPE, "text/html; charset=iso-8859-1")], bytes)
            }),
        )
        .route("/gone.xml", get(|| async { Response::builder().status(410).body(axum::body::Body::empty()).unwrap_or_default() }));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    base
}

#[tokio::test]
async fn feeds_are_polled_teasers_fetched_failures_recorded_and_nothing_lost() {
    let base = serve().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&tmp.path().join("chorus.db")).expect("db");
    store
        .put_outlets(&[
            outlet("Good", &base, "en", "/feed.xml"),
            outlet("Broken", &base, "en", "/broken.xml"),
            outlet("Gone", &base, "en", "/gone.xml"),
        ])
        .expect("outlets");
    let fetcher = Fetcher::new(FetchConfig {
        allow_loopback: true,
        per_host_interval: Duration::ZERO,
        timeout: Duration::from_secs(5),
        ..FetchConfig::default()
    })
    .expect("fetcher");
    let mut dedup = chorus_text::dedup::DedupIndex::new();
    let now = chrono::Utc::now();
    let r = poll_due(&store, &fetcher, tmp.path(), &mut dedup, 0.8, now, &|| false).await.expect("poll");
    assert_eq!(r.feeds, 3, "{r:?}");
    assert_eq!((r.items, r.inserted, r.pages), (3, 3, 2), "{r:?}");
    assert_eq!(r.page_errors.len(), 1, "{r:?}");
    assert!(r.page_errors[0].contains("/articles/404") && r.page_errors[0].contains("404"), "{r:?}");
    assert_eq!(r.feed_errors.len(), 2, "{r:?}");
    assert!(r.feed_errors.iter().any(|e| e.contains("broken.xml") && e.contains("not a readable")), "{r:?}");
    assert!(r.feed_errors.iter().any(|e| e.contains("gone.xml") && e.contains("410")), "{r:?}");

    let full = store.article(&format!("{base}/articles/2")).expect("read").expect("stored");
    assert!(full.article.text.contains("Defence ministers will meet in Rome"), "page extracted: {}", full.article.text);
    assert!(!full.article.text.contains("Contact us"));
    assert_eq!(full.article.outlet, "Good");
    assert_eq!(full.article.lang, "en");
    let kept = store.article(&format!("{base}/articles/404")).expect("read").expect("stored");
    assert_eq!(kept.article.text, "Teaser of a page that is gone.", "the teaser is kept, not lost");

    // Nothing is due right after a poll; later the good feed answers 304 and nothing is
    // stored twice; the gone feed waits a week, the broken one backs off.
    let r = poll_due(&store, &fetcher, tmp.path(), &mut dedup, 0.8, now, &|| false).await.expect("poll");
    assert_eq!(r.feeds, 0, "{r:?}");
    let later = now + chrono::Duration::days(2);
    let due: Vec<String> = store.due_feeds(later).expect("due").into_iter().map(|f| f.url).collect();
    assert!(due.iter().any(|u| u.ends_with("/feed.xml")) && due.iter().any(|u| u.ends_with("/broken.xml")));
    assert!(!due.iter().any(|u| u.ends_with("/gone.xml")), "410 waits a week: {due:?}");
    let r = poll_due(&store, &fetcher, tmp.path(), &mut dedup, 0.8, later, &|| false).await.expect("poll");
    assert_eq!((r.not_modified, r.inserted), (1, 0), "{r:?}");
    let broken = store.due_feeds(later + chrono::Duration::days(30)).expect("due");
    let b = broken.iter().find(|f| f.url.ends_with("/broken.xml")).expect("broken feed");
    assert_eq!(b.error_count, 2);
    assert!(b.last_error.as_deref().is_some_and(|e| e.contains("not a readable")));
    assert_eq!(store.stats().expect("stats").articles, 3);

    // A stop request is honoured between feeds.
    let r = poll_due(&store, &fetcher, tmp.path(), &mut dedup, 0.8, later + chrono::Duration::days(30), &|| true)
        .await
        .expect("poll");
    assert_eq!(r.feeds, 0);
}

/// `chorus run --once` end to end: outlets added by the CLI, feeds polled over loopback,
/// articles embedded, clustered and written; a second run adds nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chorus_run_once_ingests_and_writes_stories_and_restarts_without_duplicates() {
    let base = serve().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let cli = |args: Vec<String>| {
        let data = data.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
                    .args(&args)
                    .arg("--data-dir")
                    .arg(&data)
                    .env("CHORUS_THREADS", "1")
                    .env_remove("CHORUS_LLM")
                    .output()
                    .expect("chorus runs")
            })
            .await
            .expect("joined")
        }
    };
    let add = cli(vec![
        "outlet".into(),
        "add".into(),
        "--name".into(),
        "Good".into(),
        "--homepage".into(),
        format!("{base}/"),
        "--country".into(),
        "GB".into(),
        "--lang".into(),
        "en".into(),
        "--type".into(),
        "private".into(),
        "--feed".into(),
        format!("{base}/feed.xml"),
    ])
    .await;
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    let run = || cli(vec!["run".into(), "--once".into(), "--allow-loopback".into()]);
    let first = run().await;
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{log}");
    assert!(log.contains("inserted=3"), "{log}");
    assert!(log.contains("stories_written="), "{log}");
    let second = run().await;
    let log = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{log}");
    assert!(log.contains("feeds=0") || log.contains("inserted=0"), "{log}");
    let store = SqliteStore::open(&data.join("chorus.db")).expect("db");
    let stats = store.stats().expect("stats");
    assert_eq!(stats.articles, 3);
    assert!(stats.stories >= 1 && stats.story_texts >= 1, "{stats:?}");
}

/// `chorus run` serves the site while polling, and SIGTERM stops it cleanly.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chorus_run_serves_and_stops_on_sigterm() {
    use std::io::BufRead;
    let base = serve().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let store = SqliteStore::open(&{
        std::fs::create_dir_all(&data).expect("mkdir");
        data.join("chorus.db")
    })
    .expect("db");
    store.put_outlets(&[outlet("Good", &base, "en", "/feed.xml")]).expect("outlet");
    drop(store);
    let result = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
            .args(["run", "--allow-loopback", "--listen", "127.0.0.1:0", "--poll-seconds", "3600", "--data-dir"])
            .arg(&data)
            .env("CHORUS_THREADS", "1")
            .env_remove("CHORUS_LLM")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chorus starts");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let serving = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(serving.starts_with("serving http://127.0.0.1:"), "{serving}");
        let addr = serving.trim_start_matches("serving http://").to_string();
        // The site answers while the service runs.
        let mut ok = false;
        for _ in 0..50 {
            if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                use std::io::{Read, Write};
                let _ = write!(s, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                ok = buf.starts_with("HTTP/1.1 200");
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // /metrics shows the first polling round once it is done.
        let get = |path: &str| -> String {
            use std::io::{Read, Write};
            let Ok(mut s) = std::net::TcpStream::connect(&addr) else { return String::new() };
            let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            buf
        };
        let mut metrics = String::new();
        for _ in 0..100 {
            metrics = get("/metrics");
            if metrics.contains("chorus_poll_rounds_total 1") {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(killed.is_ok_and(|s| s.success()));
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        (ok, status, rest, metrics)
    })
    .await
    .expect("joined");
    let (healthy, status, rest, metrics) = result;
    assert!(metrics.contains("chorus_poll_rounds_total 1"), "{metrics}");
    assert!(metrics.contains("chorus_fetches_total{host=\"127.0.0.1\"}"), "{metrics}");
    assert!(metrics.contains("chorus_page_errors_total 1"), "{metrics}");
    assert!(metrics.contains("chorus_articles_ingested_total 3"), "{metrics}");
    assert!(healthy, "the site answered /healthz");
    assert!(status.is_some_and(|s| s.success()), "stopped cleanly on SIGTERM: {status:?}");
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
}

/// A feed and a page in ISO-8859-1, declared only in the HTTP header, come out right.
#[tokio::test]
async fn charsets_declared_in_http_headers_are_honoured() {
    let base = serve().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&tmp.path().join("chorus.db")).expect("db");
    store.put_outlets(&[outlet("Latin", &base, "fr", "/latin.xml")]).expect("outlet");
    let fetcher = loopback_fetcher();
    let mut dedup = chorus_text::dedup::DedupIndex::new();
    let r = poll_due(&store, &fetcher, tmp.path(), &mut dedup, 0.8, chrono::Utc::now(), &|| false).await.expect("poll");
    assert_eq!(r.inserted, 1, "{r:?}");
    let a = store.article(&format!("{base}/articles/latin")).expect("read").expect("stored");
    assert_eq!(a.article.title, "Crème brûlée");
    assert!(a.article.text.contains("La crème brûlée était délicieuse."), "{}", a.article.text);
}

/// Sources change after publication: 24 hours and 7 days after storing an article chorus
/// fetches it again, records an edit (keeping the old text) or its removal, and rewrites
/// the story.
#[tokio::test]
async fn edited_and_removed_sources_are_found_on_recheck() {
    use std::sync::{Arc, Mutex};
    let page = Arc::new(Mutex::new((200u16, format!("<p>{LONG} The toll stood at 12 dead.</p>"))));
    let served = page.clone();
    let app = Router::new()
        .route(
            "/feed.xml",
            get(|| async {
                "<rss version=\"2.0\"><channel><title>E</title><item><title>Toll</title><link>/story</link><guid>s1</guid><description>Teaser.</description></item></channel></rss>"
            }),
        )
        .route(
            "/story",
            get(move || {
                let (status, body) = served.lock().expect("lock").clone();
                async move {
                    let mut r = Html(format!("<html><body><article><h1>Toll</h1>{body}</article></body></html>")).into_response();
                    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                    r
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&tmp.path().join("chorus.db")).expect("db");
    store.put_outlets(&[outlet("E", &base, "en", "/feed.xml")]).expect("outlet");
    let fetcher = loopback_fetcher();
    let mut dedup = chorus_text::dedup::DedupIndex::new();
    let now = chrono::Utc::now();
    let r = poll_due(&store, &fetcher, tmp.path(), &mut dedup, 0.8, now, &|| false).await.expect("poll");
    assert_eq!(r.inserted, 1);
    let id = format!("{base}/story");
    assert!(store.article(&id).expect("read").expect("stored").article.text.contains("12 dead"));
    let recheck = |at| chorus::live::recheck_due(&store, &fetcher, at, &|| false);
    assert_eq!(recheck(now).await.expect("recheck").checked, 0, "not due yet");

    // After a day: unchanged. After a week: edited, the figure corrected.
    let day = now + chrono::Duration::hours(25);
    let r = recheck(day).await.expect("recheck");
    assert_eq!((r.checked, r.unchanged), (1, 1), "{r:?}");
    page.lock().expect("lock").1 = format!("<p>{LONG} The toll stood at 15 dead.</p>");
    assert_eq!(recheck(day + chrono::Duration::days(1)).await.expect("recheck").checked, 0, "next check a week in");
    let week = day + chrono::Duration::days(7);
    let r = recheck(week).await.expect("recheck");
    assert_eq!((r.checked, r.changed), (1, 1), "{r:?}");
    let stored = store.article(&id).expect("read").expect("stored");
    assert!(stored.article.text.contains("15 dead") && !stored.article.text.contains("12 dead"));
    let revisions = store.article_revisions(&id).expect("revisions");
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].status, "changed");
    assert!(revisions[0].old_body.contains("12 dead"));
    assert!(
        revisions[0].detail.contains("\"12\"") && revisions[0].detail.contains("\"15\""),
        "{}",
        revisions[0].detail
    );
    assert_eq!(recheck(week + chrono::Duration::days(30)).await.expect("recheck").checked, 0, "two checks, then none");

    // The same source ingested elsewhere, taken down before its first check.
    let other = tmp.path().join("other.db");
    let store2 = SqliteStore::open(&other).expect("db");
    store2.put_outlets(&store.outlets().expect("outlets")).expect("outlets");
    let mut dedup2 = chorus_text::dedup::DedupIndex::new();
    page.lock().expect("lock").0 = 200;
    poll_due(&store2, &fetcher, tmp.path(), &mut dedup2, 0.8, now, &|| false).await.expect("poll");
    page.lock().expect("lock").0 = 410;
    let r = chorus::live::recheck_due(&store2, &fetcher, day, &|| false).await.expect("recheck");
    assert_eq!((r.checked, r.vanished), (1, 1), "{r:?}");
    let revisions = store2.article_revisions(&id).expect("revisions");
    assert_eq!(revisions[0].status, "vanished");
    assert!(revisions[0].detail.contains("410"));
}
