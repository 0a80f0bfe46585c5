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

pub mod figures;
pub mod llm;
mod write;

pub use write::{StoryAnalysis, clause_headline, is_cut_off, is_headline, without_asides};

use chorus_core::{ArticleRecord, StoryArticle, StoryId};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};

/// Tunable parameters of the extractive writer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthConfig {
    /// Most sentences in the written article (the length otherwise follows the number of
    /// independent reports: two sentences per report, at least three).
    pub max_sentences: usize,
    /// Sentences taken from the top of each source.
    pub max_sentences_per_source: usize,
    /// Shortest candidate sentence, in characters.
    pub min_chars: usize,
    /// Longest candidate sentence, in characters.
    pub max_chars: usize,
    /// Cosine at which a sentence of another report in the same language states the same
    /// thing.
    pub support_threshold: f32,
    /// Cosine at which a sentence in another language states the same thing (one claim,
    /// so never stated twice). Calibrated on Global Voices translations (docs/quality.md).
    pub cross_lingual_threshold: f32,
    /// Cosine at which two sentences of an article belong in one paragraph (sub-topic).
    pub topic_threshold: f32,
    /// Cosine at which a candidate repeats a chosen sentence (and is skipped).
    pub repeat_threshold: f32,
    /// Sentences in the lead paragraph.
    pub lead_sentences: usize,
    /// Word budget of the article text (0: none). A sentence that would overrun it is
    /// skipped, except the first.
    pub max_words: usize,
    /// Weight of centrality: similarity to the centre of all candidate sentences.
    pub centrality_weight: f32,
    /// Weight of an early position in its article (news puts the essentials first).
    pub position_weight: f32,
    /// Cosine at which a sentence in another language is a translation of one's own.
    pub translation_threshold: f32,
    /// Share of an article's sentences translated from another article (in another
    /// language) that makes it a translation of it, so not an independent report.
    pub translation_share: f32,
    /// Cosine at which two sentences speak of the same thing, so differing numbers in them
    /// are a disagreement.
    pub conflict_threshold: f32,
    /// Reports published further apart than this (hours) do not disagree: the later one
    /// updates the figure (as does a later figure from the same outlet, at any gap).
    pub conflict_window_hours: i64,
    /// Most disagreements kept per article (the closest pairs).
    pub max_disagreements: usize,
    /// Cosine at which a sentence in the same language is a lightly edited copy of another.
    pub reprint_threshold: f32,
    /// Share of sentences shared (at the translation threshold) that makes two articles
    /// crediting the same news agency one wire report.
    pub wire_share: f32,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            max_sentences: 30,
            max_sentences_per_source: 12,
            min_chars: 25,
            max_chars: 450,
            support_threshold: 0.90,
            cross_lingual_threshold: 0.88,
            topic_threshold: 0.84,
            repeat_threshold: 0.90,
            lead_sentences: 2,
            max_words: 0,
            centrality_weight: 0.5,
            position_weight: 0.3,
            translation_threshold: 0.90,
            translation_share: 0.75,
            conflict_threshold: 0.88,
            conflict_window_hours: 6,
            max_disagreements: 8,
            reprint_threshold: 0.97,
            wire_share: 0.5,
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

/// Quotation marks chorus recognises, as (open, close).
const QUOTE_MARKS: [(char, char); 4] = [('"', '"'), ('“', '”'), ('«', '»'), ('„', '“')];

/// Splits a sentence into its text outside quotation marks and its quotations of three
/// or more words (shorter quoted bits are scare quotes or titles, not speech).
pub fn split_quotes(s: &str) -> (String, Vec<String>) {
    let mut outside = String::new();
    let mut quotes = Vec::new();
    let mut rest = s;
    loop {
        let next = QUOTE_MARKS.iter().filter_map(|&(o, c)| rest.find(o).map(|i| (i, o, c))).min_by_key(|x| x.0);
        let Some((i, open, close)) = next else { break };
        let after = &rest[i + open.len_utf8()..];
        let Some(j) = after.find(close) else { break };
        outside.push_str(&rest[..i]);
        let quote = after[..j].trim();
        if quote.split_whitespace().count() >= 3 {
            quotes.push(quote.to_string());
        }
        rest = &after[j + close.len_utf8()..];
    }
    outside.push_str(rest);
    (outside, quotes)
}

