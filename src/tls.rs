//! TLS for `amqps://` and `--ssl`: the rustls client configuration built from `--cacert`,
//! `--cert`, `--key` and `--no-default-cert-paths`, and one-line descriptions of what failed.
//!
//! rustls with the ring provider. The server's certificate chain and name are verified (the
//! original's `verify_peer` and `verify_hostname`) by [`ServerVerifier`]: webpki, and OpenSSL
//! for the legacy certificates the original accepts and webpki refuses; only
//! `verify=verify_none` in the URL turns this off, with a warning on stderr. The trusted
//! CAs are the `--cacert` PEM file plus the system's trust store (rustls-native-certs: Debian's
//! `/etc/ssl/certs`, or `SSL_CERT_FILE`/`SSL_CERT_DIR`), the latter left out with
//! `--no-default-cert-paths`. The name checked is the host as given, a DNS name or an IP
//! address (which matches an IP address in the certificate's subjectAltName). `--cert` and
//! `--key` give the client certificate for mutual TLS (and SASL EXTERNAL).
//!
//! Errors name what failed, after the original's `opening socket to HOST:PORT: ` context:
//! `reading --cacert PATH: no such file or directory`, `--cert PATH: no certificate found in
//! PEM file`, `SSL peer cert verification failed: ...`, `SSL hostname verification failed:
//! ...`, `SSL handshake failed: ...` (the last three start with the texts of rabbitmq-c's
//! `amqp_error_string2`, as later rabbitmq-c versions print them).

use crate::address::TlsFiles;
use crate::error::describe_io;
use crate::tls_verify::{self, LegacyFailure, ServerVerifier};
use lapin::tcp::RustlsConnector;
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{AlertDescription, CertificateError, ClientConfig, RootCertStore, SignatureScheme};
use std::error::Error as StdError;
use std::fmt;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The TLS side of one connection: the rustls configuration and what the handshake showed.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    client_cert: Arc<ClientCert>,
    files: TlsFiles,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("files", &self.files)
            .field("client_cert", &self.client_cert.key.is_some())
            .finish()
    }
}

