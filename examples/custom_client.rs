//! Any client gets the same operation telemetry, under its own operation
//! names: implement `tower::Service` for your request type, say what each
//! request is called ([`Operation::name`]), and say which class each error
//! belongs to ([`Classify`]).
//!
//! Here the "other client" is an inventory client with two operations,
//! `inventory.reserve` and `inventory.lookup`, each made of phases and
//! one gRPC call. The calls go through the [`RpcTelemetryLayer`] to a
//! stand-in for the inventory server (an in-process http service that
//! answers like a gRPC server; a real app would put a tonic `Channel`
//! there). Nothing XMTP is involved, so it builds with
//! `--no-default-features`.
//!
//! Run it with `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 cargo run
//! --example custom_client`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use tower::util::BoxCloneService;
use tower::{service_fn, Layer, Service, ServiceBuilder, ServiceExt};
use xmtp_opmon::classify::{Classify, ErrorClass};
use xmtp_opmon::layer::{
    in_phase, in_phase_sync, OpTelemetryLayer, Operation, OperationOutput, Outcome,
    RpcTelemetryLayer,
};
use xmtp_opmon::telemetry::{TelemetryBuilder, TelemetryGuard};

/// The gRPC methods of the inventory service, known to the RPC layer.
const RESERVE: &str = "shop.Inventory/Reserve";
const LOOKUP: &str = "shop.Inventory/Lookup";

/// The app's own requests.
pub enum InventoryOp {
    /// Hold `quantity` items of `sku`.
    Reserve { sku: &'static str, quantity: u32 },
    /// How many items of `sku` are left.
    Lookup { sku: &'static str },
}

impl Operation for InventoryOp {
    fn name(&self) -> &'static str {
        match self {
            Self::Reserve { .. } => "inventory.reserve",
            Self::Lookup { .. } => "inventory.lookup",
        }
    }
}

/// The app's own response; nothing group-related to report.
pub struct Done;

impl OperationOutput for Done {}

/// The app's own error, classified from the gRPC status.
#[derive(Debug)]
pub enum InventoryError {
    /// The server answered with a status other than OK.
    Status(tonic::Code),
    /// The request was refused before it was sent.
    Invalid(&'static str),
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(code) => write!(f, "the inventory answered {code:?}"),
            Self::Invalid(why) => f.write_str(why),
        }
    }
}

impl Error for InventoryError {}

impl Classify for InventoryError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Status(code) => ErrorClass::from_code(*code).unwrap_or(ErrorClass::Server),
            Self::Invalid(_) => ErrorClass::Client,
        }
    }
}

/// The response body of the stand-in server: one message, then trailers.
pub struct Answer(VecDeque<Frame<Bytes>>);

impl Body for Answer {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

type Channel = BoxCloneService<http::Request<String>, http::Response<Answer>, Infallible>;

/// The stand-in inventory server: knows one SKU.
fn inventory_server() -> Channel {
    BoxCloneService::new(service_fn(|request: http::Request<String>| async move {
        let code = if request.body().as_str() == "tea" {
            "0"
        } else {
            "5"
        };
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static(code));
        Ok::<_, Infallible>(http::Response::new(Answer(VecDeque::from([
            Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0])),
            Frame::trailers(trailers),
        ]))))
    }))
}

/// The inventory client, as a tower service over any http channel.
#[derive(Clone)]
pub struct InventoryClient<C> {
    channel: C,
}

impl<C, B> InventoryClient<C>
where
    C: Service<http::Request<String>, Response = http::Response<B>> + Clone,
    C::Error: fmt::Debug,
    B: Body + Unpin,
{
    async fn call(mut self, method: &'static str, sku: &'static str) -> Result<(), InventoryError> {
        let request = http::Request::builder()
            .uri(format!("/{method}"))
            .body(sku.to_owned())
            .map_err(|_| InventoryError::Invalid("the SKU is not a valid request"))?;
        let channel = self
            .channel
            .ready()
            .await
            .expect("the channel is in-process");
        let response = channel
            .call(request)
            .await
            .expect("the channel is in-process");
        let mut body = response.into_body();
        let mut code = tonic::Code::Unknown;
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            if let Some(status) = frame.trailers_ref().and_then(|t| t.get("grpc-status")) {
                let number = status.to_str().ok().and_then(|s| s.parse().ok());
                code = number.map_or(tonic::Code::Unknown, tonic::Code::from_i32);
            }
        }
        match code {
            tonic::Code::Ok => Ok(()),
            code => Err(InventoryError::Status(code)),
        }
    }
}

impl<C, B> Service<InventoryOp> for InventoryClient<C>
where
    C: Service<http::Request<String>, Response = http::Response<B>> + Clone + Send + 'static,
    C::Future: Send,
    C::Error: fmt::Debug,
    B: Body + Unpin + Send,
{
    type Response = Done;
    type Error = InventoryError;
    type Future = Pin<Box<dyn Future<Output = Result<Done, InventoryError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), InventoryError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, op: InventoryOp) -> Self::Future {
        let client = self.clone();
        Box::pin(async move {
            match op {
                InventoryOp::Reserve { sku, quantity } => {
                    in_phase_sync("order.validate", || match quantity {
                        0 => Err(InventoryError::Invalid("nothing to reserve")),
                        _ => Ok(()),
                    })?;
                    in_phase("stock.hold", client.call(RESERVE, sku)).await?;
                }
                InventoryOp::Lookup { sku } => {
                    in_phase("stock.read", client.call(LOOKUP, sku)).await?;
                }
            }
            Ok(Done)
        })
    }
}

/// Performs a few inventory operations through both layers and returns
/// the guard that owns the exporters.
pub async fn run(telemetry: TelemetryBuilder) -> Result<TelemetryGuard, Box<dyn Error>> {
    let guard = telemetry.init()?;
    let channel = RpcTelemetryLayer::for_target("http://inventory:50051")
        .with_method(RESERVE, "write")
        .with_method(LOOKUP, "read")
        .layer(inventory_server());
    let mut inventory = ServiceBuilder::new()
        .layer(OpTelemetryLayer::new("shop-v2").observe(|o: &Outcome| {
            println!("{} took {:?}, ok = {}", o.operation, o.duration, o.is_ok());
        }))
        .service(InventoryClient { channel });
    let ops = [
        InventoryOp::Reserve {
            sku: "tea",
            quantity: 2,
        },
        InventoryOp::Reserve {
            sku: "tea",
            quantity: 0,
        },
        InventoryOp::Lookup { sku: "coffee" },
    ];
    for op in ops {
        if let Err(error) = inventory.ready().await?.call(op).await {
            println!("failed: {error}");
        }
    }
    Ok(guard)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    run(TelemetryBuilder::from_env()).await?.shutdown();
    Ok(())
}
