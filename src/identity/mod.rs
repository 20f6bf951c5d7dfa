//! XMTP identity: who an inbox is, and which keys may speak for it.
//!
//! # The model
//!
//! An **inbox** is not a key pair: it is an append-only *log of signed
//! identity updates*. Replaying the log from the start yields the inbox's
//! current [`AssociationState`]: the wallets ("addresses") linked to it, the
//! installations allowed to message for it, and the recovery address that
//! may revoke members.
//!
//! * The **inbox id** is derived from the first wallet: the lowercase hex
//!   SHA-256 of the address followed by a decimal nonce ([`inbox_id`]). It is
//!   fixed at creation; wallets linked later do not change it.
//! * An **installation** is one client install. It owns an Ed25519 key
//!   ([`InstallationKey`]) whose 32-byte public key is the installation id and
//!   the MLS leaf signature key. A wallet *grants* it messaging access with an
//!   `AddAssociation` action.
//! * Every signer of an update signs the same human-readable text
//!   ([`signature_text`]), which lists the update's actions. Wallets sign it
//!   with EIP-191 `personal_sign`; installations with Ed25519ph under the
//!   context `IDENTITY UPDATE SIGNATURE`.
//! * A new inbox is a single update with two actions: `CreateInbox` by the
//!   wallet, then `AddAssociation` of the first installation
//!   ([`new_inbox_update`]). Later updates add members with the consent of
//!   an existing one ([`add_member_update`]) or revoke them
//!   ([`revoke_member_update`]).
//! * A **passkey** (a WebAuthn P-256 credential) can do all a wallet does:
//!   own an inbox, be linked to one, add members, be the recovery
//!   identifier. It signs the text as a WebAuthn assertion whose challenge
//!   is the text (the module of [`SoftwarePasskey`] explains the check).
//!
//! # Why validate locally
//!
//! The network accepts an identity update at the gateway, but its indexer
//! checks the association rules later and **silently drops** an update that
//! breaks them: the publish call still succeeds and the inbox simply never
//! appears. [`apply_update`] and [`fold_log`] restate those rules so that a
//! client can refuse to publish, and a monitor can explain, an update the
//! network would drop.
//!
//! Ethereum EOAs (ERC-191), installation keys and passkeys are verified for
//! real. Smart-contract wallets (ERC-1271/6492) need a chain to verify, so
//! they are refused or accepted unverified as [`ScwSignatures`] says; legacy
//! delegated keys are reported as [`IdentityError::Unsupported`].

mod association;
mod inbox_id;
mod keys;
mod passkey;
mod scw;
mod signature_text;
mod signer;
mod update;

pub use association::{apply_update, apply_update_with, fold_log, AssociationState, MemberId};
pub use inbox_id::inbox_id;
pub use keys::{
    recover_personal_signer, verify_installation_signature, InstallationKey, Wallet,
    INSTALLATION_SIGNATURE_CONTEXT,
};
pub use passkey::{SoftwarePasskey, DEFAULT_RELYING_PARTY};
pub use scw::ScwSignatures;
pub use signature_text::signature_text;
pub use signer::IdentitySigner;
pub use update::{add_member_update, new_inbox_update, revoke_member_update};

/// Why an identity operation failed, or why the network would drop an
/// identity update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The string is not a lowercase `0x` + 40-hex-digit Ethereum address.
    #[error("invalid account address {0:?}: expected 0x followed by 40 lowercase hex digits")]
    InvalidAddress(String),
    /// A key's bytes are not a valid secret or public key.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A signature is malformed or does not verify.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// A signature is valid but was made by someone other than the identity
    /// it has to come from.
    #[error("signature made by {got}, but it must come from {expected}")]
    SignerMismatch {
        /// The identity the rules require.
        expected: String,
        /// The identity that actually signed.
        got: String,
    },
    /// The inbox id in the update is not the inbox's derived id.
    #[error("wrong inbox id: the inbox is {expected}, the update names {got}")]
    WrongInboxId {
        /// The id derived from the creating wallet and nonce.
        expected: String,
        /// The id the update carries.
        got: String,
    },
    /// `CreateInbox` on an inbox that already exists (or not as the first
    /// action of the log).
    #[error("CreateInbox is only allowed as the first action of an empty log")]
    NotEmpty,
    /// The log does not start with `CreateInbox`.
    #[error("the inbox does not exist yet: the first action must be CreateInbox")]
    MissingCreateInbox,
    /// The existing-member (or recovery) signer is neither a member of the
    /// inbox nor the identity the action requires.
    #[error("signer {0} is not allowed to authorise this action")]
    UnknownSigner(String),
    /// The action is well formed and signed but the rules forbid it (e.g.
    /// a member adding itself, an installation adding an installation).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// A signature already used by an earlier update of this inbox.
    #[error("signature replayed from an earlier identity update")]
    ReplayedSignature,
    /// A valid protocol feature this crate does not model.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A required field is missing or has the wrong shape.
    #[error("malformed identity update: {0}")]
    Malformed(String),
}

/// Writes `n` as ASCII decimal digits into `buf` and returns them, without
/// allocating (the inbox id and the EIP-191 prefix both hash a decimal number).
fn ascii_decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    // u64::MAX has 20 digits, so `start` never underflows.
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ascii_decimal;

    #[test]
    fn ascii_decimal_matches_to_string() {
        let mut buf = [0u8; 20];
        for n in [0, 1, 9, 10, 65, 1_000, u64::MAX] {
            assert_eq!(ascii_decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
