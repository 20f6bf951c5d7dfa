//! The response body of [`super::RpcTelemetry`]: passes frames through and
//! records the call's outcome when the trailers (or the end) arrive.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::io::IoSlice;

use super::call::{grpc_status, CallEnd, CallGuard};
use super::error::InspectError;
use crate::classify::ErrorClass;

/// Chunks of one DATA frame the message counter reads. tonic's and
/// hyper's frames are one chunk (`Bytes`); a body of many more would only
/// be undercounted.
const MAX_CHUNKS: usize = 16;

pin_project! {
    /// A response body that reports the call's outcome at end of stream.
    /// Dropped before its end, it reports the call as abandoned: by the
    /// caller (`cancelled`), after data arrived (`body_dropped`), or past
    /// the call's deadline (`timeout`).
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        // `None` once the outcome is known (or was known from the headers).
        guard: Option<CallGuard>,
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, guard: Option<CallGuard>) -> Self {
        Self { inner, guard }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: InspectError,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let end = match &frame {
            Some(Ok(frame)) if frame.is_data() => {
                if let (Some(guard), Some(data)) = (this.guard.as_mut(), frame.data_ref()) {
                    let mut chunks = [IoSlice::new(&[]); MAX_CHUNKS];
                    let filled = data.chunks_vectored(&mut chunks);
                    guard.saw_data(chunks[..filled].iter().map(|chunk| &**chunk));
                }
                None
            }
            Some(Ok(frame)) => frame.trailers_ref().map(|trailers| {
                grpc_status(trailers).map_or(CallEnd::MissingStatus, CallEnd::Status)
            }),
            Some(Err(error)) => Some(body_error_end(error.as_std_error())),
            None => Some(CallEnd::MissingStatus),
        };
        if let Some(end) = end {
            if let Some(mut guard) = this.guard.take() {
                guard.finish(end);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A body error is either a status tonic built for us (a reset stream) or
/// a transport failure.
fn body_error_end(error: &(dyn std::error::Error + 'static)) -> CallEnd {
    match error.downcast_ref::<tonic::Status>() {
        Some(status) => CallEnd::Status(status.code()),
        None => CallEnd::Transport(ErrorClass::from_transport_error(error)),
    }
}
