//! Client-side telemetry for every gRPC call: see [`RpcTelemetryLayer`].

mod body;
mod call;
mod error;
mod framing;
mod future;
mod layer;
mod methods;
mod service;

pub use body::ResponseBody;
pub use error::InspectError;
pub use future::ResponseFuture;
pub use layer::RpcTelemetryLayer;
pub use service::RpcTelemetry;

#[cfg(test)]
mod tests;