/// Whether two quotations render the same words differently: most words shared
/// (Jaccard ≥ 0.5 over lower-cased words), but each has words the other lacks. One quoting
/// more or less of the same remark (a subset of the other's words) is not a difference.
pub(crate) fn quotes_differ(a: &str, b: &str) -> bool {
    // Bags of words, so "into the organization" differs from "into the company" even when
    // "Organization" occurs elsewhere in both.
    let words = |s: &str| -> HashMap<String, usize> {
        let mut bag = HashMap::new();
        for w in s.replace('’', "'").split(|c: char| !c.is_alphanumeric() && c != '\'') {
            let w = w.trim_matches('\'');
            if !w.is_empty() {
                *bag.entry(w.to_lowercase()).or_insert(0) += 1;
            }
        }
        bag
    };
    let (ba, bb) = (words(a), words(b));
    let within = |x: &HashMap<String, usize>, y: &HashMap<String, usize>| {
        x.iter().all(|(w, n)| y.get(w).is_some_and(|m| m >= n))
    };
    if within(&ba, &bb) || within(&bb, &ba) {
        return false;
    }
    let shared: usize = ba.iter().map(|(w, n)| (*n).min(bb.get(w).copied().unwrap_or(0))).sum();
    let total: usize = ba.values().sum::<usize>() + bb.values().sum::<usize>() - shared;
    shared * 2 >= total
}

/// Words that date an event (weekdays, "yesterday", "today"), in the languages chorus
/// has editions in most often; month names ([`figures::month_of`]) and digits count too.
const TIME_WORDS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "yesterday",
    "today",
    "tonight",
    "montag",
    "dienstag",
    "mittwoch",
    "donnerstag",
    "freitag",
    "samstag",
    "sonntag",
    "gestern",
    "heute",
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "hier",
    "aujourd'hui",
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
    "ayer",
    "hoy",
    "lunedì",
    "martedì",
    "mercoledì",
    "giovedì",
    "venerdì",
    "sabato",
    "domenica",
    "ieri",
    "oggi",
];

/// How many of when / who-or-where a sentence names (0–2) outside quotations: a date or
/// time word, and a capitalised word after the first (a person, place or organisation).
/// What a quotation says does not count: a lead reports what happened.
pub(crate) fn lead_elements(s: &str) -> u8 {
    let (s, _) = split_quotes(s);
    let words: Vec<&str> = s.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    let when = s.chars().any(|c| c.is_ascii_digit())
        || words.iter().any(|w| TIME_WORDS.contains(&w.to_lowercase().as_str()) || figures::month_of(w).is_some());
    let named = words
        .iter()
        .skip(1)
        .any(|w| w.chars().next().is_some_and(char::is_uppercase) && !PRONOUNS.contains(&w.to_lowercase().as_str()));
    u8::from(when) + u8::from(named)
}

/// Subject pronouns that attribute a quotation to someone named elsewhere in the article.
const PRONOUNS: &[&str] = &[
    "he", "she", "they", "we", "i", "er", "sie", "wir", "il", "elle", "ils", "elles", "nous", "él", "ella", "ellos",
    "ellas", "lui", "lei", "loro", "ele", "ela", "eles", "elas", "hij", "zij", "on", "ona", "oni", "ő", "o", "onlar",
    "він", "вона", "вони", "он", "она", "они",
];

