//! Differential suite: every case runs the same invocation with the original C tool
//! (/usr/bin/amqp-X, rabbitmq-c 0.11 as shipped by Debian 12) and with ours, each from the same
//! freshly prepared broker state, and compares the exit code, stdout (byte for byte), stderr
//! (whole, first line, or leading context) and the broker state afterwards (queues, flags,
//! every message with its properties and headers in wire order).
//!
//! Cases where ours deliberately differs are marked `differs(WHY, ...)`: they assert that the
//! C tool still behaves as recorded and that ours behaves as intended. WHY is `CASE | detail`,
//! CASE being the exact text of the case cell of a row of COMPATIBILITY.md's first table
//! (`tests/docs_agree.rs` checks that every such row exists).
//!
//! Needs the private broker (`AMQP_TEST_URL`, `AMQP_TEST_PORT`, `AMQP_TEST_CTL`) and the
//! original tools in /usr/bin; fails (never skips) without them.

mod common;

use common::compat::amqp::Properties;
use common::compat::{Aspect, Case, ErrMode, Live, Observe, block_cmd, case, longstr};
use common::{CONSUME, DECLARE, DELETE, GET, PUBLISH};

/// One `#[test]` per case, named after it: `name: TOOL => |c| c.args(...)...;`
macro_rules! cases {
    ($( $name:ident : $tool:expr => $build:expr ; )*) => {
        $(
            #[test]
            fn $name() {
                let build: fn(Case) -> Case = $build;
                build(case(stringify!($name), $tool)).run();
            }
        )*
    };
}

use Aspect::{Exit, State, Stdout};

fn props_all() -> Properties {
    Properties {
        content_type: Some(b"text/plain".to_vec()),
        content_encoding: Some(b"gzip".to_vec()),
        headers: Some(vec![
            (b"a".to_vec(), longstr("1")),
            (b"b".to_vec(), longstr("two")),
        ]),
        delivery_mode: Some(2),
        reply_to: Some(b"replies".to_vec()),
        ..Properties::default()
    }
}

// =============================================================================================
// Help and usage: exit code and stream only.

cases! {
    publish_help: PUBLISH => |c| c.args(["--help"]).help();
    publish_help_question: PUBLISH => |c| c.args(["-?"]).help();
    publish_usage: PUBLISH => |c| c.args(["--usage"]).help();
    consume_help: CONSUME => |c| c.args(["--help"]).help();
    consume_usage: CONSUME => |c| c.args(["--usage"]).help();
    consume_help_after_command: CONSUME => |c| c.args(["cat", "-?"]).help();
    get_help: GET => |c| c.args(["--help"]).help();
    get_help_question: GET => |c| c.args(["-?"]).help();
    get_usage: GET => |c| c.args(["--usage"]).help();
    declare_help: DECLARE => |c| c.args(["--help"]).help();
    declare_usage: DECLARE => |c| c.args(["--usage"]).help();
    delete_help: DELETE => |c| c.args(["--help"]).help();
    delete_usage: DELETE => |c| c.args(["--usage"]).help();
    delete_help_question: DELETE => |c| c.args(["-?"]).help();
    // popt acts on --help when it reaches it: later errors are never seen...
    get_help_then_bad_option: GET => |c| c.args(["--help", "--bogus"]).help();
    // ...but an earlier error wins.
    get_bad_option_then_help: GET => |c| c.args(["--bogus", "--help"]);
}

// =============================================================================================
// Command-line errors (first line exact; both print their usage after it).

cases! {
    publish_unknown_long_with_value: PUBLISH => |c| c.args(["--bogus=1", "-r", "x"]);
    get_unknown_short: GET => |c| c.args(["-z", "-q", "x"]);
    get_dash_h_is_unknown: GET => |c| c.args(["-h"]);
    consume_unknown_in_bundle: CONSUME => |c| c.args(["-Az", "cat"]);
    consume_unknown_after_command: CONSUME => |c| c.args(["-q", "x", "cat", "--bogus"]);
    declare_no_abbreviations: DECLARE => |c| c.args(["--que=x"]);
    get_missing_value_short: GET => |c| c.args(["-q"]);
    publish_missing_value_long: PUBLISH => |c| c.args(["-r", "x", "--exchange"]);
    consume_missing_value_in_bundle: CONSUME => |c| c.args(["-xAc"]);
    publish_flag_given_a_value: PUBLISH => |c| c.args(["--persistent=1", "-r", "x"]);
    consume_count_not_numeric: CONSUME => |c| c.args(["-c", "abc", "cat"]);
    consume_count_eq_not_numeric: CONSUME => |c| c.args(["--count=abc", "cat"]);
    consume_count_attached_not_numeric: CONSUME => |c| c.args(["-cabc", "cat"]);
    consume_count_trailing_junk: CONSUME => |c| c.args(["-c", "5x", "cat"]);
    consume_count_too_large: CONSUME => |c| c.args(["-c", "99999999999", "cat"]);
    consume_prefetch_not_numeric: CONSUME => |c| c.args(["--prefetch-count", "1.5", "cat"]);
    get_stray_operand: GET => |c| c.conn().args(["-q", "{Q}", "extra"]);
    get_lone_dash_is_operand: GET => |c| c.args(["-q", "x", "-"]);
    publish_stray_operand: PUBLISH => |c| c.args(["-r", "x", "-b", "y", "extra", "more"]);
    // Options and operands interleave: the unknown option after the operand is found first.
    get_permuted_unknown_option: GET => |c| c.args(["-q", "x", "extra", "-z"]);
    // POSIXLY_CORRECT stops option parsing at the first operand.
    get_posixly_correct_operand: GET => |c| c.env("POSIXLY_CORRECT", "1").args(["-q", "x", "extra", "-z"]);
    consume_no_command: CONSUME => |c| c.conn().args(["-q", "{Q}"]);
    consume_only_double_dash: CONSUME => |c| c.conn().args(["-q", "{Q}", "--"]);
    // Without `--` the command's own options are taken by amqp-consume.
    consume_command_options_eaten: CONSUME => |c| c.conn().args(["-q", "{Q}", "sh", "-c", "cat"]);
    get_no_queue: GET => |c| c.conn();
    declare_no_queue: DECLARE => |c| c.conn();
    delete_no_queue: DELETE => |c| c.conn();
    delete_empty_queue_name: DELETE => |c| c.conn().args(["-q", ""]);
    publish_no_exchange_no_key: PUBLISH => |c| c.conn().args(["-b", "x"]);
    // amqp-delete-queue: -u is --url (the connection table is searched first).
    delete_dash_u_is_url: DELETE => |c| c.args(["-q", "x", "-u"]);
}

cases! {
    publish_version: PUBLISH => |c| c.args(["--version"]).differs(
        "`--version` | ours has --version (C: unknown option)",
        &[],
        |r| { r.code(1)?; r.stderr_line(0, "--version: unknown option") },
        |r| { r.code(0)?; r.stderr_is("")?; if r.stdout.is_empty() { Err("no version printed".into()) } else { Ok(()) } },
    );
}

// =============================================================================================
// Connection options.

