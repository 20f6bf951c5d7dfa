//! The embedded node: an XMTP V4 gateway and node in one process.
//!
//! It serves what a client needs on a single listener — the gateway's
//! write API (`PayerApi` and `GatewayApi`), the node's read API
//! (`ReplicationApi` and `QueryApi`), the V3 API (`MlsApi` and
//! `IdentityApi`, over the same store) and gRPC health — over plain
//! HTTP/2.
//! Storage is in memory. It validates like xmtpd: envelopes are checked at
//! publish, key packages with openmls, identity updates for real against
//! the inbox's log (wallet, installation and passkey signatures; the
//! smart-contract-wallet signatures it cannot check without a chain are
//! refused or accepted unverified as [`NodeConfig::scw_signatures`] says),
//! and, as on the real network, an invalid identity update is acknowledged
//! and then silently dropped (unless [`NodeConfig::strict`]).
//! [`Faults`] make it slow or failing on purpose.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use xmtp_opmon::node::EmbeddedNode;
//! let node = EmbeddedNode::start("127.0.0.1:0".parse().unwrap()).await?;
//! println!("serving on {}", node.url());
//! node.shutdown().await;
//! # Ok(()) }
//! ```

mod eviction;
mod faults;
mod footprint;
mod inbox_locks;
mod recency;
mod segments;
mod service;
mod sign;
mod size;
mod store;
mod store_stats;
mod subscriptions;
mod topic_feed;
mod v3;
mod v3_streams;
mod validate;
mod workers;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;

use crate::codec::MAX_PAYLOAD_BYTES;
pub use crate::identity::ScwSignatures;
use crate::proto::gateway_api::gateway_api_server::GatewayApiServer;
use crate::proto::message_api::query_api_server::QueryApiServer;
use crate::proto::message_api::replication_api_server::ReplicationApiServer;
use crate::proto::payer_api::payer_api_server::PayerApiServer;
use crate::proto::xmtp::identity::api::v1::identity_api_server::IdentityApiServer;
use crate::proto::xmtp::mls::api::v1::mls_api_server::MlsApiServer;

pub use eviction::{DEFAULT_MAX_STORE, DEFAULT_RETENTION};
pub use faults::{
    parse_duration, parse_errors, parse_workers, FaultSpecError, Faults, InjectedError, Latency,
    Stall,
};
pub use store::{COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR};

pub use size::{parse_size, SizeError};
pub use store_stats::StoreStats;
pub use subscriptions::{StreamLimits, DEFAULT_MAX_SUBSCRIPTIONS, DEFAULT_STREAM_BUFFER};

use eviction::StoreLimits;
use faults::FaultLayer;
use service::{NodeService, NodeState};

/// How long [`RunningNode::shutdown`] waits for calls in flight.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

// Limits against abusive clients. Each bounds what one client can make the
// node hold; none is near what a well-behaved client needs. The README's
// "Limits against abusive clients" lists them with what a client hitting
// one sees.

/// HTTP/2 streams (calls in flight) one connection may have open at once
/// (`SETTINGS_MAX_CONCURRENT_STREAMS`). Each open stream holds a handler's
/// state and its unread request, so this caps what one connection can pin.
/// A client past it waits in its own HTTP/2 layer for a slot (tonic and
/// grpc-go queue the call) rather than failing. 1,024 is far above what an
/// XMTP client keeps in flight; only `opmon bench` at higher concurrency
/// on its single connection would queue there, and that shows as response
/// time.
pub const MAX_CONCURRENT_STREAMS: u32 = 1_024;

/// The largest header block a request may carry (HTTP/2
/// `SETTINGS_MAX_HEADER_LIST_SIZE`, decoded size). gRPC metadata (path,
/// content type, deadline, trace context, user agent) is well under 1 KiB;
/// 16 KiB leaves room for custom metadata while stopping a client from
/// making the node buffer megabytes of headers. A request past it is reset
/// without reaching a handler.
pub const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

/// The largest HTTP/2 frame the node accepts (`SETTINGS_MAX_FRAME_SIZE`):
/// the protocol's minimum and default. Bulk payloads stream fine in 16 KiB
/// frames; larger ones would only let one stream hold the connection's
/// reader longer.
pub const MAX_FRAME_BYTES: u32 = 16 * 1024;

