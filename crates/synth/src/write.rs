//! The writer: claims first, once per story; then one article per edition language.
//!
//! [`StoryAnalysis::new`] does everything that does not depend on the reader's language:
//! similarities, independent reports, support, ranking, *claims* (the sentences of every
//! source, in any language, that state one thing), which claims are successive figures of
//! one quantity (an *update*: a toll rising over hours) and which are independent reports
//! disagreeing about it at about the same time (a *dispute*). [`StoryAnalysis::edition`]
//! then writes the article in one language:
//!
//! - each claim is stated once, by a source sentence in the edition's language; a claim no
//!   source states in that language is left out (no edition mixes languages);
//! - of an update chain only the newest figure the edition's language has is stated, with
//!   its time, and the claim keeps the earlier figures as its history;
//! - of a dispute one side is stated, marked disputed; both sides are listed with the
//!   disagreement, which names only the quantity in dispute;
//! - the lead says who/what/when/where; the body is grouped by sub-topic; quotations
//!   (always attributed) follow; claims only one report makes close the article under
//!   "not yet confirmed". Length follows the number of independent reports.

use crate::figures::{conflicting, quantities, within_ratio};
use crate::{
    Candidate, SynthConfig, dot, independent_reports, lead_elements, numbers, numbers_agree, quotes_differ,
    split_quotes,
};
use chorus_core::{
    ArticleRecord, Claim, Coverage, Disagreement, DisagreementSide, FigureUpdate, SourcePassage, StoryArticle, StoryId,
    SynthSentence,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Largest ratio between successive figures of one quantity (a toll that rises from
/// 29,000 to 45,000 over days); reports at one time must be within 25 % to disagree.
const UPDATE_RATIO: f64 = 4.0;

/// How two claims about one quantity relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// Successive figures (same outlet, or published apart): the newer replaces the older.
    Update,
    /// Independent reports giving different figures at about the same time.
    Dispute,
}

/// Two claims about one quantity (an update or a dispute), with the values that differ.
#[derive(Debug, Clone)]
struct Dispute {
    a: usize,
    b: usize,
    similarity: f32,
    values_a: Vec<String>,
    values_b: Vec<String>,
}

/// Everything about a story that does not depend on the edition language: computed once
/// per story, then [`StoryAnalysis::edition`] writes each edition from it.
pub struct StoryAnalysis<'a> {
    sources: &'a [ArticleRecord],
    cands: &'a [Candidate],
    sims: Option<Vec<Vec<f32>>>,
    qty: Vec<BTreeSet<String>>,
    /// Per source, its independent report (an index).
    report_of: Vec<usize>,
    reports: usize,
    /// Per candidate: for each report stating the same thing, its best passage and cosine.
    support: Vec<BTreeMap<usize, (usize, f32)>>,
    /// Candidates by rank, best first.
    order: Vec<usize>,
    rank: Vec<usize>,
    claim_of: Vec<usize>,
    /// Per claim, its candidates; the first is the best ranked.
    members: Vec<Vec<usize>>,
    /// Per claim, the update chain it belongs to (an index into `chains`).
    chain_of: Vec<Option<usize>>,
    /// Update chains: claims about one quantity, oldest first.
    chains: Vec<Vec<usize>>,
    disputes: Vec<Dispute>,
    quote_conflicts: Vec<(usize, String, String)>,
    coverage: Coverage,
    /// Per source, how much the other reports use its headline's words ([`title_consensus`]).
    title_consensus: Vec<f32>,
}

