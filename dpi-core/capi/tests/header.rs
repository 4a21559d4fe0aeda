//! `include/dpi.h` is what cbindgen makes of `src/lib.rs` now: a change
//! to the C ABI without the header fails here. Rewrite the header after an
//! intended change with `DPI_BLESS=1 cargo test -p dpi-capi --test header`
//! and review the diff.

use std::path::Path;

#[test]
fn header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen reads src/lib.rs")
        .write(&mut generated);
    let path = dir.join("include/dpi.h");
    if std::env::var_os("DPI_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is stale: regenerate it with DPI_BLESS=1 cargo test -p dpi-capi --test header\n--- generated ---\n{}",
        path.display(),
        String::from_utf8_lossy(&generated)
    );
}
