//! The outer HPKE wrapper around MLS welcomes (PROTOCOL.md §5.3).
//!
//! An MLS Welcome is already encrypted to each new member, but XMTP wraps it
//! once more per recipient installation before handing it to the network,
//! so that the stored envelope reveals nothing about the group. The wrapper
//! is plain HPKE (RFC 9180) in Base mode with DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256 and ChaCha20-Poly1305, sealed to the X25519 init key of the
//! recipient's key package:
//!
//! * `info` is the MLS `EncryptContext { label = "MLS 1.0 MLS_WELCOME",
//!   context = "" }` in TLS encoding; the AAD is empty.
//! * One sender context seals two messages in order: first the welcome
//!   (shipped as a TLS `HpkeCiphertext { kem_output, ciphertext }`), then a
//!   `WelcomeMetadata { message_cursor }` protobuf (shipped as the bare
//!   ciphertext; the receiver reuses the same context, so it needs no
//!   `kem_output` of its own).
//!
//! The post-quantum variant (X-Wing key from extension 0xff03) and welcome
//! pointers are not implemented.

use hpke_rs::hpke_types::{AeadAlgorithm, KdfAlgorithm, KemAlgorithm};
use hpke_rs::{Context, Hpke, HpkePrivateKey, HpkePublicKey, Mode};
use hpke_rs_rust_crypto::HpkeRustCrypto;
use openmls::prelude::tls_codec::{
    Deserialize as TlsDeserialize, Serialize as TlsSerialize, VLBytes,
};
use openmls::prelude::HpkeCiphertext;
use prost::Message;

use super::{MlsError, MlsInstallation, VerifiedKeyPackage};
use crate::proto::xmtp::mls::api::v1::WelcomeMetadata;

/// Label of the HPKE `info`, including MLS's "MLS 1.0 " prefix.
const WELCOME_LABEL: &[u8] = b"MLS 1.0 MLS_WELCOME";

/// A welcome wrapped for one recipient installation; the fields map onto
/// `WelcomeMessageInput.V1` (`data`, `hpke_public_key`, `welcome_metadata`,
/// with `wrapper_algorithm = CURVE25519`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedWelcome {
    /// TLS `HpkeCiphertext { kem_output<V>, ciphertext<V> }` of the welcome.
    pub data: Vec<u8>,
    /// The recipient key the welcome was sealed to (the KP init key).
    pub hpke_public_key: Vec<u8>,
    /// Ciphertext of the `WelcomeMetadata` protobuf, second message of the
    /// same HPKE context.
    pub welcome_metadata: Vec<u8>,
}

fn hpke_suite() -> Hpke<HpkeRustCrypto> {
    Hpke::new(
        Mode::Base,
        KemAlgorithm::DhKem25519,
        KdfAlgorithm::HkdfSha256,
        AeadAlgorithm::ChaCha20Poly1305,
    )
}

/// TLS encoding of `EncryptContext { label<V>, context<V> }` with an empty
/// context.
fn welcome_info() -> Result<Vec<u8>, MlsError> {
    let mut info = VLBytes::new(WELCOME_LABEL.to_vec())
        .tls_serialize_detached()
        .map_err(|e| MlsError::Crypto(format!("encoding HPKE info: {e}")))?;
    let context = VLBytes::new(Vec::new())
        .tls_serialize_detached()
        .map_err(|e| MlsError::Crypto(format!("encoding HPKE info: {e}")))?;
    info.extend_from_slice(&context);
    Ok(info)
}

/// Wraps the TLS-serialized MLS welcome `welcome` for `recipient`, together
/// with the cursor of the commit that produced it.
pub fn seal_welcome(
    welcome: &[u8],
    recipient: &VerifiedKeyPackage,
    message_cursor: u64,
) -> Result<SealedWelcome, MlsError> {
    let recipient_key = HpkePublicKey::new(recipient.hpke_init_key().to_vec());
    let (kem_output, mut context) = hpke_suite()
        .setup_sender(&recipient_key, &welcome_info()?, None, None, None)
        .map_err(|e| MlsError::Crypto(format!("HPKE sender setup: {e}")))?;
    let sealed_welcome = context
        .seal(&[], welcome)
        .map_err(|e| MlsError::Crypto(format!("HPKE seal (welcome): {e}")))?;
    let metadata = WelcomeMetadata { message_cursor }.encode_to_vec();
    let welcome_metadata = context
        .seal(&[], &metadata)
        .map_err(|e| MlsError::Crypto(format!("HPKE seal (metadata): {e}")))?;
    let data = HpkeCiphertext {
        kem_output: VLBytes::new(kem_output),
        ciphertext: VLBytes::new(sealed_welcome),
    }
    .tls_serialize_detached()
    .map_err(|e| MlsError::Crypto(format!("encoding HPKE ciphertext: {e}")))?;
    Ok(SealedWelcome {
        data,
        hpke_public_key: recipient.hpke_init_key().to_vec(),
        welcome_metadata,
    })
}

