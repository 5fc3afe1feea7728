//! From connection options to the broker address: conflicts, `AMQP_URL`, defaults, URL parsing.
//!
//! Follows the original's `init_connection_info` (rabbitmq-c tools/common.c): `--url` excludes
//! the options that say the same thing, `--authfile` excludes `--username`/`--password`,
//! `--server host:port` is accepted with a deprecation warning. URLs are parsed by lapin's
//! own AMQP URI parser (`amq-protocol-uri`), following the RabbitMQ URI specification.

use crate::error::Error;
use lapin::uri::{AMQPScheme, AMQPUri};
use std::path::PathBuf;

/// Default AMQP port (RabbitMQ URI spec).
pub const DEFAULT_PORT: u16 = 5672;
/// Default AMQP-over-TLS port.
pub const DEFAULT_TLS_PORT: u16 = 5671;
/// Default connect timeout, in seconds: a host that accepts nothing is given up on after it.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 30;
/// Environment variable read for the URL when no connection option is given.
pub const URL_ENV: &str = "AMQP_URL";

/// TLS material named on the command line (used when the address is `amqps`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `--cacert`: PEM file of CA certificates to trust.
    pub cacert: Option<PathBuf>,
    /// `--cert`: PEM file of the client certificate.
    pub cert: Option<PathBuf>,
    /// `--key`: PEM file of the client private key.
    pub key: Option<PathBuf>,
    /// `--no-default-cert-paths`: trust only `--cacert`, not the system's trust store.
    pub no_default_cert_paths: bool,
    /// `verify=verify_none` in the URL's query (RabbitMQ URI specification): the server's
    /// certificate and name are not verified. Never the default.
    pub verify_none: bool,
}

/// Where to connect and as whom: the parsed URI plus TLS files.
#[derive(Clone)]
pub struct Address {
    /// The broker URI handed to lapin (host, port, credentials, vhost, heartbeat, timeout).
    pub uri: AMQPUri,
    /// TLS files given on the command line.
    pub tls: TlsFiles,
    /// `--verbose`: print each AMQP method sent and received on stderr.
    pub verbose: bool,
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Address")
            .field("uri", &self.display())
            .field("tls", &self.tls)
            .finish()
    }
}

impl Address {
    /// True for `amqps://` or `--ssl`.
    pub fn is_tls(&self) -> bool {
        self.uri.scheme == AMQPScheme::AMQPS
    }

    /// `host:port` as the original names it in `opening socket to HOST:PORT`.
    pub fn host_port(&self) -> String {
        let host = &self.uri.authority.host;
        if host.contains(':') {
            format!("[{host}]:{}", self.uri.authority.port)
        } else {
            format!("{host}:{}", self.uri.authority.port)
        }
    }

    /// The address as a URL with the password masked, safe to print.
    pub fn display(&self) -> String {
        let mut shown = self.uri.clone();
        shown.authority.userinfo.password = "****".to_string();
        shown.to_string()
    }
}

/// The original's defaults: `guest:guest@localhost:5672`, vhost `/`; port 5671 with `--ssl`.
pub fn default_uri(ssl: bool) -> AMQPUri {
    let mut uri = AMQPUri::default();
    uri.authority.host = "localhost".to_string();
    if ssl {
        uri.scheme = AMQPScheme::AMQPS;
        uri.authority.port = DEFAULT_TLS_PORT;
    } else {
        uri.authority.port = DEFAULT_PORT;
    }
    uri
}

/// Splits `--server` into host and optional port: `host`, `host:port`, `[v6]`, `[v6]:port`;
/// a bare IPv6 address (two or more colons) is a host without port. A port prints the
/// original's deprecation warning on stderr.
///
/// Errors: `both --server and --port options specify server port` when `port_given`,
/// `bad server port number in 'SERVER'`.
pub fn split_server(server: &str, port_given: bool) -> Result<(String, Option<u16>), Error> {
    split_server_once(server, port_given, &mut false)
}

