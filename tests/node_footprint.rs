//! The node's size cap bounds its memory only if what the store charges
//! covers what it really allocates. This binary counts every allocation
//! (its own global allocator, one test so nothing else runs beside it),
//! fills an in-process node through its gRPC API with the shapes of
//! traffic the load generator makes, and holds the heap's growth against
//! the growth of the bytes the store charges.
//!
//! The client side allocates too, but keeps nothing between publishes, and
//! the connection's buffers are there before the first measurement.

mod common;

use std::alloc::System;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use xmtp_opmon::node::{NodeConfig, RunningNode};
use xmtp_opmon::proto::envelopes::ClientEnvelope;
use xmtp_opmon::proto::gateway_api::gateway_api_client::GatewayApiClient;
use xmtp_opmon::proto::payer_api::PublishClientEnvelopesRequest;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A welcome of `data_len` bytes for installation number `installation`.
fn welcome(installation: u32, data_len: usize) -> ClientEnvelope {
    let mut key = [7u8; 32];
    key[..4].copy_from_slice(&installation.to_be_bytes());
    common::envelopes::welcome(key, data_len)
}

/// What the heap and the store's charge grew by while `fill` ran.
struct Growth {
    heap: i64,
    charged: i64,
}

async fn growth_of<F, Fut>(node: &RunningNode, fill: F) -> Growth
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let charged_before = node.store_stats().bytes as i64;
    let region = Region::new(GLOBAL);
    fill().await;
    let change = region.change();
    Growth {
        // Reallocations are already counted in both (as growth or shrinkage).
        heap: change.bytes_allocated as i64 - change.bytes_deallocated as i64,
        charged: node.store_stats().bytes as i64 - charged_before,
    }
}

/// Publishes `count` welcomes, `per_topic` to an installation, in batches
/// of a hundred.
async fn welcomes(node: &RunningNode, count: u32, per_topic: u32, first: u32) {
    let mut gateway = GatewayApiClient::new(xmtp_opmon::client::channel(node.url()).unwrap());
    let all: Vec<u32> = (0..count).collect();
    for batch in all.chunks(100) {
        let envelopes = batch
            .iter()
            .map(|i| welcome(first + i / per_topic, 200))
            .collect();
        gateway
            .publish_client_envelopes(PublishClientEnvelopesRequest { envelopes })
            .await
            .expect("publish succeeds");
    }
}

fn check(what: &str, count: u32, growth: &Growth) -> bool {
    eprintln!(
        "{what}: heap +{} B, charged +{} B ({:.0} and {:.0} B per envelope)",
        growth.heap,
        growth.charged,
        growth.heap as f64 / count as f64,
        growth.charged as f64 / count as f64,
    );
    growth.heap <= growth.charged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_charges_at_least_what_it_allocates() {
    let node = common::node_with(NodeConfig {
        retention: std::time::Duration::from_secs(3600),
        max_store: 1 << 40,
        ..NodeConfig::default()
    })
    .await;
    // Warm the connection, the runtime and the maps' first allocations.
    welcomes(&node, 1_000, 1, 1_000_000).await;

    const COUNT: u32 = 20_000;
    let growth = growth_of(&node, || welcomes(&node, COUNT, 1, 0)).await;
    let mut ok = check("a topic per envelope", COUNT, &growth);
    let growth = growth_of(&node, || welcomes(&node, COUNT, 100, 2_000_000)).await;
    ok &= check("a hundred envelopes per topic", COUNT, &growth);

    let client = common::client(&node);
    // Its connections and first allocations, as for the welcomes above.
    client.create_identity().await.expect("identity created");
    const IDENTITIES: u32 = 200;
    let growth = growth_of(&node, || async {
        for _ in 0..IDENTITIES {
            client.create_identity().await.expect("identity created");
        }
    })
    .await;
    ok &= check("identities", IDENTITIES, &growth);
    node.shutdown().await;
    assert!(ok, "the heap grew by more than the store charged");
}