impl MlsInstallation {
    /// Opens a welcome sealed to one of this installation's key packages and
    /// returns the TLS-serialized MLS welcome and the message cursor. An
    /// empty `welcome_metadata` (older senders) yields cursor 0.
    pub fn open_welcome(
        &self,
        data: &[u8],
        hpke_public_key: &[u8],
        welcome_metadata: &[u8],
    ) -> Result<(Vec<u8>, u64), MlsError> {
        let bad = |msg: String| MlsError::InvalidWelcome(msg);
        let private_key = self
            .init_private_key(hpke_public_key)
            .ok_or_else(|| bad("sealed to an init key that none of our key packages has".into()))?;
        let ciphertext = HpkeCiphertext::tls_deserialize_exact(data)
            .map_err(|e| bad(format!("decoding HPKE ciphertext: {e}")))?;

        let mut context: Context<HpkeRustCrypto> = hpke_suite()
            .setup_receiver(
                ciphertext.kem_output.as_slice(),
                &HpkePrivateKey::new(private_key.to_vec()),
                &welcome_info()?,
                None,
                None,
                None,
            )
            .map_err(|e| bad(format!("HPKE receiver setup: {e}")))?;
        let welcome = context
            .open(&[], ciphertext.ciphertext.as_slice())
            .map_err(|e| bad(format!("HPKE open (welcome): {e}")))?;
        if welcome_metadata.is_empty() {
            return Ok((welcome, 0));
        }
        let metadata = context
            .open(&[], welcome_metadata)
            .map_err(|e| bad(format!("HPKE open (metadata): {e}")))?;
        let metadata = WelcomeMetadata::decode(metadata.as_slice())
            .map_err(|e| bad(format!("decoding welcome metadata: {e}")))?;
        Ok((welcome, metadata.message_cursor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mls::installation::tests::installation;
    use crate::mls::verify_key_package;

    #[test]
    fn info_is_tls_encrypt_context() {
        let info = welcome_info().unwrap();
        assert_eq!(info[0] as usize, WELCOME_LABEL.len());
        assert_eq!(&info[1..1 + WELCOME_LABEL.len()], WELCOME_LABEL);
        assert_eq!(&info[1 + WELCOME_LABEL.len()..], &[0]);
    }

    #[test]
    fn roundtrip_and_wrong_recipient() {
        let a = installation("inbox-a");
        let b = installation("inbox-b");
        let kp_a = verify_key_package(&a.key_package().unwrap()).unwrap();
        let sealed = seal_welcome(b"an mls welcome", &kp_a, 42).unwrap();
        assert_eq!(sealed.hpke_public_key, kp_a.hpke_init_key());

        let (welcome, cursor) = a
            .open_welcome(
                &sealed.data,
                &sealed.hpke_public_key,
                &sealed.welcome_metadata,
            )
            .unwrap();
        assert_eq!(welcome, b"an mls welcome");
        assert_eq!(cursor, 42);

        // B does not hold A's init key.
        let err = b
            .open_welcome(
                &sealed.data,
                &sealed.hpke_public_key,
                &sealed.welcome_metadata,
            )
            .unwrap_err();
        assert!(matches!(err, MlsError::InvalidWelcome(_)));

        // Even claiming B's own init key, B cannot decrypt A's ciphertext.
        let kp_b = verify_key_package(&b.key_package().unwrap()).unwrap();
        let err = b
            .open_welcome(&sealed.data, kp_b.hpke_init_key(), &sealed.welcome_metadata)
            .unwrap_err();
        assert!(err.is_remote_fault());
    }

    #[test]
    fn tampered_metadata_is_rejected() {
        let a = installation("inbox-a");
        let kp_a = verify_key_package(&a.key_package().unwrap()).unwrap();
        let mut sealed = seal_welcome(b"w", &kp_a, 7).unwrap();
        sealed.welcome_metadata[0] ^= 1;
        assert!(a
            .open_welcome(
                &sealed.data,
                &sealed.hpke_public_key,
                &sealed.welcome_metadata
            )
            .is_err());
    }
}
