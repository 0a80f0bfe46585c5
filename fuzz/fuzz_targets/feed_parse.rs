//! Any bytes through the feed parser: items or an error, never a panic or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // libfuzzer-sys aborts on every panic through its panic hook, even one the code
        // under test catches on purpose (chorus contains feed-rs' known author-string
        // panic with catch_unwind). The default hook lets those be caught; a panic that
        // escapes is still caught by fuzz_target! and reported as a crash.
        let _ = std::panic::take_hook();
    },
    |data: &[u8]| {
    if let Ok(feed) = chorus_ingest::feeds::parse_feed(data, "https://fuzz.example/feed.xml") {
        for item in &feed.items {
            assert!(!item.id.is_empty());
        }
    }
    }
);
