//! basic.qos and ack mode for `amqp-consume`, from `--count`, `--prefetch-count` and `-A`.

/// Largest prefetch count basic.qos can carry (a short, as the original's
/// `AMQP_CONSUME_MAX_PREFETCH_COUNT`).
pub const MAX_PREFETCH: u64 = 65535;

/// How the consumer asks for deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The basic.qos prefetch count to send, if any.
    pub prefetch: Option<u16>,
    /// basic.consume `no-ack`: the broker forgets each message as it sends it.
    pub broker_no_ack: bool,
    /// Ack each delivery as soon as it is taken, before its command runs (`-A` with `-c`).
    pub ack_on_receipt: bool,
}

/// Works out the plan. The prefetch follows the original: `-c N` alone gives N, `-p P` alone
/// gives P, both give the smaller; values outside 1..=65535 set nothing.
///
/// `-A` with `-c N` does not use the broker's no-ack mode, which ignores basic.qos and lets
/// the broker push (and the tool lose) everything in the queue: the consumer uses acks, with
/// a prefetch of at most N, and acks each delivery on receipt; deliveries the tool never took
/// return to the queue when it closes. `-A` without `-c` is the broker's no-ack mode, as the
/// original.
pub fn plan(count: Option<u64>, prefetch_count: Option<u64>, no_ack: bool) -> Plan {
    let in_range = |n: u64| (1..=MAX_PREFETCH).contains(&n);
    let count_qos = count.filter(|n| in_range(*n));
    let prefetch_qos = prefetch_count.filter(|n| in_range(*n));
    let mut prefetch = match (count_qos, prefetch_qos) {
        (Some(c), Some(p)) => Some(c.min(p)),
        (Some(c), None) => Some(c),
        (None, p) => p,
    };
    let bounded_no_ack = no_ack && count.is_some();
    if bounded_no_ack && prefetch.is_none() {
        prefetch = Some(MAX_PREFETCH);
    }
    Plan {
        prefetch: prefetch.map(|p| p as u16),
        broker_no_ack: no_ack && !bounded_no_ack,
        ack_on_receipt: bounded_no_ack,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetch_follows_count_and_prefetch() {
        assert_eq!(plan(None, None, false).prefetch, None);
        assert_eq!(plan(Some(10), None, false).prefetch, Some(10));
        assert_eq!(plan(None, Some(5), false).prefetch, Some(5));
        assert_eq!(plan(Some(10), Some(5), false).prefetch, Some(5));
        assert_eq!(plan(Some(5), Some(10), false).prefetch, Some(5));
        assert_eq!(plan(Some(70000), None, false).prefetch, None);
        assert_eq!(plan(None, Some(70000), false).prefetch, None);
    }

    #[test]
    fn bounded_no_ack_uses_acks() {
        let p = plan(Some(2000), None, true);
        assert!(p.ack_on_receipt && !p.broker_no_ack);
        assert_eq!(p.prefetch, Some(2000));
        let p = plan(None, None, true);
        assert!(p.broker_no_ack && !p.ack_on_receipt);
        assert_eq!(plan(Some(100000), None, true).prefetch, Some(65535));
    }
}
