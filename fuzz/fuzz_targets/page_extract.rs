//! Any bytes through the page extractor: text or an error, never a panic or a hang.
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
    let _ = chorus_ingest::extract::extract_page(data, "fuzz");
    }
);
