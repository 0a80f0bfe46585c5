//! Several chorus processes on one PostgreSQL database: two worker processes and one web
//! process write the same stories as one process alone; a worker killed with `kill -9` in
//! the middle of its work loses and duplicates nothing (its claims are taken again when
//! their lease runs out); killing the clustering leader hands clustering to the other.
//! Uses the bundled ITN blurbs (`data/demo/itn.jsonl`, CC BY-SA), no research data.

use chorus_store::prelude::*;
use chorus_store::testing::TestDatabase;
use chorus_store::{SqliteStore, Store};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const CHORUS: &str = env!("CARGO_BIN_EXE_chorus");

/// Blurbs of mid-sized subjects (10–60 blurbs each), split into a first and a later batch.
fn corpus(dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/itn.jsonl"))
        .expect("bundled ITN corpus");
    let subject = |line: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        v["id"].as_str().unwrap_or("").split('-').nth(1).unwrap_or("").to_string()
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for l in text.lines() {
        *counts.entry(subject(l)).or_default() += 1;
    }
    let mut picked: Vec<&str> = text.lines().filter(|l| (10..=60).contains(&counts[&subject(l)])).collect();
    picked.truncate(150);
    let (first, later) = picked.split_at(120);
    let write = |name: &str, lines: &[&str]| {
        let p = dir.join(name);
        std::fs::write(&p, lines.join("\n") + "\n").expect("write corpus");
        p
    };
    (write("first.jsonl", first), write("later.jsonl", later))
}

