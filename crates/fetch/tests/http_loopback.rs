//! The fetcher over real HTTP on loopback, against a server in this process that
//! misbehaves on purpose: conditional GET, robots.txt, 11 MB bodies, a gzip bomb, a slow
//! drip, redirect loops and chains, redirects to private and metadata addresses, error
//! statuses with `Retry-After`. Each must end in the right typed error, quickly, without
//! a panic.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chorus_fetch::{FetchConfig, FetchError, FetchOutcome, Fetcher, Retry, Validators};
use std::io::Write;
use std::time::{Duration, Instant};

async fn feed(headers: HeaderMap) -> Response {
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v == "\"v1\"") {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    ([(header::ETAG, "\"v1\""), (header::LAST_MODIFIED, "Fri, 27 Nov 2026 08:00:00 GMT")], "<rss version=\"2.0\"/>")
        .into_response()
}

fn bomb() -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&zeros).expect("compress");
    }
    gz.finish().expect("finish")
}

async fn serve() -> String {
    let bomb = bomb();
    let app = Router::new()
        .route("/robots.txt", get(|| async { "User-agent: *\nDisallow: /private/\n" }))
        .route("/feed.xml", get(feed))
        .route("/private/page", get(|| async { "secret" }))
        .route("/huge", get(|| async { vec![b'x'; 11 * 1024 * 1024] }))
        .route(
            "/bomb",
            get(move || {
                let bomb = bomb.clone();
                async move { ([(header::CONTENT_ENCODING, "gzip")], bomb) }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                let stream = async_stream(40, Duration::from_millis(100));
                Response::new(Body::from_stream(stream))
            }),
        )
        .route("/loop-a", get(|| async { Redirect::temporary("/loop-b") }))
        .route("/loop-b", get(|| async { Redirect::temporary("/loop-a") }))
        .route(
            "/chain/{n}",
            get(|axum::extract::Path(n): axum::extract::Path<u32>| async move {
                if n == 0 {
                    "end".into_response()
                } else {
                    Redirect::temporary(&format!("/chain/{}", n - 1)).into_response()
                }
            }),
        )
        .route("/to-private", get(|| async { Redirect::temporary("http://10.0.0.1/admin") }))
        .route("/to-metadata", get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }))
        .route("/to-localhost", get(|| async { Redirect::temporary("http://localhost/x") }))
        .route(
            "/status/{code}",
            get(|axum::extract::Path(code): axum::extract::Path<u16>| async move {
                let mut r = Response::new(Body::from("nope"));
                *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if code == 429 || code == 503 {
                    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
                }
                r
            }),
        )
        .route("/ok", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}")
}

/// A body that drips one byte every `gap`, `n` times.
struct Drip {
    left: usize,
    interval: tokio::time::Interval,
}

fn async_stream(n: usize, gap: Duration) -> Drip {
    Drip { left: n, interval: tokio::time::interval(gap) }
}

