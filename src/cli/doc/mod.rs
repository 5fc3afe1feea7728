//! The manual pages and the shell completions of the five tools, rendered from their option
//! definitions ([`generate`], run by the `amqp-tools-gen` binary).
//!
//! [`generate`] writes `OUTDIR/man/<tool>.1`, `OUTDIR/man/amqp-tools.7` and `OUTDIR/man/amqp-tools-json.7`,
//! and
//! `OUTDIR/completions/bash/<tool>`, `OUTDIR/completions/zsh/_<tool>` and
//! `OUTDIR/completions/fish/<tool>.fish`. The Debian package runs it at build time
//! (`debian/rules`); it is not installed.
//!
//! Options are documented from one source only, the clap definitions the tools parse with
//! ([`cli::commands`]): names, values, help texts, possible values and defaults are
//! rendered by `clap_mangen` and `clap_complete`. Everything else in a page is prose written by
//! hand in the templates `man/<tool>.1.in` and `man/amqp-tools.7.in`, built into this program.
//! A template is roff in which a line that is exactly `@KEY@` is replaced by generated text:
//!
//! | key | replaced by |
//! |---|---|
//! | `@TH@` | the `.TH` title line (name, section, date, `amqp-tools VERSION`) |
//! | `@NAME@` | the NAME section: `tool \- about`, the about text from clap |
//! | `@SYNOPSIS@` | the SYNOPSIS section: the tool's own options, connection options as a group |
//! | `@OPTIONS@` | entries of the tool's own options and operands (no heading) |
//! | `@CONNECTION_OPTIONS@` | entries of the connection options common to all tools (no heading) |
//! | `@HELP_OPTIONS@` | entries of `--help`, `--usage` and `--version` (no heading) |
//! | `@TOOLS@` | one entry per tool: its page reference and about text (`amqp-tools.7` only) |
//!
//! Each key a page needs must appear exactly once, and no other `@KEY@` line may appear, so a
//! page cannot lose an option or keep a stale placeholder. The date is taken from
//! `SOURCE_DATE_EPOCH` when set (reproducible builds), else today.

use crate::cli::{self, ConnectionArgs};
use clap::{Args, Command};
use clap_complete::Shell;
use clap_mangen::Man;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The templates, one per tool, in the order of [`cli::commands`].
const TOOL_TEMPLATES: [(&str, &str); 5] = [
    (
        "amqp-publish",
        include_str!("../../../man/amqp-publish.1.in"),
    ),
    (
        "amqp-consume",
        include_str!("../../../man/amqp-consume.1.in"),
    ),
    ("amqp-get", include_str!("../../../man/amqp-get.1.in")),
    (
        "amqp-declare-queue",
        include_str!("../../../man/amqp-declare-queue.1.in"),
    ),
    (
        "amqp-delete-queue",
        include_str!("../../../man/amqp-delete-queue.1.in"),
    ),
];

/// The section 7 page on the connection options, URLs, the authfile and exit statuses.
const OVERVIEW_TEMPLATE: &str = include_str!("../../../man/amqp-tools.7.in");

/// Name of the section 7 page.
const OVERVIEW_NAME: &str = "amqp-tools";

/// The section 7 page specifying the JSON lines format (`--json`); only `@TH@` is generated.
const JSON_TEMPLATE: &str = include_str!("../../../man/amqp-tools-json.7.in");

/// Name of the JSON lines page.
const JSON_NAME: &str = "amqp-tools-json";

/// The `.TH` source field: the package and its version.
const SOURCE: &str = concat!("amqp-tools ", env!("CARGO_PKG_VERSION"));

/// Ids of the options `cli::configure` and `CommonArgs` add to every tool.
const HELP_IDS: [&str; 3] = ["help", "usage", "version"];

