//! The connection options every tool shares: URLs, server/port, vhost, credentials, authfile,
//! AMQP_URL, conflicts, heartbeats, the connection failures' messages, refusals and connect
//! timeouts (RELIABILITY.md 7 to 9), passwords never printed (11), and the `--verbose`
//! protocol trace checked against tshark's AMQP dissector.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const SECRET: &str = "s3cretpw";

fn port() -> String {
    broker_port().to_string()
}

/// `--server HOST --port PORT` followed by `options`.
fn on_the_node<'a>(port: &'a str, options: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--server", HOST, "--port", port];
    args.extend_from_slice(options);
    args
}

/// Runs `amqp-get --server HOST --port PORT OPTIONS -q x`.
fn get_x_from_the_node(options: &[&str]) -> Output {
    let port = port();
    let mut args = on_the_node(&port, options);
    args.extend_from_slice(&["-q", "x"]);
    run(GET, args, b"", &[])
}

/// Runs amqp-declare-queue for `queue` with exactly these connection options (no --url
/// added) and asserts it connected: exit 0 and the name printed.
#[track_caller]
fn assert_declares_with(options: &[&str], env: &[(&str, &str)], queue: &TestQueue) -> Output {
    let mut args: Vec<&str> = options.to_vec();
    args.extend_from_slice(&["-q", queue.name()]);
    let out = run(DECLARE, &args, b"", env);
    out.assert_ok();
    assert_eq!(out.stdout_text(), format!("{}\n", queue.name()), "{out:?}");
    assert!(queue_exists(queue.name()));
    out
}