/// Flow-control windows: how much request data one stream, and one
/// connection in all, may send before the node has read it. They bound the
/// unread data a stalled or flooding client can park in the node (8 MiB
/// per connection) while letting a single large upload (key packages,
/// commits, welcomes of several MiB) flow without waiting on window
/// updates.
pub const STREAM_WINDOW_BYTES: u32 = 4 << 20;
/// See [`STREAM_WINDOW_BYTES`].
pub const CONNECTION_WINDOW_BYTES: u32 = 8 << 20;

/// The longest a call may take from its headers to the handler's answer,
/// including the time to receive its request body: a client that sends
/// half a request and stalls is answered `CANCELLED` ("Timeout expired")
/// after this and its stream is freed. Clients' own deadlines are shorter
/// (`opmon`'s RPC timeout is 10 s), so no call a client still waits for is
/// cut; injected stalls and latency longer than this are cut too.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// After how long without hearing from a connection the node pings it,
/// and how long it waits for the answer before closing it. This reclaims
/// connections whose peer vanished without closing TCP (a crashed client,
/// a dropped NAT mapping); live clients answer pings in their HTTP/2 layer
/// and are not affected.
pub const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
/// See [`KEEPALIVE_INTERVAL`].
pub const KEEPALIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Streams a client may open and reset at once before the connection is
/// closed with `GOAWAY` (the HTTP/2 "rapid reset" attack, CVE-2023-44487,
/// makes a server start work for requests that cost the client nothing).
/// h2's own default, set here so it cannot change under us.
pub const MAX_PENDING_RESETS: usize = 20;

/// Protocol errors the node may answer with a stream reset on one
/// connection before closing it with `GOAWAY` (a client provoking resets
/// in a loop). hyper's default, pinned.
pub const MAX_LOCAL_RESETS: usize = 1_024;

/// How the embedded node behaves.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Check more than xmtpd does: reject invalid identity updates at
    /// publish with `INVALID_ARGUMENT` instead of acknowledging and
    /// dropping them, and envelopes whose topic identifier does not match
    /// their payload or whose welcome lacks data or a key.
    pub strict: bool,
    /// Faults to inject.
    pub faults: Faults,
    /// Hold the latency, stall and error faults until
    /// [`RunningNode::arm_faults`], so set-up traffic such as a
    /// benchmark's provisioning runs undisturbed. (Indexer lag is part of
    /// the node's behaviour and always applies.)
    pub hold_faults: bool,
    /// How long an envelope no rule keeps stays readable (see
    /// [`DEFAULT_RETENTION`]).
    pub retention: std::time::Duration,
    /// The store's size cap in bytes: past it, the oldest envelopes no
    /// rule keeps are evicted early (see [`DEFAULT_MAX_STORE`]).
    pub max_store: u64,
    /// Smart-contract-wallet signatures need a chain to verify, which this
    /// node does not have: refused with `INVALID_ARGUMENT` (the default),
    /// or applied without the ERC-1271/6492 check.
    pub scw_signatures: ScwSignatures,
    /// The longest a call may take, its request's upload included (see
    /// [`REQUEST_TIMEOUT`], the default).
    pub request_timeout: std::time::Duration,
    /// Bounds on streams: subscriptions at once, messages queued per
    /// subscriber (see [`StreamLimits`]).
    pub streams: StreamLimits,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            strict: false,
            faults: Faults::default(),
            hold_faults: false,
            retention: DEFAULT_RETENTION,
            max_store: DEFAULT_MAX_STORE,
            scw_signatures: ScwSignatures::Refuse,
            request_timeout: REQUEST_TIMEOUT,
            streams: StreamLimits::default(),
        }
    }
}

/// Starts embedded nodes. See the [module docs](self).
#[derive(Debug)]
pub struct EmbeddedNode;

impl EmbeddedNode {
    /// Serves a node with the default configuration on `addr` (use port 0
    /// for a free port).
    pub async fn start(addr: SocketAddr) -> std::io::Result<RunningNode> {
        Self::start_with(addr, NodeConfig::default()).await
    }

