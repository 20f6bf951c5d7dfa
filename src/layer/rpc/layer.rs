//! [`RpcTelemetryLayer`] and its configuration.

use std::sync::Arc;

use metrics::Label;
use tonic::Code;
use tower::Layer;

use super::call::CallKey;
use super::methods::XMTP_METHODS;
use super::service::RpcTelemetry;
use crate::layer::key_cache::KeyCache;
use crate::semconv::{SERVER_ADDRESS, SERVER_PORT};

/// Shared, read-only configuration of the layer's services.
#[derive(Debug, Clone)]
pub(crate) struct RpcConfig {
    pub(crate) server_address: Option<String>,
    pub(crate) server_port: Option<u16>,
    /// Metric labels for the target, built once.
    pub(crate) target_labels: Vec<Label>,
    /// Bit `n` set: code `n` counts as success.
    success: u32,
    pub(crate) methods: Vec<(&'static str, &'static str)>,
    /// Duration keys built so far.
    pub(crate) keys: KeyCache<CallKey>,
}

impl RpcConfig {
    pub(crate) fn is_success(&self, code: Code) -> bool {
        self.success & (1 << (code as i32)) != 0
    }
}

/// A tower layer that traces and measures every gRPC call through an http
/// service, such as a tonic `Channel`.
///
/// Each call gets a CLIENT span named after its full method, with the
/// OpenTelemetry RPC attributes, a W3C `traceparent` header, and one point
/// of `rpc.client.call.duration`. The outcome is decided at the **end of
/// the response stream** — from `grpc-status` in the trailers, or in the
/// headers of a trailers-only response — so errors sent after the
/// response headers are not mistaken for successes. A transport failure is
/// `connect` (or `timeout` for a deadline below this layer), and a call
/// dropped before its end is `cancelled`.
///
/// By default only `OK` is a success, as the conventions say for clients;
/// [`with_success`](Self::with_success) widens that.
///
/// ```no_run
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tower::ServiceBuilder;
/// use xmtp_opmon::layer::RpcTelemetryLayer;
///
/// let target = "http://localhost:5050";
/// let channel = tonic::transport::Endpoint::from_static("http://localhost:5050").connect_lazy();
/// let traced = ServiceBuilder::new()
///     .layer(RpcTelemetryLayer::for_target(target))
///     .service(channel);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RpcTelemetryLayer {
    config: Arc<RpcConfig>,
}

impl Default for RpcTelemetryLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl RpcTelemetryLayer {
    /// A layer that knows XMTP's methods and reports no server address.
    pub fn new() -> Self {
        Self {
            config: Arc::new(RpcConfig {
                server_address: None,
                server_port: None,
                target_labels: Vec::new(),
                success: 1 << (Code::Ok as i32),
                methods: XMTP_METHODS.to_vec(),
                keys: KeyCache::default(),
            }),
        }
    }

    /// A layer reporting `server.address` and `server.port` of the
    /// configured target (`http://host:port`, `https://host`, or
    /// `host:port`), as the conventions ask: the target as configured,
    /// not a resolved address. A target that does not parse is reported
    /// whole as the address, without a port.
    pub fn for_target(target: &str) -> Self {
        let (address, port) = split_target(target);
        let mut layer = Self::new();
        let config = Arc::make_mut(&mut layer.config);
        config
            .target_labels
            .push(Label::new(SERVER_ADDRESS, address.clone()));
        if let Some(port) = port {
            config
                .target_labels
                .push(Label::new(SERVER_PORT, port.to_string()));
        }
        config.server_address = Some(address);
        config.server_port = port;
        layer
    }

    /// Also counts `codes` as successes (for example `NOT_FOUND` for a
    /// caller that treats it as an answer).
    pub fn with_success(mut self, codes: &[Code]) -> Self {
        let config = Arc::make_mut(&mut self.config);
        for code in codes {
            config.success |= 1 << (*code as i32);
        }
        self
    }

    /// Adds a method (`package.Service/Method`) to the known table, with a
    /// family for `xmtp.rpc.family`.
    pub fn with_method(mut self, method: &'static str, family: &'static str) -> Self {
        let method = method.strip_prefix('/').unwrap_or(method);
        Arc::make_mut(&mut self.config)
            .methods
            .push((method, family));
        self
    }
}

impl<S> Layer<S> for RpcTelemetryLayer {
    type Service = RpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTelemetry::new(inner, self.config.clone())
    }
}

/// `server.address` and `server.port` from a configured target.
fn split_target(target: &str) -> (String, Option<u16>) {
    let with_scheme = if target.contains("://") {
        target.to_owned()
    } else {
        format!("http://{target}")
    };
    match with_scheme.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some() => {
            let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
            let port = uri.port_u16().or(match uri.scheme_str() {
                Some("https") => Some(443),
                Some("http") if target.contains("://") => Some(80),
                _ => None,
            });
            (host.to_owned(), port)
        }
        _ => (target.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_address_and_port() {
        assert_eq!(
            split_target("https://grpc.testnet.xmtp.network:443"),
            ("grpc.testnet.xmtp.network".into(), Some(443))
        );
        assert_eq!(
            split_target("https://grpc.dev.xmtp.network"),
            ("grpc.dev.xmtp.network".into(), Some(443))
        );
        assert_eq!(
            split_target("127.0.0.1:5050"),
            ("127.0.0.1".into(), Some(5050))
        );
        assert_eq!(split_target("not a target"), ("not a target".into(), None));
    }

    #[test]
    fn success_set_is_strict_by_default() {
        let layer = RpcTelemetryLayer::new();
        assert!(layer.config.is_success(Code::Ok));
        assert!(!layer.config.is_success(Code::NotFound));
        let lenient = layer.with_success(&[Code::NotFound]);
        assert!(lenient.config.is_success(Code::NotFound));
    }
}
