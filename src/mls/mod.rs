//! MLS (RFC 9420) the way XMTP uses it, on crates.io `openmls` 0.9.2.
//!
//! # The idea
//!
//! * **An installation is an MLS client.** Its Ed25519 installation key (the
//!   key registered in the inbox's identity log) is used directly as the MLS
//!   signature key. The MLS credential is a `BasicCredential` whose identity
//!   bytes are the protobuf `MlsCredential { inbox_id }`, so every leaf in a
//!   group names both the installation (signature key) and its inbox.
//! * **Key packages are last resort.** Each installation publishes one key
//!   package (ciphersuite 0x0003: X25519, ChaCha20-Poly1305, SHA-256,
//!   Ed25519) that may be consumed many times; its HPKE init key is also the
//!   key the outer welcome wrapper is sealed to.
//! * **XMTP group state lives in group-context extensions.** Immutable
//!   metadata (0xf000), mutable metadata and admin lists (0xff00), the
//!   inbox → identity-sequence-id membership map (0xff01) and the permission
//!   policies (0xff02) are protobuf blobs carried as MLS extensions, so every
//!   member agrees on them epoch by epoch. See [`extensions`].
//! * **Adding members is one commit.** The commit carries one Add proposal per
//!   new installation plus a GroupContextExtensions proposal that rewrites the
//!   membership map. The MLS Welcome that comes out of it is then wrapped once
//!   per new installation with HPKE to that installation's init key
//!   ([`seal_welcome`] / [`MlsInstallation::open_welcome`]).
//! * **The network only looks at framing.** Nodes parse the MLS message
//!   header (group id, content type) without any keys to route commits; see
//!   [`inspect_group_message`].
//!
//! # Errors
//!
//! [`MlsError`] separates failures of this process (crypto, openmls
//! internals, misuse) from bad data received from the network (key packages,
//! welcomes, group messages, extensions); [`MlsError::is_remote_fault`] tells
//! them apart.

mod content;
pub mod extensions;
mod framing;
mod group;
mod installation;
mod key_package;
mod welcome;
mod welcome_pointer;

pub use content::{decode_text, encode_text};
pub use framing::{inspect_group_message, GroupMessageInfo, GroupMessageKind};
pub use group::{MlsGroupState, PendingAdd};
pub use installation::MlsInstallation;
pub use key_package::{
    validate_key_package, verify_key_package, NetworkKeyPackage, VerifiedKeyPackage,
};
pub use welcome::{seal_welcome, SealedWelcome};
pub use welcome_pointer::{
    accepts_pointers, seal_pointee, OpenedPointer, Pointee, PointerBundle, SealedPointer,
    POINTER_THRESHOLD,
};

/// The only ciphersuite XMTP uses for groups:
/// `MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519` (0x0003).
pub const CIPHERSUITE: openmls::prelude::Ciphersuite =
    openmls::prelude::Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519;

/// Everything that can go wrong in the MLS layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MlsError {
    /// A local cryptographic operation failed (key handling, HPKE setup, RNG).
    #[error("crypto failure: {0}")]
    Crypto(String),
    /// openmls failed for a reason that is not the peer's fault
    /// (storage, internal library error, encoding our own data).
    #[error("openmls failure: {0}")]
    Openmls(String),
    /// The caller used the API in a way the current state does not allow
    /// (for example merging when no commit is pending).
    #[error("invalid local state: {0}")]
    State(String),
    /// A key package from the network failed to parse or verify, or does not
    /// meet XMTP's requirements.
    #[error("invalid key package: {0}")]
    InvalidKeyPackage(String),
    /// A welcome (outer HPKE wrapper or inner MLS welcome) could not be opened
    /// or was rejected.
    #[error("invalid welcome: {0}")]
    InvalidWelcome(String),
    /// A group message from the network failed to parse, decrypt or validate.
    #[error("invalid group message: {0}")]
    InvalidMessage(String),
    /// A group-context extension received from peers is missing or malformed.
    #[error("invalid group extension: {0}")]
    InvalidExtension(String),
}

impl MlsError {
    /// `true` when the error was caused by data received from the network
    /// (a *protocol* error), `false` when it is a local failure (a *client*
    /// error).
    pub fn is_remote_fault(&self) -> bool {
        match self {
            MlsError::Crypto(_) | MlsError::Openmls(_) | MlsError::State(_) => false,
            MlsError::InvalidKeyPackage(_)
            | MlsError::InvalidWelcome(_)
            | MlsError::InvalidMessage(_)
            | MlsError::InvalidExtension(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classification() {
        assert!(!MlsError::Crypto("x".into()).is_remote_fault());
        assert!(!MlsError::Openmls("x".into()).is_remote_fault());
        assert!(!MlsError::State("x".into()).is_remote_fault());
        assert!(MlsError::InvalidKeyPackage("x".into()).is_remote_fault());
        assert!(MlsError::InvalidWelcome("x".into()).is_remote_fault());
        assert!(MlsError::InvalidMessage("x".into()).is_remote_fault());
        assert!(MlsError::InvalidExtension("x".into()).is_remote_fault());
    }
}