fn chorus(args: &[&str]) -> std::process::Output {
    let out = Command::new(CHORUS).args(args).env("CHORUS_THREADS", "1").output().expect("run chorus");
    assert!(out.status.success(), "chorus {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A `chorus run` process whose output goes to a log file.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn start(name: &str, dir: &Path, args: &[&str]) -> Process {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(CHORUS)
            .arg("run")
            .args(args)
            .env("CHORUS_THREADS", "1")
            .env("CHORUS_LOG", "info")
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start chorus run");
        Process { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: no clean-up of any kind.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sql_count(url: &str, sql: &str) -> i64 {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    c.query_one(sql, &[]).expect("query").get(0)
}

/// article id → story id.
fn partition(store: &dyn Store) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for s in store.story_summaries().expect("summaries") {
        for a in store.story_sources(s.id).expect("sources") {
            out.insert(a.article.id, s.id);
        }
    }
    out
}

/// BCubed F1 of `got` against `want` (both article → cluster).
fn bcubed_f1(want: &BTreeMap<String, i64>, got: &BTreeMap<String, i64>) -> f64 {
    fn members(p: &BTreeMap<String, i64>) -> HashMap<i64, Vec<&String>> {
        let mut m: HashMap<i64, Vec<&String>> = HashMap::new();
        for (a, s) in p {
            m.entry(*s).or_default().push(a);
        }
        m
    }
    let (mw, mg) = (members(want), members(got));
    let (mut p, mut r) = (0.0, 0.0);
    for (a, s) in got {
        let same_got = &mg[s];
        let same_want = &mw[&want[a]];
        let both = same_got.iter().filter(|b| want.get(**b) == Some(&want[a])).count() as f64;
        p += both / same_got.len() as f64;
        r += both / same_want.len() as f64;
    }
    let (p, r) = (p / got.len() as f64, r / got.len() as f64);
    2.0 * p * r / (p + r)
}

#[test]
fn workers_on_one_database_write_what_one_process_writes_and_survive_kill_9() {
    let Some(db) = TestDatabase::create() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let (first, later) = corpus(tmp.path());
    let (first_s, later_s) = (first.to_str().expect("utf-8"), later.to_str().expect("utf-8"));

    // The reference: one process, SQLite, everything in one go.
    let alone = tmp.path().join("alone");
    chorus(&["ingest", "--data-dir", alone.to_str().expect("utf-8"), first_s, later_s]);
    let reference = partition(&SqliteStore::open(&alone.join("chorus.db")).expect("open"));
    assert_eq!(reference.len(), 150);

    // Several processes: the articles are stored, workers do the rest.
    let shared = tmp.path().join("shared");
    let data = shared.to_str().expect("utf-8");
    let url = db.url.as_str();
    chorus(&["ingest", "--store-only", "--database", url, "--data-dir", data, first_s]);
    assert_eq!(sql_count(url, "SELECT COUNT(*) FROM articles"), 120);
    let worker = |name: &str, lease: &str| {
        let args = ["--roles", "embed,cluster,write", "--database", url, "--data-dir", data, "--poll-seconds", "1"];
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--lease-seconds", lease]);
        Process::start(name, tmp.path(), &all)
    };

    // A worker is killed with claims in hand: nothing it claimed may be lost.
    let mut doomed = worker("doomed", "4");
    wait_for("the first worker's claims", Duration::from_secs(120), || {
        sql_count(url, "SELECT COUNT(*) FROM work_leases") > 0
    });
    doomed.kill();
    let orphaned = sql_count(url, "SELECT COUNT(*) FROM work_leases");
    assert!(orphaned > 0, "the killed worker held claims");

    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let listen = format!("127.0.0.1:{port}");
    let web = Process::start(
        "web",
        tmp.path(),
        &["--roles", "web", "--database", url, "--data-dir", data, "--listen", &listen],
    );
    let mut a = worker("a", "4");
    let mut b = worker("b", "4");
    let settled = |url: &str| {
        sql_count(
            url,
            "SELECT COUNT(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM article_vectors v WHERE v.article_id = a.id)",
        ) == 0
            && sql_count(url, "SELECT COUNT(*) FROM articles WHERE story_id IS NULL") == 0
            && sql_count(url, "SELECT COUNT(*) FROM stories WHERE dirty") == 0
    };
    wait_for("the workers to embed, cluster and write everything", Duration::from_secs(600), || settled(url));
    assert_eq!(
        sql_count(url, "SELECT COUNT(*) FROM article_vectors"),
        120,
        "every article embedded once, the killed worker's included"
    );

    // The clustering leader dies; the other worker takes over for the later articles.
    let leader_log = |p: &Process| p.log().contains("leading clustering");
    wait_for("a clustering leader", Duration::from_secs(30), || leader_log(&a) || leader_log(&b));
    let (leader, survivor) = if leader_log(&a) { (&mut a, &b) } else { (&mut b, &a) };
    assert!(!leader_log(survivor), "one leader at a time:\n{}", survivor.log());
    leader.kill();
    chorus(&["ingest", "--store-only", "--database", url, "--data-dir", data, later_s]);
    wait_for("the survivor to lead and place the later articles", Duration::from_secs(600), || {
        settled(url) && sql_count(url, "SELECT COUNT(*) FROM articles") == 150
    });
    assert!(leader_log(survivor), "the survivor took over clustering:\n{}", survivor.log());

    // The same stories as one process.
    let store = chorus_store::PgStore::connect(url).expect("connect");
    let together = partition(&store);
    assert_eq!(together.len(), 150, "every article in a story");
    let stories = |p: &BTreeMap<String, i64>| p.values().collect::<std::collections::BTreeSet<_>>().len() as f64;
    let (n_alone, n_together) = (stories(&reference), stories(&together));
    let f1 = bcubed_f1(&reference, &together);
    eprintln!("stories: one process {n_alone}, workers {n_together}; BCubed F1 against one process {f1:.4}");
    // Vectors do not depend on their batch or thread count, and clustering does not depend
    // on how the articles were split into rounds: exactly the same stories.
    assert_eq!(n_together, n_alone, "story count");
    assert_eq!(f1, 1.0, "BCubed F1 {f1}");
    assert_eq!(sql_count(url, "SELECT COUNT(*) FROM work_leases"), 0, "every claim given back or taken over");

    // The web process serves what the workers wrote.
    let (id, summary) =
        store.story_summaries().expect("summaries").into_iter().map(|s| (s.id, s)).next().expect("a story");
    let page = http_get(port, &format!("/stories/{id}"));
    assert!(page.starts_with("HTTP/1.1 200"), "{}", &page[..page.len().min(300)]);
    let title = summary.title.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
    assert!(page.contains(&title) || page.contains(&summary.title), "the page shows the story");
    drop(web);
}

fn http_get(port: u16, path: &str) -> String {
    http(port, "GET", path, "")
}

fn http(port: u16, method: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to a web process");
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {firefox}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response");
    out
}

#[test]
fn two_web_processes_accept_each_others_forms_and_count_a_reader_once() {
    use chorus_store::{NewArticle, SiteStore};
    let Some(db) = TestDatabase::create() else { return };
    let store = chorus_store::PgStore::connect(&db.url).expect("connect");
    let article = chorus_core::Article {
        id: "a".into(),
        url: "https://example.org/a".into(),
        outlet: "Example".into(),
        lang: "en".into(),
        lang_detected: false,
        published: None,
        title: "Summit in Paris".into(),
        text: "Thirty-five nations met in Paris on Tuesday.".into(),
        authors: Vec::new(),
    };
    store
        .insert_articles(&[NewArticle {
            article: &article,
            content_hash: "h".into(),
            fingerprint: vec![],
            duplicate_of: None,
        }])
        .expect("insert");
    let id = store.assign(1, &[("a".into(), Err(0))]).expect("assign")[0];
    let text = chorus_core::StoryArticle {
        story_id: id,
        lang: "en".into(),
        title: "Summit in Paris".into(),
        edited_by: "chorus".into(),
        written_at: chrono::Utc::now(),
        paragraphs: vec![vec![chorus_core::SynthSentence::unsourced(
            "Thirty-five nations met in Paris on Tuesday.",
            "en",
        )]],
        unconfirmed: true,
        coverage: Default::default(),
        claims: vec![],
        disagreements: vec![],
        generation: None,
        revision: 0,
    };
    store.put_story_texts(id, 1, std::slice::from_ref(&text)).expect("texts");

    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().to_str().expect("utf-8");
    let web = |name: &str| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let listen = format!("127.0.0.1:{port}");
        let mut child = Command::new(CHORUS)
            .args(["run", "--roles", "web", "--database", &db.url, "--data-dir", data, "--listen", &listen])
            .env("CHORUS_SITE_SECRET", "one secret for the whole site")
            .stdout(std::fs::File::create(tmp.path().join(format!("{name}.log"))).expect("log"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start a web process");
        wait_for("the web process to listen", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let _ = &mut child;
        (Process { child, log: tmp.path().join(format!("{name}.log")) }, port)
    };
    let ((_a, pa), (_b, pb)) = (web("a"), web("b"));
    // Behind one port: a balancer that sends each connection to the next node in turn.
    let (port, served_by) = round_robin(vec![pa, pb]);
    // A reader opens the story (node a) and sends the report form it shows (node b,
    // which accepts what node a signed); then reads the story twice more (a, b).
    let page = http(port, "GET", &format!("/stories/{id}"), "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let token = page.split("name=\"token\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("a form token");
    let form = format!("kind=factual&body=It+was+thirty-six.&lang=en&token={token}");
    let answer = http(port, "POST", &format!("/stories/{id}/reports"), &form);
    assert!(answer.starts_with("HTTP/1.1 303"), "node b refused node a's form: {answer}");
    assert_eq!(store.reports(None, 10).expect("reports").len(), 1);
    for _ in 0..2 {
        assert!(http(port, "GET", &format!("/stories/{id}"), "").starts_with("HTTP/1.1 200"));
    }
    // Views are written in batches every few seconds, off the request path.
    wait_for("the views to be stored", Duration::from_secs(20), || store.story_views(id).is_ok_and(|n| n >= 1));
    std::thread::sleep(chorus_web::VIEW_FLUSH_EVERY * 2);
    assert_eq!(store.story_views(id).expect("views"), 1, "one reader, one view, whichever node served them");
    assert_eq!(*served_by.lock().expect("log"), [pa, pb, pa, pb], "the balancer alternated");

    // A text written elsewhere reaches both nodes' pages (NOTIFY empties their caches).
    let mut rewritten = text.clone();
    rewritten.paragraphs =
        vec![vec![chorus_core::SynthSentence::unsourced("Thirty-six nations met in Paris on Tuesday.", "en")]];
    store.put_story_texts(id, 1, &[rewritten]).expect("texts");
    for node in [pa, pb] {
        wait_for("the node to serve the new text", Duration::from_secs(20), || {
            http(node, "GET", &format!("/stories/{id}"), "").contains("Thirty-six nations")
        });
    }
}

/// A TCP balancer on a free port that hands each connection to the next of `backends`
/// in turn (as nginx or HAProxy would), and the backends it chose, in order.
fn round_robin(backends: Vec<u16>) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<u16>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("balancer port");
    let port = listener.local_addr().expect("addr").port();
    let chosen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = chosen.clone();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { continue };
            let backend = backends[n % backends.len()];
            log.lock().expect("log").push(backend);
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", backend)) else { continue };
            let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                })
            };
            let (c2, s2) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
            pipe(client, server);
            pipe(s2, c2);
        }
    });
    (port, chosen)
}
