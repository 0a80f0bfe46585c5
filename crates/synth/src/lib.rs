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

pub mod llm;

use chorus_core::{
    ArticleRecord, Claim, Coverage, Disagreement, DisagreementSide, SourcePassage, StoryArticle, StoryId, SynthSentence,
};
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
    /// updates the figure.
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
            max_sentences: 8,
            max_sentences_per_source: 12,
            min_chars: 25,
            max_chars: 450,
            support_threshold: 0.90,
            repeat_threshold: 0.90,
            lead_sentences: 2,
            max_words: 0,
            centrality_weight: 0.5,
            position_weight: 0.3,
            translation_threshold: 0.90,
            translation_share: 0.75,
            conflict_threshold: 0.88,
            conflict_window_hours: 24,
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
fn quotes_differ(a: &str, b: &str) -> bool {
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

/// Words that date an event (weekdays, months, "yesterday"), in the languages chorus
/// has editions in most often; digits count too.
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
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "montag",
    "dienstag",
    "mittwoch",
    "donnerstag",
    "freitag",
    "samstag",
    "sonntag",
    "gestern",
    "heute",
    "januar",
    "februar",
    "märz",
    "juni",
    "juli",
    "oktober",
    "dezember",
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "hier",
    "aujourd'hui",
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
    "ayer",
    "hoy",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
    "lunedì",
    "martedì",
    "mercoledì",
    "giovedì",
    "venerdì",
    "sabato",
    "domenica",
    "ieri",
    "oggi",
    "gennaio",
    "febbraio",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "settembre",
    "ottobre",
    "dicembre",
];

