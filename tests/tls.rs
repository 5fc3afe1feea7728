//! TLS: `amqps://` URLs and `--ssl`, server verification (`--cacert`, the system's trust store,
//! `--no-default-cert-paths`), host names and IP SANs, client certificates (`--cert`, `--key`),
//! SASL EXTERNAL, and the one-line errors for each failure.
//!
//! Runs against the private node's TLS listener and the test PKI that `scripts/test` generates
//! at test time (`AMQP_TEST_TLS_PORT`, `AMQP_TEST_TLS_DIR`); failures that need a server with a
//! bad certificate, or one that requires a client certificate, use a small rustls server
//! ([`common::tls::TlsServer`]).

mod common;

use common::tls::*;
use common::*;

/// Runs amqp-declare-queue with exactly `options` then `-q QUEUE`, without AMQP_URL.
#[track_caller]
fn declare(options: &[&str], queue: &str) -> Output {
    let mut args = options.to_vec();
    args.extend_from_slice(&["-q", queue]);
    run(DECLARE, &args, b"", &[])
}

#[track_caller]
fn assert_declared(out: &Output, queue: &TestQueue) {
    out.assert_ok();
    assert_eq!(out.stdout_text(), format!("{}\n", queue.name()), "{out:?}");
    assert!(
        queue_exists(queue.name()),
        "{} was not declared",
        queue.name()
    );
}

/// `--url URL --cacert CA --cert CERT --key KEY`: TLS with a client certificate.
fn client_cert_options<'a>(url: &'a str, ca: &'a str, cert: &'a str, key: &'a str) -> [&'a str; 8] {
    ["--url", url, "--cacert", ca, "--cert", cert, "--key", key]
}

/// `opening socket to localhost:PORT: ` for the node's TLS port.
fn socket_step(host: &str, port: u16) -> String {
    format!("opening socket to {host}:{port}: ")
}

// ---------------------------------------------------------------------------------------------
// Verified connections

#[test]
fn ssl_option_with_cacert_verifies_the_server() {
    let queue = TestQueue::named("tls-ssl-option");
    let ca = pki("ca.pem");
    let port = tls_port().to_string();
    let out = declare(
        &[
            "--server",
            "localhost",
            "--port",
            &port,
            "--ssl",
            "--cacert",
            &ca,
        ],
        queue.name(),
    );
    assert_declared(&out, &queue);
    assert_eq!(out.stderr, "", "{out:?}");
}

#[test]
fn amqps_url_with_cacert_publishes_and_gets() {
    let queue = TestQueue::declare("tls-url");
    let ca = pki("ca.pem");
    let url = tls_url("localhost", "");
    run(
        PUBLISH,
        [
            "--url",
            &url,
            "--cacert",
            &ca,
            "-r",
            queue.name(),
            "-b",
            "over TLS",
        ],
        b"",
        &[],
    )
    .assert_ok();
    assert_eq!(queue_message_count(queue.name()), 1);
    let out = run(
        GET,
        ["--url", &url, "--cacert", &ca, "-q", queue.name()],
        b"",
        &[],
    );
    out.assert_printed(b"over TLS");
}

/// A body of several frames goes over TLS intact: its large payloads are written from their
/// own memory, with the bytes around them, as vectored writes (vendor/lapin/PATCHES.md 9).
#[test]
fn a_body_of_many_frames_arrives_intact_over_tls() {
    let queue = TestQueue::declare("tls-big");
    let ca = pki("ca.pem");
    let url = tls_url("localhost", "");
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let args = ["--url", &url, "--cacert", &ca, "-r", queue.name()];
    run(PUBLISH, args, &body, &[]).assert_ok();
    let out = run(
        GET,
        ["--url", &url, "--cacert", &ca, "-q", queue.name()],
        b"",
        &[],
    );
    out.assert_ok();
    assert_eq!(out.stdout.len(), body.len());
    assert!(out.stdout == body, "the body differs");
}

#[test]
fn amqp_url_environment_variable_may_be_amqps() {
    let queue = TestQueue::named("tls-env-url");
    let ca = pki("ca.pem");
    let url = tls_url("localhost", "");
    let out = run(
        DECLARE,
        ["--cacert", &ca, "-q", queue.name()],
        b"",
        &[("AMQP_URL", url.as_str())],
    );
    assert_declared(&out, &queue);
}

