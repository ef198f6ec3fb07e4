//! Fuzz target: see `chatsync_fuzz::checks::realtime_handling`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatsync_fuzz::checks::realtime_handling(data));
