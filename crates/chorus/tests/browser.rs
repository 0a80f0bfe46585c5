//! The site in a real browser: `chorus ingest` over real multilingual news, `chorus user
//! add`, `chorus serve` on port 0, then Debian's chromium driven by playwright-core
//! (`e2e/reader_editor.mjs`) with JavaScript off: a reader opens a story, expands a
//! citation and files a report; an editor logs in, accepts it and publishes a revision;
//! the reader sees revision 2, the diff and the report's status; a German reader gets a
//! story without German sources in one other language with the notice, and the German
//! edition a scripted model (OpenAI-compatible, on loopback) wrote with "machine-translated"
//! on its citations. Screenshots land in `target/tmp/e2e-screenshots/`.

mod common;
use chorus_store::prelude::*;
use common::{asked_language, claims_of, real_corpus, scripted_endpoint};

use chorus_store::SqliteStore;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Installs what the browser test needs through the project's setup script (chromium,
/// node, npm) and playwright-core from the lockfile, when missing.
fn ensure_tools() {
    let present = |cmd: &str| Command::new(cmd).arg("--version").output().is_ok_and(|o| o.status.success());
    if !(present("chromium") && present("node") && present("npm")) {
        let status = Command::new("bash").arg(repo().join("scripts/setup-system.sh")).status().expect("run setup");
        assert!(status.success(), "scripts/setup-system.sh could not install chromium, node and npm");
    }
    let e2e = repo().join("e2e");
    if !e2e.join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&e2e)
            .status()
            .expect("run npm ci in e2e/");
        assert!(status.success(), "npm ci in e2e/ failed (needs the npm registry once)");
    }
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn reader_and_editor_in_a_real_browser() {
    if std::env::var_os("CHORUS_SKIP_BROWSER_TESTS").is_some() {
        eprintln!("CHORUS_SKIP_BROWSER_TESTS set: skipping the browser test");
        return;
    }
    ensure_tools();
    let chorus = env!("CARGO_BIN_EXE_chorus");
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let corpus = tmp.path().join("corpus.jsonl");
    std::fs::write(&corpus, real_corpus()).expect("write corpus");
    // A scripted model on loopback writes the German edition of the Libya story (no German
    // source) from its first two claims, with a "translation" of each; it declines every
    // other request, so other stories keep their source-language editions.
    let endpoint = scripted_endpoint(|request| {
        let claims = claims_of(request);
        let libya = claims.iter().any(|(_, t)| {
            let t = t.to_lowercase();
            ["liby", "libia", "libye", "kadhafi", "gheddafi", "gadafi", "tripoli", "bengasi", "benghazi"]
                .iter()
                .any(|k| t.contains(k))
        });
        if asked_language(request) != "German" || !libya {
            return "Sorry.".into();
        }
        let used: Vec<&(usize, String)> = claims.iter().take(2).collect();
        let text = |t: &str| t.rsplit_once(" (").map_or(t, |(s, _)| s).to_string();
        let mut answer = String::from("TRANSLATIONS\n");
        for (n, t) in &used {
            answer.push_str(&format!("[{n}] Maschinelle Übersetzung (Test): {}\n", text(t)));
        }
        answer.push_str("ARTICLE\nLibyen: Proteste gegen Gaddafi\n");
        for (n, t) in &used {
            answer.push_str(&format!("{} [{n}]\n", text(t)));
        }
        answer
    });
    let out = Command::new(chorus)
        .args(["ingest", "--threads", "1", "--llm", "openai", "--llm-endpoint", &endpoint, "--llm-no-cache"])
        .args(["--llm-retries", "0", "--editions", "de", "--data-dir"])
        .arg(&data)
        .arg(&corpus)
        .env_remove("CHORUS_LLM")
        .output()
        .expect("run chorus ingest");
    assert!(out.status.success(), "ingest failed: {}", String::from_utf8_lossy(&out.stderr));

    let password = "a long editor password";
    let mut add = Command::new(chorus)
        .args(["user", "add", "--data-dir"])
        .arg(&data)
        .arg("redaktion")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run chorus user add");
    writeln!(add.stdin.take().expect("stdin"), "{password}").expect("write password");
    let added = add.wait_with_output().expect("user add finished");
    assert!(added.status.success() && String::from_utf8_lossy(&added.stdout).contains("editor redaktion created"));
    let short = Command::new(chorus)
        .args(["user", "add", "--data-dir"])
        .arg(&data)
        .arg("x")
        .stdin(Stdio::null())
        .output()
        .expect("run chorus user add");
    assert!(!short.status.success() && String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));

    // The Global Voices post on Libya and its translations form one story; another story
    // has neither a German source nor a German edition.
    let (story, foreign) = {
        let store = SqliteStore::open(&data.join("chorus.db")).expect("open db");
        let story =
            store.article("gv-fr-libya-2011-02-21-0").expect("read").expect("stored").story_id.expect("clustered");
        let detail = store.story_detail(story).expect("read").expect("story");
        let langs: Vec<&str> = detail.articles.iter().map(|a| a.lang.as_str()).collect();
        assert!(langs.contains(&"de"), "the scripted model wrote a German edition: {langs:?}");
        let foreign = store
            .story_summaries()
            .expect("summaries")
            .into_iter()
            .filter(|s| s.id != story && !s.languages.iter().any(|l| l == "de") && !s.titles.contains_key("de"))
            .max_by_key(|s| s.languages.len())
            .expect("a story without German")
            .id;
        (story, foreign)
    };

    let mut child = Command::new(chorus)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run chorus serve");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("read serve output");
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).expect("serving address").to_string();

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-screenshots");
    let out = Command::new("node")
        .arg(repo().join("e2e/reader_editor.mjs"))
        .args([base.as_str(), &story.to_string(), "redaktion", password])
        .arg(&shots)
        .arg(foreign.to_string())
        .output()
        .expect("run node");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    drop(server);
    println!("{log}");
    assert!(out.status.success(), "browser test failed:\n{log}");
    assert!(log.contains("all browser checks passed"));
    assert!(shots.join("6-diff.png").exists(), "screenshots written to {}", shots.display());
}
