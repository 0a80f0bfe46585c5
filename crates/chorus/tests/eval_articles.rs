//! `chorus eval articles` and `chorus eval translations` as a script uses them: on bundled
//! data the JSON on standard output parses and shows one language per edition and no
//! repeated fact; a missing database or a broken input line is a clear error, not a panic.

use std::process::Command;

fn chorus(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(args)
        .env("CHORUS_THREADS", "1")
        .env_remove("CHORUS_LLM")
        .env_remove("CHORUS_DATA_DIR")
        .output()
        .expect("chorus runs")
}

#[test]
fn articles_of_a_data_folder_are_scored_as_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let corpus =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/itn.jsonl"))
            .expect("bundled demo corpus");
    let input = tmp.path().join("itn.jsonl");
    std::fs::write(&input, corpus.lines().take(120).collect::<Vec<_>>().join("\n")).expect("write");
    let data = tmp.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path");
    let ingest = chorus(&["ingest", "--threads", "1", "--data-dir", data_arg, input.to_str().expect("utf-8 path")]);
    assert!(ingest.status.success(), "{}", String::from_utf8_lossy(&ingest.stderr));
    let run = chorus(&["eval", "articles", "--json", "--data-dir", data_arg]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let scores: serde_json::Value =
        serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("stdout is one JSON object ({e}): {stderr}"));
    assert!(scores["editions"].as_u64().is_some_and(|n| n > 0), "{scores}");
    assert_eq!(scores["redundant_pairs"], 0, "{scores}");
    assert_eq!(scores["edition_language_share"].as_f64(), Some(1.0), "{scores}");
    assert_eq!(scores["truncated_headlines"], 0, "{scores}");
    for key in ["mean_words_by_independent", "disagreements_per_story"] {
        assert!(!scores[key].is_null(), "{key} in {scores}");
    }
}

#[test]
fn a_missing_database_or_a_broken_line_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let empty = tmp.path().join("nothing-here");
    let run = chorus(&["eval", "articles", "--data-dir", empty.to_str().expect("utf-8 path")]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("no chorus database") && stderr.contains("nothing-here"), "{stderr}");
    assert!(!empty.exists(), "nothing created where nothing was");
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"id\": \"gv-fr-libya-2011-02-21-0\", \"lang\": \"fr\"}\n").expect("write");
    let run = chorus(&["eval", "translations", "--input", bad.to_str().expect("utf-8 path")]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("bad.jsonl:1:"), "names the file and line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
