//! Code generated from `proto/`: XMTP's messages and services, with module
//! paths that follow the protobuf packages (so `xmtp::xmtpv4::envelopes`
//! is the package `xmtp.xmtpv4.envelopes`). Servers come from a second
//! generation pass with the node's codec (see `build.rs`).
#![allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]

pub mod xmtp {
    pub mod xmtpv4 {
        pub mod envelopes {
            tonic::include_proto!("xmtp.xmtpv4.envelopes");
        }
        pub mod message_api {
            tonic::include_proto!("xmtp.xmtpv4.message_api");
            include!(concat!(
                env!("OUT_DIR"),
                "/server/xmtp.xmtpv4.message_api.rs"
            ));
        }
        pub mod payer_api {
            tonic::include_proto!("xmtp.xmtpv4.payer_api");
            include!(concat!(env!("OUT_DIR"), "/server/xmtp.xmtpv4.payer_api.rs"));
        }
        pub mod gateway_api {
            tonic::include_proto!("xmtp.xmtpv4.gateway_api");
            include!(concat!(
                env!("OUT_DIR"),
                "/server/xmtp.xmtpv4.gateway_api.rs"
            ));
        }
    }
    /// XMTP V2 keys and signatures, reached only through
    /// `LegacyDelegatedSignature`.
    pub mod message_contents {
        tonic::include_proto!("xmtp.message_contents");
    }
    pub mod identity {
        tonic::include_proto!("xmtp.identity");
        pub mod associations {
            tonic::include_proto!("xmtp.identity.associations");
        }
        pub mod api {
            pub mod v1 {
                tonic::include_proto!("xmtp.identity.api.v1");
                include!(concat!(env!("OUT_DIR"), "/server/xmtp.identity.api.v1.rs"));
            }
        }
    }
    pub mod mls {
        pub mod api {
            pub mod v1 {
                tonic::include_proto!("xmtp.mls.api.v1");
                include!(concat!(env!("OUT_DIR"), "/server/xmtp.mls.api.v1.rs"));
            }
        }
        pub mod message_contents {
            tonic::include_proto!("xmtp.mls.message_contents");
        }
    }
}

pub use xmtp::identity::associations;
pub use xmtp::xmtpv4::{envelopes, gateway_api, message_api, payer_api};
