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
//! When the recipient's key package carries extension 0xff03 (an X-Wing
//! public key), the KEM is X-Wing (draft 06, ML-KEM-768 + X25519) instead,
//! sealed to that key, and the envelope says `XWING_MLKEM_768_DRAFT_6`.
//! libxmtp labels that KEM with the codepoint 0x004D, which early X-Wing
//! drafts used, rather than the registered 0x647a; the codepoint enters
//! HPKE's key schedule, so it must match for the welcome to open.
//!
//! Welcome pointers are not implemented: our key packages do not offer
//! them, and [`MlsInstallation::open_welcome`] refuses other algorithms.

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
use crate::proto::xmtp::mls::message_contents::WelcomeWrapperAlgorithm;

/// Label of the HPKE `info`, including MLS's "MLS 1.0 " prefix.
const WELCOME_LABEL: &[u8] = b"MLS 1.0 MLS_WELCOME";

/// A welcome wrapped for one recipient installation; the fields map onto
/// `WelcomeMessageInput.V1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedWelcome {
    /// TLS `HpkeCiphertext { kem_output<V>, ciphertext<V> }` of the welcome.
    pub data: Vec<u8>,
    /// The recipient key the welcome was sealed to (the key package's
    /// X-Wing key if it has one, else its init key).
    pub hpke_public_key: Vec<u8>,
    /// `CURVE25519` or `XWING_MLKEM_768_DRAFT_6`.
    pub wrapper_algorithm: WelcomeWrapperAlgorithm,
    /// Ciphertext of the `WelcomeMetadata` protobuf, second message of the
    /// same HPKE context.
    pub welcome_metadata: Vec<u8>,
}

/// The HPKE suite of a wrapper algorithm; `None` for algorithms that are
/// not HPKE wrappings we implement (symmetric pointees, unknown values).
fn hpke_suite(algorithm: WelcomeWrapperAlgorithm) -> Option<Hpke<HpkeRustCrypto>> {
    #[allow(deprecated)] // the obsolete codepoint is what libxmtp uses
    let kem = match algorithm {
        WelcomeWrapperAlgorithm::Unspecified | WelcomeWrapperAlgorithm::Curve25519 => {
            KemAlgorithm::DhKem25519
        }
        WelcomeWrapperAlgorithm::XwingMlkem768Draft6 => KemAlgorithm::XWingDraft06Obsolete,
        WelcomeWrapperAlgorithm::SymmetricKey => return None,
    };
    Some(Hpke::new(
        Mode::Base,
        kem,
        KdfAlgorithm::HkdfSha256,
        AeadAlgorithm::ChaCha20Poly1305,
    ))
}

/// A fresh X-Wing key pair (private, public) for a key package's 0xff03.
pub(crate) fn x_wing_key_pair() -> Result<(Vec<u8>, Vec<u8>), MlsError> {
    let mut suite = hpke_suite(WelcomeWrapperAlgorithm::XwingMlkem768Draft6)
        .ok_or_else(|| MlsError::Crypto("X-Wing suite unavailable".into()))?;
    let (private, public) = suite
        .generate_key_pair()
        .map_err(|e| MlsError::Crypto(format!("X-Wing key generation: {e}")))?
        .into_keys();
    Ok((private.as_slice().to_vec(), public.as_slice().to_vec()))
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
    let (wrapper_algorithm, key) = wrapper_key(recipient);
    let metadata = WelcomeMetadata { message_cursor }.encode_to_vec();
    let (data, welcome_metadata) = hpke_seal(wrapper_algorithm, key, welcome, &metadata)?;
    Ok(SealedWelcome {
        data,
        hpke_public_key: key.to_vec(),
        wrapper_algorithm,
        welcome_metadata,
    })
}

