//! gRPC codecs: prost underneath, with decode failures reported in a way
//! each side can act on.
//!
//! tonic's stock codec turns any undecodable payload into `INTERNAL`. That
//! hides two different facts. A *client* that cannot decode a response has
//! met a server that broke the protocol; the client codec marks the status
//! with a [`DecodeFailure`] source so that classification reports
//! `protocol`. A *server* that cannot decode a request was sent garbage,
//! which xmtpd answers with `INVALID_ARGUMENT`; so does the server codec,
//! and it also enforces XMTP's 25 MiB payload limit with that same code.

use std::marker::PhantomData;
use std::sync::Arc;

use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::{ProstCodec, ProstEncoder};

/// XMTP's maximum payload size in either direction (xmtpd's `GRPCPayloadLimit`).
pub const MAX_PAYLOAD_BYTES: usize = 25 * 1024 * 1024;

/// The source attached to a client-side status when a response did not decode.
#[derive(Debug, thiserror::Error)]
#[error("response does not decode as the expected protobuf message: {0}")]
pub struct DecodeFailure(pub String);

/// Codec used by the generated clients.
#[derive(Debug)]
pub struct ClientCodec<T, U>(PhantomData<(T, U)>);

/// Codec used by the generated servers of the embedded node.
#[derive(Debug)]
pub struct ServerCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for ClientCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Default for ServerCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

/// Which side a [`MessageDecoder`] decodes for.
#[derive(Debug, Clone, Copy)]
enum Side {
    Client,
    Server,
}

/// Decodes one prost message, turning failures into the side's status.
#[derive(Debug)]
pub struct MessageDecoder<U> {
    side: Side,
    _message: PhantomData<U>,
}

impl<U: Message + Default> Decoder for MessageDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        use bytes::Buf as _;
        if matches!(self.side, Side::Server) && buf.remaining() > MAX_PAYLOAD_BYTES {
            return Err(Status::invalid_argument(format!(
                "request of {} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit",
                buf.remaining()
            )));
        }
        U::decode(buf).map(Some).map_err(|err| match self.side {
            Side::Server => Status::invalid_argument(format!("request does not decode: {err}")),
            Side::Client => {
                let failure = DecodeFailure(err.to_string());
                let mut status = Status::internal(failure.to_string());
                status.set_source(Arc::new(failure));
                status
            }
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

macro_rules! prost_codec {
    ($codec:ident, $side:expr) => {
        impl<T, U> Codec for $codec<T, U>
        where
            T: Message + Send + 'static,
            U: Message + Default + Send + 'static,
        {
            type Encode = T;
            type Decode = U;
            type Encoder = ProstEncoder<T>;
            type Decoder = MessageDecoder<U>;

            fn encoder(&mut self) -> Self::Encoder {
                ProstCodec::<T, U>::default().encoder()
            }

            fn decoder(&mut self) -> Self::Decoder {
                MessageDecoder {
                    side: $side,
                    _message: PhantomData,
                }
            }
        }
    };
}

prost_codec!(ClientCodec, Side::Client);
prost_codec!(ServerCodec, Side::Server);
