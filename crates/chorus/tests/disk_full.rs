//! A data folder whose disk fills up, or that cannot be written, loses nothing: `chorus
//! ingest` and `chorus run` stop (or wait) with an error that names the folder, the
//! database passes SQLite's integrity check, nothing is half-stored, and the work carries
//! on once there is space again.
//!
//! The folder is a small tmpfs mounted in a private mount namespace (`unshare -rm`: no
//! root needed where user namespaces are allowed, and the mount vanishes with the test).
//! Where namespaces are not allowed the tests say so and skip — except in CI (`CI` set),
//! where they fail.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CHORUS: &str = env!("CARGO_BIN_EXE_chorus");

/// Whether this machine lets us mount a tmpfs in a private namespace; a skip line (or,
/// in CI, a failure) when not.
fn can_mount(test: &str) -> bool {
    let probe = tempfile::tempdir().expect("temp dir");
    let ok = Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs \"$1\"", "sh"])
        .arg(probe.path())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "{test}: cannot mount a tmpfs with `unshare -rm` here (CI must)");
        eprintln!("skipped {test}: `unshare -rm` cannot mount a tmpfs on this machine (user namespaces disallowed)");
    }
    ok
}

/// Runs `script` with bash in a private mount namespace, with `vars` in its environment
/// and two helpers: `step NAME CMD…` (stdout, stderr and status to `$OUT/NAME.*`) and
/// `db NAME` (integrity check and row counts of `$DATA/chorus.db` to `$OUT/NAME.db`).
fn in_namespace(script: &str, vars: &[(&str, &Path)]) -> std::process::Child {
    let helpers = r#"
set -u
step() { local name=$1; shift; "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"; echo $? >"$OUT/$name.rc"; }
db() {
  python3 - "$DATA/chorus.db" >"$OUT/$1.db" 2>&1 <<'PY'
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
count = lambda t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
print(json.dumps({"integrity": c.execute("PRAGMA integrity_check").fetchone()[0],
                  "articles": count("articles"), "vectors": count("article_vectors"),
                  "stories": count("stories"), "texts": count("story_texts")}))
PY
}
wait_for() { local i=0; while [ ! -e "$1" ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done; }
"#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-rm", "bash", "-c"]).arg(format!("{helpers}\n{script}"));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.env("CHORUS", CHORUS).env("CHORUS_THREADS", "1");
    cmd.spawn().expect("unshare runs")
}

/// A temporary folder with `data/` (where the tmpfs goes) and `out/` (what the script
/// reports, outside the tmpfs).
fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (data, out) = (tmp.path().join("data"), tmp.path().join("out"));
    std::fs::create_dir_all(&data).expect("data folder");
    std::fs::create_dir_all(&out).expect("out folder");
    (tmp, data, out)
}

fn read(out: &Path, name: &str) -> String {
    std::fs::read_to_string(out.join(name)).unwrap_or_default()
}