cases! {
    conflict_server_url: GET => |c| c.url().args(["-s", "127.0.0.1", "-q", "x"]);
    conflict_port_url: GET => |c| c.url().args(["--port", "{PORT}", "-q", "x"]);
    conflict_username_url: GET => |c| c.url().args(["--username", "guest", "-q", "x"]);
    conflict_password_url: GET => |c| c.url().args(["--password", "guest", "-q", "x"]);
    conflict_authfile_url: GET => |c| c.url().file("af", "username:guest\npassword:guest\n").args(["--authfile", "{DIR}/af", "-q", "x"]);
    conflict_vhost_url: GET => |c| c.url().args(["--vhost", "/", "-q", "x"]);
    conflict_empty_vhost_url: GET => |c| c.url().args(["--vhost", "", "-q", "x"]);
    conflict_username_authfile: GET => |c| c.conn().file("af", "username:guest\npassword:guest\n").args(["--username", "guest", "--authfile", "{DIR}/af", "-q", "x"]);
    conflict_password_authfile: GET => |c| c.conn().file("af", "username:guest\npassword:guest\n").args(["--password", "guest", "--authfile", "{DIR}/af", "-q", "x"]);
    // The first conflict in the original's order is reported.
    conflict_order_port_first: GET => |c| c.url().args(["--vhost", "v", "--password", "p", "--username", "u", "--port", "1", "-q", "x"]);
    conflict_bad_url_first: GET => |c| c.args(["-u", "bogus", "-s", "h:1", "-q", "x"]);
    conflict_url_and_server_with_port: GET => |c| c.url().args(["-s", "h:1", "-q", "x"]);
    conflict_server_port_both: GET => |c| c.args(["-s", "127.0.0.1:{PORT}", "--port", "{PORT}", "-q", "x"]);
    server_with_port_deprecated: GET => |c| c.queue("{Q}").msg("{Q}", "hi").args(["-s", "127.0.0.1:{PORT}", "-q", "{Q}"]);
    server_bad_port: GET => |c| c.args(["-s", "127.0.0.1:abc", "-q", "x"]);
    server_port_out_of_range: GET => |c| c.args(["-s", "127.0.0.1:70000", "-q", "x"]);
    heartbeat_negative: GET => |c| c.conn().args(["--heartbeat", "-1", "-q", "x"]);
    heartbeat_ok: GET => |c| c.conn().queue("{Q}").msg("{Q}", "hb").args(["--heartbeat", "5", "-q", "{Q}"]);
    heartbeat_eq_zero: GET => |c| c.conn().queue("{Q}").msg("{Q}", "hb").args(["--heartbeat=0", "-q", "{Q}"]);
    heartbeat_not_numeric: GET => |c| c.conn().args(["--heartbeat=x", "-q", "x"]);
    port_not_numeric: GET => |c| c.args(["--port", "abc", "-q", "x"]);
    port_eq_not_numeric: GET => |c| c.args(["--port=abc", "-q", "x"]);
    port_hex: GET => |c| c.queue("{Q}").msg("{Q}", "hex").args(["-s", "127.0.0.1", "-q", "{Q}", "--port"]).args([format!("{:#x}", port())]);
    login_refused: GET => |c| c.conn().args(["--username", "guest", "--password", "wrong", "-q", "x"]);
    login_unknown_user: PUBLISH => |c| c.conn().args(["--username", "nobody-{ID}", "-r", "x", "-b", "y"]);
    vhost_missing: GET => |c| c.conn().args(["--vhost", "nov-{ID}", "-q", "x"]);
    vhost_default_explicit: GET => |c| c.conn().queue("{Q}").msg("{Q}", "v").args(["--vhost", "/", "-q", "{Q}"]);
    username_password_explicit: GET => |c| c.conn().queue("{Q}").msg("{Q}", "u").args(["--username=guest", "--password=guest", "-q", "{Q}"]);
}

fn port() -> u16 {
    common::broker_port()
}

cases! {
    connection_refused_server: GET => |c| c.args(["--server", "127.0.0.1", "--port", "1", "-q", "x"]).differs(
        "connection failure | ours appends the cause to `opening socket to HOST:PORT`",
        &[Exit, Stdout],
        |r| { r.code(1)?; r.stderr_is("opening socket to 127.0.0.1:1\n") },
        |r| { r.code(1)?; r.stderr_line_starts(0, "opening socket to 127.0.0.1:1: ") },
    );
    connection_refused_url: PUBLISH => |c| c.args(["-u", "amqp://127.0.0.1:1", "-r", "x", "-b", "y"]).differs(
        "connection failure | ours appends the cause to `opening socket to HOST:PORT`",
        &[Exit, Stdout],
        |r| { r.code(1)?; r.stderr_is("opening socket to 127.0.0.1:1\n") },
        |r| { r.code(1)?; r.stderr_line_starts(0, "opening socket to 127.0.0.1:1: ") },
    );
    port_negative: GET => |c| c.args(["-s", "127.0.0.1", "--port", "-5", "-q", "x"]).differs(
        "`--port -5` | C ignores a negative --port (uses 5672); ours refuses it",
        &[Exit, Stdout],
        |r| { r.code(1)?; r.stderr_is("opening socket to 127.0.0.1:5672\n") },
        |r| { r.code(1)?; r.stderr_is("--port: -5 is not a valid port number (1 to 65535)\n") },
    );
    port_too_large: GET => |c| c.args(["-s", "127.0.0.1", "--port", "70000", "-q", "x"]).differs(
        "`--port 70000` | C tries to connect to port 70000; ours refuses it before connecting",
        &[Exit, Stdout],
        |r| { r.code(1)?; r.stderr_is("opening socket to 127.0.0.1:70000\n") },
        |r| { r.code(1)?; r.stderr_is("--port: 70000 is not a valid port number (1 to 65535)\n") },
    );
    port_zero: GET => |c| c.args(["-s", "127.0.0.1", "--port", "0", "-q", "x"]).differs(
        "`--port 70000` | C tries to connect to port 0; ours refuses it before connecting",
        &[Exit, Stdout],
        |r| { r.code(1)?; r.stderr_is("opening socket to 127.0.0.1:0\n") },
        |r| { r.code(1)?; r.stderr_is("--port: 0 is not a valid port number (1 to 65535)\n") },
    );
    heartbeat_too_large: GET => |c| c.conn().args(["--heartbeat", "70000", "-q", "x"]).differs(
        "`--heartbeat 70000` | C fails the login with a library error; ours refuses the value before connecting",
        &[Exit, Stdout],
        |r| { r.code(1)?; r.stderr_is("logging in to AMQP server: invalid parameter\n") },
        |r| { r.code(1)?; r.stderr_is("--heartbeat: 70000 is too large (at most 65535 seconds)\n") },
    );
    ssl_with_server: GET => |c| c.args(["--ssl", "-s", "127.0.0.1", "--port", "{PORT}", "-q", "x"]).differs(
        "`--ssl` with `--server` | C 0.11 refuses --ssl with --server; ours connects with TLS (here to a plain port: fails)",
        &[Exit, Stdout],
        |r| { r.code(1)?; r.stderr_is("the --ssl option specifies an SSL connection but the --url option does not\n") },
        |r| { r.code(1)?; r.stderr_lacks("--url option does not") },
    );
    ssl_with_plain_url: GET => |c| c.queue("{Q}").msg("{Q}", "s").args(["--ssl", "-u", "{URL}", "-q", "{Q}"]).differs(
        "`--ssl` with an `amqp://` URL | C silently ignores --ssl with an amqp:// URL; ours refuses the combination",
        &[],
        |r| { r.code(0)?; r.stdout_is("s")?; r.count("{Q}", 0) },
        |r| { r.code(1)?; r.stderr_is("the --ssl option specifies an SSL connection but the --url option does not\n")?; r.count("{Q}", 1) },
    );
    server_ipv6_with_port: GET => |c| c.args(["-s", "[::1]:{PORT}", "-q", "x"]).differs(
        "`-s '[::1]'`, `-s '[::1]:5672'`, `-s ::1` | C cannot take an IPv6 address in --server; ours connects (the broker listens on 127.0.0.1 only, so: refused)",
        &[Exit, Stdout],
        |r| r.stderr_is("Specifying the port number with --server is deprecated\nbad server port number in '[::1]:{PORT}'\n"),
        |r| { r.stderr_line(0, "Specifying the port number with --server is deprecated")?; r.stderr_line_starts(1, "opening socket to ") },
    );
}

// =============================================================================================
// AMQP_URL (ignored by the C tools).