#[track_caller]
fn assert_secret_hidden(out: &Output) {
    assert!(!out.stderr.contains(SECRET), "password leaked: {out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(SECRET),
        "password leaked: {out:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Where to connect

#[test]
fn url_option_short_and_long() {
    let url = broker_url();
    let queue = TestQueue::named("conn-url");
    assert_declares_with(&["--url", &url], &[], &queue);
    let queue = TestQueue::named("conn-url-short");
    assert_declares_with(&["-u", &url], &[], &queue);
    let queue = TestQueue::named("conn-url-eq");
    assert_declares_with(&[&format!("--url={url}")], &[], &queue);
}

#[test]
fn url_with_percent_encoded_default_vhost() {
    let url = url_with("guest", "guest", Some("%2f"));
    let queue = TestQueue::named("conn-url-2f");
    assert_declares_with(&["--url", &url], &[], &queue);
}

#[test]
fn url_with_trailing_slash_means_the_empty_vhost() {
    let url = url_with("guest", "guest", Some(""));
    let out = run(GET, ["--url", &url, "-q", "x"], b"", &[]);
    out.assert_error(
        1,
        "logging in to AMQP server: server connection error 530, message: NOT_ALLOWED - vhost  not found",
    )
    .assert_no_stdout();
}

#[test]
fn server_and_port_options() {
    let port = port();
    let queue = TestQueue::named("conn-server");
    let out = assert_declares_with(&["--server", HOST, "--port", &port], &[], &queue);
    assert_eq!(out.stderr, "", "{out:?}");
    let queue = TestQueue::named("conn-server-short");
    assert_declares_with(&["-s", HOST, &format!("--port={port}")], &[], &queue);
    let queue = TestQueue::named("conn-server-localhost");
    assert_declares_with(&["--server=localhost", "--port", &port], &[], &queue);
}

#[test]
fn server_with_port_works_with_a_deprecation_warning() {
    let server = format!("{HOST}:{}", port());
    let queue = TestQueue::named("conn-server-port");
    let out = assert_declares_with(&["--server", &server], &[], &queue);
    assert_eq!(
        out.stderr_lines(),
        vec!["Specifying the port number with --server is deprecated"],
        "{out:?}"
    );
}

/// Runs `amqp-get` with `args` only (no `--url`) and asserts exit 1, nothing on standard output
/// and `line` among the lines of standard error.
#[track_caller]
fn assert_get_fails_saying(args: &[&str], line: &str) {
    let out = run(GET, args, b"", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    out.assert_no_stdout();
    assert!(out.stderr_lines().contains(&line), "{out:?}");
}

#[test]
fn server_with_port_and_port_option_conflict() {
    let port = port();
    let server = format!("{HOST}:{port}");
    assert_get_fails_saying(
        &["--server", &server, "--port", &port, "-q", "x"],
        "both --server and --port options specify server port",
    );
}

#[test]
fn server_with_a_bad_port_is_an_error() {
    assert_get_fails_saying(
        &["--server", "127.0.0.1:abc", "-q", "x"],
        "bad server port number in '127.0.0.1:abc'",
    );
}

#[test]
fn port_out_of_range_is_an_error_before_connecting() {
    for bad in ["70000", "0", "-5"] {
        let option = format!("--port={bad}");
        let out = run(GET, ["--server", HOST, &option, "-q", "x"], b"", &[]);
        out.assert_error(
            1,
            &format!("--port: {bad} is not a valid port number (1 to 65535)"),
        )
        .assert_no_stdout();
    }
}

#[test]
fn vhost_option_and_url_path_select_the_vhost() {
    let vhost = TestVhost::new("vhost");
    let queue = unique_name("conn-vhost");
    let port = port();
    let out = run(
        DECLARE,
        [
            "--server",
            HOST,
            "--port",
            &port,
            "--vhost",
            &vhost.name,
            "-q",
            &queue,
        ],
        b"",
        &[],
    );
    out.assert_printed(format!("{queue}\n"));
    // Not in the default vhost.
    assert!(!queue_exists(&queue));
    let in_vhost: Vec<String> = ctl_rows(&["list_queues", "-p", &vhost.name, "name"])
        .into_iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(in_vhost, vec![queue.clone()]);
    // The same vhost through the URL path.
    let url = url_with("guest", "guest", Some(&vhost.name));
    run(
        "amqp-publish",
        ["--url", &url, "-r", &queue, "-b", "in the vhost"],
        b"",
        &[],
    )
    .assert_ok();
    let out = run(GET, ["--url", &url, "-q", &queue], b"", &[]);
    out.assert_printed(b"in the vhost");
}

#[test]
fn missing_vhost_is_a_login_error() {
    let vhost = unique_name("no-vhost");
    let out = get_x_from_the_node(&["--vhost", &vhost]);
    out.assert_error(
        1,
        &format!(
            "logging in to AMQP server: server connection error 530, message: NOT_ALLOWED - vhost {vhost} not found"
        ),
    )
    .assert_no_stdout();
}

// ---------------------------------------------------------------------------------------------
// Credentials

#[test]
fn username_and_password_options() {
    let port = port();
    let queue = TestQueue::named("conn-user");
    assert_declares_with(
        &on_the_node(&port, &["--username", "guest", "--password=guest"]),
        &[],
        &queue,
    );
}

#[test]
fn wrong_password_is_a_login_error_that_hides_the_password() {
    let out = get_x_from_the_node(&["--username", "guest", "--password", SECRET]);
    out.assert_error_starts(1, "logging in to AMQP server: server connection error 403")
        .assert_no_stdout();
    assert_secret_hidden(&out);
    let url = url_with("guest", SECRET, None);
    let out = run(GET, ["--url", &url, "-q", "x"], b"", &[]);
    out.assert_error_starts(1, "logging in to AMQP server: server connection error 403")
        .assert_no_stdout();
    assert_secret_hidden(&out);
}

#[test]
fn failing_urls_never_print_the_password() {
    let closed = closed_port();
    let urls = [
        format!("amqp://guest:{SECRET}@127.0.0.1:{closed}/"),
        format!("amqp://guest:{SECRET}@127.0.0.1:notaport/"),
        format!("http://guest:{SECRET}@127.0.0.1/"),
        format!("amqp://guest:{SECRET}@[::1/"),
        url_with("guest", SECRET, Some("%2f")),
    ];
    for url in &urls {
        let out = run(GET, ["--url", url, "-q", "x"], b"", &[]);
        assert_eq!(out.code, 1, "{url}: {out:?}");
        assert!(!out.stderr.is_empty(), "{url}: {out:?}");
        assert_secret_hidden(&out);
        // Nor through AMQP_URL.
        let out = run(GET, ["-q", "x"], b"", &[("AMQP_URL", url)]);
        assert_eq!(out.code, 1, "AMQP_URL={url}: {out:?}");
        assert_secret_hidden(&out);
    }
}

#[test]
fn unparsable_url_is_an_error_with_the_password_masked() {
    let url = format!("amqp://guest:{SECRET}@127.0.0.1:notaport/");
    let out = run(GET, ["--url", &url, "-q", "x"], b"", &[]);
    out.assert_error(
        1,
        "Parsing URL 'amqp://guest:****@127.0.0.1:notaport/': could not parse AMQP URL",
    )
    .assert_no_stdout();
    let out = run(GET, ["--url", "http://x/", "-q", "x"], b"", &[]);
    out.assert_error(1, "Parsing URL 'http://x/': could not parse AMQP URL");
}

#[test]
fn authfile_supplies_the_credentials() {
    let port = port();
    for contents in [
        &b"username:guest\npassword:guest\n"[..],
        b"username:guest\npassword:guest",
        b"username:guest\r\npassword:guest\r\n",
    ] {
        let file = TempFile::new(contents);
        let queue = TestQueue::named("conn-authfile");
        let out = assert_declares_with(
            &on_the_node(&port, &["--authfile", file.path_str()]),
            &[],
            &queue,
        );
        assert_eq!(out.stderr, "", "{contents:?}: {out:?}");
    }
}

#[test]
fn authfile_with_a_wrong_password_hides_it() {
    let file = TempFile::new(format!("username:guest\npassword:{SECRET}\n").as_bytes());
    let out = get_x_from_the_node(&["--authfile", file.path_str()]);
    out.assert_error_starts(1, "logging in to AMQP server: server connection error 403");
    assert_secret_hidden(&out);
}

#[test]
fn missing_authfile_is_an_error() {
    let path = std::env::temp_dir().join(unique_name("no-authfile"));
    let path = path.to_str().unwrap();
    let out = run(GET, ["--authfile", path, "-q", "x"], b"", &[]);
    out.assert_error_starts(1, &format!("Could not read auth data file {path}"))
        .assert_no_stdout();
}

#[test]
fn malformed_authfiles_are_errors() {
    let cases: [(&[u8], &str); 4] = [
        (
            b"username:guest\n",
            "Malformed auth file (missing password)",
        ),
        (
            b"user:guest\npassword:guest\n",
            "Malformed auth file (missing username)",
        ),
        (b"", "Malformed auth file (missing username)"),
        (
            b"username:guest\nsecret:guest\n",
            "Malformed auth file (missing password)",
        ),
    ];
    for (contents, message) in cases {
        let file = TempFile::new(contents);
        let out = run(GET, ["--authfile", file.path_str(), "-q", "x"], b"", &[]);
        out.assert_error(1, message).assert_no_stdout();
    }
}

// ---------------------------------------------------------------------------------------------
// AMQP_URL

#[test]
fn amqp_url_is_used_without_connection_options() {
    let url = broker_url();
    let queue = TestQueue::named("conn-env");
    assert_declares_with(&[], &[("AMQP_URL", &url)], &queue);
    // And really used: pointing it at a closed port fails there.
    let closed = closed_port();
    let bad = format!("amqp://guest:guest@127.0.0.1:{closed}");
    let out = run(GET, ["-q", "x"], b"", &[("AMQP_URL", &bad)]);
    out.assert_error(
        1,
        &format!("opening socket to 127.0.0.1:{closed}: connection refused"),
    );
}

#[test]
fn amqp_url_is_ignored_when_a_connection_option_is_given() {
    // If AMQP_URL were used, the login would fail on the missing vhost.
    let env_url = url_with("guest", "guest", Some(&unique_name("env-vhost")));
    let env = [("AMQP_URL", env_url.as_str())];
    let port = port();
    let queue = TestQueue::named("conn-env-server");
    assert_declares_with(&["--server", HOST, "--port", &port], &env, &queue);
    let queue = TestQueue::named("conn-env-server-port");
    let server = format!("{HOST}:{port}");
    assert_declares_with(&["--server", &server], &env, &queue);
    let queue = TestQueue::named("conn-env-url");
    assert_declares_with(&["--url", &broker_url()], &env, &queue);
}

// ---------------------------------------------------------------------------------------------
// Conflicts

#[test]
fn url_conflicts_with_every_other_address_option() {
    let url = broker_url();
    let file = TempFile::new(b"username:guest\npassword:guest\n");
    let cases = [
        (vec!["--server", HOST], "--server"),
        (vec!["-s", HOST], "--server"),
        (vec!["--port", "5672"], "--port"),
        (vec!["--username", "guest"], "--username"),
        (vec!["--password", "guest"], "--password"),
        (vec!["--vhost", "/"], "--vhost"),
        (vec!["--authfile", file.path_str()], "--authfile"),
    ];
    for (options, name) in cases {
        let mut args = vec!["--url", url.as_str()];
        args.extend_from_slice(&options);
        args.extend_from_slice(&["-q", "x"]);
        let out = run(GET, &args, b"", &[]);
        out.assert_error(
            1,
            &format!("{name} and --url options cannot be used at the same time"),
        )
        .assert_no_stdout();
        // In either order.
        let mut args = options.clone();
        args.extend_from_slice(&["--url", url.as_str(), "-q", "x"]);
        let out = run(GET, &args, b"", &[]);
        out.assert_error(
            1,
            &format!("{name} and --url options cannot be used at the same time"),
        );
    }
}

#[test]
fn authfile_conflicts_with_username_and_password() {
    let file = TempFile::new(b"username:guest\npassword:guest\n");
    for (option, name) in [("--username", "--username"), ("--password", "--password")] {
        let out = run(
            GET,
            ["--authfile", file.path_str(), option, "guest", "-q", "x"],
            b"",
            &[],
        );
        out.assert_error(
            1,
            &format!("{name} and --authfile options cannot be used at the same time"),
        )
        .assert_no_stdout();
    }
}

#[test]
fn ssl_with_a_plain_url_is_an_error() {
    let url = broker_url();
    let out = run(GET, ["--ssl", "--url", &url, "-q", "x"], b"", &[]);
    out.assert_error(
        1,
        "the --ssl option specifies an SSL connection but the --url option does not",
    );
}

// ---------------------------------------------------------------------------------------------
// Heartbeat

#[test]
fn negative_heartbeat_is_an_error() {
    let url = broker_url();
    for value in ["-1", "-30"] {
        let out = run(
            GET,
            ["--url", &url, "--heartbeat", value, "-q", "x"],
            b"",
            &[],
        );
        out.assert_error(1, "--heartbeat must be a positive value")
            .assert_no_stdout();
    }
}

#[test]
fn heartbeat_is_negotiated_with_the_broker() {
    let queue = TestQueue::declare("conn-heartbeat");
    // 0 disables heartbeats and still works.
    let out = amqp(GET, &["--heartbeat", "0", "-q", queue.name()]);
    assert_eq!(out.code, 2, "{out:?}");
    let consumer = call(CONSUME)
        .args(["--heartbeat=17", "-q"])
        .arg(queue.name())
        .count(1)
        .arg("cat")
        .spawn_consuming(queue.name());
    let timeouts: Vec<serde_json::Value> = ctl_rows(&["list_connections", "timeout"])
        .into_iter()
        .map(|r| r["timeout"].clone())
        .collect();
    assert!(
        timeouts.contains(&serde_json::json!(17)),
        "no connection with heartbeat 17: {timeouts:?}"
    );
    publish(queue.name(), b"beat");
    assert_consumed(consumer, b"beat");
}

// ---------------------------------------------------------------------------------------------
// Connection failures

#[test]
fn closed_port_is_an_opening_socket_error() {
    let closed = closed_port();
    let port = closed.to_string();
    let out = run(
        GET,
        ["--server", HOST, "--port", &port, "-q", "x"],
        b"",
        &[],
    );
    out.assert_only_error(
        1,
        &format!("opening socket to 127.0.0.1:{closed}: connection refused"),
    );
    let url = format!("amqp://guest:guest@127.0.0.1:{closed}");
    let cases: [(&str, &[&str]); 5] = [
        ("amqp-publish", &["-r", "x", "-b", "x"]),
        ("amqp-get", &["-q", "x"]),
        ("amqp-declare-queue", &["-q", "x"]),
        ("amqp-delete-queue", &["-q", "x"]),
        ("amqp-consume", &["-q", "x", "cat"]),
    ];
    for (tool, options) in cases {
        let mut args = vec!["--url", url.as_str()];
        args.extend_from_slice(options);
        let out = run(tool, &args, b"", &[]);
        out.assert_error(
            1,
            &format!("opening socket to 127.0.0.1:{closed}: connection refused"),
        )
        .assert_no_stdout();
    }
}

#[test]
fn unknown_host_is_an_opening_socket_error() {
    let out = run(
        GET,
        ["--server", "no-such-host.invalid", "-q", "x"],
        b"",
        &[],
    );
    out.assert_error_starts(1, "opening socket to no-such-host.invalid:5672")
        .assert_no_stdout();
}

/// The `connection_name` client properties of the broker's connections, as rabbitmqctl
/// prints them.
fn connection_names() -> String {
    ctl(&["-q", "list_connections", "client_properties"])
}

#[test]
fn connection_name_names_the_connection_for_the_broker() {
    let queue = TestQueue::declare("conn-name");
    let consumer_name = unique_name("nightly-consumer@host");
    let consumer = consume(queue.name())
        .arg("--connection-name")
        .arg(&consumer_name)
        .arg("cat")
        .spawn_consuming(queue.name());
    assert!(connection_names().contains(&consumer_name));
    // amqp-publish -l at one message a second stays connected long enough to be listed.
    let publisher_name = unique_name("nightly-publisher@host");
    let publisher = publish_cli(queue.name())
        .opt("--connection-name", &publisher_name)
        .args(["-l", "--rate", "1"])
        .stdin(b"1\n2\n3\n4\n5\n6\n")
        .spawn();
    wait_until("the publisher's connection name", || {
        connection_names().contains(&publisher_name).then_some(())
    });
    publisher.wait().assert_ok();
    consumer.signal(libc::SIGTERM);
    assert_eq!(consumer.wait().code, 143);
    // The other tools take it too; without it, each tool is named after itself.
    call(DECLARE)
        .args(["--connection-name", "declare-job", "-q"])
        .arg(queue.name())
        .run()
        .assert_ok();
    // The consumer took every message: the queue is empty (exit 2).
    let got = amqp(GET, &["--connection-name", "get-job", "-q", queue.name()]);
    assert_eq!(got.code, 2, "{got:?}");
    call(DELETE)
        .args(["--connection-name", "delete-job", "-q"])
        .arg(queue.name())
        .run()
        .assert_ok();
}

#[test]
fn without_connection_name_a_connection_is_named_after_its_tool() {
    let queue = TestQueue::declare("conn-default-name");
    let consumer = amqp_spawn(CONSUME, &["-q", queue.name(), "cat"]);
    wait_for_consumer(queue.name());
    assert!(connection_names().contains("amqp-consume"));
    consumer.signal(libc::SIGTERM);
    assert_eq!(consumer.wait().code, 143);
}

// ---------------------------------------------------------------------------------------------
// Heartbeats (RELIABILITY.md, 7)

#[test]
fn heartbeats_keep_the_connection_alive_during_a_long_command() {
    let queue = queue_with("rel-heartbeat-long", b"slow job");
    let consumer = call(CONSUME)
        .args(["--heartbeat", "2", "-q"])
        .arg(queue.name())
        .count(1)
        .args(["sleep", "10"])
        .spawn();
    assert_eq!(broker_connection_of(consumer.pid()).timeout, "2");
    let out = consumer.wait();
    out.assert_ok_quietly();
    assert_eq!(queue_message_count(queue.name()), 0);
}

#[test]
fn heartbeat_defaults_to_the_brokers_proposal() {
    let queue = TestQueue::declare("rel-heartbeat-default");
    let consumer = amqp_spawn(CONSUME, &["-q", queue.name(), "cat"]);
    assert_eq!(broker_connection_of(consumer.pid()).timeout, "60");
}

#[test]
fn heartbeat_0_disables_heartbeats() {
    let queue = TestQueue::declare("rel-heartbeat-off");
    let consumer = amqp_spawn(CONSUME, &["--heartbeat", "0", "-q", queue.name(), "cat"]);
    assert_eq!(broker_connection_of(consumer.pid()).timeout, "0");
}

// ---------------------------------------------------------------------------------------------
// Refusals (RELIABILITY.md, 8)

/// Each tool's arguments on `queue` besides the connection options, and the step (method)
/// at which the broker would refuse them.
fn on_queue<'a>(tool: &str, queue: &'a str) -> (Vec<&'a str>, &'static str) {
    match tool {
        PUBLISH => (vec!["-r", queue, "-b", "x"], "basic.publish"),
        GET => (vec!["-q", queue], "basic.get"),
        CONSUME => (vec!["-q", queue, "cat"], "basic.consume"),
        DECLARE => (vec!["-q", queue], "queue.declare"),
        DELETE => (vec!["-q", queue], "queue.delete"),
        other => panic!("not a tool: {other}"),
    }
}

/// Each tool's arguments besides the connection options, for runs that fail at login.
fn tool_args(tool: &str) -> Vec<&'static str> {
    on_queue(tool, "x").0
}

/// Asserts that each of the five tools, run through `url`, fails at login with
/// `expected_start`.
#[track_caller]
fn assert_every_tool_refused_at_login(url: &str, expected_start: &str) {
    for tool in TOOLS {
        assert_refused(tool, url, &tool_args(tool), expected_start);
    }
}

/// Asserts that each of `tools`, run on `queue` through `url`, fails at its step with
/// `reason` (`STEP: REASON`).
#[track_caller]
fn assert_refused_on_queue(tools: &[&str], url: &str, queue: &str, reason: &str) {
    for tool in tools {
        let (args, step) = on_queue(tool, queue);
        assert_refused(tool, url, &args, &format!("{step}: {reason}"));
    }
}

#[track_caller]
fn assert_refused(tool: &str, url: &str, extra: &[&str], expected_start: &str) {
    let mut args = vec!["--url", url];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = run(tool, &args, b"", &[]);
    assert!(started.elapsed() < Duration::from_secs(10), "{out:?}");
    let line = assert_one_line_failure(&out);
    assert!(
        line.starts_with(expected_start),
        "{tool}: expected {expected_start:?}: {out:?}"
    );
    out.assert_no_stdout();
}

#[test]
fn wrong_password_is_refused_with_403() {
    let url = url_with("guest", "not-the-password", None);
    assert_every_tool_refused_at_login(
        &url,
        "logging in to AMQP server: server connection error 403, message: ACCESS_REFUSED",
    );
}

#[test]
fn missing_vhost_is_refused_with_530() {
    let vhost = unique_name("no-vhost");
    let url = url_with("guest", "guest", Some(&vhost));
    assert_every_tool_refused_at_login(
        &url,
        "logging in to AMQP server: server connection error 530, message: NOT_ALLOWED",
    );
}

#[test]
fn missing_permissions_are_refused() {
    let user = TestUser::new("pw");
    // No permissions at all on the vhost: refused at login.
    let url = url_with(&user.name, "pw", Some("%2f"));
    assert_refused(
        GET,
        &url,
        &["-q", "x"],
        "logging in to AMQP server: server connection error 530, message: NOT_ALLOWED",
    );
    // Permissions that match nothing: each operation refused with 403.
    ctl(&["set_permissions", "-p", "/", &user.name, "^$", "^$", "^$"]);
    let queue = queue_with("rel-no-permission", b"untouchable");
    assert_refused_on_queue(
        &TOOLS,
        &url,
        queue.name(),
        "server channel error 403, message: ACCESS_REFUSED",
    );
    assert_eq!(queue_message_count(queue.name()), 1);
}

#[test]
fn exclusive_queue_of_another_connection_is_refused_with_405() {
    let queue = TestQueue::named("rel-exclusive");
    let holder = amqp_spawn(CONSUME, &["-x", "-q", queue.name(), "cat"]);
    wait_until("the exclusive queue to be declared", || {
        (queue_status(queue.name()) == Err(405)).then_some(())
    });
    assert_refused_on_queue(
        &[GET, CONSUME, DECLARE, DELETE],
        &broker_url(),
        queue.name(),
        "server channel error 405, message: RESOURCE_LOCKED",
    );
    drop(holder);
}

// ---------------------------------------------------------------------------------------------
// Connect timeouts (RELIABILITY.md, 9)

/// A listener on 127.0.0.1 whose accept queue is full: further SYNs are dropped, so a
/// connect neither succeeds nor is refused.
struct BlackHole {
    fd: i32,
    port: u16,
    _held: Vec<TcpStream>,
}

impl BlackHole {
    fn new() -> BlackHole {
        // SAFETY: plain socket calls on a descriptor we own; the address is a local struct.
        let (fd, port) = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "socket");
            let mut address: libc::sockaddr_in = std::mem::zeroed();
            address.sin_family = libc::AF_INET as libc::sa_family_t;
            address.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            address.sin_port = 0;
            let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(fd, &address as *const _ as *const libc::sockaddr, size);
            assert_eq!(bound, 0, "bind");
            assert_eq!(libc::listen(fd, 1), 0, "listen");
            let mut length = size;
            libc::getsockname(
                fd,
                &mut address as *mut _ as *mut libc::sockaddr,
                &mut length,
            );
            (fd, u16::from_be(address.sin_port))
        };
        let mut held = Vec::new();
        for _ in 0..8 {
            let target = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            match TcpStream::connect_timeout(&target, Duration::from_millis(300)) {
                Ok(stream) => held.push(stream),
                Err(_) => break,
            }
        }
        assert!(held.len() < 8, "the listener's queue never filled");
        BlackHole {
            fd,
            port,
            _held: held,
        }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor we opened.
        unsafe { libc::close(self.fd) };
    }
}