/// [`split_server`] for one host of a `--server` list: the deprecation warning is printed
/// only while `warned` is false, which it then becomes.
pub fn split_server_once(
    server: &str,
    port_given: bool,
    warned: &mut bool,
) -> Result<(String, Option<u16>), Error> {
    let (host, port) = match server.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((host, "")) => (host, None),
        Some((host, after)) => (host, Some(after.strip_prefix(':').unwrap_or(after))),
        None if server.matches(':').count() == 1 => {
            let (host, port) = server.split_once(':').unwrap_or((server, ""));
            (host, Some(port))
        }
        None => (server, None),
    };
    let Some(port) = port else {
        return Ok((host.to_string(), None));
    };
    if !std::mem::replace(warned, true) {
        crate::report::report("Specifying the port number with --server is deprecated");
    }
    if port_given {
        return Err(Error::Usage(
            "both --server and --port options specify server port".to_string(),
        ));
    }
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| Error::Usage(format!("bad server port number in '{server}'")))?;
    Ok((host.to_string(), Some(port)))
}

/// Parses an `amqp://` or `amqps://` URL with lapin's URI parser, keeping the host as written
/// (lapin reads only DNS names and would turn `127.0.0.1` or `[::1]` into `localhost`).
///
/// Errors: `Parsing URL 'URL': could not parse AMQP URL`, the password masked.
pub fn parse_url(text: &str) -> Result<AMQPUri, Error> {
    let invalid = || {
        Error::Usage(format!(
            "Parsing URL '{}': could not parse AMQP URL",
            mask_password(text)
        ))
    };
    if !well_formed(text) {
        return Err(invalid());
    }
    let mut uri: AMQPUri = text.parse().map_err(|_| invalid())?;
    let parsed = url::Url::parse(text).map_err(|_| invalid())?;
    match parsed.host() {
        Some(url::Host::Domain(name)) if !name.is_empty() => {
            uri.authority.host = percent_encoding::percent_decode_str(name)
                .decode_utf8()
                .map_err(|_| invalid())?
                .into_owned();
        }
        Some(url::Host::Ipv4(ip)) => uri.authority.host = ip.to_string(),
        Some(url::Host::Ipv6(ip)) => uri.authority.host = ip.to_string(),
        _ => uri.authority.host = "localhost".to_string(),
    }
    Ok(uri)
}

/// Whether the URL's query says `verify=verify_none` (the TLS parameter of the RabbitMQ URI
/// specification, also read by RabbitMQ's own clients; `verify_peer` is the default). The
/// original reads no query parameter and always verifies.
///
/// Errors: `Parsing URL 'URL': verify must be verify_peer or verify_none` (password masked).
pub fn verify_none(text: &str) -> Result<bool, Error> {
    let Ok(parsed) = url::Url::parse(text) else {
        return Ok(false);
    };
    let mut verify_none = false;
    for (key, value) in parsed.query_pairs() {
        if key == "verify" {
            verify_none = match value.as_ref() {
                "verify_none" => true,
                "verify_peer" => false,
                _ => {
                    return Err(Error::Usage(format!(
                        "Parsing URL '{}': verify must be verify_peer or verify_none",
                        mask_password(text)
                    )));
                }
            };
        }
    }
    Ok(verify_none)
}