impl ClientTls {
    /// Reads the files named by `files` and builds the client configuration.
    ///
    /// Errors (one line, naming the option and file): `reading --cacert PATH: CAUSE`,
    /// `--cacert PATH: no certificate found in PEM file`, `--cacert PATH: malformed PEM: ...`,
    /// `--cacert PATH: no usable CA certificate in PEM file`, the same for `--cert`,
    /// `--key PATH: no private key found in PEM file`, `--key PATH: unusable private key: ...`,
    /// `--key PATH does not match the certificate in --cert PATH`, `--key given without
    /// --cert`, `--cert PATH: no private key in the file and no --key given`, and no CA to
    /// trust at all.
    pub fn new(files: &TlsFiles) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let algorithms = provider.signature_verification_algorithms;
        let verifier = if files.verify_none {
            warn_verify_none();
            ServerVerifier::verify_none(algorithms)
        } else {
            let (roots, root_ders) = trusted_roots(files)?;
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("setting up TLS: {e}"))?;
            ServerVerifier::new(webpki, root_ders, algorithms)
        };
        let key = client_identity(files, &provider)?;
        let client_cert = Arc::new(ClientCert {
            key,
            requested: AtomicBool::new(false),
        });
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("setting up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(client_cert.clone());
        Ok(ClientTls {
            config: Arc::new(config),
            client_cert,
            files: files.clone(),
        })
    }

    /// The connector that performs the handshake over an open TCP stream
    /// (`AsyncTcpStream::into_rustls`).
    pub fn connector(&self) -> RustlsConnector {
        RustlsConnector::from(self.config.clone())
    }

    /// Marks a failed TLS handshake so that [`ClientTls::describe`] renders it.
    pub fn handshake_error(&self, error: io::Error) -> io::Error {
        let message = self.describe_handshake(&error);
        io::Error::new(error.kind(), HandshakeFailure(message))
    }

    /// The one-line cause of a failed connection attempt (TCP connect or TLS handshake, as
    /// marked by [`ClientTls::handshake_error`]), or `None` when it is not about TLS.
    pub fn describe(&self, error: &io::Error) -> Option<String> {
        find::<HandshakeFailure>(error).map(|f| f.0.clone())
    }

    /// A TLS failure that shows only after the handshake: with TLS 1.3, a server that demands
    /// a client certificate says so with an alert the client reads after its last handshake
    /// message, i.e. when lapin reads the server's first AMQP frame. `None` when `error` is not
    /// a TLS error.
    ///
    /// When the alert is lost (the server resets the connection while our first AMQP bytes are
    /// unread, as RabbitMQ does), a connection lost after the server asked for a client
    /// certificate and got none is described as such.
    pub fn describe_late(&self, error: &lapin::Error) -> Option<String> {
        if let Some(tls) = find::<rustls::Error>(error) {
            return Some(self.describe_rustls(tls));
        }
        let lapin::ErrorKind::IOError(io) = error.kind() else {
            return None;
        };
        if self.cert_missing() {
            return Some(format!(
                "SSL handshake failed: the server asked for a client certificate and, given \
                 none, closed the connection ({}); give one with --cert and --key",
                describe_io(io)
            ));
        }
        if self.cert_sent() {
            return Some(format!(
                "SSL handshake failed: the server closed the connection ({}) after receiving \
                 the client certificate{}; it probably does not accept it",
                describe_io(io),
                self.cert_option()
            ));
        }
        None
    }

    fn describe_handshake(&self, error: &io::Error) -> String {
        if let Some(tls) = find::<rustls::Error>(error) {
            return self.describe_rustls(tls);
        }
        if self.cert_missing() {
            return self.missing_cert_message();
        }
        let cause = match error.kind() {
            io::ErrorKind::UnexpectedEof => "the server closed the connection".to_string(),
            _ => describe_io(error),
        };
        format!("SSL handshake failed: {cause}")
    }

    fn describe_rustls(&self, error: &rustls::Error) -> String {
        use rustls::Error as E;
        match error {
            E::InvalidCertificate(cert) => self.describe_server_cert(cert),
            E::AlertReceived(AlertDescription::CertificateRequired) => self.missing_cert_message(),
            E::AlertReceived(_) if self.cert_missing() => self.missing_cert_message(),
            E::AlertReceived(alert) if self.cert_sent() && is_certificate_alert(*alert) => {
                format!(
                    "SSL handshake failed: the server rejected the client certificate{} \
                     (alert: {})",
                    self.cert_option(),
                    words(&format!("{alert:?}"))
                )
            }
            E::AlertReceived(alert) => format!(
                "SSL handshake failed: the server sent the alert '{}'",
                words(&format!("{alert:?}"))
            ),
            E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
                "SSL handshake failed: the server did not answer in TLS \
                 (is this a plain AMQP port? use amqp:// then)"
                    .to_string()
            }
            E::InappropriateHandshakeMessage { .. } => {
                "SSL handshake failed: the server sent an unexpected handshake message".to_string()
            }
            E::PeerIncompatible(why) => failed_because("the server is incompatible", why),
            E::PeerMisbehaved(why) => failed_because("the server misbehaved", why),
            E::InvalidCertRevocationList(why) => {
                failed_because("invalid certificate revocation list", why)
            }
            E::InvalidEncryptedClientHello(why) => {
                failed_because("encrypted client hello failed", why)
            }
            E::InconsistentKeys(_) => {
                "SSL handshake failed: the client certificate does not match its key".to_string()
            }
            E::NoCertificatesPresented => {
                "SSL handshake failed: the server sent no certificate".to_string()
            }
            E::General(what) => format!("SSL handshake failed: {what}"),
            E::Other(other) => format!("SSL handshake failed: {other}"),
            // The rest are displayed by rustls in words.
            other => format!("SSL handshake failed: {other}"),
        }
    }

    fn describe_server_cert(&self, error: &CertificateError) -> String {
        use CertificateError as C;
        let verify = "SSL peer cert verification failed: the server's certificate";
        match error {
            C::UnknownIssuer => format!("{verify} is not signed by a trusted CA ({})", {
                self.trust_summary()
            }),
            C::NotValidForNameContext {
                expected,
                presented,
            } => {
                let expected = expected.to_str();
                if presented.is_empty() {
                    format!(
                        "SSL hostname verification failed: the server's certificate names no \
                         host (subjectAltName), {expected} expected"
                    )
                } else {
                    format!(
                        "SSL hostname verification failed: the server's certificate is for {}, \
                         not {expected}",
                        presented
                            .iter()
                            .map(|name| subject_name(name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            }
            C::NotValidForName => "SSL hostname verification failed: the server's certificate \
                                   does not name the host"
                .to_string(),
            C::ExpiredContext { not_after, .. } => {
                format!("{verify} expired on {}", utc(*not_after))
            }
            C::Expired => format!("{verify} has expired"),
            C::NotValidYetContext { not_before, .. } => {
                format!("{verify} is not valid before {}", utc(*not_before))
            }
            C::NotValidYet => format!("{verify} is not valid yet"),
            C::Revoked => format!("{verify} has been revoked"),
            C::BadSignature => format!("{verify} has a bad signature"),
            C::BadEncoding => format!("{verify} is malformed"),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                format!("{verify} is not meant for a TLS server (extendedKeyUsage)")
            }
            C::UnhandledCriticalExtension => {
                format!("{verify} has an unsupported critical extension")
            }
            C::UnknownRevocationStatus => format!("{verify} has an unknown revocation status"),
            C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => {
                format!("{verify} is checked against an expired revocation list")
            }
            #[allow(deprecated)]
            C::UnsupportedSignatureAlgorithm | C::UnsupportedSignatureAlgorithmContext { .. } => {
                format!("{verify} is signed with an unsupported algorithm")
            }
            C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                format!("{verify} is signed with an algorithm its issuer's key does not use")
            }
            C::InvalidOcspResponse => format!("{verify} came with an invalid OCSP response"),
            C::ApplicationVerificationFailure => format!("{verify} was rejected"),
            C::Other(rustls::OtherError(inner)) => {
                if let Some(pki) = inner.downcast_ref::<webpki::Error>() {
                    format!("{verify} {}", webpki_words(pki))
                } else if let Some(openssl) = inner.downcast_ref::<LegacyFailure>() {
                    format!("{verify} was rejected: {openssl}")
                } else {
                    format!("{verify} was rejected: {inner}")
                }
            }
            _ => format!("{verify} was rejected"),
        }
    }

    /// Which CAs were trusted, for the unknown-CA message.
    fn trust_summary(&self) -> String {
        match (&self.files.cacert, self.files.no_default_cert_paths) {
            (Some(path), false) => {
                format!("trusted: --cacert {} and the system's CAs", path.display())
            }
            (Some(path), true) => format!("trusted: --cacert {} only", path.display()),
            (None, _) => "trusted: the system's CAs; give the server's CA with --cacert".into(),
        }
    }

    fn missing_cert_message(&self) -> String {
        "SSL handshake failed: the server requires a client certificate (give one with --cert \
         and --key)"
            .to_string()
    }

    /// ` --cert PATH`, naming the client certificate in messages.
    fn cert_option(&self) -> String {
        self.files
            .cert
            .as_deref()
            .map(|p| format!(" --cert {}", p.display()))
            .unwrap_or_default()
    }

    /// The server asked for a client certificate and we had none.
    fn cert_missing(&self) -> bool {
        self.client_cert.requested.load(Ordering::Relaxed) && self.client_cert.key.is_none()
    }

    /// The server asked for a client certificate and we sent ours.
    fn cert_sent(&self) -> bool {
        self.client_cert.requested.load(Ordering::Relaxed) && self.client_cert.key.is_some()
    }
}

/// A TLS handshake failure, already described (see [`ClientTls::handshake_error`]).
#[derive(Debug)]
struct HandshakeFailure(String);

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for HandshakeFailure {}

/// The client certificate, if any, and whether the server asked for one.
#[derive(Debug)]
struct ClientCert {
    key: Option<Arc<CertifiedKey>>,
    requested: AtomicBool,
}

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.requested.store(true, Ordering::Relaxed);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

/// The first `T` in the chain of `error`, looking inside `io::Error`s (whose `source` skips
/// the error they wrap).
fn find<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = match e.downcast_ref::<io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner),
                None => io.source(),
            },
            None => e.source(),
        };
    }
    None
}

