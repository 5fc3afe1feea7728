//! Facts said twice must agree: the second copy of a fact in the documentation is checked
//! against its source here, so that it cannot drift unnoticed.
//!
//! - README.md's table of connection options against the clap definition
//!   ([`amqp_tools::cli::ConnectionArgs`], and the reconnect options of
//!   [`amqp_tools::cli::reconnect::ReconnectArgs`]);
//! - the `differs("CASE | detail", ...)` ids of `tests/compat.rs` against the case cells of
//!   COMPATIBILITY.md's first table.
//!
//! (BENCHMARKS.md's structure is checked against its generator by `scripts/bench.py --check`,
//! run by `scripts/test`.) No broker needed.

use amqp_tools::cli::ConnectionArgs;
use amqp_tools::cli::reconnect::ReconnectArgs;
use clap::Args;
use std::collections::BTreeSet;
use std::path::Path;

fn read(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The rows of the first Markdown table after the line `header` (the header and separator
/// lines excluded), each split into its trimmed cells.
fn table_after(text: &str, header: &str) -> Vec<Vec<String>> {
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

/// The `--long` option names written in backticks in `cell` (`--port PORT` gives `port`).
fn long_options_in(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|code| code.split([' ', ',', '=']))
        .filter_map(|word| word.strip_prefix("--"))
        .map(str::to_string)
        .collect()
}

#[test]
fn readme_option_table_lists_every_connection_option() {
    // The connection options, and the reconnect options amqp-publish and amqp-consume share.
    let command =
        ReconnectArgs::augment_args(ConnectionArgs::augment_args(clap::Command::new("tool")));
    let defined: BTreeSet<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    assert!(
        defined.contains("url"),
        "no connection options found: {defined:?}"
    );
    let readme = read("README.md");
    let table = table_after(&readme, "| option | meaning |");
    let documented: BTreeSet<String> = table
        .iter()
        .flat_map(|row| long_options_in(&row[0]))
        .collect();
    let missing: Vec<&String> = defined.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "README.md's option table lacks {missing:?}"
    );
    let unknown: Vec<&String> = documented.difference(&defined).collect();
    assert!(
        unknown.is_empty(),
        "README.md's option table names options that do not exist: {unknown:?}"
    );
}

/// The `why` strings passed to `.differs(` in `tests/compat.rs`: the string literal that
/// follows each `.differs(` (the first argument), unescaped enough to compare with Markdown.
fn differs_ids(source: &str) -> Vec<String> {
    source
        .split(".differs(")
        .skip(1)
        .map(|rest| {
            let start = rest.find('"').expect("differs( without a string") + 1;
            let mut id = String::new();
            let mut chars = rest[start..].chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => id.push(chars.next().expect("escape at the end")),
                    c => id.push(c),
                }
            }
            id
        })
        .collect()
}

#[test]
fn every_compat_differs_id_names_a_compatibility_row() {
    let compat = read("COMPATIBILITY.md");
    let cases: BTreeSet<String> = table_after(&compat, "| case | original (0.11) | ours | why |")
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    let ids = differs_ids(&read("tests/compat.rs"));
    assert!(ids.len() > 10, "found only {} differs ids", ids.len());
    let bad: Vec<&String> = ids
        .iter()
        .filter(|id| match id.split_once(" | ") {
            Some((case, detail)) => !cases.contains(case) || detail.trim().is_empty(),
            None => true,
        })
        .collect();
    assert!(
        bad.is_empty(),
        "differs ids must read `CASE | detail`, CASE the case cell of a row of \
         COMPATIBILITY.md's first table; these do not: {bad:#?}"
    );
}
