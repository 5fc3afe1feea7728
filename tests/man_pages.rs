//! The man pages and shell completions written by `amqp-tools-gen`: generated from the committed
//! templates in `man/`, documenting every option the tools accept and no other, with EXAMPLES
//! that parse and that really work.
//!
//! Every test runs the generator binary into a temporary directory. The EXAMPLES test also runs
//! the examples against the private broker of `scripts/test` (`AMQP_TEST_URL`, and
//! `AMQP_TEST_CTL` to give each page a vhost of its own); like the other integration tests it
//! fails, never skips, without them.

mod common;

use common::docs::{read_text, repo_path};
use common::{TOOLS, TempDir, TestVhost, bin, broker_url, run_checked};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The section 7 page.
const OVERVIEW: &str = "amqp-tools.7";

/// The section 7 page of the JSON lines format.
const JSON_PAGE: &str = "amqp-tools-json.7";

/// Sections every tool page has, in this order.
const TOOL_SECTIONS: [&str; 8] = [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "OPTIONS",
    "EXIT STATUS",
    "ENVIRONMENT",
    "EXAMPLES",
    "SEE ALSO",
];

/// How long the examples of one page may run.
const EXAMPLES_TIMEOUT_SECS: u32 = 120;

/// Runs the generator into a new temporary directory.
fn run_generator() -> TempDir {
    let dir = TempDir::new("man-pages");
    run_checked(
        Command::new(env!("CARGO_BIN_EXE_amqp-tools-gen"))
            .arg(dir.path())
            .env("SOURCE_DATE_EPOCH", "1700000000"),
        "amqp-tools-gen",
    );
    dir
}

/// The man pages the generator writes, by file name, generated once for the test binary.
fn generated_pages() -> &'static BTreeMap<String, String> {
    static PAGES: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    PAGES.get_or_init(|| {
        let dir = run_generator();
        let man = dir.path().join("man");
        std::fs::read_dir(&man)
            .expect("reading the man directory")
            .map(|entry| {
                let path = entry.expect("a directory entry").path();
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                (name.into_owned(), read_text(&path))
            })
            .collect()
    })
}

fn page(name: &str) -> String {
    generated_pages()
        .get(name)
        .unwrap_or_else(|| panic!("amqp-tools-gen wrote no man/{name}"))
        .clone()
}

fn template(name: &str) -> String {
    read_text(&repo_path(&format!("man/{name}.in")))
}

/// Roff escapes as they appear in the pages, turned into the characters they print.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('-') => out.push('-'),
            Some('e') | Some('\\') => out.push('\\'),
            Some('&') | Some('%') | Some('c') => {}
            Some(' ') => out.push(' '),
            // A backslash ending a line joins it to the next.
            None => {}
            Some('f') => {
                chars.next();
            }
            Some('(') => {
                let name: String = [chars.next(), chars.next()].into_iter().flatten().collect();
                out.push_str(match name.as_str() {
                    "aq" => "'",
                    "dq" => "\"",
                    "em" => "\u{2014}",
                    "bu" => "\u{2022}",
                    _ => panic!("unexpected roff escape \\({name} in {text:?}"),
                });
            }
            Some('*') => {
                let name: String = [chars.next(), chars.next(), chars.next()]
                    .into_iter()
                    .flatten()
                    .collect();
                assert_eq!(name, "(Aq", "unexpected roff string in {text:?}");
                out.push('\'');
            }
            other => panic!("unexpected roff escape \\{other:?} in {text:?}"),
        }
    }
    out
}

/// The lines of a page that print text: no comments, no string definitions.
fn text_lines(page: &str) -> impl Iterator<Item = &str> {
    page.lines()
        .filter(|l| !l.starts_with(".\\\"") && !l.starts_with(".ie ") && !l.starts_with(".el "))
}

/// The text lines outside EXAMPLES, whose commands may run other tools (they are checked by
/// parsing them as those tools would).
fn prose_lines(page: &str) -> Vec<&str> {
    let mut in_examples = false;
    text_lines(page)
        .filter(|line| {
            if let Some(heading) = line.strip_prefix(".SH ") {
                in_examples = heading == "EXAMPLES";
            }
            !in_examples
        })
        .collect()
}

