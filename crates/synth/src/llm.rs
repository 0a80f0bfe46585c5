//! Optional second stage: a language model rewrites the extractive article's claims into
//! prose, and chorus checks every sentence it writes before a reader sees it.
//!
//! The model receives the story's claims, numbered, each with the number of independent
//! reports behind it and whether sources dispute it, and must end every sentence with the
//! numbers of the claims it rests on (`[2]`, `[1][3]`). Each generated sentence is then
//! verified against the passages of the claims it cites:
//!
//! - it cites at least one claim, and only claims that exist;
//! - every number in it (dates and years included) appears in the cited passages;
//! - every capitalised word that is not sentence-initial (names, places, months in
//!   English) appears in the cited passages;
//! - every quotation in it appears verbatim in the cited passages;
//! - its embedding is within [`LlmWriteConfig::min_similarity`] of a cited passage.
//!
//! Sentences that fail are dropped with the reason; when any fail the model is asked once
//! more (with the reasons), and the better draft is kept. If nothing passes, or the model
//! is down, slow or talks garbage, the extractive article stands and the failure is
//! recorded in [`Generation`]. Claims, disagreements and coverage always come from the
//! extractive stage: the model only words them.

use crate::numbers;
use chorus_core::{DroppedSentence, Generation, SourcePassage, StoryArticle, SynthSentence};
use chorus_llm::{ChatMessage, ChatModel, ChatRequest, ChatResponse, Role};
use std::collections::BTreeSet;

/// Settings of the model stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LlmWriteConfig {
    /// Most tokens the model may write per draft.
    pub max_tokens: u32,
    /// Sampling temperature (0: greedy).
    pub temperature: f32,
    /// Cosine a generated sentence needs with one of its cited passages.
    pub min_similarity: f32,
    /// Further drafts asked for when sentences fail verification.
    pub regenerations: u32,
    /// Claims given to the model (the best supported first).
    pub max_claims: usize,
}

impl Default for LlmWriteConfig {
    fn default() -> Self {
        LlmWriteConfig { max_tokens: 400, temperature: 0.0, min_similarity: 0.83, regenerations: 1, max_claims: 12 }
    }
}

/// Embeds texts for the similarity check (the pipeline's sentence embedder).
pub type EmbedFn<'a> = dyn Fn(&[String]) -> Result<Vec<Vec<f32>>, String> + 'a;

/// English names of the edition languages chorus knows, for the instruction.
fn language_name(code: &str) -> &str {
    match code {
        "en" => "English",
        "de" => "German",
        "fr" => "French",
        "es" => "Spanish",
        "it" => "Italian",
        "pt" => "Portuguese",
        "nl" => "Dutch",
        "pl" => "Polish",
        "hu" => "Hungarian",
        "tr" => "Turkish",
        "uk" => "Ukrainian",
        "ru" => "Russian",
        "zh" => "Chinese",
        "ja" => "Japanese",
        "ar" => "Arabic",
        other => other,
    }
}

/// The text the model sees for one claim: its passage in the edition's language when a
/// source has one, else its first passage.
fn claim_text<'a>(passages: &'a [SourcePassage], edition: &str) -> &'a str {
    passages.iter().find(|p| p.lang == edition).or(passages.first()).map_or("", |p| p.sentence.as_str())
}

/// The chat that asks for a draft: instructions, then the numbered claims.
pub fn prompt(article: &StoryArticle, cfg: &LlmWriteConfig) -> Vec<ChatMessage> {
    let lang = language_name(&article.lang);
    let system = format!(
        "You are a careful news editor. Write a short, neutral news article in {lang} using only \
         the numbered claims below. Start with a headline on its own line. Then write 3 to 6 \
         sentences. End every sentence with the numbers of the claims it is based on, in square \
         brackets, like [1] or [2][3]. Do not add any name, number, date or fact that is not in \
         those claims. Keep quotations word for word. Where a claim is marked disputed, say that \
         sources differ."
    );
    let mut user = String::from("Claims:\n");
    for c in article.claims.iter().take(cfg.max_claims) {
        let disputed = article.disagreements.iter().any(|d| d.sides.iter().any(|s| s.claim == c.id));
        user.push_str(&format!(
            "[{}] {} ({} independent source{}{})\n",
            c.id + 1,
            claim_text(&c.passages, &article.lang).trim(),
            c.n_independent,
            if c.n_independent == 1 { "" } else { "s" },
            if disputed { "; disputed" } else { "" }
        ));
    }
    user.push_str("\nWrite the article now.");
    vec![ChatMessage::new(Role::System, system), ChatMessage::new(Role::User, user)]
}

