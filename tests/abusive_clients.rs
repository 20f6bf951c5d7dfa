//! The node under abusive clients: hundreds of connections held open,
//! streams whose responses are never read, requests sent by half and then
//! stalled, and request floods. Through each, a well-behaved client on a
//! connection of its own is still answered within [`LIVENESS`], and the
//! node's memory (`opmon node` as a child process, its VmRSS) stays within
//! a bound proportional to what the abusers sent or asked for.
//!
//! The limits themselves are constants of `xmtp_opmon::node` (see the
//! README's "Limits against abusive clients").

mod common;

use std::net::SocketAddr;
use std::process::Child;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tonic::Code;
use xmtp_opmon::proto::envelopes::{client_envelope::Payload, AuthenticatedData, ClientEnvelope};
use xmtp_opmon::proto::gateway_api::gateway_api_client::GatewayApiClient;
use xmtp_opmon::proto::message_api::{
    get_inbox_ids_request, query_api_client::QueryApiClient, EnvelopesQuery, GetInboxIdsRequest,
    QueryEnvelopesRequest,
};
use xmtp_opmon::proto::payer_api::PublishClientEnvelopesRequest;
use xmtp_opmon::proto::xmtp::mls::api::v1::{welcome_message_input, WelcomeMessageInput};
use xmtp_opmon::topic::{topic, TopicKind};

/// How long a well-behaved call may take while the node is abused: an
/// assertion that it is answered at all, not a timing benchmark.
const LIVENESS: Duration = Duration::from_secs(10);

const MIB: u64 = 1 << 20;

/// `opmon node` on a free loopback port; killed when dropped.
struct Node {
    child: Child,
    addr: SocketAddr,
    url: String,
}

impl Node {
    fn spawn() -> Self {
        let (child, url) = common::spawn_node(&[], &[]);
        let addr = url.trim_start_matches("http://").parse().unwrap();
        Self { child, addr, url }
    }

