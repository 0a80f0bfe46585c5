//! `chorus eval synth` and `chorus dataset neus-synth` on real data from `../shared/data`
//! (skipped, with a line saying so, where that folder is missing).

mod common;
use common::research_data;

fn chorus(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(args)
        .env("CHORUS_THREADS", "1")
        .output()
        .expect("chorus runs")
}

#[test]
fn neus_stories_are_written_scored_and_traced() {
    let Some(neus) = research_data("neus-allsides", "neus_stories_are_written_scored_and_traced") else { return };
    let stories = chorus_eval::datasets::neus_synth(&neus, "val").expect("NeuS val converts");
    assert_eq!(stories.len(), 307);
    assert!(stories.iter().all(|s| (2..=3).contains(&s.sources.len()) && !s.reference.text.is_empty()));
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("synth.jsonl");
    let lines: Vec<String> = stories.iter().take(12).map(|s| serde_json::to_string(s).expect("serialises")).collect();
    std::fs::write(&input, lines.join("\n")).expect("write");
    let out_file = tmp.path().join("out.jsonl");
    let out = chorus(&[
        "eval",
        "synth",
        "--json",
        "--threads",
        "1",
        "--input",
        input.to_str().unwrap_or_default(),
        "--out",
        out_file.to_str().unwrap_or_default(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let scores: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for key in ["rouge1", "rouge2", "rougeL", "supported_share", "mean_words", "stories_per_s"] {
        assert!(scores[key].as_f64().is_some(), "JSON has {key}: {scores}");
    }
    assert!(scores["rouge1"].as_f64().is_some_and(|r| r > 0.25 && r < 1.0), "{scores}");
    assert!(scores["rouge2"].as_f64().is_some_and(|r| r > 0.05), "{scores}");
    assert_eq!(scores["supported_share"].as_f64(), Some(1.0), "every sentence traces to its source");
    let written = std::fs::read_to_string(&out_file).expect("--out written");
    let generated: Vec<serde_json::Value> =
        written.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(generated.len(), 12);
    for (g, story) in generated.iter().zip(&stories) {
        assert_eq!(g["id"].as_str(), Some(story.id.as_str()));
        let sentences: Vec<&serde_json::Value> =
            g["article"]["paragraphs"].as_array().into_iter().flatten().flat_map(|p| p.as_array()).flatten().collect();
        assert!(!sentences.is_empty());
        for s in sentences {
            let text = s["text"].as_str().unwrap_or_default();
            assert!(story.sources.iter().any(|src| src.text.contains(text)), "{text:?} is quoted verbatim");
        }
    }
}

#[test]
fn bad_synthesis_files_are_refused_line_by_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("bad.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id":"s1","lang":"en","sources":[{"id":"a","title":"T","text":"Body."}],"reference":{"title":"R","text":"Ref."}}"#,
            "\n",
            r#"{"id":"s2","lang":"en","sources":[{"id":"a","text":""}],"reference":{"text":"Ref."}}"#,
            "\n",
            "{broken\n"
        ),
    )
    .expect("write");
    let out = chorus(&["eval", "synth", "--input", input.to_str().unwrap_or_default()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 2: story \"s2\": source 1 (\"a\") has an empty text"), "{stderr}");
    assert!(stderr.contains("line 3: not a story"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing scored");
}
