//! Compiles `proto/` with protox (pure Rust, so no `protoc` is needed) and
//! generates prost messages plus tonic clients and servers.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "xmtpv4/envelopes/envelopes.proto",
        "xmtpv4/message_api/message_api.proto",
        "xmtpv4/payer_api/payer_api.proto",
        "xmtpv4/gateway_api/gateway_api.proto",
        "identity/api/v1/identity.proto",
        "identity/credential.proto",
        "mls/message_contents/group.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