fn db_state(out: &Path, name: &str) -> serde_json::Value {
    let text = read(out, &format!("{name}.db"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}.db: {e}: {text}"))
}

#[test]
fn ingest_on_a_full_disk_names_the_folder_keeps_the_database_and_resumes() {
    if !can_mount("ingest_on_a_full_disk_names_the_folder_keeps_the_database_and_resumes") {
        return;
    }
    let (tmp, data, out) = scratch();
    // 150 articles of the bundled corpus; 1.2 MB hold them but not all their vectors and
    // stories: the disk fills while the command is half-way through its work.
    let records: Vec<serde_json::Value> = common::demo_records("global-voices.jsonl").into_iter().take(150).collect();
    let lines: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    let input = tmp.path().join("input.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let script = r#"
mount -t tmpfs -o size=1200k tmpfs "$DATA" || exit 90
step full "$CHORUS" ingest --data-dir "$DATA" "$INPUT"
db full
mount -o remount,size=64m "$DATA"
step resumed "$CHORUS" ingest --data-dir "$DATA" "$INPUT"
db resumed
mount -o remount,ro "$DATA"
step readonly "$CHORUS" ingest --data-dir "$DATA" "$INPUT"
"#;
    let status =
        in_namespace(script, &[("DATA", &data), ("OUT", &out), ("INPUT", &input)]).wait().expect("namespace script");
    assert!(status.success(), "namespace script: {status}");

    let err = read(&out, "full.err");
    assert_eq!(read(&out, "full.rc").trim(), "1", "a full disk fails the command: {err}");
    let folder = format!("the data folder {}", data.display());
    assert!(err.contains(&folder) && err.contains("no space is left"), "names the folder and the cause: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let full = db_state(&out, "full");
    assert_eq!(full["integrity"], "ok", "{full}");

    let err = read(&out, "resumed.err");
    assert_eq!(read(&out, "resumed.rc").trim(), "0", "{err}");
    let resumed = db_state(&out, "resumed");
    assert_eq!(resumed["integrity"], "ok", "{resumed}");
    // Every article of the input is stored once, every one embedded, and the stories
    // are written: what the first run did was complete and kept, the rest was done now.
    let ids = records.iter().filter_map(|r| r["id"].as_str()).collect::<std::collections::HashSet<_>>().len();
    assert_eq!(resumed["articles"], ids, "{resumed}");
    assert_eq!(resumed["vectors"], ids, "{resumed}");
    assert!(resumed["stories"].as_u64() > Some(0) && resumed["texts"].as_u64() > Some(0), "{resumed}");
    assert!(full["articles"].as_u64() <= resumed["articles"].as_u64(), "{full} {resumed}");
    assert!(full["vectors"].as_u64() < resumed["vectors"].as_u64(), "the disk filled before the work was done: {full}");

    let err = read(&out, "readonly.err");
    assert_eq!(read(&out, "readonly.rc").trim(), "1", "{err}");
    assert!(err.contains(&folder) && err.contains("cannot be written"), "names the folder and the cause: {err}");
}

/// An RSS feed of `n` demo articles (full texts, so no page is fetched).
fn feed_of(n: usize, base: &str) -> String {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut items = String::new();
    for (i, r) in common::demo_records("global-voices.jsonl").iter().take(n).enumerate() {
        let text = r["text"].as_str().unwrap_or_default();
        let title = r["title"].as_str().unwrap_or_default();
        items.push_str(&format!(
            "<item><title>{}</title><link>{base}/a/{i}</link><guid>{base}/a/{i}</guid><description>{}</description></item>\n",
            escape(title),
            escape(text)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Voices</title>\
         <link>{base}/</link>{items}</channel></rss>"
    )
}

/// Serves `feed` at `/feed.xml` on a loopback port (in a thread of its own); its address.
fn serve_feed(n: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let feed = feed_of(n, &base);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                feed.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(feed.as_bytes()));
        }
    });
    base
}

/// `GET path` on `addr` over plain HTTP/1.1: status and body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else { return (0, String::new()) };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    let status = reply.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, reply.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn run_keeps_serving_on_a_full_disk_and_catches_up_when_space_returns() {
    if !can_mount("run_keeps_serving_on_a_full_disk_and_catches_up_when_space_returns") {
        return;
    }
    let (_tmp, data, out) = scratch();
    let items = 120;
    let base = serve_feed(items);
    let feed: PathBuf = format!("{base}/feed.xml").into();
    let home: PathBuf = format!("{base}/").into();
    // The outlet fits; its 120 articles do not.
    let script = r#"
mount -t tmpfs -o size=640k tmpfs "$DATA" || exit 90
step outlet "$CHORUS" outlet add --data-dir "$DATA" --name Voices --homepage "$HOME_URL" --country FR \
  --lang es,fr,it --type private --feed "$FEED"
"$CHORUS" run --data-dir "$DATA" --allow-loopback --poll-seconds 1 --listen 127.0.0.1:0 \
  >"$OUT/run.out" 2>"$OUT/run.err" &
pid=$!
wait_for "$OUT/grow"
mount -o remount,size=64m "$DATA"
wait_for "$OUT/stop"
kill -TERM $pid
wait $pid
echo $? >"$OUT/run.rc"
db run
"#;
    let mut child = in_namespace(script, &[("DATA", &data), ("OUT", &out), ("FEED", &feed), ("HOME_URL", &home)]);
    let minute = Duration::from_secs(60);
    wait_until("the service to listen", 3 * minute, || read(&out, "run.out").contains("serving http://"));
    let addr =
        read(&out, "run.out").lines().next().unwrap_or_default().trim_start_matches("serving http://").to_string();
    let folder = format!("the data folder {}", data.display());
    wait_until("the full disk to be reported", 5 * minute, || {
        let err = read(&out, "run.err");
        err.contains(&folder) && err.contains("no space is left")
    });
    // Still serving, with nothing stored yet.
    let (status, body) = http_get(&addr, "/api/stories");
    assert_eq!((status, body.trim()), (200, "[]"), "the site stays up on a full disk");
    std::fs::write(out.join("grow"), "").unwrap();
    wait_until("stories once there is space", 5 * minute, || {
        let (status, body) = http_get(&addr, "/api/stories");
        status == 200 && body.trim() != "[]"
    });
    std::fs::write(out.join("stop"), "").unwrap();
    let status = child.wait().expect("namespace script");
    assert!(status.success(), "namespace script: {status}");
    let err = read(&out, "run.err");
    assert_eq!(read(&out, "run.rc").trim(), "0", "stops cleanly: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let state = db_state(&out, "run");
    assert_eq!(state["integrity"], "ok", "{state}");
    assert_eq!(state["articles"], items, "every item stored once: {state}");
}
