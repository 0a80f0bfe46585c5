//! Live ingestion: poll the feeds that are due, fetch the pages of teaser items, and
//! store the articles through the same validation, dedup and rejection path as JSONL.
//!
//! One poll of a feed: conditional GET (`chorus-fetch`), parse (`chorus_ingest::feeds`),
//! for every item not stored yet whose feed text is a teaser, fetch its page and extract
//! the article (`chorus_ingest::extract`); a page that fails leaves the teaser as the text,
//! so the item is not lost. The feed's state (validators, next check by its own rhythm or
//! back-off after errors, the error in words) is written back to the store.

use crate::pipeline::{self, IngestReport};
use chorus_fetch::{FetchError, FetchOutcome, Fetcher, Retry, ScheduleConfig, Validators, next_check};
use chorus_store::{FeedState, FeedUpdate, RecheckOutcome, Store, Work};
use chorus_text::dedup::DedupIndex;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use std::path::Path;

/// What one round of polling did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PollReport {
    /// Feeds polled.
    pub feeds: usize,
    /// Feeds that answered 304.
    pub not_modified: usize,
    /// Feeds that failed, with the reason.
    pub feed_errors: Vec<String>,
    /// Items read from feeds.
    pub items: usize,
    /// Items already stored (not fetched again).
    pub known: usize,
    /// Article pages fetched.
    pub pages: usize,
    /// Pages that failed (the teaser was kept), with the reason.
    pub page_errors: Vec<String>,
    /// Articles newly stored.
    pub inserted: usize,
    /// Lines refused by validation (kept in `rejected/`).
    pub rejected: usize,
    /// Per host: (requests, failed requests).
    pub hosts: std::collections::BTreeMap<String, (u64, u64)>,
    /// Seconds from publication to now of each new dated item.
    pub lags: Vec<f64>,
}

impl PollReport {
    fn count(&mut self, url: &str, ok: bool) {
        let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(String::from)).unwrap_or_default();
        let e = self.hosts.entry(host).or_default();
        e.0 += 1;
        e.1 += u64::from(!ok);
    }

    /// Median of [`PollReport::lags`].
    pub fn median_lag(&self) -> Option<f64> {
        let mut v = self.lags.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    }
}

/// A feed's answer and when it came (`None` in its place: skipped for a stop request).
type FeedAnswer = (Result<FetchOutcome, FetchError>, DateTime<Utc>);

/// How long a claimed feed is reserved for the process polling it.
pub const FETCH_LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// Feeds (and teaser pages) fetched at once; per-host limits still apply inside.
pub const POLL_CONCURRENCY: usize = 8;

