// PATCH(amqp-tools): driver mode (see PATCHES.md), measured with this example.
//! Publish one message with publisher confirms and exit, on a current-thread tokio runtime,
//! the way a command-line tool run once per message does.
//!
//! `cargo run --example publish_one -- [thread|driver] [nowait]`: `thread` (the default) opens
//! the connection with `Connection::connector` (lapin's I/O thread), `driver` with
//! `Connection::connector_driven` (the I/O loop as a task on this runtime, no other thread);
//! `nowait` sends confirm.select without waiting for select-ok. `AMQP_ADDR` names the broker.
use lapin::{
    AsyncTcpStream, BasicProperties, Confirmation, Connection, ConnectionProperties, options::*,
    uri::AMQPUri,
};
use std::net::{SocketAddr, ToSocketAddrs};

async fn publish_one(driven: bool, nowait: bool) -> lapin::Result<()> {
    let addr = std::env::var("AMQP_ADDR").unwrap_or_else(|_| "amqp://127.0.0.1:5672/%2f".into());
    let uri: AMQPUri = addr.parse().expect("AMQP_ADDR");
    let runtime = lapin::runtime::default_runtime()?;
    // Both modes connect alike: the host resolved in place (a numeric one is only parsed),
    // rather than through a task of the runtime's blocking pool (a thread).
    let connect = async |uri: AMQPUri, runtime| {
        let addresses = (uri.authority.host.as_str(), uri.authority.port)
            .to_socket_addrs()?
            .collect::<Vec<SocketAddr>>();
        Ok(AsyncTcpStream::connect(&runtime, addresses).await?)
    };
    let properties = ConnectionProperties::default();
    let conn = if driven {
        let (connecting, driver) = Connection::connector_driven(uri, runtime, connect, properties);
        tokio::spawn(driver);
        connecting.await?
    } else {
        Connection::connector(uri, runtime, connect, properties).await?
    };
    let channel = conn.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions { nowait })
        .await?;
    let confirm = channel
        .basic_publish(
            "".into(),
            "publish-one".into(),
            BasicPublishOptions::default(),
            b"hello",
            BasicProperties::default(),
        )
        .await?
        .await?;
    assert_eq!(confirm, Confirmation::Ack(None));
    channel.close(200, "OK".into()).await?;
    conn.close(200, "OK".into()).await
}

fn main() {
    let args = std::env::args().skip(1).collect::<Vec<_>>();
    let driven = args.iter().any(|arg| arg == "driver");
    let nowait = args.iter().any(|arg| arg == "nowait");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(publish_one(driven, nowait))
        .expect("publish");
}
