//! Command-line parsing shared by the tools: the connection options every tool takes, and the
//! popt-compatible handling of help, usage and errors around clap.
//!
//! The originals parse with popt: `-?`/`--help` print help on stdout and exit 0, `--usage`
//! prints the usage on stdout and exits 0, and any error prints `OPTION: REASON` and the usage
//! on stderr and exits 1. [`parse`] gives clap the same outward behaviour.

mod connection;
mod numbers;
mod tool;
mod values;

pub mod consume;
pub mod declare_queue;
pub mod delete_queue;
pub mod doc;
pub mod get;
pub mod publish;
pub mod reconnect;

pub use connection::{ConnectionArgs, resolve};
pub use numbers::{parse_count, parse_int, parse_seconds};
pub use tool::ToolOptions;
pub use values::{short_string, short_string_bytes, short_strings};

use crate::error::Error;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::io::Write;

/// What a parsed command line asks for: run the tool, or a help/usage/version text was already
/// printed and the process should exit 0.
#[derive(Debug)]
pub enum Parsed<T> {
    /// Run the tool with these options.
    Run(T),
    /// Help, usage or version was printed on stdout; exit 0.
    Done,
}

/// The fully configured command line of every tool, in a fixed order, for generating man
/// pages and shell completions from the one definition the tools parse with.
pub fn commands() -> Vec<clap::Command> {
    vec![
        configure(publish::Options::command()),
        configure(consume::Options::command()),
        configure(get::Options::command()),
        configure(declare_queue::Options::command()),
        configure(delete_queue::Options::command()),
    ]
}

/// Options present on every tool besides the connection options: `--usage`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Display brief usage message
    #[arg(long, action = clap::ArgAction::SetTrue)]
    pub usage: bool,
}

/// Parses `args` (including the program name) into the tool's options `T`, popt-style.
///
/// `-?`/`--help` and `--version` print on stdout and give [`Parsed::Done`]; so does `--usage`
/// when `usage_requested` says it was given. Errors: [`Error::Usage`] with the original's
/// wording (`--foo: unknown option`, `--queue: missing argument`, `-c: invalid numeric value`);
/// the caller prints it with the usage line ([`usage_line`]).
pub fn parse<T, I>(args: I, usage_requested: impl Fn(&T) -> bool) -> Result<Parsed<T>, Error>
where
    T: CommandFactory + FromArgMatches,
    I: IntoIterator<Item = OsString>,
{
    let command = configure(T::command());
    let args: Vec<OsString> = args.into_iter().collect();
    let matches = match command.clone().try_get_matches_from(&args) {
        Ok(matches) => matches,
        Err(error) => return clap_outcome(error, &args, &command),
    };
    if let Ok(Some(mut operands)) = matches.try_get_many::<OsString>(OPERANDS)
        && let Some(first) = operands.next()
    {
        return Err(Error::Usage(format!(
            "unexpected operand: {}",
            first.to_string_lossy()
        )));
    }
    let parsed = T::from_arg_matches(&matches).map_err(|e| Error::Usage(e.to_string()))?;
    if usage_requested(&parsed) {
        print_stdout(&format!("{}\n", usage_line(&command)));
        return Ok(Parsed::Done);
    }
    Ok(Parsed::Run(parsed))
}

/// Hidden catch-all for the operands of tools that take none: popt reads every option first
/// and reports a stray operand only after that (`-q x extra -z` is `-z: unknown option`).
const OPERANDS: &str = "operands";