/// Polls every feed due at `now`. `stop` is checked before each feed is fetched, so a
/// shutdown waits only for the requests in flight. Storage failures are errors; everything a feed or page does
/// wrong is in the report.
pub async fn poll_due(
    store: &dyn Store,
    fetcher: &Fetcher,
    data_dir: &Path,
    dedup: &mut DedupIndex,
    duplicate_threshold: f64,
    now: DateTime<Utc>,
    stop: &dyn Fn() -> bool,
) -> Result<PollReport, pipeline::PipelineError> {
    let mut report = PollReport::default();
    let schedule = ScheduleConfig::default();
    // Feeds are fetched concurrently (the fetcher keeps each host polite); what they
    // bring is then stored one feed at a time.
    // Claimed with a lease: another process polling the same database takes other feeds,
    // and a feed this process dies on is polled by another once the lease has run out.
    let worker = crate::roles::worker_id();
    let due = store.claim_due_feeds(now, &worker, FETCH_LEASE, usize::MAX)?;
    let answers: Vec<(FeedState, Option<FeedAnswer>)> = futures_util::stream::iter(due)
        .map(|feed| async move {
            if stop() {
                return (feed, None);
            }
            let validators = Validators { etag: feed.etag.clone(), last_modified: feed.last_modified.clone() };
            let answer = fetcher.get(&feed.url, Some(&validators)).await;
            (feed, Some((answer, Utc::now())))
        })
        .buffer_unordered(POLL_CONCURRENCY)
        .collect()
        .await;
    for (feed, answer) in answers {
        let Some((answer, fetched_at)) = answer else {
            store.release(Work::Fetch, &worker, std::slice::from_ref(&feed.url))?;
            continue;
        };
        report.feeds += 1;
        let seed = xxhash_rust::xxh3::xxh3_64(feed.url.as_bytes());
        report.count(&feed.url, answer.is_ok());
        let update = match answer {
            Ok(FetchOutcome::NotModified) => {
                report.not_modified += 1;
                FeedUpdate {
                    etag: None,
                    last_modified: None,
                    next_check_at: next_check(fetched_at, 0, None, &[], seed, &schedule),
                    fetched_at,
                    error_count: 0,
                    last_error: None,
                    title: None,
                }
            }
            Ok(FetchOutcome::Fetched(body)) => match chorus_ingest::feeds::parse_feed(
                &feed_bytes_utf8(&body.body, body.content_type.as_deref()),
                &body.final_url,
            ) {
                Ok(parsed) => {
                    for w in &parsed.warnings {
                        tracing::warn!(feed = %feed.url, "{w}");
                    }
                    let times: Vec<DateTime<Utc>> = parsed.items.iter().filter_map(|i| i.published).collect();
                    let ingest = store_items(
                        store,
                        fetcher,
                        &feed,
                        parsed.items,
                        data_dir,
                        dedup,
                        duplicate_threshold,
                        &mut report,
                    )
                    .await?;
                    report.inserted += ingest.inserted;
                    report.rejected += ingest.rejected;
                    FeedUpdate {
                        etag: body.validators.etag,
                        last_modified: body.validators.last_modified,
                        next_check_at: next_check(fetched_at, 0, None, &times, seed, &schedule),
                        fetched_at,
                        error_count: 0,
                        last_error: None,
                        title: Some(parsed.title),
                    }
                }
                Err(e) => failed(&mut report, &feed, e.to_string(), Retry::Later, fetched_at, seed, &schedule),
            },
            Err(e) => {
                let retry = e.retry();
                failed(&mut report, &feed, e.to_string(), retry, fetched_at, seed, &schedule)
            }
        };
        store.record_feed_poll(&feed.url, &update)?;
        store.release(Work::Fetch, &worker, std::slice::from_ref(&feed.url))?;
    }
    Ok(report)
}

fn failed(
    report: &mut PollReport,
    feed: &FeedState,
    error: String,
    retry: Retry,
    at: DateTime<Utc>,
    seed: u64,
    schedule: &ScheduleConfig,
) -> FeedUpdate {
    tracing::warn!(feed = %feed.url, errors = feed.error_count + 1, %error, "feed poll failed");
    report.feed_errors.push(error.clone());
    let errors = feed.error_count.saturating_add(1);
    let next_check_at = match retry {
        // Gone or refused: look again in a week, in case the operator fixes the entry.
        Retry::Never => at + chrono::Duration::days(7),
        Retry::After(d) => next_check(at, errors, Some(d), &[], seed, schedule),
        Retry::Later => next_check(at, errors, None, &[], seed, schedule),
    };
    FeedUpdate {
        etag: None,
        last_modified: None,
        next_check_at,
        fetched_at: at,
        error_count: errors,
        last_error: Some(error),
        title: None,
    }
}

