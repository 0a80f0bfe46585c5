//! ingest → cluster → synthesise → HTTP → browser, on real data bundled in `data/demo`
//! with the real embedding model and a real SQLite file.

mod common;
use chorus_store::prelude::*;
use common::real_corpus;

use chorus::pipeline;
use chorus::settings::{Environment, Settings};
use chorus_embed::Embedder;
use chorus_store::{SiteStore, SqliteStore, Store};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};

fn embedder() -> &'static dyn Embedder {
    static E: OnceLock<Box<dyn Embedder>> = OnceLock::new();
    &**E.get_or_init(|| {
        chorus::service::load_embedder(&Settings::defaults(&Environment::of_process()).pipeline)
            .expect("model files fetched, verified and loaded (needs pip access once)")
    })
}

fn run_pipeline(store: &dyn Store, data_dir: &Path, corpus: &str) -> (pipeline::IngestReport, pipeline::ProcessReport) {
    let settings = Settings::with_data_dir(&Environment::of_process(), data_dir.to_path_buf());
    let mut dedup = pipeline::load_dedup_index(store).expect("dedup index");
    let ingest = pipeline::ingest_jsonl(store, corpus.as_bytes(), "test-corpus.jsonl", data_dir, &mut dedup, 0.8)
        .expect("ingest");
    let process = pipeline::process(store, embedder(), &settings.pipeline, None, &mut |_, _, _| {}).expect("process");
    (ingest, process)
}

/// Minimal HTTP/1.1 GET over loopback; returns (status, body).
fn http_get(addr: std::net::SocketAddr, path: &str, extra_header: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra_header}Connection: close\r\n\r\n").expect("send");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    let status: u16 = buf.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status line");
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

struct Server {
    addr: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
    _thread: std::thread::JoinHandle<()>,
}

/// Starts the real server on port 0 over `store` (Zero To Production's spawn_app).
fn spawn_app(store: Arc<dyn SiteStore>) -> Server {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addr_tx.send(listener.local_addr().expect("addr")).expect("send addr");
            let state = chorus_web::AppState::new(store, None, None, chorus_web::SiteConfig::default()).expect("state");
            chorus_web::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
    });
    Server { addr: addr_rx.recv().expect("server started"), _stop: tx, _thread: thread }
}