cases! {
    amqp_url_alone: GET => |c| c.env("AMQP_URL", "{URL}").queue("{Q}").msg("{Q}", "env").args(["-q", "{Q}"]).differs(
        "`AMQP_URL` | C ignores AMQP_URL; ours uses it when no connection option is given",
        &[],
        |r| { r.code(1)?; r.stderr_is("opening socket to localhost:5672\n")?; r.count("{Q}", 1) },
        |r| { r.code(0)?; r.stdout_is("env")?; r.stderr_is("")?; r.count("{Q}", 0) },
    );
    amqp_url_with_heartbeat: GET => |c| c.env("AMQP_URL", "{URL}").queue("{Q}").msg("{Q}", "env").args(["--heartbeat", "0", "-q", "{Q}"]).differs(
        "`AMQP_URL` | C ignores AMQP_URL; ours uses it when no connection option is given (--heartbeat is not one)",
        &[],
        |r| { r.code(1)?; r.stderr_is("opening socket to localhost:5672\n")?; r.count("{Q}", 1) },
        |r| { r.code(0)?; r.stdout_is("env")?; r.count("{Q}", 0) },
    );
    // Any connection option disables AMQP_URL (here pointing at a dead port).
    amqp_url_overridden_by_server: GET => |c| c.env("AMQP_URL", "amqp://127.0.0.1:1").conn().queue("{Q}").msg("{Q}", "env").args(["-q", "{Q}"]);
    amqp_url_overridden_by_url: GET => |c| c.env("AMQP_URL", "amqp://127.0.0.1:1").url().queue("{Q}").msg("{Q}", "env").args(["-q", "{Q}"]);
    // --authfile counts as a connection option for ours: both go to localhost:5672.
    amqp_url_with_authfile: GET => |c| c.env("AMQP_URL", "amqp://127.0.0.1:1").file("af", "username:guest\npassword:guest\n")
        .args(["--authfile", "{DIR}/af", "-q", "x"]).stderr(ErrMode::FirstLineContext);
}

// =============================================================================================
// --authfile

const AUTH: &str = "username:guest\npassword:guest\n";

cases! {
    authfile_good: GET => |c| c.conn().file("af", AUTH).queue("{Q}").msg("{Q}", "auth").args(["--authfile", "{DIR}/af", "-q", "{Q}"]);
    authfile_eq_good: PUBLISH => |c| c.conn().file("af", AUTH).queue("{Q}").args(["--authfile={DIR}/af", "-r", "{Q}", "-b", "auth"]);
    authfile_missing: GET => |c| c.conn().args(["--authfile", "{DIR}/nope", "-q", "x"]).differs(
        "`--authfile` unreadable | ours appends the cause to `Could not read auth data file PATH`",
        &[Exit, Stdout],
        |r| r.stderr_is("Could not read auth data file {DIR}/nope\n"),
        |r| r.stderr_is("Could not read auth data file {DIR}/nope: no such file or directory\n"),
    );
    authfile_malformed_user_line: GET => |c| c.conn().file("af", "user:guest\npassword:guest\n").args(["--authfile", "{DIR}/af", "-q", "x"]);
    authfile_wrong_case: GET => |c| c.conn().file("af", "Username:guest\npassword:guest\n").args(["--authfile", "{DIR}/af", "-q", "x"]);
    authfile_password_first: GET => |c| c.conn().file("af", "password:guest\nusername:guest\n").args(["--authfile", "{DIR}/af", "-q", "x"]);
    authfile_missing_password: GET => |c| c.conn().file("af", "username:guest\n").args(["--authfile", "{DIR}/af", "-q", "x"]);
    authfile_empty: GET => |c| c.conn().file("af", "").args(["--authfile", "{DIR}/af", "-q", "x"]);
    authfile_directory: GET => |c| c.conn().args(["--authfile", "{DIR}", "-q", "x"]).differs(
        "`--authfile DIR` (a directory) | C reads a directory as an empty file (`Malformed auth file (missing username)`); ours says it cannot read it",
        &[Exit, Stdout],
        |r| r.stderr_is("Malformed auth file (missing username)\n"),
        |r| r.stderr_is("Could not read auth data file {DIR}: is a directory\n"),
    );
    authfile_trailing_line: GET => |c| c.conn().file("af", "username:guest\npassword:guest\nextra\n").args(["--authfile", "{DIR}/af", "-q", "x"]);
    authfile_trailing_empty_line: GET => |c| c.conn().file("af", "username:guest\npassword:guest\n\n").args(["--authfile", "{DIR}/af", "-q", "x"]);
    authfile_space_kept: GET => |c| c.conn().file("af", "username: guest\npassword:guest\n").args(["--authfile", "{DIR}/af", "-q", "x"]);
    authfile_no_final_newline: GET => |c| c.conn().file("af", "username:guest\npassword:guest").queue("{Q}").msg("{Q}", "auth")
        .args(["--authfile", "{DIR}/af", "-q", "{Q}"]).differs(
        "`--authfile` without final newline | C requires the final newline (`Password too long`); ours accepts the file",
        &[],
        |r| { r.code(1)?; r.stderr_is("Password too long\n")?; r.count("{Q}", 1) },
        |r| { r.code(0)?; r.stdout_is("auth")?; r.count("{Q}", 0) },
    );
    authfile_crlf: GET => |c| c.conn().file("af", "username:guest\r\npassword:guest\r\n").queue("{Q}").msg("{Q}", "auth")
        .args(["--authfile", "{DIR}/af", "-q", "{Q}"]).differs(
        "`--authfile` with CRLF line ends | C keeps the \\r of CRLF lines (login refused); ours strips it",
        &[],
        |r| { r.code(1)?; r.stderr_line_starts(0, "logging in to AMQP server: server connection error 403, message: ACCESS_REFUSED")?; r.count("{Q}", 1) },
        |r| { r.code(0)?; r.stdout_is("auth")?; r.count("{Q}", 0) },
    );
    authfile_long_value: GET => |c| c.conn().file("af", format!("username:{}\npassword:guest\n", "u".repeat(118))).args(["--authfile", "{DIR}/af", "-q", "x"]).differs(
        "`--authfile` values over 117 bytes | C refuses values over 117 bytes (`Username too long`); ours reads them (then the broker refuses the login)",
        &[Exit, Stdout],
        |r| r.stderr_is("Username too long\n"),
        |r| r.stderr_line_starts(0, "logging in to AMQP server: server connection error 403"),
    );
}

// =============================================================================================
// URLs

