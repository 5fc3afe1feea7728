//! `amqp-tools-tls-legacy --host NAME | --ip ADDRESS`: OpenSSL's verdict on a legacy server
//! certificate, for the tools (see `amqp_tools::tls_legacy`; not a program for users).
//!
//! Reads the trusted CAs and the server's certificates from standard input
//! (`tls_legacy::encode_request`), verifies as the original tools do (rabbitmq-c's
//! `amqp_openssl.c`): `X509_verify_cert` against those CAs with the purpose `ssl_server`, the
//! host checked by `X509_check_host` without partial wildcards, or `X509_check_ip`. Exit 0:
//! verified; 1: refused, the verdict on standard output (`tls_legacy::Verdict`); 2: a usage or
//! OpenSSL failure, one line on standard error.

use amqp_tools::tls_legacy::{Verdict, decode_request};
use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::{X509CheckFlags, X509VerifyParam};
use openssl::x509::{X509, X509PurposeId, X509StoreContext, X509VerifyResult};
use std::io::{Read, Write};
use std::net::IpAddr;
use std::process::ExitCode;

/// The host the certificate must be for.
enum Host {
    Name(String),
    Ip(IpAddr),
}

fn main() -> ExitCode {
    match run() {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(verdict)) => {
            let _ = std::io::stdout().write_all(verdict.to_text().as_bytes());
            ExitCode::from(1)
        }
        Err(failure) => {
            eprintln!("amqp-tools-tls-legacy: {failure}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<Result<(), Verdict>, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let host = match args.as_slice() {
        [flag, name] if flag == "--host" => Host::Name(name.clone()),
        [flag, ip] if flag == "--ip" => Host::Ip(ip.parse().map_err(|_| format!("bad IP {ip}"))?),
        _ => return Err("usage: amqp-tools-tls-legacy --host NAME | --ip ADDRESS".to_string()),
    };
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("reading the request: {e}"))?;
    let request = decode_request(&input)?;
    let store = store(&request.roots, &host).map_err(|e| e.to_string())?;
    let Ok(cert) = X509::from_der(&request.end_entity) else {
        return Ok(Err(Verdict::BadEncoding));
    };
    let mut chain = Stack::new().map_err(|e| e.to_string())?;
    for der in &request.intermediates {
        let Ok(intermediate) = X509::from_der(der) else {
            return Ok(Err(Verdict::BadEncoding));
        };
        chain.push(intermediate).map_err(|e| e.to_string())?;
    }
    let mut context = X509StoreContext::new().map_err(|e| e.to_string())?;
    let result = context
        .init(&store, &cert, &chain, |context| {
            context.verify_cert()?;
            Ok(context.error())
        })
        .map_err(|e| e.to_string())?;
    if result == X509VerifyResult::OK {
        return Ok(Ok(()));
    }
    Ok(Err(verdict(result, &cert)))
}

/// OpenSSL's store of the trusted CAs, checking `host` as the original does.
fn store(roots: &[Vec<u8>], host: &Host) -> Result<X509Store, openssl::error::ErrorStack> {
    let mut builder = X509StoreBuilder::new()?;
    for der in roots {
        // Certificates OpenSSL cannot read are skipped, as it skips them in its own stores.
        if let Ok(cert) = X509::from_der(der) {
            let _ = builder.add_cert(cert);
        }
    }
    let mut param = X509VerifyParam::new()?;
    param.set_purpose(X509PurposeId::SSL_SERVER)?;
    match host {
        Host::Name(name) => {
            param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
            param.set_host(name)?;
        }
        Host::Ip(ip) => param.set_ip(*ip)?,
    }
    builder.set_param(&param)?;
    Ok(builder.build())
}

/// OpenSSL's verdict in the terms webpki would have used, where one fits.
fn verdict(result: X509VerifyResult, cert: &X509) -> Verdict {
    use openssl_sys as ffi;
    match result.as_raw() {
        ffi::X509_V_ERR_HOSTNAME_MISMATCH | ffi::X509_V_ERR_IP_ADDRESS_MISMATCH => {
            Verdict::NotValidForName(names(cert))
        }
        ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
        | ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | ffi::X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
        | ffi::X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        | ffi::X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN => Verdict::UnknownIssuer,
        ffi::X509_V_ERR_CERT_HAS_EXPIRED => Verdict::Expired,
        ffi::X509_V_ERR_CERT_NOT_YET_VALID => Verdict::NotValidYet,
        ffi::X509_V_ERR_CERT_SIGNATURE_FAILURE => Verdict::BadSignature,
        ffi::X509_V_ERR_CERT_REVOKED => Verdict::Revoked,
        ffi::X509_V_ERR_INVALID_PURPOSE => Verdict::InvalidPurpose,
        _ => Verdict::Other(result.error_string().to_string()),
    }
}

/// The names a certificate is for, as OpenSSL matches them: the DNS names and IP addresses
/// of its subjectAltName, and the subject CNs when it has no DNS name.
fn names(cert: &X509) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut dns_names = false;
    for name in cert
        .subject_alt_names()
        .iter()
        .flat_map(|names| names.iter())
    {
        if let Some(dns) = name.dnsname() {
            dns_names = true;
            names.push(dns.to_string());
        } else if let Some(ip) = name.ipaddress() {
            let ip = match ip.len() {
                4 => <[u8; 4]>::try_from(ip).ok().map(IpAddr::from),
                16 => <[u8; 16]>::try_from(ip).ok().map(IpAddr::from),
                _ => None,
            };
            names.extend(ip.map(|ip| ip.to_string()));
        }
    }
    if !dns_names {
        let subject = cert.subject_name();
        for entry in subject.entries_by_nid(openssl::nid::Nid::COMMONNAME) {
            names.extend(entry.data().to_string().ok());
        }
    }
    names
}
