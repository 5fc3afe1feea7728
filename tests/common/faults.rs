//! Faults the reliability tests inject, and where they look: a tool's connection as the broker
//! sees it (found through the tool's own socket: its local port, from /proc, is the broker's
//! `peer_port`, so a test that closes a connection or reads its heartbeat touches only its own
//! tool, never a parallel test's), a tool fed through a slow pipe ([`Fed`]), a TCP relay that
//! freezes ([`Relay`]) and an output pipe closed early ([`into_head`]).

use super::{
    HOST, Output, Running, TempFile, bin, broker_port, broker_url, ctl, run_sh, spawn_piped,
    wait_until,
};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{ChildStdin, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// Local ports of the TCP sockets process `pid` has open to `remote_port` (from /proc).
pub fn local_ports_to(pid: u32, remote_port: u16) -> Vec<u16> {
    let mut inodes = HashSet::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in dir.flatten() {
            if let Ok(target) = std::fs::read_link(entry.path()) {
                let target = target.to_string_lossy().into_owned();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|r| r.strip_suffix(']'))
                {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    let port_of = |address: &str| {
        address
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9
                && inodes.contains(fields[9])
                && port_of(fields[2]) == Some(remote_port)
                && let Some(port) = port_of(fields[1])
            {
                ports.push(port);
            }
        }
    }
    ports
}

/// One row of `rabbitmqctl list_connections` for a tool's connection.
#[derive(Debug, Clone)]
pub struct BrokerConnection {
    /// The connection process, as `close_connection` takes it.
    pub pid: String,
    /// The negotiated heartbeat in seconds (0: none).
    pub timeout: String,
}

/// The broker's row for the connection of process `pid` (waits until it shows).
#[track_caller]
pub fn broker_connection_of(pid: u32) -> BrokerConnection {
    wait_until(&format!("the connection of process {pid}"), || {
        let ports = local_ports_to(pid, broker_port());
        if ports.is_empty() {
            return None;
        }
        let listing = ctl(&["-s", "list_connections", "pid", "peer_port", "timeout"]);
        listing.lines().find_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let port: u16 = fields.get(1)?.trim().parse().ok()?;
            ports.contains(&port).then(|| BrokerConnection {
                pid: fields[0].trim().to_string(),
                timeout: fields.get(2).unwrap_or(&"").trim().to_string(),
            })
        })
    })
}

/// Closes the connection of process `pid` from the broker's side (`close_connection`).
#[track_caller]
pub fn close_connection_of(pid: u32, reason: &str) {
    let connection = broker_connection_of(pid);
    ctl(&["close_connection", &connection.pid, reason]);
}

/// A tool whose standard input the test writes as it goes (a slow pipe).
pub struct Fed {
    running: Running,
    stdin: Option<ChildStdin>,
}

impl Fed {
    /// Starts `tool --url BROKER args...` with a pipe on its standard input.
    pub fn start(tool: &str, args: &[&str]) -> Fed {
        let mut command = Command::new(bin(tool));
        command
            .arg("--url")
            .arg(broker_url())
            .args(args)
            .env_remove("AMQP_URL");
        let (running, stdin) = spawn_piped(command, true);
        Fed { running, stdin }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.running.pid()
    }

    /// Writes `bytes` to the tool's standard input; false when the tool stopped reading (the
    /// caller may ignore it).
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(bytes).is_ok() && stdin.flush().is_ok(),
            None => false,
        }
    }

    /// Closes the standard input, waits (at most [`super::TIMEOUT`]) and returns what the tool
    /// left.
    #[track_caller]
    pub fn finish(mut self) -> Output {
        self.stdin.take();
        self.running.wait()
    }
}

/// A TCP relay between a tool and the broker that the test can freeze: frozen, it neither
/// reads nor forwards anything in either direction, but keeps both sockets open (a network
/// that silently drops everything).
pub struct Relay {
    port: u16,
    frozen: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    pub fn start(target_port: u16) -> Relay {
        let listener = TcpListener::bind((HOST, 0)).expect("bind relay");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("relay address").port();
        let frozen = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (frozen.clone(), stop.clone());
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).expect("blocking");
                        let Ok(server) = TcpStream::connect((HOST, target_port)) else {
                            continue;
                        };
                        let (c2, s2) = (
                            client.try_clone().expect("clone"),
                            server.try_clone().expect("clone"),
                        );
                        pump(client, server, f.clone(), s.clone());
                        pump(s2, c2, f.clone(), s.clone());
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Relay { port, frozen, stop }
    }

    /// A URL for the private broker through this relay.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@{HOST}:{}", self.port)
    }

    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, frozen: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
    thread::spawn(move || {
        let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buffer = [0u8; 64 * 1024];
        let held = |frozen: &AtomicBool, stop: &AtomicBool| {
            while frozen.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
        };
        while !stop.load(Ordering::SeqCst) {
            held(&frozen, &stop);
            match from.read(&mut buffer) {
                Ok(0) => {
                    let _ = to.shutdown(std::net::Shutdown::Write);
                    break;
                }
                Ok(n) => {
                    held(&frozen, &stop);
                    if stop.load(Ordering::SeqCst) || to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => {
                    let _ = to.shutdown(std::net::Shutdown::Both);
                    break;
                }
            }
        }
    });
}

/// Runs `TOOL --url URL ARGS... | head -c1` and returns the tool's exit status and its stderr
/// (the tool's stderr goes to a file, read afterwards).
pub fn into_head(tool: &str, args: &[&str]) -> (String, String) {
    let errors = TempFile::new(b"");
    let script = r#"tool=$1; errors=$2; shift 2
{ "$tool" "$@" 2>"$errors"; echo "status $?" >&2; } | head -c1 >/dev/null"#;
    let tool_path = bin(tool);
    let url = broker_url();
    let mut all: Vec<&std::ffi::OsStr> = vec![
        "sh".as_ref(),
        tool_path.as_os_str(),
        errors.path().as_os_str(),
        "--url".as_ref(),
        url.as_ref(),
    ];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    let out = run_sh(script, all);
    let status = out
        .stderr_lines()
        .iter()
        .find_map(|l| l.strip_prefix("status "))
        .unwrap_or_else(|| panic!("no status: {out:?}"))
        .to_string();
    let stderr = std::fs::read_to_string(errors.path()).unwrap_or_default();
    (status, stderr)
}
