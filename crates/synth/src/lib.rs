//! chorus-synth: writes one article per story and edition language, extractively.
//!
//! No sentence is invented: every sentence of the article is a sentence of a source,
//! quoted verbatim, and carries the passages of other sources that state the same thing.
//! The steps:
//!
//! 1. [`candidates`]: split every source into sentences (per its language) and keep the
//!    plausible ones (not too short or long, mostly letters) from the top of each article.
//! 2. With one vector per candidate (multilingual, so a French sentence and its Italian
//!    translation are close), a candidate is *supported* by every other independent report
//!    that has a sentence within [`SynthConfig::support_threshold`].
//! 3. [`write`]: rank candidates by independent support, then closeness to the story's
//!    centre, then position in their article; take them greedily, skipping any that
//!    repeats an already chosen one; for each chosen statement quote the version in the
//!    edition's language when a source has one. The best-supported sentences form the
//!    lead, the rest follow in story order, three to a paragraph.
//!
//! A story with a single independent report is marked unconfirmed and is written from
//! that report's opening sentences.

use chorus_core::{ArticleRecord, SourcePassage, StoryArticle, StoryId, SynthSentence};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};

/// Tunable parameters of the extractive writer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthConfig {
    /// Sentences in the written article.
    pub max_sentences: usize,
    /// Sentences taken from the top of each source.
    pub max_sentences_per_source: usize,
    /// Shortest candidate sentence, in characters.
    pub min_chars: usize,
    /// Longest candidate sentence, in characters.
    pub max_chars: usize,
    /// Cosine at which a sentence of another report states the same thing.
    pub support_threshold: f32,
    /// Cosine at which a candidate repeats a chosen sentence (and is skipped).
    pub repeat_threshold: f32,
    /// Sentences in the lead paragraph.
    pub lead_sentences: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            max_sentences: 8,
            max_sentences_per_source: 12,
            min_chars: 25,
            max_chars: 450,
            support_threshold: 0.90,
            repeat_threshold: 0.90,
            lead_sentences: 2,
        }
    }
}

/// A source sentence that may be quoted.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Index of its article in the sources slice.
    pub source: usize,
    /// Position of the sentence in its article (0 = first).
    pub position: usize,
    /// Number of sentences in its article.
    pub of: usize,
    /// The sentence, verbatim.
    pub text: String,
}

fn plausible(s: &str, cfg: &SynthConfig) -> bool {
    let chars = s.chars().count();
    if chars < cfg.min_chars || chars > cfg.max_chars {
        return false;
    }
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    // Photo credits and hashtag/handle lines are not statements about the event.
    letters * 2 >= chars && !s.starts_with(['#', '@', '[']) && !s.contains('©')
}