/// Whether a sentence that quotes someone also says who. A bare quotation, or one
/// attributed only by a pronoun ("he said", "a-t-il déclaré", "sagte er"), names nobody
/// once lifted out of its article, so it is not quoted on its own. Sentences without a
/// quotation of three or more words pass.
pub fn quote_attributed(s: &str) -> bool {
    let (outside, quotes) = split_quotes(s);
    if quotes.is_empty() {
        return true;
    }
    let words: Vec<&str> = outside.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.len() <= 1 {
        return false;
    }
    let is_pronoun = |w: &str| PRONOUNS.contains(&w.to_lowercase().as_str());
    let named = words.iter().any(|w| w.chars().next().is_some_and(char::is_uppercase) && !is_pronoun(w));
    named || !words.iter().any(|w| is_pronoun(w))
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
                .filter(|(_, s)| plausible(s, cfg) && quote_attributed(s))
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

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The numbers a sentence gives, as canonical values ("1,000", "1.000" and "1 000" are all
/// "1000"; "4.4" and "4,4" are "4.4": a separator followed by exactly three digits groups
/// thousands, otherwise it is a decimal point). Digits that belong to a name or code
/// ("COVID-19", "G7", "2nd") are not numbers.
pub fn numbers(text: &str) -> BTreeSet<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_digit() {
                digits.push(c);
                i += 1;
            } else if matches!(c, ',' | '.' | ' ' | '\u{a0}' | '\u{202f}' | '\'')
                && chars.get(i + 1).is_some_and(char::is_ascii_digit)
            {
                let run = chars[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                let spaced = matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\'');
                if run != 3 && (spaced || digits.contains('.')) {
                    break; // "in 2 000 cases" groups; "2 5" is two numbers
                }
                if run != 3 {
                    digits.push('.');
                }
                i += 1;
            } else {
                break;
            }
        }
        let digits = match digits.parse::<f64>() {
            Ok(v) => format!("{v}"),
            Err(_) => digits,
        };
        let before = start.checked_sub(1).map(|k| chars[k]);
        let glued_before = before.is_some_and(char::is_alphabetic)
            || (before == Some('-') && start >= 2 && chars[start - 2].is_alphabetic());
        let glued_after = chars.get(i).is_some_and(|c| c.is_alphabetic());
        if !glued_before && !glued_after {
            out.insert(digits);
        }
    }
    out
}

/// Whether two sentences' numbers are consistent: one gives none, or one's numbers
/// include the other's (a detail added is not a contradiction).
pub(crate) fn numbers_agree(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    a.is_empty() || b.is_empty() || a.is_subset(b) || b.is_subset(a)
}

/// Groups the sources into independent reports. Verbatim reprints are already marked by
/// ingest (`duplicate_of`, MinHash); here an article is also joined to another when
///
/// - it is in another language and most of its sentences (`translation_share`) have a
///   translation-grade counterpart there: a translation repeats one report;
/// - it is in the same language and most of its sentences have a near-identical
///   (`reprint_threshold`) counterpart: a lightly edited copy (new headline, a sentence
///   cut or added, the tail trimmed) that MinHash over the whole text misses;
/// - both credit the same news agency in a dateline or credit line and share at least
///   `wire_share` of their sentences: one wire story run by two outlets.
///
/// Returns a report key per source.
pub(crate) fn independent_reports(
    sources: &[ArticleRecord],
    cands: &[Candidate],
    sims: Option<&Vec<Vec<f32>>>,
    nums: &[BTreeSet<String>],
    cfg: &SynthConfig,
) -> Vec<String> {
    let mut group: Vec<String> = sources.iter().map(|r| r.report_id().to_string()).collect();
    let Some(sims) = sims else {
        return group;
    };
    let mut by_source: Vec<Vec<usize>> = vec![Vec::new(); sources.len()];
    for (i, c) in cands.iter().enumerate() {
        if let Some(v) = by_source.get_mut(c.source) {
            v.push(i);
        }
    }
    // Share of `a`'s candidates with a match at `threshold` among `b`'s.
    let matched = |a: usize, b: usize, threshold: f32| -> f32 {
        let hits = by_source[a]
            .iter()
            .filter(|&&i| by_source[b].iter().any(|&j| sims[i][j] >= threshold && numbers_agree(&nums[i], &nums[j])))
            .count();
        hits as f32 / by_source[a].len().max(1) as f32
    };
    let agencies: Vec<Vec<&str>> = sources.iter().map(|r| chorus_text::wire::agency_credits(&r.article.text)).collect();
    for a in 0..sources.len() {
        for b in 0..a {
            if group[a] == group[b] {
                continue;
            }
            let (shorter, longer) = if by_source[a].len() <= by_source[b].len() { (a, b) } else { (b, a) };
            if by_source[shorter].len() < 2 {
                continue;
            }
            let same_copy = if sources[a].article.lang != sources[b].article.lang {
                matched(shorter, longer, cfg.translation_threshold) >= cfg.translation_share
            } else {
                // Short items share their few sentences with any paraphrase: a copy needs three.
                (by_source[shorter].len() >= 3
                    && matched(shorter, longer, cfg.reprint_threshold) >= cfg.translation_share)
                    || (agencies[a].iter().any(|x| agencies[b].contains(x))
                        && matched(shorter, longer, cfg.translation_threshold) >= cfg.wire_share)
            };
            if same_copy {
                let (from, to) = (group[a].clone(), group[b].clone());
                for g in group.iter_mut() {
                    if *g == from {
                        *g = to.clone();
                    }
                }
            }
        }
    }
    group
}