/// The lines of section `name` (`.SH NAME` up to the next `.SH`), raw.
fn section<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    let heading = |line: &str| {
        line.strip_prefix(".SH ")
            .map(|h| h.trim_matches('"').to_string())
    };
    page.lines()
        .skip_while(|line| heading(line).as_deref() != Some(name))
        .skip(1)
        .take_while(|line| heading(line).is_none())
        .collect()
}

/// The long options named in the tags of the `.TP` entries of a page.
fn documented_long_options(page: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = page.lines().collect();
    let mut options = BTreeSet::new();
    for pair in lines.windows(2) {
        if pair[0] == ".TP" {
            options.extend(long_options_in(&unescape(pair[1])));
        }
    }
    options
}

/// The `--name` words of a text.
fn long_options_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("--") {
        let start = i + at;
        let name_start = start + 2;
        let mut end = name_start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'-') {
            end += 1;
        }
        let before_ok = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric());
        if before_ok
            && end > name_start
            && bytes[name_start].is_ascii_lowercase()
            && !text[name_start..end].ends_with('-')
        {
            found.insert(format!("--{}", &text[name_start..end]));
        }
        i = end.max(start + 2);
    }
    found
}

/// The long options a tool's `--help` lists.
fn help_long_options(tool: &str) -> BTreeSet<String> {
    let out = Command::new(bin(tool))
        .arg("--help")
        .output()
        .expect("running --help");
    assert!(out.status.success(), "{tool} --help failed");
    let help = String::from_utf8(out.stdout).expect("help is UTF-8");
    let mut options = BTreeSet::new();
    for line in help.lines() {
        let spec = line.trim_start();
        if spec.starts_with('-') {
            let spec = spec.split("  ").next().unwrap_or("");
            options.extend(long_options_in(spec));
        }
    }
    assert!(
        options.len() > 10,
        "{tool} --help lists too few options:\n{help}"
    );
    options
}

/// The long options of a clap command.
fn clap_long_options(command: &clap::Command) -> BTreeSet<String> {
    command
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .map(|long| format!("--{long}"))
        .collect()
}

fn command_of(tool: &str) -> clap::Command {
    amqp_tools::cli::commands()
        .into_iter()
        .find(|c| c.get_name() == tool)
        .unwrap_or_else(|| panic!("no command {tool}"))
}

fn connection_long_options() -> BTreeSet<String> {
    use clap::Args;
    clap_long_options(&amqp_tools::cli::ConnectionArgs::augment_args(
        clap::Command::new("connection"),
    ))
}

#[test]
fn every_option_of_help_is_documented_and_nothing_else() {
    for tool in TOOLS {
        let page = page(&format!("{tool}.1"));
        let documented = documented_long_options(&page);
        let help = help_long_options(tool);
        assert_eq!(
            documented, help,
            "{tool}.1 documents other long options than {tool} --help lists"
        );
        for (short, long) in [("-?", "--help"), ("-u", "--url"), ("-s", "--server")] {
            let tag = format!("{short}, {long}");
            assert!(
                text_lines(&page).any(|l| unescape(l).contains(&tag)),
                "{tool}.1 has no entry {tag}"
            );
        }
    }
    let overview = documented_long_options(&page(OVERVIEW));
    assert_eq!(
        overview,
        connection_long_options(),
        "amqp-tools.7 must document exactly the connection options"
    );
}

#[test]
fn options_mentioned_in_the_text_exist() {
    let connection = connection_long_options();
    for tool in TOOLS {
        let known = clap_long_options(&command_of(tool));
        let page = page(&format!("{tool}.1"));
        for line in prose_lines(&page) {
            for option in long_options_in(&unescape(line)) {
                assert!(
                    known.contains(&option),
                    "{tool}.1 mentions {option}, which {tool} does not have: {line}"
                );
            }
        }
    }
    for line in prose_lines(&page(OVERVIEW)) {
        for option in long_options_in(&unescape(line)) {
            assert!(
                connection.contains(&option),
                "amqp-tools.7 mentions {option}, which is not a connection option: {line}"
            );
        }
    }
}

