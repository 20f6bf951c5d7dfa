//! The RPC layer's future and body paths against hand-made services and
//! bodies, without a network: what each way a call can end records.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tower::{service_fn, Layer, Service, ServiceExt};

use super::RpcTelemetryLayer;
use crate::layer::BoxError;
use crate::semconv::{ERROR_TYPE, RPC_CLIENT_CALL_DURATION, RPC_RESPONSE_STATUS_CODE};

const PATH: &str = "/xmtp.xmtpv4.message_api.QueryApi/GetInboxIds";

/// A body that yields its frames, then either ends or stays pending.
struct Frames {
    frames: VecDeque<Result<Frame<Bytes>, BoxError>>,
    then_pending: bool,
}

impl Frames {
    fn new(frames: Vec<Result<Frame<Bytes>, BoxError>>) -> Self {
        Self {
            frames: frames.into(),
            then_pending: false,
        }
    }

    fn then_pending(mut self) -> Self {
        self.then_pending = true;
        self
    }
}

impl Body for Frames {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.frames.pop_front() {
            Some(frame) => Poll::Ready(Some(frame)),
            None if self.then_pending => Poll::Pending,
            None => Poll::Ready(None),
        }
    }
}

fn data() -> Result<Frame<Bytes>, BoxError> {
    // One gRPC message frame: uncompressed, zero-length payload.
    Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0])))
}

fn trailers(status: &str) -> Result<Frame<Bytes>, BoxError> {
    let mut map = http::HeaderMap::new();
    map.insert("grpc-status", status.parse().unwrap());
    Ok(Frame::trailers(map))
}

fn request(timeout: Option<&str>) -> http::Request<()> {
    let mut builder = http::Request::builder().uri(format!("http://node{PATH}"));
    if let Some(timeout) = timeout {
        builder = builder.header("grpc-timeout", timeout);
    }
    builder.body(()).unwrap()
}

/// The labels (status, error.type) of the one duration point recorded by
/// `scenario`, run on a current-thread runtime with a local recorder.
fn recorded<F>(scenario: impl FnOnce() -> F) -> (Option<String>, Option<String>)
where
    F: std::future::Future<Output = ()>,
{
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(scenario()));
    let points: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == RPC_CLIENT_CALL_DURATION)
        .collect();
    assert_eq!(points.len(), 1, "one series: {points:?}");
    let (key, _, _, value) = &points[0];
    assert!(matches!(value, DebugValue::Histogram(v) if v.len() == 1));
    let label = |name: &str| {
        key.key()
            .labels()
            .find(|label| label.key() == name)
            .map(|label| label.value().to_owned())
    };
    (label(RPC_RESPONSE_STATUS_CODE), label(ERROR_TYPE))
}

/// The response of a call that must reach the inner service and succeed.
async fn respond<S>(service: &mut S, request: http::Request<()>) -> S::Response
where
    S: Service<http::Request<()>>,
    S::Error: std::fmt::Debug,
{
    service.ready().await.unwrap().call(request).await.unwrap()
}

async fn drain<B: Body + Unpin>(mut body: B) -> Result<(), B::Error> {
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        frame?;
    }
    Ok(())
}

fn answering(
    response: impl Fn() -> http::Response<Frames> + Clone,
) -> impl Service<
    http::Request<()>,
    Response = http::Response<Frames>,
    Error = BoxError,
    Future = impl std::future::Future<Output = Result<http::Response<Frames>, BoxError>>,
> + Clone {
    service_fn(move |_request: http::Request<()>| {
        let response = response.clone();
        async move { Ok::<_, BoxError>(response()) }
    })
}

#[test]
fn trailers_after_data_decide_the_outcome() {
    let labels = recorded(|| async {
        let mut service = RpcTelemetryLayer::new().layer(answering(|| {
            http::Response::new(Frames::new(vec![data(), trailers("14")]))
        }));
        let response = respond(&mut service, request(None)).await;
        drain(response.into_body()).await.unwrap();
    });
    assert_eq!(
        labels,
        (Some("UNAVAILABLE".into()), Some("UNAVAILABLE".into()))
    );
}

#[test]
fn a_trailers_only_response_is_decided_by_its_headers() {
    let labels = recorded(|| async {
        let mut service = RpcTelemetryLayer::new().layer(answering(|| {
            let mut response = http::Response::new(Frames::new(vec![]));
            response
                .headers_mut()
                .insert("grpc-status", "0".parse().unwrap());
            response
        }));
        let response = respond(&mut service, request(None)).await;
        // Nobody reads the body: the outcome is already known.
        drop(response);
    });
    assert_eq!(labels, (Some("OK".into()), None));
}

