//! Passkeys: WebAuthn credentials as inbox members.
//!
//! A passkey is a P-256 key held by an authenticator (a phone, a security
//! key, a password manager). It can create an inbox, be linked to one, add
//! members, and be the recovery identifier — everything a wallet can do —
//! but it cannot sign arbitrary bytes: a browser asks it to sign a WebAuthn
//! *assertion*. XMTP (libxmtp `verified_signature.rs`, `from_passkey`)
//! therefore puts the identity update's signature text in the assertion's
//! challenge and verifies the assertion:
//!
//! 1. `clientDataJSON` is JSON with an `origin` (libxmtp records it as the
//!    signer's relying party, which is not part of a member's identity)
//!    and a `challenge` that is the base64url (no padding) of the
//!    signature text;
//! 2. the signature is P-256 ECDSA, DER-encoded, over
//!    `authenticatorData ‖ SHA-256(clientDataJSON)`;
//! 3. the public key is SEC1 (libxmtp's passkeys use the 65-byte
//!    uncompressed form; the compressed form parses too), and the member it
//!    proves is `Passkey { key }` with exactly those bytes — two encodings of
//!    one key are two different members.
//!
//! Replay protection remembers the signature as raw `r ‖ s` with `s` in the
//! lower half of the order: ECDSA's `(r, n − s)` verifies too, and must not
//! count as a fresh signature.
//!
//! [`SoftwarePasskey`] is a P-256 key that answers as a browser and its
//! authenticator would, so tests and benchmarks can create passkey inboxes
//! without hardware.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::proto::associations::{
    member_identifier, signature, MemberIdentifier, Passkey, RecoverablePasskeySignature,
};

use super::IdentityError;

/// The relying party a [`SoftwarePasskey`] uses unless told otherwise
/// (libxmtp's test passkeys use the same).
pub const DEFAULT_RELYING_PARTY: &str = "xmtp.chat";

/// WebAuthn authenticator-data flags: user present (UP) and user verified
/// (UV), as a platform authenticator sets them after a biometric check.
const FLAGS_UP_UV: u8 = 0x01 | 0x04;

/// A passkey assertion that verified.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedPasskey {
    /// The SEC1 public key exactly as the signature carried it.
    pub(crate) key: Vec<u8>,
    /// What replay protection remembers: `r ‖ low s`.
    pub(crate) replay_key: Vec<u8>,
}

/// The two fields of `clientDataJSON` XMTP reads; the rest (`type`,
/// `crossOrigin`, …) is ignored, as libxmtp ignores it.
#[derive(serde::Deserialize)]
struct ClientData {
    #[allow(dead_code)] // required to be present, as libxmtp requires it
    origin: String,
    challenge: String,
}

/// Verifies a WebAuthn assertion over `text` (the identity update's
/// signature text); see the [module docs](self).
pub(crate) fn verify_passkey(
    text: &str,
    signature: &RecoverablePasskeySignature,
) -> Result<VerifiedPasskey, IdentityError> {
    let bad = |what: &str| IdentityError::BadSignature(format!("passkey: {what}"));
    let client_data: ClientData = serde_json::from_slice(&signature.client_data_json)
        .map_err(|_| bad("clientDataJSON is not JSON with a challenge and an origin"))?;
    if client_data.challenge != URL_SAFE_NO_PAD.encode(text) {
        return Err(bad("the challenge is not this update's signature text"));
    }
    let key = VerifyingKey::from_sec1_bytes(&signature.public_key)
        .map_err(|_| IdentityError::InvalidKey("passkey: not a SEC1 P-256 public key".into()))?;
    let ecdsa = Signature::from_der(&signature.signature)
        .map_err(|_| bad("the signature is not DER-encoded P-256 ECDSA"))?;
    key.verify(
        &signed_data(&signature.authenticator_data, &signature.client_data_json),
        &ecdsa,
    )
    .map_err(|_| bad("the signature does not verify"))?;
    Ok(VerifiedPasskey {
        key: signature.public_key.clone(),
        replay_key: ecdsa.normalize_s().unwrap_or(ecdsa).to_bytes().to_vec(),
    })
}

/// What a WebAuthn authenticator signs: `authenticatorData ‖
/// SHA-256(clientDataJSON)` (the signature hashes it once more).
fn signed_data(authenticator_data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(authenticator_data.len() + 32);
    data.extend_from_slice(authenticator_data);
    data.extend_from_slice(&Sha256::digest(client_data_json));
    data
}

/// A passkey in software: a P-256 key that produces `authenticatorData`,
/// `clientDataJSON` and a DER signature exactly as a browser's
/// `navigator.credentials.get` does with a platform authenticator.
#[derive(Clone)]
pub struct SoftwarePasskey {
    key: SigningKey,
    relying_party: String,
}

impl SoftwarePasskey {
    /// A fresh passkey for [`DEFAULT_RELYING_PARTY`].
    pub fn generate() -> Self {
        Self::for_relying_party(DEFAULT_RELYING_PARTY)
    }

    /// A fresh passkey registered with `relying_party` (a domain, such as
    /// `xmtp.chat`); assertions come from the origin `https://` + it.
    pub fn for_relying_party(relying_party: &str) -> Self {
        Self {
            key: SigningKey::random(&mut OsRng),
            relying_party: relying_party.to_owned(),
        }
    }

