//! OpenSSL's verdict on a legacy server certificate, asked of a helper program.
//!
//! Three kinds of certificate that the original tools (OpenSSL) accept are refused by webpki
//! (see [`crate::tls_verify`]); for those, and only those, OpenSSL decides, as it does in the
//! original. OpenSSL lives in a helper program, `amqp-tools-tls-legacy`, not in the tools:
//! loading libssl and libcrypto costs every run about 0.7 ms of the dynamic loader's time and
//! 1.7 MB of resident pages (measured on this project's machine), the most of any part of a
//! one-message run, while the legacy path is taken by few connections. A run that needs it pays
//! one process start instead.
//!
//! The request goes on the helper's standard input, the verdict comes back on its standard
//! output (see [`encode_request`] and [`Verdict`]); the host to check is an argument
//! (`--host NAME` or `--ip ADDRESS`). Exit status 0: verified; 1: refused, the verdict on
//! standard output; anything else: the helper failed, its reason on standard error.

use rustls::pki_types::{CertificateDer, ServerName};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The helper's file name.
pub const HELPER: &str = "amqp-tools-tls-legacy";

/// Where the Debian package installs the helper (a program for the tools, not for users).
pub const LIBEXEC_DIR: &str = "/usr/libexec/amqp-tools";

/// What the helper is asked: the trusted CAs, then the server's certificate and the
/// intermediates it sent, all DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The trusted CA certificates (`--cacert`, or the system's).
    pub roots: Vec<Vec<u8>>,
    /// The server's (end-entity) certificate.
    pub end_entity: Vec<u8>,
    /// The other certificates the server sent, in its order.
    pub intermediates: Vec<Vec<u8>>,
}

/// Encodes a request: the number of roots, then every certificate (roots, end entity,
/// intermediates), each a count or a length as 4 bytes big-endian followed by the bytes.
pub fn encode_request(
    roots: &[CertificateDer<'_>],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(roots.len() as u32).to_be_bytes());
    for der in roots.iter().chain([end_entity]).chain(intermediates) {
        out.extend_from_slice(&(der.len() as u32).to_be_bytes());
        out.extend_from_slice(der);
    }
    out
}

/// Decodes what [`encode_request`] wrote.
///
/// Errors: `truncated request` when the bytes end inside a count, a length or a certificate,
/// `no server certificate` when only roots were sent.
pub fn decode_request(mut bytes: &[u8]) -> Result<Request, String> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if bytes.len() < n {
            return Err("truncated request".to_string());
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Ok(head)
    }
    fn number(bytes: &mut &[u8]) -> Result<usize, String> {
        let four: [u8; 4] = take(bytes, 4)?.try_into().expect("4 bytes");
        Ok(u32::from_be_bytes(four) as usize)
    }
    let root_count = number(&mut bytes)?;
    let mut certificates = Vec::new();
    while !bytes.is_empty() {
        let length = number(&mut bytes)?;
        certificates.push(take(&mut bytes, length)?.to_vec());
    }
    if certificates.len() <= root_count {
        return Err("no server certificate".to_string());
    }
    let intermediates = certificates.split_off(root_count + 1);
    let end_entity = certificates.pop().expect("checked above");
    Ok(Request {
        roots: certificates,
        end_entity,
        intermediates,
    })
}

/// OpenSSL's refusal of a certificate, in the terms of rustls' `CertificateError` where one
/// fits (so that it is described as webpki's would be), else in OpenSSL's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The certificate is not for the host: the names it is for (its subjectAltName DNS names
    /// and IP addresses, and its subject CNs when it has no DNS name, as OpenSSL matches).
    NotValidForName(Vec<String>),
    /// No chain to a trusted CA.
    UnknownIssuer,
    /// Expired.
    Expired,
    /// Not valid yet.
    NotValidYet,
    /// A signature in the chain does not verify.
    BadSignature,
    /// Revoked.
    Revoked,
    /// Not for a TLS server.
    InvalidPurpose,
    /// The certificate could not be read.
    BadEncoding,
    /// Any other verdict, in OpenSSL's words (`X509_verify_cert_error_string`).
    Other(String),
}

/// The keywords of the verdicts that carry nothing else, as the helper prints them.
const KEYWORDS: [(Verdict, &str); 7] = [
    (Verdict::UnknownIssuer, "unknown-issuer"),
    (Verdict::Expired, "expired"),
    (Verdict::NotValidYet, "not-valid-yet"),
    (Verdict::BadSignature, "bad-signature"),
    (Verdict::Revoked, "revoked"),
    (Verdict::InvalidPurpose, "invalid-purpose"),
    (Verdict::BadEncoding, "bad-encoding"),
];

impl Verdict {
    /// The verdict as the helper prints it: a keyword, then for a name mismatch one line per
    /// name, for another verdict OpenSSL's words after a tab.
    pub fn to_text(&self) -> String {
        match self {
            Verdict::NotValidForName(names) => {
                let mut text = "name\n".to_string();
                for name in names {
                    text.push_str(name);
                    text.push('\n');
                }
                text
            }
            Verdict::Other(words) => format!("other\t{}\n", words.replace('\n', " ")),
            simple => {
                let (_, keyword) = KEYWORDS
                    .iter()
                    .find(|(verdict, _)| verdict == simple)
                    .expect("every other verdict has a keyword");
                format!("{keyword}\n")
            }
        }
    }

