//! Command-line handling without a broker: help, usage, version, unknown options, missing and
//! invalid values, stray operands. Usage errors exit 1 with `OPTION: REASON` and the usage
//! line on stderr, as popt does in the originals; no bad invocation panics or hangs
//! (RELIABILITY.md 10).

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Runs a tool with no broker in reach: AMQP_URL points at a closed port, so a tool that
/// tried to connect would fail with "opening socket to", never succeed by accident.
#[track_caller]
fn offline(tool: &str, args: &[&str]) -> Output {
    let url = format!("amqp://guest:guest@127.0.0.1:{}", closed_port());
    run(tool, args, b"", &[("AMQP_URL", &url)])
}

/// The options each tool must list in its help, besides the connection options.
fn own_options(tool: &str) -> &'static [&'static str] {
    match tool {
        "amqp-publish" => &[
            "--exchange",
            "--routing-key",
            "--persistent",
            "--content-type",
            "--content-encoding",
            "--reply-to",
            "--line-buffered",
            "--header",
            "--body",
        ],
        "amqp-consume" => &[
            "--queue",
            "--exchange",
            "--routing-key",
            "--declare",
            "--exclusive",
            "--no-ack",
            "--count",
            "--prefetch-count",
        ],
        "amqp-get" => &["--queue"],
        "amqp-declare-queue" => &["--queue", "--durable"],
        "amqp-delete-queue" => &["--queue", "--if-unused", "--if-empty"],
        other => panic!("unknown tool {other}"),
    }
}

const CONNECTION_OPTIONS: [&str; 12] = [
    "--url",
    "--server",
    "--port",
    "--vhost",
    "--username",
    "--password",
    "--heartbeat",
    "--authfile",
    "--ssl",
    "--cacert",
    "--key",
    "--cert",
];

#[track_caller]
fn assert_usage_error(tool: &str, out: &Output, message: &str) {
    out.assert_error(1, message).assert_no_stdout();
    let lines = out.stderr_lines();
    assert!(
        lines.len() >= 2 && lines[1].starts_with(&format!("Usage: {tool}")),
        "usage line expected after the message: {out:?}"
    );
}

#[test]
fn help_prints_every_option_on_stdout_and_exits_0() {
    for tool in TOOLS {
        for flag in ["--help", "-?"] {
            let out = offline(tool, &[flag]);
            out.assert_ok();
            assert_eq!(out.stderr, "", "{tool} {flag}: {out:?}");
            let text = out.stdout_text();
            assert!(
                text.contains(&format!("Usage: {tool}")),
                "{tool} {flag}: {text}"
            );
            for option in CONNECTION_OPTIONS.iter().chain(own_options(tool)) {
                assert!(
                    text.contains(option),
                    "{tool} {flag}: {option} missing from help:\n{text}"
                );
            }
            assert!(text.contains("--help"), "{tool} {flag}: {text}");
            assert!(text.contains("--usage"), "{tool} {flag}: {text}");
        }
    }
}

#[test]
fn help_wins_over_other_options_and_errors() {
    // popt acts on --help as it is parsed; nothing is connected to or published.
    let out = offline("amqp-publish", &["-r", "q", "-b", "x", "--help"]);
    out.assert_ok();
    assert!(out.stdout_text().contains("Usage: amqp-publish"));
    assert_eq!(out.stderr, "", "{out:?}");
}

#[test]
fn usage_prints_the_usage_on_stdout_and_exits_0() {
    for tool in TOOLS {
        let out = offline(tool, &["--usage"]);
        out.assert_ok();
        assert_eq!(out.stderr, "", "{tool}: {out:?}");
        assert!(
            out.stdout_text().starts_with(&format!("Usage: {tool}")),
            "{tool}: {out:?}"
        );
    }
}

#[test]
fn version_prints_the_version() {
    for tool in TOOLS {
        let out = offline(tool, &["--version"]);
        out.assert_ok();
        assert_eq!(
            out.stdout_text(),
            format!("{tool} {}\n", env!("CARGO_PKG_VERSION")),
            "{tool}: {out:?}"
        );
        assert_eq!(out.stderr, "", "{tool}: {out:?}");
    }
}

/// Runs each `(tool, args, message)` offline and asserts a usage error with that message.
#[track_caller]
fn assert_usage_errors(cases: &[(&str, &[&str], &str)]) {
    for (tool, args, message) in cases {
        assert_usage_error(tool, &offline(tool, args), message);
    }
}