cases! {
    url_basic: GET => |c| c.url().queue("{Q}").msg("{Q}", "u").args(["-q", "{Q}"]);
    url_long_eq: GET => |c| c.queue("{Q}").msg("{Q}", "u").args(["--url={URL}", "--queue={Q}"]);
    url_vhost_2f: GET => |c| c.queue("{Q}").msg("{Q}", "u").args(["-u", "{URL}/%2f", "-q", "{Q}"]);
    url_vhost_2f_upper: GET => |c| c.queue("{Q}").msg("{Q}", "u").args(["-u", "{URL}/%2F", "-q", "{Q}"]);
    url_empty_vhost: GET => |c| c.args(["-u", "{URL}/", "-q", "x"]);
    url_vhost_encoded_slash: GET => |c| c.args(["-u", "{URL}/a%2fb-{ID}", "-q", "x"]);
    url_percent_encoded_guest: GET => |c| c.queue("{Q}").msg("{Q}", "u").args(["-u", "amqp://%67uest:%67ues%74@127.0.0.1:{PORT}", "-q", "{Q}"]);
    url_percent_encoded_special_user: GET => |c| {
        common::compat::ensure_special_user();
        c.queue("{Q}").msg("{Q}", "u").args(["-u", "amqp://compat%20us%20er:p%40ss%3aw%2frd%25@127.0.0.1:{PORT}", "-q", "{Q}"])
    };
    url_user_only_default_password: GET => |c| c.queue("{Q}").msg("{Q}", "u").args(["-u", "amqp://guest@127.0.0.1:{PORT}", "-q", "{Q}"]);
    url_wrong_password: GET => |c| c.args(["-u", "amqp://guest:nope@127.0.0.1:{PORT}", "-q", "x"]);
    url_bad_scheme: GET => |c| c.args(["-u", "http://127.0.0.1:{PORT}", "-q", "x"]);
    url_uppercase_scheme: GET => |c| c.args(["-u", "AMQP://127.0.0.1:{PORT}", "-q", "x"]).differs(
        "`AMQP://` (upper-case scheme) | C's URL scheme is case-sensitive; ours accepts AMQP:// (RFC 3986: schemes are case-insensitive)",
        &[Exit, Stdout],
        |r| r.stderr_is("Parsing URL 'AMQP://127.0.0.1:{PORT}': could not parse AMQP URL\n"),
        |r| r.stderr_is("basic.get: server channel error 404, message: NOT_FOUND - no queue 'x' in vhost '/'\n"),
    );
    url_empty_port: GET => |c| c.args(["-u", "amqp://127.0.0.1:", "-q", "x"]);
    url_bad_percent: GET => |c| c.args(["-u", "amqp://gu%zzest@127.0.0.1:{PORT}", "-q", "x"]);
    url_nested_vhost_path: GET => |c| c.args(["-u", "amqp://127.0.0.1:{PORT}/a/b", "-q", "x"]);
    url_bracket_junk: GET => |c| c.args(["-u", "amqp://[::1]x:{PORT}", "-q", "x"]);
    url_no_host: GET => |c| c.args(["-u", "amqp://", "-q", "x"]).differs(
        "connection failure | ours appends the cause to `opening socket to HOST:PORT`",
        &[Exit, Stdout],
        |r| { r.code(1)?; r.stderr_is("opening socket to localhost:5672\n") },
        |r| { r.code(1)?; r.stderr_line_starts(0, "opening socket to localhost:5672: ") },
    );
    url_ipv6_literal: GET => |c| c.args(["-u", "amqp://guest:guest@[::1]:{PORT}", "-q", "x"]).differs(
        "IPv6 host in messages | ours appends the cause, and shows an IPv6 host in brackets ([::1]:PORT, C: ::1:PORT)",
        &[Exit, Stdout],
        |r| r.stderr_is("opening socket to ::1:{PORT}\n"),
        |r| r.stderr_line_starts(0, "opening socket to [::1]:{PORT}: "),
    );
    url_query_string: GET => |c| c.queue("{Q}").msg("{Q}", "u").args(["-u", "{URL}?heartbeat=5", "-q", "{Q}"]).differs(
        "URL query (`?heartbeat=5&connection_timeout=3000&auth_mechanism=external`) | C rejects URL query strings; ours accepts the RabbitMQ URI query parameters",
        &[],
        |r| { r.code(1)?; r.stderr_is("Parsing URL '{URL}?heartbeat=5': could not parse AMQP URL\n")?; r.count("{Q}", 1) },
        |r| { r.code(0)?; r.stdout_is("u")?; r.count("{Q}", 0) },
    );
    // The whole URL, password included, is echoed by C.
    url_unparsable_with_password: GET => |c| c.args(["-u", "amqp://user:secret@127.0.0.1:x", "-q", "x"]).differs(
        "`Parsing URL '...'` error | ours masks the password when it echoes an unparsable URL",
        &[Exit, Stdout],
        |r| r.stderr_is("Parsing URL 'amqp://user:secret@127.0.0.1:x': could not parse AMQP URL\n"),
        |r| r.stderr_is("Parsing URL 'amqp://user:****@127.0.0.1:x': could not parse AMQP URL\n"),
    );
    url_utf8_percent: GET => |c| c.args(["-u", "amqp://%c3%a9:x@127.0.0.1:{PORT}", "-q", "x"]).differs(
        "`%c3%a9` (UTF-8) escapes in a URL | C refuses percent-escapes above 0x7F; ours decodes UTF-8 user names (here: an unknown user)",
        &[Exit, Stdout],
        |r| r.stderr_is("Parsing URL 'amqp://%c3%a9:x@127.0.0.1:{PORT}': could not parse AMQP URL\n"),
        |r| r.stderr_line_starts(0, "logging in to AMQP server: server connection error 403"),
    );
}

// =============================================================================================
// amqp-publish

