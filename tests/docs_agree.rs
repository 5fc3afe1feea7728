//! Facts said twice must agree: the second copy of a fact in the documentation is checked
//! against its source here, so that it cannot drift unnoticed.
//!
//! - README.md's table of connection options against the clap definition
//!   ([`amqp_tools::cli::ConnectionArgs`], and the reconnect options of
//!   [`amqp_tools::cli::reconnect::ReconnectArgs`]);
//! - the `differs("CASE | detail", ...)` ids of `tests/compat.rs` against the case cells of
//!   COMPATIBILITY.md's first table;
//! - the tests RELIABILITY.md names (`tests/FILE.rs::NAME`) against the test files.
//!
//! (BENCHMARKS.md's structure is checked against its generator by `scripts/bench.py --check`,
//! run by `scripts/test`.) No broker needed.

mod common;

use amqp_tools::cli::ConnectionArgs;
use amqp_tools::cli::reconnect::ReconnectArgs;
use clap::Args;
use common::docs::{repo_file, table_after, test_functions};
use std::collections::BTreeSet;

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
    // The connection options, and the reconnect options amqp-publish, amqp-consume and
    // amqp-get share.
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
    let readme = repo_file("README.md");
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
    let compat = repo_file("COMPATIBILITY.md");
    let cases: BTreeSet<String> = table_after(&compat, "| case | original (0.11) | ours | why |")
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    let ids = differs_ids(&repo_file("tests/compat.rs"));
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

/// The `tests/FILE.rs` and `tests/FILE.rs::NAME` references of a text, as (file, name) pairs.
fn test_references(text: &str) -> Vec<(String, Option<String>)> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices("tests/")
        .filter_map(|(at, _)| {
            let rest = &text[at..];
            let file_end = rest.find(".rs")? + 3;
            let file = &rest[..file_end];
            if !file["tests/".len()..file_end - 3].chars().all(is_name) {
                return None;
            }
            let name = rest[file_end..].strip_prefix("::").map(|after| {
                let end = after.find(|c| !is_name(c)).unwrap_or(after.len());
                after[..end].to_string()
            });
            Some((file.to_string(), name))
        })
        .collect()
}

#[test]
fn every_test_reliability_md_names_exists() {
    let references = test_references(&repo_file("RELIABILITY.md"));
    let named = references.iter().filter(|(_, name)| name.is_some()).count();
    assert!(
        named > 50,
        "found only {named} test names in RELIABILITY.md"
    );
    let missing: Vec<String> = references
        .iter()
        .filter_map(|(file, name)| {
            let Ok(source) = std::fs::read_to_string(common::docs::repo_path(file)) else {
                return Some(format!("{file} (no such file)"));
            };
            let name = name.as_deref()?;
            // `PART` is the placeholder of the restart parts' description.
            let exists = name == "PART"
                || test_functions(&source).iter().any(|t| t == name)
                // A part of tests/restart.rs: a function run by name from the part table.
                || (source.contains(&format!("fn {name}()"))
                    && source.contains(&format!("\"{name}\"")));
            (!exists).then(|| format!("{file}::{name}"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "RELIABILITY.md names tests that do not exist (renamed or moved? update the \
         document): {missing:#?}"
    );
}
