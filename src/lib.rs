//! # xmtp-opmon
//!
//! An operation monitor for the XMTP V4 ("d14n") network, seen from the
//! client: how long **identity creation**, **group creation** and
//! **member addition** take, how often they fail, and *why*.
//!
//! ## The idea
//!
//! A user-visible XMTP operation is a short conversation with the network.
//! Creating an identity uploads an MLS key package, publishes a signed
//! identity update, and then waits until the update can be read back —
//! on V4 it travels through a chain and an indexer first, and an invalid
//! update is silently dropped rather than refused. Adding members reads
//! identity logs, fetches key packages, publishes an MLS commit, waits for
//! it, and sends one sealed welcome per new installation. Timing the
//! operation as a whole, and each of its phases, tells where the time
//! goes; classifying each failure ([`classify::ErrorClass`]) tells why.
//!
//! The crate has parts that share one model of these operations:
//!
//! - [`layer`]: the two tower layers production apps link —
//!   [`RpcTelemetryLayer`](layer::RpcTelemetryLayer) around a gRPC channel
//!   (a CLIENT span and `rpc.client.call.duration` per call, classified at
//!   the end of the response stream) and
//!   [`OpTelemetryLayer`](layer::OpTelemetryLayer) around a client (a span
//!   per operation, parent of its phases and their calls; operation and
//!   phase duration histograms; observers);
//! - [`telemetry`]: where those spans and metrics go — OTLP, a Prometheus
//!   Pushgateway, or both — with a guard that flushes on shutdown;
//! - [`classify`]: the error classes and the table that maps every kind of
//!   failure to one of them;
//! - [`client`]: a client that performs the operations over XMTP's real
//!   wire protocol with real cryptography (secp256k1 wallets and EIP-191,
//!   Ed25519ph installation signatures, P-256 WebAuthn passkeys, MLS via
//!   openmls), so its costs and payloads are the real ones;
//! - [`node`]: an embedded V4 gateway and node that serves the same gRPC
//!   API, validates like xmtpd, and injects faults, so everything runs on
//!   one machine;
//! - [`identity`] and [`mls`]: the XMTP identity rules and MLS conventions
//!   the client and the node both use;
//! - [`load`]: synthetic traffic through the same layers — scenarios,
//!   closed and open load models with response time measured from the
//!   intended start (the correction for coordinated omission), HDR
//!   recording, resource sampling and thresholds; `opmon bench` is built
//!   from it;
//! - [`report`]: a run's results (`run.json`, `summary.csv`, the summary
//!   table, and the HTML page with plots);
//! - [`semconv`]: every telemetry name, in one place.
//!
//! ## Features
//!
//! | feature  | adds                                                          |
//! |----------|---------------------------------------------------------------|
//! | (none)   | [`layer`], [`telemetry`], [`classify`], [`semconv`], [`codec`] |
//! | `tls`    | TLS for tonic channels (https targets)                        |
//! | `client` | `client`, `identity`, `mls`, `proto`, `topic` (and `tls`)      |
//! | `node`   | `node`, the embedded V4/V3 node (and `client`)                |
//! | `bench`  | `load` and `report`, and what the `opmon` binary needs        |
//!
//! The default is all of them. An app that only links the layers uses
//! `default-features = false` and compiles none of the cryptography, the
//! node or the load generator.
//!
//! ## Example
//!
//! ```no_run
//! # #[cfg(feature = "node")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use xmtp_opmon::{client::V4Client, node::EmbeddedNode};
//!
//! let node = EmbeddedNode::start("127.0.0.1:0".parse()?).await?;
//! let client = V4Client::connect(node.url(), node.url())?;
//! let alice = client.create_identity().await?;
//! let bob = client.create_identity().await?;
//! let mut group = client.create_group(&alice, &[]).await?;
//! let report = client.add_members(&mut group, &[bob.inbox_id().to_owned()]).await?;
//! assert_eq!(report.installations, 1);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms)]

// The middleware: always built.
pub mod classify;
pub mod codec;
pub mod layer;
pub mod semconv;
pub mod telemetry;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod identity;
#[cfg(feature = "bench")]
pub mod load;
#[cfg(feature = "client")]
pub mod mls;
#[cfg(feature = "node")]
pub mod node;
#[cfg(feature = "client")]
pub mod proto;
#[cfg(feature = "bench")]
pub mod report;
#[cfg(feature = "client")]
pub mod topic;
