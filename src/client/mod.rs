//! The XMTP client whose operations are measured.
//!
//! A [`Client`] performs the three operations users care about —
//! [`create_identity`](Client::create_identity),
//! [`create_group`](Client::create_group) and
//! [`add_members`](Client::add_members) — plus the cheap read
//! [`lookup_inbox`](Client::lookup_inbox), with real cryptography: a
//! secp256k1 wallet signing EIP-191, an Ed25519 installation key signing
//! Ed25519ph, and MLS through openmls. It also performs the receiving side
//! ([`join_groups`](Client::join_groups), [`sync_group`](Client::sync_group))
//! so tests can prove the payloads are real, and measures what the other
//! side of a write sees: a member reading its group by stream
//! ([`receive_by_stream`](Client::receive_by_stream)), a newcomer finding
//! its welcome ([`welcome_inbox`](Client::welcome_inbox)), another
//! connection reading a new inbox ([`await_identity`](Client::await_identity)).
//!
//! The network calls go through an [`XmtpApi`]; [`V4Client`] is a client
//! over [`V4Api`], which writes to a gateway and reads from a node.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use xmtp_opmon::client::V4Client;
//! let client = V4Client::connect("http://localhost:5052", "http://localhost:5050")?;
//! let alice = client.create_identity().await?;
//! let bob = client.create_identity().await?;
//! let group = client.create_group(&alice, &[bob.inbox_id().to_owned()]).await?;
//! println!("group at epoch {}", group.epoch());
//! # Ok(()) }
//! ```

mod api;
mod arrivals;
mod error;
mod group;
mod inbox;
mod message;
mod op;
mod parallel;
pub mod phase;
mod receiver;
mod service;
mod subscribe;
mod transport;
pub mod v3;
mod v4;
mod visibility;
mod welcome_inbox;
mod welcomes;

use std::sync::Arc;
use std::time::Duration;

pub use api::{
    ApiVersion, AppMessageEntry, EntryStream, GroupMessageEntry, IdentityLogEntry, TopicCursor,
    WelcomeEntry, XmtpApi,
};
pub use error::ClientError;
pub use group::{AddReport, Group};
pub use inbox::Identity;
pub use message::SendReport;
pub use op::{Op, OpKind, OpResult, SharedGroup};
pub use phase::Phase;
pub use receiver::MessageReceiver;
pub use subscribe::{MessageStream, ReadService, Subscriber, TopicStream};
pub use transport::{channel, traced, BoxedService, EndpointError, Transport, TransportError};
pub use v3::V3Api;
pub use v4::{methods, V4Api};
pub use welcome_inbox::{WelcomeInbox, WelcomeWatch};

/// Deadlines and choices of a client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Deadline of each call.
    pub rpc_timeout: Duration,
    /// How long to wait for an accepted write to become readable.
    pub visibility_timeout: Duration,
    /// Nonce used to derive new inbox ids (apps use 0; xdbg uses 1).
    pub nonce: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            rpc_timeout: Duration::from_secs(10),
            visibility_timeout: Duration::from_secs(10),
            nonce: 0,
        }
    }
}

/// An XMTP client over some [`XmtpApi`]. Cheap to clone.
#[derive(Debug)]
pub struct Client<A> {
    api: Arc<A>,
    /// A second connection for visibility checks, if given.
    reader: Option<Arc<A>>,
    config: ClientConfig,
}

impl<A> Clone for Client<A> {
    fn clone(&self) -> Self {
        Self {
            api: self.api.clone(),
            reader: self.reader.clone(),
            config: self.config.clone(),
        }
    }
}

/// A client of the V4 network.
pub type V4Client = Client<V4Api>;

/// A client of the V3 (centralized) network.
pub type V3Client = Client<V3Api>;

impl V3Client {
    /// A V3 client of the node at `url` (`http://` or `https://`), with
    /// the default configuration. Connects lazily.
    pub fn connect(url: &str) -> Result<Self, EndpointError> {
        Ok(Self::from_transport(
            Transport::new(channel(url)?),
            ClientConfig::default(),
        ))
    }

    /// A V3 client whose calls are traced and measured by the
    /// [`RpcTelemetryLayer`](crate::layer::RpcTelemetryLayer).
    pub fn connect_traced(url: &str, config: ClientConfig) -> Result<Self, EndpointError> {
        Ok(Self::from_transport(traced(url)?, config))
    }

    /// A V3 client over a transport of your own.
    pub fn from_transport(node: Transport, config: ClientConfig) -> Self {
        let api = V3Api::new(node, config.rpc_timeout);
        Self::new(api, config)
    }
}

impl<A: XmtpApi> Client<A> {
    /// A client calling `api`.
    pub fn new(api: A, config: ClientConfig) -> Self {
        Self {
            api: Arc::new(api),
            reader: None,
            config,
        }
    }

    /// The same client, checking that writes are visible (see
    /// [`await_identity`](Self::await_identity)) through `reader`: a
    /// connection of its own, as another user's app would read, so a
    /// write is not seen merely because it went out on the same one.
    pub fn with_reader(mut self, reader: &Client<A>) -> Self {
        self.reader = Some(reader.api.clone());
        self
    }

    /// The API the client calls.
    pub fn api(&self) -> &A {
        &self.api
    }

    /// The API visibility checks read through: the reader, if given.
    fn reader(&self) -> &A {
        self.reader.as_deref().unwrap_or(&self.api)
    }

    /// The client's configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }
}

impl V4Client {
    /// A V4 client writing to `gateway_url` and reading from `node_url`
    /// (`http://` or `https://`; they may be the same), with the default
    /// configuration. Connects lazily.
    pub fn connect(gateway_url: &str, node_url: &str) -> Result<Self, EndpointError> {
        let gateway = Transport::new(channel(gateway_url)?);
        let node = Transport::new(channel(node_url)?);
        Ok(Self::from_transports(
            gateway,
            node,
            ClientConfig::default(),
        ))
    }

    /// A V4 client whose calls are traced and measured by the
    /// [`RpcTelemetryLayer`](crate::layer::RpcTelemetryLayer).
    pub fn connect_traced(
        gateway_url: &str,
        node_url: &str,
        config: ClientConfig,
    ) -> Result<Self, EndpointError> {
        Ok(Self::from_transports(
            traced(gateway_url)?,
            traced(node_url)?,
            config,
        ))
    }

    /// A V4 client over transports of your own (for example, channels
    /// wrapped in telemetry layers).
    pub fn from_transports(gateway: Transport, node: Transport, config: ClientConfig) -> Self {
        let api = V4Api::new(gateway, node, config.rpc_timeout);
        Self::new(api, config)
    }
}
