//! Latency of each operation against the embedded node on loopback.
//!
//! Starts an embedded node in-process, then times `identity.create`,
//! `group.create` with 10 members, and `group.add_members` of 1, 10 and
//! 100 members into fresh groups (the members are provisioned once and
//! reused, as their key packages are last-resort). Prints p50/p90/max per
//! operation. Run it in release mode:
//!
//! ```text
//! cargo run --release --example op_latency -- [RUNS]
//! ```

use std::time::{Duration, Instant};

use xmtp_opmon::client::V4Client;
use xmtp_opmon::node::EmbeddedNode;

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<28} n={:<4} p50={:>9.3?} p90={:>9.3?} max={:>9.3?}",
        samples.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(50);
    let node = EmbeddedNode::start("127.0.0.1:0".parse()?).await?;
    let client = V4Client::connect(node.url(), node.url())?;

    let mut identity = Vec::with_capacity(runs);
    let mut people = Vec::new();
    for _ in 0..runs.max(101) {
        let started = Instant::now();
        people.push(client.create_identity().await?);
        identity.push(started.elapsed());
    }
    summary("identity.create", identity.split_off(identity.len() - runs));

    let owner = people[0].clone();
    let ids: Vec<String> = people[1..]
        .iter()
        .map(|p| p.inbox_id().to_owned())
        .collect();

    let mut create = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        client.create_group(&owner, &ids[..10]).await?;
        create.push(started.elapsed());
    }
    summary("group.create (10 members)", create);

    for size in [1, 10, 100] {
        let mut add = Vec::with_capacity(runs);
        for _ in 0..runs {
            let mut group = client.create_group(&owner, &[]).await?;
            let started = Instant::now();
            client.add_members(&mut group, &ids[..size]).await?;
            add.push(started.elapsed());
        }
        summary(&format!("group.add_members ({size})"), add);
    }
    node.shutdown().await;
    Ok(())
}