cases! {
    publish_body_short: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-b", "hello"]);
    publish_body_long_eq: PUBLISH => |c| c.conn().queue("{Q}").args(["--routing-key={Q}", "--body=hello"]);
    publish_body_long_space: PUBLISH => |c| c.conn().queue("{Q}").args(["--routing-key", "{Q}", "--body", "hello"]);
    publish_body_attached_short: PUBLISH => |c| c.conn().queue("{Q}").args(["-r{Q}", "-bhello"]);
    publish_body_short_eq: PUBLISH => |c| c.conn().queue("{Q}").args(["-r={Q}", "-b=hello"]);
    publish_via_url: PUBLISH => |c| c.url().queue("{Q}").args(["-r", "{Q}", "-b", "u"]);
    publish_stdin_binary: PUBLISH => |c| c.conn().queue("{Q}").stdin(b"a\x00b\xff\r\n\n").args(["-r", "{Q}"]);
    publish_stdin_empty: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}"]);
    publish_stdin_large: PUBLISH => |c| c.conn().queue("{Q}").stdin(vec![b'z'; 300_000]).args(["-r", "{Q}"]);
    publish_persistent: PUBLISH => |c| c.conn().queue("{Q}").args(["-p", "-r", "{Q}", "-b", "p"]);
    publish_persistent_long: PUBLISH => |c| c.conn().queue("{Q}").args(["--persistent", "-r", "{Q}", "-b", "p"]);
    publish_bundled_p_content_type: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-pC", "text/plain", "-b", "x"]);
    publish_bundled_pl: PUBLISH => |c| c.conn().queue("{Q}").stdin("a\nb\n").args(["-pl", "-r", "{Q}"]);
    publish_all_properties_short: PUBLISH => |c| c.conn().queue("{Q}")
        .args(["-r", "{Q}", "-C", "application/json", "-E", "gzip", "-t", "reply.q", "-p", "-H", "a: b", "-b", "{}"]);
    publish_all_properties_long: PUBLISH => |c| c.conn().queue("{Q}")
        .args(["--routing-key={Q}", "--content-type=text/plain", "--content-encoding", "utf-8", "--reply-to=rq", "--header", "x-k: v", "--header=y: z", "--body=b"]);
    publish_empty_property_values: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-C", "", "-E", "", "-t", "", "-b", "e"]);
    publish_header_variants: PUBLISH => |c| c.conn().queue("{Q}").args([
        "-r", "{Q}", "-H", "k1: v1", "-H", "k2:v2", "-H", "k3:  v3  ", "-H", " k4 : v4", "-H", "k5: a:b",
        "-H", "k6:", "-H", ":v7", "-b", "h",
    ]).differs(
        "duplicate `-H` keys; header order | C sends the headers in command-line order; ours sends a field table sorted by key (same keys and values)",
        &[Exit, Stdout, Aspect::Stderr],
        |r| r.headers("{Q}", 0, r#"{"k1"=S:"v1", "k2"=S:"v2", "k3"=S:"v3  ", " k4 "=S:"v4", "k5"=S:"a:b", "k6"=S:"", ""=S:"v7"}"#),
        |r| r.headers("{Q}", 0, r#"{""=S:"v7", " k4 "=S:"v4", "k1"=S:"v1", "k2"=S:"v2", "k3"=S:"v3  ", "k5"=S:"a:b", "k6"=S:""}"#),
    );
    publish_header_tab_kept: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-H", "k\tx:\tv", "-b", "h"]);
    publish_header_utf8: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-H", "clé: été", "-b", "h"]);
    publish_header_duplicate_keys: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-H", "k: 1", "-H", "j: x", "-H", "k: 2", "-b", "h"]).differs(
        "duplicate `-H` keys; header order | C sends both entries of a repeated key; ours keeps the last value (a field table maps keys)",
        &[Exit, Stdout, Aspect::Stderr],
        |r| r.headers("{Q}", 0, r#"{"k"=S:"1", "j"=S:"x", "k"=S:"2"}"#),
        |r| { r.count("{Q}", 1)?; let a = r.headers("{Q}", 0, r#"{"j"=S:"x", "k"=S:"2"}"#); let b = r.headers("{Q}", 0, r#"{"k"=S:"2", "j"=S:"x"}"#); a.or(b) },
    );
    publish_header_without_colon: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-H", "nocolon", "-H", "a: b", "-b", "h"]).differs(
        "`amqp-publish -H` entry without `:` | C warns, then the publish fails (`basic.publish: invalid parameter`); ours warns and publishes",
        &[Stdout],
        |r| { r.code(1)?; r.stderr_is("Ignored header definition missing ':' delimiter in \"nocolon\"\nbasic.publish: invalid parameter\n")?; r.count("{Q}", 0) },
        |r| { r.code(0)?; r.stderr_is("Ignored header definition missing ':' delimiter in \"nocolon\"\n")?; r.count("{Q}", 1)?; r.headers("{Q}", 0, r#"{"a"=S:"b"}"#) },
    );
    // With nothing published (-l, empty stdin) the bad header costs C nothing either.
    publish_header_without_colon_nothing_sent: PUBLISH => |c| c.conn().queue("{Q}").args(["-l", "-r", "{Q}", "-H", "nocolon"]);
    publish_lines: PUBLISH => |c| c.conn().queue("{Q}").stdin(b"l1\n\nl3\r\nlast").args(["-l", "-r", "{Q}"]);
    publish_lines_long_flag: PUBLISH => |c| c.conn().queue("{Q}").stdin(b"a\nb\n").args(["--line-buffered", "-r", "{Q}", "-C", "text/plain"]);
    publish_lines_empty_stdin: PUBLISH => |c| c.conn().queue("{Q}").args(["-l", "-r", "{Q}"]);
    publish_lines_just_under_limit: PUBLISH => |c| c.conn().queue("{Q}").stdin([vec![b'y'; 32766], b"\nz\n".to_vec()].concat()).args(["-l", "-r", "{Q}"]);
    publish_lines_nul: PUBLISH => |c| c.conn().queue("{Q}").stdin(b"a\x00b\nc\n").args(["-l", "-r", "{Q}"]).differs(
        "`-l` and a NUL byte inside a line | C cuts a -l line at a NUL byte; ours keeps the whole line",
        &[Exit, Stdout, Aspect::Stderr],
        |r| r.bodies("{Q}", &[b"a", b"c\n"]),
        |r| r.bodies("{Q}", &[b"a\x00b\n", b"c\n"]),
    );
    publish_lines_longer_than_32k: PUBLISH => |c| c.conn().queue("{Q}").stdin([vec![b'x'; 40000], b"\n".to_vec()].concat()).args(["-l", "-r", "{Q}"]).differs(
        "`-l` and a line over 32767 bytes | C splits -l lines at 32767 bytes; ours never splits a line",
        &[Exit, Stdout, Aspect::Stderr],
        |r| r.bodies("{Q}", &[&[b'x'; 32767], &[&[b'x'; 7233][..], b"\n"].concat()]),
        |r| r.bodies("{Q}", &[&[&[b'x'; 40000][..], b"\n"].concat()]),
    );
    publish_lines_with_body: PUBLISH => |c| c.conn().queue("{Q}").stdin(b"s1\n").args(["-l", "-b", "x", "-r", "{Q}"]).differs(
        "`amqp-publish -l -b TEXT` | C publishes nothing and exits 0 (a script believes its message was sent); ours refuses -l with -b, exit 1",
        &[Stdout, State],
        |r| { r.code(0)?; r.stderr_is("")?; r.count("{Q}", 0) },
        |r| { r.code(1)?; r.stderr_is("--line-buffered and --body cannot be used together (-l publishes each line of standard input, -b one given body)\n") },
    );
    publish_exchange_and_key: PUBLISH => |c| c.conn().exchange("{X}").queue("{Q}").bind("{Q}", "{X}", "{K}").args(["-e", "{X}", "-r", "{K}", "-b", "m"]);
    publish_exchange_long: PUBLISH => |c| c.conn().exchange("{X}").queue("{Q}").bind("{Q}", "{X}", "{K}").args(["--exchange={X}", "--routing-key", "{K}", "-b", "m"]);
    publish_exchange_empty_key: PUBLISH => |c| c.conn().exchange("{X}").queue("{Q}").bind("{Q}", "{X}", "").args(["-e", "{X}", "-r", "", "-b", "m"]);
    publish_exchange_without_key: PUBLISH => |c| c.conn().exchange("{X}").queue("{Q}").bind("{Q}", "{X}", "").args(["-e", "{X}", "-b", "m"]);
    publish_empty_exchange_name: PUBLISH => |c| c.conn().queue("{Q}").args(["-e", "", "-r", "{Q}", "-b", "m"]);
    publish_amq_direct: PUBLISH => |c| c.conn().queue("{Q}").bind("{Q}", "amq.direct", "{K}").args(["-e", "amq.direct", "-r", "{K}", "-b", "m"]);
    publish_unroutable: PUBLISH => |c| c.conn().inspect("{Q2}").args(["-r", "{Q2}", "-b", "lost"]);
    publish_missing_exchange: PUBLISH => |c| c.conn().args(["-e", "{X}", "-r", "k", "-b", "m"]).differs(
        "publish to a missing exchange | C reports the 404 at channel close; ours (publisher confirms) at the publish",
        &[Exit, Stdout],
        |r| r.stderr_is("closing channel: server channel error 404, message: NOT_FOUND - no exchange '{X}' in vhost '/'\n"),
        |r| r.stderr_is("basic.publish: server channel error 404, message: NOT_FOUND - no exchange '{X}' in vhost '/' (1 of 1 message not confirmed)\n"),
    );
    // popt replaces `!#:+` in a value by the next word.
    publish_popt_next_word_alias: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-b", "x!#:+", "foo"]).differs(
        "popt's `!#:+` expansion in option values | popt expands `!#:+` in an option value to the next word; ours takes values literally",
        &[],
        |r| { r.code(0)?; r.bodies("{Q}", &[b"xfoo"]) },
        |r| { r.code(1)?; r.stderr_line(0, "unexpected operand: foo")?; r.count("{Q}", 0) },
    );
    publish_repeated_option_last_wins: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-b", "first", "-b", "second", "-C", "a", "-C", "b"]);
}

// =============================================================================================
// amqp-get

cases! {
    get_message: GET => |c| c.conn().queue("{Q}").msg("{Q}", "one").msg_with("{Q}", props_all(), "two").args(["-q", "{Q}"]);
    get_message_with_properties: GET => |c| c.conn().queue("{Q}").msg_with("{Q}", props_all(), "p").msg("{Q}", "rest").args(["--queue", "{Q}"]);
    get_binary_body: GET => |c| c.conn().queue("{Q}").msg("{Q}", b"\x00\x01\xfe\xff\n\r").args(["-q", "{Q}"]);
    get_empty_body: GET => |c| c.conn().queue("{Q}").msg("{Q}", "").args(["-q", "{Q}"]);
    get_large_body: GET => |c| c.conn().queue("{Q}").msg("{Q}", vec![b'L'; 400_000]).args(["-q", "{Q}"]);
    get_attached_queue: GET => |c| c.conn().queue("{Q}").msg("{Q}", "a").args(["-q{Q}"]);
    get_short_eq_queue: GET => |c| c.conn().queue("{Q}").msg("{Q}", "a").args(["-q={Q}"]);
    get_empty_queue: GET => |c| c.conn().queue("{Q}").args(["-q", "{Q}"]);
    get_missing_queue: GET => |c| c.conn().inspect("{Q2}").args(["-q", "{Q2}"]);
    get_empty_queue_name: GET => |c| c.conn().args(["-q", ""]);
    // -queue is -q ueue.
    get_single_dash_long_name: GET => |c| c.conn().args(["-queue"]);
    get_stdout_closed: GET => |c| c.conn().queue("{Q}").msg("{Q}", "precious").stdout_closed().args(["-q", "{Q}"]).differs(
        "`amqp-get` and a failed write to stdout | C takes the message with no-ack and loses it when stdout fails (SIGPIPE); ours acks only after writing it",
        &[Stdout],
        |r| { r.code(141)?; r.count("{Q}", 0) },
        |r| { if r.code == 0 { return Err("exit 0 although the write failed".into()); } r.bodies("{Q}", &[b"precious"]) },
    );
    get_reserved_prefix_missing: GET => |c| c.conn().args(["-q", "amq.{ID}"]);
}

// =============================================================================================
// amqp-declare-queue

cases! {
    declare_basic: DECLARE => |c| c.conn().inspect("{Q}").args(["-q", "{Q}"]);
    declare_durable: DECLARE => |c| c.conn().inspect("{Q}").args(["-d", "-q", "{Q}"]);
    declare_durable_long: DECLARE => |c| c.conn().inspect("{Q}").args(["--durable", "--queue={Q}"]);
    declare_bundled_dq: DECLARE => |c| c.conn().inspect("{Q}").args(["-dq", "{Q}"]);
    declare_server_named: DECLARE => |c| c.conn().inspect_printed().args(["-q", ""]);
    declare_again_same_flags: DECLARE => |c| c.conn().queue("{Q}").msg("{Q}", "kept").args(["-q", "{Q}"]);
    declare_again_other_durability: DECLARE => |c| c.conn().queue("{Q}").args(["-d", "-q", "{Q}"]);
    declare_durable_again_as_transient: DECLARE => |c| c.conn().queue_with("{Q}", true, false).args(["-q", "{Q}"]);
    declare_over_auto_delete: DECLARE => |c| c.conn().queue_with("{Q}", false, true).args(["-q", "{Q}"]);
    declare_reserved_prefix: DECLARE => |c| c.conn().args(["-q", "amq.{ID}"]);
    declare_double_eq: DECLARE => |c| c.conn().inspect("={Q}").args(["--queue=={Q}"]);
    declare_via_url: DECLARE => |c| c.url().inspect("{Q}").args(["-q", "{Q}"]);
}

// =============================================================================================
// amqp-delete-queue

cases! {
    delete_with_messages: DELETE => |c| c.conn().queue("{Q}").msg("{Q}", "1").msg("{Q}", "2").args(["-q", "{Q}"]);
    delete_missing_queue: DELETE => |c| c.conn().inspect("{Q2}").args(["-q", "{Q2}"]);
    delete_long_queue: DELETE => |c| c.conn().queue("{Q}").args(["--queue={Q}"]);
    delete_if_empty_not_empty: DELETE => |c| c.conn().queue("{Q}").msg("{Q}", "x").args(["--if-empty", "-q", "{Q}"]);
    delete_if_empty_short_not_empty: DELETE => |c| c.conn().queue("{Q}").msg("{Q}", "x").args(["-e", "-q", "{Q}"]);
    delete_if_empty_empty: DELETE => |c| c.conn().queue("{Q}").args(["--if-empty", "-q", "{Q}"]);
    delete_if_unused_with_consumer: DELETE => |c| c.conn().queue("{Q}").consumer("{Q}").args(["--if-unused", "-q", "{Q}"]);
    delete_if_unused_unused: DELETE => |c| c.conn().queue("{Q}").msg("{Q}", "x").args(["--if-unused", "-q", "{Q}"]);
    delete_both_conditions: DELETE => |c| c.conn().queue("{Q}").args(["--if-unused", "--if-empty", "-q", "{Q}"]);
    delete_via_dash_u_url: DELETE => |c| c.queue("{Q}").msg("{Q}", "x").args(["-u", "{URL}", "-q", "{Q}"]);
    delete_durable: DELETE => |c| c.conn().queue_with("{Q}", true, false).msg("{Q}", "x").args(["-q", "{Q}"]);
}

// =============================================================================================
// amqp-consume

cases! {
    consume_two_with_cat: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "m1").msg("{Q}", "m2").msg("{Q}", "m3").args(["-q", "{Q}", "-c", "2", "cat"]);
    consume_long_options: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "m1").args(["--queue={Q}", "--count", "1", "cat"]);
    consume_count_attached: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "m1").args(["-q", "{Q}", "-c1", "cat"]);
    consume_options_after_command: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "m1").args(["cat", "-q", "{Q}", "-c", "1"]);
    consume_double_dash: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "m1").msg("{Q}", "m2")
        .args(["-q", "{Q}", "-c", "2", "--", "sh", "-c", "cat; echo \" $0 $1\"", "zero", "one"]);
    consume_no_ack_exact_count: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "m1").msg("{Q}", "m2")
        .args(["-q", "{Q}", "-c", "2", "-A", "--", "sh", "-c", "cat; echo"]);
    consume_bundled_no_ack_count: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "only").args(["-q", "{Q}", "-Ac1", "cat"]);
    consume_count_zero: CONSUME => |c| c.conn().queue("{Q}").args(["-q", "{Q}", "-c", "0", "cat"]);
    consume_properties_kept_when_requeued: CONSUME => |c| c.conn().queue("{Q}").msg_with("{Q}", props_all(), "p1").msg("{Q}", "p2")
        .args(["-q", "{Q}", "-c", "1", "cat"]);
    consume_missing_queue: CONSUME => |c| c.conn().inspect("{Q2}").args(["-q", "{Q2}", "-c", "1", "cat"]);
    consume_empty_queue_name: CONSUME => |c| c.conn().args(["-q", "", "-c", "1", "cat"]);
    consume_routing_key_without_exchange: CONSUME => |c| c.conn().queue("{Q}").args(["-q", "{Q}", "-r", "k", "-c", "1", "cat"]);
    consume_bind_missing_exchange: CONSUME => |c| c.conn().inspect("{Q}").args(["-q", "{Q}", "-e", "{X}", "-r", "k", "-c", "1", "cat"]).differs(
        "`amqp-consume -q Q -e X` (or no `-q`) when `queue.bind` fails (missing exchange) | C leaves the queue it declared on the broker forever (never consumed, so never auto-deleted); ours deletes it",
        &[Exit, Stdout, Aspect::Stderr],
        |r| r.count("{Q}", 0),
        |r| r.missing("{Q}"),
    );
    consume_redeclare_not_auto_delete: CONSUME => |c| c.conn().queue("{Q}").exchange("{X}").args(["-q", "{Q}", "-e", "{X}", "-r", "k", "-c", "1", "cat"]);
    consume_declare_flag: CONSUME => |c| c.conn().inspect("{Q}").args(["-d", "-q", "{Q}", "-c", "1"]).args(block_cmd())
        .live(Live::new().publish("", "{Q}", b"d1").wait_started().observe(Observe::Queues));
    consume_declare_long: CONSUME => |c| c.conn().inspect("{Q}").args(["--declare", "--queue", "{Q}", "--count=1"]).args(block_cmd())
        .live(Live::new().publish("", "{Q}", b"d1").wait_started().observe(Observe::Queues));
    consume_exclusive_flag: CONSUME => |c| c.conn().inspect("{Q}").args(["-x", "-q", "{Q}", "-c", "1"]).args(block_cmd())
        .live(Live::new().publish("", "{Q}", b"x1").wait_started().observe(Observe::Queues));
    consume_bundled_dx: CONSUME => |c| c.conn().inspect("{Q}").args(["-dx", "-q", "{Q}", "-c", "1"]).args(block_cmd())
        .live(Live::new().publish("", "{Q}", b"x1").wait_started().observe(Observe::Queues));
    consume_bind_key_list: CONSUME => |c| c.conn().exchange("{X}").inspect("{Q}")
        .args(["-q", "{Q}", "-e", "{X}", "-r", "{K}1,{K}2,,{K}3", "-c", "1"]).args(block_cmd())
        .live(Live::new().publish("{X}", "{K}2", b"b2").wait_started().observe(Observe::Bindings).observe(Observe::Queues));
    consume_bind_keys_not_trimmed: CONSUME => |c| c.conn().exchange("{X}").inspect("{Q}")
        .args(["-q", "{Q}", "--exchange", "{X}", "--routing-key", "{K}a b, {K}c", "-c", "1"]).args(block_cmd())
        .live(Live::new().publish("{X}", " {K}c", b"bc").wait_started().observe(Observe::Bindings));
    consume_empty_routing_key_with_exchange: CONSUME => |c| c.conn().exchange("{X}").inspect("{Q}")
        .args(["-q", "{Q}", "-e", "{X}", "-r", "", "-c", "1"]).args(block_cmd())
        .live(Live::new().publish("", "{Q}", b"e1").wait_started().observe(Observe::Bindings)).differs(
        "`amqp-consume -e X -r ''` (or `-r ','`) | C binds nothing for -r '' (its consumer waits for messages that cannot arrive); ours binds with the empty key",
        &[Exit, Stdout, Aspect::Stderr, State],
        |r| if r.live_line("bindings: {X}\t{Q}\t").is_ok() { Err("C bound the queue".into()) } else { Ok(()) },
        |r| r.live_line("bindings: {X}\t{Q}\t"),
    );
    consume_comma_only_routing_key: CONSUME => |c| c.conn().exchange("{X}").inspect("{Q}")
        .args(["-q", "{Q}", "-e", "{X}", "-r", ",", "-c", "1"]).args(block_cmd())
        .live(Live::new().publish("", "{Q}", b"e1").wait_started().observe(Observe::Bindings)).differs(
        "`amqp-consume -e X -r ''` (or `-r ','`) | C binds nothing for -r ',' ; ours binds with the empty key",
        &[Exit, Stdout, Aspect::Stderr, State],
        |r| if r.live_line("bindings: {X}\t{Q}\t").is_ok() { Err("C bound the queue".into()) } else { Ok(()) },
        |r| r.live_line("bindings: {X}\t{Q}\t"),
    );
    consume_server_named_queue: CONSUME => |c| c.conn().exchange("{X}")
        .args(["-e", "{X}", "-r", "{K}", "-c", "1"]).args(block_cmd())
        .live(Live::new().publish("{X}", "{K}", b"s1").wait_started().observe(Observe::Bindings));
    consume_heartbeat_option: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "h").args(["-q", "{Q}", "-c", "1", "--heartbeat", "7"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Heartbeat));
    consume_server_named_plain: CONSUME => |c| c.conn().args(["-c", "0", "cat"]);
    consume_qos_count: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").msg("{Q}", "2").args(["-q", "{Q}", "-c", "2"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers));
    consume_qos_count_below_prefetch: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").msg("{Q}", "2").args(["-q", "{Q}", "-c", "2", "-p", "5"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers));
    consume_qos_prefetch_below_count: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").msg("{Q}", "2").msg("{Q}", "3")
        .args(["-q", "{Q}", "-c", "3", "--prefetch-count=2"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers));
    consume_qos_equal: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").msg("{Q}", "2").msg("{Q}", "3")
        .args(["-q", "{Q}", "-c", "3", "-p", "3"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers));
    consume_qos_prefetch_only: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").args(["-q", "{Q}", "-p", "3"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers).kill(9));
    consume_qos_none: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").args(["-q", "{Q}"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers).kill(9));
    consume_qos_count_over_max: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").args(["-q", "{Q}", "-c", "65536", "-p", "3"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers).kill(9));
    consume_qos_both_over_max: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").args(["-q", "{Q}", "-c", "70000", "-p", "70000"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers).kill(9));
    consume_qos_negative: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").args(["-q", "{Q}", "-c", "-5", "-p", "-3"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers).kill(9));
    consume_qos_unlimited_zero_prefetch: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").args(["-q", "{Q}", "-c", "-1", "-p", "0"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers).kill(9));
    consume_qos_max: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").args(["-q", "{Q}", "-c", "65535", "-p", "65535"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers).kill(9));
    consume_no_ack_unbounded: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").args(["-q", "{Q}", "-A"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers).kill(9));
    // A command that fails once: not acked (back on the queue afterwards), the other acked.
    consume_command_fails_once: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "bad").msg("{Q}", "ok")
        .args(["-q", "{Q}", "-c", "2", "--", "sh", "-c", "b=$(cat); [ \"$b\" = ok ]"]).differs(
        "a command fails | ours warns on stderr for each failed delivery and exits 1 saying how many failed (C is silent and exits 0)",
        &[Stdout, State],
        |r| { r.code(0)?; r.stderr_is("") },
        |r| { r.code(1)?; r.stderr_is("warning: delivery 1: command exited with status 1; not acknowledged (redelivered after the consumer closes)\n1 of 2 deliveries failed: their commands did not exit 0\n") },
    );
}

