//! `/metrics` in the Prometheus text format: what the live service did (fetches and
//! errors per host, items, pages, articles, polls, ingestion lag) and what is stored.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Counters the service updates and `/metrics` reads. Shared as `Arc<Metrics>`.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    fetches: BTreeMap<String, u64>,
    fetch_errors: BTreeMap<String, u64>,
    items: u64,
    pages: u64,
    page_errors: u64,
    inserted: u64,
    rejected: u64,
    polls: u64,
    last_poll_unix: Option<i64>,
    lag_seconds: Option<f64>,
}

/// One polling round, as the service reports it.
#[derive(Debug, Default, Clone)]
pub struct PollRound {
    /// Per host: (requests, failed requests).
    pub hosts: BTreeMap<String, (u64, u64)>,
    /// Feed items read.
    pub items: u64,
    /// Article pages fetched.
    pub pages: u64,
    /// Article pages that failed.
    pub page_errors: u64,
    /// Articles stored.
    pub inserted: u64,
    /// Items refused by validation.
    pub rejected: u64,
    /// Median seconds from publication to storage of this round's new articles.
    pub lag_seconds: Option<f64>,
    /// When the round ended (Unix seconds).
    pub finished_unix: i64,
}

impl Metrics {
    /// Adds a finished round.
    pub fn record(&self, round: &PollRound) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for (host, (n, errors)) in &round.hosts {
            *m.fetches.entry(host.clone()).or_default() += n;
            *m.fetch_errors.entry(host.clone()).or_default() += errors;
        }
        m.items += round.items;
        m.pages += round.pages;
        m.page_errors += round.page_errors;
        m.inserted += round.inserted;
        m.rejected += round.rejected;
        m.polls += 1;
        m.last_poll_unix = Some(round.finished_unix);
        if round.lag_seconds.is_some() {
            m.lag_seconds = round.lag_seconds;
        }
    }

    /// The Prometheus text exposition, with the store's counts added.
    pub fn render(&self, stored: &[(&str, &str, u64)]) -> String {
        let m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let per_host = [
            ("chorus_fetches_total", "HTTP requests for feeds and pages, per host.", &m.fetches),
            ("chorus_fetch_errors_total", "Failed requests, per host.", &m.fetch_errors),
        ];
        for (name, help, by_host) in per_host {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (host, n) in by_host {
                let _ = writeln!(out, "{name}{{host=\"{}\"}} {n}", escape(host));
            }
        }
        let counters = [
            ("chorus_feed_items_total", "Feed items read.", m.items),
            ("chorus_pages_total", "Article pages fetched for teaser items.", m.pages),
            ("chorus_page_errors_total", "Article pages that failed (the teaser was kept).", m.page_errors),
            ("chorus_articles_ingested_total", "Articles stored by the live service.", m.inserted),
            ("chorus_items_rejected_total", "Items refused by validation (kept in rejected/).", m.rejected),
            ("chorus_poll_rounds_total", "Polling rounds finished.", m.polls),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
        if let Some(t) = m.last_poll_unix {
            let _ = writeln!(
                out,
                "# HELP chorus_last_poll_timestamp_seconds When the last polling round ended.\n# TYPE chorus_last_poll_timestamp_seconds gauge\nchorus_last_poll_timestamp_seconds {t}"
            );
        }
        if let Some(lag) = m.lag_seconds {
            let _ = writeln!(
                out,
                "# HELP chorus_ingest_lag_seconds Median time from publication to storage in the last round with new articles.\n# TYPE chorus_ingest_lag_seconds gauge\nchorus_ingest_lag_seconds {lag:.1}"
            );
        }
        for (name, help, v) in stored {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_add_up_and_render_as_prometheus_text() {
        let m = Metrics::default();
        let mut hosts = BTreeMap::new();
        hosts.insert("a.example".to_string(), (3, 1));
        hosts.insert("b\"x".to_string(), (1, 0));
        let round = PollRound {
            hosts,
            items: 5,
            pages: 2,
            inserted: 4,
            lag_seconds: Some(90.0),
            finished_unix: 1_800_000_000,
            ..Default::default()
        };
        m.record(&round);
        m.record(&PollRound { finished_unix: 1_800_000_060, ..round.clone() });
        let text = m.render(&[("chorus_articles", "Articles stored.", 12)]);
        assert!(text.contains("chorus_fetches_total{host=\"a.example\"} 6"), "{text}");
        assert!(text.contains("chorus_fetch_errors_total{host=\"a.example\"} 2"));
        assert!(text.contains("chorus_fetches_total{host=\"b\\\"x\"} 2"), "label escaped: {text}");
        assert!(text.contains("chorus_articles_ingested_total 8"));
        assert!(text.contains("chorus_poll_rounds_total 2"));
        assert!(text.contains("chorus_last_poll_timestamp_seconds 1800000060"));
        assert!(text.contains("chorus_ingest_lag_seconds 90.0"));
        assert!(text.contains("# TYPE chorus_articles gauge\nchorus_articles 12"));
    }
}

/// Counters of the reader's site and the editors' desk.
#[derive(Debug, Default)]
pub struct SiteCounters {
    /// Views counted.
    pub views: std::sync::atomic::AtomicU64,
    /// Reader reports filed.
    pub reports: std::sync::atomic::AtomicU64,
    /// Requests refused by a rate limit.
    pub rate_limited: std::sync::atomic::AtomicU64,
    /// Failed editor logins.
    pub failed_logins: std::sync::atomic::AtomicU64,
    /// Revisions published by editors.
    pub revisions: std::sync::atomic::AtomicU64,
}

impl SiteCounters {
    /// Adds one to a counter.
    pub fn bump(counter: &std::sync::atomic::AtomicU64) {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The counters in the Prometheus text format.
    pub fn render(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let mut out = String::new();
        for (name, help, v) in [
            ("chorus_views_total", "Story views counted (one per visitor per story per day).", &self.views),
            ("chorus_reports_total", "Error reports filed by readers.", &self.reports),
            ("chorus_rate_limited_total", "Requests refused by a per-client rate limit.", &self.rate_limited),
            ("chorus_failed_logins_total", "Failed editor logins.", &self.failed_logins),
            ("chorus_editor_revisions_total", "Revisions published by editors.", &self.revisions),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Relaxed));
        }
        out
    }
}
