//! Welcome pointers: one welcome for many installations.
//!
//! A commit that adds many installations produces one MLS Welcome, but the
//! outer HPKE wrapper (see `welcome.rs`) is per recipient, so the network
//! would store the whole welcome once per installation. With pointers the
//! sender instead publishes the welcome once, sealed with a fresh
//! ChaCha20-Poly1305 key, to a random 32-byte destination (the *pointee*:
//! a V1 welcome with no HPKE key and `wrapper_algorithm = SYMMETRIC_KEY`),
//! and sends each installation a small HPKE-sealed `WelcomePointer` naming
//! the destination, the key and the two nonces (one for the welcome, one
//! for its metadata). The destination is random so the pointee links to
//! neither the group nor its recipients.
//!
//! libxmtp uses pointers when more than [`POINTER_THRESHOLD`] of the added
//! installations announce, in key-package extension 0xff04, that they
//! accept ChaCha20-Poly1305 pointees; those installations get a pointer,
//! the others a V1 welcome. Pointers are sealed like welcomes (same HPKE
//! `info`, the installation's wrapper key).

use openmls::prelude::AeadType;
use openmls_rust_crypto::RustCrypto;
use openmls_traits::crypto::OpenMlsCrypto;
use prost::Message;
use rand::RngCore;

use super::welcome::{decode_cursor, hpke_seal, wrapper_key};
use super::{MlsError, MlsInstallation, VerifiedKeyPackage};
use crate::proto::xmtp::mls::api::v1::WelcomeMetadata;
use crate::proto::xmtp::mls::message_contents::{
    welcome_pointer, WelcomePointeeEncryptionAeadType, WelcomePointer, WelcomeWrapperAlgorithm,
};

/// Pointers are used when strictly more pointer-capable installations than
/// this are added (libxmtp's `INSTALLATION_THRESHOLD_FOR_WELCOME_POINTER_SENDING`).
pub const POINTER_THRESHOLD: usize = 2;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// The welcome published once, to its destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointee {
    /// Random identifier of the welcome topic it is published to.
    pub destination: [u8; 32],
    /// The welcome, sealed with the pointer's key and data nonce.
    pub data: Vec<u8>,
    /// `WelcomeMetadata`, sealed with the key and the metadata nonce.
    pub welcome_metadata: Vec<u8>,
}

/// A pointer sealed for one installation (`WelcomeMessageInput.WelcomePointer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedPointer {
    /// TLS `HpkeCiphertext` of the encoded `WelcomePointer`.
    pub welcome_pointer: Vec<u8>,
    /// The recipient's wrapper key it was sealed to.
    pub hpke_public_key: Vec<u8>,
    /// The pointer wrapper algorithm (X-Wing; numbered as in
    /// `WelcomeWrapperAlgorithm`).
    pub wrapper_algorithm: i32,
}

/// A pointee and the plaintext pointer every recipient gets a copy of.
#[derive(Debug)]
pub struct PointerBundle {
    /// What to publish at the destination.
    pub pointee: Pointee,
    pointer: Vec<u8>,
}

fn aead() -> RustCrypto {
    RustCrypto::default()
}

/// Whether welcomes to `kp` may be sent as pointers: it accepts
/// ChaCha20-Poly1305 pointees and has an X-Wing key (pointers are only
/// ever wrapped post-quantum).
pub fn accepts_pointers(kp: &VerifiedKeyPackage) -> bool {
    kp.reads_pointers() && kp.x_wing_key().is_some()
}

/// Seals `welcome` and its cursor for a fresh random destination.
pub fn seal_pointee(welcome: &[u8], message_cursor: u64) -> Result<PointerBundle, MlsError> {
    let mut rng = rand::rngs::OsRng;
    let mut destination = [0u8; 32];
    let mut key = [0u8; KEY_LEN];
    let mut data_nonce = [0u8; NONCE_LEN];
    let mut metadata_nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut destination);
    rng.fill_bytes(&mut key);
    rng.fill_bytes(&mut data_nonce);
    // One key, so the two nonces must differ.
    while metadata_nonce == [0u8; NONCE_LEN] || metadata_nonce == data_nonce {
        rng.fill_bytes(&mut metadata_nonce);
    }
    let seal = |plain: &[u8], nonce: &[u8]| {
        aead()
            .aead_encrypt(AeadType::ChaCha20Poly1305, &key, plain, nonce, &[])
            .map_err(|e| MlsError::Crypto(format!("sealing pointee: {e:?}")))
    };
    let metadata = WelcomeMetadata { message_cursor }.encode_to_vec();
    let pointee = Pointee {
        destination,
        data: seal(welcome, &data_nonce)?,
        welcome_metadata: seal(&metadata, &metadata_nonce)?,
    };
    let pointer = WelcomePointer {
        version: Some(welcome_pointer::Version::WelcomeV1Pointer(
            welcome_pointer::WelcomeV1Pointer {
                destination: destination.to_vec(),
                aead_type: WelcomePointeeEncryptionAeadType::Chacha20Poly1305 as i32,
                encryption_key: key.to_vec(),
                data_nonce: data_nonce.to_vec(),
                welcome_metadata_nonce: metadata_nonce.to_vec(),
            },
        )),
    }
    .encode_to_vec();
    Ok(PointerBundle { pointee, pointer })
}

