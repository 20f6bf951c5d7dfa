//! [`OpTelemetryLayer`] and its configuration.

use std::fmt;
use std::sync::Arc;

use tower::Layer;

use super::classifier::ByClassify;
use super::labels::LabelCache;
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

pub(crate) struct OpConfig {
    pub(crate) api: &'static str,
    pub(crate) traffic: Traffic,
    pub(crate) observers: Vec<Arc<dyn OpObserver>>,
    pub(crate) labels: LabelCache,
}

/// A tower layer that measures every operation through a
/// `Service<Request>` where the request is an
/// [`Operation`](super::Operation): this crate's XMTP client with its `Op`,
/// or any other client with operations of its own.
///
/// Per operation: an INTERNAL span named after the operation (the parent
/// of its [phase](super::phase) spans and, through them, of its RPC
/// spans), one point of `xmtp.client.operation.duration` with the outcome
/// and error class, `xmtp.client.operation.active` while it runs, and an
/// [`Outcome`](super::Outcome) handed to every observer.
///
/// Errors are classified by `C`, [`ByClassify`] unless
/// [`classify_with`](Self::classify_with) says otherwise.
///
/// ```no_run
/// # #[cfg(feature = "client")]
/// # async fn demo(client: xmtp_opmon::client::V4Client) -> Result<(), Box<dyn std::error::Error>> {
/// use tower::{Service, ServiceBuilder, ServiceExt};
/// use xmtp_opmon::client::{ApiVersion, Op};
/// use xmtp_opmon::layer::OpTelemetryLayer;
///
/// let mut ops = ServiceBuilder::new()
///     .layer(OpTelemetryLayer::new(ApiVersion::V4).observe(|outcome: &xmtp_opmon::layer::Outcome| {
///         println!("{} took {:?}", outcome.operation, outcome.duration);
///     }))
///     .service(client);
/// let identity = ops.ready().await?.call(Op::CreateIdentity).await?;
/// # Ok(()) }
/// ```
pub struct OpTelemetryLayer<C = ByClassify> {
    config: OpConfig,
    classifier: C,
}

impl<C: Clone> Clone for OpTelemetryLayer<C> {
    fn clone(&self) -> Self {
        Self {
            config: OpConfig {
                api: self.config.api,
                traffic: self.config.traffic,
                observers: self.config.observers.clone(),
                labels: LabelCache::default(),
            },
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for OpTelemetryLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpTelemetryLayer")
            .field("api", &self.config.api)
            .field("traffic", &self.config.traffic)
            .field("observers", &self.config.observers.len())
            .finish_non_exhaustive()
    }
}

impl OpTelemetryLayer {
    /// A layer for operations over `api` (the `xmtp.api` attribute, such
    /// as `v4`), marked as real traffic.
    pub fn new(api: impl Into<&'static str>) -> Self {
        Self {
            config: OpConfig {
                api: api.into(),
                traffic: Traffic::Real,
                observers: Vec::new(),
                labels: LabelCache::default(),
            },
            classifier: ByClassify,
        }
    }
}

impl<C> OpTelemetryLayer<C> {
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

    /// Classifies failures with `classifier` (see
    /// [`ClassifyError`](super::ClassifyError)).
    pub fn classify_with<D>(self, classifier: D) -> OpTelemetryLayer<D> {
        OpTelemetryLayer {
            config: self.config,
            classifier,
        }
    }
}

impl<S, C: Clone> Layer<S> for OpTelemetryLayer<C> {
    type Service = OpTelemetry<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        let config = self.clone().config;
        OpTelemetry::new(inner, Arc::new(config), self.classifier.clone())
    }
}
