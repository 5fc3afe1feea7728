//! From connection options to the broker address: conflicts, `AMQP_URL`, defaults, URL parsing.
//!
//! Follows the original's `init_connection_info` (rabbitmq-c tools/common.c): `--url` excludes
//! the options that say the same thing, `--authfile` excludes `--username`/`--password`,
//! `--server host:port` is accepted with a deprecation warning. URLs are parsed by lapin's
//! own AMQP URI parser (`amq-protocol-uri`), following the RabbitMQ URI specification.

use crate::authfile;
use crate::cli::ConnectionArgs;
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
}

/// Where to connect and as whom: the parsed URI plus TLS files.
#[derive(Clone)]
pub struct Address {
    /// The broker URI handed to lapin (host, port, credentials, vhost, heartbeat, timeout).
    pub uri: AMQPUri,
    /// TLS files given on the command line.
    pub tls: TlsFiles,
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

/// Resolves the connection options, reading `AMQP_URL` from `env_url` when no connection
/// option is given, into an [`Address`].
///
/// Prints the original's deprecation warning on stderr for `--server host:port`.
/// Errors ([`Error::Usage`]): conflicting options (`--server and --url options cannot be used at
/// the same time`, ...), a bad URL (`Invalid URL: ...`, password masked), a port outside
/// 1..=65535, a negative heartbeat, `--ssl` with an `amqp://` URL; authfile errors
/// ([`authfile::read`]).
pub fn resolve(args: &ConnectionArgs, env_url: Option<String>) -> Result<Address, Error> {
    check_conflicts(args)?;
    let heartbeat = match args.heartbeat {
        Some(h) if h < 0 => {
            return Err(Error::Usage(format!(
                "--heartbeat: must not be negative: {h}"
            )));
        }
        Some(h) => Some(u16::try_from(h).map_err(|_| {
            Error::Usage(format!("--heartbeat: must be at most 65535 seconds: {h}"))
        })?),
        None => None,
    };
    let url = match &args.url {
        Some(url) => Some(url.clone()),
        None if !args.any_given() => env_url.filter(|u| !u.is_empty()),
        None => None,
    };
    let mut uri = match url {
        Some(url) => {
            let uri = parse_url(&url)?;
            if args.ssl && uri.scheme != AMQPScheme::AMQPS {
                return Err(Error::Usage(
                    "the --ssl option specifies an SSL connection but the --url option does not"
                        .to_string(),
                ));
            }
            uri
        }
        None => from_options(args)?,
    };
    if heartbeat.is_some() {
        uri.query.heartbeat = heartbeat;
    }
    if uri.query.connection_timeout.is_none() {
        uri.query.connection_timeout = Some(DEFAULT_CONNECT_TIMEOUT_SECS * 1000);
    }
    Ok(Address {
        uri,
        tls: TlsFiles {
            cacert: args.cacert.clone(),
            cert: args.cert.clone(),
            key: args.key.clone(),
        },
    })
}

fn check_conflicts(args: &ConnectionArgs) -> Result<(), Error> {
    let conflict = |a: &str, b: &str| {
        Error::Usage(format!(
            "--{a} and --{b} options cannot be used at the same time"
        ))
    };
    if args.url.is_some() {
        let others = [
            ("server", args.server.is_some()),
            ("port", args.port.is_some()),
            ("username", args.username.is_some()),
            ("password", args.password.is_some()),
            ("vhost", args.vhost.is_some()),
            ("authfile", args.authfile.is_some()),
        ];
        if let Some((name, _)) = others.iter().find(|(_, given)| *given) {
            return Err(conflict(name, "url"));
        }
    }
    if args.authfile.is_some() {
        if args.username.is_some() {
            return Err(conflict("username", "authfile"));
        }
        if args.password.is_some() {
            return Err(conflict("password", "authfile"));
        }
    }
    Ok(())
}

fn from_options(args: &ConnectionArgs) -> Result<AMQPUri, Error> {
    let mut uri = AMQPUri::default();
    if args.ssl {
        uri.scheme = AMQPScheme::AMQPS;
        uri.authority.port = DEFAULT_TLS_PORT;
    } else {
        uri.authority.port = DEFAULT_PORT;
    }
    uri.authority.host = "localhost".to_string();
    if let Some(server) = &args.server {
        let (host, port) = split_server(server)?;
        if let Some(port) = port {
            eprintln!("Specifying the port number with --server is deprecated");
            if args.port.is_some() {
                return Err(Error::Usage(
                    "both --server and --port options specify server port".to_string(),
                ));
            }
            uri.authority.port = port;
        }
        uri.authority.host = host;
    }
    if let Some(port) = args.port {
        uri.authority.port = u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| Error::Usage(format!("--port: not a valid port number: {port}")))?;
    }
    if let Some(vhost) = &args.vhost {
        uri.vhost = vhost.clone();
    }
    if let Some(path) = &args.authfile {
        let credentials = authfile::read(path)?;
        uri.authority.userinfo.username = credentials.username;
        uri.authority.userinfo.password = credentials.password;
    }
    if let Some(username) = &args.username {
        uri.authority.userinfo.username = username.clone();
    }
    if let Some(password) = &args.password {
        uri.authority.userinfo.password = password.clone();
    }
    Ok(uri)
}