/// Writes every page and completion file under `outdir`; returns the paths written.
///
/// Errors: one line naming the template or the file that failed (`man/amqp-get.1.in: ...`,
/// `writing PATH: CAUSE`).
pub fn generate(outdir: &Path) -> Result<Vec<PathBuf>, String> {
    let commands = tool_commands()?;
    let date = man_date()?;
    let mut written = Vec::new();

    let man_dir = outdir.join("man");
    create_dir(&man_dir)?;
    for (command, (_, template)) in commands.iter().zip(TOOL_TEMPLATES) {
        let page = tool_page(command, template, &date)
            .map_err(|e| format!("man/{}.1.in: {e}", command.get_name()))?;
        written.push(write(
            &man_dir.join(format!("{}.1", command.get_name())),
            &page,
        )?);
    }
    let overview =
        overview_page(&commands, &date).map_err(|e| format!("man/amqp-tools.7.in: {e}"))?;
    written.push(write(
        &man_dir.join(format!("{OVERVIEW_NAME}.7")),
        &overview,
    )?);
    let json = json_page(&date).map_err(|e| format!("man/{JSON_NAME}.7.in: {e}"))?;
    written.push(write(&man_dir.join(format!("{JSON_NAME}.7")), &json)?);

    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let dir = outdir.join("completions").join(shell.to_string());
        create_dir(&dir)?;
        for command in &commands {
            let name = command.get_name().to_string();
            let file = match shell {
                Shell::Zsh => format!("_{name}"),
                Shell::Fish => format!("{name}.fish"),
                _ => name.clone(),
            };
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut command.clone(), &name, &mut text);
            let text = String::from_utf8(text)
                .map_err(|_| format!("the {shell} completion of {name} is not UTF-8"))?;
            let text = match shell {
                Shell::Fish => quote_fish_short_options(command, &text),
                _ => text,
            };
            written.push(write(&dir.join(file), &text)?);
        }
    }
    Ok(written)
}

/// The five commands from the library, checked against the templates built in.
fn tool_commands() -> Result<Vec<Command>, String> {
    let commands = cli::commands();
    let names: Vec<&str> = commands.iter().map(Command::get_name).collect();
    let templates: Vec<&str> = TOOL_TEMPLATES.iter().map(|(name, _)| *name).collect();
    if names != templates {
        return Err(format!(
            "the tools {names:?} do not match the man page templates {templates:?}"
        ));
    }
    Ok(commands)
}

/// Ids of the connection options, as `ConnectionArgs` defines them.
fn connection_ids() -> BTreeSet<String> {
    ConnectionArgs::augment_args(Command::new("connection"))
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .collect()
}

/// Which part of a page an option belongs in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Tool,
    Connection,
    Help,
}

fn group_of(id: &str, connection: &BTreeSet<String>) -> Group {
    if HELP_IDS.contains(&id) {
        Group::Help
    } else if connection.contains(id) {
        Group::Connection
    } else {
        Group::Tool
    }
}

/// `command` with only the options of `keep` shown (the others hidden from the renderers).
fn only(command: &Command, keep: Group) -> Command {
    let connection = connection_ids();
    let ids: Vec<String> = command
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .collect();
    let mut command = command.clone();
    for id in ids {
        if group_of(&id, &connection) != keep {
            command = command.mut_arg(id, |arg| arg.hide(true));
        }
    }
    command
}

/// The page of one tool from its template.
fn tool_page(command: &Command, template: &str, date: &str) -> Result<String, String> {
    let name = command.get_name().to_string();
    let man = |command: Command| {
        Man::new(command)
            .date(date)
            .source(SOURCE)
            .manual("User Commands")
    };
    let mut generated: Vec<(&str, String)> = vec![
        ("TH", render(|w| man(command.clone()).render_title(w))?),
        (
            "NAME",
            render(|w| man(command.clone()).render_name_section(w))?,
        ),
        ("SYNOPSIS", synopsis(command, &man)?),
    ];
    for (key, group) in [
        ("OPTIONS", Group::Tool),
        ("CONNECTION_OPTIONS", Group::Connection),
        ("HELP_OPTIONS", Group::Help),
    ] {
        generated.push((key, option_entries(man(only(command, group)))?));
    }
    let page = expand(template, &generated)?;
    Ok(format!("{}{page}", header(&format!("man/{name}.1.in"))))
}

/// The SYNOPSIS: the tool's own options as clap_mangen writes them, the connection options as
/// one group after the tool's name.
fn synopsis(command: &Command, man: &dyn Fn(Command) -> Man) -> Result<String, String> {
    let text = render(|w| man(only(command, Group::Tool)).render_synopsis_section(w))?;
    let name = format!("\\fB{}\\fR ", roff_escape(command.get_name()));
    let Some(line) = text
        .strip_prefix(".SH SYNOPSIS\n")
        .and_then(|line| line.strip_prefix(&name))
    else {
        return Err(format!("unexpected synopsis from clap_mangen: {text:?}"));
    };
    // Words not hyphenated (`\%` before each): an option broken in two is hard to read; and
    // left-adjusted: a long synopsis spread over a justified line is too.
    let words: Vec<String> = format!("{name}[\\fIconnection\\ options\\fR] {line}")
        .split_whitespace()
        .map(|word| format!("\\%{word}"))
        .collect();
    Ok(format!(".SH SYNOPSIS\n.ad l\n{}\n.ad b\n", words.join(" ")))
}