cases! {
    consume_no_ack_count_below_queue: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").msg("{Q}", "2").msg("{Q}", "3").msg("{Q}", "4")
        .args(["-q", "{Q}", "-A", "-c", "1", "cat"]).differs(
        "`amqp-consume -A -c N` | C's no-ack consumer loses everything the broker pushed; ours removes exactly N",
        &[Exit, Stdout, Aspect::Stderr],
        |r| { let s = r.count("{Q}", 0); let t = r.count("{Q}", 1); s.or(t).or_else(|_| r.count("{Q}", 2)) },
        |r| r.bodies("{Q}", &[b"2", b"3", b"4"]),
    );
    consume_no_ack_qos_observed: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "1").args(["-q", "{Q}", "-A", "-c", "1"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Consumers)).differs(
        "`amqp-consume -A -c N` | with -A -c N ours consumes with acks (prefetch N, ack on receipt); C uses the broker's no-ack mode",
        &[Exit, Stdout, Aspect::Stderr, State],
        |r| r.live_has("consumers: {Q}\tfalse\t1"),
        |r| r.live_has("consumers: {Q}\ttrue\t1"),
    );
    consume_exchange_without_routing_key: CONSUME => |c| c.conn().exchange("{X}").inspect("{Q}").args(["-q", "{Q}", "-e", "{X}", "-c", "1"]).args(block_cmd())
        .live(Live::new().publish("{X}", "", b"n1").wait_started().observe(Observe::Bindings)).differs(
        "`amqp-consume -e X` without `-r` | C crashes (SIGSEGV, strdup(NULL)) after declaring the queue; ours binds with the empty routing key",
        &[],
        |r| { r.code(139)?; r.count("{Q}", 0) },
        |r| { r.code(0)?; r.stdout_is("n1")?; r.live_line("bindings: {X}\t{Q}\t")?; r.missing("{Q}") },
    );
    consume_command_always_fails: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "m1").msg("{Q}", "m2").args(["-q", "{Q}", "-c", "2", "--", "sh", "-c", "cat >/dev/null; exit 1"]).differs(
        "a command fails | C leaves both failed deliveries unacked and exits 0; ours warns for each and exits 1 saying how many failed",
        &[Stdout, State],
        |r| { r.code(0)?; r.stderr_is("")?; r.count("{Q}", 2) },
        |r| { r.code(1)?; r.stderr_line_starts(0, "warning: delivery 1: command exited with status 1")?; r.stderr_has("2 of 2 deliveries failed") },
    );
    consume_command_ignores_large_body: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", vec![b'B'; 1 << 20]).args(["-q", "{Q}", "-c", "1", "true"]).differs(
        "command exits without reading a large body | C dies of SIGPIPE when the command exits without reading; ours judges the command by its exit status",
        &[Stdout],
        |r| { r.code(141)?; r.count("{Q}", 1) },
        |r| { r.code(0)?; r.count("{Q}", 0) },
    );
    consume_sigterm_while_command_runs: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "t1").args(["-q", "{Q}", "-c", "2"]).args(block_cmd())
        .live(Live::new().wait_started().kill(15)).differs(
        "SIGINT/SIGTERM while consuming | C dies at once on SIGTERM (the delivery is redelivered); ours lets the command finish, acks it, then exits 143",
        &[Exit, Stdout],
        |r| { r.code(143)?; r.count("{Q}", 1) },
        |r| { r.code(143)?; r.count("{Q}", 0) },
    );
    // A command that cannot be started stops both at the first delivery, unacked.
    consume_command_not_found: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "m1").args(["-q", "{Q}", "-c", "1", "nonexistent-cmd-xyz"]);
    consume_command_not_found_several: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "m1").msg("{Q}", "m2").msg("{Q}", "m3")
        .args(["-q", "{Q}", "-c", "3", "nonexistent-cmd-xyz"]);
    consume_default_heartbeat: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "h").args(["-q", "{Q}", "-c", "1"]).args(block_cmd())
        .live(Live::new().wait_started().observe(Observe::Heartbeat)).differs(
        "`--heartbeat` not given | C's default heartbeat is 0 (off); ours accepts the broker's proposal (RabbitMQ: 60 s)",
        &[Exit, Stdout, Aspect::Stderr, State],
        |r| r.live_line("heartbeat: {Q} 0"),
        |r| r.live_line("heartbeat: {Q} 60"),
    );
    consume_posixly_correct: CONSUME => |c| c.conn().env("POSIXLY_CORRECT", "1").queue("{Q}").msg("{Q}", "pc")
        .args(["-q", "{Q}", "-c", "1", "sh", "-c", "cat; echo X"]);
}

