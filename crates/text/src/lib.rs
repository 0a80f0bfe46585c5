//! chorus-text: language-aware text handling shared by ingest and synthesis.
//!
//! * [`lang`]: language identification (whatlang) and ISO code normalisation;
//! * [`sentences`]: per-language sentence splitting (sentencex);
//! * [`dedup`]: fingerprints that find exact and near-duplicate texts (MinHash);
//! * [`terms`]: bag-of-words term counts in any script, for lexical (TF-IDF) similarity;
//! * [`wire`]: news-agency credits in datelines and credit lines (AFP, Reuters, dpa, …).

pub mod dedup;
pub mod lang;
pub mod sentences;
pub mod terms;
pub mod wire;