#[test]
fn pages_are_built_from_the_committed_templates() {
    let expected: BTreeSet<String> = TOOLS
        .iter()
        .map(|t| format!("{t}.1"))
        .chain([OVERVIEW.to_string(), JSON_PAGE.to_string()])
        .collect();
    let written: BTreeSet<String> = generated_pages().keys().cloned().collect();
    assert_eq!(written, expected, "the man pages written");
    let version = format!("\"amqp-tools {}\"", env!("CARGO_PKG_VERSION"));
    for name in TOOLS
        .iter()
        .map(|t| format!("{t}.1"))
        .chain([OVERVIEW.to_string(), JSON_PAGE.to_string()])
    {
        let page = page(&name);
        let template = template(&name);
        // Every hand-written line of the template is in the page, in the same order.
        let mut page_lines = page.lines();
        for line in template.lines() {
            if line.starts_with('@') && line.ends_with('@') {
                continue;
            }
            assert!(
                page_lines.any(|p| p == line),
                "{name}: the template line {line:?} is missing or out of order"
            );
        }
        assert!(
            !page.lines().any(|l| l.starts_with('@') && l.ends_with('@')),
            "{name}: a placeholder was left"
        );
        let title = page
            .lines()
            .find(|l| l.starts_with(".TH "))
            .unwrap_or_else(|| panic!("{name}: no .TH line"));
        assert!(
            title.contains(&version) && title.contains("2023-11-14"),
            "{name}: the title line lacks the version or the SOURCE_DATE_EPOCH date: {title}"
        );
    }
    for tool in TOOLS {
        let page = page(&format!("{tool}.1"));
        let headings: Vec<String> = page
            .lines()
            .filter_map(|l| l.strip_prefix(".SH "))
            .map(|h| h.trim_matches('"').to_string())
            .collect();
        let mut at = 0;
        for wanted in TOOL_SECTIONS {
            match headings[at..].iter().position(|h| h == wanted) {
                Some(offset) => at += offset + 1,
                None => panic!("{tool}.1: no section {wanted} in order in {headings:?}"),
            }
        }
        let see_also = section(&page, "SEE ALSO").join("\n");
        assert!(
            see_also.contains(".BR amqp\\-tools (7)"),
            "{tool}.1: SEE ALSO"
        );
        let name = section(&page, "NAME").join(" ");
        assert!(
            name.starts_with(&format!("{} \\- ", tool.replace('-', "\\-"))),
            "{tool}.1: NAME is {name:?}"
        );
    }
}

/// Every page renders with man(1) at 80 columns without a warning and no line wider than 80
/// columns, as `scripts/package-test` checks the installed pages (an example line too long for
/// a terminal is cut or wrapped mid-word there).
#[test]
fn pages_fit_80_columns_in_man() {
    let dir = run_generator();
    for entry in std::fs::read_dir(dir.path().join("man")).expect("reading the man directory") {
        let path = entry.expect("a directory entry").path();
        let out = Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("running man(1) (package man-db)");
        assert!(out.status.success(), "man -l {} failed", path.display());
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(warnings.trim().is_empty(), "{}: {warnings}", path.display());
        let text = String::from_utf8_lossy(&out.stdout);
        let wide: Vec<&str> = text.lines().filter(|l| l.chars().count() > 80).collect();
        assert!(
            wide.is_empty(),
            "{} renders lines wider than 80 columns: {wide:#?}",
            path.display()
        );
    }
}