/// Splits the sources into candidate sentences.
pub fn candidates(sources: &[ArticleRecord], cfg: &SynthConfig) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (i, rec) in sources.iter().enumerate() {
        let sentences = chorus_text::sentences::split(&rec.article.text, &rec.article.lang);
        let of = sentences.len();
        let before = out.len();
        out.extend(
            sentences
                .iter()
                .enumerate()
                .filter(|(_, s)| plausible(s, cfg))
                .take(cfg.max_sentences_per_source)
                .map(|(position, s)| Candidate { source: i, position, of, text: s.clone() }),
        );
        // A source whose sentences are all implausible (a headline-only blurb, say) still
        // contributes its longest sentence, so it is never silently ignored.
        if out.len() == before
            && let Some((position, s)) = sentences.iter().enumerate().max_by_key(|(_, s)| s.chars().count())
        {
            out.push(Candidate { source: i, position, of, text: s.clone() });
        }
    }
    out
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Writes the article for `story` in `edition` from `sources` and their `candidates`.
///
/// `vectors`, when given, holds one unit vector per candidate (same order); without them
/// (single-report stories need none) sentences are taken in source order.
pub fn write(
    story: StoryId,
    sources: &[ArticleRecord],
    cands: &[Candidate],
    vectors: Option<&[Vec<f32>]>,
    edition: &str,
    cfg: &SynthConfig,
    now: DateTime<Utc>,
) -> StoryArticle {
    let report_of: Vec<&str> = sources.iter().map(|r| r.report_id()).collect();
    let reports: BTreeSet<&str> = report_of.iter().copied().collect();
    let n = cands.len();
    let sims: Option<Vec<Vec<f32>>> =
        vectors.filter(|v| v.len() == n).map(|v| (0..n).map(|i| (0..n).map(|j| dot(&v[i], &v[j])).collect()).collect());

    // Support: distinct reports with a sentence stating the same thing, and per report the
    // best matching passage.
    let mut support: Vec<HashMap<&str, (usize, f32)>> = vec![HashMap::new(); n];
    for i in 0..n {
        let own = report_of[cands[i].source];
        support[i].insert(own, (i, 1.0));
        if let Some(sims) = &sims {
            for j in 0..n {
                let r = report_of[cands[j].source];
                if r == own || sims[i][j] < cfg.support_threshold {
                    continue;
                }
                let e = support[i].entry(r).or_insert((j, sims[i][j]));
                if sims[i][j] > e.1 {
                    *e = (j, sims[i][j]);
                }
            }
        }
    }
    let centrality: Vec<f32> = match (&sims, vectors) {
        (Some(_), Some(v)) if n > 0 => {
            let dim = v[0].len();
            let mut c = vec![0f32; dim];
            for x in v {
                for (a, b) in c.iter_mut().zip(x) {
                    *a += b;
                }
            }
            let norm = dot(&c, &c).sqrt().max(f32::EPSILON);
            v.iter().map(|x| dot(x, &c) / norm).collect()
        }
        _ => vec![0.0; n],
    };
    let score = |i: usize| -> f32 {
        let rel_pos = cands[i].position as f32 / cands[i].of.max(1) as f32;
        support[i].len() as f32 + 0.5 * centrality[i] + 0.3 * (1.0 - rel_pos) - 0.02 * cands[i].position as f32
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
    if sims.is_none() {
        // Without vectors: the opening sentences of the earliest source in the edition's
        // language, else of the earliest source.
        let lead_source = (0..sources.len()).find(|&s| sources[s].article.lang == edition).unwrap_or(0);
        order.sort_by_key(|&i| (cands[i].source != lead_source, cands[i].source, cands[i].position));
    }

    let mut chosen: Vec<(usize, usize)> = Vec::new(); // (ranked candidate, quoted candidate)
    for &i in &order {
        if chosen.len() >= cfg.max_sentences {
            break;
        }
        if let Some(sims) = &sims
            && chosen.iter().any(|&(c, q)| sims[i][c] >= cfg.repeat_threshold || sims[i][q] >= cfg.repeat_threshold)
        {
            continue;
        }
        if sims.is_none() && chosen.iter().any(|&(_, q)| cands[q].text == cands[i].text) {
            continue;
        }
        // Quote the statement in the edition's language when a supporting source has it.
        let quoted = if sources[cands[i].source].article.lang == edition {
            i
        } else {
            support[i]
                .values()
                .filter(|(j, _)| sources[cands[*j].source].article.lang == edition)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(j, _)| *j)
                .unwrap_or(i)
        };
        chosen.push((i, quoted));
    }

    let sentence = |&(ranked, quoted): &(usize, usize)| -> SynthSentence {
        let q = &cands[quoted];
        let src = &sources[q.source].article;
        let mut passages = vec![SourcePassage {
            article_id: src.id.clone(),
            outlet: src.outlet.clone(),
            lang: src.lang.clone(),
            sentence: q.text.clone(),
            similarity: 1.0,
        }];
        let mut others: Vec<(usize, f32)> = support[ranked]
            .values()
            .copied()
            .filter(|(j, _)| *j != quoted)
            .map(|(j, s)| (j, sims.as_ref().map(|m| m[quoted][j]).unwrap_or(s)))
            .collect();
        others.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (j, sim) in others {
            let a = &sources[cands[j].source].article;
            if report_of[cands[j].source] == report_of[q.source] {
                continue;
            }
            passages.push(SourcePassage {
                article_id: a.id.clone(),
                outlet: a.outlet.clone(),
                lang: a.lang.clone(),
                sentence: cands[j].text.clone(),
                similarity: sim,
            });
        }
        let n_independent = passages
            .iter()
            .filter_map(|p| sources.iter().find(|r| r.article.id == p.article_id).map(ArticleRecord::report_id))
            .collect::<BTreeSet<_>>()
            .len();
        SynthSentence { text: q.text.clone(), lang: src.lang.clone(), n_independent, sources: passages }
    };

    let lead_n = cfg.lead_sentences.min(chosen.len());
    let mut body: Vec<(usize, usize)> = chosen[lead_n..].to_vec();
    // Story order: earlier sources first, then position within the article.
    body.sort_by(|a, b| {
        let (ca, cb) = (&cands[a.1], &cands[b.1]);
        let ta = sources[ca.source].article.published;
        let tb = sources[cb.source].article.published;
        let ra = ca.position as f32 / ca.of.max(1) as f32;
        let rb = cb.position as f32 / cb.of.max(1) as f32;
        ra.total_cmp(&rb).then(ta.cmp(&tb)).then(ca.source.cmp(&cb.source))
    });
    let mut paragraphs = vec![chosen[..lead_n].iter().map(sentence).collect::<Vec<_>>()];
    for chunk in body.chunks(3) {
        paragraphs.push(chunk.iter().map(sentence).collect());
    }
    paragraphs.retain(|p| !p.is_empty());

    let title = pick_title(sources, cands, &chosen, edition);
    StoryArticle {
        story_id: story,
        lang: edition.to_string(),
        title,
        edited_by: "chorus".into(),
        written_at: now,
        paragraphs,
        unconfirmed: reports.len() <= 1,
    }
}