/// Asserts that amqp-declare-queue declares a fresh queue over TLS to `host` (the node's TLS
/// port), trusting the test CA with `--cacert`, with the further `options`.
#[track_caller]
fn assert_declares_over_tls(prefix: &str, host: &str, options: &[&str]) {
    let queue = TestQueue::named(prefix);
    let ca = pki("ca.pem");
    let url = tls_url(host, "");
    let all = [&["--url", &url, "--cacert", &ca][..], options].concat();
    assert_declared(&declare(&all, queue.name()), &queue);
}

#[test]
fn ip_address_in_the_url_matches_the_certificates_ip_san() {
    assert_declares_over_tls("tls-ip-san", "127.0.0.1", &[]);
}

// ---------------------------------------------------------------------------------------------
// Server verification failures

#[test]
fn server_signed_by_an_unknown_ca_is_refused() {
    let port = tls_port();
    let url = tls_url("localhost", "");
    // Only the system's CAs: the test CA is not among them.
    let out = declare(&["--url", &url], "tls-unknown-ca");
    assert_untrusted(
        &out,
        port,
        "the system's CAs; give the server's CA with --cacert",
    )
    .assert_no_stdout();
    // Another CA, and no system CAs.
    let other = pki("other-ca.pem");
    let out = declare(
        &["--url", &url, "--cacert", &other, "--no-default-cert-paths"],
        "tls-unknown-ca",
    );
    assert_untrusted(&out, port, &format!("--cacert {other} only"));
    // With the system's CAs too.
    let out = declare(&["--url", &url, "--cacert", &other], "tls-unknown-ca");
    assert_untrusted(
        &out,
        port,
        &format!("--cacert {other} and the system's CAs"),
    );
}

#[test]
fn no_default_cert_paths_with_the_right_cacert_still_works() {
    assert_declares_over_tls(
        "tls-no-default-paths",
        "localhost",
        &["--no-default-cert-paths"],
    );
}

/// Asserts that a run connecting to localhost on `port` was refused because no CA it trusts
/// (`trusted`, as the message names them) signed the server's certificate.
#[track_caller]
fn assert_untrusted<'a>(out: &'a Output, port: u16, trusted: &str) -> &'a Output {
    out.assert_error(
        1,
        &format!(
            "{}SSL peer cert verification failed: the server's certificate is not signed by a \
             trusted CA (trusted: {trusted})",
            socket_step("localhost", port)
        ),
    )
}

/// Asserts that a run connecting to `host` on `port` was refused by the host name check:
/// exit 1 and `opening socket to HOST:PORT: SSL hostname verification failed: the server's
/// certificate is for CERT_NAME, not HOST`.
#[track_caller]
fn assert_hostname_refused<'a>(
    out: &'a Output,
    host: &str,
    port: u16,
    cert_name: &str,
) -> &'a Output {
    out.assert_error(
        1,
        &format!(
            "{}SSL hostname verification failed: the server's certificate is for {cert_name}, \
             not {host}",
            socket_step(host, port)
        ),
    )
}

#[test]
fn wrong_host_name_is_refused() {
    let server = TlsServer::start("wrong-host", false, AfterFailure::Drain);
    let ca = pki("ca.pem");
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("amqps://guest:guest@{host}:{}", server.port());
        let out = declare(&["--url", &url, "--cacert", &ca], "tls-wrong-host");
        assert_hostname_refused(&out, host, server.port(), "wrong-host.invalid").assert_no_stdout();
    }
}

#[test]
fn expired_server_certificate_is_refused() {
    let server = TlsServer::start("expired", false, AfterFailure::Drain);
    let ca = pki("ca.pem");
    let url = format!("amqps://guest:guest@localhost:{}", server.port());
    let out = declare(&["--url", &url, "--cacert", &ca], "tls-expired");
    out.assert_error(
        1,
        &format!(
            "{}SSL peer cert verification failed: the server's certificate expired on \
             2021-01-01 00:00:00 UTC",
            socket_step("localhost", server.port())
        ),
    )
    .assert_no_stdout();
}