    /// Reads what [`Verdict::to_text`] wrote; `None` for anything else.
    pub fn parse(text: &str) -> Option<Verdict> {
        let mut lines = text.lines();
        let first = lines.next()?;
        let (keyword, words) = first.split_once('\t').unwrap_or((first, ""));
        match keyword {
            "name" => Some(Verdict::NotValidForName(
                lines.map(str::to_string).collect(),
            )),
            "other" => Some(Verdict::Other(words.to_string())),
            _ => KEYWORDS
                .iter()
                .find(|(_, known)| *known == keyword)
                .map(|(verdict, _)| verdict.clone()),
        }
    }
}

/// How the helper failed to give a verdict (it is missing, or it crashed): a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperFailure(pub String);

/// Asks the helper for OpenSSL's verdict on `end_entity` (with the `intermediates` the server
/// sent) against the trusted `roots`, for `server_name`.
///
/// `Ok(Ok(()))`: verified. `Ok(Err(verdict))`: refused. `Err`: no verdict, e.g.
/// `the check of a legacy certificate needs amqp-tools-tls-legacy, which was not found next to
/// this program or in /usr/libexec/amqp-tools`.
pub fn verify(
    roots: &[CertificateDer<'_>],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
) -> Result<Result<(), Verdict>, HelperFailure> {
    let helper = helper_path().ok_or_else(|| {
        HelperFailure(format!(
            "the check of a legacy certificate needs {HELPER}, which was not found next to \
             this program or in {LIBEXEC_DIR}"
        ))
    })?;
    let host = match server_name {
        ServerName::DnsName(name) => ["--host".to_string(), name.as_ref().to_string()],
        ServerName::IpAddress(ip) => ["--ip".to_string(), IpAddr::from(*ip).to_string()],
        _ => return Err(HelperFailure("unsupported kind of server name".to_string())),
    };
    let failed = |cause: std::io::Error| {
        HelperFailure(format!(
            "running {}: {}",
            helper.display(),
            crate::error::describe_io(&cause)
        ))
    };
    let mut child = Command::new(&helper)
        .args(host)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(failed)?;
    let request = encode_request(roots, end_entity, intermediates);
    // A helper that exits early closes its end; its status and stderr then tell why.
    let _ = child.stdin.take().expect("piped").write_all(&request);
    let output = child.wait_with_output().map_err(failed)?;
    match output.status.code() {
        Some(0) => Ok(Ok(())),
        Some(1) => Verdict::parse(&String::from_utf8_lossy(&output.stdout))
            .map(Err)
            .ok_or_else(|| HelperFailure(format!("{HELPER} gave no verdict"))),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason = stderr.lines().next().unwrap_or("").trim();
            Err(HelperFailure(format!(
                "{HELPER} failed ({}){}",
                output.status,
                match reason.is_empty() {
                    true => String::new(),
                    false => format!(": {reason}"),
                }
            )))
        }
    }
}

/// The helper: next to the running program (a build tree, or programs copied together), else
/// in [`LIBEXEC_DIR`].
fn helper_path() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(HELPER)));
    beside
        .into_iter()
        .chain([PathBuf::from(LIBEXEC_DIR).join(HELPER)])
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reads_back_as_written() {
        let roots = [
            CertificateDer::from(vec![1u8, 2]),
            CertificateDer::from(vec![]),
        ];
        let end_entity = CertificateDer::from(vec![3u8; 300]);
        let intermediates = [CertificateDer::from(vec![4u8])];
        let bytes = encode_request(&roots, &end_entity, &intermediates);
        let request = decode_request(&bytes).unwrap();
        assert_eq!(request.roots, [vec![1u8, 2], vec![]]);
        assert_eq!(request.end_entity, vec![3u8; 300]);
        assert_eq!(request.intermediates, [vec![4u8]]);
        assert_eq!(
            decode_request(&bytes[..bytes.len() - 1]),
            Err("truncated request".to_string())
        );
        let only_roots = encode_request(&roots, &end_entity, &[]);
        assert_eq!(
            decode_request(&only_roots[..only_roots.len() - 304]),
            Err("no server certificate".to_string())
        );
    }

    #[test]
    fn verdicts_read_back_as_written() {
        for verdict in [
            Verdict::NotValidForName(vec!["a.example".into(), "127.0.0.1".into()]),
            Verdict::NotValidForName(vec![]),
            Verdict::UnknownIssuer,
            Verdict::Expired,
            Verdict::NotValidYet,
            Verdict::BadSignature,
            Verdict::Revoked,
            Verdict::InvalidPurpose,
            Verdict::BadEncoding,
            Verdict::Other("invalid CA certificate".into()),
        ] {
            assert_eq!(Verdict::parse(&verdict.to_text()), Some(verdict));
        }
        assert_eq!(Verdict::parse("what\n"), None);
        assert_eq!(Verdict::parse(""), None);
        assert_eq!(Verdict::Expired.to_text(), "expired\n");
        assert_eq!(
            Verdict::parse("unknown-issuer\n"),
            Some(Verdict::UnknownIssuer)
        );
    }
}