fn union_find_root(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

impl<'a> StoryAnalysis<'a> {
    /// Analyses a story: `vectors`, when given, hold one unit vector per candidate (same
    /// order); without them (single-report stories need none) sentences keep source order.
    pub fn new(
        sources: &'a [ArticleRecord],
        cands: &'a [Candidate],
        vectors: Option<&[Vec<f32>]>,
        cfg: &SynthConfig,
    ) -> StoryAnalysis<'a> {
        let n = cands.len();
        let vectors = vectors.filter(|v| v.len() == n);
        let sims: Option<Vec<Vec<f32>>> =
            vectors.map(|v| (0..n).map(|i| (0..n).map(|j| dot(&v[i], &v[j])).collect()).collect());
        let nums: Vec<BTreeSet<String>> = cands.iter().map(|c| numbers(&c.text)).collect();
        let qty: Vec<BTreeSet<String>> = cands.iter().map(|c| quantities(&c.text)).collect();
        let keys = independent_reports(sources, cands, sims.as_ref(), &nums, cfg);
        let mut key_ids: BTreeMap<&str, usize> = BTreeMap::new();
        let report_of: Vec<usize> = keys
            .iter()
            .map(|k| {
                let next = key_ids.len();
                *key_ids.entry(k.as_str()).or_insert(next)
            })
            .collect();
        let reports = key_ids.len();
        let lang = |i: usize| sources[cands[i].source].article.lang.as_str();
        let report = |i: usize| report_of[cands[i].source];
        let same_statement = |sims: &Vec<Vec<f32>>, i: usize, j: usize| {
            let bar = if lang(i) == lang(j) { cfg.support_threshold } else { cfg.cross_lingual_threshold };
            sims[i][j] >= bar && numbers_agree(&nums[i], &nums[j])
        };

        let mut support: Vec<BTreeMap<usize, (usize, f32)>> = vec![BTreeMap::new(); n];
        for i in 0..n {
            support[i].insert(report(i), (i, 1.0));
            if let Some(sims) = &sims {
                for j in 0..n {
                    let r = report(j);
                    if r == report(i) || !same_statement(sims, i, j) {
                        continue;
                    }
                    let e = support[i].entry(r).or_insert((j, sims[i][j]));
                    if sims[i][j] > e.1 {
                        *e = (j, sims[i][j]);
                    }
                }
            }
        }
        let centrality: Vec<f32> = match vectors {
            Some(v) if n > 0 => {
                let mut c = vec![0f32; v[0].len()];
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
        if sims.is_none() || key_ids.len() <= 1 {
            // Without vectors, or with one report: source order, the earliest source first
            // (one article's own order reads best).
            order.sort_by_key(|&i| (cands[i].source, cands[i].position));
        }
        let mut rank = vec![0; n];
        for (k, &i) in order.iter().enumerate() {
            rank[i] = k;
        }

        // Claims: in rank order, each candidate not yet placed opens a claim that takes every
        // other unplaced candidate stating the same thing (close, numbers agreeing).
        let mut claim_of: Vec<usize> = vec![usize::MAX; n];
        let mut members: Vec<Vec<usize>> = Vec::new();
        for &i in &order {
            if claim_of[i] != usize::MAX {
                continue;
            }
            let id = members.len();
            claim_of[i] = id;
            let mut m = vec![i];
            if let Some(sims) = &sims {
                for &j in &order {
                    // A member agrees on the numbers with every member so far, so a claim
                    // never holds two figures for one quantity (a numberless sentence would
                    // otherwise take in 4,300 and 4,900 dead alike).
                    if claim_of[j] == usize::MAX
                        && same_statement(sims, i, j)
                        && m.iter().all(|&k| numbers_agree(&nums[k], &nums[j]))
                    {
                        claim_of[j] = id;
                        m.push(j);
                    }
                }
            }
            members.push(m);
        }

        // Figures: pairs of claims about one quantity (close sentences whose quantities
        // conflict) are an update or a dispute.
        let published = |i: usize| sources[cands[i].source].article.published;
        let outlet = |i: usize| sources[cands[i].source].article.outlet.as_str();
        let mut relations: Vec<(Relation, Dispute)> = Vec::new();
        // The bar at which two sentences state the same thing, by their languages.
        let bar_for =
            |i: usize, j: usize| if lang(i) == lang(j) { cfg.support_threshold } else { cfg.cross_lingual_threshold };
        if let Some(sims) = &sims {
            let window = chrono::Duration::hours(cfg.conflict_window_hours);
            for a in 0..members.len() {
                for b in a + 1..members.len() {
                    // The closest conflicting pair of their sentences.
                    let mut best: Option<(usize, usize, f32)> = None;
                    for &i in &members[a] {
                        for &j in &members[b] {
                            let bar = if lang(i) == lang(j) {
                                cfg.conflict_threshold
                            } else {
                                cfg.cross_lingual_threshold - (cfg.support_threshold - cfg.conflict_threshold)
                            };
                            if sims[i][j] >= bar
                                && best.is_none_or(|(_, _, s)| sims[i][j] > s)
                                && !within_ratio(&qty[i], &qty[j], UPDATE_RATIO).0.is_empty()
                            {
                                best = Some((i, j, sims[i][j]));
                            }
                        }
                    }
                    let Some((i, j, sim)) = best else { continue };
                    // Successive figures: one outlet's, or published hours apart with the
                    // later figure the higher (a toll rises as bodies are found), or days
                    // apart whatever the figures. Otherwise independent reports at about the
                    // same time disagree.
                    let (ti, tj) = (published(i), published(j));
                    let apart = matches!((ti, tj), (Some(x), Some(y)) if (x - y).abs() > window);
                    let rising = match (ti, tj) {
                        (Some(x), Some(y)) if (x - y).abs() >= chrono::Duration::hours(1) => {
                            let (early, late) = if x < y { (i, j) } else { (j, i) };
                            let (ve, vl) = within_ratio(&qty[early], &qty[late], UPDATE_RATIO);
                            let max = |v: &[String]| v.iter().filter_map(|x| x.parse::<f64>().ok()).fold(0.0, f64::max);
                            !vl.is_empty() && max(&vl) > max(&ve)
                        }
                        _ => false,
                    };
                    let update = outlet(i) == outlet(j) || apart || rising;
                    // Figures far apart (29,000 then 45,000) are one quantity only in very
                    // close sentences.
                    let (va, vb) = if update && sim >= cfg.support_threshold.min(bar_for(i, j)) {
                        within_ratio(&qty[i], &qty[j], UPDATE_RATIO)
                    } else {
                        conflicting(&qty[i], &qty[j])
                    };
                    if va.is_empty() {
                        continue;
                    }
                    let relation = if update {
                        Relation::Update
                    } else {
                        let reports_a: BTreeSet<usize> = members[a].iter().map(|&x| report(x)).collect();
                        if !members[b].iter().any(|&y| !reports_a.contains(&report(y))) {
                            continue;
                        }
                        Relation::Dispute
                    };
                    relations.push((relation, Dispute { a, b, similarity: sim, values_a: va, values_b: vb }));
                }
            }
        }
        let claim_time = |c: usize| members[c].iter().filter_map(|&i| published(i)).max();
        let mut parent: Vec<usize> = (0..members.len()).collect();
        for (rel, d) in &relations {
            if *rel == Relation::Update {
                let (ra, rb) = (union_find_root(&mut parent, d.a), union_find_root(&mut parent, d.b));
                parent[ra] = rb;
            }
        }
        let mut chain_ids: BTreeMap<usize, usize> = BTreeMap::new();
        let mut chains: Vec<Vec<usize>> = Vec::new();
        let mut chain_of: Vec<Option<usize>> = vec![None; members.len()];
        for (c, chain) in chain_of.iter_mut().enumerate() {
            let root = union_find_root(&mut parent, c);
            if root == c && !relations.iter().any(|(r, d)| *r == Relation::Update && (d.a == c || d.b == c)) {
                continue;
            }
            let id = *chain_ids.entry(root).or_insert_with(|| {
                chains.push(Vec::new());
                chains.len() - 1
            });
            chains[id].push(c);
            *chain = Some(id);
        }
        for chain in &mut chains {
            chain.sort_by_key(|&c| (claim_time(c), std::cmp::Reverse(c)));
        }
        let mut disputes: Vec<Dispute> =
            relations.into_iter().filter(|(r, _)| *r == Relation::Dispute).map(|(_, d)| d).collect();
        disputes.sort_by(|x, y| y.similarity.total_cmp(&x.similarity).then((x.a, x.b).cmp(&(y.a, y.b))));
        disputes.truncate(cfg.max_disagreements);

        // Quoted wording: two reports in one language quoting the same words differently
        // (most words shared, not all) within one claim. One per claim.
        let mut quote_conflicts: Vec<(usize, String, String)> = Vec::new();
        for (c, m) in members.iter().enumerate() {
            if quote_conflicts.len() + disputes.len() >= cfg.max_disagreements {
                break;
            }
            let found = m.iter().enumerate().find_map(|(x, &i)| {
                m[x + 1..].iter().find_map(|&j| {
                    if report(i) == report(j) || lang(i) != lang(j) {
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

        let coverage = Coverage {
            reports: sources.len(),
            independent: reports,
            outlets: sources.iter().map(|r| r.article.outlet.as_str()).collect::<BTreeSet<_>>().len(),
            languages: sources.iter().map(|r| r.article.lang.clone()).collect::<BTreeSet<_>>().into_iter().collect(),
            wire_agencies: {
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for r in sources {
                    for a in chorus_text::wire::agency_credits(&r.article.text) {
                        *counts.entry(a).or_default() += 1;
                    }
                }
                counts.into_iter().map(|(a, n)| (a.to_string(), n)).collect()
            },
        };
        let title_consensus = title_consensus(sources, &report_of);
        StoryAnalysis {
            sources,
            cands,
            sims,
            qty,
            report_of,
            reports,
            support,
            order,
            rank,
            claim_of,
            members,
            chain_of,
            chains,
            disputes,
            quote_conflicts,
            coverage,
            title_consensus,
        }
    }

    fn lang(&self, i: usize) -> &str {
        &self.sources[self.cands[i].source].article.lang
    }

    fn report(&self, i: usize) -> usize {
        self.report_of[self.cands[i].source]
    }

    fn sim(&self, i: usize, j: usize) -> f32 {
        self.sims.as_ref().map_or(if i == j { 1.0 } else { 0.0 }, |m| m[i][j])
    }

    fn published(&self, i: usize) -> Option<DateTime<Utc>> {
        self.sources[self.cands[i].source].article.published
    }

    /// Independent reports behind a claim: its members' and those supporting its best passage.
    fn claim_reports(&self, c: usize) -> BTreeSet<usize> {
        let m = &self.members[c];
        m.iter().map(|&i| self.report(i)).chain(self.support[m[0]].keys().copied()).collect()
    }

    /// The candidate quoting claim `c` in `edition`: its best-ranked sentence in that
    /// language, if any.
    fn passage_in(&self, c: usize, edition: &str) -> Option<usize> {
        self.members[c].iter().copied().filter(|&i| self.lang(i) == edition).min_by_key(|&i| self.rank[i])
    }

    /// The claim of an update chain an edition states: the newest with a sentence in the
    /// edition's language.
    fn chain_head(&self, chain: usize, edition: &str) -> Option<usize> {
        self.chains[chain].iter().rev().copied().find(|&c| self.passage_in(c, edition).is_some())
    }

    /// Whether the story has sentences in `edition`.
    pub fn has_edition(&self, edition: &str) -> bool {
        self.cands.iter().any(|c| self.sources[c.source].article.lang == edition)
    }

    fn passage(&self, j: usize, similarity: f32) -> SourcePassage {
        let a = &self.sources[self.cands[j].source].article;
        SourcePassage {
            article_id: a.id.clone(),
            outlet: a.outlet.clone(),
            lang: a.lang.clone(),
            sentence: self.cands[j].text.clone(),
            similarity,
            translation: None,
        }
    }

    /// Writes the article in `edition` (see the module doc).
    pub fn edition(&self, story: StoryId, edition: &str, cfg: &SynthConfig, now: DateTime<Utc>) -> StoryArticle {
        self.write(story, edition, cfg, now, false)
    }

    /// The brief a model writes an edition from when no source is in its language: the
    /// claims an article would state, each once, each quoted in whatever language it came
    /// in. Never shown as it is (it mixes languages); the model's verified text replaces it.
    pub fn brief(&self, story: StoryId, edition: &str, cfg: &SynthConfig, now: DateTime<Utc>) -> StoryArticle {
        self.write(story, edition, cfg, now, true)
    }

    fn write(
        &self,
        story: StoryId,
        edition: &str,
        cfg: &SynthConfig,
        now: DateTime<Utc>,
        any_language: bool,
    ) -> StoryArticle {
        // In a brief a claim is quoted in its own best passage when the edition's language
        // has none.
        let passage_in = |c: usize| self.passage_in(c, edition).or(any_language.then(|| self.members[c][0]));
        let chain_head = |chain: usize| {
            self.chain_head(chain, edition).or(any_language.then(|| self.chains[chain].last().copied()).flatten())
        };
        let budgeted = cfg.max_words > 0;
        let single = self.reports <= 1;
        // Caps: confirmed sentences grow with the independent reports; claims only one
        // report makes get a short part of their own.
        let confirmed_cap =
            if budgeted { cfg.max_sentences } else { (2 + 2 * self.reports).clamp(3, cfg.max_sentences.max(3)) };
        let unconfirmed_cap = if single { 4 } else { (2 + self.reports / 4).min(5) };
        // One report (perhaps with verbatim reprints), or no sentence vectors: the article is
        // written from one source, the original in the edition's language, so a reprint with
        // a changed caption is not quoted beside it.
        let only_source: Option<usize> = if self.sims.is_none() || self.reports <= 1 {
            let wanted = |s: &usize| any_language || self.sources[*s].article.lang == edition;
            let sources = 0..self.sources.len();
            sources
                .clone()
                .filter(wanted)
                .find(|&s| self.sources[s].duplicate_of.is_none())
                .or_else(|| sources.clone().find(wanted))
        } else {
            None
        };
        let mut stated_claims: BTreeSet<usize> = BTreeSet::new();
        let mut done_chains: BTreeSet<usize> = BTreeSet::new();
        // (claim, quoted candidate, confirmed)
        let mut chosen: Vec<(usize, usize, bool)> = Vec::new();
        let (mut words, mut n_confirmed, mut n_unconfirmed) = (0, 0, 0);
        let mut seen_claims: BTreeSet<usize> = BTreeSet::new();
        for &i in &self.order {
            let mut c = self.claim_of[i];
            if !seen_claims.insert(c) {
                continue;
            }
            if let Some(chain) = self.chain_of[c] {
                if !done_chains.insert(chain) {
                    continue;
                }
                match chain_head(chain) {
                    Some(head) => c = head,
                    None => continue,
                }
            }
            // One side of a dispute is stated; the other is listed with the disagreement.
            if self
                .disputes
                .iter()
                .any(|d| (d.a == c && stated_claims.contains(&d.b)) || (d.b == c && stated_claims.contains(&d.a)))
            {
                continue;
            }
            let Some(q) = passage_in(c) else { continue };
            if only_source.is_some_and(|s| self.cands[q].source != s) {
                continue;
            }
            let repeats = chosen.iter().any(|&(_, x, _)| {
                let bar = if self.lang(q) == self.lang(x) { cfg.repeat_threshold } else { cfg.cross_lingual_threshold };
                self.cands[x].text == self.cands[q].text
                    || self.sim(q, x) >= bar
                    || (self.sim(q, x) >= cfg.conflict_threshold
                        && !conflicting(&self.qty[q], &self.qty[x]).0.is_empty())
            });
            if repeats {
                continue;
            }
            let confirmed = single || self.claim_reports(c).len() >= 2;
            if budgeted {
                if chosen.len() >= cfg.max_sentences {
                    break;
                }
                let w = self.cands[q].text.split_whitespace().count();
                if !chosen.is_empty() && words + w > cfg.max_words {
                    continue;
                }
                words += w;
            } else if confirmed {
                if n_confirmed >= confirmed_cap {
                    continue;
                }
                n_confirmed += 1;
            } else {
                if n_unconfirmed >= unconfirmed_cap {
                    continue;
                }
                n_unconfirmed += 1;
            }
            stated_claims.insert(c);
            chosen.push((c, q, confirmed));
        }

        // The lead answers who/what/when/where: among the best-supported of the first
        // confirmed sentences, the one naming the most of them opens the article.
        if let Some(&(first, ..)) = chosen.first() {
            let top = self.claim_reports(first).len();
            let pick = chosen
                .iter()
                .take(4)
                .enumerate()
                .filter(|(_, (c, _, confirmed))| *confirmed && self.claim_reports(*c).len() == top)
                .max_by(|(ka, (_, qa, _)), (kb, (_, qb, _))| {
                    lead_elements(&self.cands[*qa].text).cmp(&lead_elements(&self.cands[*qb].text)).then(kb.cmp(ka))
                })
                .map(|(k, _)| k);
            if let Some(k) = pick {
                let lead = chosen.remove(k);
                chosen.insert(0, lead);
            }
        }

        // Public claims: those stated, then the other sides of disagreements about them.
        let mut shown: Vec<usize> = chosen.iter().map(|x| x.0).collect();
        let disputes: Vec<&Dispute> =
            self.disputes.iter().filter(|d| stated_claims.contains(&d.a) || stated_claims.contains(&d.b)).collect();
        for d in &disputes {
            for c in [d.a, d.b] {
                if !shown.contains(&c) {
                    shown.push(c);
                }
            }
        }
        let quote_conflicts: Vec<&(usize, String, String)> =
            self.quote_conflicts.iter().filter(|q| stated_claims.contains(&q.0)).collect();
        let public_id = |c: usize| shown.iter().position(|&x| x == c);
        let disputed: BTreeSet<usize> =
            disputes.iter().flat_map(|d| [d.a, d.b]).chain(quote_conflicts.iter().map(|q| q.0)).collect();

        let claims: Vec<Claim> = shown.iter().enumerate().map(|(id, &c)| self.claim(id, c, edition)).collect();
        let disagreements: Vec<Disagreement> = disputes
            .iter()
            .filter_map(|d| {
                Some(Disagreement {
                    kind: "number".into(),
                    sides: vec![
                        DisagreementSide { claim: public_id(d.a)?, values: d.values_a.clone() },
                        DisagreementSide { claim: public_id(d.b)?, values: d.values_b.clone() },
                    ],
                })
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

        let sentence = |&(c, q, _): &(usize, usize, bool)| self.sentence(c, q, public_id(c), disputed.contains(&c));
        let paragraphs =
            if budgeted || single { self.plain_layout(&chosen, cfg) } else { self.news_layout(&chosen, cfg) };
        let paragraphs: Vec<Vec<SynthSentence>> =
            paragraphs.iter().map(|p| p.iter().map(sentence).collect::<Vec<_>>()).filter(|p| !p.is_empty()).collect();
        let quoted: Vec<usize> = chosen.iter().map(|x| x.1).collect();
        StoryArticle {
            story_id: story,
            lang: edition.to_string(),
            title: self.headline(&quoted, edition),
            edited_by: "chorus".into(),
            written_at: now,
            paragraphs,
            unconfirmed: single,
            coverage: self.coverage.clone(),
            claims,
            disagreements,
            generation: None,
            revision: 0,
        }
    }

    /// The lead, then the rest in story order, three sentences to a paragraph (the layout
    /// of a short summary, and of a story with one report).
    fn plain_layout(&self, chosen: &[(usize, usize, bool)], cfg: &SynthConfig) -> Vec<Vec<(usize, usize, bool)>> {
        let lead_n = cfg.lead_sentences.min(chosen.len());
        let mut body = chosen[lead_n..].to_vec();
        body.sort_by(|a, b| self.story_order(a.1, b.1));
        let mut out = vec![chosen[..lead_n].to_vec()];
        out.extend(body.chunks(3).map(<[_]>::to_vec));
        out
    }

    /// Earlier in their articles first, then earlier sources.
    fn story_order(&self, a: usize, b: usize) -> std::cmp::Ordering {
        let (ca, cb) = (&self.cands[a], &self.cands[b]);
        let ra = ca.position as f32 / ca.of.max(1) as f32;
        let rb = cb.position as f32 / cb.of.max(1) as f32;
        ra.total_cmp(&rb).then(self.published(a).cmp(&self.published(b))).then(ca.source.cmp(&cb.source))
    }

    /// A news article: the lead; confirmed statements grouped by sub-topic (a paragraph
    /// per group of close sentences, at most four); attributed quotations; then what only
    /// one report says ("not yet confirmed", the trailing paragraphs whose sentences each
    /// have one source).
    fn news_layout(&self, chosen: &[(usize, usize, bool)], cfg: &SynthConfig) -> Vec<Vec<(usize, usize, bool)>> {
        let confirmed: Vec<(usize, usize, bool)> = chosen.iter().copied().filter(|x| x.2).collect();
        let unconfirmed: Vec<(usize, usize, bool)> = chosen.iter().copied().filter(|x| !x.2).collect();
        let lead_n = if confirmed.len() >= 2
            && split_quotes(&self.cands[confirmed[1].1].text).1.is_empty()
            && self.cands[confirmed[0].1].text.split_whitespace().count() < 30
        {
            cfg.lead_sentences.min(2)
        } else {
            1
        }
        .min(confirmed.len());
        let mut out: Vec<Vec<(usize, usize, bool)>> = vec![confirmed[..lead_n].to_vec()];
        let mut topics: Vec<Vec<(usize, usize, bool)>> = Vec::new();
        let mut quotes: Vec<(usize, usize, bool)> = Vec::new();
        for &x in &confirmed[lead_n..] {
            if !split_quotes(&self.cands[x.1].text).1.is_empty() {
                quotes.push(x);
                continue;
            }
            let home = topics
                .iter_mut()
                .filter(|p| p.len() < 4)
                .map(|p| {
                    let s = p.iter().map(|y| self.sim(x.1, y.1)).fold(f32::MIN, f32::max);
                    (s, p)
                })
                .filter(|(s, _)| *s >= cfg.topic_threshold)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match home {
                Some((_, p)) => p.push(x),
                None => topics.push(vec![x]),
            }
        }
        // A lone sentence joins the paragraph before it rather than standing alone.
        let mut merged: Vec<Vec<(usize, usize, bool)>> = Vec::new();
        for mut p in topics {
            p.sort_by(|a, b| self.story_order(a.1, b.1));
            match merged.last_mut() {
                Some(last) if (p.len() == 1 || last.len() == 1) && last.len() + p.len() <= 4 => last.extend(p),
                _ => merged.push(p),
            }
        }
        out.extend(merged);
        out.extend(quotes.chunks(3).map(<[_]>::to_vec));
        let mut unconfirmed = unconfirmed;
        unconfirmed.sort_by(|a, b| self.story_order(a.1, b.1));
        out.extend(unconfirmed.chunks(3).map(<[_]>::to_vec));
        out
    }

    /// A stated sentence: the quoted passage first, then every other passage of its claim
    /// (in any language) and the best passage of each other report supporting it.
    fn sentence(&self, c: usize, q: usize, public: Option<usize>, disputed: bool) -> SynthSentence {
        let quoted_article = self.cands[q].source;
        let mut others: Vec<(usize, f32)> = self.members[c]
            .iter()
            .copied()
            .chain(self.support[q].values().map(|&(j, _)| j))
            .filter(|&j| self.cands[j].source != quoted_article)
            .collect::<BTreeSet<usize>>()
            .into_iter()
            .map(|j| (j, self.sim(q, j)))
            .collect();
        others.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut seen_articles = BTreeSet::from([quoted_article]);
        let mut passages = vec![self.passage(q, 1.0)];
        for (j, s) in others {
            if seen_articles.insert(self.cands[j].source) {
                passages.push(self.passage(j, s));
            }
        }
        let n_independent = seen_articles.iter().map(|&s| self.report_of[s]).collect::<BTreeSet<_>>().len();
        let src = &self.sources[quoted_article].article;
        SynthSentence {
            text: self.cands[q].text.clone(),
            lang: src.lang.clone(),
            n_independent,
            sources: passages,
            claim: public,
            disputed,
            generated: false,
            claims: public.into_iter().collect(),
            edited: false,
            translated_quote: false,
        }
    }

    /// A public claim: its passages (the edition's first), counts, and for a figure that
    /// moved, the time of the stated figure and the other figures of its chain.
    fn claim(&self, id: usize, c: usize, edition: &str) -> Claim {
        let m = &self.members[c];
        let rep = self.passage_in(c, edition).unwrap_or(m[0]);
        let mut ordered: Vec<usize> = m.clone();
        ordered.sort_by_key(|&j| (j != rep, self.lang(j) != edition, self.rank[j]));
        let passages: Vec<SourcePassage> = ordered.iter().map(|&j| self.passage(j, self.sim(rep, j))).collect();
        let distinct = |f: &dyn Fn(usize) -> String| -> BTreeSet<String> { m.iter().map(|&j| f(j)).collect() };
        let (as_of, history) = match self.chain_of[c] {
            Some(chain) => {
                let members = &self.chains[chain];
                let shown = |o: usize| self.passage_in(o, edition).unwrap_or(self.members[o][0]);
                let history = members
                    .iter()
                    .enumerate()
                    .filter(|&(_, &o)| o != c)
                    .map(|(k, &o)| {
                        let p = shown(o);
                        // The figure that moved: what differs from the next report in the
                        // chain (the one before, for the newest), so a toll that grew 70-fold
                        // over a week still reads step by step.
                        let neighbour = members.get(k + 1).or(k.checked_sub(1).and_then(|j| members.get(j)));
                        let values = neighbour.map_or_else(Vec::new, |&n| {
                            let q = shown(n);
                            let (moved, _) = within_ratio(&self.qty[p], &self.qty[q], UPDATE_RATIO);
                            if moved.is_empty() {
                                self.qty[p].difference(&self.qty[q]).cloned().collect()
                            } else {
                                moved
                            }
                        });
                        let a = &self.sources[self.cands[p].source].article;
                        FigureUpdate {
                            values: if values.is_empty() { self.qty[p].iter().cloned().collect() } else { values },
                            published: a.published,
                            outlet: a.outlet.clone(),
                            lang: a.lang.clone(),
                            article_id: a.id.clone(),
                            sentence: self.cands[p].text.clone(),
                        }
                    })
                    .collect();
                (self.published(rep), history)
            }
            None => (None, Vec::new()),
        };
        Claim {
            id,
            n_independent: distinct(&|j| self.report(j).to_string()).len(),
            n_reports: distinct(&|j| self.sources[self.cands[j].source].article.id.clone()).len(),
            outlets: distinct(&|j| self.sources[self.cands[j].source].article.outlet.clone()).into_iter().collect(),
            languages: distinct(&|j| self.lang(j).to_string()).into_iter().collect(),
            passages,
            as_of,
            history,
        }
    }

    /// The headline in `edition`: a source headline in that language when one is a real
    /// headline (not a bare subject label, not cut off), the one whose words the other
    /// reports use most ([`title_consensus`]); else a clause of the lead sentence, never
    /// cut mid-word.
    fn headline(&self, quoted: &[usize], edition: &str) -> String {
        let sources = self.sources;
        let usable: Vec<usize> = (0..sources.len())
            .filter(|&s| {
                let a = &sources[s].article;
                a.lang == edition && is_headline(&a.title) && !is_page_name(&a.url, &a.title)
            })
            .collect();
        let lead_source = quoted.first().map(|&q| self.cands[q].source);
        let consensus = |s: usize| self.title_consensus[s];
        let best = usable.iter().copied().max_by(|&a, &b| {
            consensus(a)
                .total_cmp(&consensus(b))
                .then((Some(a) == lead_source).cmp(&(Some(b) == lead_source)))
                .then(b.cmp(&a))
        });
        if let Some(s) = best {
            return sources[s].article.title.trim().to_string();
        }
        let lead = quoted
            .first()
            .copied()
            .or_else(|| self.order.iter().copied().find(|&i| self.lang(i) == edition))
            .or_else(|| self.order.first().copied());
        match lead {
            Some(q) => clause_headline(&self.cands[q].text),
            None => sources.iter().map(|r| r.article.title.trim()).find(|t| !t.is_empty()).unwrap_or("").to_string(),
        }
    }
}

/// Per source, the share of its headline's words that each other report uses (in its
/// headline or text), averaged over those reports: the least idiosyncratic framing scores
/// highest. 0 for an empty headline or a story of one report.
fn title_consensus(sources: &[ArticleRecord], report_of: &[usize]) -> Vec<f32> {
    let words = |t: &str| -> BTreeSet<u64> {
        chorus_text::terms::term_counts(t, 1.0).into_iter().filter(|(_, w)| *w > 0.0).map(|(h, _)| h).collect()
    };
    if report_of.iter().collect::<BTreeSet<_>>().len() < 2 {
        return vec![0.0; sources.len()];
    }
    let report_words: Vec<BTreeSet<u64>> =
        sources.iter().map(|r| words(&format!("{}\n{}", r.article.title, r.article.text))).collect();
    (0..sources.len())
        .map(|s| {
            let mine = words(&sources[s].article.title);
            let others: Vec<&BTreeSet<u64>> =
                (0..sources.len()).filter(|&o| report_of[o] != report_of[s]).map(|o| &report_words[o]).collect();
            if mine.is_empty() || others.is_empty() {
                return 0.0;
            }
            others.iter().map(|w| mine.intersection(w).count() as f32 / mine.len() as f32).sum::<f32>()
                / others.len() as f32
        })
        .collect()
}

/// Whether a title is the name of the page it links to (an encyclopaedia or tag page:
/// `…/wiki/October_2022_United_Kingdom_government_crisis`, or any `/wiki/` page), so a
/// subject, not a headline.
/// News sites' slugs are lower-cased and hyphenated, so a headline never matches its own
/// slug letter for letter.
pub fn is_page_name(url: &str, title: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or("");
    // A wiki's article is about a subject, whatever its redirects make of the name.
    if path.contains("/wiki/") {
        return true;
    }
    let Some(last) = path.trim_end_matches('/').rsplit('/').next() else { return false };
    let bytes = last.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                decoded.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'_', ..) => {
                decoded.push(b' ');
                i += 1;
            }
            (b, ..) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    let name = String::from_utf8_lossy(&decoded);
    !title.trim().is_empty() && name.trim() == title.trim()
}

/// Whether a title ends cut off ("… le monde entier cherche à obtenir des…").
pub fn is_cut_off(title: &str) -> bool {
    let t = title.trim();
    t.ends_with('…') || t.ends_with("...")
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af | 0xf900..=0xfaff)
}

/// Whether a source's title reads as a headline rather than a bare subject label (a
/// name, "Finland", "2023 Turkey–Syria earthquake", an encyclopaedia title ending in a
/// year) or a cut-off line. A headline has three words or more and, below six, two
/// lower-case words of four letters or more (the verb and its object); CJK titles need a
/// few characters and no name dot. Subjects that pass ("Centre pour les libertés
/// civiles") are caught by [`is_page_name`] where they name their page.
pub fn is_headline(title: &str) -> bool {
    let t = title.trim();
    if t.is_empty() || is_cut_off(t) {
        return false;
    }
    if t.chars().filter(|&c| is_cjk(c)).count() * 2 > t.chars().filter(|c| !c.is_whitespace()).count() {
        return t.chars().count() >= 8 && !t.contains('·') && !t.contains('・');
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    // Encyclopaedia titles of events end with their year: "Séismes de 2023 en Turquie"
    // aside, "Erdbeben in der Türkei und Syrien 2023", "… (2023)".
    let last = words.last().map_or("", |w| w.trim_matches(|c: char| !c.is_alphanumeric()));
    if last.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y)) {
        return false;
    }
    let content = words
        .iter()
        .skip(1)
        .filter(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphabetic());
            w.chars().count() >= 4 && w.chars().next().is_some_and(char::is_lowercase)
        })
        .count();
    words.len() >= 3 && (words.len() >= 6 || content >= 2)
}

/// A headline made from a sentence: the sentence without its final stop and its bracketed
/// asides when it has at most thirty words; a longer one ends at its last comma, semicolon
/// or colon that leaves ten to thirty words (the main clause usually comes first, so the
/// cut drops a trailing clause, not the subject); a long sentence without such a break is
/// kept whole. A sentence ending in an ellipsis is cut back to its last break. Never cut
/// inside a word.
pub fn clause_headline(sentence: &str) -> String {
    let stripped = without_asides(sentence);
    let mut s = stripped.trim().trim_end_matches(['.', '。', '!', '?', '！', '？']).trim();
    let cut_off = is_cut_off(s);
    if cut_off {
        s = s.trim_end_matches(['…', '.']).trim();
    }
    let cjk = s.chars().filter(|&c| is_cjk(c)).count() * 2 > s.chars().filter(|c| !c.is_whitespace()).count();
    if cjk {
        let breaks: Vec<usize> =
            s.char_indices().filter(|&(_, c)| matches!(c, '，' | '；' | '：')).map(|(i, _)| i).collect();
        if s.chars().count() <= 60 && !cut_off {
            return s.to_string();
        }
        return match breaks.iter().rev().find(|&&i| (10..=60).contains(&s[..i].chars().count())) {
            Some(&i) => s[..i].to_string(),
            None => s.to_string(),
        };
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.len() <= 30 && !cut_off {
        return s.to_string();
    }
    let shortest = if cut_off { 4 } else { 10 };
    let cut = (shortest..=30.min(words.len().saturating_sub(1)))
        .rev()
        .find(|&k| words[k - 1].ends_with([',', ';', ':']) || matches!(words[k], "–" | "—"));
    match cut {
        Some(k) => words[..k].join(" ").trim_end_matches([',', ';', ':']).to_string(),
        None => s.to_string(),
    }
}

/// The sentence without short bracketed asides ("(damage pictured)", "(圖)", "(7.10.)"),
/// which caption a picture or date a blurb but do not belong in a headline.
pub fn without_asides(sentence: &str) -> String {
    let mut out = String::new();
    let mut rest = sentence;
    while let Some(open) = rest.find(['(', '（']) {
        let close_char = if rest[open..].starts_with('(') { ')' } else { '）' };
        let Some(len) = rest[open..].find(close_char) else { break };
        let inner = &rest[open + rest[open..].chars().next().map_or(1, char::len_utf8)..open + len];
        out.push_str(&rest[..open]);
        if inner.split_whitespace().count() > 4 {
            out.push_str(&rest[open..open + len + close_char.len_utf8()]);
        }
        rest = &rest[open + len + close_char.len_utf8()..];
    }
    out.push_str(rest);
    let joined = out.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.replace(" ,", ",").replace(" .", ".").replace(" ;", ";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_that_names_its_page_is_a_subject() {
        let url = "https://en.wikipedia.org/wiki/October_2022_United_Kingdom_government_crisis";
        assert!(is_page_name(url, "October 2022 United Kingdom government crisis"));
        assert!(is_page_name("https://da.wikipedia.org/wiki/Mahsa_Aminis_d%C3%B8d", "Mahsa Aminis død"));
        assert!(!is_page_name(
            "https://news.example/2023/02/06/quake-kills-thousands-in-turkey",
            "Quake kills thousands in Turkey"
        ));
        assert!(!is_page_name("https://news.example/", ""));
    }

    #[test]
    fn asides_leave_headlines() {
        assert_eq!(
            clause_headline("An earthquake (damage pictured) strikes Turkey and Syria, killing over 21,000 people."),
            "An earthquake strikes Turkey and Syria, killing over 21,000 people"
        );
        assert_eq!(
            clause_headline("土耳其、敍利亞發生地震（圖），超過五千人死。"),
            "土耳其、敍利亞發生地震，超過五千人死"
        );
    }

    #[test]
    fn labels_and_cut_titles_are_not_headlines() {
        for label in [
            "Finland",
            "Donald Trump",
            "Liz Truss",
            "Pedro Castillo",
            "2023 Turkey–Syria earthquake",
            "Президентские выборы в Черногории (2023)",
            "洪姆扎·尤薩夫",
            "Regeringen Mette Frederiksen II",
            "Cutremurele din Turcia și Siria din 6 februarie 2023",
            "Le niveau des atrocités commises par le gouvernement libyen ne cesse d'empirer et le monde entier…",
        ] {
            assert!(!is_headline(label), "{label}");
        }
        for headline in [
            "Leaders agree on new security guarantees for Ukraine",
            "Leaders agree on guarantees",
            "La page censurée que les internautes égyptiens voient en essayant d'accéder à Twitter",
            "Erdbeben in der Türkei fordert tausende Tote",
            "土耳其南部发生强烈地震造成数千人死亡",
        ] {
            assert!(is_headline(headline), "{headline}");
        }
    }

    #[test]
    fn clause_headlines_end_on_a_word() {
        assert_eq!(
            clause_headline("Prime Minister Kovacs resigned on Tuesday."),
            "Prime Minister Kovacs resigned on Tuesday"
        );
        let mid = "At least 36 people, mostly children, are killed in a mass shooting at a daycare centre in Thailand.";
        assert_eq!(
            clause_headline(mid),
            "At least 36 people, mostly children, are killed in a mass shooting at a daycare centre in Thailand"
        );
        let long = "An earthquake of magnitude 7.8 struck southern Turkey and northern Syria on Monday, killing thousands of people in ten provinces and destroying whole districts, while rescuers from dozens of countries searched the rubble.";
        assert_eq!(
            clause_headline(long),
            "An earthquake of magnitude 7.8 struck southern Turkey and northern Syria on Monday, killing thousands of people in ten provinces and destroying whole districts"
        );
        assert_eq!(
            clause_headline("Its regret shows in a new label, which says: I chose Morsi because…"),
            "Its regret shows in a new label, which says"
        );
        let no_clause = "Perus præsident Pedro Castillo bliver afsat og arresteret efter at have forsøgt at opløse parlamentet for at undgå en rigsretssag.";
        assert!(no_clause.starts_with(&clause_headline(no_clause)));
        assert!(!clause_headline(no_clause).ends_with('.'));
    }
}
