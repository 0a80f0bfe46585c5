//! Standard output is the command's output only. Each `--json` command that needs the
//! embedding model runs on an empty model cache, so the model is fetched (pip) and, for
//! ONNX Runtime, exported (a Python script) by child processes during the command; their
//! progress must go to standard error and standard output must parse as one JSON object
//! (a script that pipes `chorus eval … --json` into `jq` on a fresh machine).

mod common;

use std::path::Path;

/// Runs `chorus ARGS` with an empty model cache of its own; returns standard output parsed
/// as exactly one JSON value, and standard error.
fn on_empty_cache(args: &[&str]) -> (serde_json::Value, String) {
    let cache = tempfile::tempdir().expect("tempdir");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(args)
        .env("CHORUS_CACHE_DIR", cache.path())
        .env_remove("CHORUS_MODEL_DIR")
        .env("CHORUS_THREADS", "1")
        .output()
        .expect("chorus runs");
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "chorus {args:?} failed: {stderr}");
    assert!(cache.path().join("models").is_dir(), "the model was fetched into the empty cache: {stderr}");
    let stdout = String::from_utf8(run.stdout).expect("UTF-8 on standard output");
    // `from_str` refuses anything before or after the one value.
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("chorus {args:?}: standard output is not one JSON value ({e}):\n{stdout}"));
    (value, stderr)
}

fn write_lines(path: &Path, lines: impl IntoIterator<Item = String>) {
    std::fs::write(path, lines.into_iter().collect::<Vec<_>>().join("\n")).expect("write input");
}

#[test]
fn eval_cluster_json_is_clean_on_an_empty_model_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("cluster.jsonl");
    // Global Voices posts of the demo data, one gold story per topic and day.
    let records = common::demo_records("global-voices.jsonl");
    write_lines(
        &input,
        records.into_iter().take(24).map(|mut r| {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            let parts: Vec<&str> = id.splitn(4, '-').collect();
            let day = parts.get(3).and_then(|d| d.get(..10)).unwrap_or_default();
            r["cluster"] = format!("{}-{day}", parts.get(2).copied().unwrap_or_default()).into();
            r.to_string()
        }),
    );
    let (scores, stderr) =
        on_empty_cache(&["eval", "cluster", "--json", "--input", input.to_str().unwrap_or_default()]);
    assert!(scores["bcubed"]["f1"].is_number(), "{scores}");
    assert!(!stderr.is_empty(), "the fetch reports on standard error");
}

#[test]
fn eval_synth_json_is_clean_on_an_empty_model_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("synth.jsonl");
    write_lines(&input, common::demo_synth_stories(2).iter().map(|s| serde_json::to_string(s).expect("serialises")));
    let (scores, _) = on_empty_cache(&["eval", "synth", "--json", "--input", input.to_str().unwrap_or_default()]);
    assert!(scores["rouge1"].is_number(), "{scores}");
}

#[test]
fn eval_translations_json_is_clean_on_an_empty_model_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("posts.jsonl");
    // The 14 Global Voices posts of 21–23 Feb 2011 (translations of each other among them).
    let corpus = common::real_corpus();
    write_lines(&input, corpus.lines().filter(|l| l.contains("\"gv-")).map(String::from));
    let (scores, _) =
        on_empty_cache(&["eval", "translations", "--json", "--input", input.to_str().unwrap_or_default()]);
    assert!(scores.is_object(), "{scores}");
}