#[test]
fn unknown_options_are_usage_errors() {
    for tool in TOOLS {
        assert_usage_errors(&[
            (tool, &["--bogus"], "--bogus: unknown option"),
            (tool, &["-Z"], "-Z: unknown option"),
        ]);
    }
    assert_usage_errors(&[(GET, &["--bogus=1", "-q", "x"], "--bogus=1: unknown option")]);
}

#[test]
fn stray_operand_is_a_usage_error() {
    let stray = "unexpected operand: stray";
    assert_usage_errors(&[
        (PUBLISH, &["-r", "x", "stray"], stray),
        (GET, &["-q", "x", "stray"], stray),
        (DECLARE, &["stray", "-q", "x"], stray),
        (DELETE, &["-q", "x", "stray"], stray),
    ]);
}

#[test]
fn missing_and_non_numeric_values_are_usage_errors_naming_the_option_as_given() {
    #[rustfmt::skip]
    let cases: [(&str, &[&str], &str); 12] = [
        (GET, &["-q"], "-q: missing argument"),
        (PUBLISH, &["-r", "x", "-b"], "-b: missing argument"),
        (DECLARE, &["-u"], "-u: missing argument"),
        (GET, &["--queue"], "--queue: missing argument"),
        (DELETE, &["--port"], "--port: missing argument"),
        (CONSUME, &["-q", "x", "cat", "--count"], "--count: missing argument"),
        (CONSUME, &["-c", "abc", "-q", "x", "cat"], "abc: invalid numeric value"),
        (CONSUME, &["--count=abc", "-q", "x", "cat"], "--count=abc: invalid numeric value"),
        (CONSUME, &["-p", "1.5", "-q", "x", "cat"], "1.5: invalid numeric value"),
        (GET, &["--port", "abc", "-q", "x"], "abc: invalid numeric value"),
        (GET, &["--heartbeat", "x", "-q", "x"], "x: invalid numeric value"),
        (CONSUME, &["-c", "99999999999999999999", "-q", "x", "cat"], "99999999999999999999: number too large or too small"),
    ];
    assert_usage_errors(&cases);
}