#[test]
fn completions_are_written_for_every_tool_and_shell() {
    let generated = run_generator();
    let dir = generated.path().join("completions");
    for tool in TOOLS {
        let options = clap_long_options(&command_of(tool));
        for (shell, file) in [
            ("bash", tool.to_string()),
            ("zsh", format!("_{tool}")),
            ("fish", format!("{tool}.fish")),
        ] {
            let path = dir.join(shell).join(&file);
            let text = read_text(&path);
            for option in &options {
                let word = match shell {
                    // fish lists long options as `-l name`.
                    "fish" => format!("-l {}", &option[2..]),
                    _ => option.clone(),
                };
                assert!(
                    text.contains(&word),
                    "{} does not complete {option}",
                    path.display()
                );
            }
            if let Some(loader) = shell_loader(shell) {
                // Loading the file (as the shell does on completion) prints nothing.
                let out = Command::new(loader.0)
                    .args(loader.1)
                    .arg(format!("source {}", path.display()))
                    .stdin(Stdio::null())
                    .output()
                    .expect("running the shell");
                assert!(
                    out.status.success() && out.stderr.is_empty() && out.stdout.is_empty(),
                    "{shell}: loading {} printed: {}{}",
                    path.display(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            if let Some(checker) = shell_checker(shell) {
                let out = Command::new(checker)
                    .arg("-n")
                    .arg(&path)
                    .output()
                    .expect("running the shell");
                assert!(
                    out.status.success(),
                    "{shell} -n {}: {}",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// How to load a completion file in a shell, when the shell is installed: bash and fish can
/// load one outside an interactive session (zsh's need its completion system).
fn shell_loader(shell: &str) -> Option<(&'static str, &'static [&'static str])> {
    match shell {
        "bash" => Some(("bash", &["--norc", "-c"])),
        "fish" if shell_checker("fish").is_some() => Some(("fish", &["--no-config", "-c"])),
        _ => None,
    }
}

/// The shell to syntax-check completions with, when it is installed (bash always is).
fn shell_checker(shell: &str) -> Option<&str> {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {shell}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    match (shell, found) {
        ("bash", false) => panic!("bash is needed to check the bash completions"),
        (_, true) => Some(shell),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// EXAMPLES

/// One example command (`$ ...` line, continuation lines joined) and the output shown after it.
#[derive(Debug)]
struct Example {
    command: String,
    expected: Vec<String>,
}

/// An `.EX` block of the EXAMPLES section.
#[derive(Debug)]
struct Block {
    run: bool,
    examples: Vec<Example>,
}

fn example_blocks(page: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut not_run = false;
    let mut current: Option<Block> = None;
    let mut pending_command: Option<String> = None;
    for line in section(page, "EXAMPLES") {
        if line == ".\\\" not run" {
            not_run = true;
            continue;
        }
        if line == ".EX" {
            current = Some(Block {
                run: !not_run,
                examples: Vec::new(),
            });
            not_run = false;
            continue;
        }
        if line == ".EE" {
            blocks.extend(current.take());
            continue;
        }
        let Some(block) = current.as_mut() else {
            continue;
        };
        let text = unescape(line);
        if let Some(partial) = pending_command.take() {
            let joined = format!("{partial}\n{text}");
            if text.ends_with('\\') {
                pending_command = Some(joined);
            } else if let Some(example) = block.examples.last_mut() {
                example.command = joined;
            }
            continue;
        }
        if let Some(command) = text.strip_prefix("$ ") {
            block.examples.push(Example {
                command: command.to_string(),
                expected: Vec::new(),
            });
            if command.ends_with('\\') {
                pending_command = Some(command.to_string());
            }
        } else if let Some(example) = block.examples.last_mut() {
            example.expected.push(text);
        } else {
            panic!("output before any command in an example block: {text:?}");
        }
    }
    assert!(current.is_none(), "an .EX block is not closed");
    blocks
}

/// Splits a shell command line into simple commands (at `|`, `;`, `&`, `$(`, `)`, `<`, `>`
/// outside quotes) and each into words, unquoted. Enough for the examples; not a shell.
fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let end_word = |words: &mut Vec<String>, word: &mut String, in_word: &mut bool| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                if !matches!(n, '"' | '\\' | '$' | '`') {
                                    word.push('\\');
                                }
                                word.push(n);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(n) => {
                    in_word = true;
                    word.push(n);
                }
            },
            '$' if chars.peek() == Some(&'(') => {
                chars.next();
                end_word(&mut words, &mut word, &mut in_word);
                commands.push(std::mem::take(&mut words));
            }
            '|' | ';' | '&' | ')' | '<' | '>' => {
                end_word(&mut words, &mut word, &mut in_word);
                commands.push(std::mem::take(&mut words));
            }
            c if c.is_whitespace() => end_word(&mut words, &mut word, &mut in_word),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    end_word(&mut words, &mut word, &mut in_word);
    commands.push(words);
    commands.retain(|c| !c.is_empty());
    commands
}

/// Words that may come before a command in a simple command of the examples.
const SHELL_KEYWORDS: [&str; 8] = ["while", "until", "if", "then", "do", "else", "!", "exec"];

/// The invocations of our tools in an example command, as argument vectors.
fn tool_invocations(command: &str) -> Vec<Vec<String>> {
    simple_commands(command)
        .into_iter()
        .filter_map(|words| {
            // A tool may follow assignments (`n=0`) and keywords (`while`), nothing else.
            let start = words.iter().position(|w| TOOLS.contains(&w.as_str()))?;
            words[..start]
                .iter()
                .all(|w| w.contains('=') || SHELL_KEYWORDS.contains(&w.as_str()))
                .then(|| words[start..].to_vec())
        })
        .collect()
}

/// Parses `argv` as the tool named by `argv[0]` parses its command line.
fn parse_as_the_tool(argv: &[String]) -> Result<(), String> {
    use amqp_tools::cli;
    let args = argv.iter().map(std::ffi::OsString::from);
    let result = match argv[0].as_str() {
        "amqp-publish" => cli::parse::<cli::publish::Options, _>(args, |_| false).map(drop),
        "amqp-consume" => cli::parse::<cli::consume::Options, _>(args, |_| false).map(drop),
        "amqp-get" => cli::parse::<cli::get::Options, _>(args, |_| false).map(drop),
        "amqp-declare-queue" => {
            cli::parse::<cli::declare_queue::Options, _>(args, |_| false).map(drop)
        }
        "amqp-delete-queue" => {
            cli::parse::<cli::delete_queue::Options, _>(args, |_| false).map(drop)
        }
        other => panic!("not a tool: {other}"),
    };
    result.map_err(|e| e.to_string())
}

#[test]
fn examples_use_only_options_that_exist() {
    let mut pages: Vec<String> = TOOLS.iter().map(|t| format!("{t}.1")).collect();
    pages.push(OVERVIEW.to_string());
    pages.push(JSON_PAGE.to_string());
    for name in pages {
        let page = page(&name);
        let blocks = example_blocks(&page);
        assert!(!blocks.is_empty(), "{name}: no examples");
        let mut tools_used = BTreeSet::new();
        for example in blocks.iter().flat_map(|b| &b.examples) {
            for argv in tool_invocations(&example.command) {
                tools_used.insert(argv[0].clone());
                if let Err(error) = parse_as_the_tool(&argv) {
                    panic!(
                        "{name}: the example `{}` does not parse: {error}",
                        example.command
                    );
                }
            }
        }
        if let Some(tool) = name.strip_suffix(".1") {
            assert!(
                tools_used.contains(tool),
                "{name}: no example runs {tool} ({tools_used:?})"
            );
        }
    }
}

#[test]
fn the_example_parser_finds_tools_and_options() {
    assert_eq!(
        tool_invocations("q=$(amqp-declare-queue -q '')"),
        vec![vec!["amqp-declare-queue", "-q", ""]]
    );
    assert_eq!(
        tool_invocations("seq 3 | amqp-publish -r jobs -l -H 'x: y' < f"),
        vec![vec!["amqp-publish", "-r", "jobs", "-l", "-H", "x: y"]]
    );
    assert_eq!(
        tool_invocations("amqp-consume -c 1 -- \\\n  sh -c 'echo \"$X\"'"),
        vec![vec![
            "amqp-consume",
            "-c",
            "1",
            "--",
            "sh",
            "-c",
            "echo \"$X\""
        ]]
    );
    assert_eq!(
        tool_invocations("n=0; while amqp-get -q j > m.$n; do n=1; done"),
        vec![vec!["amqp-get", "-q", "j"]]
    );
    assert_eq!(
        tool_invocations("echo amqp-get; x amqp-get"),
        Vec::<Vec<String>>::new()
    );
    assert_eq!(
        long_options_in("use --no-ack, not -- or --; see --x-y"),
        ["--no-ack", "--x-y"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    assert_eq!(
        unescape("\\fB\\-\\-ssl\\fR \\(aqx\\(aq \\e"),
        "--ssl 'x' \\"
    );
}

/// Runs the examples of a page in one shell, in order, in a fresh directory; returns each
/// command's output (stdout and stderr together) and exit status.
fn run_examples(examples: &[&Example], url: &str, bin_dir: &Path) -> Vec<(String, i32)> {
    const MARK: char = '\u{1e}';
    let mut script = String::from("exec 2>&1\n");
    for (i, example) in examples.iter().enumerate() {
        script.push_str(&format!(
            "printf '{MARK}C{i}{MARK}'\n{}\nprintf '{MARK}S%d{MARK}' \"$?\"\n",
            example.command
        ));
    }
    let dir = TempDir::new("man-examples");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("timeout")
        .args(["-k", "5", &EXAMPLES_TIMEOUT_SECS.to_string(), "sh", "-c"])
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("AMQP_URL", url)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .expect("running sh");
    let output = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !matches!(out.status.code(), Some(124) | Some(137) | None),
        "the examples timed out after {EXAMPLES_TIMEOUT_SECS} s; output so far:\n{output}"
    );
    // The output is, for each command i: MARK "C<i>" MARK output MARK "S<status>" MARK.
    let parts: Vec<&str> = output.split(MARK).collect();
    assert_eq!(parts[0], "", "output before the first command: {output:?}");
    let mut results = Vec::new();
    for group in parts[1..].chunks(4).filter(|g| g.len() >= 3) {
        assert_eq!(
            group[0],
            format!("C{}", results.len()),
            "output: {output:?}"
        );
        let status = group[2]
            .strip_prefix('S')
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status for command {}: {output:?}", results.len()));
        results.push((group[1].to_string(), status));
    }
    results
}

fn output_matches(actual: &str, expected: &[String]) -> bool {
    let lines: Vec<&str> = actual.lines().collect();
    lines.len() == expected.len()
        && lines
            .iter()
            .zip(expected)
            .all(|(line, want)| match want.strip_suffix("...") {
                Some(prefix) => line.starts_with(prefix),
                None => line == want,
            })
}

#[test]
fn examples_work_against_the_broker() {
    let url = broker_url();
    let bin_dir = bin("amqp-publish")
        .parent()
        .expect("binary directory")
        .to_path_buf();
    let mut ran = 0;
    let pages = TOOLS
        .iter()
        .map(|t| format!("{t}.1"))
        .chain([JSON_PAGE.to_string()]);
    for name in pages {
        let tool = name.as_str();
        let page = page(tool);
        let blocks = example_blocks(&page);
        let examples: Vec<&Example> = blocks
            .iter()
            .filter(|b| b.run)
            .flat_map(|b| &b.examples)
            .collect();
        assert!(!examples.is_empty(), "{tool}: no example is run");
        let vhost = TestVhost::new(&format!("man-{tool}"));
        let results = run_examples(
            &examples,
            &format!("{}/{}", url.trim_end_matches('/'), vhost.name),
            &bin_dir,
        );
        assert_eq!(
            results.len(),
            examples.len(),
            "{tool}: not every example ran: {results:?}"
        );
        for (example, (output, status)) in examples.iter().zip(&results) {
            assert_eq!(
                *status, 0,
                "{tool}: `{}` exited with {status}; output:\n{output}",
                example.command
            );
            assert!(
                output_matches(output, &example.expected),
                "{tool}: `{}` printed\n{output}\ninstead of\n{}",
                example.command,
                example.expected.join("\n")
            );
            ran += 1;
        }
    }
    assert!(ran > 20, "only {ran} examples ran");
}
