//! Fuzz target: see `chatsync_fuzz::checks::realtime_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatsync_fuzz::checks::realtime_frame(data));
