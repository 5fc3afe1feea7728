//! The connection options every tool takes (the original's `connect_options` popt table,
//! documented in librabbitmq-tools(7)).

use super::numbers::{parse_int, parse_seconds};
use crate::address::{
    Address, DEFAULT_CONNECT_TIMEOUT_SECS, TlsFiles, default_uri, parse_url, split_server_once,
    verify_none,
};
use crate::authfile;
use crate::error::Error;
use crate::nodes::{Nodes, split_servers, split_urls};
use clap::ValueHint;
use lapin::uri::{AMQPScheme, AMQPUri};
use std::path::PathBuf;
use std::time::Duration;

/// Where and how to connect: the options shared by all five tools (with the completion hint
/// of each value: a file, a host name, a URL).
///
/// Values are kept as given; [`resolve`] checks conflicts, applies
/// `AMQP_URL` and the defaults, and builds the broker address.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConnectionArgs {
    /// the AMQP URL to connect to (amqp://user:pass@host:port/vhost); several nodes of a
    /// cluster as comma-separated URLs (amqp://h1,amqp://h2), tried in turn
    #[arg(short = 'u', long, value_name = "amqp://...", value_hint = ValueHint::Url)]
    pub url: Option<String>,

    /// the AMQP server to connect to (host name or address); several nodes of a cluster as
    /// comma-separated hosts (h1,h2:5673), tried in turn
    #[arg(short = 's', long, value_name = "hostname", value_hint = ValueHint::Hostname)]
    pub server: Option<String>,

    /// the port to connect on
    #[arg(long, value_name = "port", allow_hyphen_values = true, value_parser = parse_int)]
    pub port: Option<i64>,

    /// the vhost to use when connecting
    #[arg(long, value_name = "vhost", value_parser = super::short_string())]
    pub vhost: Option<String>,

    /// the username to login with
    #[arg(long, value_name = "username")]
    pub username: Option<String>,

    /// the password to login with
    #[arg(long, value_name = "password")]
    pub password: Option<String>,

    /// heartbeat interval in seconds, set to 0 to disable (default: the server's proposal)
    #[arg(long, value_name = "heartbeat", allow_hyphen_values = true, value_parser = parse_int)]
    pub heartbeat: Option<i64>,

    /// path to the file with the username and password (lines username:NAME, password:SECRET)
    #[arg(long, value_name = "path", value_hint = ValueHint::FilePath)]
    pub authfile: Option<PathBuf>,

    /// give up connecting after this many seconds (default 30; also `connection_timeout`
    /// in milliseconds in the URL query)
    #[arg(long, value_name = "seconds", value_parser = parse_int)]
    pub connect_timeout: Option<i64>,

    /// the name this connection shows in the server's connection list (the connection_name
    /// client property; default: the tool's name)
    #[arg(long, value_name = "name")]
    pub connection_name: Option<String>,

    /// print each AMQP method sent (->) and received (<-) on standard error, each direction in
    /// wire order (requests are pipelined: channel.open may show before connection.open-ok)
    #[arg(long)]
    pub verbose: bool,

    /// connect over SSL/TLS
    #[arg(long)]
    pub ssl: bool,

    /// path to the CA certificate file (PEM)
    #[arg(long, value_name = "cacert.pem", value_hint = ValueHint::FilePath)]
    pub cacert: Option<PathBuf>,

    /// path to the client private key file (PEM)
    #[arg(long, value_name = "key.pem", value_hint = ValueHint::FilePath)]
    pub key: Option<PathBuf>,

    /// path to the client certificate file (PEM)
    #[arg(long, value_name = "cert.pem", value_hint = ValueHint::FilePath)]
    pub cert: Option<PathBuf>,

    /// do not use default certificate paths
    #[arg(long)]
    pub no_default_cert_paths: bool,

    /// with several nodes, try them in a random order instead of the order given
    #[arg(long)]
    pub shuffle_nodes: bool,

    /// give up the whole run after this many seconds, retries and other nodes included
    /// (default: no limit)
    #[arg(long, value_name = "seconds", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
}

impl ConnectionArgs {
    /// The `connection_name` to give the server: `--connection-name`, else `tool`.
    pub fn connection_name_or<'a>(&'a self, tool: &'a str) -> &'a str {
        self.connection_name.as_deref().unwrap_or(tool)
    }

    /// True when any option that says where or as whom to connect was given; `AMQP_URL` is
    /// used only when none was.
    pub fn any_given(&self) -> bool {
        self.url.is_some()
            || self.server.is_some()
            || self.port.is_some()
            || self.vhost.is_some()
            || self.username.is_some()
            || self.password.is_some()
            || self.authfile.is_some()
    }
}

