//! The library's top-level modules depend on each other one way, and its functions stay short
//! (no broker needed).
//!
//! Reads every `src/**/*.rs` outside `src/bin/`, collects the `crate::MODULE` paths of its code
//! (comments, doc links included, are skipped: they do not make a compile-time dependency) per
//! top-level module, and fails on any cycle among them. The intended layering, top to bottom:
//! `bin -> runner -> cli -> {connection, publish, consume, get, rpc} -> {headers, body,
//! authfile, field_value, message_json, ...} -> {error, report}`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    rust_files_but(dir, Some("bin"), found);
}

/// The `.rs` files under `dir`, but for those in a folder named `skip`.
fn rust_files_but(dir: &Path, skip: Option<&str>, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading src/") {
        let path = entry.expect("reading src/").path();
        if path.is_dir() {
            if skip.is_none_or(|skip| path.file_name().is_some_and(|name| name != skip)) {
                rust_files_but(&path, skip, found);
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/consume/queue.rs` -> `consume`,
/// `src/error.rs` -> `error`; `None` for `src/lib.rs`.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).expect("file under src/");
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_string())
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level modules named by `crate::NAME` and `crate::{A, B::..}` in `code`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before_ok = rest[..at].chars().next_back().is_none_or(|c| !is_ident(c));
        rest = &rest[at + "crate::".len()..];
        if !before_ok {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name: String = item.trim().chars().take_while(|c| is_ident(*c)).collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

fn dependency_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let Some(module) = top_module(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("reading a source file");
        let code: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .map(|line| line.split(" //").next().unwrap_or(line))
            .collect::<Vec<_>>()
            .join("\n");
        let edges = graph.entry(module.clone()).or_default();
        for target in crate_paths(&code) {
            if target != module {
                edges.insert(target);
            }
        }
    }
    graph
}

/// A cycle in `graph`, as the list of modules along it, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_top_level_modules_depend_on_each_other_without_a_cycle() {
    let graph = dependency_graph();
    assert!(graph.contains_key("cli") && graph.contains_key("error"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!("module cycle in src/: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_report_module_imports_nothing_from_the_crate() {
    let graph = dependency_graph();
    assert_eq!(
        graph.get("report"),
        Some(&BTreeSet::new()),
        "report imports"
    );
}

/// The longest a function may be, in lines from its signature to its closing brace.
const FUNCTION_LINES_MAX: usize = 80;

/// Every function in `text` (formatted by rustfmt) as its name, first line (1-based) and
/// length in lines, from the line where `fn` stands to the closing brace at its indentation.
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        let indent = &line[..line.len() - code.len()];
        let Some(after) = code.split_once("fn ").and_then(|(before, after)| {
            let words_ok = before.split_whitespace().all(|word| {
                ["pub", "async", "const", "unsafe", "extern", "\"C\""].contains(&word)
                    || word.starts_with("pub(")
            });
            words_ok.then_some(after)
        }) else {
            continue;
        };
        let name: String = after.chars().take_while(|c| is_ident(*c)).collect();
        let Some(open) = (at..lines.len()).find(|&i| {
            let end = lines[i].trim_end();
            end.ends_with('{') || end.ends_with(';') || end.ends_with('}')
        }) else {
            continue;
        };
        if !lines[open].trim_end().ends_with('{') {
            continue; // a declaration, or a body on one line
        }
        let close = format!("{indent}}}");
        if let Some(end) = (open..lines.len()).find(|&i| lines[i] == close) {
            found.push((name, at + 1, end - at + 1));
        }
    }
    found
}

#[test]
fn no_function_in_src_is_longer_than_80_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files_but(&src, None, &mut files);
    let mut long = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("reading a source file");
        for (name, line, length) in function_lengths(&text) {
            if length > FUNCTION_LINES_MAX {
                let file = file.strip_prefix(&src).unwrap_or(&file).display();
                long.push(format!("src/{file}:{line} {name}: {length} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {FUNCTION_LINES_MAX} lines (split them into named steps):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_function_measure_counts_from_fn_to_the_closing_brace() {
    let text = "pub async fn a(\n    x: u8,\n) {\n    b();\n}\nfn c() {}\n    fn d();\n";
    assert_eq!(function_lengths(text), vec![("a".to_string(), 1, 5)]);
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&graph).map(|c| c.len()), Some(3));
    assert_eq!(
        crate_paths("use crate::{x, y::Z};\nlet _ = crate::w::f();"),
        ["w", "x", "y"].map(String::from).into()
    );
}
