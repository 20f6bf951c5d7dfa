//! Code generated from `proto/`: XMTP's messages and services, with module
//! paths that follow the protobuf packages (so `xmtp::xmtpv4::envelopes`
//! is the package `xmtp.xmtpv4.envelopes`).
#![allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]

pub mod xmtp {
    pub mod xmtpv4 {
        pub mod envelopes {
            tonic::include_proto!("xmtp.xmtpv4.envelopes");
        }
        pub mod message_api {
            tonic::include_proto!("xmtp.xmtpv4.message_api");
        }
        pub mod payer_api {
            tonic::include_proto!("xmtp.xmtpv4.payer_api");
        }
        pub mod gateway_api {
            tonic::include_proto!("xmtp.xmtpv4.gateway_api");
        }
    }
    pub mod identity {
        tonic::include_proto!("xmtp.identity");
        pub mod associations {
            tonic::include_proto!("xmtp.identity.associations");
        }
        pub mod api {
            pub mod v1 {
                tonic::include_proto!("xmtp.identity.api.v1");
            }
        }
    }
    pub mod mls {
        pub mod api {
            pub mod v1 {
                tonic::include_proto!("xmtp.mls.api.v1");
            }
        }
        pub mod message_contents {
            tonic::include_proto!("xmtp.mls.message_contents");
        }
    }
}

pub use xmtp::identity::associations;
pub use xmtp::xmtpv4::{envelopes, gateway_api, message_api, payer_api};