/// How many of when / who-or-where a sentence names (0–2) outside quotations: a date or
/// time word, and a capitalised word after the first (a person, place or organisation).
/// What a quotation says does not count: a lead reports what happened.
fn lead_elements(s: &str) -> u8 {
    let (s, _) = split_quotes(s);
    let words: Vec<&str> = s.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    let when =
        s.chars().any(|c| c.is_ascii_digit()) || words.iter().any(|w| TIME_WORDS.contains(&w.to_lowercase().as_str()));
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

fn dot(a: &[f32], b: &[f32]) -> f32 {
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
fn numbers_agree(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    a.is_empty() || b.is_empty() || a.is_subset(b) || b.is_subset(a)
}

/// Whether two sentences give different values for what is likely one quantity: each has
/// a value the other lacks, and two such values are within 25 % of each other (19,882
/// against 18,860 deaths; 1.4 against 1.37 trillion). Years are left out: two sentences
/// naming different years usually speak of different things.
fn numbers_conflict(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    let values = |s: &BTreeSet<String>, other: &BTreeSet<String>| -> Vec<f64> {
        s.difference(other)
            .filter_map(|x| x.parse::<f64>().ok())
            .filter(|v| *v > 0.0 && !(v.fract() == 0.0 && (1900.0..=2100.0).contains(v)))
            .collect()
    };
    let (only_a, only_b) = (values(a, b), values(b, a));
    only_a.iter().any(|x| only_b.iter().any(|y| x.max(*y) / x.min(*y) <= 1.25))
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
fn independent_reports(
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
    let n = cands.len();
    let sims: Option<Vec<Vec<f32>>> =
        vectors.filter(|v| v.len() == n).map(|v| (0..n).map(|i| (0..n).map(|j| dot(&v[i], &v[j])).collect()).collect());
    let nums: Vec<BTreeSet<String>> = cands.iter().map(|c| numbers(&c.text)).collect();
    let report_keys = independent_reports(sources, cands, sims.as_ref(), &nums, cfg);
    let report_of: Vec<&str> = report_keys.iter().map(String::as_str).collect();
    let reports: BTreeSet<&str> = report_of.iter().copied().collect();
    let same_statement = |sims: &Vec<Vec<f32>>, i: usize, j: usize| {
        sims[i][j] >= cfg.support_threshold && numbers_agree(&nums[i], &nums[j])
    };

    // Support: distinct reports with a sentence stating the same thing, and per report the
    // best matching passage.
    let mut support: Vec<HashMap<&str, (usize, f32)>> = vec![HashMap::new(); n];
    for i in 0..n {
        let own = report_of[cands[i].source];
        support[i].insert(own, (i, 1.0));
        if let Some(sims) = &sims {
            for j in 0..n {
                let r = report_of[cands[j].source];
                if r == own || !same_statement(sims, i, j) {
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
        support[i].len() as f32 + cfg.centrality_weight * centrality[i] + cfg.position_weight * (1.0 - rel_pos)
            - 0.02 * cands[i].position as f32
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
    if sims.is_none() {
        // Without vectors: the opening sentences of the earliest source in the edition's
        // language, else of the earliest source.
        let lead_source = (0..sources.len()).find(|&s| sources[s].article.lang == edition).unwrap_or(0);
        order.sort_by_key(|&i| (cands[i].source != lead_source, cands[i].source, cands[i].position));
    }

    // Claims: in rank order, each candidate not yet placed opens a claim that takes every
    // other unplaced candidate stating the same thing (close, numbers agreeing).
    let mut claim_of: Vec<usize> = vec![usize::MAX; n];
    let mut claim_members: Vec<Vec<usize>> = Vec::new();
    for &i in &order {
        if claim_of[i] != usize::MAX {
            continue;
        }
        let id = claim_members.len();
        claim_of[i] = id;
        let mut members = vec![i];
        if let Some(sims) = &sims {
            for (j, claim) in claim_of.iter_mut().enumerate() {
                if *claim == usize::MAX && same_statement(sims, i, j) {
                    *claim = id;
                    members.push(j);
                }
            }
        }
        claim_members.push(members);
    }
    let mut chosen: Vec<(usize, usize)> = Vec::new(); // (ranked candidate, quoted candidate)
    let mut words = 0;
    for &i in &order {
        if chosen.len() >= cfg.max_sentences {
            break;
        }
        // A close sentence with other figures is the other side of a disagreement: kept in
        // the text when the edition's language has it, so both sides are shown (other
        // languages' sides are listed with the disagreement, not mixed into the text).
        let in_edition = claim_members[claim_of[i]].iter().any(|&j| sources[cands[j].source].article.lang == edition);
        if let Some(sims) = &sims
            && chosen
                .iter()
                .flat_map(|&(c, q)| [c, q])
                .any(|x| sims[i][x] >= cfg.repeat_threshold && (numbers_agree(&nums[i], &nums[x]) || !in_edition))
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
            // Any source stating it will do, a translation of the same report included.
            let sim = |j: usize| sims.as_ref().map_or(0.0, |m| m[i][j]);
            claim_members[claim_of[i]]
                .iter()
                .copied()
                .chain(support[i].values().map(|(j, _)| *j))
                .filter(|&j| sources[cands[j].source].article.lang == edition)
                .max_by(|&a, &b| sim(a).total_cmp(&sim(b)))
                .unwrap_or(i)
        };
        let w = cands[quoted].text.split_whitespace().count();
        if cfg.max_words > 0 && !chosen.is_empty() && words + w > cfg.max_words {
            continue;
        }
        words += w;
        chosen.push((i, quoted));
    }

    // Disagreements: claims about the same thing, from different reports published close
    // together, whose numbers differ. Reports further apart are updates (a death toll that
    // rises day by day), not disagreements. The closest pairs are kept.
    let mut conflicts: Vec<(usize, usize, f32)> = Vec::new();
    if let Some(sims) = &sims {
        let window = chrono::Duration::hours(cfg.conflict_window_hours);
        let published = |c: usize| sources[cands[c].source].article.published;
        for a in 0..claim_members.len() {
            for b in a + 1..claim_members.len() {
                let (ra, rb) = (claim_members[a][0], claim_members[b][0]);
                if sims[ra][rb] < cfg.conflict_threshold || !numbers_conflict(&nums[ra], &nums[rb]) {
                    continue;
                }
                if let (Some(ta), Some(tb)) = (published(ra), published(rb))
                    && (ta - tb).abs() > window
                {
                    continue;
                }
                let reports_a: BTreeSet<&str> = claim_members[a].iter().map(|&i| report_of[cands[i].source]).collect();
                if claim_members[b].iter().any(|&j| !reports_a.contains(report_of[cands[j].source])) {
                    conflicts.push((a, b, sims[ra][rb]));
                }
            }
        }
        conflicts.sort_by(|x, y| y.2.total_cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
        conflicts.truncate(cfg.max_disagreements);
    }
    let conflicts: Vec<(usize, usize)> = conflicts.into_iter().map(|(a, b, _)| (a, b)).collect();
    // Quoted wording: two reports in one language quoting the same words differently
    // (most words shared, not all) within one claim. One per claim.
    let mut quote_conflicts: Vec<(usize, String, String)> = Vec::new();
    for (c, members) in claim_members.iter().enumerate() {
        if quote_conflicts.len() + conflicts.len() >= cfg.max_disagreements {
            break;
        }
        let found = members.iter().enumerate().find_map(|(x, &i)| {
            members[x + 1..].iter().find_map(|&j| {
                let (si, sj) = (cands[i].source, cands[j].source);
                if report_of[si] == report_of[sj] || sources[si].article.lang != sources[sj].article.lang {
                    return None;
                }
                let (qi, qj) = (split_quotes(&cands[i].text).1, split_quotes(&cands[j].text).1);
                qi.iter().find_map(|a| qj.iter().find(|b| quotes_differ(a, b)).map(|b| (a.clone(), b.clone())))
            })
        });
        if let Some((a, b)) = found {
            quote_conflicts.push((c, a, b));
        }
    }
    // Claims shown: those the article states and those on a side of a disagreement.
    let mut shown: Vec<usize> = Vec::new();
    for c in chosen
        .iter()
        .map(|&(r, _)| claim_of[r])
        .chain(conflicts.iter().flat_map(|&(a, b)| [a, b]))
        .chain(quote_conflicts.iter().map(|q| q.0))
    {
        if !shown.contains(&c) {
            shown.push(c);
        }
    }
    let public_id = |c: usize| shown.iter().position(|&x| x == c);
    let disputed: BTreeSet<usize> =
        conflicts.iter().flat_map(|&(a, b)| [a, b]).chain(quote_conflicts.iter().map(|q| q.0)).collect();
    let passage = |j: usize, similarity: f32| {
        let a = &sources[cands[j].source].article;
        SourcePassage {
            article_id: a.id.clone(),
            outlet: a.outlet.clone(),
            lang: a.lang.clone(),
            sentence: cands[j].text.clone(),
            similarity,
        }
    };
    let claims: Vec<Claim> = shown
        .iter()
        .enumerate()
        .map(|(id, &c)| {
            let members = &claim_members[c];
            let rep = members[0];
            let passages: Vec<SourcePassage> = members
                .iter()
                .map(|&j| passage(j, sims.as_ref().map_or(1.0, |m| if j == rep { 1.0 } else { m[rep][j] })))
                .collect();
            let distinct =
                |f: &dyn Fn(usize) -> String| -> BTreeSet<String> { members.iter().map(|&j| f(j)).collect() };
            Claim {
                id,
                n_independent: distinct(&|j| report_of[cands[j].source].to_string()).len(),
                n_reports: distinct(&|j| sources[cands[j].source].article.id.clone()).len(),
                outlets: distinct(&|j| sources[cands[j].source].article.outlet.clone()).into_iter().collect(),
                languages: distinct(&|j| sources[cands[j].source].article.lang.clone()).into_iter().collect(),
                passages,
            }
        })
        .collect();
    let disagreements: Vec<Disagreement> = conflicts
        .iter()
        .filter_map(|&(a, b)| {
            let side = |c: usize| -> Option<DisagreementSide> {
                Some(DisagreementSide {
                    claim: public_id(c)?,
                    values: nums[claim_members[c][0]].iter().cloned().collect(),
                })
            };
            Some(Disagreement { kind: "number".into(), sides: vec![side(a)?, side(b)?] })
        })
        .chain(quote_conflicts.iter().filter_map(|(c, a, b)| {
            let claim = public_id(*c)?;
            Some(Disagreement {
                kind: "quote".into(),
                sides: vec![
                    DisagreementSide { claim, values: vec![a.clone()] },
                    DisagreementSide { claim, values: vec![b.clone()] },
                ],
            })
        }))
        .collect();

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
            .filter_map(|p| sources.iter().position(|r| r.article.id == p.article_id).map(|k| report_of[k]))
            .collect::<BTreeSet<_>>()
            .len();
        SynthSentence {
            text: q.text.clone(),
            lang: src.lang.clone(),
            n_independent,
            sources: passages,
            claim: public_id(claim_of[ranked]),
            disputed: disputed.contains(&claim_of[ranked]),
            generated: false,
            claims: public_id(claim_of[ranked]).into_iter().collect(),
            edited: false,
        }
    };

    // The lead answers who/what/when/where: among the best-supported of the first
    // sentences, the one naming the most of them opens the article.
    if let Some(&(first, _)) = chosen.first() {
        let top = support[first].len();
        let pick = chosen
            .iter()
            .take(4)
            .enumerate()
            .filter(|(_, (r, _))| support[*r].len() == top)
            .max_by(|(ka, (_, qa)), (kb, (_, qb))| {
                lead_elements(&cands[*qa].text).cmp(&lead_elements(&cands[*qb].text)).then(kb.cmp(ka))
            })
            .map(|(k, _)| k);
        if let Some(k) = pick {
            let lead = chosen.remove(k);
            chosen.insert(0, lead);
        }
    }
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
        coverage: Coverage {
            reports: sources.len(),
            independent: reports.len(),
            outlets: sources.iter().map(|r| r.article.outlet.as_str()).collect::<BTreeSet<_>>().len(),
            languages: sources.iter().map(|r| r.article.lang.clone()).collect::<BTreeSet<_>>().into_iter().collect(),
            wire_agencies: {
                let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
                for r in sources {
                    for a in chorus_text::wire::agency_credits(&r.article.text) {
                        *counts.entry(a).or_default() += 1;
                    }
                }
                counts.into_iter().map(|(a, n)| (a.to_string(), n)).collect()
            },
        },
        claims,
        disagreements,
        generation: None,
        revision: 0,
    }
}

/// The headline for the edition: among the headlines in the edition's language (any
/// headline when none is), the one whose words the *other* reports use most, i.e. the
/// least idiosyncratic framing; ties go to the source of the lead. The lead sentence
/// itself when no source has a headline.
fn pick_title(sources: &[ArticleRecord], cands: &[Candidate], chosen: &[(usize, usize)], edition: &str) -> String {
    let titled: Vec<usize> = (0..sources.len()).filter(|&s| !sources[s].article.title.trim().is_empty()).collect();
    let in_edition: Vec<usize> = titled.iter().copied().filter(|&s| sources[s].article.lang == edition).collect();
    let pool = if in_edition.is_empty() { titled } else { in_edition };
    let lead_source = chosen.first().map(|&(_, q)| cands[q].source);
    let words = |t: &str| -> BTreeSet<u64> {
        chorus_text::terms::term_counts(t, 1.0).into_iter().filter(|(_, w)| *w > 0.0).map(|(h, _)| h).collect()
    };
    let report_words: Vec<(&str, BTreeSet<u64>)> =
        sources.iter().map(|r| (r.report_id(), words(&format!("{}\n{}", r.article.title, r.article.text)))).collect();
    let consensus = |s: usize| -> f32 {
        let mine = words(&sources[s].article.title);
        if mine.is_empty() {
            return 0.0;
        }
        let own = sources[s].report_id();
        let others: Vec<&BTreeSet<u64>> = report_words.iter().filter(|(r, _)| *r != own).map(|(_, w)| w).collect();
        if others.is_empty() {
            return 0.0;
        }
        others.iter().map(|w| mine.intersection(w).count() as f32 / mine.len() as f32).sum::<f32>()
            / others.len() as f32
    };
    let best = pool.iter().copied().max_by(|&a, &b| {
        consensus(a)
            .total_cmp(&consensus(b))
            .then((Some(a) == lead_source).cmp(&(Some(b) == lead_source)))
            .then(b.cmp(&a))
    });
    match best {
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
    fn numbers_are_read_as_values() {
        let n = |t: &str| numbers(t).into_iter().collect::<Vec<_>>();
        assert_eq!(n("19,882 died; 1.000 Menschen; 4,4 Prozent; 1.37 trillion"), ["1.37", "1000", "19882", "4.4"]);
        assert_eq!(n("COVID-19 and the G7 met on the 2nd day"), Vec::<String>::new());
        assert_eq!(n("12 000 personnes et 5 7 fois"), ["12000", "5", "7"]);
        assert!(numbers_conflict(&numbers("19,882 deaths"), &numbers("18,860 deaths")));
        assert!(!numbers_conflict(&numbers("49 dead"), &numbers("1.5 million videos")));
        assert!(!numbers_conflict(&numbers("in 2016"), &numbers("in 2017")), "years are not compared");
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