    /// The 65-byte uncompressed SEC1 public key: the member's identity.
    pub fn public_key(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    /// The relying party (domain) the passkey belongs to.
    pub fn relying_party(&self) -> &str {
        &self.relying_party
    }

    /// This passkey as an inbox member.
    pub fn member_identifier(&self) -> MemberIdentifier {
        MemberIdentifier {
            kind: Some(member_identifier::Kind::Passkey(Passkey {
                key: self.public_key(),
                relying_party: Some(self.relying_party.clone()),
            })),
        }
    }

    /// Signs an identity update's signature text as a WebAuthn assertion
    /// whose challenge is the text.
    pub fn sign(&self, text: &str) -> RecoverablePasskeySignature {
        // rpIdHash ‖ flags ‖ signCount (0: synced passkeys keep no counter).
        let mut authenticator_data = Sha256::digest(self.relying_party.as_bytes()).to_vec();
        authenticator_data.push(FLAGS_UP_UV);
        authenticator_data.extend_from_slice(&0u32.to_be_bytes());
        // The member order and spacing browsers emit.
        let client_data_json = format!(
            r#"{{"type":"webauthn.get","challenge":"{}","origin":"https://{}","crossOrigin":false}}"#,
            URL_SAFE_NO_PAD.encode(text),
            self.relying_party
        )
        .into_bytes();
        let signature: Signature = self
            .key
            .sign(&signed_data(&authenticator_data, &client_data_json));
        RecoverablePasskeySignature {
            public_key: self.public_key(),
            signature: signature.to_der().as_bytes().to_vec(),
            authenticator_data,
            client_data_json,
        }
    }

    /// [`sign`](Self::sign), wrapped as an identity-update `Signature`.
    pub fn sign_identity_update(&self, text: &str) -> crate::proto::associations::Signature {
        crate::proto::associations::Signature {
            signature: Some(signature::Signature::Passkey(self.sign(text))),
        }
    }
}

impl fmt::Debug for SoftwarePasskey {
    // The secret stays out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwarePasskey")
            .field("public_key", &hex::encode(self.public_key()))
            .field("relying_party", &self.relying_party)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "XMTP : Authenticate to inbox\n\nInbox ID: 00";

    #[test]
    fn a_software_assertion_verifies_and_names_its_key() {
        let passkey = SoftwarePasskey::generate();
        let signature = passkey.sign(TEXT);
        assert_eq!(signature.public_key.len(), 65);
        assert_eq!(signature.public_key[0], 0x04, "uncompressed SEC1");
        assert_eq!(signature.authenticator_data.len(), 37);
        let verified = verify_passkey(TEXT, &signature).unwrap();
        assert_eq!(verified.key, passkey.public_key());
        assert_eq!(verified.replay_key.len(), 64);
    }

    #[test]
    fn the_challenge_must_be_the_text() {
        let passkey = SoftwarePasskey::generate();
        let signature = passkey.sign("another update");
        assert!(matches!(
            verify_passkey(TEXT, &signature),
            Err(IdentityError::BadSignature(_))
        ));
    }

    #[test]
    fn tampering_with_any_part_is_refused() {
        let passkey = SoftwarePasskey::generate();
        let good = passkey.sign(TEXT);
        let mut authenticator = good.clone();
        authenticator.authenticator_data[32] ^= 0x10;
        let mut client_data = good.clone();
        // Same challenge, another origin: the hash signed no longer matches.
        client_data.client_data_json = String::from_utf8(good.client_data_json.clone())
            .unwrap()
            .replace("https://", "http://")
            .into_bytes();
        let mut der = good.clone();
        let last = der.signature.len() - 1;
        der.signature[last] ^= 0x01;
        let mut other_key = good.clone();
        other_key.public_key = SoftwarePasskey::generate().public_key();
        let mut not_json = good.clone();
        not_json.client_data_json = b"challenge".to_vec();
        for (what, forged) in [
            ("authenticator data", authenticator),
            ("client data", client_data),
            ("signature", der),
            ("public key", other_key),
            ("client data that is not JSON", not_json),
        ] {
            assert!(verify_passkey(TEXT, &forged).is_err(), "{what}");
        }
    }

    #[test]
    fn both_s_forms_share_one_replay_key() {
        let passkey = SoftwarePasskey::generate();
        let good = passkey.sign(TEXT);
        let ecdsa = Signature::from_der(&good.signature).unwrap();
        let (r, s) = ecdsa.split_scalars();
        let flipped = Signature::from_scalars(r, -*s).unwrap();
        let mut alias = good.clone();
        alias.signature = flipped.to_der().as_bytes().to_vec();
        let a = verify_passkey(TEXT, &good).unwrap();
        let b = verify_passkey(TEXT, &alias).unwrap();
        assert_ne!(good.signature, alias.signature);
        assert_eq!(a.replay_key, b.replay_key);
    }

    #[test]
    fn compressed_keys_verify_as_another_member() {
        let passkey = SoftwarePasskey::generate();
        let mut signature = passkey.sign(TEXT);
        let compressed = passkey
            .key
            .verifying_key()
            .to_encoded_point(true)
            .as_bytes()
            .to_vec();
        signature.public_key = compressed.clone();
        assert_eq!(verify_passkey(TEXT, &signature).unwrap().key, compressed);
    }
}