/// A name from webpki's list of a certificate's names (`DnsName("host")`, `IpAddress(1.2.3.4)`)
/// as a person writes it.
fn subject_name(presented: &str) -> &str {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(presented)
}

/// Alerts a server sends when it does not accept the client certificate.
fn is_certificate_alert(alert: AlertDescription) -> bool {
    use AlertDescription as A;
    matches!(
        alert,
        A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied
            | A::HandshakeFailure
            | A::DecryptError
    )
}

/// `UnknownCA` → `unknown CA`, `BadCertificate` → `bad certificate`.
fn words(camel: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = camel.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let prev_lower = i > 0 && chars[i - 1].is_lowercase();
        if c.is_uppercase() && i > 0 && (prev_lower || next_lower) {
            out.push(' ');
        }
        if c.is_uppercase() && next_lower {
            out.extend(c.to_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

/// `SSL handshake failed: WHAT: WHY`, `why` (a rustls reason) in the words of its variant.
fn failed_because(what: &str, why: &impl std::fmt::Debug) -> String {
    format!(
        "SSL handshake failed: {what}: {}",
        variant_words(&format!("{why:?}"))
    )
}

/// The words of an enum variant's debug text, without its fields:
/// `NoCipherSuitesInCommon` → `no cipher suites in common`.
fn variant_words(debug: &str) -> String {
    let name = debug.split(['(', ' ', '{']).next().unwrap_or(debug);
    words(name)
}

/// What webpki found wrong with the server's certificate, after "the server's certificate".
#[allow(deprecated)]
fn webpki_words(error: &webpki::Error) -> &'static str {
    use webpki::Error as W;
    match error {
        W::BadDer | W::BadDerTime | W::TrailingData(_) => "is malformed",
        W::CaUsedAsEndEntity => "is a CA certificate, not a server certificate",
        W::CertDistrusted => "is distrusted",
        W::CertExpired { .. } => "has expired",
        W::InvalidCertValidity => "has an invalid validity period",
        W::CertNotValidForName(_) => "does not name the host",
        W::CertNotValidYet { .. } => "is not valid yet",
        W::CertRevoked => "has been revoked",
        W::UnknownIssuer => "is not signed by a trusted CA",
        W::UnknownRevocationStatus => "has an unknown revocation status",
        W::EmptyEkuExtension => "has an empty extendedKeyUsage",
        W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) => {
            "is not meant for a TLS server (extendedKeyUsage)"
        }
        W::EndEntityUsedAsCa => "chain uses a certificate that is not a CA as a CA",
        W::ExtensionValueInvalid => "has an invalid extension value",
        W::MalformedExtensions => "has malformed extensions",
        W::UnsupportedCriticalExtension => "has an unsupported critical extension",
        W::InvalidSerialNumber => "has an invalid serial number",
        W::InvalidSignatureForPublicKey => "has a bad signature",
        W::SignatureAlgorithmMismatch => "names two different signature algorithms",
        W::UnsupportedSignatureAlgorithm
        | W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKey
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "is signed with an unsupported algorithm"
        }
        W::UnsupportedCertVersion => "has an unsupported X.509 version",
        W::MalformedDnsIdentifier => "has a malformed DNS name",
        W::UnsupportedNameType => "names the host in an unsupported form",
        W::MalformedNameConstraint | W::InvalidNetworkMaskConstraint => {
            "chain has a malformed name constraint"
        }
        W::NameConstraintViolation => "violates a name constraint of its CA",
        W::PathLenConstraintViolated => "chain is longer than a CA allows",
        W::MaximumNameConstraintComparisonsExceeded
        | W::MaximumPathBuildCallsExceeded
        | W::MaximumPathDepthExceeded
        | W::MaximumSignatureChecksExceeded => "chain is too long or too complex to verify",
        W::CrlExpired { .. }
        | W::InvalidCrlNumber
        | W::InvalidCrlSignatureForPublicKey
        | W::IssuerNotCrlSigner
        | W::UnsupportedCrlIssuingDistributionPoint
        | W::UnsupportedCrlVersion
        | W::UnsupportedDeltaCrl
        | W::UnsupportedIndirectCrl
        | W::UnsupportedRevocationReason
        | W::UnsupportedRevocationReasonsPartitioning
        | W::UnsupportedCrlSignatureAlgorithm
        | W::UnsupportedCrlSignatureAlgorithmContext(_)
        | W::UnsupportedCrlSignatureAlgorithmForPublicKey
        | W::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_) => {
            "is checked against an unusable revocation list"
        }
        _ => "is not accepted",
    }
}