impl futures_core::Stream for Drip {
    type Item = Result<Vec<u8>, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        match self.interval.poll_tick(cx) {
            std::task::Poll::Ready(_) => {
                self.left -= 1;
                std::task::Poll::Ready(Some(Ok(vec![b'.'])))
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

fn fetcher(allow_loopback: bool) -> Fetcher {
    Fetcher::new(FetchConfig {
        timeout: Duration::from_secs(2),
        per_host_interval: Duration::ZERO,
        allow_loopback,
        ..FetchConfig::default()
    })
    .expect("fetcher")
}

#[tokio::test]
async fn conditional_get_returns_validators_then_not_modified() {
    let base = serve().await;
    let f = fetcher(true);
    let FetchOutcome::Fetched(first) = f.get(&format!("{base}/feed.xml"), None).await.expect("fetched") else {
        panic!("expected a body")
    };
    assert_eq!(first.validators.etag.as_deref(), Some("\"v1\""));
    assert!(first.validators.last_modified.is_some());
    assert_eq!(first.body, b"<rss version=\"2.0\"/>");
    let again = f.get(&format!("{base}/feed.xml"), Some(&first.validators)).await.expect("answered");
    assert_eq!(again, FetchOutcome::NotModified);
    let other = Validators { etag: Some("\"v0\"".into()), last_modified: None };
    assert!(matches!(f.get(&format!("{base}/feed.xml"), Some(&other)).await, Ok(FetchOutcome::Fetched(_))));
}

#[tokio::test]
async fn robots_txt_is_obeyed() {
    let base = serve().await;
    let e = fetcher(true).get(&format!("{base}/private/page"), None).await.unwrap_err();
    assert!(matches!(e, FetchError::Robots { .. }), "{e}");
    let lax = Fetcher::new(FetchConfig { respect_robots: false, allow_loopback: true, ..FetchConfig::default() })
        .expect("fetcher");
    assert!(lax.get(&format!("{base}/private/page"), None).await.is_ok());
}

#[tokio::test]
async fn big_bodies_and_gzip_bombs_stop_at_the_limit() {
    let base = serve().await;
    let f = fetcher(true);
    let e = f.get(&format!("{base}/huge"), None).await.unwrap_err();
    assert!(matches!(e, FetchError::TooLarge { limit: 10_485_760, .. }), "{e}");
    let started = Instant::now();
    let e = f.get(&format!("{base}/bomb"), None).await.unwrap_err();
    assert!(matches!(e, FetchError::TooLarge { .. }), "64 MB of zeros in a small gzip: {e}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_slow_drip_times_out() {
    let base = serve().await;
    let started = Instant::now();
    let e = fetcher(true).get(&format!("{base}/slow"), None).await.unwrap_err();
    assert!(matches!(e, FetchError::Timeout { seconds: 2, .. }), "{e}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(e.retry(), Retry::Later);
}

#[tokio::test]
async fn redirect_loops_chains_and_private_targets_are_refused() {
    let base = serve().await;
    let f = fetcher(true);
    let e = f.get(&format!("{base}/loop-a"), None).await.unwrap_err();
    assert!(matches!(e, FetchError::Redirects { .. }) && e.to_string().contains("loop"), "{e}");
    let e = f.get(&format!("{base}/chain/9"), None).await.unwrap_err();
    assert!(e.to_string().contains("more than 5 redirects"), "{e}");
    assert!(matches!(f.get(&format!("{base}/chain/3"), None).await, Ok(FetchOutcome::Fetched(_))));
    for target in ["to-private", "to-metadata"] {
        let e = f.get(&format!("{base}/{target}"), None).await.unwrap_err();
        assert!(matches!(e, FetchError::Blocked { .. }), "{target}: {e}");
        assert_eq!(e.retry(), Retry::Never);
    }
}

#[tokio::test]
async fn loopback_is_blocked_unless_allowed_by_ip_name_or_redirect() {
    let base = serve().await;
    let strict = fetcher(false);
    let e = strict.get(&format!("{base}/ok"), None).await.unwrap_err();
    assert!(matches!(e, FetchError::Blocked { .. }), "{e}");
    let port = base.rsplit(':').next().unwrap_or_default();
    let e = strict.get(&format!("http://localhost:{port}/ok"), None).await.unwrap_err();
    assert!(matches!(e, FetchError::Blocked { .. }), "{e}");
    let e = fetcher(true).get(&format!("{base}/to-localhost"), None).await;
    assert!(e.is_err(), "nothing listens on localhost:80 here, and the hop is checked: {e:?}");
    assert!(matches!(strict.get("ftp://example.org/x", None).await, Err(FetchError::BadUrl { .. })));
}

#[tokio::test]
async fn error_statuses_say_whether_to_retry() {
    let base = serve().await;
    let f = fetcher(true);
    let status = |code: u16| {
        let f = &f;
        let url = format!("{base}/status/{code}");
        async move { f.get(&url, None).await.unwrap_err() }
    };
    assert_eq!(status(404).await.retry(), Retry::Later);
    assert_eq!(status(410).await.retry(), Retry::Never);
    assert_eq!(status(429).await.retry(), Retry::After(Duration::from_secs(120)));
    assert_eq!(status(503).await.retry(), Retry::After(Duration::from_secs(120)));
    assert_eq!(status(500).await.retry(), Retry::Later);
    assert!(status(500).await.to_string().contains("/status/500: HTTP 500"));
}

#[tokio::test]
async fn requests_to_one_host_are_spaced() {
    let base = serve().await;
    let f = Fetcher::new(FetchConfig {
        per_host_interval: Duration::from_millis(300),
        allow_loopback: true,
        respect_robots: false,
        ..FetchConfig::default()
    })
    .expect("fetcher");
    let started = Instant::now();
    for _ in 0..3 {
        f.get(&format!("{base}/ok"), None).await.expect("ok");
    }
    assert!(started.elapsed() >= Duration::from_millis(600), "{:?}", started.elapsed());
}
