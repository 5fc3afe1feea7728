//! amqp-publish holds a large body in memory once: read from standard input in frame-sized
//! pieces, each piece becomes a body frame without a copy and is freed once written
//! (`Channel::basic_publish_pieces`, added to lapin by vendor/lapin, see
//! vendor/lapin/PATCHES.md). With lapin's own `basic_publish`, which copies the whole body into
//! frames while the caller still holds it, the peak is twice the body: this test fails.

mod common;

use common::*;
use std::time::Instant;

/// The peak resident memory (VmHWM, KiB) of a running process, 0 once it is gone. A
/// high-water mark: the last reading before the process exits is its peak.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_64_mebibyte_body_is_held_in_memory_once() {
    const BODY: usize = 64 << 20;
    let queue = TestQueue::declare("pub-64m-peak");
    let body: Vec<u8> = (0..BODY).map(|i| (i % 251) as u8).collect();
    let url = broker_url();
    let mut running = spawn(
        "amqp-publish",
        ["--url", url.as_str(), "-r", queue.name()],
        Some(body),
        &[],
    );
    let pid = running.pid();
    let started = Instant::now();
    let mut peak = 0;
    while running.is_running() && started.elapsed() < TIMEOUT {
        peak = peak.max(peak_rss_kib(pid));
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    running.wait().assert_ok();
    let body_kib = (BODY / 1024) as u64;
    // Ours peaks at the body plus a few MiB (binary, buffers); a second copy would be 2x.
    assert!(
        peak > 0 && peak < body_kib * 3 / 2,
        "peak RSS {peak} KiB for a {body_kib} KiB body: more than 1.5 times the body"
    );
    let length = with_channel(async |channel| {
        channel
            .basic_get(
                queue.name().into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .expect("basic.get")
            .map(|message| message.delivery.data.len())
    });
    assert_eq!(length, Some(BODY));
}
