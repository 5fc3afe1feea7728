//! The `--authfile` format: exactly two lines, `username:NAME` then `password:SECRET`.
//!
//! Follows rabbitmq-c's `read_authfile` (tools/common.c), with two defects of the original
//! fixed (see COMPATIBILITY.md): a file without a final newline is accepted (the original says
//! "Password too long"), and a CRLF line end is not taken into the name or the password.

use crate::error::Error;
use std::path::Path;

/// Credentials read from an authfile.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name, the text after `username:` on the first line.
    pub username: String,
    /// The password, the text after `password:` on the second line.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"****")
            .finish()
    }
}

/// Reads and parses the authfile at `path`.
///
/// Errors (one line each, exit 1): `Could not read auth data file PATH: CAUSE` when it cannot be
/// read, and the [`parse`] errors.
pub fn read(path: &Path) -> Result<Credentials, Error> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::Message(format!(
            "Could not read auth data file {}: {}",
            path.display(),
            crate::error::describe_io(&e)
        ))
    })?;
    parse(&bytes)
}

/// Parses an authfile's contents.
///
/// Errors: `Malformed auth file (missing username)` / `(missing password)` when a line does not
/// start with its key, `Malformed auth file (trailing data)` when anything follows the password
/// line, and `Malformed auth file (not UTF-8)`. No length limit (the original's 117 bytes is
/// the size of its buffer).
pub fn parse(bytes: &[u8]) -> Result<Credentials, Error> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::Message("Malformed auth file (not UTF-8)".to_string()))?;
    let mut lines = text.split_inclusive('\n');
    let username = field(lines.next(), "username:", "username")?;
    let password = field(lines.next(), "password:", "password")?;
    if lines.next().is_some() {
        return Err(Error::Message(
            "Malformed auth file (trailing data)".to_string(),
        ));
    }
    Ok(Credentials { username, password })
}

fn field(line: Option<&str>, key: &str, name: &str) -> Result<String, Error> {
    let missing = || Error::Message(format!("Malformed auth file (missing {name})"));
    let value = line.and_then(|l| l.strip_prefix(key)).ok_or_else(missing)?;
    let value = value.strip_suffix('\n').unwrap_or(value);
    let value = value.strip_suffix('\r').unwrap_or(value);
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (String, String) {
        let c = parse(text.as_bytes()).unwrap();
        (c.username, c.password)
    }

    fn err(text: &str) -> String {
        parse(text.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn reads_two_lines() {
        assert_eq!(ok("username:a\npassword:b\n"), ("a".into(), "b".into()));
        assert_eq!(ok("username:a\npassword:b"), ("a".into(), "b".into()));
        assert_eq!(
            ok("username:a\r\npassword:b:c\r\n"),
            ("a".into(), "b:c".into())
        );
        assert_eq!(ok("username:\npassword:\n"), ("".into(), "".into()));
    }

    #[test]
    fn rejects_malformed_files() {
        assert_eq!(err(""), "Malformed auth file (missing username)");
        assert_eq!(
            err("user:a\npassword:b\n"),
            "Malformed auth file (missing username)"
        );
        assert_eq!(
            err("username:a\n"),
            "Malformed auth file (missing password)"
        );
        assert_eq!(
            err("username:a\npassword:b\nx"),
            "Malformed auth file (trailing data)"
        );
        assert_eq!(
            err("username:a\npassword:b\n\n"),
            "Malformed auth file (trailing data)"
        );
        let long = format!("username:a\npassword:{}\n", "x".repeat(600));
        assert_eq!(ok(&long).1.len(), 600);
    }

    #[test]
    fn debug_masks_the_password() {
        let c = parse(b"username:a\npassword:secret\n").unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }
}
