//! A gRPC server that misbehaves on purpose, for classification tests: it
//! answers every call of one service with a canned response.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;

/// What the server answers.
#[derive(Clone, Copy, Debug)]
pub enum Misbehaviour {
    /// A message that is not protobuf, with `grpc-status: 0`.
    Garbage,
    /// Response headers, then trailers carrying this error code.
    ErrorInTrailers(tonic::Code),
}

#[derive(Clone)]
struct Fake {
    misbehaviour: Misbehaviour,
    seen_traceparent: Arc<Mutex<Vec<String>>>,
}

impl NamedService for Fake {
    const NAME: &'static str = "xmtp.xmtpv4.message_api.QueryApi";
}

/// A body that yields canned frames.
struct Frames(Vec<Frame<Bytes>>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(if self.0.is_empty() {
            None
        } else {
            Some(Ok(self.0.remove(0)))
        })
    }
}

fn trailers(code: tonic::Code) -> Frame<Bytes> {
    let mut map = http::HeaderMap::new();
    map.insert("grpc-status", (code as i32).to_string().parse().unwrap());
    map.insert("grpc-message", "fake".parse().unwrap());
    Frame::trailers(map)
}

impl tower::Service<http::Request<Body>> for Fake {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if let Some(tp) = request.headers().get("traceparent") {
            self.seen_traceparent
                .lock()
                .unwrap()
                .push(tp.to_str().unwrap().to_owned());
        }
        let frames = match self.misbehaviour {
            Misbehaviour::Garbage => {
                // gRPC framing: not compressed, length 4, then bytes that
                // are not a valid protobuf message.
                let mut data = vec![0, 0, 0, 0, 4];
                data.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
                vec![Frame::data(Bytes::from(data)), trailers(tonic::Code::Ok)]
            }
            Misbehaviour::ErrorInTrailers(code) => vec![trailers(code)],
        };
        let response = http::Response::builder()
            .header("content-type", "application/grpc")
            .body(Body::new(Frames(frames)))
            .unwrap();
        std::future::ready(Ok(response))
    }
}

/// A running fake server.
pub struct FakeServer {
    pub url: String,
    pub seen_traceparent: Arc<Mutex<Vec<String>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn start(misbehaviour: Misbehaviour) -> FakeServer {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}", incoming.local_addr().unwrap());
    let seen_traceparent = Arc::new(Mutex::new(Vec::new()));
    let fake = Fake {
        misbehaviour,
        seen_traceparent: seen_traceparent.clone(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(fake)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            }),
    );
    FakeServer {
        url,
        seen_traceparent,
        _stop: stop,
    }
}