/// Applies the settings every tool shares: `-?`/`--help` as help, `--version`, no `-h`.
///
/// As popt, an option that takes a value takes the next word even when it starts with `-`
/// (`--port -5`, `-u -q`), a repeated option keeps its last value, and with `POSIXLY_CORRECT`
/// (or `POSIX_ME_HARDER`) set the first operand ends the options.
pub fn configure(command: clap::Command) -> clap::Command {
    let posix = std::env::var_os("POSIXLY_CORRECT").is_some()
        || std::env::var_os("POSIX_ME_HARDER").is_some();
    let has_operands = command.get_positionals().next().is_some();
    let command = if has_operands {
        command
    } else {
        command.arg(
            clap::Arg::new(OPERANDS)
                .num_args(0..)
                .value_parser(clap::value_parser!(OsString))
                .hide(true)
                .action(clap::ArgAction::Append),
        )
    };
    command
        .mut_args(move |arg| {
            if arg.is_positional() && posix {
                return arg.trailing_var_arg(true).allow_hyphen_values(true);
            }
            let optional_value = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
            if !arg.is_positional() && arg.get_action().takes_values() && !optional_value {
                arg.allow_hyphen_values(true)
            } else {
                arg
            }
        })
        .mut_args(|arg| {
            let optional_value = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
            if !arg.is_positional() && arg.get_action().takes_values() && !optional_value {
                arg.allow_hyphen_values(true)
            } else {
                arg
            }
        })
        .args_override_self(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .version(env!("CARGO_PKG_VERSION"))
        .arg(
            clap::Arg::new("help")
                .short('?')
                .long("help")
                .help("Show this help message")
                .action(clap::ArgAction::Help),
        )
        .arg(
            clap::Arg::new("version")
                .long("version")
                .help("Print the version and exit")
                .action(clap::ArgAction::Version),
        )
}

/// The one-line usage of a tool, `Usage: NAME [OPTIONS]...`, printed after usage errors and by
/// `--usage`.
pub fn usage_line(command: &clap::Command) -> String {
    let mut command = command.clone();
    let usage = command.render_usage().to_string();
    usage.trim_end().to_string()
}

/// Prints the usage line of the tool `T` on stderr, after a usage error.
pub fn print_usage_to_stderr<T: CommandFactory>() {
    let command = configure(T::command());
    let _ = writeln!(std::io::stderr(), "{}", usage_line(&command));
}

fn clap_outcome<T>(
    error: clap::Error,
    args: &[OsString],
    command: &clap::Command,
) -> Result<Parsed<T>, Error> {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            print_stdout(&error.render().to_string());
            Ok(Parsed::Done)
        }
        // A value refused for what AMQP can carry is not a misuse of the command line: one
        // line, without the usage.
        _ if refused_value(&error) || error.kind() == ErrorKind::InvalidUtf8 => {
            Err(Error::Message(popt_message(&error, args, command)))
        }
        _ => Err(Error::Usage(popt_message(&error, args, command))),
    }
}

/// True when clap's `error` is a value refused by [`short_string`] (too long, not UTF-8).
fn refused_value(error: &clap::Error) -> bool {
    error.kind() == ErrorKind::ValueValidation
        && error
            .source()
            .is_some_and(|s| s.is::<crate::short_string::Refused>())
}

fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Words a clap error as popt does: `WORD: REASON`, where WORD is the command-line word popt
/// would name (the option as typed, or for a bad number the word holding the value).
fn popt_message(error: &clap::Error, args: &[OsString], command: &clap::Command) -> String {
    let arg = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => Some(option_name(arg)),
        _ => None,
    };
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => Some(value.clone()),
        _ => None,
    };
    let typed = |name: &str| {
        typed_word(args, name, short_letter(command, name)).unwrap_or_else(|| name.to_string())
    };
    match (error.kind(), arg) {
        (ErrorKind::UnknownArgument, Some(arg)) if arg.starts_with('-') && arg != "-" => {
            format!("{}: unknown option", typed(&arg))
        }
        (ErrorKind::UnknownArgument, Some(arg)) => format!("unexpected operand: {arg}"),
        (ErrorKind::InvalidValue, Some(arg)) if value.as_deref() == Some("") => {
            format!("{}: missing argument", typed(&arg))
        }
        (ErrorKind::InvalidUtf8, _) => format!("{}: not valid UTF-8", non_utf8_option(args)),
        (ErrorKind::NoEquals, Some(arg)) => format!("{}: missing argument", typed(&arg)),
        (ErrorKind::TooManyValues, Some(arg)) => {
            format!("{}: option does not take an argument", typed(&arg))
        }
        (ErrorKind::ValueValidation, Some(arg)) => {
            let reason = error
                .source()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "invalid value".to_string());
            // An empty value has no word of its own, and a refused short string may be long
            // or not text: name the option as typed.
            let word = match value.as_deref() {
                None | Some("") => typed(&arg),
                Some(_) if refused_value(error) => {
                    let word = typed(&arg);
                    match short_letter(command, &arg) {
                        Some(letter) if !word.starts_with("--") => format!("-{letter}"),
                        _ => option_name(&word),
                    }
                }
                Some(v) => value_word(args, &arg, v).unwrap_or_else(|| v.to_string()),
            };
            format!("{word}: {reason}")
        }
        _ => first_line(&error.render().to_string()),
    }
}

/// The last argument word that gave option `name` (`--bogus=1` for `--bogus`), or its short
/// letter `short` (`-xAc` for `--count` with `c`), as popt names the word it stopped at.
fn typed_word(args: &[OsString], name: &str, short: Option<char>) -> Option<String> {
    let words = args.iter().skip(1).map(|a| a.to_string_lossy());
    let letter = short.or_else(|| {
        name.strip_prefix('-')
            .filter(|n| !n.starts_with('-'))
            .and_then(|n| n.chars().next())
    });
    let mut found = None;
    for word in words {
        if word == "--" {
            break;
        }
        let long =
            name.starts_with("--") && (word == name || word.starts_with(&format!("{name}=")));
        let clustered = letter.is_some_and(|l| {
            !word.starts_with("--") && word.starts_with('-') && word[1..].contains(l)
        });
        let hit = long || clustered;
        if hit {
            found = Some(word.into_owned());
        }
    }
    found
}

/// The word holding the value popt rejected: `--port=abc` when typed so, else the value itself.
fn value_word(args: &[OsString], name: &str, value: &str) -> Option<String> {
    args.iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .find(|word| {
            word == &format!("{name}={value}")
                || (word.len() > value.len()
                    && word.ends_with(value)
                    && word.starts_with('-')
                    && !word.starts_with("--"))
        })
        .or_else(|| Some(value.to_string()))
}

/// The option whose value is the first argument word that is not UTF-8 (clap names none):
/// `--name` of `--name=VALUE`, `-X` of `-XVALUE`, else the word before the value.
fn non_utf8_option(args: &[OsString]) -> String {
    use std::os::unix::ffi::OsStrExt;
    let words: Vec<&OsString> = args.iter().skip(1).collect();
    let Some(at) = words.iter().position(|w| w.to_str().is_none()) else {
        return "an argument".to_string();
    };
    let word = words[at].as_bytes();
    let lossy = words[at].to_string_lossy();
    if word.starts_with(b"--") {
        option_name(&lossy)
    } else if word.len() > 1 && word[0] == b'-' && word[1].is_ascii_alphanumeric() {
        format!("-{}", word[1] as char)
    } else if at > 0 {
        words[at - 1].to_string_lossy().into_owned()
    } else {
        lossy.into_owned()
    }
}

/// The short letter of the option whose long form is `name` (`--queue`), if it has one.
fn short_letter(command: &clap::Command, name: &str) -> Option<char> {
    command
        .get_arguments()
        .find(|a| a.get_long().is_some_and(|l| format!("--{l}") == name))
        .and_then(|a| a.get_short())
}

/// `--queue <queue>` -> `--queue`; `-q <queue>` -> `-q`.
fn option_name(arg: &str) -> String {
    arg.split([' ', '=']).next().unwrap_or(arg).to_string()
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

use std::error::Error as _;