/// Resolves the connection options, reading `AMQP_URL` from `env_url` when no connection
/// option is given, into the [`Nodes`] to connect to: one [`Address`], or one per element of
/// a node list (`--url`/`AMQP_URL` split by [`split_urls`], `--server` by [`split_servers`];
/// each element is checked as a lone value would be, the deprecation warning for a port in
/// `--server` printed once).
///
/// Checks run in the original's order (`init_connection_info`), so the first problem reported
/// is the one it reports: URL parsing, then `--server`, `--port`, `--username`, `--password`,
/// `--authfile`, `--vhost`, `--heartbeat`. Prints the original's deprecation warning on stderr
/// for `--server host:port`.
/// Errors ([`Error::Usage`]): `Parsing URL 'URL': could not parse AMQP URL` (password masked);
/// `--X and --url options cannot be used at the same time`; `--X and --authfile options cannot
/// be used at the same time`; `both --server and --port options specify server port`;
/// `bad server port number in 'SERVER'`; a port outside 1..=65535; `--heartbeat must be a
/// positive value`; a `--connect-timeout` below 1; `--ssl` with an `amqp://` URL; `--server: empty host in 'LIST'`; and the
/// [`authfile::read`] errors.
pub fn resolve(args: &ConnectionArgs, env_url: Option<String>) -> Result<Nodes, Error> {
    let url = match &args.url {
        Some(url) => Some(url.clone()),
        None if !args.any_given() => env_url.filter(|u| !u.is_empty()),
        None => None,
    };
    let mut warned = false;
    let mut addresses = Vec::new();
    match (&url, &args.server) {
        (Some(url), _) => {
            for element in split_urls(url) {
                addresses.push(resolve_node(args, Some(element), None, &mut warned)?);
            }
        }
        (None, Some(server)) => {
            let hosts = split_servers(server);
            if hosts.len() > 1 && hosts.iter().any(|h| h.is_empty()) {
                return Err(Error::Usage(format!("--server: empty host in '{server}'")));
            }
            for host in hosts {
                addresses.push(resolve_node(args, None, Some(host), &mut warned)?);
            }
        }
        (None, None) => addresses.push(resolve_node(args, None, None, &mut warned)?),
    }
    Ok(Nodes::new(addresses, args.shuffle_nodes))
}

/// One node of [`resolve`]: its URL (one element of the list) or its `--server` host (one
/// element), with the other options applied. `warned`: the `--server` port deprecation
/// warning was printed already.
fn resolve_node(
    args: &ConnectionArgs,
    url: Option<&str>,
    server: Option<&str>,
    warned: &mut bool,
) -> Result<Address, Error> {
    let from_url = url.is_some();
    let mut uri = match url {
        Some(url) => parse_url(url)?,
        None => default_uri(args.ssl),
    };
    set_server_and_port(&mut uri, args, server, from_url, warned)?;
    set_credentials(&mut uri, args, from_url)?;
    if let Some(vhost) = &args.vhost {
        if from_url {
            return Err(conflict("vhost", "url"));
        }
        uri.vhost = vhost.clone();
    }
    set_heartbeat(&mut uri, args.heartbeat)?;
    if args.ssl && uri.scheme != AMQPScheme::AMQPS {
        return Err(Error::Usage(
            "the --ssl option specifies an SSL connection but the --url option does not"
                .to_string(),
        ));
    }
    set_connect_timeout(&mut uri, args.connect_timeout)?;
    Ok(Address {
        verbose: args.verbose,
        uri,
        tls: TlsFiles {
            cacert: args.cacert.clone(),
            cert: args.cert.clone(),
            key: args.key.clone(),
            no_default_cert_paths: args.no_default_cert_paths,
            verify_none: match url {
                Some(url) => verify_none(url)?,
                None => false,
            },
        },
    })
}

/// `--A and --B options cannot be used at the same time`.
fn conflict(a: &str, b: &str) -> Error {
    Error::Usage(format!(
        "--{a} and --{b} options cannot be used at the same time"
    ))
}

/// `--server` (one host of the list, or `host:port`) then `--port`, neither with a URL.
/// `warned`: the `--server` port deprecation warning was printed already.
fn set_server_and_port(
    uri: &mut AMQPUri,
    args: &ConnectionArgs,
    server: Option<&str>,
    from_url: bool,
    warned: &mut bool,
) -> Result<(), Error> {
    if args.server.is_some() && from_url {
        return Err(conflict("server", "url"));
    }
    if let Some(server) = server {
        let (host, port) = split_server_once(server, args.port.is_some(), warned)?;
        uri.authority.host = host;
        if let Some(port) = port {
            uri.authority.port = port;
        }
    }
    if let Some(port) = args.port {
        if from_url {
            return Err(conflict("port", "url"));
        }
        uri.authority.port = u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--port: {port} is not a valid port number (1 to 65535)"
                ))
            })?;
    }
    Ok(())
}

