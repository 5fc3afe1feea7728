//! The threads of a running tool (issue 13): lapin's I/O loop runs as a task on the tool's own
//! current-thread runtime (lapin's driver mode), so a run has one thread, plus the standard
//! input reader where standard input is read; no `lapin-io-loop` thread in any tool; and no
//! tool loads OpenSSL (it is in the legacy-certificate helper only).

mod common;

use common::*;
use std::io::Read;
use std::net::TcpListener;

/// The names (`comm`) of the threads of process `pid`.
fn thread_names(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("read /proc/PID/task");
    tasks
        .map(|task| {
            let path = task.expect("task entry").path().join("comm");
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect()
}

/// Every tool, while it waits in the AMQP handshake (a peer that accepts the socket and reads
/// the protocol header but never answers), runs on one thread: the I/O loop that connected
/// the socket and wrote the header is a task of the main thread's runtime. None has loaded
/// OpenSSL's libraries.
#[test]
fn every_tool_waits_in_the_handshake_on_one_thread() {
    let listener = TcpListener::bind((HOST, 0)).expect("bind");
    let url = format!(
        "amqp://guest:guest@{HOST}:{}",
        listener.local_addr().unwrap().port()
    );
    let runs: [(&str, &[&str]); 5] = [
        ("amqp-publish", &["-r", "q", "-b", "x"]),
        ("amqp-get", &["-q", "q"]),
        ("amqp-consume", &["-q", "q", "cat"]),
        ("amqp-declare-queue", &["-q", "q"]),
        ("amqp-delete-queue", &["-q", "q"]),
    ];
    for (tool, args) in runs {
        let mut all = vec!["-u", url.as_str()];
        all.extend_from_slice(args);
        let running = spawn(tool, &all, None, &[]);
        let (mut peer, _) = listener.accept().expect("accept");
        let mut header = [0u8; 8];
        peer.read_exact(&mut header).expect("protocol header");
        assert_eq!(&header, b"AMQP\x00\x00\x09\x01", "{tool}");
        let names = thread_names(running.pid());
        assert_eq!(names.len(), 1, "{tool}: threads {names:?}");
        assert!(
            !names.iter().any(|n| n == "lapin-io-loop"),
            "{tool}: {names:?}"
        );
        // OpenSSL is only in the legacy-certificate helper (amqp-tools-tls-legacy): loading
        // it would cost every run ~0.7 ms.
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", running.pid()))
            .expect("read /proc/PID/maps");
        assert!(
            !maps.contains("libssl") && !maps.contains("libcrypto"),
            "{tool} loaded OpenSSL: {maps}"
        );
        drop(running);
    }
}

/// A running `amqp-consume` has exactly one thread, before and after running its command for
/// a delivery (the command is a child process, its pipes and its exit watched by the runtime).
#[test]
fn a_running_consumer_has_one_thread() {
    let queue = TestQueue::declare("threads-consume");
    let mut consumer = amqp_spawn("amqp-consume", &["-q", queue.name(), "cat"]);
    wait_for_consumer(queue.name());
    let names = thread_names(consumer.pid());
    assert_eq!(names, ["amqp-consume"], "threads while waiting");
    publish(queue.name(), b"one");
    wait_until("the delivery written by cat", || {
        (consumer.stdout_so_far() == b"one").then_some(())
    });
    wait_for_message_count(queue.name(), 0);
    let names = thread_names(consumer.pid());
    assert_eq!(names, ["amqp-consume"], "threads after a delivery");
    assert!(consumer.is_running());
}