/// Turns feed items into stored articles (pages fetched for teasers).
#[allow(clippy::too_many_arguments)]
async fn store_items(
    store: &dyn Store,
    fetcher: &Fetcher,
    feed: &FeedState,
    items: Vec<chorus_ingest::feeds::FeedItem>,
    data_dir: &Path,
    dedup: &mut DedupIndex,
    duplicate_threshold: f64,
    report: &mut PollReport,
) -> Result<IngestReport, pipeline::PipelineError> {
    let mut lines = Vec::new();
    let mut ids = Vec::new();
    let mut fresh = Vec::new();
    for item in items {
        report.items += 1;
        let id = item.url.clone().unwrap_or_else(|| format!("{}#{}", feed.url, item.id));
        if store.article(&id)?.is_some() {
            report.known += 1;
            continue;
        }
        fresh.push((id, item));
    }
    // The pages of new teaser items, fetched concurrently.
    let teaser_urls: Vec<String> =
        fresh.iter().filter(|(_, item)| item.is_teaser()).filter_map(|(_, item)| item.url.clone()).collect();
    let mut pages: std::collections::HashMap<String, Result<chorus_ingest::extract::ExtractedPage, String>> =
        futures_util::stream::iter(teaser_urls)
            .map(|url| async move {
                let page = fetch_article(fetcher, &url).await;
                (url, page)
            })
            .buffer_unordered(POLL_CONCURRENCY)
            .collect()
            .await;
    for (id, item) in fresh {
        let mut text = item.text.clone();
        let mut title = item.title.clone();
        let mut published = item.published;
        let mut page_lang = None;
        let mut canonical = None;
        // The feed item's author (one string, as feeds give it), else the page's list.
        let mut authors: Vec<String> = item.author.iter().cloned().collect();
        if item.is_teaser()
            && let Some(url) = &item.url
        {
            report.pages += 1;
            let page = pages.remove(url).unwrap_or_else(|| Err(format!("{url}: not fetched")));
            report.count(url, page.is_ok());
            match page {
                Ok(page) => {
                    if page.text.chars().count() > text.chars().count() {
                        text = page.text;
                    }
                    if title.is_empty() {
                        title = page.title.unwrap_or_default();
                    }
                    published = published.or(page.published);
                    page_lang = page.lang;
                    if authors.is_empty() {
                        authors = page.authors;
                    }
                    canonical = page.canonical_url.filter(|u| chorus_ingest::outlets::is_web_url(u));
                }
                Err(e) => {
                    tracing::warn!(page = %url, error = %e, "article page failed; the feed's text is kept");
                    report.page_errors.push(e);
                }
            }
        }
        if let Some(p) = published {
            report.lags.push((Utc::now() - p).num_seconds().max(0) as f64);
        }
        let lang =
            // The feed's declared language, else the page's, else the outlet's only one
            // (else it is detected from the text).
            item.lang.clone().or(page_lang).or_else(|| (feed.outlet_languages.len() == 1).then(|| feed.outlet_languages[0].clone()));
        let mut line = serde_json::json!({
            "id": id,
            // The page's canonical URL is the one to link to (no tracking parameters).
            "url": canonical.or_else(|| item.url.clone()).unwrap_or_else(|| feed.url.clone()),
            "outlet": feed.outlet,
            "title": title,
            "text": text,
        });
        if let Some(l) = lang {
            line["lang"] = serde_json::Value::String(l);
        }
        if !authors.is_empty() {
            line["authors"] = serde_json::json!(authors);
        }
        if let Some(p) = published {
            line["published"] = serde_json::Value::String(p.to_rfc3339());
        }
        lines.push(line.to_string());
        ids.push(id);
    }
    let input = lines.join("\n");
    let report =
        pipeline::ingest_jsonl(store, std::io::Cursor::new(input), &feed.url, data_dir, dedup, duplicate_threshold)?;
    // Sources are edited and taken down after publication: look again in a day.
    store.schedule_rechecks(&ids, Utc::now() + RECHECK_AFTER[0])?;
    Ok(report)
}

/// When articles are checked again, counted from when they were stored: a day, then a week.
pub const RECHECK_AFTER: [chrono::Duration; 2] = [chrono::Duration::hours(24), chrono::Duration::days(7)];

/// What one round of re-checks found.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RecheckReport {
    /// Articles checked.
    pub checked: usize,
    /// Unchanged.
    pub unchanged: usize,
    /// Edited (text replaced, old kept in the revisions, story marked for rewriting).
    pub changed: usize,
    /// Gone (404/410).
    pub vanished: usize,
    /// Checks that failed and were rescheduled, with the reason.
    pub errors: Vec<String>,
}

/// Words of a text, for comparing versions regardless of spacing and line breaks.
fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

