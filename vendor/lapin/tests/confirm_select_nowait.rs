// PATCH(amqp-tools): confirm.select with nowait (see PATCHES.md).
use lapin::{
    BasicProperties, Confirmation, Connection, ConnectionProperties, options::*, types::FieldTable,
};
use std::time::Duration;

/// With `nowait`, the broker sends no confirm.select-ok: `confirm_select` must resolve without
/// one, and the channel must be in confirm mode right away, its first publish confirmed as
/// delivery tag 1.
#[tokio::test]
async fn confirm_select_nowait_resolves_and_enables_confirms() {
    let _ = tracing_subscriber::fmt::try_init();

    let addr = std::env::var("AMQP_ADDR").unwrap_or_else(|_| "amqp://127.0.0.1:5672/%2f".into());
    let conn = Connection::connect(&addr, ConnectionProperties::default())
        .await
        .expect("connection error");
    let channel = conn.create_channel().await.expect("create_channel");
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue_declare");

    tokio::time::timeout(
        Duration::from_secs(10),
        channel.confirm_select(ConfirmSelectOptions { nowait: true }),
    )
    .await
    .expect("confirm_select with nowait waited for a select-ok")
    .expect("confirm_select");
    assert!(channel.status().confirm());

    let confirm = channel
        .basic_publish(
            "".into(),
            queue.name().clone(),
            BasicPublishOptions::default(),
            b"hello",
            BasicProperties::default(),
        )
        .await
        .expect("basic_publish");
    let confirm = tokio::time::timeout(Duration::from_secs(10), confirm)
        .await
        .expect("the publish was never confirmed")
        .expect("publisher confirm");
    assert_eq!(confirm, Confirmation::Ack(None));

    let message = channel
        .basic_get(queue.name().clone(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic_get")
        .expect("the message is not in the queue");
    assert_eq!(message.data, b"hello");

    conn.close(200, "bye".into()).await.expect("close");
}
