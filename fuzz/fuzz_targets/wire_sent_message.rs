//! Fuzz target: see `chatsync_fuzz::checks::sent_message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatsync_fuzz::checks::sent_message(data));
