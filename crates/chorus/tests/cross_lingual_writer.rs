//! The seed's case: a German edition of a story no German outlet covered, written by a
//! model from claims in English, French and Spanish. The model is an OpenAI-compatible
//! endpoint on loopback that returns a scripted German draft (real HTTP, the product's
//! client, cache off); verification must keep the correct cross-lingual sentences and drop
//! a wrong number, a wrong name, a phantom claim and a translated quotation without its
//! mark, each with its reason. The articles are a test fixture written for this test (a
//! fictional event), not news.

mod common;
use chorus_store::prelude::*;
use common::{asked_language, claims_of, scripted_endpoint};

use chorus_store::SqliteStore;

const FIXTURE: &str = r#"{"id":"kef-en","url":"https://wire.example/kef","outlet":"Test Wire","lang":"en","published":"2025-03-03T10:00:00Z","title":"Earthquake kills at least 12 on the Greek island of Kefalonia","text":"An earthquake of magnitude 6.4 struck the island of Kefalonia on 3 March 2025. At least 12 people died, the authorities said. Mayor Eleni Papadaki said: \"We will rebuild every house.\" Rescue teams searched the rubble of the old town through the night."}
{"id":"kef-fr","url":"https://journal.example/kef","outlet":"Journal d'essai","lang":"fr","published":"2025-03-03T11:00:00Z","title":"Un séisme fait au moins 12 morts sur l'île grecque de Céphalonie","text":"Un séisme de magnitude 6,4 a frappé l'île de Céphalonie le 3 mars 2025. Au moins 12 personnes sont mortes, selon les autorités. Les équipes de secours ont fouillé les décombres de la vieille ville toute la nuit."}
{"id":"kef-es","url":"https://diario.example/kef","outlet":"Diario de prueba","lang":"es","published":"2025-03-03T12:00:00Z","title":"Un terremoto deja al menos 12 muertos en la isla griega de Cefalonia","text":"Un terremoto de magnitud 6,4 sacudió la isla de Cefalonia el 3 de marzo de 2025. Al menos 12 personas murieron, según las autoridades. La alcaldesa Eleni Papadaki dijo: «Reconstruiremos cada casa»."}
"#;

/// The German draft, citing the claims by what they say.
fn german_draft(claims: &[(usize, String)]) -> String {
    let find =
        |keys: &[&str]| claims.iter().find(|(_, t)| keys.iter().any(|k| t.contains(k))).map(|(n, _)| *n).unwrap_or(99);
    let (quake, toll, mayor) = (find(&["6.4", "6,4"]), find(&["12"]), find(&["Papadaki"]));
    format!(
        "TRANSLATIONS\n\
         [{quake}] Ein Erdbeben der Stärke 6,4 erschütterte am 3. März 2025 die Insel Kefalonia.\n\
         [{toll}] Mindestens 12 Menschen starben, teilten die Behörden mit.\n\
         [{mayor}] Bürgermeisterin Eleni Papadaki sagte: „Wir werden jedes Haus wieder aufbauen.“\n\
         ARTICLE\n\
         Erdbeben der Stärke 6,4 auf Kefalonia fordert mindestens 12 Tote\n\
         Ein Erdbeben der Stärke 6,4 erschütterte am 3. März 2025 die Insel Kefalonia [{quake}]. \
         Mindestens 12 Menschen starben, teilten die Behörden mit [{toll}]. \
         Bürgermeisterin Eleni Papadaki sagte: „Wir werden jedes Haus wieder aufbauen.“ [translated] [{mayor}]. \
         Mindestens 15 Menschen starben [{toll}]. \
         Bürgermeisterin Maria Papadaki besuchte die Insel [{mayor}]. \
         Die Regierung rief den Notstand aus [99]. \
         Papadaki sagte später: „Wir werden jedes Haus wieder aufbauen.“ [{mayor}]."
    )
}

