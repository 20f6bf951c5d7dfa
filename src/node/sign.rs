//! The node's two signatures over envelopes (PROTOCOL.md §2.1): the
//! gateway signs the client envelope it pays for, the originator signs
//! what it stores. Real secp256k1 signatures, so the node's costs and the
//! envelopes' sizes are those of xmtpd.

use k256::ecdsa::SigningKey;
use sha3::{Digest, Keccak256};

use crate::proto::associations::RecoverableEcdsaSignature;

/// A secp256k1 key that signs raw keccak256 digests, r ‖ s ‖ v (v ∈ {0,1}).
pub(crate) struct EnvelopeSigner {
    key: SigningKey,
}

impl EnvelopeSigner {
    pub(crate) fn generate() -> Self {
        Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    /// The payer signature of a client envelope sent to `target_originator`.
    pub(crate) fn sign_payer(
        &self,
        target_originator: u32,
        client_envelope: &[u8],
    ) -> RecoverableEcdsaSignature {
        let digest = Keccak256::new()
            .chain_update(b"target|")
            .chain_update(target_originator.to_be_bytes())
            .chain_update(b"payer|")
            .chain_update(client_envelope);
        self.sign(digest)
    }

    /// The originator signature of an unsigned originator envelope.
    pub(crate) fn sign_originator(&self, unsigned: &[u8]) -> RecoverableEcdsaSignature {
        self.sign(
            Keccak256::new()
                .chain_update(b"originator|")
                .chain_update(unsigned),
        )
    }

    fn sign(&self, digest: Keccak256) -> RecoverableEcdsaSignature {
        let mut bytes = Vec::with_capacity(65);
        // Signing a fixed-size digest with a valid key cannot fail; an
        // empty signature would only make the envelope unverifiable, which
        // no XMTP client checks anyway.
        if let Ok((signature, recovery)) = self.key.sign_digest_recoverable(digest) {
            bytes.extend_from_slice(&signature.to_bytes());
            bytes.push(recovery.to_byte());
        }
        RecoverableEcdsaSignature { bytes }
    }
}
