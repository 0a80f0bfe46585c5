//! The optional model writer, end to end through `chorus eval synth` on real stories from
//! the bundled demo data (Global Voices posts, `data/demo`):
//! an endpoint that is down leaves every article extractive (and says so); with the
//! `llama` feature, the pinned SmolLM2-135M writes, every kept sentence re-verifies against
//! its cited claims, and a second run is answered from the response cache.

mod common;

use std::path::{Path, PathBuf};

fn chorus(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(args)
        .env("CHORUS_THREADS", "1")
        .env_remove("CHORUS_LLM")
        .output()
        .expect("chorus runs")
}

/// `n` stories of the bundled demo data as an `eval synth` input file.
fn demo_input(dir: &Path, n: usize) -> PathBuf {
    let stories = common::demo_synth_stories(n);
    assert_eq!(stories.len(), n, "the demo data has {n} Global Voices days of three posts or more");
    let input = dir.join("synth.jsonl");
    let lines: Vec<String> = stories.iter().map(|s| serde_json::to_string(s).expect("serialises")).collect();
    std::fs::write(&input, lines.join("\n")).expect("write");
    input
}

fn eval(input: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "eval",
        "synth",
        "--json",
        "--threads",
        "1",
        "--input",
        input.to_str().unwrap_or_default(),
        "--out",
        out.to_str().unwrap_or_default(),
    ];
    args.extend_from_slice(extra);
    let run = chorus(&args);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("one JSON object ({e}): {stderr}"))
}

fn articles(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out)
        .expect("--out written")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line")["article"].clone())
        .collect()
}

#[test]
fn an_endpoint_that_is_down_leaves_the_extractive_articles_and_says_why() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = demo_input(tmp.path(), 3);
    let plain = eval(&input, &tmp.path().join("plain.jsonl"), &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let endpoint = format!("http://127.0.0.1:{port}/v1");
    let out = tmp.path().join("down.jsonl");
    let down = eval(
        &input,
        &out,
        &["--llm", "openai", "--llm-endpoint", &endpoint, "--llm-retries", "1", "--llm-timeout", "2", "--llm-no-cache"],
    );
    assert_eq!(down["llm"]["written"], 0, "{down}");
    assert_eq!(down["llm"]["fallbacks"], 3, "{down}");
    assert_eq!(down["llm"]["usage"]["failures"], 3, "{down}");
    for key in ["rouge1", "rouge2", "rougeL", "supported_share"] {
        assert_eq!(down[key], plain[key], "same extractive articles: {key}");
    }
    for a in articles(&out) {
        assert_eq!(a["generation"]["status"], "fallback");
        let error = a["generation"]["error"].as_str().unwrap_or_default();
        assert!(error.contains("unreachable") && error.contains(&port.to_string()), "{error}");
        assert_eq!(a["edited_by"], "chorus");
    }
}

#[cfg(feature = "llama")]
#[test]
fn smollm2_writes_verified_sentences_and_a_second_run_comes_from_the_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = demo_input(tmp.path(), 4);
    let cache = tmp.path().join("llm-cache");
    let run = |name: &str| {
        let out = tmp.path().join(name);
        let scores = chorus_cmd_with_cache(&input, &out, &cache);
        (scores, articles(&out))
    };
    let (first, written) = run("first.jsonl");
    let llm = &first["llm"];
    assert!(llm["model"].as_str().is_some_and(|m| m.contains("SmolLM2")), "{first}");
    assert_eq!(llm["written"].as_u64().unwrap_or(0) + llm["fallbacks"].as_u64().unwrap_or(0), 4, "{first}");
    assert!(llm["usage"]["prompt_tokens"].as_u64().is_some_and(|t| t > 100), "{first}");
    assert!(llm["usage"]["completion_tokens"].as_u64().is_some_and(|t| t > 10), "{first}");
    assert_eq!(llm["usage"]["cached"], 0);
    // Whatever the tiny model wrote, nothing unverified reaches the article: generated
    // sentences re-verify against their claims, the rest is quoted verbatim.
    assert_eq!(first["supported_share"].as_f64(), Some(1.0), "{first}");
    for a in &written {
        let g = &a["generation"];
        assert!(g["status"] == "written" || g["status"] == "fallback", "{g}");
        for s in a["paragraphs"].as_array().into_iter().flatten().flat_map(|p| p.as_array()).flatten() {
            if s["generated"] == true {
                assert_eq!(g["status"], "written");
                assert!(s["claims"].as_array().is_some_and(|c| !c.is_empty()), "{s}");
            }
        }
        for d in g["dropped"].as_array().into_iter().flatten() {
            assert!(!d["reason"].as_str().unwrap_or_default().is_empty(), "{d}");
        }
    }
    let (second, rewritten) = run("second.jsonl");
    assert_eq!(second["llm"]["usage"]["cached"], second["llm"]["usage"]["requests"], "{second}");
    assert_eq!(second["llm"]["usage"]["completion_tokens"], 0, "{second}");
    let paragraphs = |v: &[serde_json::Value]| v.iter().map(|a| a["paragraphs"].clone()).collect::<Vec<_>>();
    assert_eq!(paragraphs(&rewritten), paragraphs(&written), "the cache gives the same articles");
}

#[cfg(feature = "llama")]
fn chorus_cmd_with_cache(input: &Path, out: &Path, cache: &Path) -> serde_json::Value {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(["eval", "synth", "--json", "--threads", "1", "--llm", "llama", "--input"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .env("CHORUS_THREADS", "1")
        .env("CHORUS_LLM_CACHE_DIR", cache)
        .output()
        .expect("chorus runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("one JSON object ({e}): {stderr}"))
}