/// A certificate time as `YYYY-MM-DD HH:MM:SS UTC` (humantime's RFC 3339 rendering); a time
/// past the year 9999, which X.509 cannot encode, as its seconds since 1970.
fn utc(time: UnixTime) -> String {
    let secs = time.as_secs();
    let system = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs));
    let mut text = String::new();
    let written =
        system.map(|system| write!(text, "{}", humantime::format_rfc3339_seconds(system)));
    if !matches!(written, Some(Ok(()))) {
        return format!("{secs} seconds after 1970-01-01 UTC");
    }
    text.replace('T', " ").replace('Z', " UTC")
}

/// Reads a file named by option `option` (e.g. `--cacert`).
fn read(option: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path)
        .map_err(|e| format!("reading {option} {}: {}", path.display(), describe_io(&e)))
}

/// The certificates of a PEM file (at least one).
fn pem_certificates(
    option: &str,
    path: &Path,
    data: &[u8],
) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(option, path, &e))?;
    if certs.is_empty() {
        return Err(format!(
            "{option} {}: no certificate found in PEM file",
            path.display()
        ));
    }
    Ok(certs)
}

fn pem_error(option: &str, path: &Path, error: &pem::Error) -> String {
    format!("{option} {}: malformed PEM: {error}", path.display())
}

