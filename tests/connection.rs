//! The connection options every tool shares: URLs, server/port, vhost, credentials, authfile,
//! AMQP_URL, conflicts, heartbeat, and the connection failures' messages.

mod common;

use common::*;

const SECRET: &str = "s3cretpw";

fn port() -> String {
    broker_port().to_string()
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

#[test]
fn server_with_port_and_port_option_conflict() {
    let port = port();
    let server = format!("{HOST}:{port}");
    let out = run(
        GET,
        ["--server", &server, "--port", &port, "-q", "x"],
        b"",
        &[],
    );
    assert_eq!(out.code, 1, "{out:?}");
    out.assert_no_stdout();
    assert!(
        out.stderr_lines()
            .contains(&"both --server and --port options specify server port"),
        "{out:?}"
    );
}

#[test]
fn server_with_a_bad_port_is_an_error() {
    let out = run(GET, ["--server", "127.0.0.1:abc", "-q", "x"], b"", &[]);
    assert_eq!(out.code, 1, "{out:?}");
    out.assert_no_stdout();
    assert!(
        out.stderr_lines()
            .contains(&"bad server port number in '127.0.0.1:abc'"),
        "{out:?}"
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
    out.assert_ok();
    assert_eq!(out.stdout_text(), format!("{queue}\n"));
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
    out.assert_ok();
    assert_eq!(out.stdout, b"in the vhost");
}

#[test]
fn missing_vhost_is_a_login_error() {
    let vhost = unique_name("no-vhost");
    let port = port();
    let out = run(
        GET,
        [
            "--server", HOST, "--port", &port, "--vhost", &vhost, "-q", "x",
        ],
        b"",
        &[],
    );
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
        &[
            "--server",
            HOST,
            "--port",
            &port,
            "--username",
            "guest",
            "--password=guest",
        ],
        &[],
        &queue,
    );
}

#[test]
fn wrong_password_is_a_login_error_that_hides_the_password() {
    let port = port();
    let out = run(
        GET,
        [
            "--server",
            HOST,
            "--port",
            &port,
            "--username",
            "guest",
            "--password",
            SECRET,
            "-q",
            "x",
        ],
        b"",
        &[],
    );
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
            &[
                "--server",
                HOST,
                "--port",
                &port,
                "--authfile",
                file.path_str(),
            ],
            &[],
            &queue,
        );
        assert_eq!(out.stderr, "", "{contents:?}: {out:?}");
    }
}

#[test]
fn authfile_with_a_wrong_password_hides_it() {
    let port = port();
    let file = TempFile::new(format!("username:guest\npassword:{SECRET}\n").as_bytes());
    let out = run(
        GET,
        [
            "--server",
            HOST,
            "--port",
            &port,
            "--authfile",
            file.path_str(),
            "-q",
            "x",
        ],
        b"",
        &[],
    );
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
    let consumer = amqp_spawn(
        "amqp-consume",
        &["--heartbeat=17", "-q", queue.name(), "-c", "1", "cat"],
    );
    wait_for_consumer(queue.name());
    let timeouts: Vec<serde_json::Value> = ctl_rows(&["list_connections", "timeout"])
        .into_iter()
        .map(|r| r["timeout"].clone())
        .collect();
    assert!(
        timeouts.contains(&serde_json::json!(17)),
        "no connection with heartbeat 17: {timeouts:?}"
    );
    publish(queue.name(), b"beat");
    let out = consumer.wait();
    out.assert_ok();
    assert_eq!(out.stdout, b"beat");
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
    out.assert_error(
        1,
        &format!("opening socket to 127.0.0.1:{closed}: connection refused"),
    )
    .assert_no_stdout();
    assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
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
    let consumer = amqp_spawn(
        "amqp-consume",
        &[
            "-q",
            queue.name(),
            "--connection-name",
            &consumer_name,
            "cat",
        ],
    );
    wait_for_consumer(queue.name());
    assert!(connection_names().contains(&consumer_name));
    // amqp-publish -l at one message a second stays connected long enough to be listed.
    let publisher_name = unique_name("nightly-publisher@host");
    let url = broker_url();
    let publisher = spawn(
        "amqp-publish",
        [
            "--url",
            url.as_str(),
            "--connection-name",
            &publisher_name,
            "-r",
            queue.name(),
            "-l",
            "--rate",
            "1",
        ],
        Some(b"1\n2\n3\n4\n5\n6\n".to_vec()),
        &[],
    );
    wait_until("the publisher's connection name", || {
        connection_names().contains(&publisher_name).then_some(())
    });
    publisher.wait().assert_ok();
    consumer.signal(libc::SIGTERM);
    assert_eq!(consumer.wait().code, 143);
    // The other tools take it too; without it, each tool is named after itself.
    amqp(
        DECLARE,
        &["--connection-name", "declare-job", "-q", queue.name()],
    )
    .assert_ok();
    // The consumer took every message: the queue is empty (exit 2).
    let got = amqp(GET, &["--connection-name", "get-job", "-q", queue.name()]);
    assert_eq!(got.code, 2, "{got:?}");
    amqp(
        "amqp-delete-queue",
        &["--connection-name", "delete-job", "-q", queue.name()],
    )
    .assert_ok();
}

#[test]
fn without_connection_name_a_connection_is_named_after_its_tool() {
    let queue = TestQueue::declare("conn-default-name");
    let consumer = amqp_spawn("amqp-consume", &["-q", queue.name(), "cat"]);
    wait_for_consumer(queue.name());
    assert!(connection_names().contains("amqp-consume"));
    consumer.signal(libc::SIGTERM);
    assert_eq!(consumer.wait().code, 143);
}