/// A sentence the model wrote, with the claims it cites (0-based ids; `None` for a
/// number that names no claim).
#[derive(Debug, Clone, PartialEq)]
pub struct Drafted {
    /// The sentence without its citation markers.
    pub text: String,
    /// Cited claim numbers as written (1-based).
    pub cited: Vec<usize>,
}

/// Reads a draft: an optional headline line, then sentences with `[n]` markers.
pub fn parse_draft(answer: &str, lang: &str) -> (Option<String>, Vec<Drafted>) {
    let answer = answer.trim();
    let mut lines = answer.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut title = None;
    let mut body = answer.to_string();
    if let Some(first) = lines.next() {
        let cleaned = clean_heading(first);
        // A first line without a citation that does not end like a sentence is a headline.
        if !first.contains('[') && !cleaned.ends_with('.') && !cleaned.is_empty() && lines.clone().next().is_some() {
            title = Some(cleaned);
            body = answer[answer.find(first).map_or(0, |i| i + first.len())..].to_string();
        }
    }
    let mut out: Vec<Drafted> = Vec::new();
    for piece in chorus_text::sentences::split(&body, lang) {
        let (leading, rest) = take_leading_citations(&piece);
        if let Some(prev) = out.last_mut() {
            prev.cited.extend(leading);
        }
        let (text, cited) = strip_citations(rest);
        let text = clean_heading(&text);
        if text.chars().any(char::is_alphanumeric) {
            out.push(Drafted { text, cited });
        }
    }
    (title, out)
}

/// Removes markdown and "Headline:" decoration.
fn clean_heading(line: &str) -> String {
    let mut s = line.trim().trim_start_matches('#').trim().trim_matches('*').trim();
    for prefix in ["Headline:", "Title:", "headline:", "title:"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.trim().trim_matches('*').trim();
        }
    }
    s.trim_matches('"').trim().to_string()
}

/// Citation groups at the very start of a piece (the splitter leaves "[1]" that followed
/// a full stop at the start of the next sentence).
fn take_leading_citations(piece: &str) -> (Vec<usize>, &str) {
    let mut rest = piece.trim_start();
    let mut cited = Vec::new();
    while rest.starts_with('[') {
        match rest.find(']') {
            Some(end) => match parse_numbers(&rest[1..end]) {
                Some(ns) => {
                    cited.extend(ns);
                    rest = rest[end + 1..].trim_start();
                }
                None => break,
            },
            None => break,
        }
    }
    (cited, rest)
}

fn parse_numbers(inside: &str) -> Option<Vec<usize>> {
    let ns: Option<Vec<usize>> = inside
        .split([',', ';', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_start_matches('#').trim_start_matches("claim").trim().parse().ok())
        .collect();
    ns.filter(|v| !v.is_empty())
}

/// Takes every `[n]` / `[n, m]` marker out of a sentence.
fn strip_citations(s: &str) -> (String, Vec<usize>) {
    let mut text = String::new();
    let mut cited = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else { break };
        match parse_numbers(&rest[open + 1..close]) {
            Some(ns) => {
                cited.extend(ns);
                text.push_str(&rest[..open]);
            }
            None => text.push_str(&rest[..=close]),
        }
        rest = &rest[close + 1..];
    }
    text.push_str(rest);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // "… [1]." leaves " ." behind.
    let text = text.replace(" .", ".").replace(" ,", ",");
    (text, cited)
}