#[test]
fn cancelled_past_the_deadline_is_a_timeout() {
    // tonic's channel and servers answer CANCELLED when a call's
    // grpc-timeout passes; before the deadline CANCELLED stays what it is.
    for (timeout, expected) in [("1m", "timeout"), ("10S", "CANCELLED")] {
        let labels = recorded(|| async {
            let mut service = RpcTelemetryLayer::new().layer(service_fn(|_| async {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                let mut response = http::Response::new(Frames::new(vec![]));
                response
                    .headers_mut()
                    .insert("grpc-status", "1".parse().unwrap());
                Ok::<_, BoxError>(response)
            }));
            let response = service
                .ready()
                .await
                .unwrap()
                .call(request(Some(timeout)))
                .await
                .unwrap();
            drain(response.into_body()).await.unwrap();
        });
        assert_eq!(
            labels,
            (Some("CANCELLED".into()), Some(expected.into())),
            "grpc-timeout {timeout}"
        );
    }
}

#[test]
fn a_body_dropped_after_data_is_not_a_cancellation() {
    let labels = recorded(|| async {
        let mut service = RpcTelemetryLayer::new().layer(answering(|| {
            http::Response::new(Frames::new(vec![data()]).then_pending())
        }));
        let response = respond(&mut service, request(None)).await;
        let mut body = response.into_body();
        let first = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(first.is_some_and(|frame| frame.is_ok_and(|f| f.is_data())));
        drop(body);
    });
    assert_eq!(labels, (None, Some("body_dropped".into())));
}

#[test]
fn a_call_dropped_before_any_data_is_cancelled_or_timed_out() {
    let pending = || {
        service_fn(|_request: http::Request<()>| {
            std::future::pending::<Result<http::Response<Frames>, BoxError>>()
        })
    };
    let cancelled = recorded(|| async {
        let mut service = RpcTelemetryLayer::new().layer(pending());
        let call = service.ready().await.unwrap().call(request(None));
        drop(call);
    });
    assert_eq!(cancelled, (None, Some("cancelled".into())));

    let timed_out = recorded(|| async {
        let mut service = RpcTelemetryLayer::new().layer(pending());
        let call = service.ready().await.unwrap().call(request(Some("1m")));
        // The caller's own deadline fires at the call's grpc-timeout.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(5), call)
                .await
                .is_err()
        );
    });
    assert_eq!(timed_out, (None, Some("timeout".into())));
}

#[test]
fn errors_keep_their_type_and_are_classified() {
    let labels = recorded(|| async {
        let mut service =
            RpcTelemetryLayer::new().layer(service_fn(|_: http::Request<()>| async {
                Err::<http::Response<Frames>, std::io::Error>(std::io::Error::from(
                    std::io::ErrorKind::ConnectionRefused,
                ))
            }));
        let call = service.ready().await.unwrap().call(request(None));
        let Err(error) = call.await else {
            panic!("the refused call must fail");
        };
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    });
    assert_eq!(labels, (None, Some("connect".into())));
}

#[test]
fn a_reset_stream_reports_the_status_it_carries() {
    let labels = recorded(|| async {
        let mut service = RpcTelemetryLayer::new().layer(answering(|| {
            let reset: BoxError = Box::new(tonic::Status::cancelled("reset"));
            http::Response::new(Frames::new(vec![data(), Err(reset)]))
        }));
        let response = respond(&mut service, request(None)).await;
        assert!(drain(response.into_body()).await.is_err());
    });
    assert_eq!(labels, (Some("CANCELLED".into()), Some("CANCELLED".into())));
}

#[test]
fn poll_ready_errors_pass_through_unrecorded() {
    struct NotReady;
    impl Service<http::Request<()>> for NotReady {
        type Response = http::Response<Frames>;
        type Error = std::io::Error;
        type Future = std::future::Ready<Result<http::Response<Frames>, std::io::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
            Poll::Ready(Err(std::io::Error::other("overloaded")))
        }
        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            unreachable!("never ready")
        }
    }
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let mut service = RpcTelemetryLayer::new().layer(NotReady);
            let error = service.ready().await.err().expect("not ready");
            assert_eq!(error.to_string(), "overloaded");
        })
    });
    assert!(snapshotter.snapshot().into_vec().is_empty());
}

#[test]
fn grpc_timeouts_parse() {
    use super::call::grpc_timeout;
    let header = |value: &str| {
        let mut map = http::HeaderMap::new();
        map.insert("grpc-timeout", value.parse().unwrap());
        grpc_timeout(&map)
    };
    assert_eq!(header("250m"), Some(std::time::Duration::from_millis(250)));
    assert_eq!(header("2S"), Some(std::time::Duration::from_secs(2)));
    assert_eq!(header("123456789S"), None);
    assert_eq!(header("5x"), None);
    assert_eq!(header("m"), None);
}
