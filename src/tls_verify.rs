//! Verification of the server's certificate: webpki first, OpenSSL for the legacy certificates
//! the original tools (OpenSSL) accept and webpki refuses.
//!
//! The original verifies with OpenSSL (`verify_peer` and `verify_hostname` of rabbitmq-c's
//! `amqp_openssl.c`). webpki, which rustls uses, is stricter in three ways that break common
//! setups:
//! - a self-signed certificate made with `openssl req -x509` (marked `CA:TRUE`) given as
//!   `--cacert` and used by the server: `CaUsedAsEndEntity`;
//! - X.509 version 1 certificates (`openssl x509 -req` without an extension file): webpki does
//!   not parse them (`UnsupportedCertVersion`);
//! - a host name only in the subject CN, no subjectAltName: OpenSSL's `X509_check_host` falls
//!   back to the CN when the certificate has no DNS name (RFC 6125 section 6.4.4).
//!
//! Only those webpki verdicts are handed to OpenSSL, which then does what the original does:
//! `X509_verify_cert` against the same trusted CAs, with the purpose `ssl_server` and the host
//! checked by `X509_check_host` (no partial wildcards) or `X509_check_ip`. OpenSSL runs in a
//! helper program ([`crate::tls_legacy`]), so that the tools themselves do not load it. Every
//! other verdict (unknown CA, wrong host in a subjectAltName, expired) is webpki's. No
//! signature or chain is checked here by hand: the chain by OpenSSL, the handshake signatures
//! by webpki (ring), from the certificate's public key as x509-parser reads it when webpki
//! cannot parse the certificate.
//!
//! `?verify=verify_none` (RabbitMQ URI specification) skips the certificate checks; the
//! handshake signatures are still verified, as OpenSSL does with `SSL_VERIFY_NONE`.

use crate::tls_legacy::{self, Verdict};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, SignatureScheme};
use std::fmt;
use std::sync::Arc;

/// The server certificate verifier of a TLS connection (see the module documentation).
pub struct ServerVerifier {
    /// `None` with `verify=verify_none`.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// The trusted CAs (DER), for OpenSSL's store (built only when webpki refuses a legacy
    /// certificate).
    roots: Arc<Vec<CertificateDer<'static>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for ServerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerVerifier")
            .field("verify_peer", &self.webpki.is_some())
            .field("roots", &self.roots.len())
            .finish()
    }
}

