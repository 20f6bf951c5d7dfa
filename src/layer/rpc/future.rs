//! The response future of [`super::RpcTelemetry`].

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;

use super::body::ResponseBody;
use super::call::{grpc_status, CallEnd, CallGuard};
use super::error::InspectError;
use crate::classify::ErrorClass;

pin_project! {
    /// Resolves to the response with its body wrapped, so the call's
    /// outcome can be read at the end of the stream. The inner service's
    /// error comes back unchanged.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        guard: Option<CallGuard>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, guard: CallGuard) -> Self {
        Self {
            inner,
            guard: Some(guard),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: InspectError,
{
    type Output = Result<http::Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.guard.as_ref().map(|g| g.span().enter());
            ready!(this.inner.poll(cx))
        };
        let mut guard = this.guard.take();
        Poll::Ready(match result {
            Ok(response) => {
                let end = if response.status() != http::StatusCode::OK {
                    Some(CallEnd::Http(response.status()))
                } else {
                    // A trailers-only response carries its status here.
                    grpc_status(response.headers()).map(CallEnd::Status)
                };
                if let (Some(end), Some(guard)) = (end, guard.as_mut()) {
                    guard.finish(end);
                }
                Ok(response.map(|body| ResponseBody::new(body, guard)))
            }
            Err(error) => {
                if let Some(guard) = guard.as_mut() {
                    let class = ErrorClass::from_transport_error(error.as_std_error());
                    guard.finish(CallEnd::Transport(class));
                }
                Err(error)
            }
        })
    }
}
