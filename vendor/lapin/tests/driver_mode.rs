// PATCH(amqp-tools): driver mode (see PATCHES.md).
use lapin::{
    BasicProperties, Confirmation, Connection, ConnectionProperties, options::*,
    tcp::AMQPUriTcpExt, types::FieldTable, uri::AMQPUri,
};
use std::time::Duration;

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

/// In driver mode the I/O loop runs as a task on the caller's runtime, here a single-threaded
/// one: a connection opens, publishes with confirms and closes, and no `lapin-io-loop` thread is
/// ever started.
#[tokio::test(flavor = "current_thread")]
async fn driver_mode_runs_without_an_io_thread() {
    let _ = tracing_subscriber::fmt::try_init();

    let addr = std::env::var("AMQP_ADDR").unwrap_or_else(|_| "amqp://127.0.0.1:5672/%2f".into());
    let uri: AMQPUri = addr.parse().expect("AMQP_ADDR");
    let runtime = lapin::runtime::default_runtime().expect("runtime");
    let (connecting, driver) = Connection::connector_driven(
        uri,
        runtime,
        async |uri, runtime| Ok(uri.connect_async(&runtime).await?),
        ConnectionProperties::default(),
    );
    let driver = tokio::spawn(driver);
    let conn = tokio::time::timeout(Duration::from_secs(30), connecting)
        .await
        .expect("the connection never opened")
        .expect("connection error");

    let channel = conn.create_channel().await.expect("create_channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm_select");
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
    let confirm = channel
        .basic_publish(
            "".into(),
            queue.name().clone(),
            BasicPublishOptions::default(),
            b"hello",
            BasicProperties::default(),
        )
        .await
        .expect("basic_publish")
        .await
        .expect("publisher confirm");
    assert_eq!(confirm, Confirmation::Ack(None));
    let message = channel
        .basic_get(queue.name().clone(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic_get")
        .expect("the message is not in the queue");
    assert_eq!(message.data, b"hello");

    let threads = thread_names();
    assert!(
        !threads.iter().any(|name| name == "lapin-io-loop"),
        "{threads:?}"
    );

    conn.close(200, "bye".into()).await.expect("close");
    tokio::time::timeout(Duration::from_secs(30), driver)
        .await
        .expect("the driver did not end with the connection")
        .expect("the driver panicked")
        .expect("the driver failed");
    let threads = thread_names();
    assert!(
        !threads.iter().any(|name| name == "lapin-io-loop"),
        "{threads:?}"
    );

    // The check above sees the thread where there is one: thread mode, unchanged.
    let conn = Connection::connect(&addr, ConnectionProperties::default())
        .await
        .expect("connection error");
    let threads = thread_names();
    assert!(
        threads.iter().any(|name| name == "lapin-io-loop"),
        "{threads:?}"
    );
    conn.close(200, "bye".into()).await.expect("close");
}

/// A connection that cannot be opened fails both futures of driver mode with the socket's
/// error, as `connect` does in thread mode.
#[tokio::test(flavor = "current_thread")]
async fn driver_mode_reports_a_refused_connection() {
    let _ = tracing_subscriber::fmt::try_init();

    let uri: AMQPUri = "amqp://demo:demo@localhost:5673".parse().expect("uri");
    let runtime = lapin::runtime::default_runtime().expect("runtime");
    let (connecting, driver) = Connection::connector_driven(
        uri,
        runtime,
        async |uri, runtime| Ok(uri.connect_async(&runtime).await?),
        ConnectionProperties::default(),
    );
    let driver = tokio::spawn(driver);
    let err = tokio::time::timeout(Duration::from_secs(60), connecting)
        .await
        .expect("the connection attempt never ended")
        .expect_err("connected to a closed port");
    match err.kind() {
        lapin::ErrorKind::IOError(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused),
        other => panic!("unexpected error {other:?}"),
    }
    let res = tokio::time::timeout(Duration::from_secs(60), driver)
        .await
        .expect("the driver never ended")
        .expect("the driver panicked");
    assert!(res.is_err(), "{res:?}");
}