impl PointerBundle {
    /// Seals the pointer for one recipient (see [`accepts_pointers`]).
    pub fn seal_for(&self, recipient: &VerifiedKeyPackage) -> Result<SealedPointer, MlsError> {
        let (algorithm, key) = wrapper_key(recipient);
        if algorithm != WelcomeWrapperAlgorithm::XwingMlkem768Draft6 {
            return Err(MlsError::State(
                "welcome pointers are only sealed with X-Wing".into(),
            ));
        }
        let (welcome_pointer, _) = hpke_seal(algorithm, key, &self.pointer, &[])?;
        Ok(SealedPointer {
            welcome_pointer,
            hpke_public_key: key.to_vec(),
            wrapper_algorithm: algorithm as i32,
        })
    }
}

/// An opened pointer: where the pointee is and how to open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPointer {
    /// Identifier of the pointee's welcome topic.
    pub destination: [u8; 32],
    key: Vec<u8>,
    data_nonce: Vec<u8>,
    metadata_nonce: Vec<u8>,
}

impl MlsInstallation {
    /// Opens a pointer sealed to one of this installation's key packages.
    pub fn open_pointer(
        &self,
        welcome_pointer: &[u8],
        hpke_public_key: &[u8],
        wrapper_algorithm: i32,
    ) -> Result<OpenedPointer, MlsError> {
        let bad = |msg: &str| MlsError::InvalidWelcome(format!("welcome pointer: {msg}"));
        if wrapper_algorithm != WelcomeWrapperAlgorithm::XwingMlkem768Draft6 as i32 {
            return Err(bad("not wrapped with X-Wing"));
        }
        let (bytes, _) =
            self.open_welcome(welcome_pointer, hpke_public_key, wrapper_algorithm, &[])?;
        let decoded = WelcomePointer::decode(bytes.as_slice()).map_err(|_| bad("not decodable"))?;
        let Some(welcome_pointer::Version::WelcomeV1Pointer(v1)) = decoded.version else {
            return Err(bad("unknown version"));
        };
        if v1.aead_type != WelcomePointeeEncryptionAeadType::Chacha20Poly1305 as i32 {
            return Err(bad("unsupported AEAD"));
        }
        if v1.encryption_key.len() != KEY_LEN
            || v1.data_nonce.len() != NONCE_LEN
            || v1.welcome_metadata_nonce.len() != NONCE_LEN
        {
            return Err(bad("key or nonce of the wrong size"));
        }
        Ok(OpenedPointer {
            destination: v1
                .destination
                .as_slice()
                .try_into()
                .map_err(|_| bad("destination is not 32 bytes"))?,
            key: v1.encryption_key,
            data_nonce: v1.data_nonce,
            metadata_nonce: v1.welcome_metadata_nonce,
        })
    }
}

impl OpenedPointer {
    /// Opens the pointee's `data` and `welcome_metadata`: the MLS welcome
    /// and the message cursor.
    pub fn open_pointee(
        &self,
        data: &[u8],
        welcome_metadata: &[u8],
    ) -> Result<(Vec<u8>, u64), MlsError> {
        let open = |sealed: &[u8], nonce: &[u8]| {
            aead()
                .aead_decrypt(AeadType::ChaCha20Poly1305, &self.key, sealed, nonce, &[])
                .map_err(|_| MlsError::InvalidWelcome("pointee does not open".into()))
        };
        let welcome = open(data, &self.data_nonce)?;
        let metadata = if welcome_metadata.is_empty() {
            Vec::new()
        } else {
            open(welcome_metadata, &self.metadata_nonce)?
        };
        Ok((welcome, decode_cursor(&metadata)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mls::installation::tests::installation;
    use crate::mls::verify_key_package;

    #[test]
    fn pointer_and_pointee_roundtrip_and_stay_private() {
        let a = installation("inbox-a");
        let b = installation("inbox-b");
        let kp_a = verify_key_package(&a.key_package().unwrap()).unwrap();
        assert!(accepts_pointers(&kp_a));

        let bundle = seal_pointee(b"an mls welcome", 9).unwrap();
        assert!(!bundle
            .pointee
            .data
            .windows(14)
            .any(|w| w == b"an mls welcome"));
        let sealed = bundle.seal_for(&kp_a).unwrap();
        let opened = a
            .open_pointer(
                &sealed.welcome_pointer,
                &sealed.hpke_public_key,
                sealed.wrapper_algorithm,
            )
            .unwrap();
        assert_eq!(opened.destination, bundle.pointee.destination);
        let (welcome, cursor) = opened
            .open_pointee(&bundle.pointee.data, &bundle.pointee.welcome_metadata)
            .unwrap();
        assert_eq!((welcome.as_slice(), cursor), (&b"an mls welcome"[..], 9));

        // Another installation holds no key for the pointer.
        assert!(b
            .open_pointer(
                &sealed.welcome_pointer,
                &sealed.hpke_public_key,
                sealed.wrapper_algorithm
            )
            .is_err());
        // A tampered pointee does not open.
        let mut data = bundle.pointee.data.clone();
        data[0] ^= 1;
        assert!(opened
            .open_pointee(&data, &bundle.pointee.welcome_metadata)
            .is_err());
    }
}