/// Re-fetches the articles whose check is due (24 hours and 7 days after they were
/// stored). An edited text replaces the stored one (the old version stays in the
/// article's revisions) and its story is written again; a page answering 404 or 410 is
/// recorded as gone; a failed check is retried in an hour. Checks are claimed (like feeds,
/// for [`FETCH_LEASE`]), so two `fetch` processes never re-check one source together.
pub async fn recheck_due(
    store: &dyn Store,
    fetcher: &Fetcher,
    now: DateTime<Utc>,
    stop: &dyn Fn() -> bool,
) -> Result<RecheckReport, pipeline::PipelineError> {
    let mut report = RecheckReport::default();
    let worker = crate::roles::worker_id();
    let claimed = store.claim_due_rechecks(now, &worker, FETCH_LEASE, 200)?;
    for (k, due) in claimed.iter().enumerate() {
        if stop() {
            // What this process will not check is free for another at once.
            let left: Vec<String> = claimed[k..].iter().map(|d| d.record.article.id.clone()).collect();
            store.release(Work::Recheck, &worker, &left)?;
            break;
        }
        report.checked += 1;
        let article = &due.record.article;
        let next = match due.checks_done {
            0 => Some(now + (RECHECK_AFTER[1] - RECHECK_AFTER[0])),
            _ => None,
        };
        let outcome = match fetcher.get(&article.url, None).await {
            Err(FetchError::Status { status: status @ (404 | 410), .. }) => {
                RecheckOutcome::Vanished { reason: format!("{}: HTTP {status}", article.url) }
            }
            Err(e) => RecheckOutcome::Failed { reason: e.to_string() },
            Ok(FetchOutcome::NotModified) => RecheckOutcome::Unchanged,
            Ok(FetchOutcome::Fetched(page)) => {
                let (html, _) = chorus_fetch::charset::decode(&page.body, page.content_type.as_deref());
                let name = page.final_url.clone();
                let extracted =
                    tokio::task::spawn_blocking(move || chorus_ingest::extract::extract_page(html.as_bytes(), &name))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(|e| e.to_string()));
                match extracted {
                    Err(e) => RecheckOutcome::Failed { reason: e },
                    Ok(p) => {
                        let (old, new) = (words(&article.text), words(&p.text));
                        // A much shorter extraction is a page glitch, not an edit.
                        if old == new || new.len() * 2 < old.len() {
                            RecheckOutcome::Unchanged
                        } else {
                            let (old_n, new_n) = (chorus_synth::numbers(&article.text), chorus_synth::numbers(&p.text));
                            let added: Vec<&String> = new_n.difference(&old_n).collect();
                            let removed: Vec<&String> = old_n.difference(&new_n).collect();
                            let mut detail = format!("text edited: {} → {} words", old.len(), new.len());
                            if !added.is_empty() || !removed.is_empty() {
                                detail.push_str(&format!("; figures removed {removed:?}, added {added:?}"));
                            }
                            let mut edited = article.clone();
                            edited.text = p.text.clone();
                            if let Some(t) = p.title.filter(|t| !t.is_empty()) {
                                edited.title = t;
                            }
                            RecheckOutcome::Changed {
                                content_hash: pipeline::content_hash(&edited),
                                fingerprint: chorus_text::dedup::Fingerprint::of(&edited.text).to_bytes(),
                                title: edited.title,
                                text: edited.text,
                                detail,
                            }
                        }
                    }
                }
            }
        };
        let next = match &outcome {
            RecheckOutcome::Unchanged => {
                report.unchanged += 1;
                next
            }
            RecheckOutcome::Changed { detail, .. } => {
                tracing::info!(article = %article.id, %detail, "source edited");
                report.changed += 1;
                next
            }
            RecheckOutcome::Vanished { reason } => {
                tracing::info!(article = %article.id, %reason, "source gone");
                report.vanished += 1;
                None
            }
            RecheckOutcome::Failed { reason } => {
                report.errors.push(reason.clone());
                Some(now + chrono::Duration::hours(1))
            }
        };
        store.record_recheck(&article.id, &outcome, now, next)?;
        store.release(Work::Recheck, &worker, std::slice::from_ref(&article.id))?;
    }
    Ok(report)
}

/// Feed bytes for the parser: as sent, unless the HTTP header names a charset and the XML
/// declares none (then the header is right, RFC 7303, and the bytes are decoded here).
fn feed_bytes_utf8<'a>(body: &'a [u8], content_type: Option<&str>) -> std::borrow::Cow<'a, [u8]> {
    let head = String::from_utf8_lossy(&body[..body.len().min(200)]).to_ascii_lowercase();
    let header_charset = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("charset="));
    if header_charset && !head.contains("encoding=") && !head.trim_start().starts_with('{') {
        let (text, _) = chorus_fetch::charset::decode(body, content_type);
        return std::borrow::Cow::Owned(text.into_bytes());
    }
    std::borrow::Cow::Borrowed(body)
}

async fn fetch_article(fetcher: &Fetcher, url: &str) -> Result<chorus_ingest::extract::ExtractedPage, String> {
    match fetcher.get(url, None).await {
        Ok(FetchOutcome::Fetched(page)) => {
            // The header's charset (or BOM, meta, or evidently-UTF-8 bytes) decides; the
            // extractor then gets UTF-8.
            let (text, _) = chorus_fetch::charset::decode(&page.body, page.content_type.as_deref());
            let body = text.into_bytes();
            let name = page.final_url;
            tokio::task::spawn_blocking(move || chorus_ingest::extract::extract_page(&body, &name))
                .await
                .map_err(|e| format!("{url}: extraction task failed: {e}"))?
                .map_err(|e| e.to_string())
        }
        Ok(FetchOutcome::NotModified) => Err(format!("{url}: 304 without validators")),
        Err(e) => Err(e.to_string()),
    }
}