/// The RabbitMQ URI specification's rules that the URL parser lets through: every `%` starts
/// a two-digit hexadecimal escape, a `:` before the port is followed by digits, and the path
/// is at most one segment (a `/` inside the vhost is written `%2f`).
fn well_formed(text: &str) -> bool {
    let bytes = text.as_bytes();
    let escapes_ok = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    let Some((_, rest)) = text.split_once("://") else {
        return false;
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (authority, path) = match rest[..end].find('/') {
        Some(slash) => (&rest[..slash], &rest[slash + 1..end]),
        None => (&rest[..end], ""),
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let empty_port = host_port.ends_with(':');
    escapes_ok && !empty_port && !path.contains('/')
}

/// Replaces the password of a URL-like text with `****`, for error messages, whatever the
/// text's shape.
///
/// The user information ends at the text's last `@` (a password may hold an unescaped `/`,
/// `?`, `#` or `@`, which end the authority for a URL parser, so the first `@` after them is
/// not the end). After `scheme://`, the user name up to the first `:` stays and the rest is
/// masked (`amqp://user:****@host`); without `://` (`amqp:user:pass@host`,
/// `amqp:/user:pass@host`, `user:pass@host`) everything from the first `:` to that `@` is
/// masked (`amqp:****@host`), or all of it when there is no `:`. A masked URL may hide more
/// than the password (a vhost holding `@`), never less.
pub fn mask_password(text: &str) -> String {
    let Some(at) = text.rfind('@') else {
        return text.to_string();
    };
    let is_scheme = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    };
    let (start, userinfo) = match text.find("://") {
        Some(scheme_end) if scheme_end < at && is_scheme(&text[..scheme_end]) => {
            (scheme_end + 3, &text[scheme_end + 3..at])
        }
        _ => match text[..at].find(':') {
            Some(colon) => return format!("{}****{}", &text[..=colon], &text[at..]),
            None => return format!("****{}", &text[at..]),
        },
    };
    match userinfo.find(':') {
        Some(colon) => format!("{}:****{}", &text[..start + colon], &text[at..]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts_are_kept_as_written() {
        assert_eq!(
            parse_url("amqp://127.0.0.1:5673").unwrap().authority.host,
            "127.0.0.1"
        );
        assert_eq!(
            parse_url("amqp://[::1]:5673/").unwrap().authority.host,
            "::1"
        );
        assert_eq!(parse_url("amqp://").unwrap().authority.host, "localhost");
        assert_eq!(
            parse_url("amqp://rabbit.example").unwrap().authority.host,
            "rabbit.example"
        );
    }

    #[test]
    fn vhosts_follow_the_uri_spec() {
        assert_eq!(parse_url("amqp://h").unwrap().vhost, "/");
        assert_eq!(parse_url("amqp://h/").unwrap().vhost, "");
        assert_eq!(parse_url("amqp://h/%2f").unwrap().vhost, "/");
        assert_eq!(parse_url("amqp://h/a%2Fb").unwrap().vhost, "a/b");
    }

    #[test]
    fn malformed_urls_are_refused() {
        for bad in [
            "amqp://gu%zzest@h",
            "amqp://h:",
            "amqp://h/a/b",
            "amqp://h/%2",
            "amqp:/h",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        for good in [
            "amqp://h:5672/%2f",
            "amqp://[::1]:5672/v",
            "amqp://u:p@h/",
            "amqp://",
        ] {
            assert!(parse_url(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let uri = parse_url("amqp://us%40er:p%3Ass@h").unwrap();
        assert_eq!(uri.authority.userinfo.username, "us@er");
        assert_eq!(uri.authority.userinfo.password, "p:ss");
    }

    #[test]
    fn bad_urls_hide_the_password() {
        let err = parse_url("http://u:secret@h/").unwrap_err().to_string();
        assert_eq!(
            err,
            "Parsing URL 'http://u:****@h/': could not parse AMQP URL"
        );
        assert_eq!(mask_password("amqp://u@h"), "amqp://u@h");
    }

    #[test]
    fn passwords_are_masked_whatever_the_url_shape() {
        for (url, masked) in [
            ("amqp://u:se/cret@h/v", "amqp://u:****@h/v"),
            ("amqp://u:se?cret@h", "amqp://u:****@h"),
            ("amqp://u:se#cret@h:5672", "amqp://u:****@h:5672"),
            ("amqp://u:se@cret@h", "amqp://u:****@h"),
            ("amqp://u:secret@h/a@b", "amqp://u:****@b"),
            ("amqp:u:secret@h", "amqp:****@h"),
            ("amqp:/u:secret@h", "amqp:****@h"),
            ("u:secret@h", "u:****@h"),
            ("secret@h", "****@h"),
            ("amqp:/:se://cret@h", "amqp:****@h"),
            ("amqp://h/v", "amqp://h/v"),
        ] {
            assert_eq!(mask_password(url), masked, "{url}");
            if let Err(error) = parse_url(url) {
                assert!(!error.to_string().contains("cret"), "{error}");
            }
        }
    }

    #[test]
    fn server_may_carry_a_port() {
        assert_eq!(split_server("h:1", false).unwrap(), ("h".into(), Some(1)));
        assert_eq!(
            split_server("[::1]:2", false).unwrap(),
            ("::1".into(), Some(2))
        );
        assert_eq!(split_server("[::1]", false).unwrap(), ("::1".into(), None));
        assert_eq!(split_server("::1", false).unwrap(), ("::1".into(), None));
        assert_eq!(
            split_server("h:x", false).unwrap_err().to_string(),
            "bad server port number in 'h:x'"
        );
        assert!(split_server("h:1", true).is_err());
    }
}