#[test]
fn connect_timeout_bounds_a_connect_nobody_answers() {
    let hole = BlackHole::new();
    let port = hole.port.to_string();
    let expected = format!("opening socket to 127.0.0.1:{port}: connection timed out after 2 s");
    let started = Instant::now();
    let out = run(
        GET,
        [
            "-s",
            "127.0.0.1",
            "--port",
            &port,
            "--connect-timeout",
            "2",
            "-q",
            "x",
        ],
        b"",
        &[],
    );
    let took = started.elapsed();
    assert_eq!(assert_one_line_failure(&out), expected);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // The same from the URL's connection_timeout (milliseconds).
    let url = format!("amqp://guest:guest@127.0.0.1:{port}?connection_timeout=2000");
    let started = Instant::now();
    let out = run(PUBLISH, ["--url", &url, "-r", "x", "-b", "x"], b"", &[]);
    let took = started.elapsed();
    assert_eq!(assert_one_line_failure(&out), expected);
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_server_that_never_speaks_amqp_is_given_up() {
    let listener = TcpListener::bind((HOST, 0)).expect("bind");
    let port = listener.local_addr().expect("address").port();
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = stop.clone();
    listener.set_nonblocking(true).expect("nonblocking");
    let acceptor = thread::spawn(move || {
        let mut held = Vec::new();
        while !stopper.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    let port_text = port.to_string();
    for tool in [GET, CONSUME] {
        let mut args = vec![
            "-s",
            "127.0.0.1",
            "--port",
            &port_text,
            "--connect-timeout",
            "2",
        ];
        args.extend_from_slice(&tool_args(tool));
        let started = Instant::now();
        let out = run(tool, &args, b"", &[]);
        let took = started.elapsed();
        let line = assert_one_line_failure(&out);
        assert!(
            line.starts_with("logging in to AMQP server: no answer from the server within "),
            "{out:?}"
        );
        assert!(took < Duration::from_secs(6), "{tool} took {took:?}");
    }
    stop.store(true, Ordering::SeqCst);
    acceptor.join().expect("acceptor");
}

#[test]
fn an_http_server_on_the_port_is_invalid_amqp_data() {
    // What a proxy or a web server on the AMQP port answers to the protocol header.
    let listener = TcpListener::bind((HOST, 0)).expect("bind");
    let port = listener.local_addr().expect("address").port().to_string();
    let server = thread::spawn(move || {
        for _ in TOOLS {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut header = [0u8; 8];
            let _ = std::io::Read::read_exact(&mut stream, &mut header);
            let answer =
                b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
            let _ = std::io::Write::write_all(&mut stream, answer);
        }
    });
    for tool in TOOLS {
        let mut args = vec!["-s", "127.0.0.1", "--port", &port];
        args.extend_from_slice(&tool_args(tool));
        let out = run(tool, &args, b"", &[]);
        // The original's words (rabbitmq-c's AMQP_STATUS_BAD_AMQP_DATA), no parser debug text.
        out.assert_error(1, "logging in to AMQP server: invalid AMQP data");
        assert_eq!(out.stderr_lines().len(), 1, "{tool}: {out:?}");
    }
    server.join().expect("server");
}

#[test]
fn a_host_name_that_does_not_resolve_is_named() {
    // `bad..host` is refused by the resolver itself: no DNS query leaves the machine.
    for tool in TOOLS {
        let mut args = vec!["-s", "bad..host"];
        args.extend_from_slice(&tool_args(tool));
        let started = Instant::now();
        let out = run(tool, &args, b"", &[]);
        assert!(started.elapsed() < Duration::from_secs(5), "{out:?}");
        let line = assert_one_line_failure(&out);
        assert!(
            line.starts_with("opening socket to bad..host:5672: hostname lookup failed: "),
            "{out:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Passwords (RELIABILITY.md, 11)

#[test]
fn passwords_never_appear_in_any_output() {
    const SECRET: &str = "Sekr1t-Pa55word-xyzzy";
    let port = broker_port();
    let closed = closed_port();
    let authfile = TempFile::new(format!("username:guest\npassword:{SECRET}\n").as_bytes());
    let wrong = format!("amqp://guest:{SECRET}@127.0.0.1:{port}");
    let refused = format!("amqp://guest:{SECRET}@127.0.0.1:{closed}");
    let bad_host = format!("amqp://guest:{SECRET}@bad..host:{port}");
    let vhost = format!("amqp://guest:{SECRET}@127.0.0.1:{port}/nowhere");
    let unparsable = format!("amqp://guest:{SECRET}@127.0.0.1:{port}/a/b");
    let bad_escape = format!("amqp://guest:{SECRET}%zz@127.0.0.1:{port}");
    let port_text = port.to_string();
    let closed_text = closed.to_string();
    let mut cases: Vec<Vec<&str>> = Vec::new();
    for url in [
        &wrong,
        &refused,
        &bad_host,
        &vhost,
        &unparsable,
        &bad_escape,
    ] {
        cases.push(vec!["--url", url]);
        cases.push(vec!["--url", url, "--server", "h"]);
    }
    for port in [&port_text, &closed_text] {
        let node = ["-s", "127.0.0.1", "--port", port];
        let authfile = ["--authfile", authfile.path_str()];
        cases.push([&node[..], &["--password", SECRET]].concat());
        cases.push([&node[..], &authfile].concat());
        cases.push([&node[..], &["--password", SECRET], &authfile].concat());
    }
    cases.push(vec!["-s", "bad..host", "--password", SECRET]);
    let mut runs = 0;
    for case in &cases {
        for tool in TOOLS {
            for verbose in [false, true] {
                let mut args = case.clone();
                if verbose {
                    args.push("--verbose");
                }
                args.extend_from_slice(&tool_args(tool));
                let out = run(tool, &args, b"", &[]);
                runs += 1;
                assert_ne!(out.code, 0, "{tool} {args:?} should fail: {out:?}");
                assert!(
                    !out.stderr.contains(SECRET) && !out.stdout_text().contains(SECRET),
                    "{tool} {args:?} printed the password: {out:?}"
                );
            }
        }
    }
    assert!(runs >= 100);
    // The environment's AMQP_URL too.
    for tool in TOOLS {
        let out = run(tool, tool_args(tool), b"", &[("AMQP_URL", wrong.as_str())]);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(!out.stderr.contains(SECRET), "{tool}: {out:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The eager channel: channel.open pipelined behind connection.open (lapin patch 8)

#[test]
fn channel_open_is_sent_before_connection_open_ok_arrives() {
    // A relay that holds the broker's connection.open-ok back until the tool has sent
    // channel.open (or 5 s have passed). A tool that waits for open-ok before opening its
    // channel still works through it, 5 s late, and the test fails on the order. Both
    // directions are decoded by the `--verbose` relay's decoder.
    use amqp_tools::protocol_trace::Decoder;
    use std::io::{Read, Write};
    use std::sync::{Condvar, Mutex};
    let listener = TcpListener::bind((HOST, 0)).expect("bind");
    let relay_port = listener.local_addr().unwrap().port();
    let broker = broker_port();
    let channel_open_sent = Arc::new((Mutex::new(false), Condvar::new()));
    let open_ok_held = Arc::new(AtomicBool::new(false));
    let (sent, held) = (channel_open_sent.clone(), open_ok_held.clone());
    let relay = thread::spawn(move || {
        let (mut client, _) = listener.accept().expect("accept");
        let mut server = TcpStream::connect((HOST, broker)).expect("connect to the broker");
        let (mut client_in, mut server_out) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        let upstream = thread::spawn(move || {
            let (mut decoder, mut buffer) = (Decoder::default(), [0u8; 4096]);
            while let Ok(n @ 1..) = client_in.read(&mut buffer) {
                let methods = decoder.feed(&buffer[..n]);
                if server_out.write_all(&buffer[..n]).is_err() {
                    break;
                }
                if methods
                    .iter()
                    .any(|m| m.starts_with("channel.open channel=1"))
                {
                    let (flag, changed) = &*sent;
                    *flag.lock().unwrap() = true;
                    changed.notify_all();
                }
            }
            let _ = server_out.shutdown(std::net::Shutdown::Write);
        });
        let (mut decoder, mut buffer) = (Decoder::default(), [0u8; 4096]);
        while let Ok(n @ 1..) = server.read(&mut buffer) {
            // connection.open-ok answers connection.open alone: hold its read back.
            if decoder
                .feed(&buffer[..n])
                .iter()
                .any(|m| m.starts_with("connection.open-ok"))
            {
                let (flag, changed) = &*channel_open_sent;
                let timeout = Duration::from_secs(5);
                let (flag, _) = changed
                    .wait_timeout_while(flag.lock().unwrap(), timeout, |sent| !*sent)
                    .unwrap();
                held.store(*flag, Ordering::SeqCst);
            }
            if client.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = client.shutdown(std::net::Shutdown::Write);
        let _ = upstream.join();
    });
    let queue = TestQueue::declare("eager-channel");
    let url = format!("amqp://guest:guest@{HOST}:{relay_port}");
    let out = run(
        PUBLISH,
        ["--url", &url, "-r", queue.name(), "-b", "eager"],
        b"",
        &[],
    );
    out.assert_ok();
    relay.join().expect("the relay ends with the connection");
    assert!(
        open_ok_held.load(Ordering::SeqCst),
        "the tool sent no channel.open before it had connection.open-ok: it waited a round trip"
    );
    assert_eq!(queue_message_count(queue.name()), 1);
}

// ---------------------------------------------------------------------------------------------
// --verbose: the protocol trace, checked against tshark's AMQP dissector

/// What `--verbose` printed: (direction, method name) per line.
fn verbose_methods(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|line| {
            let (arrow, rest) = line.split_once(' ')?;
            let method = rest.split(' ').next()?.to_string();
            matches!(arrow, "->" | "<-").then(|| (arrow.to_string(), method))
        })
        .collect()
}

#[test]
fn verbose_shows_the_methods_on_the_wire_as_tshark_decodes_them() {
    assert!(
        std::path::Path::new("/usr/bin/tshark").exists(),
        "tshark is missing: scripts/test installs it"
    );
    let q = TestQueue::declare("verbose");
    let port = broker_port();
    let capture = TempFile::new(b"");
    let mut tshark = std::process::Command::new("tshark")
        .args([
            "-i",
            "lo",
            "-f",
            &format!("tcp port {port}"),
            "-w",
            capture.path_str(),
            "-q",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tshark starts");
    // tshark says "Capturing on 'Loopback: lo'" once it listens.
    let mut stderr = tshark.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("Capturing on") {
        use std::io::Read;
        match stderr.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => panic!("tshark did not start: {}", String::from_utf8_lossy(&seen)),
        }
    }
    // "Capturing on" comes as the capture starts; give it a moment to be live.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let published = publish_cli(q.name())
        .args(["--verbose", "-l", "-C", "text/plain"])
        .stdin(b"one\ntwo\nthree\n")
        .run();
    published.assert_ok();
    let got = amqp(GET, &["--verbose", "-q", q.name()]);
    got.assert_ok();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill has no memory effects; SIGINT makes tshark finish the capture file.
    unsafe { libc::kill(tshark.id() as i32, libc::SIGINT) };
    let _ = tshark.wait();

    // tshark reading the capture, AMQP on the broker's port, with `filter_and_fields`.
    let read_capture = |filter_and_fields: &[&str]| {
        std::process::Command::new("tshark")
            .args(["-r", capture.path_str(), "-d"])
            .arg(format!("tcp.port=={port},amqp"))
            .args(filter_and_fields)
            .output()
            .expect("tshark reads the capture")
    };
    // Every AMQP method of the capture: stream, source port, class.method, routing key.
    let fields = read_capture(&[
        "-Y",
        "amqp",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-e",
        "tcp.stream",
        "-e",
        "tcp.srcport",
        "-e",
        "amqp.method.class",
        "-e",
        "amqp.method.method",
    ]);
    let table = String::from_utf8_lossy(&fields.stdout).into_owned();
    let malformed = read_capture(&["-Y", "_ws.malformed || _ws.expert.severity == error"]);
    assert!(
        String::from_utf8_lossy(&malformed.stdout).trim().is_empty(),
        "tshark found malformed frames: {}",
        String::from_utf8_lossy(&malformed.stdout)
    );

    for (run, marker) in [(&published, "Publish"), (&got, "Get")] {
        let ours = verbose_methods(&run.stderr);
        assert!(!ours.is_empty(), "no --verbose lines: {run:?}");
        // The capture's stream that carried this run: the one whose methods match ours.
        let mut streams: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for line in table.lines() {
            let fields: Vec<&str> = line.split('|').collect();
            let [stream, src, classes, methods] = fields[..] else {
                continue;
            };
            let arrow = if src == port.to_string() { "<-" } else { "->" };
            // One row per packet; a packet holding several frames lists every method.
            for (class, method) in classes.split(',').zip(methods.split(',')) {
                if class.is_empty() {
                    continue;
                }
                streams
                    .entry(stream.to_string())
                    .or_default()
                    .push((arrow.to_string(), method_name(class, method)));
            }
        }
        // Compared per direction: the relay prints each direction in wire order, while the
        // interleaving of the two directions depends on when each side is read.
        let direction = |methods: &[(String, String)], arrow: &str| -> Vec<String> {
            methods
                .iter()
                .filter(|(a, _)| a == arrow)
                .map(|(_, m)| m.clone())
                .collect()
        };
        let matching = streams.values().find(|methods| {
            direction(methods, "->") == direction(&ours, "->")
                && direction(methods, "<-") == direction(&ours, "<-")
        });
        assert!(
            matching.is_some(),
            "no captured connection carried the {marker} run's methods {ours:?}; captured: {streams:#?}"
        );
    }
}

/// The specification's name of a method from its class and method ids (AMQP 0-9-1 §1), for
/// the methods these tools use; any other is left as `CLASS.METHOD` numbers.
fn method_name(class: &str, method: &str) -> String {
    let name = match (class, method) {
        ("10", "10") => "connection.start",
        ("10", "11") => "connection.start-ok",
        ("10", "30") => "connection.tune",
        ("10", "31") => "connection.tune-ok",
        ("10", "40") => "connection.open",
        ("10", "41") => "connection.open-ok",
        ("10", "50") => "connection.close",
        ("10", "51") => "connection.close-ok",
        ("20", "10") => "channel.open",
        ("20", "11") => "channel.open-ok",
        ("20", "40") => "channel.close",
        ("20", "41") => "channel.close-ok",
        ("50", "10") => "queue.declare",
        ("50", "11") => "queue.declare-ok",
        ("60", "40") => "basic.publish",
        ("60", "70") => "basic.get",
        ("60", "71") => "basic.get-ok",
        ("60", "72") => "basic.get-empty",
        ("60", "80") => "basic.ack",
        ("85", "10") => "confirm.select",
        ("85", "11") => "confirm.select-ok",
        _ => return format!("{class}.{method}"),
    };
    name.to_string()
}