#[test]
fn amqps_to_a_plain_amqp_port_says_so() {
    let port = broker_port();
    let url = format!("amqps://guest:guest@localhost:{port}");
    let ca = pki("ca.pem");
    let out = declare(&["--url", &url, "--cacert", &ca], "tls-plain-port");
    out.assert_error(
        1,
        &format!(
            "{}SSL handshake failed: the server did not answer in TLS (is this a plain AMQP \
             port? use amqp:// then)",
            socket_step("localhost", port)
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Client certificates

#[test]
fn mutual_tls_presents_the_client_certificate() {
    let queue = TestQueue::declare("tls-mutual");
    let (ca, cert, key) = (pki("ca.pem"), pki("client.pem"), pki("client.key"));
    let url = tls_url("localhost", "");
    let options = client_cert_options(&url, &ca, &cert, &key);
    let consumer = spawn(
        CONSUME,
        [&options[..], &["-q", queue.name(), "-c", "1", "cat"]].concat(),
        None,
        &[],
    );
    wait_for_consumer(queue.name());
    let subjects: Vec<String> = ctl_rows(&["list_connections", "ssl", "peer_cert_subject"])
        .into_iter()
        .filter(|row| row["ssl"] == true)
        .map(|row| row["peer_cert_subject"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains(&format!("CN={CLIENT_CN}"))),
        "no TLS connection with the client certificate: {subjects:?}"
    );
    publish(queue.name(), b"mutual");
    assert_consumed(consumer, b"mutual");
}

#[test]
fn the_key_may_be_in_the_certificate_file() {
    let queue = TestQueue::named("tls-combined-pem");
    let combined = std::fs::read_to_string(pki("client.pem")).unwrap()
        + &std::fs::read_to_string(pki("client.key")).unwrap();
    let combined = TempFile::new(combined.as_bytes());
    let ca = pki("ca.pem");
    let url = tls_url("localhost", "");
    let out = declare(
        &[
            "--url",
            &url,
            "--cacert",
            &ca,
            "--cert",
            combined.path_str(),
        ],
        queue.name(),
    );
    assert_declared(&out, &queue);
}

#[test]
fn client_certificate_required_but_missing() {
    let ca = pki("ca.pem");
    // The server's alert reaches the client.
    let server = TlsServer::start("server", true, AfterFailure::Drain);
    let url = format!("amqps://guest:guest@localhost:{}", server.port());
    let out = declare(&["--url", &url, "--cacert", &ca], "tls-no-client-cert");
    out.assert_error(
        1,
        &format!(
            "{}SSL handshake failed: the server requires a client certificate (give one with \
             --cert and --key)",
            socket_step("localhost", server.port())
        ),
    )
    .assert_no_stdout();
    // The server resets the connection (as RabbitMQ does): the alert may be lost.
    let server = TlsServer::start("server", true, AfterFailure::Close);
    let url = format!("amqps://guest:guest@localhost:{}", server.port());
    for _ in 0..3 {
        let out = declare(&["--url", &url, "--cacert", &ca], "tls-no-client-cert");
        out.assert_error_starts(
            1,
            &format!(
                "{}SSL handshake failed: the server ",
                socket_step("localhost", server.port())
            ),
        );
        let line = out.first_stderr_line();
        assert!(
            line.contains("client certificate") && line.contains("--cert and --key"),
            "{out:?}"
        );
    }
}

#[test]
fn client_certificate_refused_by_the_server_is_named() {
    // server.pem is for TLS servers only (extendedKeyUsage serverAuth).
    let server = TlsServer::start("server", true, AfterFailure::Drain);
    let (ca, cert, key) = (pki("ca.pem"), pki("server.pem"), pki("server.key"));
    let url = format!("amqps://guest:guest@localhost:{}", server.port());
    let out = declare(
        &client_cert_options(&url, &ca, &cert, &key),
        "tls-bad-client-cert",
    );
    out.assert_error_starts(
        1,
        &format!(
            "{}SSL handshake failed: the server rejected the client certificate --cert {cert} \
             (alert: ",
            socket_step("localhost", server.port())
        ),
    );
}

#[test]
fn sasl_external_logs_in_as_the_certificate_cn() {
    let vhost = unique_name("tls-external");
    ctl(&["-q", "add_vhost", &vhost]);
    let users = ctl_rows(&["list_users"]);
    if !users.iter().any(|row| row["user"] == CLIENT_CN) {
        ctl(&["-q", "add_user", CLIENT_CN, &unique_name("unused-password")]);
    }
    // Only the certificate's user may use this vhost: guest may not.
    ctl(&[
        "-q",
        "set_permissions",
        "-p",
        &vhost,
        CLIENT_CN,
        ".*",
        ".*",
        ".*",
    ]);
    let (ca, cert, key) = (pki("ca.pem"), pki("client.pem"), pki("client.key"));
    let queue = unique_name("tls-external");
    let url = format!(
        "amqps://localhost:{}/{vhost}?auth_mechanism=external",
        tls_port()
    );
    let out = declare(&client_cert_options(&url, &ca, &cert, &key), &queue);
    let in_vhost: Vec<String> = ctl_rows(&["list_queues", "-p", &vhost, "name"])
        .into_iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect();
    // Without a certificate, EXTERNAL has nothing to log in with.
    let refused = declare(&["--url", &url, "--cacert", &ca], &queue);
    // guest (PLAIN) may not use the vhost: the login above was the certificate's.
    let guest_url = format!("amqps://guest:guest@localhost:{}/{vhost}", tls_port());
    let guest = declare(&client_cert_options(&guest_url, &ca, &cert, &key), &queue);
    ctl(&["-q", "delete_vhost", &vhost]);
    out.assert_printed(format!("{queue}\n"));
    assert_eq!(in_vhost, vec![queue.clone()]);
    refused.assert_error_starts(
        1,
        "logging in to AMQP server: server connection error 403, message: ACCESS_REFUSED - \
         Login was refused using authentication mechanism EXTERNAL",
    );
    guest.assert_error_starts(
        1,
        "logging in to AMQP server: server connection error 530, message: NOT_ALLOWED - access \
         to vhost",
    );
}

// ---------------------------------------------------------------------------------------------
// Unreadable or malformed files

#[test]
fn unreadable_or_malformed_pem_files_are_named() {
    let port = tls_port();
    let url = tls_url("localhost", "");
    let step = socket_step("localhost", port);
    let (ca, cert, key) = (pki("ca.pem"), pki("client.pem"), pki("client.key"));
    let missing = format!("{}/no-such-file.pem", std::env::temp_dir().display());
    let garbage = TempFile::new(b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--cacert", &missing],
            format!("reading --cacert {missing}: no such file or directory"),
        ),
        (
            vec!["--cacert", &key],
            format!("--cacert {key}: no certificate found in PEM file"),
        ),
        (
            vec!["--cacert", &ca, "--cert", &key, "--key", &key],
            format!("--cert {key}: no certificate found in PEM file"),
        ),
        (
            vec!["--cacert", &ca, "--cert", &cert, "--key", &cert],
            format!("--key {cert}: no private key found in PEM file"),
        ),
        (
            vec!["--cacert", &ca, "--cert", &cert],
            format!("--cert {cert}: no private key in the file and no --key given"),
        ),
        (
            vec!["--cacert", &ca, "--key", &key],
            "--key given without --cert".to_string(),
        ),
        (
            vec!["--cacert", &ca, "--cert", &cert, "--key", &missing],
            format!("reading --key {missing}: no such file or directory"),
        ),
    ];
    for (options, expected) in cases {
        let mut args = vec!["--url", url.as_str()];
        args.extend_from_slice(&options);
        let out = declare(&args, "tls-files");
        out.assert_error(1, &format!("{step}{expected}"))
            .assert_no_stdout();
    }
    // Malformed PEM and a key that belongs to another certificate.
    let out = declare(
        &["--url", &url, "--cacert", garbage.path_str()],
        "tls-files",
    );
    out.assert_error_starts(
        1,
        &format!("{step}--cacert {}: malformed PEM: ", garbage.path_str()),
    );
    let other_key = pki("server.key");
    let out = declare(
        &client_cert_options(&url, &ca, &cert, &other_key),
        "tls-files",
    );
    out.assert_error(
        1,
        &format!("{step}--key {other_key} does not match the certificate in --cert {cert}"),
    );
}

#[test]
fn tls_files_are_ignored_without_tls() {
    // As the original: --cacert and friends only matter for amqps.
    let queue = TestQueue::named("tls-files-plain");
    let out = run(
        DECLARE,
        [
            "--url",
            &broker_url(),
            "--cacert",
            "/nonexistent/ca.pem",
            "-q",
            queue.name(),
        ],
        b"",
        &[],
    );
    assert_declared(&out, &queue);
}

// ---------------------------------------------------------------------------------------------
// Legacy certificates: what OpenSSL, so the original, accepts (certificates made by each test
// with `openssl`, served by a TLS front for the node's plain port)

/// Runs the original C tool (`/usr/bin/amqp-declare-queue`) with `args`, as the compat tests
/// do: it connects where ours must.
#[track_caller]
fn c_declare(args: &[&str]) -> std::process::Output {
    std::process::Command::new("/usr/bin/amqp-declare-queue")
        .args(args)
        .env_remove("AMQP_URL")
        .output()
        .expect("the original amqp-declare-queue (/usr/bin)")
}

/// `amqps://guest:guest@HOST:PORT` + `rest`.
fn url_at(host: &str, port: u16, rest: &str) -> String {
    format!("amqps://guest:guest@{host}:{port}{rest}")
}

#[test]
fn self_signed_server_certificate_given_as_cacert_is_accepted() {
    // The common `openssl req -x509 -subj /CN=localhost`: CA:TRUE, the name only in the CN.
    let certs = Certs::new("tls-self-signed");
    let (cert, key) = certs.self_signed("self", "localhost");
    let proxy = TlsProxy::start(&cert, &key, Versions::Default);
    let url = url_at("localhost", proxy.port(), "");
    let queue = TestQueue::named("tls-self-signed");
    let out = declare(&["--url", &url, "--cacert", &cert], queue.name());
    assert_declared(&out, &queue);
    assert_eq!(out.stderr, "", "{out:?}");
    // The original connects too.
    let c = c_declare(&[
        "--ssl",
        "--url",
        &url,
        "--cacert",
        &cert,
        "-q",
        queue.name(),
    ]);
    assert!(c.status.success(), "C: {c:?}");
    // Still verified: the name, and the trust.
    let other_url = url_at("127.0.0.1", proxy.port(), "");
    let out = declare(&["--url", &other_url, "--cacert", &cert], "tls-self-signed");
    assert_hostname_refused(&out, "127.0.0.1", proxy.port(), "localhost");
    let ca = pki("ca.pem");
    let out = declare(
        &["--url", &url, "--cacert", &ca, "--no-default-cert-paths"],
        "tls-self-signed",
    );
    assert_untrusted(&out, proxy.port(), &format!("--cacert {ca} only"));
}

/// OpenSSL runs in the helper program `amqp-tools-tls-legacy`, looked for next to the tool,
/// then in /usr/libexec/amqp-tools; a tool copied alone says what it misses for a legacy
/// certificate, in one line, and still connects where webpki decides alone.
#[test]
fn a_legacy_certificate_without_the_helper_names_it() {
    let certs = Certs::new("tls-no-helper");
    let (cert, key) = certs.self_signed("self", "localhost");
    let proxy = TlsProxy::start(&cert, &key, Versions::Default);
    let alone = TempDir::new("tls-no-helper");
    let tool = alone.path().join(DECLARE);
    std::fs::copy(bin(DECLARE), &tool).expect("copy the tool");
    let queue = TestQueue::named("tls-no-helper");
    let url = url_at("localhost", proxy.port(), "");
    let mut command = std::process::Command::new(&tool);
    command
        .args(["--url", &url, "--cacert", &cert, "-q", queue.name()])
        .env_remove("AMQP_URL");
    // A test thread forking meanwhile holds the copy open for writing until its exec:
    // "Text file busy" (ETXTBSY) for a few milliseconds. Try again.
    let mut tries = 0;
    let out = loop {
        match command.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => break result.expect("run the copied tool"),
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if std::path::Path::new("/usr/libexec/amqp-tools/amqp-tools-tls-legacy").is_file() {
        // The Debian package is installed: the copy finds its helper there.
        assert!(out.status.success(), "{out:?}");
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        stderr,
        format!(
            "{}SSL peer cert verification failed: the server's certificate was rejected: the \
             check of a legacy certificate needs amqp-tools-tls-legacy, which was not found next \
             to this program or in /usr/libexec/amqp-tools\n",
            socket_step("localhost", proxy.port())
        )
    );
    // The node's own certificate (webpki alone) needs no helper.
    let port = tls_port();
    let url = url_at("localhost", port, "");
    let out = std::process::Command::new(&tool)
        .args([
            "--url",
            &url,
            "--cacert",
            &pki("ca.pem"),
            "-q",
            queue.name(),
        ])
        .env_remove("AMQP_URL")
        .output()
        .expect("run the copied tool");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn version_1_server_certificate_is_accepted() {
    // `openssl x509 -req` without an extension file: X.509 v1, the name in the CN.
    let certs = Certs::new("tls-v1-server");
    let ca = pki("ca.pem");
    for key_type in ["rsa:2048", "ec"] {
        let (cert, key) = certs.signed("v1", "localhost", "ca", None, key_type);
        assert_eq!(x509_version(&cert), "1");
        // TLS 1.3, and TLS 1.2 where the certificate's key signs the key exchange.
        for versions in [Versions::Default, Versions::Tls12] {
            let proxy = TlsProxy::start(&cert, &key, versions);
            let url = url_at("localhost", proxy.port(), "");
            let queue = TestQueue::named("tls-v1-server");
            let out = declare(&["--url", &url, "--cacert", &ca], queue.name());
            assert_declared(&out, &queue);
            if versions == Versions::Default && key_type == "ec" {
                let c = c_declare(&["--ssl", "--url", &url, "--cacert", &ca, "-q", queue.name()]);
                assert!(c.status.success(), "C: {c:?}");
            }
        }
    }
    // Signed by a CA not trusted: refused with the usual reason.
    let (cert, key) = certs.signed("v1-other", "localhost", "other-ca", None, "rsa:2048");
    let proxy = TlsProxy::start(&cert, &key, Versions::Default);
    let url = url_at("localhost", proxy.port(), "");
    assert_untrusted(
        &declare(&["--url", &url, "--cacert", &ca], "tls-v1-server"),
        proxy.port(),
        &format!("--cacert {ca} and the system's CAs"),
    );
}

#[test]
fn a_server_signing_with_a_key_not_its_certificates_is_refused() {
    // The certificate is good; the handshake signature is made with another key.
    let certs = Certs::new("tls-v1-wrong-key");
    let (cert, _) = certs.signed("v1", "localhost", "ca", None, "rsa:2048");
    let (_, other_key) = certs.signed("other", "localhost", "ca", None, "rsa:2048");
    let ca = pki("ca.pem");
    for versions in [Versions::Default, Versions::Tls12] {
        let proxy = TlsProxy::start(&cert, &other_key, versions);
        for rest in ["", "?verify=verify_none"] {
            let url = url_at("localhost", proxy.port(), rest);
            let out = declare(&["--url", &url, "--cacert", &ca], "tls-v1-wrong-key");
            assert_eq!(out.code, 1, "{out:?}");
            assert_eq!(
                out.stderr_lines().last().copied(),
                Some(
                    format!(
                        "{}SSL peer cert verification failed: the server's certificate has a \
                         bad signature",
                        socket_step("localhost", proxy.port())
                    )
                    .as_str()
                ),
                "{out:?}"
            );
            out.assert_no_stdout();
        }
    }
}

#[test]
fn host_name_only_in_the_subject_cn_is_accepted() {
    // Version 3, no subjectAltName: OpenSSL falls back to the CN (RFC 6125 6.4.4).
    let certs = Certs::new("tls-cn-only");
    let ca = pki("ca.pem");
    // A TLS front with a certificate for `cn` signed by the test CA, with `extensions`; its URL.
    let serve = |name: &str, cn: &str, extensions: &str| {
        let (cert, key) = certs.signed(name, cn, "ca", Some(extensions), "rsa:2048");
        let proxy = TlsProxy::start(&cert, &key, Versions::Default);
        let url = url_at("localhost", proxy.port(), "");
        (cert, proxy, url)
    };
    let (cert, _proxy, url) = serve("cn", "localhost", "basicConstraints=CA:FALSE");
    assert_eq!(x509_version(&cert), "3");
    let queue = TestQueue::named("tls-cn-only");
    assert_declared(
        &declare(&["--url", &url, "--cacert", &ca], queue.name()),
        &queue,
    );
    let c = c_declare(&["--ssl", "--url", &url, "--cacert", &ca, "-q", queue.name()]);
    assert!(c.status.success(), "C: {c:?}");
    // Another name in the CN: refused.
    let (_, proxy, url) = serve(
        "cn-wrong",
        "wrong-host.invalid",
        "basicConstraints=CA:FALSE",
    );
    let out = declare(&["--url", &url, "--cacert", &ca], "tls-cn-only");
    assert_hostname_refused(&out, "localhost", proxy.port(), "wrong-host.invalid");
    // A DNS name in the subjectAltName wins over the CN: refused.
    let (_, proxy, url) = serve("san-first", "localhost", "subjectAltName=DNS:other.invalid");
    let out = declare(&["--url", &url, "--cacert", &ca], "tls-cn-only");
    assert_hostname_refused(&out, "localhost", proxy.port(), "other.invalid");
    let c = c_declare(&["--ssl", "--url", &url, "--cacert", &ca, "-q", "tls-cn-only"]);
    assert!(!c.status.success(), "C: {c:?}");
}

#[test]
fn version_1_client_certificate_is_presented() {
    let certs = Certs::new("tls-v1-client");
    let (cert, key) = certs.signed("client", "amqp-tools-v1-client", "ca", None, "rsa:2048");
    assert_eq!(x509_version(&cert), "1");
    let ca = pki("ca.pem");
    let url = tls_url("localhost", "");
    let queue = TestQueue::named("tls-v1-client");
    let options = client_cert_options(&url, &ca, &cert, &key);
    assert_declared(&declare(&options, queue.name()), &queue);
    let c = c_declare(&[&["--ssl"][..], &options, &["-q", queue.name()]].concat());
    assert!(c.status.success(), "C: {c:?}");
    // A key that is not the certificate's is still caught before connecting.
    let other_key = pki("client.key");
    declare(
        &client_cert_options(&url, &ca, &cert, &other_key),
        "tls-v1-client",
    )
    .assert_error(
        1,
        &format!(
            "{}--key {other_key} does not match the certificate in --cert {cert}",
            socket_step("localhost", tls_port())
        ),
    );
}

#[test]
fn verify_none_in_the_url_turns_verification_off_with_a_warning() {
    // A certificate for another host, from a CA not trusted.
    let certs = Certs::new("tls-verify-none");
    let (cert, key) = certs.signed(
        "untrusted",
        "wrong-host.invalid",
        "other-ca",
        Some("subjectAltName=DNS:wrong-host.invalid"),
        "rsa:2048",
    );
    let proxy = TlsProxy::start(&cert, &key, Versions::Default);
    let queue = TestQueue::named("tls-verify-none");
    let url = url_at("localhost", proxy.port(), "?verify=verify_none");
    let out = declare(&["--url", &url], queue.name());
    assert_declared(&out, &queue);
    assert_eq!(
        out.stderr,
        "warning: verify=verify_none in the URL: the server's certificate and host name are not \
         verified\n"
    );
    // Never the default, and verify_peer says so explicitly.
    for rest in ["", "?verify=verify_peer"] {
        let url = url_at("localhost", proxy.port(), rest);
        declare(&["--url", &url], "tls-verify-none").assert_error_starts(
            1,
            &format!(
                "{}SSL peer cert verification failed: ",
                socket_step("localhost", proxy.port())
            ),
        );
    }
    let url = url_at("localhost", proxy.port(), "?verify=no");
    declare(&["--url", &url], "tls-verify-none").assert_error(
        1,
        &format!(
            "Parsing URL 'amqps://guest:****@localhost:{}?verify=no': verify must be \
             verify_peer or verify_none",
            proxy.port()
        ),
    );
}