/// `--username`, `--password` (neither with a URL or `--authfile`), then `--authfile`.
fn set_credentials(uri: &mut AMQPUri, args: &ConnectionArgs, from_url: bool) -> Result<(), Error> {
    for (name, given) in [
        ("username", args.username.is_some()),
        ("password", args.password.is_some()),
    ] {
        if given && from_url {
            return Err(conflict(name, "url"));
        }
        if given && args.authfile.is_some() {
            return Err(conflict(name, "authfile"));
        }
    }
    if let Some(username) = &args.username {
        uri.authority.userinfo.username = username.clone();
    }
    if let Some(password) = &args.password {
        uri.authority.userinfo.password = password.clone();
    }
    if let Some(path) = &args.authfile {
        if from_url {
            return Err(conflict("authfile", "url"));
        }
        let credentials = authfile::read(path)?;
        uri.authority.userinfo.username = credentials.username;
        uri.authority.userinfo.password = credentials.password;
    }
    Ok(())
}

/// `--heartbeat`: 0 to 65535 seconds.
fn set_heartbeat(uri: &mut AMQPUri, heartbeat: Option<i64>) -> Result<(), Error> {
    match heartbeat {
        Some(h) if h < 0 => Err(Error::Usage(
            "--heartbeat must be a positive value".to_string(),
        )),
        Some(h) => {
            uri.query.heartbeat = Some(u16::try_from(h).map_err(|_| {
                Error::Usage(format!(
                    "--heartbeat: {h} is too large (at most 65535 seconds)"
                ))
            })?);
            Ok(())
        }
        None => Ok(()),
    }
}

/// `--connect-timeout` in seconds, else the URL's `connection_timeout`, else the default.
fn set_connect_timeout(uri: &mut AMQPUri, seconds: Option<i64>) -> Result<(), Error> {
    match seconds {
        Some(seconds) if seconds <= 0 => {
            return Err(Error::Usage(format!(
                "--connect-timeout: {seconds} is not a positive number of seconds"
            )));
        }
        Some(seconds) => uri.query.connection_timeout = Some(seconds as u64 * 1000),
        None if uri.query.connection_timeout.is_none() => {
            uri.query.connection_timeout = Some(DEFAULT_CONNECT_TIMEOUT_SECS * 1000);
        }
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ConnectionArgs {
        ConnectionArgs::default()
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
        let address = resolve(&args(), Some("amqp://envhost:1234".into()))
            .unwrap()
            .first()
            .clone();
        assert_eq!(address.host_port(), "envhost:1234");
        let mut a = args();
        a.server = Some("opt".into());
        let address = resolve(&a, Some("amqp://envhost:1234".into()))
            .unwrap()
            .first()
            .clone();
        assert_eq!(address.host_port(), "opt:5672");
    }

    #[test]
    fn ssl_switches_the_default_port() {
        let mut a = args();
        a.ssl = true;
        a.server = Some("h".into());
        let address = resolve(&a, None).unwrap().first().clone();
        assert!(address.is_tls());
        assert_eq!(address.host_port(), "h:5671");
    }

    #[test]
    fn url_lists_give_one_node_each() {
        let mut a = args();
        a.url = Some("amqp://u:p,w@n1:1/v,amqps://x:y@[::1]:2/w".into());
        let nodes = resolve(&a, None).unwrap();
        let all: Vec<String> = nodes.all().iter().map(Address::host_port).collect();
        assert_eq!(all, ["n1:1", "[::1]:2"]);
        assert_eq!(nodes.all()[0].uri.authority.userinfo.password, "p,w");
        assert!(nodes.all()[1].is_tls());
        assert_eq!(nodes.all()[1].uri.vhost, "w");
        // A repeated --url is clap's last-wins, before resolve sees it: one value.
        let err = {
            a.url = Some("amqp://u:secret@n1,amqp://u:secret@n2:x".into());
            resolve(&a, None).unwrap_err().to_string()
        };
        assert_eq!(
            err,
            "Parsing URL 'amqp://u:****@n2:x': could not parse AMQP URL"
        );
    }

    #[test]
    fn server_lists_share_the_other_options() {
        let mut a = args();
        a.server = Some("n1,[::1],n3".into());
        a.port = Some(5999);
        a.vhost = Some("v".into());
        a.username = Some("me".into());
        let nodes = resolve(&a, None).unwrap();
        let all: Vec<String> = nodes.all().iter().map(Address::host_port).collect();
        assert_eq!(all, ["n1:5999", "[::1]:5999", "n3:5999"]);
        assert!(
            nodes
                .all()
                .iter()
                .all(|n| n.uri.vhost == "v" && n.uri.authority.userinfo.username == "me")
        );
        a.port = None;
        a.server = Some("n1:1,[::1]:2".into());
        let all: Vec<String> = resolve(&a, None)
            .unwrap()
            .all()
            .iter()
            .map(Address::host_port)
            .collect();
        assert_eq!(all, ["n1:1", "[::1]:2"]);
        a.server = Some("n1,,n2".into());
        assert_eq!(
            resolve(&a, None).unwrap_err().to_string(),
            "--server: empty host in 'n1,,n2'"
        );
    }
}