    /// Serves a node configured by `config` on `addr`.
    pub async fn start_with(addr: SocketAddr, config: NodeConfig) -> std::io::Result<RunningNode> {
        let incoming = TcpIncoming::bind(addr)?.with_nodelay(Some(true));
        let local_addr = incoming.local_addr()?;
        let url = format!("http://{local_addr}");
        let faults = FaultLayer::new(config.faults.clone(), config.hold_faults);
        let service = NodeService {
            state: Arc::new(NodeState::new(
                config.strict,
                config.scw_signatures,
                config.faults.indexer_lag,
                StoreLimits {
                    retention: config.retention,
                    max_bytes: config.max_store,
                },
                subscriptions::Hub::new(config.streams, faults.clone()),
            )),
            public_url: url.clone(),
        };
        let state = Arc::clone(&service.state);
        let (health_reporter, health) = tonic_health::server::health_reporter();
        health_reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        // tonic's own limit sits above XMTP's so that oversized requests
        // reach the node's codec, which answers INVALID_ARGUMENT.
        let limit = MAX_PAYLOAD_BYTES * 2;
        let router = Server::builder()
            .initial_stream_window_size(Some(STREAM_WINDOW_BYTES))
            .initial_connection_window_size(Some(CONNECTION_WINDOW_BYTES))
            .max_concurrent_streams(Some(MAX_CONCURRENT_STREAMS))
            .http2_max_header_list_size(Some(MAX_HEADER_LIST_BYTES))
            .max_frame_size(Some(MAX_FRAME_BYTES))
            .timeout(config.request_timeout)
            .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
            .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
            .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_RESETS))
            .http2_max_local_error_reset_streams(Some(MAX_LOCAL_RESETS))
            .tcp_nodelay(true)
            .layer(faults.clone())
            .add_service(health)
            .add_service(
                ReplicationApiServer::new(service.clone()).max_decoding_message_size(limit),
            )
            .add_service(QueryApiServer::new(service.clone()).max_decoding_message_size(limit))
            .add_service(PayerApiServer::new(service.clone()).max_decoding_message_size(limit))
            .add_service(GatewayApiServer::new(service.clone()).max_decoding_message_size(limit))
            .add_service(MlsApiServer::new(service.clone()).max_decoding_message_size(limit))
            .add_service(IdentityApiServer::new(service).max_decoding_message_size(limit));
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stopped = async {
                // Either an explicit shutdown or the handle being dropped.
                let _ = stop.await;
            };
            let served = router.serve_with_incoming_shutdown(incoming, stopped).await;
            if let Err(error) = &served {
                tracing::error!(%error, "embedded node stopped with an error");
            }
            served
        });
        Ok(RunningNode {
            state,
            local_addr,
            url,
            faults,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }
}

/// A node being served. Dropping it stops the node.
pub struct RunningNode {
    state: Arc<NodeState>,
    local_addr: SocketAddr,
    url: String,
    faults: FaultLayer,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl RunningNode {
    /// The address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://ADDR`, for clients.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store's figures now: envelopes, bytes and evictions.
    pub fn store_stats(&self) -> StoreStats {
        self.state.store.stats()
    }

    /// Streams (subscriptions) being served now; one is freed as soon as
    /// its client goes away or its stream ends.
    pub fn subscriptions(&self) -> usize {
        self.state.subscriptions.active()
    }

    /// Lets faults held by [`NodeConfig::hold_faults`] apply from now on;
    /// stalls are phased from this moment.
    pub fn arm_faults(&self) {
        self.faults.arm();
    }

    /// Waits while the node serves; returns how its server ended if it
    /// stops on its own (not through [`shutdown`](Self::shutdown)): `Ok`
    /// for a clean stop, otherwise the server's error or panic.
    pub async fn serving_ended(&mut self) -> Result<(), String> {
        let Some(task) = self.task.as_mut() else {
            return std::future::pending().await;
        };
        let ended = task.await;
        // A finished JoinHandle must not be polled again.
        self.task = None;
        match ended {
            Ok(served) => served.map_err(|error| error.to_string()),
            Err(join) => Err(format!("the server task failed: {join}")),
        }
    }

    /// Stops accepting calls, lets calls in flight finish for up to
    /// [`SHUTDOWN_GRACE`], and returns when the server has stopped.
    /// (Clients that keep idle connections open would otherwise hold a
    /// graceful shutdown forever.)
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
                let _ = task.await;
            }
        }
    }
}

impl std::fmt::Debug for RunningNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningNode")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