/// Writes the article for `story` in `edition` from `sources` and their `candidates`
/// (a [`StoryAnalysis`] made for one edition; analyse once to write several).
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
    StoryAnalysis::new(sources, cands, vectors, cfg).edition(story, edition, cfg, now)
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
    use chorus_core::{Article, SynthSentence};

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
                authors: Vec::new(),
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
                "Leaders in Paris agree on security guarantees",
                "Thirty-five leaders agreed on security guarantees in Paris. The weather in Paris was cold that day.",
                None,
            ),
            rec(
                "fr1",
                "fr",
                "Journal FR",
                "Trente-cinq dirigeants s'accordent sur des garanties à Paris",
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
        assert_eq!(fr.title, "Trente-cinq dirigeants s'accordent sur des garanties à Paris");
        assert!(!fr.unconfirmed);
        let all: Vec<&str> = fr.paragraphs.iter().flatten().map(|s| s.text.as_str()).collect();
        assert_eq!(all.len(), 2, "the agreement once, in French; the English-only weather line not at all: {all:?}");
        assert!(fr.paragraphs.iter().flatten().all(|s| s.lang == "fr"), "one language per edition");
        assert_eq!(lead.claim, Some(0));
        let langs: BTreeSet<&str> = lead.sources.iter().map(|p| p.lang.as_str()).collect();
        assert_eq!(
            langs,
            BTreeSet::from(["fr", "en", "de"]),
            "every passage of the claim, in every language, is its citation"
        );
        let en = write(7, &sources, &cands, Some(&v), "en", &cfg, Utc::now());
        assert_eq!(en.paragraphs[0][0].text, "Thirty-five leaders agreed on security guarantees in Paris.");
        assert_eq!(en.title, "Leaders in Paris agree on security guarantees");
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
    fn numbers_are_read_as_values() {
        let n = |t: &str| numbers(t).into_iter().collect::<Vec<_>>();
        assert_eq!(n("19,882 died; 1.000 Menschen; 4,4 Prozent; 1.37 trillion"), ["1.37", "1000", "19882", "4.4"]);
        assert_eq!(n("COVID-19 and the G7 met on the 2nd day"), Vec::<String>::new());
        assert_eq!(n("12 000 personnes et 5 7 fois"), ["12000", "5", "7"]);
        assert!(numbers_agree(&numbers("12 dead"), &numbers("12 dead and 30 injured")));
    }

    #[test]
    fn translations_count_once_and_differing_figures_are_disputed() {
        let sources = vec![
            rec(
                "it1",
                "it",
                "Voci IT",
                "Scontri a Tripoli",
                "Almeno 84 persone sono morte negli scontri a Tripoli. Il governo ha chiuso l'aeroporto della capitale.",
                None,
            ),
            rec(
                "es1",
                "es",
                "Voces ES",
                "Enfrentamientos en Trípoli",
                "Al menos 84 personas murieron en los enfrentamientos en Trípoli. El gobierno cerró el aeropuerto de la capital.",
                None,
            ),
            rec(
                "en1",
                "en",
                "Wire EN",
                "Clashes in Tripoli",
                "At least 104 people were killed in clashes in Tripoli, a hospital said. Oil prices rose on the news.",
                None,
            ),
        ];
        let cfg = SynthConfig::default();
        let cands = candidates(&sources, &cfg);
        assert_eq!(cands.len(), 6);
        // Topics: 0 = the death toll (all three), 1 = the airport (it, es), 2 = oil prices.
        let mut v = vecs(&[0, 1, 0, 1, 0, 2]);
        // The English toll is close to, not the same as, the translated sentences.
        v[4] = vec![0.0; 16];
        (v[4][0], v[4][3]) = (0.93, 0.3676);
        let art = write(3, &sources, &cands, Some(&v), "en", &cfg, Utc::now());
        assert_eq!(art.coverage.reports, 3);
        assert_eq!(art.coverage.independent, 2, "the Spanish post is a translation of the Italian one");
        assert!(!art.unconfirmed);
        assert_eq!(art.disagreements.len(), 1, "{:?}", art.disagreements);
        let d = &art.disagreements[0];
        let values: Vec<&Vec<String>> = d.sides.iter().map(|s| &s.values).collect();
        assert!(values.contains(&&vec!["84".to_string()]) && values.contains(&&vec!["104".to_string()]));
        for side in &d.sides {
            assert!(art.claims.get(side.claim).is_some(), "each side names a listed claim");
        }
        let toll =
            art.paragraphs.iter().flatten().find(|s| s.text.contains("104")).expect("the English toll is quoted");
        assert!(toll.disputed);
        let translated = &art.claims[d.sides.iter().find(|s| s.values == ["84"]).expect("84 side").claim];
        assert_eq!((translated.n_reports, translated.n_independent), (2, 1));
        assert_eq!(translated.languages, ["es", "it"]);

        // Three days later the English figure is an update, not a disagreement.
        let mut dated = sources.clone();
        let day = |d: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, d, 9, 0, 0).single();
        for (r, d) in dated.iter_mut().zip([1, 1, 4]) {
            r.article.published = day(d);
        }
        let later = write(3, &dated, &cands, Some(&v), "en", &cfg, Utc::now());
        assert!(later.disagreements.is_empty(), "{:?}", later.disagreements);
        assert!(later.paragraphs.iter().flatten().all(|s| !s.disputed));
    }

    #[test]
    fn a_rising_toll_is_one_claim_with_its_history_and_a_same_time_difference_is_disputed() {
        let at = |d: u32, h: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2023, 2, d, h, 0, 0).single();
        let dated = |mut r: ArticleRecord, t| {
            r.article.published = t;
            r
        };
        let sources = vec![
            dated(
                rec("w1", "en", "Wiki", "T", "At least 29,000 people died in the earthquake by 9 February.", None),
                at(9, 8),
            ),
            dated(
                rec("w2", "en", "Wiki", "T", "At least 37,000 people died in the earthquake by 10 February.", None),
                at(10, 8),
            ),
            dated(
                rec("w3", "en", "Wiki", "T", "At least 45,000 people died in the earthquake by 12 February.", None),
                at(12, 8),
            ),
            dated(
                rec(
                    "d1",
                    "de",
                    "Zeitung",
                    "T",
                    "Mindestens 37.000 Menschen starben bei dem Erdbeben bis zum 10. Februar.",
                    None,
                ),
                at(10, 9),
            ),
            dated(
                rec(
                    "n1",
                    "en",
                    "News",
                    "T",
                    "Rescuers pulled a girl alive from the rubble in Antakya on Sunday.",
                    None,
                ),
                at(12, 9),
            ),
        ];
        let cfg = SynthConfig::default();
        let cands = candidates(&sources, &cfg);
        let v = vecs(&[0, 0, 0, 0, 1]);
        let en = write(1, &sources, &cands, Some(&v), "en", &cfg, Utc::now());
        let texts: Vec<&str> = en.paragraphs.iter().flatten().map(|s| s.text.as_str()).collect();
        let tolls: Vec<&&str> = texts.iter().filter(|t| t.contains("died")).collect();
        assert_eq!(tolls, [&"At least 45,000 people died in the earthquake by 12 February."], "{texts:?}");
        assert!(en.disagreements.is_empty(), "updates are not disagreements: {:?}", en.disagreements);
        let toll = en.paragraphs.iter().flatten().find(|s| s.text.contains("45,000")).unwrap();
        let claim = &en.claims[toll.claim.unwrap()];
        assert_eq!(claim.as_of, at(12, 8));
        let history: Vec<&Vec<String>> = claim.history.iter().map(|h| &h.values).collect();
        assert_eq!(history, [&vec!["29000".to_string()], &vec!["37000".to_string()]]);
        assert!(!toll.disputed);
        // The German edition states the German figure, in German only, with the newer one in its history.
        let de = write(1, &sources, &cands, Some(&v), "de", &cfg, Utc::now());
        let de_texts: Vec<&str> = de.paragraphs.iter().flatten().map(|s| s.text.as_str()).collect();
        assert_eq!(de_texts, ["Mindestens 37.000 Menschen starben bei dem Erdbeben bis zum 10. Februar."]);
        let de_claim = &de.claims[de.paragraphs[0][0].claim.unwrap()];
        assert!(de_claim.history.iter().any(|h| h.values == ["45000"]), "{:?}", de_claim.history);

        // Two outlets at about the same time with different tolls disagree (and so does a later
        // lower figure); only the toll is in dispute.
        let disputed = vec![
            dated(
                rec("a", "en", "A", "T", "On 3 March at least 104 people died in Tripoli, in 2 districts.", None),
                at(3, 8),
            ),
            dated(
                rec("b", "en", "B", "T", "On 3 March at least 84 people died in Tripoli, in 2 districts.", None),
                at(3, 9),
            ),
        ];
        let cands = candidates(&disputed, &cfg);
        let a = write(2, &disputed, &cands, Some(&vecs(&[0, 0])), "en", &cfg, Utc::now());
        assert_eq!(a.paragraphs.iter().flatten().count(), 1, "one side stated: {:?}", a.paragraphs);
        assert!(a.paragraphs[0][0].disputed);
        assert_eq!(a.disagreements.len(), 1);
        let values: Vec<&Vec<String>> = a.disagreements[0].sides.iter().map(|s| &s.values).collect();
        assert_eq!(values, [&vec!["104".to_string()], &vec!["84".to_string()]]);
        // An hour later and higher, it is an update.
        let mut rising = disputed.clone();
        rising[1] = dated(
            rec("b", "en", "B", "T", "On 3 March at least 124 people died in Tripoli, in 2 districts.", None),
            at(3, 9),
        );
        let r = write(2, &rising, &candidates(&rising, &cfg), Some(&vecs(&[0, 0])), "en", &cfg, Utc::now());
        assert!(r.disagreements.is_empty());
        assert!(r.paragraphs[0][0].text.contains("124"));
    }

    #[test]
    fn one_wire_story_run_by_two_outlets_counts_once() {
        let sources = |credit: &str| {
            vec![
                rec(
                    "r1",
                    "en",
                    "Daily One",
                    "Market fire",
                    "PARIS (AFP) — A fire destroyed the old market on Monday. Firefighters fought the blaze for six hours. No one was hurt, officials said.",
                    None,
                ),
                rec(
                    "r2",
                    "en",
                    "Daily Two",
                    "Old market burns",
                    &format!(
                        "PARIS{credit} — A fire destroyed the city's old market on Monday. Firefighters battled the blaze for six hours. The mayor promised to rebuild it."
                    ),
                    None,
                ),
                rec(
                    "r3",
                    "en",
                    "Daily Three",
                    "Traders lose stalls",
                    "The old market of Paris burned down on Monday. Local traders lost their stalls and savings.",
                    None,
                ),
            ]
        };
        let cfg = SynthConfig::default();
        // Topics: the fire (all three), the firefighters (r1, r2), then one of each's own.
        let v = vecs(&[0, 1, 2, 0, 1, 3, 0, 4]);
        let wired = sources(" (AFP)");
        let a = write(1, &wired, &candidates(&wired, &cfg), Some(&v), "en", &cfg, Utc::now());
        assert_eq!(a.coverage.independent, 2, "r1 and r2 are one AFP report");
        assert_eq!(a.coverage.wire_agencies, [("AFP".to_string(), 2)]);
        assert_eq!(a.paragraphs[0][0].n_independent, 2);
        // Without the shared credit, two of three sentences in common is not a copy.
        let plain = sources("");
        let b = write(1, &plain, &candidates(&plain, &cfg), Some(&v), "en", &cfg, Utc::now());
        assert_eq!(b.coverage.independent, 3);
        assert_eq!(b.coverage.wire_agencies, [("AFP".to_string(), 1)]);
        // A lightly edited copy (every sentence near-identical) is one report without any credit.
        let v = vecs(&[0, 1, 2, 0, 1, 2, 0, 4]);
        let c = write(1, &plain, &candidates(&plain, &cfg), Some(&v), "en", &cfg, Utc::now());
        assert_eq!(c.coverage.independent, 2);
    }

    #[test]
    fn quotations_are_quoted_only_with_who_said_them() {
        assert!(quote_attributed("\"We will rebuild every city,\" Erdogan said."));
        assert!(quote_attributed("Erdogan said: “We will rebuild every city.”"));
        assert!(quote_attributed("\"We will rebuild every city,\" the minister said."));
        assert!(quote_attributed("The quake, \"the worst in a century\" for experts, hit at night."));
        assert!(quote_attributed("No quotation here, he said."));
        assert!(!quote_attributed("\"We will rebuild every city,\" he said."));
        assert!(!quote_attributed("He said: “We will rebuild every city.”"));
        assert!(!quote_attributed("« Nous reconstruirons chaque ville », a-t-il déclaré."));
        assert!(!quote_attributed("„Wir werden jede Stadt wieder aufbauen“, sagte er."));
        assert!(!quote_attributed("“This is a disaster for all of us.”"));
        let sources = vec![rec(
            "q",
            "en",
            "Outlet",
            "T",
            "Erdogan visited the city of Antakya on Monday. \"We will rebuild every single city,\" he said.",
            None,
        )];
        let cands = candidates(&sources, &SynthConfig::default());
        assert_eq!(
            cands.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
            ["Erdogan visited the city of Antakya on Monday."]
        );
    }

    #[test]
    fn the_lead_says_who_and_when_among_equally_supported_sentences() {
        assert_eq!(lead_elements("The government has fallen after a long crisis."), 0);
        assert_eq!(lead_elements("Prime Minister Kovacs resigned on Tuesday."), 2);
        assert_eq!(lead_elements("Le Premier ministre Kovacs a démissionné mardi."), 2);
        assert_eq!(lead_elements("\"It was over by 2020,\" a source said."), 0);
        let sources = vec![
            rec(
                "a",
                "en",
                "A",
                "T",
                "The government has fallen after a long crisis. Prime Minister Kovacs resigned on Tuesday.",
                None,
            ),
            rec(
                "b",
                "en",
                "B",
                "T",
                "The government has fallen after months of crisis. Prime Minister Kovacs quit on Tuesday.",
                None,
            ),
        ];
        let cfg = SynthConfig::default();
        let cands = candidates(&sources, &cfg);
        let a = write(1, &sources, &cands, Some(&vecs(&[0, 1, 0, 1])), "en", &cfg, Utc::now());
        assert!(a.paragraphs[0][0].text.contains("Kovacs"), "{:?}", a.paragraphs[0][0].text);
    }

    #[test]
    fn the_same_quotation_worded_differently_is_a_disagreement() {
        assert!(quotes_differ("We will rebuild every city in a year", "We will rebuild all cities in a year"));
        assert!(!quotes_differ("We will rebuild every city", "we will rebuild every city"));
        assert!(!quotes_differ("in its basic duty", "failed in its basic duty"), "a longer excerpt");
        assert!(!quotes_differ("I’m not going", "I'm not going"));
        assert!(quotes_differ(
            "We told the Trump Organization that our inquiry into the company is criminal",
            "We told the Trump Organization that our inquiry into the organization is criminal"
        ));
        assert!(!quotes_differ("We will rebuild every city", "The border stays closed for now"));
        let sources = vec![
            rec("a", "en", "A", "T", "Erdogan said: \"We will rebuild every city within a year.\"", None),
            rec("b", "en", "B", "T", "Erdogan said: \"We will rebuild all the cities within a year.\"", None),
        ];
        let cfg = SynthConfig::default();
        let cands = candidates(&sources, &cfg);
        let a = write(1, &sources, &cands, Some(&vecs(&[0, 0])), "en", &cfg, Utc::now());
        assert_eq!(a.disagreements.len(), 1, "{:?}", a.disagreements);
        let d = &a.disagreements[0];
        assert_eq!(d.kind, "quote");
        assert_eq!(d.sides[0].values, ["We will rebuild every city within a year."]);
        assert_eq!(d.sides[1].values, ["We will rebuild all the cities within a year."]);
        assert!(a.paragraphs[0][0].disputed);
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
