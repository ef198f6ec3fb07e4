//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings of `chatsync-ffi`
//! (run through `bindings/scripts/generate.sh`). Built from the same pinned UniFFI as
//! the library, so the generated code always matches the scaffolding.

fn main() {
    uniffi::uniffi_bindgen_main()
}
