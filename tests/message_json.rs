//! Property tests of the JSON lines format (no broker): any field value tree, and any message
//! with any properties and body, encodes to one valid line and decodes to itself.

use amqp_tools::message_json::tree::Json;
use amqp_tools::message_json::{self, Delivery, value};
use lapin::BasicProperties;
use lapin::types::{
    AMQPValue, ByteArray, DecimalValue, FieldArray, FieldTable, LongString, ShortString,
};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = AMQPValue> {
    prop_oneof![
        any::<bool>().prop_map(AMQPValue::Boolean),
        any::<i8>().prop_map(AMQPValue::ShortShortInt),
        any::<u8>().prop_map(AMQPValue::ShortShortUInt),
        any::<i16>().prop_map(AMQPValue::ShortInt),
        any::<u16>().prop_map(AMQPValue::ShortUInt),
        any::<i32>().prop_map(AMQPValue::LongInt),
        any::<u32>().prop_map(AMQPValue::LongUInt),
        any::<i64>().prop_map(AMQPValue::LongLongInt),
        (-(1i64 << 53)..(1i64 << 53)).prop_map(AMQPValue::LongLongInt),
        any::<f32>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(AMQPValue::Float),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(AMQPValue::Double),
        (any::<u8>(), any::<u32>())
            .prop_map(|(scale, value)| AMQPValue::DecimalValue(DecimalValue { scale, value })),
        "\\PC{0,20}".prop_map(|s| AMQPValue::LongString(LongString::from(s))),
        proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(|b| AMQPValue::LongString(LongString::from(b))),
        proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(|b| AMQPValue::ByteArray(ByteArray::from(b))),
        any::<u64>().prop_map(AMQPValue::Timestamp),
        Just(AMQPValue::Void),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,12}", "\\$[a-z0-9_]{0,8}", "[a-z]{255}"]
}

fn tree() -> impl Strategy<Value = AMQPValue> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6)
                .prop_map(|v| AMQPValue::FieldArray(FieldArray::from(v))),
            proptest::collection::vec((key(), inner), 0..6).prop_map(|entries| {
                let mut table = FieldTable::default();
                for (k, v) in entries {
                    table.insert(ShortString::from(k), v);
                }
                AMQPValue::FieldTable(table)
            }),
        ]
    })
}

fn short() -> impl Strategy<Value = Option<ShortString>> {
    proptest::option::of("\\PC{0,16}".prop_map(ShortString::from))
}

prop_compose! {
    fn properties()(
        texts in proptest::collection::vec(short(), 11),
        headers in proptest::option::of(tree()),
        mode in proptest::option::of(any::<u8>()),
        priority in proptest::option::of(any::<u8>()),
        timestamp in proptest::option::of(any::<u64>()),
    ) -> BasicProperties {
        let mut p = BasicProperties::default();
        let set = |p: BasicProperties, i: usize, f: fn(BasicProperties, ShortString) -> BasicProperties| {
            match &texts[i] { Some(v) => f(p, v.clone()), None => p }
        };
        p = set(p, 0, BasicProperties::with_content_type);
        p = set(p, 1, BasicProperties::with_content_encoding);
        p = set(p, 2, BasicProperties::with_correlation_id);
        p = set(p, 3, BasicProperties::with_reply_to);
        p = set(p, 4, BasicProperties::with_expiration);
        p = set(p, 5, BasicProperties::with_message_id);
        p = set(p, 6, BasicProperties::with_type);
        p = set(p, 7, BasicProperties::with_user_id);
        p = set(p, 8, BasicProperties::with_app_id);
        p = set(p, 9, BasicProperties::with_cluster_id);
        if let Some(AMQPValue::FieldTable(t)) = headers { p = p.with_headers(t); }
        if let Some(m) = mode { p = p.with_delivery_mode(m); }
        if let Some(v) = priority { p = p.with_priority(v); }
        if let Some(t) = timestamp { p = p.with_timestamp(t); }
        p
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn any_field_value_tree_decodes_to_itself(value in tree()) {
        let text = value::to_string(&value);
        prop_assert!(!text.contains('\n'));
        let json: Json = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(value::from_json(&json, "v").unwrap(), value);
    }

    #[test]
    fn any_message_is_one_valid_line_that_decodes_to_itself(
        properties in properties(),
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            "\\PC{0,64}".prop_map(String::into_bytes),
        ],
        routing_key in "\\PC{0,16}",
    ) {
        let line = message_json::line(&Delivery {
            exchange: "",
            routing_key: &routing_key,
            redelivered: true,
            delivery_tag: 7,
            consumer_tag: Some("ctag"),
            message_count: Some(3),
            queue: "q",
            received_at: std::time::SystemTime::now(),
            properties: &properties,
            body: &body,
        });
        prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        prop_assert_eq!(line.last(), Some(&b'\n'));
        prop_assert!(std::str::from_utf8(&line).is_ok());
        serde_json::from_slice::<serde_json::Value>(&line).unwrap();
        let mut read: Vec<_> = message_json::messages(&line[..]).collect();
        prop_assert_eq!(read.len(), 1);
        let message = read.remove(0).unwrap();
        prop_assert_eq!(message.body, body);
        prop_assert_eq!(message.properties, properties);
        prop_assert_eq!(message.routing_key, Some(routing_key));
        prop_assert_eq!(message.exchange, Some(String::new()));
    }

    #[test]
    fn any_input_reads_or_fails_cleanly(text in "\\PC{0,120}") {
        for message in message_json::messages(text.as_bytes()) {
            if let Err(error) = message {
                prop_assert!(!error.to_string().contains('\n'));
            }
        }
    }
}