/// The algorithm and key a welcome to `recipient` is wrapped with: as in
/// libxmtp, X-Wing whenever the key package offers a key for it.
pub(crate) fn wrapper_key(recipient: &VerifiedKeyPackage) -> (WelcomeWrapperAlgorithm, &[u8]) {
    match recipient.x_wing_key() {
        Some(key) => (WelcomeWrapperAlgorithm::XwingMlkem768Draft6, key),
        None => (
            WelcomeWrapperAlgorithm::Curve25519,
            recipient.hpke_init_key(),
        ),
    }
}

/// Seals `first` then `second` in one HPKE context to `key`; returns the
/// TLS `HpkeCiphertext` of `first` and the bare ciphertext of `second`
/// (empty when `second` is).
pub(crate) fn hpke_seal(
    algorithm: WelcomeWrapperAlgorithm,
    key: &[u8],
    first: &[u8],
    second: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), MlsError> {
    let mut suite = hpke_suite(algorithm)
        .ok_or_else(|| MlsError::Crypto("no HPKE suite for the wrapper".into()))?;
    let recipient_key = HpkePublicKey::new(key.to_vec());
    let (kem_output, mut context) = suite
        .setup_sender(&recipient_key, &welcome_info()?, None, None, None)
        .map_err(|e| MlsError::Crypto(format!("HPKE sender setup: {e}")))?;
    let sealed_first = context
        .seal(&[], first)
        .map_err(|e| MlsError::Crypto(format!("HPKE seal: {e}")))?;
    let sealed_second = if second.is_empty() {
        Vec::new()
    } else {
        context
            .seal(&[], second)
            .map_err(|e| MlsError::Crypto(format!("HPKE seal: {e}")))?
    };
    let data = HpkeCiphertext {
        kem_output: VLBytes::new(kem_output),
        ciphertext: VLBytes::new(sealed_first),
    }
    .tls_serialize_detached()
    .map_err(|e| MlsError::Crypto(format!("encoding HPKE ciphertext: {e}")))?;
    Ok((data, sealed_second))
}

impl MlsInstallation {
    /// Opens a welcome sealed to one of this installation's key packages
    /// with `wrapper_algorithm` (the envelope's raw enum value) and returns
    /// the TLS-serialized MLS welcome and the message cursor. An empty
    /// `welcome_metadata` (older senders) yields cursor 0.
    pub fn open_welcome(
        &self,
        data: &[u8],
        hpke_public_key: &[u8],
        wrapper_algorithm: i32,
        welcome_metadata: &[u8],
    ) -> Result<(Vec<u8>, u64), MlsError> {
        let bad = |msg: String| MlsError::InvalidWelcome(msg);
        let suite = WelcomeWrapperAlgorithm::try_from(wrapper_algorithm)
            .ok()
            .and_then(hpke_suite)
            .ok_or_else(|| bad(format!("unsupported wrapper algorithm {wrapper_algorithm}")))?;
        let private_key = self
            .init_private_key(hpke_public_key)
            .ok_or_else(|| bad("sealed to a key that none of our key packages has".into()))?;
        open_sealed(suite, &private_key, data, welcome_metadata)
    }
}

/// Decodes a `WelcomeMetadata` and returns its cursor (0 when absent).
pub(crate) fn decode_cursor(metadata: &[u8]) -> Result<u64, MlsError> {
    if metadata.is_empty() {
        return Ok(0);
    }
    WelcomeMetadata::decode(metadata)
        .map(|m| m.message_cursor)
        .map_err(|e| MlsError::InvalidWelcome(format!("decoding welcome metadata: {e}")))
}

