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

use crate::figures::month_of;
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
    /// Cosine a generated sentence needs with a cited passage in another language (a
    /// translation is further from its original than a paraphrase in one language).
    pub min_similarity_cross_lingual: f32,
}

impl Default for LlmWriteConfig {
    fn default() -> Self {
        LlmWriteConfig {
            max_tokens: 400,
            temperature: 0.0,
            min_similarity: 0.83,
            regenerations: 1,
            max_claims: 12,
            min_similarity_cross_lingual: 0.84,
        }
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

/// Whether some claim given to the model has no passage in the edition's language, so the
/// model must translate (and the answer carries its translations).
pub fn needs_translation(article: &StoryArticle, cfg: &LlmWriteConfig) -> bool {
    article.claims.iter().take(cfg.max_claims).any(|c| !c.passages.iter().any(|p| p.lang == article.lang))
}

/// The text the model sees for one claim: its passage in the edition's language when a
/// source has one, else its first passage.
fn claim_text<'a>(passages: &'a [SourcePassage], edition: &str) -> &'a str {
    passages.iter().find(|p| p.lang == edition).or(passages.first()).map_or("", |p| p.sentence.as_str())
}

/// The chat that asks for a draft: instructions, then the numbered claims.
pub fn prompt(article: &StoryArticle, cfg: &LlmWriteConfig) -> Vec<ChatMessage> {
    let lang = language_name(&article.lang);
    let system = if needs_translation(article, cfg) {
        format!(
            "You are a careful news editor. Write a short, neutral news article in {lang} using only \
             the numbered claims below; some are in other languages. First write a line TRANSLATIONS, \
             then translate every claim you use into {lang}, one per line, starting with its number \
             in square brackets, like [1]. Then write a line ARTICLE, then a headline in {lang} on its \
             own line, then 3 to 8 sentences in {lang}. End every sentence with the numbers of the \
             claims it is based on, in square brackets, like [1] or [2][3]. Do not add any name, number, \
             date or fact that is not in those claims; keep every number and name exactly. When you \
             translate a quotation, write [translated] right after its closing quotation mark. Where a \
             claim is marked disputed, say that sources differ."
        )
    } else {
        format!(
            "You are a careful news editor. Write a short, neutral news article in {lang} using only \
         the numbered claims below. Start with a headline on its own line. Then write 3 to 6 \
         sentences. End every sentence with the numbers of the claims it is based on, in square \
         brackets, like [1] or [2][3]. Do not add any name, number, date or fact that is not in \
         those claims. Keep quotations word for word. Where a claim is marked disputed, say that \
         sources differ."
        )
    };
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
    /// The model marked its quotation as translated (`[translated]`).
    pub translated_quote: bool,
}

/// Marker the model writes after a quotation it translated.
const TRANSLATED_MARK: &str = "[translated]";

/// A model's whole answer: its translations of the claims (cross-lingual editions), the
/// headline and the sentences.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    /// Claim number (1-based) → the model's translation of it.
    pub translations: std::collections::BTreeMap<usize, String>,
    /// The headline, if the answer had one.
    pub title: Option<String>,
    /// The sentences.
    pub sentences: Vec<Drafted>,
}

/// Reads an answer: when it has an `ARTICLE` line, the lines before it (after an optional
/// `TRANSLATIONS` line) are `[n] translation`, and the draft follows; else it is all draft.
pub fn parse_answer(answer: &str, lang: &str) -> Answer {
    let is_marker = |l: &str, word: &str| {
        let t = l.trim().trim_matches(|c: char| c == '#' || c == '*' || c == ':' || c.is_whitespace());
        t.eq_ignore_ascii_case(word)
    };
    let lines: Vec<&str> = answer.lines().collect();
    let Some(at) = lines.iter().position(|l| is_marker(l, "ARTICLE")) else {
        let (title, sentences) = parse_draft(answer, lang);
        return Answer { translations: Default::default(), title, sentences };
    };
    let mut translations = std::collections::BTreeMap::new();
    for l in lines[..at].iter().filter(|l| !is_marker(l, "TRANSLATIONS")) {
        let (cited, rest) = take_leading_citations(l);
        if let (Some(&n), false) = (cited.first(), rest.trim().is_empty()) {
            translations.insert(n, rest.trim().to_string());
        }
    }
    let (title, sentences) = parse_draft(&lines[at + 1..].join("\n"), lang);
    Answer { translations, title, sentences }
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
        let translated_quote = text.to_ascii_lowercase().contains(TRANSLATED_MARK);
        let text = if translated_quote { remove_mark(&text) } else { text };
        let text = clean_heading(&text);
        if text.chars().any(char::is_alphanumeric) {
            out.push(Drafted { text, cited, translated_quote });
        }
    }
    (title, out)
}

