//! Property tests of the parsers that take user input: URLs, `-H` headers, authfiles, option
//! numbers. Whatever the input, they return a value or an error, never panic, and an error
//! never shows a password.

use amqp_tools::address::{mask_password, parse_url};
use amqp_tools::authfile;
use amqp_tools::cli::parse_int;
use amqp_tools::headers;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_text_as_url_parses_or_fails_cleanly(text in "\\PC{0,80}") {
        let _ = parse_url(&text);
    }

    #[test]
    fn url_like_text_never_panics(
        scheme in prop_oneof!["amqp", "amqps", "http", ""],
        user in "[a-z%0-9:@]{0,8}",
        pass in "[a-z%0-9:@/]{0,8}",
        host in "[a-z0-9.:\\[\\]%]{0,12}",
        port in "[0-9a-z]{0,6}",
        path in "[a-z%0-9/?#=&]{0,12}",
    ) {
        let url = format!("{scheme}://{user}:{pass}@{host}:{port}/{path}");
        let _ = parse_url(&url);
    }

    #[test]
    fn url_errors_never_show_the_password(
        user in "[a-z]{1,8}",
        pass in "[A-Z]{6,12}",
        rest in "[a-z0-9:/\\[\\]?%]{0,16}",
    ) {
        let url = format!("amqp://{user}:{pass}@{rest}");
        if let Err(error) = parse_url(&url) {
            prop_assert!(!error.to_string().contains(&pass), "{error}");
        }
        prop_assert!(!mask_password(&url).contains(&pass));
    }

    #[test]
    fn passwords_holding_url_delimiters_never_show(
        scheme in prop_oneof!["amqp://", "amqps://", "http://", "amqp:/", "amqp:", ""],
        user in "[a-z]{0,8}",
        first in "[JKXZ]{3,6}",
        delimiters in proptest::collection::vec(
            proptest::sample::select(&["/", "?", "#", "@", ":", "%", "%2f", "//", "[", "]"][..]),
            1..4,
        ),
        last in "[JKXZ]{3,6}",
        host in "[a-z0-9.]{0,10}",
        rest in "[a-z0-9:/?#=&@%\\[\\]]{0,16}",
    ) {
        // The password's pieces are made of capitals that no error text uses.
        let url = format!("{scheme}{user}:{first}{}{last}@{host}{rest}", delimiters.concat());
        let mut shown = vec![mask_password(&url)];
        if let Err(error) = parse_url(&url) {
            shown.push(error.to_string());
        }
        for text in shown {
            prop_assert!(!text.contains(&first) && !text.contains(&last), "{url} -> {text}");
        }
    }

    #[test]
    fn headers_split_at_the_first_colon(key in "[^:]{0,20}", value in "\\PC{0,40}") {
        let entry = format!("{key}:{value}");
        let header = headers::parse(&entry).expect("has a colon");
        prop_assert_eq!(header.key, key.as_bytes());
        prop_assert_eq!(header.value, value.trim_start_matches(' ').as_bytes());
    }

    #[test]
    fn any_header_text_parses_or_is_skipped(entry in "\\PC{0,60}") {
        let parsed = headers::parse(&entry);
        prop_assert_eq!(parsed.is_some(), entry.contains(':'));
    }

    #[test]
    fn any_authfile_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Err(error) = authfile::parse(&bytes) {
            prop_assert!(!error.to_string().contains('\n'));
        }
    }

    #[test]
    fn authfile_round_trips(user in "[^\\n\\r]{0,40}", pass in "[^\\n\\r]{0,40}", crlf in any::<bool>()) {
        let end = if crlf { "\r\n" } else { "\n" };
        let text = format!("username:{user}{end}password:{pass}{end}");
        let credentials = authfile::parse(text.as_bytes()).expect("well-formed");
        prop_assert_eq!(credentials.username, user);
        prop_assert_eq!(credentials.password, pass);
    }

    #[test]
    fn numbers_parse_or_fail_cleanly(text in "\\PC{0,24}") {
        let _ = parse_int(&text);
    }

    #[test]
    fn decimal_ints_round_trip(n in any::<i32>()) {
        prop_assert_eq!(parse_int(&n.to_string()), Ok(i64::from(n)));
    }
}

/// The real binary, given URLs whose password holds URL delimiters (or that lack `//`), on the
/// command line and in `AMQP_URL`: the error names the URL, never the password. These fail to
/// parse, so no broker is needed.
#[test]
fn the_tools_never_print_a_password_from_a_malformed_url() {
    let get = env!("CARGO_BIN_EXE_amqp-get");
    for url in [
        "amqp://guest:PASS/WORD@127.0.0.1:5672/",
        "amqp://guest:PASS?WORD@127.0.0.1",
        "amqp://guest:PASS#WORD@127.0.0.1",
        "amqps://guest:PASS/WORD@localhost/%2f",
        "amqp:guest:PASSWORD@127.0.0.1",
        "amqp:/guest:PASSWORD@127.0.0.1",
        "guest:PASSWORD@127.0.0.1",
    ] {
        let by_option = std::process::Command::new(get)
            .args(["--url", url, "-q", "x"])
            .env_remove("AMQP_URL")
            .output()
            .expect("amqp-get");
        let by_env = std::process::Command::new(get)
            .args(["-q", "x"])
            .env("AMQP_URL", url)
            .output()
            .expect("amqp-get");
        for out in [by_option, by_env] {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{url}: {stderr}");
            assert!(stderr.starts_with("Parsing URL '"), "{url}: {stderr}");
            assert!(
                !stderr.contains("PASS") && !stderr.contains("WORD"),
                "{url}: {stderr}"
            );
        }
    }
}
