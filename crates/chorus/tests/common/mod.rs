//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// The research data folder: `$CHORUS_SHARED_DATA`, else `../shared/data` beside the repo.
pub fn shared_data() -> PathBuf {
    std::env::var_os("CHORUS_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

/// Global Voices posts of 21–23 Feb 2011 on Libya, in es/fr/it, read from the shared data
/// (the same post appears translated in all three), plus ITN blurbs of a few subjects.
#[allow(dead_code)]
pub fn real_corpus() -> String {
    let base = shared_data().join("ml-crisis-cl-tls");
    let manifest = std::fs::read_to_string(base.join("manifest.tsv")).expect("shared data present: ../shared/data");
    let outlets =
        [("es", "Global Voices en Español"), ("fr", "Global Voices en Français"), ("it", "Global Voices in Italiano")];
    let mut out = String::new();
    for line in manifest.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (path, lang, topic, date, origin) = (f[0], f[1], f[2], f[3], f[4]);
        if origin != "gv" || !(topic == "libya" || topic == "egypt") || !("2011-02-21"..="2011-02-23").contains(&date) {
            continue;
        }
        let text = std::fs::read_to_string(base.join(path)).expect("article readable");
        let outlet = outlets.iter().find(|(l, _)| *l == lang).map(|(_, o)| *o).unwrap_or("Global Voices");
        let n = Path::new(path).file_stem().and_then(|s| s.to_str()).and_then(|s| s.strip_prefix("gv_")).unwrap_or("x");
        let title: String = text.lines().find(|l| l.len() > 40).unwrap_or("").chars().take(120).collect();
        let rec = serde_json::json!({
            "id": format!("gv-{lang}-{topic}-{date}-{n}"), "url": format!("https://{lang}.globalvoices.org/"),
            "outlet": outlet, "lang": lang, "published": format!("{date}T12:00:00Z"), "title": title, "text": text,
        });
        out.push_str(&rec.to_string());
        out.push('\n');
    }
    let itn: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared_data().join("itn-corpus/corpus_dev.json")).expect("ITN corpus present"),
    )
    .expect("ITN corpus is JSON");
    let subjects = itn.as_object().expect("object of subjects");
    for (qid, blurbs) in subjects.iter().take(6) {
        for (ts, b) in blurbs.as_object().expect("blurbs").iter().take(6) {
            let secs: f64 = ts.parse().expect("timestamp");
            let published = chrono::DateTime::from_timestamp(secs as i64, 0).expect("valid time").to_rfc3339();
            let html = b["blurb"].as_str().unwrap_or("");
            let text = chorus_eval::datasets::strip_html(html);
            let rec = serde_json::json!({
                "id": format!("itn-{qid}-{}-{ts}", b["lang"].as_str().unwrap_or("x")), "url": format!("https://www.wikidata.org/wiki/{qid}"),
                "outlet": format!("Wikipedia ({})", b["lang"].as_str().unwrap_or("?")), "lang": b["lang"],
                "published": published, "title": b["keyword"], "text": text,
            });
            out.push_str(&rec.to_string());
            out.push('\n');
        }
    }
    out
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
