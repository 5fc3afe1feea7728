//! Command-line handling without a broker: help, usage, version, unknown options, missing and
//! invalid values, stray operands. Usage errors exit 1 with `OPTION: REASON` and the usage
//! line on stderr, as popt does in the originals.

mod common;

use common::*;

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

#[test]
fn unknown_long_option_is_a_usage_error() {
    for tool in TOOLS {
        let out = offline(tool, &["--bogus"]);
        assert_usage_error(tool, &out, "--bogus: unknown option");
    }
}

#[test]
fn unknown_option_with_a_value_is_a_usage_error() {
    let out = offline("amqp-get", &["--bogus=1", "-q", "x"]);
    assert_usage_error("amqp-get", &out, "--bogus=1: unknown option");
}

#[test]
fn unknown_short_option_is_a_usage_error() {
    for tool in TOOLS {
        let out = offline(tool, &["-Z"]);
        assert_usage_error(tool, &out, "-Z: unknown option");
    }
}

#[test]
fn stray_operand_is_a_usage_error() {
    let cases: [(&str, &[&str]); 4] = [
        ("amqp-publish", &["-r", "x", "stray"]),
        ("amqp-get", &["-q", "x", "stray"]),
        ("amqp-declare-queue", &["stray", "-q", "x"]),
        ("amqp-delete-queue", &["-q", "x", "stray"]),
    ];
    for (tool, args) in cases {
        let out = offline(tool, args);
        assert_usage_error(tool, &out, "unexpected operand: stray");
    }
}

#[test]
fn missing_value_of_a_short_option_names_it_as_given() {
    let out = offline("amqp-get", &["-q"]);
    assert_usage_error("amqp-get", &out, "-q: missing argument");
    let out = offline("amqp-publish", &["-r", "x", "-b"]);
    assert_usage_error("amqp-publish", &out, "-b: missing argument");
    let out = offline("amqp-declare-queue", &["-u"]);
    assert_usage_error("amqp-declare-queue", &out, "-u: missing argument");
}

#[test]
fn missing_value_of_a_long_option() {
    let out = offline("amqp-get", &["--queue"]);
    assert_usage_error("amqp-get", &out, "--queue: missing argument");
    let out = offline("amqp-delete-queue", &["--port"]);
    assert_usage_error("amqp-delete-queue", &out, "--port: missing argument");
    let out = offline("amqp-consume", &["-q", "x", "cat", "--count"]);
    assert_usage_error("amqp-consume", &out, "--count: missing argument");
}

#[test]
fn non_numeric_values_are_usage_errors() {
    let out = offline("amqp-consume", &["-c", "abc", "-q", "x", "cat"]);
    assert_usage_error("amqp-consume", &out, "abc: invalid numeric value");
    let out = offline("amqp-consume", &["--count=abc", "-q", "x", "cat"]);
    assert_usage_error("amqp-consume", &out, "--count=abc: invalid numeric value");
    let out = offline("amqp-consume", &["-p", "1.5", "-q", "x", "cat"]);
    assert_usage_error("amqp-consume", &out, "1.5: invalid numeric value");
    let out = offline("amqp-get", &["--port", "abc", "-q", "x"]);
    assert_usage_error("amqp-get", &out, "abc: invalid numeric value");
    let out = offline("amqp-get", &["--heartbeat", "x", "-q", "x"]);
    assert_usage_error("amqp-get", &out, "x: invalid numeric value");
}

#[test]
fn huge_numbers_are_usage_errors() {
    let out = offline(
        "amqp-consume",
        &["-c", "99999999999999999999", "-q", "x", "cat"],
    );
    assert_usage_error(
        "amqp-consume",
        &out,
        "99999999999999999999: number too large or too small",
    );
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
