//! The channel a client sends its calls through.
//!
//! A [`Transport`] is any http service that can carry gRPC: a plain tonic
//! channel, or one wrapped in tower layers (such as the crate's RPC
//! telemetry layer). Boxing it keeps the client's type simple and lets an
//! application bring its own stack.

use std::time::Duration;

use tonic::body::Body;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failure below gRPC (connecting, TLS, HTTP/2), as the boxed transport
/// reports it. Its source is the original error, so classification can
/// still see what happened.
///
/// A concrete type rather than a boxed trait object: tonic's clients over
/// a service whose error is `Box<dyn Error>` produce futures the compiler
/// cannot prove `Send`.
#[derive(Debug)]
pub struct TransportError(BoxError);

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "transport error: {}", self.0)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

/// The boxed service inside a [`Transport`].
pub type BoxedService =
    BoxCloneSyncService<http::Request<Body>, http::Response<Body>, TransportError>;

/// A boxed, cloneable gRPC-capable http service.
#[derive(Clone)]
pub struct Transport {
    inner: BoxedService,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transport")
    }
}

impl Transport {
    /// Boxes any http service that can carry gRPC, such as a tonic
    /// [`Channel`] inside tower layers.
    pub fn new<S, B>(service: S) -> Self
    where
        S: Service<http::Request<Body>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let service = service
            .map_response(|response: http::Response<B>| response.map(Body::new))
            .map_err(|error: S::Error| TransportError(error.into()));
        Self {
            inner: BoxCloneSyncService::new(service),
        }
    }

    /// Gives every call through this transport `timeout` as its gRPC
    /// deadline (a `grpc-timeout` header), unless the call names its own.
    ///
    /// The deadline then travels with the call: tonic's channel ends the
    /// call when it passes, the server may stop work nobody will wait for,
    /// and the RPC layer below sees it and reports such a call as
    /// `timeout` rather than `cancelled`.
    pub fn with_deadline(self, timeout: Duration) -> Self {
        let value = grpc_timeout_value(timeout);
        let service = self
            .inner
            .map_request(move |mut request: http::Request<Body>| {
                request
                    .headers_mut()
                    .entry(GRPC_TIMEOUT)
                    .or_insert_with(|| value.clone());
                request
            });
        Self {
            inner: BoxCloneSyncService::new(service),
        }
    }

    /// The boxed service, for generated tonic clients of your own
    /// (`SomeApiClient::new(transport.into_service())`).
    pub fn into_service(self) -> BoxedService {
        self.inner
    }

    pub(crate) fn service(&self) -> BoxedService {
        self.inner.clone()
    }
}

const GRPC_TIMEOUT: &str = "grpc-timeout";

/// A `grpc-timeout` value: at most eight digits and a unit, in the finest
/// unit that fits (milliseconds up to some 27 hours, then hours).
fn grpc_timeout_value(timeout: Duration) -> http::HeaderValue {
    const MAX: u128 = 99_999_999;
    let millis = timeout.as_millis().max(1);
    let text = if millis <= MAX {
        format!("{millis}m")
    } else {
        format!("{}H", (timeout.as_secs() / 3600).clamp(1, MAX as u64))
    };
    http::HeaderValue::from_str(&text).expect("digits and a unit are a valid header value")
}

/// Why a target URL cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("`{url}` is not a usable gRPC endpoint: {reason}")]
pub struct EndpointError {
    url: String,
    reason: String,
}

/// A lazily connecting channel to `url` (`http://` for h2c, `https://`
/// for TLS with the web PKI roots). Nothing is dialled until the first
/// call, so an unreachable target shows up as a `connect` failure of that
/// call rather than here.
pub fn channel(url: &str) -> Result<Channel, EndpointError> {
    let error = |reason: String| EndpointError {
        url: url.to_owned(),
        reason,
    };
    let parsed: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| error(e.to_string()))?;
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| error(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(8 << 20);
    match parsed.scheme_str() {
        Some("http") => {}
        Some("https") => {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_webpki_roots())
                .map_err(|e| error(e.to_string()))?;
        }
        _ => return Err(error("the scheme must be http or https".into())),
    }
    if parsed.host().is_none() {
        return Err(error("it has no host".into()));
    }
    Ok(endpoint.connect_lazy())
}

/// A lazily connecting channel to `url` wrapped in the
/// [`RpcTelemetryLayer`](crate::layer::RpcTelemetryLayer), reporting `url`
/// as the server: every call through it is traced and measured.
pub fn traced(url: &str) -> Result<Transport, EndpointError> {
    let layer = crate::layer::RpcTelemetryLayer::for_target(url);
    Ok(Transport::new(tower::Layer::layer(&layer, channel(url)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_fit_eight_digits() {
        assert_eq!(grpc_timeout_value(Duration::from_millis(200)), "200m");
        assert_eq!(grpc_timeout_value(Duration::from_micros(10)), "1m");
        assert_eq!(grpc_timeout_value(Duration::from_secs(10)), "10000m");
        assert_eq!(
            grpc_timeout_value(Duration::from_secs(200_000)),
            "55H",
            "past eight digits of milliseconds, whole hours"
        );
    }
}