/// Splits `--server` into host and optional port: `host`, `host:port`, `[v6]`, `[v6]:port`;
/// a bare IPv6 address (two or more colons) is a host without port.
fn split_server(server: &str) -> Result<(String, Option<u16>), Error> {
    let bad_port = |p: &str| Error::Usage(format!("--server: not a valid port number: {p}"));
    let parse_port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad_port(p))
    };
    if let Some(rest) = server.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            return match after.strip_prefix(':') {
                Some(port) => Ok((host.to_string(), Some(parse_port(port)?))),
                None if after.is_empty() => Ok((host.to_string(), None)),
                None => Err(Error::Usage(format!("--server: invalid host: {server}"))),
            };
        }
    }
    match server.matches(':').count() {
        1 => {
            let (host, port) = server.split_once(':').unwrap_or((server, ""));
            Ok((host.to_string(), Some(parse_port(port)?)))
        }
        _ => Ok((server.to_string(), None)),
    }
}

/// Parses an `amqp://` or `amqps://` URL with lapin's URI parser, keeping the host as written
/// (lapin reads only DNS names and would turn `127.0.0.1` or `[::1]` into `localhost`).
///
/// Errors: `Invalid URL: URL` with the password masked.
pub fn parse_url(text: &str) -> Result<AMQPUri, Error> {
    let invalid = || Error::Usage(format!("Invalid URL: {}", mask_password(text)));
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

/// Replaces the password of a URL-like text with `****`, for error messages.
pub fn mask_password(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_string();
    };
    let rest_start = scheme_end + 3;
    let rest = &text[rest_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return text.to_string();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:****{}",
            &text[..rest_start],
            &userinfo[..colon],
            &text[rest_start + at..]
        ),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ConnectionArgs {
        ConnectionArgs::default()
    }

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
    fn credentials_are_percent_decoded() {
        let uri = parse_url("amqp://us%40er:p%3Ass@h").unwrap();
        assert_eq!(uri.authority.userinfo.username, "us@er");
        assert_eq!(uri.authority.userinfo.password, "p:ss");
    }

    #[test]
    fn bad_urls_hide_the_password() {
        let err = parse_url("http://u:secret@h/").unwrap_err().to_string();
        assert_eq!(err, "Invalid URL: http://u:****@h/");
        assert_eq!(mask_password("amqp://u@h"), "amqp://u@h");
    }

    #[test]
    fn url_conflicts_with_other_options() {
        let mut a = args();
        a.url = Some("amqp://h".into());
        a.server = Some("x".into());
        assert_eq!(
            resolve(&a, None).unwrap_err().to_string(),
            "--server and --url options cannot be used at the same time"
        );
    }

    #[test]
    fn env_url_applies_only_without_options() {
        let address = resolve(&args(), Some("amqp://envhost:1234".into())).unwrap();
        assert_eq!(address.host_port(), "envhost:1234");
        let mut a = args();
        a.server = Some("opt".into());
        let address = resolve(&a, Some("amqp://envhost:1234".into())).unwrap();
        assert_eq!(address.host_port(), "opt:5672");
    }

    #[test]
    fn server_may_carry_a_port() {
        assert_eq!(split_server("h:1").unwrap(), ("h".into(), Some(1)));
        assert_eq!(split_server("[::1]:2").unwrap(), ("::1".into(), Some(2)));
        assert_eq!(split_server("::1").unwrap(), ("::1".into(), None));
        assert!(split_server("h:x").is_err());
    }

    #[test]
    fn ssl_switches_the_default_port() {
        let mut a = args();
        a.ssl = true;
        a.server = Some("h".into());
        let address = resolve(&a, None).unwrap();
        assert!(address.is_tls());
        assert_eq!(address.host_port(), "h:5671");
    }
}