// =============================================================================================
// Issue 11: values that AMQP short strings (names, keys, properties) cannot hold.

/// `len` bytes: `tag` and the process id, padded with `x`.
fn sized(tag: &str, len: usize) -> String {
    let base = format!("cmp.{tag}.{}.", std::process::id());
    format!("{base}{}", "x".repeat(len - base.len()))
}

const TOO_LONG: &str = "256 bytes, more than the 255 an AMQP short string can hold";

cases! {
    declare_queue_name_255: DECLARE => |c| c.conn().inspect(&sized("d255", 255)).args(["-q".to_string(), sized("d255", 255)]);
    get_queue_name_255: GET => |c| c.conn().queue(&sized("g255", 255)).msg(&sized("g255", 255), "m").args(["-q".to_string(), sized("g255", 255)]);
    declare_queue_name_256: DECLARE => |c| c.conn().args(["-q".to_string(), sized("d256", 256)]).differs(
        "a value over 255 bytes where AMQP needs a short string (`-q`, `-e`, `-r`, `-C`, `-E`, `-t`, `--vhost`, a `-H` or `--arg` name, any property) | C fails at queue.declare (`invalid AMQP data`); ours refuses the value before connecting, naming the option and the limit",
        &[Exit, Stdout],
        |r| r.stderr_is("queue.declare: invalid AMQP data\n"),
        |r| r.stderr_is(&format!("-q: {TOO_LONG}\n")),
    );
    publish_routing_key_256: PUBLISH => |c| c.conn().args(["-r".to_string(), sized("p256", 256), "-b".into(), "x".into()]).differs(
        "a value over 255 bytes where AMQP needs a short string (`-q`, `-e`, `-r`, `-C`, `-E`, `-t`, `--vhost`, a `-H` or `--arg` name, any property) | C fails at basic.publish (`invalid AMQP data`); ours refuses the value before connecting",
        &[Exit, Stdout],
        |r| r.stderr_is("basic.publish: invalid AMQP data\n"),
        |r| r.stderr_is(&format!("-r: {TOO_LONG}\n")),
    );
    publish_header_name_256: PUBLISH => |c| c.conn().queue("{Q}").args(["-r".to_string(), "{Q}".into(), "-H".into(), format!("{}: v", "h".repeat(256)), "-b".into(), "x".into()]).differs(
        "a value over 255 bytes where AMQP needs a short string (`-q`, `-e`, `-r`, `-C`, `-E`, `-t`, `--vhost`, a `-H` or `--arg` name, any property) | C sends a malformed header table and the broker closes the connection (541 INTERNAL_ERROR); ours refuses the name before connecting",
        &[Exit, Stdout, State],
        |r| r.stderr_is("closing channel: server connection error 541, message: INTERNAL_ERROR\n"),
        |r| r.stderr_is(&format!("--header: header name: {TOO_LONG}\n")),
    );
    consume_binding_key_256: CONSUME => |c| c.conn().exchange("{X}").inspect("{Q}").args(["-q".to_string(), "{Q}".into(), "-e".into(), "{X}".into(), "-r".into(), "k".repeat(256), "cat".into()]).differs(
        "a value over 255 bytes where AMQP needs a short string (`-q`, `-e`, `-r`, `-C`, `-E`, `-t`, `--vhost`, a `-H` or `--arg` name, any property) | C declares the queue, then fails at queue.bind (`invalid AMQP data`) and leaves the queue behind; ours refuses the key before connecting",
        &[Exit, Stdout],
        |r| { r.stderr_is("queue.bind: invalid AMQP data\n")?; r.count("{Q}", 0) },
        |r| { r.stderr_is(&format!("--routing-key: {TOO_LONG}\n"))?; r.missing("{Q}") },
    );
    get_vhost_256: GET => |c| c.conn().args(["--vhost".to_string(), "v".repeat(256), "-q".into(), "x".into()]).differs(
        "a value over 255 bytes where AMQP needs a short string (`-q`, `-e`, `-r`, `-C`, `-E`, `-t`, `--vhost`, a `-H` or `--arg` name, any property) | C fails at login (`invalid AMQP data`); ours refuses the value before connecting",
        &[Exit, Stdout],
        |r| r.stderr_is("logging in to AMQP server: invalid AMQP data\n"),
        |r| r.stderr_is(&format!("--vhost: {TOO_LONG}\n")),
    );
}

