//! Compiles `proto/` with protox (pure Rust, so no `protoc` is needed).
//!
//! Two passes share one set of message types: the first generates the
//! messages and the clients, the second only the servers. Each side gets
//! its own codec (see `src/codec.rs`), because a payload that does not
//! decode means different things to each: a protocol error when a client
//! reads a response, a bad request (INVALID_ARGUMENT) when a server reads
//! a request.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "xmtpv4/envelopes/envelopes.proto",
        "xmtpv4/message_api/message_api.proto",
        "xmtpv4/payer_api/payer_api.proto",
        "xmtpv4/gateway_api/gateway_api.proto",
        "identity/api/v1/identity.proto",
        "identity/credential.proto",
        "mls/message_contents/content.proto",
        "mls/message_contents/group.proto",
        "mls/message_contents/welcome_pointer.proto",
        "mls/api/v1/mls.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(files, ["proto"])?;

    tonic_prost_build::configure()
        .build_server(false)
        .codec_path("crate::codec::ClientCodec")
        .compile_fds(fds.clone())?;

    let server_dir = PathBuf::from(std::env::var("OUT_DIR")?).join("server");
    std::fs::create_dir_all(&server_dir)?;
    tonic_prost_build::configure()
        .build_client(false)
        .codec_path("crate::codec::ServerCodec")
        .extern_path(".xmtp", "crate::proto::xmtp")
        .out_dir(&server_dir)
        .compile_fds(fds)?;
    Ok(())
}
