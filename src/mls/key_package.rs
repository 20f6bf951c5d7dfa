//! Verifying key packages received from the network.
//!
//! A key package is an installation's signed offer to be added to groups:
//! its leaf node (signature key, credential, capabilities), an HPKE init key
//! the welcome is encrypted to, and a lifetime. The checks come in two
//! layers:
//!
//! * [`validate_key_package`] is what the network checks on upload (xmtpd
//!   hands key packages to libxmtp's validation service,
//!   `validate_inbox_id_key_package`): an exact MLS 1.0 parse, the leaf and
//!   key-package signatures, the lifetime, and a `BasicCredential` holding
//!   an `MlsCredential`. Nothing about the ciphersuite or the leaf's
//!   extensions.
//! * [`verify_key_package`] is what a client checks before adding one: the
//!   above plus the XMTP conventions ([`NetworkKeyPackage::check_conventions`]:
//!   ciphersuite 0x0003, a non-empty inbox id, an `application_id` matching
//!   it if present), and it reads the extensions that decide how the
//!   welcome is sent.
//!
//! The embedded node runs the first on upload, and the conventions too
//! when it is strict.

use std::sync::LazyLock;

use openmls::prelude::tls_codec::Deserialize as TlsDeserialize;
use openmls::prelude::{CredentialType, KeyPackage, KeyPackageIn, ProtocolVersion};
use openmls_rust_crypto::RustCrypto;
use prost::Message;

use super::extensions::{WELCOME_POINTEE_AEAD_TYPES, WELCOME_WRAPPER_ENCRYPTION};
use super::{MlsError, CIPHERSUITE};
use crate::proto::xmtp::identity::MlsCredential;
use crate::proto::xmtp::mls::message_contents::{
    WelcomePointeeEncryptionAeadType, WelcomePointeeEncryptionAeadTypesExtension,
    WelcomeWrapperAlgorithm, WelcomeWrapperEncryption,
};

/// Signature verification needs no randomness or storage, so one crypto
/// provider serves all callers (creating one per call reseeds an RNG).
static VERIFY_CRYPTO: LazyLock<RustCrypto> = LazyLock::new(RustCrypto::default);

/// A key package that passed [`verify_key_package`].
#[derive(Debug, Clone)]
pub struct VerifiedKeyPackage {
    key_package: KeyPackage,
    installation_key: [u8; 32],
    inbox_id: String,
    /// The X-Wing key of extension 0xff03, when the key package has one.
    x_wing_key: Option<Vec<u8>>,
    /// Extension 0xff04 lists ChaCha20-Poly1305: the installation reads
    /// welcome pointers.
    reads_pointers: bool,
}

impl VerifiedKeyPackage {
    /// The leaf's signature key, i.e. the installation's Ed25519 public key.
    pub fn installation_key(&self) -> [u8; 32] {
        self.installation_key
    }

    /// The inbox id from the key package's `MlsCredential`.
    pub fn inbox_id(&self) -> &str {
        &self.inbox_id
    }

    /// The X25519 HPKE init key (welcomes are sealed to it).
    pub fn hpke_init_key(&self) -> &[u8] {
        self.key_package.hpke_init_key().as_slice()
    }

    /// The X-Wing public key (extension 0xff03) welcomes to this key
    /// package are wrapped with instead of the init key, if it has one.
    pub fn x_wing_key(&self) -> Option<&[u8]> {
        self.x_wing_key.as_deref()
    }

    /// Whether the installation accepts welcome pointers with
    /// ChaCha20-Poly1305 pointees (extension 0xff04).
    pub fn reads_pointers(&self) -> bool {
        self.reads_pointers
    }

    /// The verified openmls key package.
    pub fn key_package(&self) -> &KeyPackage {
        &self.key_package
    }
}

/// A key package the network would store: it passed
/// [`validate_key_package`], not necessarily the XMTP conventions.
#[derive(Debug, Clone)]
pub struct NetworkKeyPackage {
    key_package: KeyPackage,
    inbox_id: String,
}

impl NetworkKeyPackage {
    /// The leaf's signature key (the installation id, for an XMTP
    /// ciphersuite's 32-byte Ed25519 key).
    pub fn signature_key(&self) -> &[u8] {
        self.key_package.leaf_node().signature_key().as_slice()
    }

    /// The inbox id from the key package's `MlsCredential`.
    pub fn inbox_id(&self) -> &str {
        &self.inbox_id
    }

    /// What a client requires beyond the network's checks: ciphersuite
    /// 0x0003, a non-empty inbox id, and an `application_id` leaf extension
    /// naming that inbox if there is one.
    pub fn check_conventions(&self) -> Result<(), MlsError> {
        let bad = |msg: String| MlsError::InvalidKeyPackage(msg);
        if self.key_package.ciphersuite() != CIPHERSUITE {
            return Err(bad(format!(
                "ciphersuite {:?}, expected {:?}",
                self.key_package.ciphersuite(),
                CIPHERSUITE
            )));
        }
        if self.inbox_id.is_empty() {
            return Err(bad("credential has an empty inbox id".into()));
        }
        if let Some(app_id) = self.key_package.leaf_node().extensions().application_id() {
            if app_id.as_slice() != self.inbox_id.as_bytes() {
                return Err(bad(
                    "application_id does not match the credential's inbox id".into(),
                ));
            }
        }
        Ok(())
    }
}