// =============================================================================================
// Issue 11: arguments are bytes (`{xHH}` is the byte 0xHH; Latin-1 under LC_ALL=C).

cases! {
    publish_body_latin1: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-b", "caf{xe9}"]);
    publish_header_value_latin1: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-H", "k: caf{xe9}", "-b", "h"]);
    consume_command_argument_latin1: CONSUME => |c| c.conn().queue("{Q}").msg("{Q}", "m").args(["-q", "{Q}", "-c", "1", "--", "sh", "-c", "cat; printf ' %s' \"$1\"", "x", "{xe9}t{xe9}"]);
    declare_queue_name_latin1: DECLARE => |c| c.conn().args(["-q", "caf{xe9}"]).differs(
        "an argument that is not UTF-8 (Latin-1 under `LANG=C`) | RabbitMQ refuses a queue name that is not UTF-8 and closes C's connection (501 FRAME_ERROR); ours refuses it before connecting, naming the option",
        &[Exit, Stdout],
        |r| r.stderr_is("queue.declare: server connection error 501, message: FRAME_ERROR - Malformed UTF-8 in shortstr\n"),
        |r| r.stderr_is("-q: not valid UTF-8 (AMQP queue names, binding keys and the vhost are sent as UTF-8)\n"),
    );
    publish_routing_key_latin1: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "caf{xe9}", "-b", "x"]);
    publish_properties_and_header_name_latin1: PUBLISH => |c| c.conn().queue("{Q}").args(["-r", "{Q}", "-C", "text/caf{xe9}", "-t", "r{xe9}", "-H", "k{xe9}: v", "-b", "p"]);
}