impl ServerVerifier {
    /// A verifier trusting `roots` (already known to hold at least one CA webpki accepts).
    pub fn new(
        webpki: Arc<WebPkiServerVerifier>,
        roots: Vec<CertificateDer<'static>>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        ServerVerifier {
            webpki: Some(webpki),
            roots: Arc::new(roots),
            algorithms,
        }
    }

    /// A verifier that accepts any certificate (`verify=verify_none`) but still checks the
    /// handshake signatures against it.
    pub fn verify_none(algorithms: WebPkiSupportedAlgorithms) -> Self {
        ServerVerifier {
            webpki: None,
            roots: Arc::new(Vec::new()),
            algorithms,
        }
    }

    /// OpenSSL's verification (in the helper program) of a certificate webpki refused for a
    /// legacy reason.
    fn verify_with_openssl(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
    ) -> Result<(), Error> {
        let verdict = tls_legacy::verify(&self.roots, end_entity, intermediates, server_name)
            .map_err(|failure| other_error(LegacyFailure(failure.0)))?;
        let Err(verdict) = verdict else {
            return Ok(());
        };
        Err(match verdict {
            Verdict::NotValidForName(presented) => CertificateError::NotValidForNameContext {
                expected: server_name.to_owned(),
                presented,
            },
            Verdict::UnknownIssuer => CertificateError::UnknownIssuer,
            Verdict::Expired => CertificateError::Expired,
            Verdict::NotValidYet => CertificateError::NotValidYet,
            Verdict::BadSignature => CertificateError::BadSignature,
            Verdict::Revoked => CertificateError::Revoked,
            Verdict::InvalidPurpose => CertificateError::InvalidPurpose,
            Verdict::BadEncoding => CertificateError::BadEncoding,
            Verdict::Other(words) => return Err(other_error(LegacyFailure(words))),
        }
        .into())
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(error)) if is_legacy(&error, server_name) => {
                self.verify_with_openssl(end_entity, intermediates, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        if !is_version_1(cert) {
            return verify_tls12_signature(message, cert, dss, &self.algorithms);
        }
        // TLS 1.2 does not tie a scheme to one algorithm: try each candidate, as rustls does.
        let key = public_key(cert)?;
        let key = webpki::RawPublicKeyEntity::try_from(&key).map_err(pki_error)?;
        let mut last = None;
        for algorithm in self.candidates(dss.scheme)? {
            match key.verify_signature(*algorithm, message, dss.signature()) {
                Ok(()) => return Ok(HandshakeSignatureValid::assertion()),
                Err(e @ webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)) => {
                    last = Some(e)
                }
                Err(e) => return Err(pki_error(e)),
            }
        }
        Err(last.map_or_else(
            || rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into(),
            pki_error,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        if !is_version_1(cert) {
            return verify_tls13_signature(message, cert, dss, &self.algorithms);
        }
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &public_key(cert)?,
            dss,
            &self.algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ServerVerifier {
    /// The signature algorithms a TLS 1.2 scheme may stand for.
    fn candidates(
        &self,
        scheme: SignatureScheme,
    ) -> Result<&'static [&'static dyn rustls::pki_types::SignatureVerificationAlgorithm], Error>
    {
        self.algorithms
            .mapping
            .iter()
            .find(|(s, _)| *s == scheme)
            .map(|(_, algorithms)| *algorithms)
            .ok_or_else(|| rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into())
    }
}

/// Whether webpki refused the certificate for a reason OpenSSL does not share: a CA
/// certificate used as the server's, an X.509 v1 certificate, or a name mismatch on a
/// certificate without DNS names in its subjectAltName (OpenSSL then reads the subject CN).
fn is_legacy(error: &CertificateError, server_name: &ServerName<'_>) -> bool {
    match error {
        CertificateError::Other(OtherError(inner)) => matches!(
            inner.downcast_ref::<webpki::Error>(),
            Some(webpki::Error::CaUsedAsEndEntity | webpki::Error::UnsupportedCertVersion)
        ),
        CertificateError::NotValidForNameContext { presented, .. } => {
            matches!(server_name, ServerName::DnsName(_))
                && !presented.iter().any(|name| name.starts_with("DnsName("))
        }
        _ => false,
    }
}

/// True when webpki cannot parse `cert` because it is an X.509 version 1 certificate.
pub fn is_version_1(cert: &CertificateDer<'_>) -> bool {
    matches!(
        webpki::EndEntityCert::try_from(cert),
        Err(webpki::Error::UnsupportedCertVersion)
    )
}

/// The SubjectPublicKeyInfo of a certificate, read by x509-parser (for the v1 certificates
/// webpki cannot parse).
///
/// Errors: `BadEncoding` when the certificate is not DER X.509.
pub fn public_key(cert: &CertificateDer<'_>) -> Result<SubjectPublicKeyInfoDer<'static>, Error> {
    use x509_parser::prelude::FromDer;
    x509_parser::certificate::X509Certificate::from_der(cert)
        .map(|(_, cert)| SubjectPublicKeyInfoDer::from(cert.public_key().raw.to_vec()))
        .map_err(|_| CertificateError::BadEncoding.into())
}

/// A verdict of OpenSSL's with no webpki equivalent, in OpenSSL's words
/// (`X509_verify_cert_error_string`), or why the helper gave none.
#[derive(Debug)]
pub struct LegacyFailure(pub String);

impl fmt::Display for LegacyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LegacyFailure {}

fn other_error(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    CertificateError::Other(OtherError(Arc::new(error))).into()
}

/// webpki's verdict on a handshake signature as a rustls error.
fn pki_error(error: webpki::Error) -> Error {
    match error {
        webpki::Error::InvalidSignatureForPublicKey => CertificateError::BadSignature.into(),
        other => other_error(other),
    }
}