/// The CAs to trust: `--cacert` plus, unless `--no-default-cert-paths`, the system's; also as
/// DER, for OpenSSL's verification of legacy certificates.
fn trusted_roots(
    files: &TlsFiles,
) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    let mut roots = RootCertStore::empty();
    let mut ders = Vec::new();
    if let Some(path) = &files.cacert {
        let data = read("--cacert", path)?;
        let certs = pem_certificates("--cacert", path, &data)?;
        ders.extend(certs.iter().cloned());
        let (added, _ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "--cacert {}: no usable CA certificate in PEM file",
                path.display()
            ));
        }
    }
    if !files.no_default_cert_paths {
        // Unreadable entries of the system store are skipped, as OpenSSL does.
        let native = rustls_native_certs::load_native_certs();
        ders.extend(native.certs.iter().cloned());
        roots.add_parsable_certificates(native.certs);
    }
    if roots.is_empty() {
        return Err(if files.no_default_cert_paths {
            "no CA certificate to trust: --no-default-cert-paths needs --cacert".to_string()
        } else {
            "no CA certificate to trust: the system's trust store is empty; give the server's \
             CA with --cacert"
                .to_string()
        });
    }
    Ok((roots, ders))
}

/// Says once per run, on stderr, that `verify=verify_none` turned verification off.
fn warn_verify_none() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        crate::report::report(
            "warning: verify=verify_none in the URL: the server's certificate and host name \
             are not verified",
        )
    });
}

