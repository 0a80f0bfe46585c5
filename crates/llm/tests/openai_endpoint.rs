//! The OpenAI-compatible client over real HTTP on loopback, against a small server in this
//! process that answers each request as scripted: a good completion, overload, garbage,
//! silence, a refused connection. Every failure must come back as a clear error (retried
//! when retrying can help), never a panic or a hang.

use chorus_llm::openai::{OpenAiChat, OpenAiConfig};
use chorus_llm::{ChatMessage, ChatModel, ChatRequest, LlmError, RetryPolicy, Role};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does with one request.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: &'static str,
    body: String,
    delay: Duration,
}

fn reply(status: u16, body: &str) -> Reply {
    Reply { status, headers: "", body: body.into(), delay: Duration::ZERO }
}

fn completion(text: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 31, "completion_tokens": 7, "total_tokens": 38}
    })
    .to_string()
}

/// Serves the scripted replies in order; records each request (head and body).
fn serve(replies: Vec<Reply>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for (stream, r) in listener.incoming().zip(replies) {
            let Ok(mut stream) = stream else { continue };
            let log = log.clone();
            // One thread per connection, so a slow reply does not hold up the next request.
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                log.lock().unwrap().push(format!("{head}\n{}", String::from_utf8_lossy(&body)));
                std::thread::sleep(r.delay);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}",
                    r.status,
                    r.body.len(),
                    r.headers,
                    r.body
                );
            });
        }
    });
    (format!("http://{addr}/v1"), seen)
}

fn client(endpoint: &str, retries: u32, timeout: Duration) -> OpenAiChat {
    OpenAiChat::new(OpenAiConfig {
        endpoint: endpoint.into(),
        model: "test-model".into(),
        api_key: Some("sk-test".into()),
        timeout,
        retry: RetryPolicy {
            retries,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
        },
    })
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::new(Role::System, "Be brief."), ChatMessage::new(Role::User, "Claims: [1] x")],
        max_tokens: 50,
        temperature: 0.0,
    }
}

#[test]
fn a_completion_is_read_with_its_token_counts_and_the_request_is_well_formed() {
    let (url, seen) = serve(vec![reply(200, &completion("Headline\nA sentence [1]."))]);
    let chat = client(&url, 0, Duration::from_secs(5));
    assert_eq!(chat.url(), format!("{url}/chat/completions"));
    let r = chat.chat(&request()).unwrap();
    assert_eq!(r.text, "Headline\nA sentence [1].");
    assert_eq!((r.prompt_tokens, r.completion_tokens, r.attempts), (31, 7, 1));
    assert_eq!(r.model, "test-model");
    let seen = seen.lock().unwrap();
    assert!(seen[0].starts_with("POST /v1/chat/completions HTTP/1.1"), "{}", seen[0]);
    assert!(seen[0].to_ascii_lowercase().contains("authorization: bearer sk-test"));
    let body: serde_json::Value = serde_json::from_str(seen[0].split("\n\n").last().unwrap()).unwrap();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["messages"][1]["role"], "user");
    assert_eq!(body["max_tokens"], 50);
}

#[test]
fn overload_and_server_errors_are_retried_then_succeed() {
    let (url, seen) = serve(vec![
        Reply { headers: "Retry-After: 0\r\n", ..reply(429, "slow down") },
        reply(503, "busy"),
        reply(200, &completion("ok [1].")),
    ]);
    let r = client(&url, 2, Duration::from_secs(5)).chat(&request()).unwrap();
    assert_eq!((r.text.as_str(), r.attempts), ("ok [1].", 3));
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[test]
fn retries_run_out_with_the_last_error() {
    let (url, _) = serve(vec![reply(500, "boom"), reply(502, "bad gateway")]);
    match client(&url, 1, Duration::from_secs(5)).chat(&request()) {
        Err(LlmError::Status { status: 502, body, .. }) => assert_eq!(body, "bad gateway"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn garbage_and_client_errors_are_not_retried() {
    let (url, seen) = serve(vec![reply(200, "<html>not json</html>"), reply(401, "{\"error\":\"bad key\"}")]);
    let chat = client(&url, 3, Duration::from_secs(5));
    let e = chat.chat(&request()).unwrap_err();
    assert!(matches!(e, LlmError::BadAnswer(_)) && e.to_string().contains("not JSON"), "{e}");
    let e = chat.chat(&request()).unwrap_err();
    assert!(matches!(e, LlmError::Status { status: 401, .. }), "{e}");
    assert_eq!(seen.lock().unwrap().len(), 2, "neither was retried");
    // JSON without a message is garbage too.
    let (url, _) = serve(vec![reply(200, "{\"choices\":[]}")]);
    let e = client(&url, 0, Duration::from_secs(5)).chat(&request()).unwrap_err();
    assert!(e.to_string().contains("no choices[0].message.content"), "{e}");
}

#[test]
fn a_silent_endpoint_times_out() {
    let slow = Reply { delay: Duration::from_secs(3), ..reply(200, &completion("late")) };
    let (url, seen) = serve(vec![slow.clone(), slow]);
    let started = std::time::Instant::now();
    let e = client(&url, 1, Duration::from_millis(400)).chat(&request()).unwrap_err();
    assert!(matches!(e, LlmError::Timeout { .. }), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5), "gave up in time: {:?}", started.elapsed());
    assert_eq!(seen.lock().unwrap().len(), 2, "timeouts are retried");
}

#[test]
fn a_closed_port_is_reported_unreachable() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = client(&format!("http://127.0.0.1:{port}/v1"), 1, Duration::from_secs(2)).chat(&request()).unwrap_err();
    assert!(matches!(e, LlmError::Unreachable { .. }), "{e}");
    assert!(e.to_string().contains(&port.to_string()), "{e}");
}
