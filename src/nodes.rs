//! Node lists: several nodes of one RabbitMQ cluster given to one tool, and the order in which
//! they are tried.
//!
//! The RabbitMQ URI specification has one host per URI, and neither the original tools nor
//! any other AMQP command-line tool take more than one node. A list is written either as one
//! `--url` (or `AMQP_URL`) value holding comma-separated full URIs, each with its own
//! credentials, TLS and query (`amqp://u:p@n1/vh,amqps://u:p@n2/vh`), or as one `--server`
//! value holding comma-separated hosts (`n1,n2:5673,[::1]:5674`) that share `--port`,
//! `--vhost`, the credentials and `--ssl`. Every such list was an error before (`could not
//! parse AMQP URL`, a failed host lookup), so accepting it changes nothing that worked.

use crate::address::Address;

/// Splits a `--url`/`AMQP_URL` value into its URIs: at each `,` directly followed by
/// `amqp://` or `amqps://` (any letter case), and nowhere else.
///
/// A comma is legal unescaped inside a password or a query (RFC 3986 sub-delims), but never
/// followed by `scheme://` there: a password cannot hold `/`. So `amqp://u:pa,ss@h` is one URI,
/// and a value without such a comma is returned whole, as one element.
pub fn split_urls(text: &str) -> Vec<&str> {
    let lower = text.to_ascii_lowercase();
    let mut pieces = Vec::new();
    let mut start = 0;
    for (comma, _) in text.match_indices(',') {
        let after = &lower[comma + 1..];
        if after.starts_with("amqp://") || after.starts_with("amqps://") {
            pieces.push(&text[start..comma]);
            start = comma + 1;
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// Splits a `--server` value into its hosts at every `,` (a host name, an IPv4 or a bracketed
/// IPv6 address holds no comma). One host without a comma is returned whole.
pub fn split_servers(text: &str) -> Vec<&str> {
    text.split(',').collect()
}

/// The nodes a tool may connect to, in the order given, at least one.
///
/// With one node every behaviour is the original's. With several, connecting tries them in
/// turn ([`crate::connection::open_any`]).
#[derive(Debug, Clone)]
pub struct Nodes {
    addresses: Vec<Address>,
    shuffle: bool,
}

impl Nodes {
    /// The nodes `addresses` (not empty), tried in this order, or in a random order on every
    /// round when `shuffle` (`--shuffle-nodes`).
    ///
    /// # Panics
    /// When `addresses` is empty: every way of giving nodes yields at least one.
    pub fn new(addresses: Vec<Address>, shuffle: bool) -> Self {
        assert!(!addresses.is_empty(), "a node list holds at least one node");
        Nodes { addresses, shuffle }
    }

    /// The first node as given (the only one, without a list).
    pub fn first(&self) -> &Address {
        &self.addresses[0]
    }

    /// Every node, in the order given.
    pub fn all(&self) -> &[Address] {
        &self.addresses
    }

    /// True when more than one node was given.
    pub fn is_list(&self) -> bool {
        self.addresses.len() > 1
    }

    /// The indexes of the nodes in the order to try them this round: starting with node
    /// `start` (modulo their number) and going round, or shuffled with `--shuffle-nodes`.
    /// After a node was lost, the next round starts with the one after it, so that a dead
    /// node is tried last, not first, on every reconnect.
    pub fn round(&self, start: usize) -> Vec<usize> {
        let n = self.addresses.len();
        let mut order: Vec<usize> = (0..n).map(|i| (start + i) % n).collect();
        if self.shuffle {
            fastrand::shuffle(&mut order);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn urls_split_only_before_a_scheme() {
        assert_eq!(
            split_urls("amqp://u:p@n1/vh,amqp://u:p@n2/vh,amqps://u:p@n3/vh"),
            ["amqp://u:p@n1/vh", "amqp://u:p@n2/vh", "amqps://u:p@n3/vh"]
        );
        assert_eq!(split_urls("amqp://u:pa,ss@h"), ["amqp://u:pa,ss@h"]);
        assert_eq!(
            split_urls("amqp://u:a,b@h1,AMQPS://u:c,d@h2"),
            ["amqp://u:a,b@h1", "AMQPS://u:c,d@h2"]
        );
        assert_eq!(split_urls("amqp://h?x=a,b"), ["amqp://h?x=a,b"]);
        assert_eq!(split_urls("amqp://h,"), ["amqp://h,"]);
        assert_eq!(split_urls(""), [""]);
    }

    #[test]
    fn servers_split_at_commas() {
        assert_eq!(
            split_servers("n1,n2:5673,[::1]:5674"),
            ["n1", "n2:5673", "[::1]:5674"]
        );
        assert_eq!(split_servers("::1"), ["::1"]);
    }

    #[test]
    fn rounds_start_where_asked_and_go_round() {
        let address = Address {
            uri: crate::address::default_uri(false),
            tls: Default::default(),
            verbose: false,
        };
        let nodes = Nodes::new(vec![address.clone(), address.clone(), address], false);
        assert_eq!(nodes.round(0), [0, 1, 2]);
        assert_eq!(nodes.round(2), [2, 0, 1]);
        assert_eq!(nodes.round(4), [1, 2, 0]);
        let shuffled = Nodes::new(nodes.all().to_vec(), true);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut round = shuffled.round(0);
            seen.insert(round.clone());
            round.sort_unstable();
            assert_eq!(round, [0, 1, 2], "every node once per round");
        }
        assert!(seen.len() > 1, "--shuffle-nodes changes the order");
    }

    /// A password of any printable ASCII but `@`, `/` (a URI allows `,`, `:`, `;`, `?`...
    /// only percent-encoded or where the parser tolerates them; the split must not care).
    fn password() -> impl Strategy<Value = String> {
        "[!-~&&[^@/%]]{0,12}"
    }

    fn host() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9-]{0,10}",
            "(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}",
            "\\[(::1|fe80::[0-9a-f]{1,4}|2001:db8::[0-9a-f]{1,4})\\]",
        ]
    }

    fn uri_with(password: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
        (
            prop_oneof!["amqp", "amqps", "AMQP", "Amqps"],
            "[a-z]{1,6}",
            password,
            host(),
            proptest::option::of(1u16..),
        )
            .prop_map(|(scheme, user, password, host, port)| {
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("{scheme}://{user}:{password}@{host}{port}/vh")
            })
    }

    fn uri() -> impl Strategy<Value = String> {
        uri_with(password())
    }

    /// A URI whose password holds `SECRET` somewhere among other characters.
    fn uri_with_secret() -> impl Strategy<Value = String> {
        uri_with((password(), password()).prop_map(|(a, b)| format!("{a}SECRET{b}")))
    }

    proptest! {
        /// Joining URIs with commas and splitting again gives them back, whatever commas
        /// their passwords hold, with IPv6 hosts and mixed amqp/amqps.
        #[test]
        fn joined_uris_split_back(uris in proptest::collection::vec(uri(), 1..5)) {
            let joined = uris.join(",");
            prop_assert_eq!(split_urls(&joined), uris.iter().map(String::as_str).collect::<Vec<_>>());
        }

        /// Whatever the list, no message about it shows a password: each element is masked
        /// on its own.
        #[test]
        fn every_password_is_masked(uris in proptest::collection::vec(uri_with_secret(), 1..5)) {
            let joined = uris.join(",");
            for element in split_urls(&joined) {
                let masked = crate::address::mask_password(element);
                prop_assert!(!masked.contains("SECRET"), "{}", masked);
                if let Err(error) = crate::address::parse_url(element) {
                    prop_assert!(!error.to_string().contains("SECRET"), "{}", error);
                }
            }
        }
    }
}
