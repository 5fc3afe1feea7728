//! The content header properties `amqp-publish` sends (AMQP 0-9-1 basic class properties).
//!
//! As the original: delivery-mode is always set (1, or 2 with `-p`), content-type,
//! content-encoding, reply-to and headers only when given. Ours adds every other basic
//! property and typed headers (`--typed-header`, see [`crate::field_value`]).

use crate::cli::publish::Options;
use crate::error::Error;
use crate::{field_value, headers};
use lapin::BasicProperties;
use lapin::types::{FieldTable, ShortString};

/// A setter of a text property: `BasicProperties::with_content_type`, ...
type SetText = fn(BasicProperties, ShortString) -> BasicProperties;

/// Builds the properties from the options; `warn` receives the `-H` warnings.
///
/// Errors ([`Error::Usage`]): `--timestamp: ...` when it is neither a number of seconds nor
/// empty, `--typed-header: expected KEY=VALUE ...`.
pub fn from_options(options: &Options, warn: impl FnMut(&str)) -> Result<BasicProperties, Error> {
    let p = overrides(options, warn)?;
    Ok(if options.persistent {
        p
    } else {
        p.with_delivery_mode(1)
    })
}

/// The properties the options set, and only those (delivery-mode only with `-p`): what
/// overrides a line's properties in `amqp-publish --json` (see [`crate::publish::merge`]).
///
/// Errors: as [`from_options`].
pub fn overrides(options: &Options, warn: impl FnMut(&str)) -> Result<BasicProperties, Error> {
    let mut p = BasicProperties::default();
    if options.persistent {
        p = p.with_delivery_mode(2);
    }
    // The text properties, each with its setter.
    let texts: [(&Option<ShortString>, SetText); 8] = [
        (&options.content_type, BasicProperties::with_content_type),
        (
            &options.content_encoding,
            BasicProperties::with_content_encoding,
        ),
        (&options.reply_to, BasicProperties::with_reply_to),
        (&options.message_id, BasicProperties::with_message_id),
        (
            &options.correlation_id,
            BasicProperties::with_correlation_id,
        ),
        (&options.message_type, BasicProperties::with_type),
        (&options.app_id, BasicProperties::with_app_id),
        (&options.user_id, BasicProperties::with_user_id),
    ];
    for (value, set) in texts {
        if let Some(v) = value {
            p = set(p, v.clone());
        }
    }
    if let Some(v) = options.expiration {
        p = p.with_expiration(v.to_string().into());
    }
    if let Some(v) = options.priority {
        p = p.with_priority(v);
    }
    if let Some(v) = &options.timestamp {
        p = p.with_timestamp(timestamp(v)?);
    }
    if let Some(table) = header_table(options, warn)? {
        p = p.with_headers(table);
    }
    Ok(p)
}

/// `now` (or empty) as the current time, else a number of seconds since the epoch.
fn timestamp(text: &str) -> Result<u64, Error> {
    if text == "now" || text.is_empty() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        return Ok(now);
    }
    text.parse::<u64>().map_err(|_| {
        Error::Usage(format!(
            "--timestamp: '{text}' is not a number of seconds since the epoch"
        ))
    })
}

/// `-H` string headers, then `--typed-header` values (which win for a key given by both).
fn header_table(options: &Options, warn: impl FnMut(&str)) -> Result<Option<FieldTable>, Error> {
    let mut table = headers::table(&options.headers, warn)?;
    if !options.typed_headers.is_empty() {
        let typed = field_value::table_of_words(&options.typed_headers)
            .map_err(|e| Error::Usage(format!("--typed-header: {e}")))?;
        let merged = table.get_or_insert_with(FieldTable::default);
        for (key, value) in typed.inner() {
            merged.insert(key.clone(), value.clone());
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_seconds_or_now() {
        assert_eq!(timestamp("1700000000").unwrap(), 1_700_000_000);
        assert!(timestamp("now").unwrap() > 1_700_000_000);
        assert!(timestamp("yesterday").is_err());
    }
}
