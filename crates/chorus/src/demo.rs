//! The bundled demo corpus: real, redistributable multilingual news (see
//! `data/demo/SOURCE.md`), compiled into the binary so `chorus demo` works anywhere.

/// `(name, JSONL text)` of each demo input.
pub const DEMO_CORPUS: &[(&str, &str)] = &[
    ("demo:global-voices.jsonl", include_str!("../../../data/demo/global-voices.jsonl")),
    ("demo:itn.jsonl", include_str!("../../../data/demo/itn.jsonl")),
];
