//! The fuzz targets' properties live in [`checks`], a plain module that
//! `tests/reliability/tests/fuzz_regressions.rs` also compiles (by path), so every
//! crash input found here is replayed by the normal test suite on stable Rust.

pub mod checks;
