//! One interface for everything that signs identity updates.
//!
//! Wallets, installations and passkeys sign the same signature text in
//! three different ways (EIP-191, Ed25519ph, a WebAuthn assertion). The
//! update builders ([`new_inbox_update`](super::new_inbox_update),
//! [`add_member_update`](super::add_member_update),
//! [`revoke_member_update`](super::revoke_member_update)) take any of them
//! through [`IdentitySigner`], so one builder serves every combination the
//! association rules allow (a wallet adding an installation, a passkey
//! adding a wallet, an installation adding a passkey, …).

use crate::proto::associations::{member_identifier, MemberIdentifier, Signature};

use super::update::{erc191, installation_ed25519ph};
use super::{InstallationKey, SoftwarePasskey, Wallet};

/// A key that can act for one member of an inbox.
pub trait IdentitySigner {
    /// The member this key is.
    fn member_identifier(&self) -> MemberIdentifier;

    /// Signs an identity update's [`signature_text`](super::signature_text)
    /// the way this kind of member signs.
    fn sign_text(&self, text: &str) -> Signature;
}

impl IdentitySigner for Wallet {
    fn member_identifier(&self) -> MemberIdentifier {
        MemberIdentifier {
            kind: Some(member_identifier::Kind::EthereumAddress(self.address())),
        }
    }

    fn sign_text(&self, text: &str) -> Signature {
        erc191(self.sign_personal(text).to_vec())
    }
}

impl IdentitySigner for InstallationKey {
    fn member_identifier(&self) -> MemberIdentifier {
        MemberIdentifier {
            kind: Some(member_identifier::Kind::InstallationPublicKey(
                self.public_key().to_vec(),
            )),
        }
    }

    fn sign_text(&self, text: &str) -> Signature {
        installation_ed25519ph(
            self.sign_identity_update(text).to_vec(),
            self.public_key().to_vec(),
        )
    }
}

impl IdentitySigner for SoftwarePasskey {
    fn member_identifier(&self) -> MemberIdentifier {
        SoftwarePasskey::member_identifier(self)
    }

    fn sign_text(&self, text: &str) -> Signature {
        self.sign_identity_update(text)
    }
}
