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
