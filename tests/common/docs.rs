//! Reading the project's own files: the documentation (README.md, COMPATIBILITY.md,
//! RELIABILITY.md, the man page templates) and the test sources they name. No broker needed.

use std::path::{Path, PathBuf};

/// The path of `relative` in the source tree (`CARGO_MANIFEST_DIR`).
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The text of a file; fails the test, naming the file, when it cannot be read.
#[track_caller]
pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The text of the file `relative` in the source tree (`README.md`, `tests/compat.rs`, ...).
#[track_caller]
pub fn repo_file(relative: &str) -> String {
    read_text(&repo_path(relative))
}

/// The rows of the first Markdown table after the line `header` (the header and separator
/// lines excluded), each split into its trimmed cells.
#[track_caller]
pub fn table_after(text: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines().skip_while(|l| l.trim() != header);
    assert!(
        lines.next().is_some(),
        "no table with the header {header:?}"
    );
    lines
        .skip(1) // |---|---|
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let inner = l.trim().trim_start_matches('|').trim_end_matches('|');
            inner.split('|').map(|c| c.trim().to_string()).collect()
        })
        .collect()
}

/// The names of the `#[test]` functions of a Rust test file's text.
pub fn test_functions(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut after_test_attribute = false;
    for line in source.lines().map(str::trim) {
        if line == "#[test]" {
            after_test_attribute = true;
        } else if after_test_attribute && let Some(rest) = line.strip_prefix("fn ") {
            let name = rest.split(['(', '<']).next().unwrap_or("").trim();
            names.push(name.to_string());
            after_test_attribute = false;
        }
    }
    names
}