/// The option entries (`.TP` paragraphs) of the shown options of `man`'s command, without the
/// section heading, which the template writes.
fn option_entries(man: Man) -> Result<String, String> {
    let text = render(|w| man.render_options_section(w))?;
    match text.strip_prefix(".SH OPTIONS\n") {
        Some(entries) if !entries.contains(".SH ") => Ok(entries.to_string()),
        _ => Err(format!(
            "unexpected options section from clap_mangen: {text:?}"
        )),
    }
}

/// The section 7 page from its template.
fn overview_page(commands: &[Command], date: &str) -> Result<String, String> {
    let overview = ConnectionArgs::augment_args(
        Command::new(OVERVIEW_NAME)
            .about("connection options common to the AMQP tools")
            .disable_help_flag(true),
    );
    let man = Man::new(overview.clone())
        .section("7")
        .date(date)
        .source(SOURCE)
        .manual("Miscellaneous Information Manual");
    let mut tools = String::new();
    for command in commands {
        let about = command
            .get_about()
            .map(|a| a.to_string())
            .unwrap_or_default();
        writeln!(
            tools,
            ".TP\n.BR {} (1)\n{}",
            roff_escape(command.get_name()),
            roff_text_line(&about)
        )
        .map_err(|e| e.to_string())?;
    }
    let generated = vec![
        ("TH", render(|w| man.render_title(w))?),
        (
            "CONNECTION_OPTIONS",
            option_entries(Man::new(overview.clone()))?,
        ),
        ("TOOLS", tools),
    ];
    let page = expand(OVERVIEW_TEMPLATE, &generated)?;
    Ok(format!("{}{page}", header("man/amqp-tools.7.in")))
}

/// The section 7 page of the JSON lines format from its template.
fn json_page(date: &str) -> Result<String, String> {
    let man = Man::new(Command::new(JSON_NAME))
        .section("7")
        .date(date)
        .source(SOURCE)
        .manual("Miscellaneous Information Manual");
    let page = expand(JSON_TEMPLATE, &[("TH", render(|w| man.render_title(w))?)])?;
    Ok(format!(
        "{}{page}",
        header(&format!("man/{JSON_NAME}.7.in"))
    ))
}

/// The comment that opens every generated page.
fn header(template: &str) -> String {
    format!(
        ".\\\" Generated by amqp-tools-gen from {template} and the clap definitions of the\n\
         .\\\" options (src/cli/). Do not edit: change those instead.\n{APOSTROPHE_PREAMBLE}"
    )
}