/// The client certificate and key from `--cert` and `--key` (the key may also be in the
/// `--cert` file).
fn client_identity(
    files: &TlsFiles,
    provider: &CryptoProvider,
) -> Result<Option<Arc<CertifiedKey>>, String> {
    let cert_path = match (&files.cert, &files.key) {
        (None, None) => return Ok(None),
        (None, Some(_)) => return Err("--key given without --cert".to_string()),
        (Some(cert), _) => cert,
    };
    let cert_data = read("--cert", cert_path)?;
    let certs = pem_certificates("--cert", cert_path, &cert_data)?;
    let (key_option, key_path, key_data) = match &files.key {
        Some(key_path) => ("--key", key_path.as_path(), read("--key", key_path)?),
        None => ("--cert", cert_path.as_path(), cert_data.clone()),
    };
    let key = match PrivateKeyDer::from_pem_slice(&key_data) {
        Ok(key) => key,
        Err(pem::Error::NoItemsFound) if files.key.is_none() => {
            return Err(format!(
                "--cert {}: no private key in the file and no --key given",
                cert_path.display()
            ));
        }
        Err(pem::Error::NoItemsFound) => {
            let encrypted = String::from_utf8_lossy(&key_data).contains("ENCRYPTED");
            return Err(format!(
                "{key_option} {}: no private key found in PEM file{}",
                key_path.display(),
                if encrypted {
                    " (encrypted keys are not supported)"
                } else {
                    ""
                }
            ));
        }
        Err(e) => return Err(pem_error(key_option, key_path, &e)),
    };
    let signing_key = provider.key_provider.load_private_key(key).map_err(|e| {
        format!(
            "{key_option} {}: unusable private key: {e}",
            key_path.display()
        )
    })?;
    let certified = CertifiedKey::new(certs, signing_key);
    match keys_match(&certified) {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(format!(
                "{key_option} {} does not match the certificate in --cert {}",
                key_path.display(),
                cert_path.display()
            ));
        }
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
            inner,
        )))) if inner.is::<webpki::Error>() => {
            let pki = inner
                .downcast_ref::<webpki::Error>()
                .map_or("", webpki_words);
            return Err(format!(
                "--cert {}: the certificate {pki}",
                cert_path.display()
            ));
        }
        Err(e) => {
            return Err(format!(
                "--cert {}: unusable certificate: {e}",
                cert_path.display()
            ));
        }
    }
    Ok(Some(Arc::new(certified)))
}

