//! The connection options every tool takes (the original's `connect_options` popt table,
//! documented in librabbitmq-tools(7)).

use super::numbers::parse_int;
use std::path::PathBuf;

/// Where and how to connect: the options shared by all five tools.
///
/// Values are kept as given; [`crate::address::resolve`] checks conflicts, applies
/// `AMQP_URL` and the defaults, and builds the broker address.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConnectionArgs {
    /// the AMQP URL to connect to (amqp://user:pass@host:port/vhost)
    #[arg(short = 'u', long, value_name = "amqp://...")]
    pub url: Option<String>,

    /// the AMQP server to connect to (host name or address)
    #[arg(short = 's', long, value_name = "hostname")]
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
    #[arg(long, value_name = "path")]
    pub authfile: Option<PathBuf>,

    /// give up connecting after this many seconds (default 30; also `connection_timeout`
    /// in milliseconds in the URL query)
    #[arg(long, value_name = "seconds", value_parser = parse_int)]
    pub connect_timeout: Option<i64>,

    /// the name this connection shows in the server's connection list (the connection_name
    /// client property; default: the tool's name)
    #[arg(long, value_name = "name")]
    pub connection_name: Option<String>,

    /// print each AMQP method sent (->) and received (<-) on standard error
    #[arg(long)]
    pub verbose: bool,

    /// connect over SSL/TLS
    #[arg(long)]
    pub ssl: bool,

    /// path to the CA certificate file (PEM)
    #[arg(long, value_name = "cacert.pem")]
    pub cacert: Option<PathBuf>,

    /// path to the client private key file (PEM)
    #[arg(long, value_name = "key.pem")]
    pub key: Option<PathBuf>,

    /// path to the client certificate file (PEM)
    #[arg(long, value_name = "cert.pem")]
    pub cert: Option<PathBuf>,

    /// do not use default certificate paths
    #[arg(long)]
    pub no_default_cert_paths: bool,
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
