//! Helpers for the TLS tests: the test PKI that `scripts/test` generates (via
//! `scripts/rabbitmq start DIR --tls CERTDIR`) and a small rustls server for the handshake
//! failures a RabbitMQ node with a good certificate cannot show (expired or wrong-host server
//! certificates, a server that requires a client certificate).
//!
//! The tests need `AMQP_TEST_TLS_PORT` and `AMQP_TEST_TLS_DIR`; they fail, never skip,
//! without them.
#![allow(dead_code)]

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The CN of the test client certificate (`client.pem`), the user SASL EXTERNAL logs in as.
pub const CLIENT_CN: &str = "amqp-tools-test-client";

fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: run scripts/test, which starts the private broker with a TLS \
             listener (or `scripts/rabbitmq start DIR --tls DIR/tls` and `. DIR/env`)"
        ),
    }
}

/// The port of the private node's TLS listener (`AMQP_TEST_TLS_PORT`).
pub fn tls_port() -> u16 {
    let port = required_env("AMQP_TEST_TLS_PORT");
    port.parse()
        .unwrap_or_else(|_| panic!("AMQP_TEST_TLS_PORT is not a port: {port}"))
}

/// A file of the test PKI (`AMQP_TEST_TLS_DIR`): `ca.pem`, `server.pem`, `client.pem`,
/// `client.key`, `expired.pem`, `wrong-host.pem`, `other-ca.pem`, ... (see
/// `generate_test_pki` in scripts/rabbitmq).
pub fn pki(name: &str) -> String {
    let path = PathBuf::from(required_env("AMQP_TEST_TLS_DIR")).join(name);
    assert!(
        path.is_file(),
        "{} is missing from the test PKI",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// An `amqps://` URL for the private node's TLS listener: `amqps://guest:guest@HOST:PORT`
/// followed by `rest` (path and query).
pub fn tls_url(host: &str, rest: &str) -> String {
    format!("amqps://guest:guest@{host}:{}{rest}", tls_port())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(name: &str) -> Vec<CertificateDer<'static>> {
    let path = pki(name);
    CertificateDer::pem_file_iter(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn key(name: &str) -> PrivateKeyDer<'static> {
    let path = pki(name);
    PrivateKeyDer::from_pem_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What the test server does once a handshake has failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Sends its alert, then reads what the client still sends before closing: the client
    /// reads the alert.
    Drain,
    /// Sends its alert and closes at once, unread data left: the client may see a reset
    /// instead of the alert (what RabbitMQ does).
    Close,
}

/// A TLS server on 127.0.0.1 (an ephemeral port) presenting `NAME.pem`/`NAME.key` of the test
/// PKI, optionally requiring a client certificate signed by the test CA. It only does TLS
/// handshakes: enough for failures that happen before any AMQP. Stops when dropped.
pub struct TlsServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TlsServer {
    /// Serves the certificate `name` (`name.pem`, `name.key`).
    pub fn start(name: &str, require_client_cert: bool, after_failure: AfterFailure) -> Self {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(certs("ca.pem"));
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = Arc::new(
            builder
                .with_single_cert(certs(&format!("{name}.pem")), key(&format!("{name}.key")))
                .expect("server certificate"),
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let config = config.clone();
                    std::thread::spawn(move || serve(config, stream, after_failure));
                }
            }
        });
        TlsServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(config: Arc<ServerConfig>, mut tcp: TcpStream, after_failure: AfterFailure) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut conn) = ServerConnection::new(config) else {
        return;
    };
    let mut failed = false;
    while conn.is_handshaking() {
        // On failure rustls has already tried to send its alert.
        if conn.complete_io(&mut tcp).is_err() {
            failed = true;
            break;
        }
    }
    if failed && after_failure == AfterFailure::Close {
        return;
    }
    // Read (and drop) whatever the client sends until it closes.
    let _ = tcp.shutdown(Shutdown::Write);
    let mut buffer = [0u8; 4096];
    while matches!(tcp.read(&mut buffer), Ok(n) if n > 0) {}
}
