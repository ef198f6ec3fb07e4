//! Fuzz target: see `chatsync_fuzz::checks::message_page`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatsync_fuzz::checks::message_page(data));
