//! Fuzz target: see `chatsync_fuzz::checks::ticket_list`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chatsync_fuzz::checks::ticket_list(data));