#[test]
fn tool_errors_come_before_connecting() {
    // Each of these is detected before any connection attempt (the broker is unreachable).
    let cases: [(&str, &[&str], &str); 5] = [
        (
            "amqp-publish",
            &["-b", "x"],
            "neither exchange nor routing key specified",
        ),
        ("amqp-get", &[], "queue not specified"),
        ("amqp-declare-queue", &[], "queue name not specified"),
        ("amqp-delete-queue", &[], "queue name not specified"),
        (
            "amqp-consume",
            &["-q", "x"],
            "consuming command not specified",
        ),
    ];
    for (tool, args, message) in cases {
        let out = offline(tool, args);
        out.assert_error(1, message).assert_no_stdout();
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input (RELIABILITY.md, 10)

#[test]
fn bad_invocations_fail_with_one_line_never_a_panic_or_a_hang() {
    let url = format!("amqp://guest:guest@127.0.0.1:{}", closed_port());
    let missing = std::env::temp_dir().join(unique_name("no-authfile"));
    let missing = missing.to_str().expect("path").to_string();
    let directory = std::env::temp_dir().to_str().expect("path").to_string();
    let empty = TempFile::new(b"");
    let user_only = TempFile::new(b"username:guest\n");
    let password_only = TempFile::new(b"password:guest\n");
    let trailing = TempFile::new(b"username:guest\npassword:guest\nmore\n");
    let not_utf8 = TempFile::new(b"username:\xff\xfe\npassword:guest\n");
    let good = TempFile::new(b"username:guest\npassword:guest\n");
    let u = url.as_str();
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        // Unknown options, missing values, stray operands.
        (PUBLISH, vec!["--bogus", "-r", "q", "-b", "x"], "--bogus: unknown option"),
        (PUBLISH, vec!["-Z", "-r", "q"], "-Z: unknown option"),
        (PUBLISH, vec!["-r"], "-r: missing argument"),
        (PUBLISH, vec!["-b", "x", "--routing-key"], "--routing-key: missing argument"),
        (PUBLISH, vec!["-r", "q", "-b", "x", "extra"], "unexpected operand: extra"),
        (PUBLISH, vec!["-b", "x"], "neither exchange nor routing key specified"),
        (PUBLISH, vec!["-r", "q", "-H"], "-H: missing argument"),
        (PUBLISH, vec!["-r", "q", "--no-confirm=yes"], "--no-confirm"),
        (CONSUME, vec!["--bogus=1", "-q", "q", "cat"], "--bogus"),
        (CONSUME, vec!["-q", "q"], "consuming command not specified"),
        (CONSUME, vec!["-q"], "-q: missing argument"),
        (CONSUME, vec!["-r", "key", "-q", "q", "cat"], "--routing-key option requires an exchange"),
        (GET, vec![], "queue not specified"),
        (GET, vec!["-q", "q", "extra"], "unexpected operand: extra"),
        (GET, vec!["-q", "q", "-z"], "-z: unknown option"),
        (DECLARE, vec![], "queue name not specified"),
        (DECLARE, vec!["-q", "q", "stray"], "unexpected operand: stray"),
        (DECLARE, vec!["-q", "q", "--durable=1"], "--durable"),
        (DELETE, vec![], "queue name not specified"),
        (DELETE, vec!["-q", "q", "--if-empty=x"], "--if-empty"),
        (DELETE, vec!["-q", "q", "-z"], "-z: unknown option"),
        // Bad numbers.
        (PUBLISH, vec!["--port", "70000", "-r", "q", "-b", "x"], "--port: 70000 is not a valid port number"),
        (PUBLISH, vec!["--port", "0", "-r", "q", "-b", "x"], "--port: 0 is not a valid port number"),
        (GET, vec!["--port", "-5", "-q", "q"], "--port: -5 is not a valid port number"),
        (GET, vec!["--port", "abc", "-q", "q"], "abc: invalid numeric value"),
        (GET, vec!["--port", "99999999999", "-q", "q"], "99999999999: number too large or too small"),
        (GET, vec!["--heartbeat", "-1", "-q", "q"], "--heartbeat must be a positive value"),
        (GET, vec!["--heartbeat", "70000", "-q", "q"], "--heartbeat: 70000 is too large"),
        (GET, vec!["--heartbeat", "abc", "-q", "q"], "abc: invalid numeric value"),
        (GET, vec!["--connect-timeout", "0", "-q", "q"], "--connect-timeout: 0 is not a positive number"),
        (GET, vec!["--connect-timeout", "-3", "-q", "q"], "--connect-timeout"),
        (GET, vec!["--connect-timeout", "soon", "-q", "q"], "soon: invalid numeric value"),
        (CONSUME, vec!["-c", "abc", "-q", "q", "cat"], "abc: invalid numeric value"),
        (CONSUME, vec!["-c", "1e3", "-q", "q", "cat"], "1e3: invalid numeric value"),
        (CONSUME, vec!["-p", "99999999999", "-q", "q", "cat"], "99999999999: number too large or too small"),
        (CONSUME, vec!["-p", "0x", "-q", "q", "cat"], "0x: invalid numeric value"),
        (PUBLISH, vec!["-r", "q", "--priority", "256", "-b", "x"], "256"),
        (PUBLISH, vec!["-r", "q", "--priority", "-1", "-b", "x"], "-1"),
        (PUBLISH, vec!["-r", "q", "--priority", "high", "-b", "x"], "high"),
        (PUBLISH, vec!["-r", "q", "--expiration", "soon", "-b", "x"], "soon"),
        (PUBLISH, vec!["-r", "q", "--expiration", "-1", "-b", "x"], "-1"),
        (PUBLISH, vec!["-r", "q", "--timestamp", "yesterday", "-b", "x"], "--timestamp: 'yesterday' is not a number of seconds"),
        (PUBLISH, vec!["-r", "q", "--timestamp=-5", "-b", "x"], "--timestamp"),
        // Bad values of the extensions.
        (PUBLISH, vec!["-r", "q", "--typed-header", "novalue", "-b", "x"], "--typed-header: "),
        (PUBLISH, vec!["-r", "q", "--typed-header", "=1", "-b", "x"], "--typed-header: "),
        (DECLARE, vec!["-q", "q", "--arg", "novalue"], "--arg"),
        (DECLARE, vec!["-q", "q", "--arg", "=5"], "--arg"),
        (CONSUME, vec!["--on-failure", "maybe", "-q", "q", "cat"], "maybe"),
        (CONSUME, vec!["--stream-offset", "yesterday", "-q", "q", "cat"], "'yesterday' is not a stream offset"),
        (CONSUME, vec!["--stream-offset", "-5", "-q", "q", "cat"], "'-5' is not a stream offset"),
        // An empty value is named by its own option, never by a neighbouring one.
        (CONSUME, vec!["--stream-offset", "", "-q", "q", "cat"], "^--stream-offset"),
        (PUBLISH, vec!["-r", "q", "--priority", "", "-b", "x"], "^--priority"),
        (PUBLISH, vec!["--expiration", "", "-b", "x", "-r", "q"], "^--expiration"),
        (CONSUME, vec!["--on-failure", "", "-q", "q", "cat"], "^--on-failure"),
        (CONSUME, vec!["--stream-offset", "10x", "-q", "q", "cat"], "'10x' is not a stream offset"),
        // Bad URLs and conflicts.
        (GET, vec!["--url", "http://u:p@h/", "-q", "q"], "Parsing URL 'http://u:****@h/': could not parse AMQP URL"),
        (GET, vec!["--url", "amqp://h/a/b", "-q", "q"], "Parsing URL 'amqp://h/a/b'"),
        (GET, vec!["--url", "amqp://h:", "-q", "q"], "Parsing URL 'amqp://h:'"),
        (GET, vec!["--url", "amqp://gu%zzest@h", "-q", "q"], "Parsing URL"),
        (GET, vec!["--url", "amqp://h:99999", "-q", "q"], "Parsing URL"),
        (GET, vec!["--url", "", "-q", "q"], "Parsing URL '': could not parse AMQP URL"),
        (PUBLISH, vec!["--url", u, "-s", "h", "-r", "q"], "--server and --url options cannot be used at the same time"),
        (CONSUME, vec!["--url", u, "--vhost", "v", "-q", "q", "cat"], "--vhost and --url options cannot be used at the same time"),
        (GET, vec!["--url", u, "--password", "p", "-q", "q"], "--password and --url options cannot be used at the same time"),
        (DECLARE, vec!["--url", u, "--username", "u", "-q", "q"], "--username and --url options cannot be used at the same time"),
        (DELETE, vec!["--url", u, "--port", "1", "-q", "q"], "--port and --url options cannot be used at the same time"),
        (GET, vec!["--ssl", "--url", u, "-q", "q"], "the --ssl option specifies an SSL connection but the --url option does not"),
        // Bad authfiles.
        (GET, vec!["--authfile", &missing, "-q", "q"], "Could not read auth data file"),
        (GET, vec!["--authfile", &directory, "-q", "q"], "Could not read auth data file"),
        (GET, vec!["--authfile", empty.path_str(), "-q", "q"], "Malformed auth file (missing username)"),
        (GET, vec!["--authfile", user_only.path_str(), "-q", "q"], "Malformed auth file (missing password)"),
        (GET, vec!["--authfile", password_only.path_str(), "-q", "q"], "Malformed auth file (missing username)"),
        (GET, vec!["--authfile", trailing.path_str(), "-q", "q"], "Malformed auth file (trailing data)"),
        (GET, vec!["--authfile", not_utf8.path_str(), "-q", "q"], "Malformed auth file (not UTF-8)"),
        (GET, vec!["--authfile", good.path_str(), "--username", "u", "-q", "q"], "--username and --authfile options cannot be used at the same time"),
        (GET, vec!["--authfile", good.path_str(), "--url", u, "-q", "q"], "--authfile and --url options cannot be used at the same time"),
        (GET, vec!["--authfile"], "--authfile: missing argument"),
    ];
    assert!(cases.len() >= 50);
    let mut problems = Vec::new();
    for (tool, args, expected) in &cases {
        let started = Instant::now();
        let out = run(tool, args, b"", &[]);
        let took = started.elapsed();
        let before_usage: Vec<&str> = out
            .stderr_lines()
            .into_iter()
            .take_while(|l| !l.starts_with("Usage:"))
            .collect();
        let fine = out.code == 1
            && before_usage.len() == 1
            && match expected.strip_prefix('^') {
                Some(prefix) => before_usage[0].starts_with(prefix),
                None => before_usage[0].contains(expected),
            }
            && !out.stderr.contains("panicked")
            && !out.stderr.contains("RUST_BACKTRACE")
            && took < Duration::from_secs(5);
        if !fine {
            problems.push(format!("{tool} {args:?} (took {took:?}): {out:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} bad invocations misbehaved:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n\n")
    );
}