/// Replaces each line `@KEY@` of `template` by the generated text for KEY.
///
/// Errors: a key of `generated` missing from the template or given twice; a `@KEY@` line for
/// which nothing was generated.
fn expand(template: &str, generated: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut used = BTreeSet::new();
    for (number, line) in template.lines().enumerate() {
        let Some(key) = line
            .strip_prefix('@')
            .and_then(|rest| rest.strip_suffix('@'))
        else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let Some((_, text)) = generated.iter().find(|(k, _)| *k == key) else {
            return Err(format!("line {}: unknown placeholder {line}", number + 1));
        };
        if !used.insert(key) {
            return Err(format!("line {}: {line} given twice", number + 1));
        }
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    let missing: Vec<String> = generated
        .iter()
        .filter(|(key, _)| !used.contains(key))
        .map(|(key, _)| format!("@{key}@"))
        .collect();
    if !missing.is_empty() {
        return Err(format!("placeholder missing: {}", missing.join(", ")));
    }
    Ok(out)
}

/// The definition of the `Aq` string (an apostrophe) that the roff crate puts before
/// everything it renders; a page carries it once, at the top.
const APOSTROPHE_PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// Quotes the short options that are not letters or digits (`-?`) in a fish completion:
/// clap_complete writes `complete ... -s ? ...`, and fish reads an unquoted `?` as a wildcard
/// ("No matches for wildcard '?'" each time the file is loaded).
fn quote_fish_short_options(command: &Command, text: &str) -> String {
    let mut text = text.to_string();
    for short in command.get_arguments().filter_map(|arg| arg.get_short()) {
        if !short.is_ascii_alphanumeric() {
            text = text.replace(&format!(" -s {short} "), &format!(" -s '{short}' "));
        }
    }
    text
}

/// Runs one of clap_mangen's renderers into a string, without the roff crate's preamble.
fn render(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Result<String, String> {
    let mut out = Vec::new();
    f(&mut out).map_err(|e| e.to_string())?;
    let text =
        String::from_utf8(out).map_err(|_| "clap_mangen wrote non-UTF-8 text".to_string())?;
    Ok(text
        .strip_prefix(APOSTROPHE_PREAMBLE)
        .map(str::to_string)
        .unwrap_or(text))
}

/// Escapes text for use inside a roff line: backslashes and minus signs.
fn roff_escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// `text` as one roff text line: escaped, and kept from being read as a request.
fn roff_text_line(text: &str) -> String {
    let escaped = roff_escape(text);
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// The page date, `YYYY-MM-DD`: from `SOURCE_DATE_EPOCH` when set, else today (UTC).
fn man_date() -> Result<String, String> {
    let time = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|seconds| UNIX_EPOCH.checked_add(Duration::from_secs(seconds)))
            .ok_or_else(|| format!("SOURCE_DATE_EPOCH is not a number of seconds: {value:?}"))?,
        Err(_) => SystemTime::now(),
    };
    date_of(time).ok_or_else(|| "the date is outside the years 1970 to 9999".to_string())
}

/// The UTC date of `time`, `YYYY-MM-DD` (humantime's RFC 3339 rendering, cut at the day);
/// `None` outside the years 1970 to 9999.
fn date_of(time: SystemTime) -> Option<String> {
    time.duration_since(UNIX_EPOCH).ok()?;
    let mut text = String::new();
    write!(text, "{}", humantime::format_rfc3339_seconds(time)).ok()?;
    text.truncate(10);
    Some(text)
}

/// Creates `dir` and its parents.
fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))
}

/// Writes `text` to `path`; returns the path.
fn write(path: &Path, text: &str) -> Result<PathBuf, String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_gregorian() {
        let day = |days: u64| date_of(UNIX_EPOCH + Duration::from_secs(days * 86_400));
        assert_eq!(day(0).as_deref(), Some("1970-01-01"));
        assert_eq!(day(19_782).as_deref(), Some("2024-02-29"));
        assert_eq!(date_of(UNIX_EPOCH - Duration::from_secs(1)), None);
    }

    #[test]
    fn placeholders_are_checked() {
        let generated = vec![("A", "x\n".to_string())];
        assert_eq!(expand("a\n@A@\nb\n", &generated).unwrap(), "a\nx\nb\n");
        assert!(expand("@A@\n@A@\n", &generated).is_err());
        assert!(expand("a\n", &generated).is_err());
        assert!(expand("@A@\n@B@\n", &generated).is_err());
    }

    #[test]
    fn completions_carry_the_value_hints_of_the_definitions() {
        for command in cli::commands() {
            let name = command.get_name().to_string();
            let mut text = Vec::new();
            clap_complete::generate(Shell::Zsh, &mut command.clone(), &name, &mut text);
            let text = String::from_utf8(text).unwrap();
            let line = |option: &str| {
                text.lines()
                    .find(|line| line.contains(&format!("'--{option}=")))
                    .unwrap_or_else(|| panic!("{name}: no --{option} in the zsh completion"))
                    .to_string()
            };
            for option in ["authfile", "cacert", "cert", "key"] {
                assert!(line(option).ends_with(":_files' \\"), "{}", line(option));
            }
            assert!(
                line("server").ends_with(":_hosts' \\"),
                "{}",
                line("server")
            );
            assert!(line("url").ends_with(":_urls' \\"), "{}", line("url"));
        }
    }

    #[test]
    fn every_option_is_in_exactly_one_group() {
        let connection = connection_ids();
        for command in cli::commands() {
            let shown = |group| {
                only(&command, group)
                    .get_arguments()
                    .filter(|arg| !arg.is_hide_set())
                    .count()
            };
            let total = command
                .get_arguments()
                .filter(|arg| !arg.is_hide_set())
                .count();
            assert_eq!(
                shown(Group::Tool) + shown(Group::Connection) + shown(Group::Help),
                total
            );
            assert_eq!(shown(Group::Connection), connection.len());
            assert_eq!(shown(Group::Help), HELP_IDS.len());
        }
    }
}