/// What the network checks of an uploaded key package: exact parse (no
/// trailing bytes), protocol version MLS 1.0, leaf and key-package
/// signatures, lifetime, and a basic credential carrying an
/// `MlsCredential`.
pub fn validate_key_package(tls_bytes: &[u8]) -> Result<NetworkKeyPackage, MlsError> {
    let bad = |msg: String| MlsError::InvalidKeyPackage(msg);
    let unverified = KeyPackageIn::tls_deserialize_exact(tls_bytes)
        .map_err(|e| bad(format!("decoding: {e}")))?;
    let key_package = unverified
        .validate(&*VERIFY_CRYPTO, ProtocolVersion::Mls10)
        .map_err(|e| bad(format!("validation: {e}")))?;
    let credential = key_package.leaf_node().credential();
    if credential.credential_type() != CredentialType::Basic {
        return Err(bad(format!(
            "credential type {:?}, expected basic",
            credential.credential_type()
        )));
    }
    let inbox_id = MlsCredential::decode(credential.serialized_content())
        .map_err(|e| bad(format!("credential is not an MlsCredential: {e}")))?
        .inbox_id;
    Ok(NetworkKeyPackage {
        key_package,
        inbox_id,
    })
}

/// Parses and verifies a TLS-serialized key package as a client does
/// before adding it: [`validate_key_package`], then
/// [`NetworkKeyPackage::check_conventions`].
pub fn verify_key_package(tls_bytes: &[u8]) -> Result<VerifiedKeyPackage, MlsError> {
    let network = validate_key_package(tls_bytes)?;
    network.check_conventions()?;
    let NetworkKeyPackage {
        key_package,
        inbox_id,
    } = network;
    let installation_key: [u8; 32] = key_package
        .leaf_node()
        .signature_key()
        .as_slice()
        .try_into()
        .map_err(|_| MlsError::InvalidKeyPackage("signature key is not 32 bytes".into()))?;

    // As libxmtp: a 0xff03 naming X-Wing selects X-Wing wrapping; any
    // other content leaves the Curve25519 init key in charge.
    let x_wing_key = key_package
        .extensions()
        .unknown(WELCOME_WRAPPER_ENCRYPTION)
        .and_then(|ext| WelcomeWrapperEncryption::decode(ext.0.as_slice()).ok())
        .filter(|wrapper| {
            wrapper.algorithm == WelcomeWrapperAlgorithm::XwingMlkem768Draft6 as i32
                && !wrapper.pub_key.is_empty()
        })
        .map(|wrapper| wrapper.pub_key);

    let reads_pointers = key_package
        .extensions()
        .unknown(WELCOME_POINTEE_AEAD_TYPES)
        .and_then(|ext| WelcomePointeeEncryptionAeadTypesExtension::decode(ext.0.as_slice()).ok())
        .is_some_and(|ext| {
            ext.supported_aead_types
                .contains(&(WelcomePointeeEncryptionAeadType::Chacha20Poly1305 as i32))
        });

    Ok(VerifiedKeyPackage {
        key_package,
        installation_key,
        inbox_id,
        x_wing_key,
        reads_pointers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mls::extensions;
    use crate::mls::installation::tests::installation;
    use openmls::prelude::ExtensionType;

    #[test]
    fn own_key_package_verifies_with_xmtp_layout() {
        let inst = installation("inbox-a");
        let bytes = inst.key_package().unwrap();
        let kp = verify_key_package(&bytes).unwrap();

        assert_eq!(kp.installation_key(), inst.installation_key());
        assert_eq!(kp.inbox_id(), "inbox-a");
        assert_eq!(kp.hpke_init_key().len(), 32);
        assert_ne!(kp.hpke_init_key(), &kp.installation_key()[..]);

        let key_package = kp.key_package();
        assert_eq!(key_package.ciphersuite(), CIPHERSUITE);
        assert!(key_package.last_resort());
        let leaf = key_package.leaf_node();
        assert_eq!(
            leaf.extensions().application_id().unwrap().as_slice(),
            b"inbox-a"
        );
        assert_eq!(leaf.capabilities(), &extensions::leaf_capabilities());
        let caps = leaf.capabilities().extensions();
        assert!(caps.contains(&ExtensionType::Unknown(0xff01)));
        // X-Wing wrapping and welcome pointers are both offered.
        assert!(caps.contains(&ExtensionType::Unknown(WELCOME_WRAPPER_ENCRYPTION)));
        assert!(caps.contains(&ExtensionType::Unknown(WELCOME_POINTEE_AEAD_TYPES)));
        assert_eq!(kp.x_wing_key().map(<[u8]>::len), Some(1216));
        assert!(kp.reads_pointers());
    }

    #[test]
    fn every_flipped_byte_region_is_rejected() {
        let bytes = installation("inbox-b").key_package().unwrap();
        // Flip one byte at several positions spread over the encoding
        // (header, keys, credential, extensions, signature).
        for pos in (0..bytes.len()).step_by(bytes.len() / 17 + 1) {
            let mut tampered = bytes.clone();
            tampered[pos] ^= 0x01;
            let err = verify_key_package(&tampered).unwrap_err();
            assert!(err.is_remote_fault(), "position {pos}: {err}");
        }
        let mut last = bytes.clone();
        *last.last_mut().unwrap() ^= 0x80;
        assert!(verify_key_package(&last).is_err());
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = installation("inbox-c").key_package().unwrap();
        bytes.push(0);
        assert!(matches!(
            verify_key_package(&bytes),
            Err(MlsError::InvalidKeyPackage(_))
        ));
    }
}