    /// The node process's resident memory.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib * 1024
    }

    /// A well-behaved client, on a connection of its own, asks the node
    /// something and gets the right answer within [`LIVENESS`].
    async fn answers(&self, what: &str) {
        let started = Instant::now();
        let asked = async {
            let channel = xmtp_opmon::client::channel(&self.url).unwrap();
            QueryApiClient::new(channel)
                .get_inbox_ids(GetInboxIdsRequest {
                    requests: vec![get_inbox_ids_request::Request {
                        identifier: "0x0000000000000000000000000000000000000001".into(),
                        identifier_kind: 1,
                    }],
                })
                .await
        };
        let answer = tokio::time::timeout(LIVENESS, asked)
            .await
            .unwrap_or_else(|_| panic!("{what}: no answer within {LIVENESS:?}"))
            .unwrap_or_else(|status| panic!("{what}: {status:?}"));
        assert_eq!(answer.into_inner().responses.len(), 1, "{what}");
        eprintln!("{what}: answered in {:?}", started.elapsed());
    }

    /// Resident memory once the node has settled for a moment.
    async fn settled_rss(&self) -> u64 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.rss()
    }

    /// How much the node's resident memory grew since `before`, once it
    /// has settled; printed with `what` caused it.
    async fn growth(&self, before: u64, what: &str) -> u64 {
        let now = self.settled_rss().await;
        let mib = |bytes: u64| bytes as f64 / MIB as f64;
        eprintln!("{what}: RSS {:.1} -> {:.1} MiB", mib(before), mib(now));
        now.saturating_sub(before)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP/2 connection driven in the background, for requests the test
/// sends frame by frame.
async fn h2_connection(addr: SocketAddr) -> (h2::client::SendRequest<Bytes>, JoinHandle<()>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (send, connection) = h2::client::Builder::new()
        .handshake::<_, Bytes>(tcp)
        .await
        .expect("HTTP/2 handshake");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (send, driver)
}

fn grpc_request(addr: SocketAddr, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

/// Opens `streams` calls of `path` on each of `connections` new HTTP/2
/// connections, each sending `data` (and ending its request if `end`),
/// and keeps them open, unread, for as long as the caller holds them.
async fn open_streams(
    addr: SocketAddr,
    connections: usize,
    streams: usize,
    path: &str,
    data: Bytes,
    end: bool,
) -> Vec<(h2::client::ResponseFuture, h2::SendStream<Bytes>)> {
    let mut held = Vec::new();
    for _ in 0..connections {
        let (send, driver) = h2_connection(addr).await;
        for _ in 0..streams {
            let mut send = send.clone().ready().await.unwrap();
            let (response, mut body) = send.send_request(grpc_request(addr, path), false).unwrap();
            body.send_data(data.clone(), end).unwrap();
            held.push((response, body));
        }
        // The connection lives on with the test's runtime.
        std::mem::forget(driver);
    }
    held
}

/// A gRPC message frame: uncompressed, its length, the message.
fn frame(message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out.into()
}

/// Stores `count` welcomes of `size` bytes each on one topic and returns
/// the query that reads them all back.
async fn big_topic(node: &Node, count: usize, size: usize) -> Vec<u8> {
    let welcome_topic = topic(TopicKind::WelcomeMessages, &[9; 32]);
    let envelope = ClientEnvelope {
        aad: Some(AuthenticatedData {
            target_topic: welcome_topic.clone(),
            depends_on: None,
        }),
        payload: Some(Payload::WelcomeMessage(WelcomeMessageInput {
            version: Some(welcome_message_input::Version::V1(
                welcome_message_input::V1 {
                    installation_key: vec![9; 32],
                    data: vec![7; size],
                    hpke_public_key: vec![1; 32],
                    wrapper_algorithm: 0,
                    welcome_metadata: Vec::new(),
                },
            )),
        })),
    };
    let channel = xmtp_opmon::client::channel(&node.url).unwrap();
    GatewayApiClient::new(channel)
        .publish_client_envelopes(PublishClientEnvelopesRequest {
            envelopes: vec![envelope; count],
        })
        .await
        .expect("welcomes stored");
    QueryEnvelopesRequest {
        query: Some(EnvelopesQuery {
            topics: vec![welcome_topic],
            originator_node_ids: Vec::new(),
            last_seen: None,
        }),
        limit: 0,
    }
    .encode_to_vec()
}

#[tokio::test]
async fn hundreds_of_idle_connections() {
    const RAW: usize = 200;
    const HTTP2: usize = 200;
    let node = Node::spawn();
    node.answers("before").await;
    let before = node.settled_rss().await;

    // TCP connections that never send a byte, not even the preface.
    let mut raw = Vec::new();
    for _ in 0..RAW {
        raw.push(TcpStream::connect(node.addr).await.unwrap());
    }
    // HTTP/2 connections that complete the handshake, make one call and
    // then sit idle.
    let mut idle = Vec::new();
    for _ in 0..HTTP2 {
        let channel = tonic::transport::Endpoint::from_shared(node.url.clone())
            .unwrap()
            .connect()
            .await
            .expect("connects");
        QueryApiClient::new(channel.clone())
            .get_inbox_ids(GetInboxIdsRequest::default())
            .await
            .expect("a call on each connection");
        idle.push(channel);
    }
    let what = format!("{RAW} silent and {HTTP2} idle connections");
    node.answers(&what).await;
    let grown = node.growth(before, &what).await;
    // A connection costs the node its buffers and HTTP/2 state: about
    // 20 KiB measured. 64 KiB each is the bound.
    let bound = ((RAW + HTTP2) as u64) * 64 * 1024;
    assert!(
        grown <= bound,
        "{grown} bytes for {} connections",
        RAW + HTTP2
    );

    drop(raw);
    drop(idle);
    node.answers("after they closed").await;
}

#[tokio::test]
async fn streams_whose_responses_are_never_read() {
    const CONNECTIONS: usize = 4;
    const STREAMS: usize = 50;
    const RESPONSE: usize = 256 * 1024;
    let node = Node::spawn();
    let query = big_topic(&node, 1, RESPONSE).await;
    node.answers("before").await;
    let before = node.settled_rss().await;

    // Each stream asks for a 256 KiB answer, and the client never reads
    // it (nor releases flow-control capacity), so all but the first 64 KiB
    // stays with the node.
    let held = open_streams(
        node.addr,
        CONNECTIONS,
        STREAMS,
        "/xmtp.xmtpv4.message_api.QueryApi/QueryEnvelopes",
        frame(&query),
        true,
    )
    .await;
    let what = format!(
        "{} unread {} KiB responses",
        CONNECTIONS * STREAMS,
        RESPONSE / 1024
    );
    node.answers(&what).await;
    let grown = node.growth(before, &what).await;
    // What the node holds is the unread answers (about one copy
    // measured), no more than two copies of them.
    let asked = (CONNECTIONS * STREAMS * RESPONSE) as u64;
    assert!(
        grown <= 2 * asked + 16 * MIB,
        "{grown} bytes held for {asked} bytes of unread answers"
    );
    drop(held);
}

#[tokio::test]
async fn half_requests_that_stall() {
    const CONNECTIONS: usize = 10;
    const STREAMS: usize = 30;
    const SENT: usize = 16 * 1024;
    let node = Node::spawn();
    node.answers("before").await;
    let before = node.settled_rss().await;

    // Each stream announces a message at XMTP's payload limit, sends
    // 16 KiB of it, and stalls without ending the stream.
    let announced = xmtp_opmon::codec::MAX_PAYLOAD_BYTES as u32;
    let mut partial = vec![0u8];
    partial.extend_from_slice(&announced.to_be_bytes());
    partial.extend_from_slice(&vec![0x0a; SENT]);
    let held = open_streams(
        node.addr,
        CONNECTIONS,
        STREAMS,
        "/xmtp.xmtpv4.gateway_api.GatewayApi/PublishClientEnvelopes",
        partial.into(),
        false,
    )
    .await;
    let what = format!("{} stalled half-requests", CONNECTIONS * STREAMS);
    node.answers(&what).await;
    let grown = node.growth(before, &what).await;
    // The node holds what was sent (tonic reserves the announced size,
    // but pages nobody wrote are not resident) and each stream's state:
    // about twice what was sent, measured.
    let sent = (CONNECTIONS * STREAMS * SENT) as u64;
    let bound = 2 * sent + (CONNECTIONS * STREAMS) as u64 * 16 * 1024 + 16 * MIB;
    assert!(grown <= bound, "{grown} bytes held for {sent} bytes sent");
    drop(held);
    node.answers("after they gave up").await;
}

#[tokio::test]
async fn request_flood() {
    const TASKS: usize = 32;
    const CONNECTIONS: usize = 8;
    const REQUESTS: usize = 150;
    let node = Node::spawn();
    node.answers("before").await;
    let before = node.settled_rss().await;

    let channels: Vec<_> = (0..CONNECTIONS)
        .map(|_| xmtp_opmon::client::channel(&node.url).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let flood: Vec<_> = (0..TASKS)
        .map(|task| {
            let channel = channels[task % CONNECTIONS].clone();
            tokio::spawn(async move {
                let mut client = QueryApiClient::new(channel);
                let mut refused = 0;
                for i in 0..REQUESTS {
                    if Instant::now() > deadline {
                        break;
                    }
                    // Valid reads, and garbage that is refused.
                    let request = if i % 3 == 0 {
                        GetInboxIdsRequest {
                            requests: vec![
                                get_inbox_ids_request::Request {
                                    identifier: "x".repeat(20),
                                    identifier_kind: 9,
                                };
                                1_001
                            ],
                        }
                    } else {
                        GetInboxIdsRequest::default()
                    };
                    if let Err(status) = client.get_inbox_ids(request).await {
                        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    // While the flood runs, a well-behaved client is answered.
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.answers("during the flood").await;
    let mut refused = 0;
    for task in flood {
        refused += task.await.unwrap();
    }
    assert!(refused > 0, "the flood's oversized requests were refused");
    let kept = node
        .growth(before, &format!("flood of {} requests", TASKS * REQUESTS))
        .await;
    // Nothing of a refused or answered read is kept.
    assert!(kept <= 64 * MIB, "{kept} bytes kept after the flood");
    node.answers("after the flood").await;
}

/// Headers past the limit are refused before any handler runs, and the
/// connection goes on serving.
#[tokio::test]
async fn oversized_headers_are_refused() {
    let node = Node::spawn();
    let channel = xmtp_opmon::client::channel(&node.url).unwrap();
    let mut request = tonic::Request::new(GetInboxIdsRequest::default());
    request.metadata_mut().insert(
        "x-padding",
        "a".repeat(2 * xmtp_opmon::node::MAX_HEADER_LIST_BYTES as usize)
            .parse()
            .unwrap(),
    );
    let status = QueryApiClient::new(channel.clone())
        .get_inbox_ids(request)
        .await
        .expect_err("headers past the limit are refused");
    eprintln!("oversized headers: {status:?}");
    assert_ne!(status.code(), Code::Ok);
    QueryApiClient::new(channel)
        .get_inbox_ids(GetInboxIdsRequest::default())
        .await
        .expect("the same connection serves a normal call");
    node.answers("after oversized headers").await;
}

/// A request whose body never arrives in full is answered `CANCELLED`
/// once the node's request timeout passes, and its stream is freed.
/// (In process, with the timeout shortened from its 60 s default.)
#[tokio::test]
async fn a_stalled_request_is_cancelled_at_the_request_timeout() {
    let timeout = Duration::from_millis(500);
    let node = common::node_with(xmtp_opmon::node::NodeConfig {
        request_timeout: timeout,
        ..Default::default()
    })
    .await;
    let (send, _driver) = h2_connection(node.local_addr()).await;
    let mut send = send.ready().await.unwrap();
    let started = Instant::now();
    let (response, mut body) = send
        .send_request(
            grpc_request(
                node.local_addr(),
                "/xmtp.xmtpv4.gateway_api.GatewayApi/PublishClientEnvelopes",
            ),
            false,
        )
        .unwrap();
    body.send_data(Bytes::from_static(&[0, 0, 0, 4, 0, 0x0a]), false)
        .unwrap();
    let response = tokio::time::timeout(LIVENESS, response)
        .await
        .expect("answered before the liveness bound")
        .expect("a response");
    let waited = started.elapsed();
    assert!(waited >= timeout, "answered after {waited:?}");
    // A trailers-only answer: the status is in the headers.
    let status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(status.as_deref(), Some("1"), "{:?}", response.headers());
    let message = response.headers().get("grpc-message");
    eprintln!("stalled request answered after {waited:?}: {message:?}");
    drop(body);
    node.shutdown().await;
}