#[test]
fn real_multilingual_news_becomes_cited_story_pages() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(&tmp.path().join("chorus.db")).expect("open db"));
    let corpus = real_corpus();
    let n_lines = corpus.lines().count();
    assert!(n_lines > 30, "corpus has {n_lines} articles");
    let (ingest, process) = run_pipeline(store.as_ref(), tmp.path(), &corpus);
    assert_eq!(ingest.inserted, n_lines, "{:?}", ingest.issues);
    assert!(!ingest.has_errors());
    assert_eq!(process.embedded, n_lines);
    assert!(process.cluster.new_stories > 5);

    // The same Global Voices post, published in fr, it and es, is one story.
    let translated = ["gv-fr-libya-2011-02-21-0", "gv-it-libya-2011-02-22-9", "gv-es-libya-2011-02-23-2"];
    let stories: Vec<_> = translated
        .iter()
        .map(|id| store.article(id).expect("read").expect("stored").story_id.expect("clustered"))
        .collect();
    assert!(stories.iter().all(|s| *s == stories[0]), "translations split across stories {stories:?}");
    let detail = store.story_detail(stories[0]).expect("read").expect("story");
    assert!(detail.summary.languages.len() >= 3, "{:?}", detail.summary.languages);
    // Lists count independent reports as synthesis does: the translations fold into one.
    assert!(detail.summary.n_independent >= 2, "{:?}", detail.summary);
    assert!(detail.summary.n_independent < detail.summary.n_sources, "{:?}", detail.summary);
    assert!(detail.articles.iter().all(|a| a.coverage.independent >= detail.summary.n_independent));
    // Every written sentence is verbatim from one of its cited sources, in every edition.
    assert_eq!(detail.articles.len(), detail.summary.languages.len());
    for art in &detail.articles {
        assert!(!art.title.is_empty());
        assert_eq!(art.coverage.reports, detail.sources.len());
        assert!(
            art.coverage.independent < art.coverage.reports,
            "the post and its translations are one independent report: {:?}",
            art.coverage
        );
        assert_eq!(art.unconfirmed, art.coverage.independent <= 1);
        for s in art.paragraphs.iter().flatten() {
            let first = &s.sources[0];
            let src = detail.sources.iter().find(|r| r.article.id == first.article_id).expect("cited source in story");
            assert!(src.article.text.contains(&s.text), "sentence not verbatim from {}: {}", first.article_id, s.text);
            assert!(s.sources.iter().all(|p| detail.sources.iter().any(|r| r.article.id == p.article_id)));
        }
    }
    let fr = detail.articles.iter().find(|a| a.lang == "fr").expect("French edition");
    let fr_sentences = fr.paragraphs.iter().flatten().filter(|s| s.lang == "fr").count();
    assert!(fr_sentences * 2 > fr.paragraphs.iter().flatten().count(), "French edition prefers French wording");
    assert!(
        fr.claims.iter().any(|c| c.languages.len() >= 2 && c.n_independent < c.n_reports),
        "a claim shows the same sentence in its translations, which do not count as independent: {:?}",
        fr.claims
    );
    for s in fr.paragraphs.iter().flatten() {
        assert!(s.claim.is_some_and(|c| c < fr.claims.len()), "every sentence names its claim");
    }

    // Running again over the same data stores nothing twice.
    let before = store.stats().expect("stats");
    let (again, process2) = run_pipeline(store.as_ref(), tmp.path(), &corpus);
    assert_eq!((again.inserted, again.unchanged), (0, n_lines));
    assert_eq!(process2.embedded + process2.cluster.clustered + process2.synth.stories, 0);
    assert_eq!(store.stats().expect("stats"), before);

    // HTTP: the front page, the JSON API and the story page.
    let server = spawn_app(store.clone());
    let (status, body) = http_get(server.addr, "/api/stories", "");
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&body).expect("JSON list");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), before.stories);
    for key in ["id", "title", "languages", "n_sources", "n_independent"] {
        assert!(list[0].get(key).is_some(), "missing {key}");
    }
    let n_ind: Vec<u64> = list.iter().map(|s| s["n_independent"].as_u64().expect("number")).collect();
    assert!(n_ind.windows(2).all(|w| w[0] >= w[1]), "ranked by independent sources");
    let (status, body) = http_get(server.addr, &format!("/api/stories/{}", stories[0]), "");
    assert_eq!(status, 200);
    let one: Value = serde_json::from_str(&body).expect("JSON story");
    assert!(one["articles"][0]["paragraphs"][0][0]["sources"][0]["sentence"].is_string());
    let (status, html) =
        http_get(server.addr, &format!("/stories/{}", stories[0]), "Accept-Language: it-IT,it;q=0.9\r\n");
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"it\""), "Accept-Language picks the Italian edition");
    assert!(html.contains("A cura di <strong>chorus</strong>"), "Italian interface");
    assert!(html.contains("class=\"cite\""));
    assert!(html.contains("Global Voices en Français") && html.contains("Global Voices in Italiano"));
    let (status, _) = http_get(server.addr, "/stories/999999", "");
    assert_eq!(status, 404);
    let (status, front) = http_get(server.addr, "/", "");
    assert_eq!(status, 200);
    assert!(front.contains(&format!("href=\"/stories/{}?lang=en\"", stories[0])));

    // A real browser renders the story page.
    browser_check(server.addr, stories[0]);
}

/// Installs Debian's chromium through the project's setup script when it is missing, so
/// the README's test command needs nothing installed by hand.
fn ensure_chromium() {
    let present = || std::process::Command::new("chromium").arg("--version").output().is_ok_and(|o| o.status.success());
    if present() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup-system.sh");
    let status = std::process::Command::new("bash").arg(&script).status().expect("run scripts/setup-system.sh");
    assert!(status.success() && present(), "chromium is missing and scripts/setup-system.sh could not install it");
}

fn browser_check(addr: std::net::SocketAddr, story: i64) {
    if std::env::var_os("CHORUS_SKIP_BROWSER_TESTS").is_some() {
        eprintln!("CHORUS_SKIP_BROWSER_TESTS set: skipping the browser check");
        return;
    }
    ensure_chromium();
    let profile = tempfile::tempdir().expect("profile dir");
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("http://{addr}/stories/{story}?lang=es"))
        .output()
        .expect("Debian's chromium is installed (scripts/setup-system.sh); set CHORUS_SKIP_BROWSER_TESTS=1 to skip");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(dom.contains("<html lang=\"es\""), "rendered the Spanish edition: {}", &dom[..dom.len().min(500)]);
    assert!(dom.contains("id=\"sources-h\""), "sources list rendered");
    let markers = dom.matches("class=\"cite\"").count();
    let sentences = dom.matches("class=\"sentence\"").count();
    assert!(sentences > 0 && markers >= sentences, "{markers} markers for {sentences} sentences");
}