#[test]
fn a_german_edition_from_foreign_sources_keeps_only_verified_sentences() {
    let endpoint = scripted_endpoint(|request| {
        if asked_language(request) == "German" { german_draft(&claims_of(request)) } else { "Sorry.".into() }
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("kefalonia.jsonl");
    // Forty bundled ITN blurbs first: the clusterer centres vectors on the running mean, so
    // it needs some other news before three reports of one event can stand out together.
    let background =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/itn.jsonl"))
            .expect("bundled demo corpus");
    let lines: Vec<&str> = background.lines().take(40).collect();
    std::fs::write(&input, format!("{}\n{FIXTURE}", lines.join("\n"))).expect("write fixture");
    let data = tmp.path().join("data");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(["ingest", "--threads", "1", "--llm", "openai", "--llm-endpoint", &endpoint, "--llm-no-cache"])
        .args(["--llm-retries", "0", "--editions", "de,en", "--data-dir"])
        .arg(&data)
        .arg(&input)
        .env_remove("CHORUS_LLM")
        .output()
        .expect("chorus ingest runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");

    let store = SqliteStore::open(&data.join("chorus.db")).expect("open db");
    let story = store.article("kef-en").expect("read").expect("stored").story_id.expect("clustered");
    let detail = store.story_detail(story).expect("read").expect("story");
    assert_eq!(detail.sources.len(), 3, "the three reports are one story");
    let de = detail.articles.iter().find(|a| a.lang == "de").expect("a German edition was written");
    let g = de.generation.as_ref().expect("generation recorded");
    assert_eq!(g.status, "written", "{g:?}");
    let sentences: Vec<_> = de.paragraphs.iter().flatten().collect();
    let texts: Vec<&str> = sentences.iter().map(|s| s.text.as_str()).collect();
    assert!(sentences.iter().all(|s| s.lang == "de" && s.generated), "one language: {texts:?}");
    assert!(texts.iter().any(|t| t.starts_with("Ein Erdbeben der Stärke 6,4")), "{texts:?} {:?}", g.dropped);
    assert!(texts.iter().any(|t| t.starts_with("Mindestens 12 Menschen")), "{texts:?} {:?}", g.dropped);
    let quote =
        sentences.iter().find(|s| s.text.starts_with("Bürgermeisterin Eleni Papadaki")).expect("marked quote kept");
    assert!(quote.translated_quote && !quote.text.contains("[translated]"));
    assert_eq!(de.title, "Erdbeben der Stärke 6,4 auf Kefalonia fordert mindestens 12 Tote");
    // Each failure dropped, with its reason.
    let reason = |start: &str| {
        g.dropped.iter().find(|d| d.text.starts_with(start)).map(|d| d.reason.clone()).unwrap_or_default()
    };
    assert!(reason("Mindestens 15").contains("number 15"), "{:?}", g.dropped);
    assert!(reason("Bürgermeisterin Maria").contains("Maria"), "{:?}", g.dropped);
    assert!(reason("Die Regierung").contains("claim 99, which does not exist"), "{:?}", g.dropped);
    assert!(reason("Papadaki sagte später").contains("not marked as translated"), "{:?}", g.dropped);
    // The citations carry the originals and, for the passage the model saw, its translation.
    let first = sentences.iter().find(|s| s.text.starts_with("Ein Erdbeben")).expect("quake sentence");
    assert!(first.sources.iter().all(|p| p.lang != "de"));
    assert!(
        first.sources.iter().any(|p| p.translation.as_deref().is_some_and(|t| t.contains("Kefalonia"))),
        "{:?}",
        first.sources
    );
    // The English edition has a source, so the model's failure ("Sorry.") leaves the extractive text.
    let en = detail.articles.iter().find(|a| a.lang == "en").expect("English edition");
    assert_eq!(en.generation.as_ref().map(|g| g.status.as_str()), Some("fallback"));
    assert!(en.paragraphs.iter().flatten().all(|s| s.lang == "en" && !s.generated));
    // No edition for a language no source is in and the model was not asked for.
    assert!(detail.articles.iter().all(|a| a.lang != "it"));
}
