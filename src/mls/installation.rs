//! One XMTP installation seen as an MLS client.
//!
//! An installation owns an Ed25519 key pair. The same key signs identity
//! updates (outside MLS) and, here, every MLS object the installation
//! authors: key packages, leaf nodes, commits. Its MLS credential is a
//! `BasicCredential` holding the protobuf `MlsCredential { inbox_id }`, so
//! peers learn the inbox from the leaf and check it against identity logs.
//!
//! openmls needs a *provider* (crypto, randomness and storage). Each
//! installation has its own in-memory provider: groups it joins and the
//! private keys of its key packages live there, so an installation can only
//! open welcomes addressed to key packages it generated itself.

use std::collections::HashMap;
use std::sync::Mutex;

use ed25519_dalek::SigningKey;
use openmls::prelude::tls_codec::Serialize as TlsSerialize;
use openmls::prelude::{
    ApplicationIdExtension, BasicCredential, CredentialWithKey, Extension, Extensions, KeyPackage,
    LastResortExtension, SignatureScheme,
};
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;
use openmls_traits::types::HpkePrivateKey;
use prost::Message;

use super::extensions::{
    leaf_capabilities, welcome_pointee_aead_extension, welcome_wrapper_extension,
};
use super::welcome::x_wing_key_pair;
use super::{MlsError, CIPHERSUITE};
use crate::proto::xmtp::identity::MlsCredential;

/// An installation's MLS state: provider (crypto + in-memory storage),
/// signer, credential, and the private init keys of the key packages it has
/// published (needed to open the outer welcome wrapper).
pub struct MlsInstallation {
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
    inbox_id: String,
    installation_key: [u8; 32],
    /// Public → private key of every welcome-wrapping key of the key
    /// packages made: the X25519 init key and the X-Wing key (their public
    /// keys differ in length, so they never collide).
    init_keys: Mutex<HashMap<Vec<u8>, HpkePrivateKey>>,
}

impl std::fmt::Debug for MlsInstallation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlsInstallation")
            .field("inbox_id", &self.inbox_id)
            .field("installation_key", &hex::encode(self.installation_key))
            .finish_non_exhaustive()
    }
}

impl MlsInstallation {
    /// Creates the MLS side of an installation from its raw 32-byte Ed25519
    /// secret key (ed25519-dalek `SigningKey::to_bytes()`).
    pub fn new(inbox_id: &str, installation_secret: [u8; 32]) -> Result<Self, MlsError> {
        let signing_key = SigningKey::from_bytes(&installation_secret);
        let installation_key = signing_key.verifying_key().to_bytes();
        // openmls_basic_credential signs Ed25519 with a private key stored as
        // the 32-byte secret, exactly what dalek's `to_bytes` returns.
        let signer = SignatureKeyPair::from_raw(
            SignatureScheme::ED25519,
            installation_secret.to_vec(),
            installation_key.to_vec(),
        );
        let identity = MlsCredential {
            inbox_id: inbox_id.to_owned(),
        }
        .encode_to_vec();
        let credential = CredentialWithKey {
            credential: BasicCredential::new(identity).into(),
            signature_key: installation_key.to_vec().into(),
        };
        Ok(Self {
            provider: OpenMlsRustCrypto::default(),
            signer,
            credential,
            inbox_id: inbox_id.to_owned(),
            installation_key,
            init_keys: Mutex::new(HashMap::new()),
        })
    }

    /// The installation's Ed25519 public key (= its MLS signature key).
    pub fn installation_key(&self) -> [u8; 32] {
        self.installation_key
    }

    /// The inbox this installation belongs to.
    pub fn inbox_id(&self) -> &str {
        &self.inbox_id
    }

    /// Generates a fresh last-resort key package and returns it
    /// TLS-serialized (the bytes uploaded as `key_package_tls_serialized`).
    ///
    /// Its private keys stay in this installation, so welcomes sealed to any
    /// key package it ever produced can be opened.
    pub fn key_package(&self) -> Result<Vec<u8>, MlsError> {
        let leaf_extensions = Extensions::single(Extension::ApplicationId(
            ApplicationIdExtension::new(self.inbox_id.as_bytes()),
        ))
        .map_err(|e| MlsError::Openmls(format!("leaf extensions: {e}")))?;
        // 0xff03 makes libxmtp wrap our welcomes with X-Wing; 0xff04 lets
        // it send us welcome pointers.
        let (x_wing_private, x_wing_public) = x_wing_key_pair()?;
        let kp_extensions = Extensions::from_vec(vec![
            Extension::LastResort(LastResortExtension::default()),
            welcome_wrapper_extension(&x_wing_public),
            welcome_pointee_aead_extension(),
        ])
        .map_err(|e| MlsError::Openmls(format!("key package extensions: {e}")))?;

        let bundle = KeyPackage::builder()
            .leaf_node_capabilities(leaf_capabilities())
            .leaf_node_extensions(leaf_extensions)
            .key_package_extensions(kp_extensions)
            .build(
                CIPHERSUITE,
                &self.provider,
                &self.signer,
                self.credential.clone(),
            )
            .map_err(|e| MlsError::Openmls(format!("building key package: {e}")))?;

        let bytes = bundle
            .key_package()
            .tls_serialize_detached()
            .map_err(|e| MlsError::Openmls(format!("serializing key package: {e}")))?;
        let mut keys = self.lock_init_keys();
        keys.insert(
            bundle.key_package().hpke_init_key().as_slice().to_vec(),
            bundle.init_private_key().clone(),
        );
        keys.insert(x_wing_public, x_wing_private.into());
        Ok(bytes)
    }

    /// The private key for `init_public_key` (an X25519 init key or an
    /// X-Wing wrapper key), if one of our key packages has it.
    pub(crate) fn init_private_key(&self, init_public_key: &[u8]) -> Option<HpkePrivateKey> {
        self.lock_init_keys().get(init_public_key).cloned()
    }

    pub(crate) fn provider(&self) -> &OpenMlsRustCrypto {
        &self.provider
    }

    pub(crate) fn signer(&self) -> &SignatureKeyPair {
        &self.signer
    }

    pub(crate) fn credential(&self) -> &CredentialWithKey {
        &self.credential
    }

    fn lock_init_keys(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, HpkePrivateKey>> {
        // The map is only ever inserted into, so a panic elsewhere cannot
        // leave it half-updated; recover from poisoning.
        self.init_keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An installation with a fresh random key, for tests.
    pub(crate) fn installation(inbox_id: &str) -> MlsInstallation {
        let secret = SigningKey::generate(&mut rand::rngs::OsRng).to_bytes();
        MlsInstallation::new(inbox_id, secret).unwrap()
    }

    #[test]
    fn is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MlsInstallation>();
    }

    #[test]
    fn installation_key_is_dalek_public_key() {
        let secret = SigningKey::generate(&mut rand::rngs::OsRng);
        let inst = MlsInstallation::new("inbox", secret.to_bytes()).unwrap();
        assert_eq!(inst.installation_key(), secret.verifying_key().to_bytes());
        assert_eq!(inst.inbox_id(), "inbox");
    }

    #[test]
    fn mls_signatures_verify_under_dalek_key() {
        use ed25519_dalek::Verifier;
        use openmls_traits::signatures::Signer;
        let secret = SigningKey::generate(&mut rand::rngs::OsRng);
        let inst = MlsInstallation::new("inbox", secret.to_bytes()).unwrap();
        let sig = inst.signer().sign(b"payload").unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        secret.verifying_key().verify(b"payload", &sig).unwrap();
    }
}