#[test]
fn bad_jsonl_lines_are_named_kept_and_the_rest_ingested() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("mixed.jsonl");
    let good = |id: &str, text: &str| {
        serde_json::json!({"id": id, "url": "https://example.org/", "outlet": "Test", "title": "t", "text": text})
            .to_string()
    };
    let lines = [
        good("g1", "Thousands marched in Cairo on Tuesday demanding the resignation of the president."),
        "{\"id\": \"broken\", \"text\": ".to_string(),
        serde_json::json!({"id": "empty", "url": "u", "outlet": "O", "lang": "en", "title": "t", "text": ""}).to_string(),
        serde_json::json!({"id": "g2", "url": "u", "outlet": "O", "lang": "english", "title": "t", "text": "Des milliers de manifestants ont défilé mardi au Caire pour réclamer la démission du président."}).to_string(),
        good("g1", "Another text under an id that is already used in this file."),
        good("g3", "Protesters in Tripoli gathered again on Wednesday as the government cut internet access."),
    ];
    std::fs::write(&input, lines.join("\n")).expect("write input");
    let data = tmp.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(["ingest", "--threads", "1", "--data-dir"])
        .arg(&data)
        .arg(&input)
        .output()
        .expect("run chorus");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit status says lines were rejected; stderr: {stderr}");
    assert!(stderr.contains("line 2: rejected: not a JSON article object"), "{stderr}");
    assert!(stderr.contains("line 3: rejected: empty \"text\""), "{stderr}");
    assert!(stderr.contains("line 4: warning: \"lang\" \"english\""), "{stderr}");
    assert!(stderr.contains("line 5: rejected: duplicate id: line 1"), "{stderr}");
    let store = SqliteStore::open(&data.join("chorus.db")).expect("db");
    for id in ["g1", "g2", "g3"] {
        let rec = store.article(id).expect("read").unwrap_or_else(|| panic!("{id} stored"));
        assert!(rec.story_id.is_some(), "{id} clustered");
    }
    assert_eq!(store.article("g2").expect("read").expect("g2").article.lang, "fr");
    // Nothing lost: the rejected lines are kept verbatim with their reasons.
    let rejected_dir = data.join("rejected");
    let files: Vec<_> = std::fs::read_dir(&rejected_dir).expect("rejected dir").collect();
    assert_eq!(files.len(), 1);
    let kept = std::fs::read_to_string(files[0].as_ref().expect("entry").path()).expect("read rejected");
    let kept: Vec<Value> = kept.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(kept.iter().map(|r| r["line"].as_u64().unwrap_or(0)).collect::<Vec<_>>(), [2, 3, 5]);
    assert_eq!(kept[0]["raw"], lines[1]);
}

/// Article id → the ids of its story's articles, for every clustered article.
fn story_partition(store: &dyn Store) -> std::collections::BTreeSet<Vec<String>> {
    let mut out = std::collections::BTreeSet::new();
    for s in store.story_summaries().expect("summaries") {
        let mut ids: Vec<String> =
            store.story_sources(s.id).expect("sources").into_iter().map(|r| r.article.id).collect();
        ids.sort();
        out.insert(ids);
    }
    out
}

/// Ingests `parts` (JSONL text each) one after another, each embedded and clustered in its
/// own call, as `chorus ingest` of one file after another does.
fn ingest_in_parts(data_dir: &Path, parts: &[&str]) -> SqliteStore {
    let store = SqliteStore::open(&data_dir.join("chorus.db")).expect("open");
    let settings = Settings::with_data_dir(&Environment::of_process(), data_dir.to_path_buf());
    for part in parts {
        let mut dedup = pipeline::load_dedup_index(&store).expect("dedup index");
        pipeline::ingest_jsonl(&store, part.as_bytes(), "part.jsonl", data_dir, &mut dedup, 0.8).expect("ingest");
        pipeline::embed_pending(&store, embedder(), settings.pipeline.lead_chars, |_, _| {}).expect("embed");
        pipeline::cluster_pending(&store, embedder().model_id(), embedder().dim(), settings.pipeline.cluster)
            .expect("cluster");
    }
    store
}

/// The bundled Global Voices posts (331 full-length articles, 14 languages) give the same
/// stories in one call as in two (its first 160 lines, then the rest), as a live service
/// receives them poll by poll.
#[test]
fn the_same_posts_give_the_same_stories_in_one_call_or_two() {
    let corpus = std::fs::read_to_string(common::demo_data().join("global-voices.jsonl")).expect("demo corpus");
    let lines: Vec<&str> = corpus.lines().collect();
    let (head, tail) = (lines[..160].join("\n") + "\n", lines[160..].join("\n") + "\n");
    let (one, two) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let whole = story_partition(&ingest_in_parts(one.path(), &[&corpus]));
    let split = story_partition(&ingest_in_parts(two.path(), &[&head, &tail]));
    assert_eq!(whole.iter().map(Vec::len).sum::<usize>(), lines.len(), "every post in a story");
    assert!(whole.len() > 50 && whole.len() < 300, "{} stories", whole.len());
    assert_eq!(whole, split, "one call gave {} stories, two calls {}", whole.len(), split.len());
}
