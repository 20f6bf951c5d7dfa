//! [`OpTelemetryLayer`] and its configuration.

use std::fmt;
use std::sync::Arc;

use tower::Layer;

use crate::client::ApiVersion;

use super::service::OpTelemetry;
use super::OpObserver;

/// Whether operations come from real users or a benchmark (`xmtp.traffic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Traffic {
    /// An application serving users.
    #[default]
    Real,
    /// Synthetic load (`opmon bench`).
    Synthetic,
}

impl Traffic {
    /// The attribute value: `real` or `synthetic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Real => "real",
            Self::Synthetic => "synthetic",
        }
    }
}

#[derive(Clone)]
pub(crate) struct OpConfig {
    pub(crate) api: ApiVersion,
    pub(crate) traffic: Traffic,
    pub(crate) observers: Vec<Arc<dyn OpObserver>>,
}

/// A tower layer that measures every operation through a
/// `Service<Request>` where the request is an
/// [`Operation`](super::Operation) — this crate's [`Client`](crate::client::Client)
/// with [`Op`](super::Op), or any other client.
///
/// Per operation: an INTERNAL span named after the operation (the parent
/// of its phase spans and, through them, of its RPC spans), one point of
/// `xmtp.client.operation.duration` with the outcome and error class,
/// `xmtp.client.operation.active` while it runs, and an
/// [`Outcome`](super::Outcome) handed to every observer.
///
/// ```no_run
/// # async fn demo(client: xmtp_opmon::client::V4Client) -> Result<(), Box<dyn std::error::Error>> {
/// use tower::{Service, ServiceBuilder, ServiceExt};
/// use xmtp_opmon::client::ApiVersion;
/// use xmtp_opmon::layer::{Op, OpTelemetryLayer};
///
/// let mut ops = ServiceBuilder::new()
///     .layer(OpTelemetryLayer::new(ApiVersion::V4).observe(|outcome: &xmtp_opmon::layer::Outcome| {
///         println!("{} took {:?}", outcome.operation, outcome.duration);
///     }))
///     .service(client);
/// let identity = ops.ready().await?.call(Op::CreateIdentity).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OpTelemetryLayer {
    config: OpConfig,
}

impl fmt::Debug for OpTelemetryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpTelemetryLayer")
            .field("api", &self.config.api)
            .field("traffic", &self.config.traffic)
            .field("observers", &self.config.observers.len())
            .finish()
    }
}

impl OpTelemetryLayer {
    /// A layer for operations over `api`, marked as real traffic.
    pub fn new(api: ApiVersion) -> Self {
        Self {
            config: OpConfig {
                api,
                traffic: Traffic::Real,
                observers: Vec::new(),
            },
        }
    }

    /// Marks the operations as `traffic`.
    pub fn traffic(mut self, traffic: Traffic) -> Self {
        self.config.traffic = traffic;
        self
    }

    /// Adds an observer of every finished operation.
    pub fn observe(mut self, observer: impl OpObserver) -> Self {
        self.config.observers.push(Arc::new(observer));
        self
    }

    /// Adds an observer shared with other code.
    pub fn observe_shared(mut self, observer: Arc<dyn OpObserver>) -> Self {
        self.config.observers.push(observer);
        self
    }
}

impl<S> Layer<S> for OpTelemetryLayer {
    type Service = OpTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OpTelemetry::new(inner, Arc::new(self.config.clone()))
    }
}