/// Opens a sealed welcome and its metadata with the recipient's private
/// key under `suite`.
fn open_sealed(
    suite: Hpke<HpkeRustCrypto>,
    private_key: &[u8],
    data: &[u8],
    welcome_metadata: &[u8],
) -> Result<(Vec<u8>, u64), MlsError> {
    let bad = |msg: String| MlsError::InvalidWelcome(msg);
    let ciphertext = HpkeCiphertext::tls_deserialize_exact(data)
        .map_err(|e| bad(format!("decoding HPKE ciphertext: {e}")))?;
    let mut context: Context<HpkeRustCrypto> = suite
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
    Ok((welcome, decode_cursor(&metadata)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mls::installation::tests::installation;
    use crate::mls::verify_key_package;
    use sha2::Digest;

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
        // Our key packages offer X-Wing, so that is what wraps them.
        assert_eq!(Some(sealed.hpke_public_key.as_slice()), kp_a.x_wing_key());
        assert_eq!(
            sealed.wrapper_algorithm,
            WelcomeWrapperAlgorithm::XwingMlkem768Draft6
        );
        let algorithm = sealed.wrapper_algorithm as i32;

        let (welcome, cursor) = a
            .open_welcome(
                &sealed.data,
                &sealed.hpke_public_key,
                algorithm,
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
                algorithm,
                &sealed.welcome_metadata,
            )
            .unwrap_err();
        assert!(matches!(err, MlsError::InvalidWelcome(_)));

        // Even claiming B's own key, B cannot decrypt A's ciphertext.
        let kp_b = verify_key_package(&b.key_package().unwrap()).unwrap();
        let err = b
            .open_welcome(
                &sealed.data,
                kp_b.x_wing_key().unwrap(),
                algorithm,
                &sealed.welcome_metadata,
            )
            .unwrap_err();
        assert!(err.is_remote_fault());
    }

    /// Pins X-Wing wrapping to its definition: a key pair derived from a
    /// fixed `ikm` and a welcome sealed to it once (the vector file). Any
    /// change to the KEM, its codepoint, the KDF, the AEAD or the `info`
    /// makes the vector stop opening.
    #[test]
    fn x_wing_vector_opens() {
        let vector: std::collections::HashMap<&str, &str> =
            include_str!("x_wing_welcome_vector.txt")
                .lines()
                .filter(|line| !line.starts_with('#'))
                .filter_map(|line| line.split_once('='))
                .collect();
        let bytes = |key: &str| hex::decode(vector[key]).unwrap();
        let suite = || hpke_suite(WelcomeWrapperAlgorithm::XwingMlkem768Draft6).unwrap();
        let (private, public) = suite().derive_key_pair(&bytes("ikm")).unwrap().into_keys();
        assert_eq!(public.as_slice().len(), 1216);
        let digest: [u8; 32] = sha2::Sha256::digest(public.as_slice()).into();
        assert_eq!(hex::encode(digest), vector["public_key_sha256"]);

        let (welcome, cursor) = open_sealed(
            suite(),
            private.as_slice(),
            &bytes("data"),
            &bytes("welcome_metadata"),
        )
        .unwrap();
        assert_eq!(welcome, vector["welcome"].as_bytes());
        assert_eq!(cursor.to_string(), vector["message_cursor"]);

        // The registered codepoint (0x647a) labels the key schedule
        // differently, so libxmtp's welcomes would not open under it.
        let registered = Hpke::<HpkeRustCrypto>::new(
            Mode::Base,
            KemAlgorithm::XWingDraft06,
            KdfAlgorithm::HkdfSha256,
            AeadAlgorithm::ChaCha20Poly1305,
        );
        assert!(open_sealed(
            registered,
            private.as_slice(),
            &bytes("data"),
            &bytes("welcome_metadata")
        )
        .is_err());
    }

    #[test]
    fn symmetric_and_unknown_algorithms_are_refused() {
        let a = installation("inbox-a");
        let kp_a = verify_key_package(&a.key_package().unwrap()).unwrap();
        let sealed = seal_welcome(b"w", &kp_a, 1).unwrap();
        for algorithm in [WelcomeWrapperAlgorithm::SymmetricKey as i32, 99] {
            let err = a
                .open_welcome(
                    &sealed.data,
                    &sealed.hpke_public_key,
                    algorithm,
                    &sealed.welcome_metadata,
                )
                .unwrap_err();
            assert!(
                err.to_string().contains("unsupported wrapper algorithm"),
                "{err}"
            );
        }
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
                sealed.wrapper_algorithm as i32,
                &sealed.welcome_metadata
            )
            .is_err());
    }
}