/// The sentence without the `[translated]` marks (any case), spaces tidied.
fn remove_mark(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.to_ascii_lowercase().find(TRANSLATED_MARK) {
        // ASCII lower-casing keeps byte offsets.
        out.push_str(&rest[..i]);
        rest = rest.get(i + TRANSLATED_MARK.len()..).unwrap_or("");
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ").replace(" .", ".").replace(" ,", ",")
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

/// Editions whose language capitalises every noun: there a capitalised word is checked as
/// a name only inside a run of capitalised words ("Wolodymyr Selenskyj"), not alone.
const NOUN_CAPITALISING: &[&str] = &["de", "lb"];

/// Folds a word for matching names across scripts and spellings: transliterated to ASCII
/// (Зеленський → Zelens'kii), lower-cased, letters only, and the letters that spellings of
/// one name swap most folded together (z/s, y/j/i, w/v, k/c, ph/f, doubled letters).
pub fn fold_name(word: &str) -> String {
    let ascii = deunicode::deunicode(word).to_lowercase().replace("ph", "f").replace("ck", "k");
    let mut out = String::new();
    for c in ascii.chars().filter(char::is_ascii_alphabetic) {
        let c = match c {
            'z' => 's',
            'y' | 'j' => 'i',
            'w' => 'v',
            'c' | 'q' => 'k',
            other => other,
        };
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Whether `name` is one of `words` written another way: the same folded form, or one
/// within a fifth of its letters (Selenskyj / Zelensky / Зеленський; Erdoğan / Erdogan;
/// a case ending such as Macrons).
pub fn name_matches(name: &str, words: &[String]) -> bool {
    let n = fold_name(name);
    if n.len() < 2 {
        return true;
    }
    words.iter().any(|w| {
        let f = fold_name(w);
        !f.is_empty()
            && (f == n
                || (n.len() >= 4 && edit_distance(&f, &n) * 5 <= n.len().max(f.len()))
                || (n.len() >= 5 && f.len() >= 4 && (n.starts_with(&f) && n.len() - f.len() <= 2)))
    })
}

fn months_in(text: &str) -> BTreeSet<u32> {
    text.split_whitespace().filter_map(month_of).collect()
}

/// The words of a drafted sentence that must be names found in its cited passages:
/// capitalised words not starting the sentence, months excluded (checked as dates); in a
/// noun-capitalising language only words inside a run of two or more capitalised words,
/// leaving out the run's first word (a noun or title before the name).
fn names_to_check(sentence: &str, lang: &str) -> Vec<String> {
    if !NOUN_CAPITALISING.contains(&lang) {
        return names(sentence).into_iter().filter(|w| month_of(w).is_none()).collect();
    }
    // Runs of capitalised words (a determiner does not start one); in a run the first
    // word is a noun or title ("Insel Kefalonia", "Bürgermeisterin Eleni Papadaki"), the
    // rest are the name.
    const DETERMINERS: &[&str] = &[
        "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines", "im", "am", "zum",
        "zur", "vom", "beim",
    ];
    let words: Vec<&str> = sentence.split_whitespace().collect();
    let clean = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string();
    let capital = |w: &str| {
        w.chars().next().is_some_and(char::is_uppercase) && !DETERMINERS.contains(&clean(w).to_lowercase().as_str())
    };
    let mut in_run: Vec<String> = Vec::new();
    let mut k = 0;
    while k < words.len() {
        if !capital(words[k]) {
            k += 1;
            continue;
        }
        let start = k;
        k += 1;
        while k < words.len() && capital(words[k]) && !words[k - 1].ends_with([',', '.', ':', ';']) {
            k += 1;
        }
        if k - start >= 2 {
            in_run.extend(words[start + 1..k].iter().map(|w| clean(w)));
        }
    }
    let mut checked: Vec<String> =
        in_run.into_iter().filter(|w| month_of(w).is_none() && w.chars().count() >= 2).collect();
    checked.dedup();
    checked
}

/// Checks one drafted sentence against the claims it cites; `Err` says why it fails.
/// `similarity` is the best cosine to a cited passage, when vectors were available.
///
/// Across languages: numbers are compared as values (1.000 = 1,000 = 1 000), months by
/// number whatever language names them, names after transliteration and spelling folding
/// ([`name_matches`]), a quotation not found verbatim must be marked `[translated]` (and
/// then stands as the model's translation of a cited passage in another language), and
/// the similarity bar is the cross-lingual one when no cited passage is in the edition's
/// language.
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
    let cited: Vec<&SourcePassage> =
        drafted.cited.iter().flat_map(|&n| article.claims[n - 1].passages.iter()).collect();
    let joined = cited.iter().map(|p| p.sentence.as_str()).collect::<Vec<_>>().join("\n");
    let allowed = numbers(&joined);
    if let Some(n) = numbers(&drafted.text).into_iter().find(|n| !allowed.contains(n)) {
        return Err(format!("number {n} is not in the cited claims"));
    }
    let months = months_in(&joined);
    if let Some(m) = months_in(&drafted.text).into_iter().find(|m| !months.contains(m)) {
        return Err(format!("month {m} is not in the cited claims"));
    }
    let lower = joined.to_lowercase();
    let passage_words: Vec<String> =
        joined.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).map(String::from).collect();
    if let Some(name) = names_to_check(&drafted.text, &article.lang)
        .into_iter()
        .find(|w| !lower.contains(&w.to_lowercase()) && !name_matches(w, &passage_words))
    {
        return Err(format!("name {name:?} is not in the cited claims"));
    }
    let foreign = cited.iter().any(|p| p.lang != article.lang);
    for q in crate::split_quotes(&drafted.text).1 {
        if joined.contains(q.as_str()) {
            continue;
        }
        if !foreign {
            return Err(format!("quotation {q:?} is not verbatim in the cited claims"));
        }
        if !drafted.translated_quote {
            return Err(format!("quotation {q:?} is not verbatim in the cited claims and not marked as translated"));
        }
    }
    let bar = if cited.iter().any(|p| p.lang == article.lang) {
        cfg.min_similarity
    } else {
        cfg.min_similarity_cross_lingual
    };
    if let Some(sim) = similarity
        && sim < bar
    {
        return Err(format!("similarity {sim:.2} to the cited claims is below {bar:.2}"));
    }
    Ok(())
}

/// One verified draft.
struct Checked {
    translations: std::collections::BTreeMap<usize, String>,
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
    let Answer { translations, title, sentences } = parse_answer(&answer.text, &article.lang);
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
        let all = Drafted { text: t.clone(), cited: (1..=article.claims.len()).collect(), translated_quote: false };
        match verify(&all, article, None, cfg) {
            Ok(()) => Some(t),
            Err(reason) => {
                dropped.push(DroppedSentence { text: t, reason: format!("headline: {reason}"), draft });
                None
            }
        }
    });
    Checked { translations, title, kept, dropped }
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
                // The passage the model saw gets its translation, labelled machine-translated.
                let shown = claim_text(&extractive.claims[id].passages, &extractive.lang).to_string();
                for p in &extractive.claims[id].passages {
                    if !sources.iter().any(|s| s.article_id == p.article_id && s.sentence == p.sentence) {
                        let mut p = p.clone();
                        if p.lang != extractive.lang && p.sentence == shown {
                            p.translation = best.translations.get(&(id + 1)).cloned();
                        }
                        sources.push(p);
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
                translated_quote: d.translated_quote && !crate::split_quotes(&d.text).1.is_empty(),
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
    // Without a verified headline: the extractive one when it is in the edition's language,
    // else a clause of the first generated sentence.
    let in_edition = extractive.paragraphs.iter().flatten().any(|s| s.lang == extractive.lang);
    let title = best.title.clone().unwrap_or_else(|| {
        if in_edition {
            extractive.title.clone()
        } else {
            sentences.first().map(|s| crate::clause_headline(&s.text)).unwrap_or_default()
        }
    });
    StoryArticle {
        title,
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
            translation: None,
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
                    as_of: None,
                    history: vec![],
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
        let check = |text: &str, cited: Vec<usize>| {
            verify(&Drafted { text: text.into(), cited, translated_quote: false }, &a, None, &cfg)
        };
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
            verify(
                &Drafted { text: "An earthquake struck.".into(), cited: vec![1], translated_quote: false },
                &a,
                Some(0.5),
                &cfg
            )
            .unwrap_err()
            .contains("similarity 0.50")
        );
    }

    fn foreign() -> StoryArticle {
        let mut a = extractive();
        a.lang = "de".into();
        a.claims[0].passages = vec![SourcePassage {
            lang: "uk".into(),
            ..passage("u", "Президент Володимир Зеленський прибув до Парижа 6 лютого, де 35 країн погодили гарантії.")
        }];
        a.claims[2].passages = vec![SourcePassage {
            lang: "fr".into(),
            ..passage("f", "Le président Erdogan a déclaré : « Nous reconstruirons chaque ville ».")
        }];
        a
    }

    #[test]
    fn names_dates_numbers_and_quotations_are_checked_across_languages() {
        for (a, b) in
            [("Selenskyj", "Зеленський"), ("Zelensky", "Зеленський"), ("Selenskyj", "Zelensky"), ("Erdoğan", "Erdogan")]
        {
            assert!(name_matches(a, &[b.to_string()]), "{a} ~ {b}");
        }
        assert!(!name_matches("Macron", &["Зеленський".to_string(), "Erdogan".to_string()]));
        let a = foreign();
        let cfg = LlmWriteConfig::default();
        let check = |text: &str, cited: Vec<usize>, translated_quote: bool| {
            verify(&Drafted { text: text.into(), cited, translated_quote }, &a, None, &cfg)
        };
        let ok = "Präsident Wolodymyr Selenskyj traf am 6. Februar in Paris ein, wo 35 Länder Garantien vereinbarten.";
        assert_eq!(check(ok, vec![1], false), Ok(()));
        assert!(check(&ok.replace("6. Februar", "6. März"), vec![1], false).unwrap_err().contains("month 3"));
        assert!(check(&ok.replace("35", "36"), vec![1], false).unwrap_err().contains("number 36"));
        let wrong = "Präsident Emmanuel Macron traf am 6. Februar in Paris ein.";
        assert!(check(wrong, vec![1], false).unwrap_err().contains("Emmanuel"), "a wrong name fails");
        let quote = "Präsident Erdogan sagte: „Wir werden jede Stadt wieder aufbauen.“";
        assert!(check(quote, vec![3], false).unwrap_err().contains("not marked as translated"));
        assert_eq!(check(quote, vec![3], true), Ok(()));
        assert!(check(&quote.replace("Präsident", "Präsident Recep"), vec![3], true).unwrap_err().contains("Recep"));
        // Numbers in any locale: 1.200 (de) is the 1,200 of the claim.
        assert_eq!(check("Mindestens 1.200 Menschen starben.", vec![2], false), Ok(()));
        // The similarity bar is the cross-lingual one when no cited passage is in German.
        assert_eq!(
            verify(&Drafted { text: ok.into(), cited: vec![1], translated_quote: false }, &a, Some(0.85), &cfg),
            Ok(())
        );
        assert!(
            verify(&Drafted { text: ok.into(), cited: vec![1], translated_quote: false }, &a, Some(0.80), &cfg)
                .is_err()
        );
    }

    #[test]
    fn a_cross_lingual_answer_carries_translations_and_marks() {
        let a = foreign();
        assert!(needs_translation(&a, &LlmWriteConfig::default()));
        assert!(prompt(&a, &LlmWriteConfig::default())[0].content.contains("TRANSLATIONS"));
        assert!(!prompt(&extractive(), &LlmWriteConfig::default())[0].content.contains("TRANSLATIONS"));
        let answer = "TRANSLATIONS\n[1] Präsident Wolodymyr Selenskyj traf am 6. Februar in Paris ein.\n[3] Präsident Erdogan sagte: „Wir werden jede Stadt wieder aufbauen.“\nARTICLE\nSelenskyj in Paris\nPräsident Wolodymyr Selenskyj traf am 6. Februar in Paris ein [1]. Präsident Erdogan sagte: „Wir werden jede Stadt wieder aufbauen.“ [translated] [3]";
        let model = scripted(vec![Ok(answer)]);
        let out = rewrite(&a, &model, None, &LlmWriteConfig::default());
        assert_eq!(out.generation.as_ref().map(|g| g.status.as_str()), Some("written"), "{:?}", out.generation);
        assert_eq!(out.title, "Selenskyj in Paris");
        let s: Vec<&SynthSentence> = out.paragraphs.iter().flatten().collect();
        assert_eq!(s.len(), 2);
        assert!(!s[1].text.contains("[translated]") && s[1].translated_quote && !s[0].translated_quote);
        assert_eq!(
            s[0].sources[0].translation.as_deref(),
            Some("Präsident Wolodymyr Selenskyj traf am 6. Februar in Paris ein.")
        );
        assert!(s.iter().all(|x| x.lang == "de"));
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
