//! Any client gets the same operation telemetry: implement
//! `tower::Service` for your request type, say which operation each
//! request is, and say which class each error belongs to.
//!
//! Here the "other client" is a bare generated tonic stub that looks up
//! inboxes by address. Run it with `cargo run --example custom_client`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::{Service, ServiceBuilder, ServiceExt};
use xmtp_opmon::classify::{Classify, ErrorClass};
use xmtp_opmon::client::{traced, ApiVersion, Transport};
use xmtp_opmon::layer::{OpTelemetryLayer, Operation, OperationOutput, Outcome};
use xmtp_opmon::node::EmbeddedNode;
use xmtp_opmon::proto::message_api::get_inbox_ids_request::Request as InboxRequest;
use xmtp_opmon::proto::message_api::query_api_client::QueryApiClient;
use xmtp_opmon::proto::message_api::GetInboxIdsRequest;

/// The app's own request type.
struct FindInbox(String);

impl Operation for FindInbox {
    fn name(&self) -> &'static str {
        "inbox.find"
    }
}

/// The app's own response type; lookups report nothing group-related.
struct Found(Option<String>);

impl OperationOutput for Found {}

/// The app's own error type, classified from the gRPC status.
#[derive(Debug)]
struct LookupError(tonic::Status);

impl Classify for LookupError {
    fn class(&self) -> ErrorClass {
        ErrorClass::from_status(&self.0).unwrap_or(ErrorClass::Server)
    }
}

/// The other client, as a tower service.
#[derive(Clone)]
struct LookupClient(Transport);

impl Service<FindInbox> for LookupClient {
    type Response = Found;
    type Error = LookupError;
    type Future = Pin<Box<dyn Future<Output = Result<Found, LookupError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), LookupError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: FindInbox) -> Self::Future {
        let transport = self.0.clone();
        Box::pin(async move {
            let mut stub = QueryApiClient::new(transport.into_service());
            let response = stub
                .get_inbox_ids(GetInboxIdsRequest {
                    requests: vec![InboxRequest {
                        identifier: request.0,
                        identifier_kind: 1,
                    }],
                })
                .await
                .map_err(LookupError)?;
            Ok(Found(
                response
                    .into_inner()
                    .responses
                    .into_iter()
                    .find_map(|r| r.inbox_id),
            ))
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = xmtp_opmon::telemetry::TelemetryBuilder::from_env().init()?;
    let node = EmbeddedNode::start("127.0.0.1:0".parse()?).await?;

    let mut lookups = ServiceBuilder::new()
        .layer(
            OpTelemetryLayer::new(ApiVersion::V4).observe(|o: &Outcome| {
                println!("{} took {:?}, ok = {}", o.operation, o.duration, o.is_ok());
            }),
        )
        .service(LookupClient(traced(node.url())?));
    let found = lookups
        .ready()
        .await
        .map_err(|e| format!("{:?}", e.0))?
        .call(FindInbox(
            "0x0000000000000000000000000000000000000001".into(),
        ))
        .await
        .map_err(|e| format!("{:?}", e.0))?;
    println!("inbox: {:?}", found.0);
    telemetry.shutdown();
    Ok(())
}