/// Whether the private key is the certificate's: rustls' check, or for an X.509 v1
/// certificate (which rustls cannot parse, and OpenSSL and the original accept) the same
/// comparison of public keys with the certificate's key as OpenSSL reads it.
fn keys_match(certified: &CertifiedKey) -> Result<(), rustls::Error> {
    let Some(cert) = certified.cert.first() else {
        return certified.keys_match();
    };
    if !tls_verify::is_version_1(cert) {
        return certified.keys_match();
    }
    let Some(key) = certified.key.public_key() else {
        return Err(rustls::InconsistentKeys::Unknown.into());
    };
    match tls_verify::public_key(cert)? == key {
        true => Ok(()),
        false => Err(rustls::InconsistentKeys::KeyMismatch.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn alert_names_read_as_words() {
        for (name, read) in [
            ("UnknownCA", "unknown CA"),
            ("BadCertificate", "bad certificate"),
            ("CertificateRequired", "certificate required"),
        ] {
            assert_eq!(words(name), read);
        }
    }

    #[test]
    fn certificate_names_read_as_written() {
        assert_eq!(subject_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(subject_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(subject_name("DirectoryName"), "DirectoryName");
    }

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(
            utc(UnixTime::since_unix_epoch(std::time::Duration::ZERO)),
            "1970-01-01 00:00:00 UTC"
        );
        assert_eq!(
            utc(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                1_709_210_096
            ))),
            "2024-02-29 12:34:56 UTC"
        );
    }

    /// Rust debug text in a message: `Name(`, `Name {`, `::` or a quoted field.
    fn debug_shape(message: &str) -> Option<&str> {
        let bytes = message.as_bytes();
        for (i, window) in bytes.windows(2).enumerate() {
            if window[0].is_ascii_alphanumeric() && window[1] == b'(' {
                return Some(&message[i..]);
            }
        }
        ["::", " {", "\"", "Other"]
            .into_iter()
            .find(|shape| message.contains(shape))
    }

    /// Every webpki certificate error, as rustls hands it over.
    #[allow(deprecated)]
    fn webpki_errors(time: UnixTime) -> Vec<webpki::Error> {
        vec![
            webpki::Error::BadDer,
            webpki::Error::BadDerTime,
            webpki::Error::CaUsedAsEndEntity,
            webpki::Error::CertDistrusted,
            webpki::Error::CertExpired {
                time,
                not_after: time,
            },
            webpki::Error::CertNotValidYet {
                time,
                not_before: time,
            },
            webpki::Error::CertRevoked,
            webpki::Error::CrlExpired {
                time,
                next_update: time,
            },
            webpki::Error::EmptyEkuExtension,
            webpki::Error::EndEntityUsedAsCa,
            webpki::Error::ExtensionValueInvalid,
            webpki::Error::InvalidCertValidity,
            webpki::Error::InvalidCrlNumber,
            webpki::Error::InvalidNetworkMaskConstraint,
            webpki::Error::InvalidSerialNumber,
            webpki::Error::InvalidCrlSignatureForPublicKey,
            webpki::Error::InvalidSignatureForPublicKey,
            webpki::Error::IssuerNotCrlSigner,
            webpki::Error::MalformedDnsIdentifier,
            webpki::Error::MalformedExtensions,
            webpki::Error::MalformedNameConstraint,
            webpki::Error::MaximumNameConstraintComparisonsExceeded,
            webpki::Error::MaximumPathBuildCallsExceeded,
            webpki::Error::MaximumPathDepthExceeded,
            webpki::Error::MaximumSignatureChecksExceeded,
            webpki::Error::NameConstraintViolation,
            webpki::Error::PathLenConstraintViolated,
            webpki::Error::RequiredEkuNotFound,
            webpki::Error::SignatureAlgorithmMismatch,
            webpki::Error::UnknownIssuer,
            webpki::Error::UnknownRevocationStatus,
            webpki::Error::UnsupportedCertVersion,
            webpki::Error::UnsupportedCriticalExtension,
            webpki::Error::UnsupportedCrlIssuingDistributionPoint,
            webpki::Error::UnsupportedCrlVersion,
            webpki::Error::UnsupportedDeltaCrl,
            webpki::Error::UnsupportedIndirectCrl,
            webpki::Error::UnsupportedNameType,
            webpki::Error::UnsupportedRevocationReason,
            webpki::Error::UnsupportedRevocationReasonsPartitioning,
            webpki::Error::UnsupportedCrlSignatureAlgorithm,
            webpki::Error::UnsupportedSignatureAlgorithm,
            webpki::Error::UnsupportedCrlSignatureAlgorithmForPublicKey,
            webpki::Error::UnsupportedSignatureAlgorithmForPublicKey,
        ]
    }

    /// Every certificate error: webpki's, wrapped, and rustls's own.
    #[allow(deprecated)]
    fn certificate_errors() -> Vec<CertificateError> {
        use rustls::pki_types::ServerName;
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000));
        let mut certificate_errors: Vec<CertificateError> = webpki_errors(time)
            .into_iter()
            .map(|e| CertificateError::Other(rustls::OtherError(Arc::new(e))))
            .collect();
        certificate_errors.extend([
            CertificateError::BadEncoding,
            CertificateError::Expired,
            CertificateError::ExpiredContext {
                time,
                not_after: time,
            },
            CertificateError::NotValidYet,
            CertificateError::NotValidYetContext {
                time,
                not_before: time,
            },
            CertificateError::Revoked,
            CertificateError::UnhandledCriticalExtension,
            CertificateError::UnknownIssuer,
            CertificateError::UnknownRevocationStatus,
            CertificateError::ExpiredRevocationList,
            CertificateError::ExpiredRevocationListContext {
                time,
                next_update: time,
            },
            CertificateError::BadSignature,
            CertificateError::UnsupportedSignatureAlgorithm,
            CertificateError::UnsupportedSignatureAlgorithmContext {
                signature_algorithm_id: vec![1, 2],
                supported_algorithms: Vec::new(),
            },
            CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
                signature_algorithm_id: vec![1],
                public_key_algorithm_id: vec![2],
            },
            CertificateError::NotValidForName,
            CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("example.com").unwrap(),
                presented: vec!["DnsName(\"other.example\")".into()],
            },
            CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("example.com").unwrap(),
                presented: Vec::new(),
            },
            CertificateError::InvalidPurpose,
            CertificateError::InvalidOcspResponse,
            CertificateError::ApplicationVerificationFailure,
            CertificateError::Other(rustls::OtherError(Arc::new(LegacyFailure(
                "invalid CA certificate".into(),
            )))),
        ]);
        certificate_errors
    }

    /// Every rustls error a connection can end with: the certificate errors and the others.
    fn every_tls_error() -> Vec<rustls::Error> {
        let mut errors: Vec<rustls::Error> = certificate_errors()
            .into_iter()
            .map(rustls::Error::InvalidCertificate)
            .collect();
        errors.extend([
            rustls::Error::InappropriateHandshakeMessage {
                expect_types: vec![rustls::HandshakeType::ServerHello],
                got_type: rustls::HandshakeType::Finished,
            },
            rustls::Error::PeerIncompatible(rustls::PeerIncompatible::NoCipherSuitesInCommon),
            rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::ServerRejectedEncryptedClientHello(None),
            ),
            rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::IncorrectBinder),
            rustls::Error::InvalidCertRevocationList(rustls::CertRevocationListError::BadSignature),
            rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
            rustls::Error::NoCertificatesPresented,
            rustls::Error::UnsupportedNameType,
            rustls::Error::DecryptError,
            rustls::Error::EncryptError,
            rustls::Error::PeerSentOversizedRecord,
            rustls::Error::HandshakeNotComplete,
            rustls::Error::NoApplicationProtocol,
            rustls::Error::FailedToGetCurrentTime,
            rustls::Error::FailedToGetRandomBytes,
            rustls::Error::BadMaxFragmentSize,
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch),
            rustls::Error::General("internal error".into()),
        ]);
        errors
    }

    #[test]
    #[allow(deprecated)]
    fn every_tls_error_is_described_in_words() {
        let tls = ClientTls::new(&TlsFiles {
            verify_none: true,
            ..TlsFiles::default()
        })
        .unwrap();
        for error in &every_tls_error() {
            let message = tls.describe_rustls(error);
            assert!(
                debug_shape(&message).is_none(),
                "{error:?} is described with debug text: {message}"
            );
            assert!(message.starts_with("SSL "), "{message}");
        }
    }

    /// A missing file is named; a key needs a certificate; without the default paths, a CA
    /// certificate is needed.
    #[test]
    fn missing_or_incomplete_files_are_refused_with_the_reason() {
        let cases = [
            (
                TlsFiles {
                    cacert: Some(PathBuf::from("/nonexistent/ca.pem")),
                    ..TlsFiles::default()
                },
                "reading --cacert /nonexistent/ca.pem: no such file or directory",
            ),
            (
                TlsFiles {
                    key: Some(PathBuf::from("/nonexistent/key.pem")),
                    no_default_cert_paths: false,
                    ..TlsFiles::default()
                },
                "--key given without --cert",
            ),
            (
                TlsFiles {
                    no_default_cert_paths: true,
                    ..TlsFiles::default()
                },
                "no CA certificate to trust: --no-default-cert-paths needs --cacert",
            ),
        ];
        for (files, reason) in cases {
            assert_eq!(ClientTls::new(&files).unwrap_err(), reason, "{files:?}");
        }
    }

    #[test]
    fn pem_without_certificates_is_named() {
        let dir = std::env::temp_dir().join(format!("amqp-tools-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let files = TlsFiles {
            cacert: Some(empty.clone()),
            ..TlsFiles::default()
        };
        let err = ClientTls::new(&files).unwrap_err();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            err,
            format!(
                "--cacert {}: no certificate found in PEM file",
                empty.display()
            )
        );
    }
}