/// The headline of the source that supplied the lead, preferring one in the edition's
/// language; the lead sentence itself when no source has a headline.
fn pick_title(sources: &[ArticleRecord], cands: &[Candidate], chosen: &[(usize, usize)], edition: &str) -> String {
    let titled = |s: usize| !sources[s].article.title.trim().is_empty();
    let from_chosen = chosen.iter().map(|&(_, q)| cands[q].source);
    let pick = from_chosen
        .clone()
        .find(|&s| titled(s) && sources[s].article.lang == edition)
        .or_else(|| (0..sources.len()).find(|&s| titled(s) && sources[s].article.lang == edition))
        .or_else(|| from_chosen.clone().find(|&s| titled(s)))
        .or_else(|| (0..sources.len()).find(|&s| titled(s)));
    match pick {
        Some(s) => sources[s].article.title.trim().to_string(),
        None => chosen.first().map(|&(_, q)| cands[q].text.clone()).unwrap_or_default(),
    }
}

/// The edition languages a story can be written in: the languages of its sources, most
/// frequent first.
pub fn editions(sources: &[ArticleRecord]) -> Vec<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in sources {
        match counts.iter_mut().find(|(l, _)| *l == r.article.lang) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.article.lang.clone(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts.into_iter().map(|(l, _)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::Article;

    fn rec(id: &str, lang: &str, outlet: &str, title: &str, text: &str, dup: Option<&str>) -> ArticleRecord {
        ArticleRecord {
            article: Article {
                id: id.into(),
                url: format!("https://example.org/{id}"),
                outlet: outlet.into(),
                lang: lang.into(),
                lang_detected: false,
                published: None,
                title: title.into(),
                text: text.into(),
            },
            duplicate_of: dup.map(Into::into),
            story_id: Some(1),
        }
    }

    /// Unit vectors where sentences sharing `topic` are near-identical.
    fn vecs(topics: &[usize]) -> Vec<Vec<f32>> {
        topics
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let mut v = vec![0.0f32; 16];
                v[t] = 1.0;
                v[15] = 0.05 * (i % 3) as f32;
                let n = dot(&v, &v).sqrt();
                v.iter().map(|x| x / n).collect()
            })
            .collect()
    }

    #[test]
    fn supported_statement_leads_and_edition_language_is_quoted() {
        let sources = vec![
            rec(
                "en1",
                "en",
                "Wire EN",
                "Leaders agree on guarantees",
                "Thirty-five leaders agreed on security guarantees in Paris. The weather in Paris was cold that day.",
                None,
            ),
            rec(
                "fr1",
                "fr",
                "Journal FR",
                "Accord à Paris",
                "Trente-cinq dirigeants se sont accordés sur des garanties de sécurité à Paris. Un sommet de suivi aura lieu la semaine prochaine.",
                None,
            ),
            rec(
                "de1",
                "de",
                "Zeitung DE",
                "Einigung in Paris",
                "Fünfunddreißig Staats- und Regierungschefs einigten sich in Paris auf Sicherheitsgarantien.",
                None,
            ),
        ];
        let cfg = SynthConfig::default();
        let cands = candidates(&sources, &cfg);
        assert_eq!(cands.len(), 5);
        // Topics: 0 = the agreement (three reports), 1 = weather, 2 = follow-up summit.
        let v = vecs(&[0, 1, 0, 2, 0]);
        let fr = write(7, &sources, &cands, Some(&v), "fr", &cfg, Utc::now());
        let lead = &fr.paragraphs[0][0];
        assert_eq!(lead.text, "Trente-cinq dirigeants se sont accordés sur des garanties de sécurité à Paris.");
        assert_eq!(lead.n_independent, 3);
        assert_eq!(lead.sources.len(), 3);
        assert_eq!(lead.sources[0].article_id, "fr1");
        assert_eq!(fr.title, "Accord à Paris");
        assert!(!fr.unconfirmed);
        let all: Vec<&str> = fr.paragraphs.iter().flatten().map(|s| s.text.as_str()).collect();
        assert_eq!(all.len(), 3, "the agreement appears once, in French: {all:?}");
        let en = write(7, &sources, &cands, Some(&v), "en", &cfg, Utc::now());
        assert_eq!(en.paragraphs[0][0].text, "Thirty-five leaders agreed on security guarantees in Paris.");
        assert_eq!(en.title, "Leaders agree on guarantees");
        // Every sentence is verbatim from a source.
        for s in fr.paragraphs.iter().chain(en.paragraphs.iter()).flatten() {
            assert!(sources.iter().any(|r| r.article.text.contains(&s.text)));
            assert_eq!(s.sources[0].sentence, s.text);
        }
    }

    #[test]
    fn reprints_count_once_and_single_report_is_unconfirmed() {
        let text = "The central bank raised its key rate by a quarter point on Thursday.";
        let sources = vec![
            rec("a", "en", "Wire", "Rate rise", text, None),
            rec("b", "en", "Reprinter", "Rate rise", text, Some("a")),
        ];
        let cfg = SynthConfig::default();
        let cands = candidates(&sources, &cfg);
        let art = write(1, &sources, &cands, None, "en", &cfg, Utc::now());
        assert!(art.unconfirmed);
        let all: Vec<&SynthSentence> = art.paragraphs.iter().flatten().collect();
        assert_eq!(all.len(), 1, "identical sentences are not repeated");
        assert_eq!(all[0].n_independent, 1);
    }

    #[test]
    fn empty_and_odd_sources_do_not_panic() {
        let sources = vec![rec("x", "xx", "O", "", "###", None), rec("y", "ja", "O", "", "短い。", None)];
        let cfg = SynthConfig::default();
        let cands = candidates(&sources, &cfg);
        let art = write(1, &sources, &cands, None, "ja", &cfg, Utc::now());
        assert!(!art.title.is_empty());
        let none = write(2, &[], &[], None, "en", &cfg, Utc::now());
        assert!(none.paragraphs.is_empty());
        // Vectors of the wrong count are ignored rather than trusted.
        let art = write(1, &sources, &cands, Some(&[]), "ja", &cfg, Utc::now());
        assert!(!art.paragraphs.is_empty());
    }

    #[test]
    fn editions_are_source_languages_by_frequency() {
        let s = vec![
            rec("1", "it", "A", "", "x", None),
            rec("2", "es", "B", "", "x", None),
            rec("3", "es", "C", "", "x", None),
        ];
        assert_eq!(editions(&s), ["es", "it"]);
    }
}