/// Capitalised words after the first word: names, places (and English months).
fn names(sentence: &str) -> Vec<String> {
    let words: Vec<&str> = sentence.split_whitespace().collect();
    words
        .iter()
        .enumerate()
        .filter(|(i, w)| {
            // The first word and words after a colon or full stop start a sentence.
            *i > 0 && !words[i - 1].ends_with([':', '.', '!', '?']) && w.chars().next().is_some_and(char::is_uppercase)
        })
        .map(|(_, w)| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
        // "I", "I've", "I'm" are not names.
        .filter(|w| w.chars().count() >= 2 && !w.starts_with("I'") && !w.starts_with("I’"))
        .collect()
}

/// Checks one drafted sentence against the claims it cites; `Err` says why it fails.
/// `similarity` is the best cosine to a cited passage, when vectors were available.
pub fn verify(
    drafted: &Drafted,
    article: &StoryArticle,
    similarity: Option<f32>,
    cfg: &LlmWriteConfig,
) -> Result<(), String> {
    if drafted.cited.is_empty() {
        return Err("cites no claim".into());
    }
    if let Some(&bad) = drafted.cited.iter().find(|&&n| n == 0 || n > article.claims.len()) {
        return Err(format!("cites claim {bad}, which does not exist"));
    }
    let passages: Vec<&str> = drafted
        .cited
        .iter()
        .flat_map(|&n| article.claims[n - 1].passages.iter().map(|p| p.sentence.as_str()))
        .collect();
    let joined = passages.join("\n");
    let allowed = numbers(&joined);
    if let Some(n) = numbers(&drafted.text).into_iter().find(|n| !allowed.contains(n)) {
        return Err(format!("number {n} is not in the cited claims"));
    }
    let lower = joined.to_lowercase();
    if let Some(name) = names(&drafted.text).into_iter().find(|w| !lower.contains(&w.to_lowercase())) {
        return Err(format!("name {name:?} is not in the cited claims"));
    }
    if let Some(q) = crate::split_quotes(&drafted.text).1.into_iter().find(|q| !joined.contains(q.as_str())) {
        return Err(format!("quotation {q:?} is not verbatim in the cited claims"));
    }
    if let Some(sim) = similarity
        && sim < cfg.min_similarity
    {
        return Err(format!("similarity {sim:.2} to the cited claims is below {:.2}", cfg.min_similarity));
    }
    Ok(())
}

/// One verified draft.
struct Checked {
    title: Option<String>,
    kept: Vec<Drafted>,
    dropped: Vec<DroppedSentence>,
}

fn check_draft(
    answer: &ChatResponse,
    draft: u32,
    article: &StoryArticle,
    embed: Option<&EmbedFn<'_>>,
    cfg: &LlmWriteConfig,
) -> Checked {
    let (title, sentences) = parse_draft(&answer.text, &article.lang);
    // Best cosine of each sentence to one of its cited passages.
    let sims: Vec<Option<f32>> = match embed {
        Some(embed) => {
            let mut texts: Vec<String> = sentences.iter().map(|d| d.text.clone()).collect();
            let mut spans = Vec::new();
            for d in &sentences {
                let start = texts.len();
                for &n in d.cited.iter().filter(|&&n| n >= 1 && n <= article.claims.len()) {
                    texts.extend(article.claims[n - 1].passages.iter().map(|p| p.sentence.clone()));
                }
                spans.push(start..texts.len());
            }
            match embed(&texts) {
                Ok(v) if v.len() == texts.len() => (0..sentences.len())
                    .map(|i| {
                        spans[i]
                            .clone()
                            .map(|j| v[i].iter().zip(&v[j]).map(|(a, b)| a * b).sum::<f32>())
                            .max_by(f32::total_cmp)
                    })
                    .collect(),
                Ok(_) | Err(_) => {
                    tracing::warn!(
                        story = article.story_id,
                        "embedding generated sentences failed; similarity not checked"
                    );
                    vec![None; sentences.len()]
                }
            }
        }
        None => vec![None; sentences.len()],
    };
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (d, sim) in sentences.into_iter().zip(sims) {
        match verify(&d, article, sim, cfg) {
            Ok(()) => kept.push(d),
            Err(reason) => dropped.push(DroppedSentence { text: d.text, reason, draft }),
        }
    }
    // The headline is checked like a sentence citing every claim: it may only use their
    // names and numbers.
    let title = title.and_then(|t| {
        let all = Drafted { text: t.clone(), cited: (1..=article.claims.len()).collect() };
        match verify(&all, article, None, cfg) {
            Ok(()) => Some(t),
            Err(reason) => {
                dropped.push(DroppedSentence { text: t, reason: format!("headline: {reason}"), draft });
                None
            }
        }
    });
    Checked { title, kept, dropped }
}

/// Rewrites `extractive` with `model`, verifying each sentence (see the module doc).
/// Always returns an article: the model's when at least one sentence passed, else the
/// extractive one; either way with [`StoryArticle::generation`] saying what happened.
pub fn rewrite(
    extractive: &StoryArticle,
    model: &dyn ChatModel,
    embed: Option<&EmbedFn<'_>>,
    cfg: &LlmWriteConfig,
) -> StoryArticle {
    let mut record = Generation { model: model.id(), cached: true, ..Generation::default() };
    let fallback = |mut record: Generation, error: String| {
        tracing::warn!(story = extractive.story_id, lang = %extractive.lang, model = %record.model, %error, "LLM writing failed; the extractive article stands");
        record.status = "fallback".into();
        record.error = Some(error);
        StoryArticle { generation: Some(record), ..extractive.clone() }
    };
    if extractive.claims.is_empty() {
        return fallback(record, "the story has no claims to write from".into());
    }
    let mut messages = prompt(extractive, cfg);
    let mut best: Option<Checked> = None;
    for draft in 1..=cfg.regenerations + 1 {
        let request =
            ChatRequest { messages: messages.clone(), max_tokens: cfg.max_tokens, temperature: cfg.temperature };
        record.requests += 1;
        let answer = match model.chat(&request) {
            Ok(a) => a,
            Err(e) if best.is_some() => {
                tracing::warn!(story = extractive.story_id, error = %e, "regeneration failed; keeping the earlier draft");
                break;
            }
            Err(e) => {
                record.cached = false;
                return fallback(record, e.to_string());
            }
        };
        record.cached &= answer.cached;
        if !answer.cached {
            record.prompt_tokens += answer.prompt_tokens;
            record.completion_tokens += answer.completion_tokens;
        }
        let checked = check_draft(&answer, draft, extractive, embed, cfg);
        record.dropped.extend(checked.dropped.iter().cloned());
        let mut failed: Vec<String> =
            checked.dropped.iter().map(|d| format!("- \"{}\": {}", d.text, d.reason)).collect();
        if checked.kept.is_empty() && failed.is_empty() {
            failed.push("- the answer had no sentences ending with claim numbers".into());
        }
        let better = best.as_ref().is_none_or(|b| checked.kept.len() > b.kept.len());
        if better {
            best = Some(checked);
        }
        if failed.is_empty() {
            break;
        }
        messages.push(ChatMessage::new(Role::Assistant, answer.text));
        messages.push(ChatMessage::new(
            Role::User,
            format!(
                "These sentences were rejected:\n{}\nWrite the whole article again. Use only the claims, \
                 and cite claim numbers after every sentence.",
                failed.join("\n")
            ),
        ));
    }
    let Some(best) = best.filter(|b| !b.kept.is_empty()) else {
        return fallback(record, "no generated sentence passed verification".into());
    };
    record.status = "written".into();
    record.kept = best.kept.len();
    let disputed_claims: BTreeSet<usize> =
        extractive.disagreements.iter().flat_map(|d| d.sides.iter().map(|s| s.claim)).collect();
    let sentences: Vec<SynthSentence> = best
        .kept
        .iter()
        .map(|d| {
            let ids: Vec<usize> = d.cited.iter().map(|n| n - 1).collect::<BTreeSet<_>>().into_iter().collect();
            let mut sources: Vec<SourcePassage> = Vec::new();
            for &id in &ids {
                for p in &extractive.claims[id].passages {
                    if !sources.iter().any(|s| s.article_id == p.article_id && s.sentence == p.sentence) {
                        sources.push(p.clone());
                    }
                }
            }
            SynthSentence {
                text: d.text.clone(),
                lang: extractive.lang.clone(),
                n_independent: ids.iter().map(|&id| extractive.claims[id].n_independent).max().unwrap_or(0),
                sources,
                claim: ids.first().copied(),
                disputed: ids.iter().any(|id| disputed_claims.contains(id)),
                generated: true,
                claims: ids,
                edited: false,
            }
        })
        .collect();
    let mut paragraphs: Vec<Vec<SynthSentence>> = Vec::new();
    let lead = sentences.len().min(2);
    paragraphs.push(sentences[..lead].to_vec());
    for chunk in sentences[lead..].chunks(3) {
        paragraphs.push(chunk.to_vec());
    }
    paragraphs.retain(|p| !p.is_empty());
    StoryArticle {
        title: best.title.unwrap_or_else(|| extractive.title.clone()),
        edited_by: format!("chorus with {} (each sentence checked against its sources)", record.model),
        paragraphs,
        generation: Some(record),
        ..extractive.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::{Claim, Coverage, Disagreement, DisagreementSide};
    use chorus_llm::LlmError;
    use std::sync::Mutex;

    fn passage(id: &str, sentence: &str) -> SourcePassage {
        SourcePassage {
            article_id: id.into(),
            outlet: format!("Outlet {id}"),
            lang: "en".into(),
            sentence: sentence.into(),
            similarity: 1.0,
        }
    }

    fn extractive() -> StoryArticle {
        let claims = [
            ("a", "An earthquake of magnitude 7.8 struck southern Turkey on 6 February."),
            ("b", "At least 1,200 people died, officials said."),
            ("c", "President Erdogan said: \"We will rebuild every city.\""),
        ];
        StoryArticle {
            story_id: 7,
            lang: "en".into(),
            title: "Earthquake in Turkey".into(),
            edited_by: "chorus".into(),
            written_at: chrono::Utc::now(),
            paragraphs: vec![],
            unconfirmed: false,
            coverage: Coverage::default(),
            claims: claims
                .iter()
                .enumerate()
                .map(|(id, (a, s))| Claim {
                    id,
                    passages: vec![passage(a, s)],
                    n_independent: 2,
                    n_reports: 2,
                    outlets: vec![],
                    languages: vec!["en".into()],
                })
                .collect(),
            disagreements: vec![Disagreement {
                kind: "number".into(),
                sides: vec![DisagreementSide { claim: 1, values: vec!["1200".into()] }],
            }],
            generation: None,
            revision: 0,
        }
    }

    /// Plays back canned answers (the real backends are tested in chorus-llm and with
    /// SmolLM2 in the chorus crate; here only the verification logic is under test).
    struct Scripted(Mutex<Vec<Result<String, LlmError>>>);

    impl ChatModel for Scripted {
        fn id(&self) -> String {
            "scripted".into()
        }
        fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, LlmError> {
            let next = self.0.lock().unwrap().remove(0)?;
            Ok(ChatResponse {
                text: next,
                model: "scripted".into(),
                prompt_tokens: 100,
                completion_tokens: 20,
                cached: false,
                attempts: 1,
            })
        }
    }

    fn scripted(answers: Vec<Result<&str, LlmError>>) -> Scripted {
        Scripted(Mutex::new(answers.into_iter().map(|a| a.map(String::from)).collect()))
    }

    #[test]
    fn prompt_numbers_claims_from_one_and_marks_disputed_ones() {
        let user = &prompt(&extractive(), &LlmWriteConfig::default())[1].content;
        assert!(user.contains("[1] An earthquake of magnitude 7.8"), "{user}");
        assert!(user.contains("[2] At least 1,200 people died, officials said. (2 independent sources; disputed)"));
    }

    #[test]
    fn parses_headline_sentences_and_citations_in_any_position() {
        let (title, s) = parse_draft(
            "**Headline: Quake hits Turkey**\n\nA 7.8 quake struck. [1] At least 1,200 died [2][1]. Erdogan spoke [3, 2].",
            "en",
        );
        assert_eq!(title.as_deref(), Some("Quake hits Turkey"));
        assert_eq!(
            s.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
            ["A 7.8 quake struck.", "At least 1,200 died.", "Erdogan spoke."]
        );
        assert_eq!(s.iter().map(|d| d.cited.clone()).collect::<Vec<_>>(), [vec![1], vec![2, 1], vec![3, 2]]);
    }

    #[test]
    fn verification_catches_invented_numbers_names_quotes_and_missing_claims() {
        let a = extractive();
        let cfg = LlmWriteConfig::default();
        let check = |text: &str, cited: Vec<usize>| verify(&Drafted { text: text.into(), cited }, &a, None, &cfg);
        assert_eq!(check("A magnitude 7.8 earthquake hit Turkey on 6 February.", vec![1]), Ok(()));
        assert_eq!(check("As I've said, an earthquake hit Turkey.", vec![1]), Ok(()));
        assert!(check("At least 1,300 people died.", vec![2]).unwrap_err().contains("1300"));
        // The number is in claim 2, but the sentence cites only claim 1.
        assert!(check("At least 1,200 people died.", vec![1]).unwrap_err().contains("1200"));
        assert!(check("The quake also hit Syria.", vec![1]).unwrap_err().contains("Syria"));
        assert!(check("It struck on 7 February.", vec![1]).unwrap_err().contains("number 7"));
        assert!(check("Erdogan said: \"We will rebuild every town.\"", vec![3]).unwrap_err().contains("quotation"));
        assert_eq!(check("Erdogan said: \"We will rebuild every city.\"", vec![3]), Ok(()));
        assert_eq!(check("An earthquake struck.", vec![]).unwrap_err(), "cites no claim");
        assert!(check("An earthquake struck.", vec![9]).unwrap_err().contains("claim 9, which does not exist"));
        assert!(
            verify(&Drafted { text: "An earthquake struck.".into(), cited: vec![1] }, &a, Some(0.5), &cfg)
                .unwrap_err()
                .contains("similarity 0.50")
        );
    }

    #[test]
    fn failing_sentences_are_dropped_and_a_better_regeneration_is_kept() {
        let model = scripted(vec![
            Ok("Quake in Turkey\nA 7.8 quake struck Turkey [1]. It killed 5,000 people [2]."),
            Ok("Quake in Turkey\nA 7.8 quake struck Turkey [1]. At least 1,200 people died [2]."),
        ]);
        let out = rewrite(&extractive(), &model, None, &LlmWriteConfig::default());
        let g = out.generation.as_ref().unwrap();
        assert_eq!((g.status.as_str(), g.requests, g.kept), ("written", 2, 2));
        assert_eq!(g.dropped.len(), 1);
        assert!(g.dropped[0].reason.contains("5000") && g.dropped[0].draft == 1, "{:?}", g.dropped);
        assert_eq!((g.prompt_tokens, g.completion_tokens), (200, 40));
        let s: Vec<&SynthSentence> = out.paragraphs.iter().flatten().collect();
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|s| s.generated));
        assert!(s[1].disputed && s[1].claims == [1] && s[1].sources[0].article_id == "b");
        assert_eq!(out.title, "Quake in Turkey");
        assert!(out.edited_by.contains("scripted"));
        // Claims, disagreements and coverage are the extractive stage's.
        assert_eq!(out.claims, extractive().claims);
    }

    #[test]
    fn down_garbage_or_phantom_citations_leave_the_extractive_article_with_the_reason() {
        let e = extractive();
        let down = scripted(vec![Err(LlmError::Unreachable { endpoint: "http://x".into(), reason: "refused".into() })]);
        let out = rewrite(&e, &down, None, &LlmWriteConfig::default());
        let g = out.generation.clone().unwrap();
        assert_eq!(g.status, "fallback");
        assert!(g.error.unwrap().contains("unreachable"));
        assert_eq!(StoryArticle { generation: None, ..out }, e);

        let garbage = scripted(vec![Ok("\u{0}\u{1}}}}{{"), Ok("Sure! Here is an article [42].")]);
        let out = rewrite(&e, &garbage, None, &LlmWriteConfig::default());
        let g = out.generation.unwrap();
        assert_eq!(g.status, "fallback");
        assert!(g.dropped.iter().any(|d| d.reason.contains("claim 42, which does not exist")), "{:?}", g.dropped);
        assert_eq!(out.paragraphs, e.paragraphs);
    }
}
