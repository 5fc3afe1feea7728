#![warn(missing_docs)]
//! amqp-tools: command-line AMQP 0-9-1 clients for RabbitMQ, a drop-in replacement for the
//! rabbitmq-c tools (`amqp-publish`, `amqp-consume`, `amqp-get`, `amqp-declare-queue`,
//! `amqp-delete-queue`).
//!
//! The library owns what the tools share; each binary in `src/bin/` is a thin layer over it.
//! How a run is arranged (the layers, which thread does what, the path of one publish and one
//! consume through the files): `ARCHITECTURE.md` at the top of the repository.

pub mod address;
pub mod authfile;
pub mod body;
pub mod cli;
pub mod connection;
pub mod consume;
pub mod deadline;
pub mod error;
pub mod exit;
pub mod field_value;
pub mod get;
pub mod headers;
pub mod message_json;
pub mod nodes;
pub mod properties;
pub mod protocol_trace;
pub mod publish;
pub mod queued;
pub mod rate;
pub mod report;
pub mod rpc;
pub mod runner;
pub mod short_string;
pub mod std_fds;
pub mod tls;
pub mod tls_legacy;
pub mod tls_verify;

pub use address::Address;
pub use connection::Session;
pub use error::{Error, Result, StepExt};
pub use exit::Outcome;
