//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// The research data folder: `$CHORUS_SHARED_DATA`, else `../shared/data` beside the repo.
pub fn shared_data() -> PathBuf {
    std::env::var_os("CHORUS_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| beside_the_repository(Path::new(env!("CARGO_MANIFEST_DIR"))).join("shared/data"))
}

/// The folder that holds the repository (`crates/chorus` is two levels inside it).
fn beside_the_repository(manifest_dir: &Path) -> PathBuf {
    manifest_dir.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| manifest_dir.join("../../.."))
}

/// `part` of the research data folder (data that may not be redistributed, so not in the
/// repository), or `None` when it is missing: then one line on standard error names the
/// test, the folder and why it was skipped, written past the test harness's capture so a
/// plain `cargo test` shows it. With `CHORUS_REQUIRE_SHARED_DATA` set (`.ci/run` sets it)
/// a missing folder fails the test instead, so CI never passes on skipped tests.
#[allow(dead_code)]
pub fn research_data(part: &str, test: &str) -> Option<PathBuf> {
    let dir = shared_data().join(part);
    if dir.is_dir() {
        return Some(dir);
    }
    let line = format!(
        "skipped {test}: research data {} is not here (set CHORUS_SHARED_DATA to the folder that holds {part})",
        dir.display()
    );
    assert!(std::env::var_os("CHORUS_REQUIRE_SHARED_DATA").is_none(), "{line}");
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    None
}

/// The bundled demo data (`data/demo`, CC BY-SA / CC BY texts shipped with chorus).
#[allow(dead_code)]
pub fn demo_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo")
}

/// The bundled demo records of one file, as JSON objects.
#[allow(dead_code)]
pub fn demo_records(file: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(demo_data().join(file))
        .unwrap_or_else(|e| panic!("data/demo/{file} ships with the repository: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("demo record is JSON"))
        .collect()
}

/// Global Voices posts of 21–23 Feb 2011 on Libya and Egypt, in es/fr/it (the same post
/// appears translated in all three), plus the ITN blurbs of the first six subjects (six
/// each), from the bundled demo data: an ingest file of real, redistributable text.
#[allow(dead_code)]
pub fn real_corpus() -> String {
    let mut out = String::new();
    for rec in demo_records("global-voices.jsonl") {
        let id = rec["id"].as_str().unwrap_or_default();
        // gv-LANG-TOPIC-YYYY-MM-DD-N
        let parts: Vec<&str> = id.splitn(4, '-').collect();
        let (topic, rest) = (parts.get(2).copied().unwrap_or_default(), parts.get(3).copied().unwrap_or_default());
        let date = rest.get(..10).unwrap_or_default();
        if (topic == "libya" || topic == "egypt") && ("2011-02-21"..="2011-02-23").contains(&date) {
            out.push_str(&rec.to_string());
            out.push('\n');
        }
    }
    let mut subjects: Vec<String> = Vec::new();
    let mut per_subject: std::collections::HashMap<String, usize> = Default::default();
    for rec in demo_records("itn.jsonl") {
        // itn-QID-LANG-TIMESTAMP
        let subject = rec["id"].as_str().unwrap_or_default().split('-').nth(1).unwrap_or_default().to_string();
        if !subjects.contains(&subject) {
            if subjects.len() == 6 {
                continue;
            }
            subjects.push(subject.clone());
        }
        let n = per_subject.entry(subject).or_default();
        if *n < 6 {
            *n += 1;
            out.push_str(&rec.to_string());
            out.push('\n');
        }
    }
    out
}

/// `n` stories for `chorus eval synth` from the bundled Global Voices posts: the posts of
/// one topic and day form a story (translations of one post and its neighbours), the
/// first post is the reference and the others are the sources; the story is written in
/// the first source's language.
#[allow(dead_code)]
pub fn demo_synth_stories(n: usize) -> Vec<chorus_eval::synth::SynthStory> {
    let mut days: std::collections::BTreeMap<String, Vec<serde_json::Value>> = Default::default();
    for rec in demo_records("global-voices.jsonl") {
        let id = rec["id"].as_str().unwrap_or_default();
        let parts: Vec<&str> = id.splitn(4, '-').collect();
        let key = format!(
            "{}-{}",
            parts.get(2).copied().unwrap_or_default(),
            parts.get(3).and_then(|r| r.get(..10)).unwrap_or_default()
        );
        days.entry(key).or_default().push(rec);
    }
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    days.into_iter()
        .filter(|(_, recs)| recs.len() >= 3)
        .take(n)
        .map(|(key, recs)| chorus_eval::synth::SynthStory {
            id: format!("gv-{key}"),
            lang: text(&recs[1], "lang"),
            reference: chorus_eval::synth::Reference { title: text(&recs[0], "title"), text: text(&recs[0], "text") },
            sources: recs[1..]
                .iter()
                .map(|r| chorus_eval::synth::SynthSource {
                    id: text(r, "id"),
                    outlet: Some(text(r, "outlet")),
                    lang: Some(text(r, "lang")),
                    title: text(r, "title"),
                    text: text(r, "text"),
                })
                .collect(),
        })
        .collect()
}

/// An OpenAI-compatible chat endpoint on loopback that answers every request with
/// `answer(request JSON)` (scripted drafts; real HTTP, the product's real client). Runs
/// until the test process ends. Returns the base URL (`http://127.0.0.1:PORT/v1`).
#[allow(dead_code)]
pub fn scripted_endpoint(answer: impl Fn(&serde_json::Value) -> String + Send + Sync + 'static) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("address");
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let Ok(clone) = stream.try_clone() else { return };
                let mut reader = BufReader::new(clone);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let text = answer(&request);
                let reply = serde_json::json!({
                    "id": "chatcmpl-scripted", "object": "chat.completion", "model": "scripted",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
                })
                .to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    reply.len(),
                    reply
                );
            });
        }
    });
    format!("http://{addr}/v1")
}

/// The claims of a chat request (`[n] text (…)` lines of its last user message), as
/// (number, text).
#[allow(dead_code)]
pub fn claims_of(request: &serde_json::Value) -> Vec<(usize, String)> {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let user = messages.iter().find(|m| m["role"] == "user").and_then(|m| m["content"].as_str()).unwrap_or("");
    user.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix('[')?;
            let (n, text) = rest.split_once(']')?;
            Some((n.parse().ok()?, text.trim().to_string()))
        })
        .collect()
}

/// The edition language a chat request asks for ("German", "English", …).
#[allow(dead_code)]
pub fn asked_language(request: &serde_json::Value) -> String {
    let system = request["messages"][0]["content"].as_str().unwrap_or("");
    system.split("article in ").nth(1).and_then(|r| r.split([' ', ',', '.']).next()).unwrap_or("").to_string()
}
