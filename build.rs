//! Lays out the tools' machine code for a fast start: in a release build linked by LLD, the
//! functions named in `link/symbol-order.txt` (those one run of each tool executes, found by
//! `scripts/symbol-order`) are placed together at the start of `.text`.
//!
//! A run touches about 1 MB of the tools' 3.5 MB of code. Scattered, those functions drag most
//! of `.text` into memory: the kernel maps a file's pages 64 KB at a time around each page
//! fault. Together, they fill fewer such windows: one `amqp-publish` peaks at about 4.0 MiB
//! resident instead of 5.1, with 20 fewer page faults (BENCHMARKS.md, row 7).
//!
//! The order is a hint: names the linker does not find (after a toolchain or dependency
//! update changed their hashes) are skipped without a warning, and the build is otherwise the
//! same. It is given only where LLD is known to link (`--symbol-ordering-file` is an LLD and
//! mold option; GNU ld would refuse it): release builds for x86_64-unknown-linux-gnu with
//! rustc 1.90 or later (whose default linker there is LLD), no linker configured, and
//! `AMQP_TOOLS_SYMBOL_ORDER` not set to `0`.

use std::env;
use std::path::Path;
use std::process::Command;

/// The order file, relative to the package's root.
const ORDER_FILE: &str = "link/symbol-order.txt";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={ORDER_FILE}");
    println!("cargo:rerun-if-env-changed=AMQP_TOOLS_SYMBOL_ORDER");
    let Some(root) = env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let file = Path::new(&root).join(ORDER_FILE);
    if !file.is_file() || !lld_links_this_build() {
        return;
    }
    let Some(path) = file.to_str().filter(|p| !p.contains(',')) else {
        // `-Wl,` would split a path holding a comma.
        return;
    };
    println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={path}");
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}

/// True when this is a release build that rustc links with its own LLD: see the module's
/// documentation.
fn lld_links_this_build() -> bool {
    let var = |name: &str| env::var(name).unwrap_or_default();
    if var("AMQP_TOOLS_SYMBOL_ORDER") == "0"
        || var("PROFILE") != "release"
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || env::var_os("RUSTC_LINKER").is_some()
    {
        return false;
    }
    // A linker, linker flavour or self-contained linking chosen in RUSTFLAGS.
    if var("CARGO_ENCODED_RUSTFLAGS")
        .split('\x1f')
        .any(|flag| flag.contains("link"))
    {
        return false;
    }
    rustc_minor_version().is_some_and(|minor| minor >= 90)
}

/// The minor version of the rustc that builds this package (`1.95.0` gives 95).
fn rustc_minor_version() -> Option<u32> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("-vV").output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let release = text.lines().find_map(|l| l.strip_prefix("release: "))?;
    let mut parts = release.split('.');
    match (parts.next(), parts.next()) {
        (Some("1"), Some(minor)) => minor.parse().ok(),
        _ => None,
    }
}
