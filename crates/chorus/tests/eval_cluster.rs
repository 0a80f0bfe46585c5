//! `chorus eval cluster` and `chorus dataset` on real data from `../shared/data` (skipped,
//! with a line saying so, where that folder is missing).

mod common;
use common::research_data;

use chorus::settings::{Environment, Settings};

#[test]
fn neus_subset_scores_through_the_product_clusterer() {
    let Some(neus) = research_data("neus-allsides", "neus_subset_scores_through_the_product_clusterer") else { return };
    let all = chorus_eval::datasets::neus(&neus, "val").expect("NeuS val converts");
    assert_eq!(all.len(), 921);
    // 25 gold stories (75 articles), in the converter's shuffled order.
    let keep: std::collections::BTreeSet<String> = (1..=25).map(|n| format!("neus-val-{n}")).collect();
    let subset: Vec<_> = all.into_iter().filter(|a| keep.contains(&a.cluster)).collect();
    assert_eq!(subset.len(), 75);
    let tmp = tempfile::tempdir().expect("tempdir");
    let settings = Settings::with_data_dir(&Environment::of_process(), tmp.path().to_path_buf());
    let embedder = chorus::service::load_embedder(&settings.pipeline).expect("model fetched and loaded");
    let scores = chorus::evaluate::cluster(&subset, &*embedder, &settings, None).expect("evaluates");
    assert_eq!((scores.n_articles, scores.n_gold), (75, 25));
    assert!(scores.bcubed.f1 > 0.6, "BCubed F1 {:.3} on 25 NeuS stories", scores.bcubed.f1);
    assert!(scores.bcubed.p > 0.0 && scores.pairwise.r > 0.0);
    assert!(scores.articles_per_s > 0.0 && scores.cluster_articles_per_s > 0.0);
    let json = serde_json::to_value(&scores).expect("serialises");
    for key in ["pairwise", "bcubed", "per_lang", "crosslingual_pair_recall", "n_gold", "n_pred", "articles_per_s"] {
        assert!(json.get(key).is_some(), "JSON has {key}");
    }
    for key in ["p", "r", "f1"] {
        assert!(json["bcubed"][key].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)));
    }
    assert!(json["per_lang"]["en"]["bcubed"]["f1"].is_number());
}

#[test]
fn itn_and_crisis_convert_with_events_split_on_gaps() {
    let test = "itn_and_crisis_convert_with_events_split_on_gaps";
    let Some(itn) = research_data("itn-corpus", test) else { return };
    let Some(crisis) = research_data("ml-crisis-cl-tls", test) else { return };
    let itn = chorus_eval::datasets::itn(&itn, 7.0).expect("ITN converts");
    assert_eq!(itn.len(), 2546);
    assert!(itn.iter().all(|a| !a.text.contains('<') && a.title.is_empty() && a.published.is_some()));
    let events: std::collections::BTreeSet<&str> = itn.iter().map(|a| a.cluster.as_str()).collect();
    let subjects: std::collections::BTreeSet<&str> =
        itn.iter().map(|a| a.cluster.split('#').next().unwrap_or("")).collect();
    assert_eq!(subjects.len(), 210);
    assert!(events.len() > subjects.len(), "some subjects split into several events");
    assert!(itn.windows(2).all(|w| w[0].published <= w[1].published), "time order");
    let crisis = chorus_eval::datasets::crisis(&crisis).expect("ML-Crisis converts");
    assert_eq!(crisis.len(), 1671);
    let topics: std::collections::BTreeSet<&str> = crisis.iter().map(|a| a.cluster.as_str()).collect();
    assert_eq!(topics.len(), 4);
}

#[test]
fn bad_evaluation_files_are_refused_line_by_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("bad.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id":"a","text":"Something happened.","cluster":"e1"}"#,
            "\n",
            r#"{"id":"b","text":"No label here."}"#,
            "\n",
            r#"{"id":"a","text":"Same id again.","cluster":"e1"}"#,
            "\n"
        ),
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(["eval", "cluster", "--input"])
        .arg(&input)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 2: article \"b\" has no gold \"cluster\" label"), "{stderr}");
    assert!(stderr.contains("line 3: duplicate id \"a\" (first on line 1)"), "{stderr}");
    assert!(stderr.contains("nothing was scored"), "{stderr}");
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(["eval", "cluster", "--input"])
        .arg(&empty)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the file has no articles"));
}
