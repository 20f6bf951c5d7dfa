//! The two kinds of keys an inbox uses, and how each one signs.
//!
//! * [`Wallet`]: a secp256k1 Ethereum account. Its identifier is the
//!   lowercase `0x` address; it signs with EIP-191 `personal_sign`, so any
//!   Ethereum wallet can authorise an identity update.
//! * [`InstallationKey`]: an Ed25519 key generated per client install. Its
//!   public key is the installation id. It signs identity updates with
//!   **Ed25519ph** (RFC 8032 pre-hashed variant, SHA-512) under the context
//!   [`INSTALLATION_SIGNATURE_CONTEXT`]; the context keeps a signature made
//!   for an identity update from being valid anywhere else, and a plain
//!   Ed25519 signature over the same text does not verify.
//!
//! Secrets never appear in `Debug` output.

use std::fmt;

use ed25519_dalek::{
    Signature as Ed25519Signature, SigningKey as Ed25519SigningKey,
    VerifyingKey as Ed25519VerifyingKey,
};
use k256::ecdsa::{
    RecoveryId, Signature as EcdsaSignature, SigningKey as EcdsaSigningKey,
    VerifyingKey as EcdsaVerifyingKey,
};
use rand::rngs::OsRng;
use sha2::{Digest, Sha512};
use sha3::Keccak256;

use super::{ascii_decimal, IdentityError};

/// The Ed25519ph context string of identity-update signatures.
pub const INSTALLATION_SIGNATURE_CONTEXT: &[u8] = b"IDENTITY UPDATE SIGNATURE";

/// EIP-191 version 0x45 prefix; the decimal byte length of the text follows.
const PERSONAL_SIGN_PREFIX: &[u8] = b"\x19Ethereum Signed Message:\n";

/// A secp256k1 Ethereum account key (an EOA wallet).
#[derive(Clone)]
pub struct Wallet {
    key: EcdsaSigningKey,
    // Derived once: it costs a point encoding and a Keccak hash.
    address: String,
}

impl Wallet {
    /// Generates a fresh random wallet from the operating system's RNG.
    pub fn generate() -> Self {
        Self::from_key(EcdsaSigningKey::random(&mut OsRng))
    }

    /// Restores a wallet from its 32-byte secret scalar.
    ///
    /// Fails with [`IdentityError::InvalidKey`] for zero or for a value not
    /// below the curve order.
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Result<Self, IdentityError> {
        let key = EcdsaSigningKey::from_slice(secret).map_err(|_| {
            IdentityError::InvalidKey(
                "a secp256k1 secret must be non-zero and below the curve order".into(),
            )
        })?;
        Ok(Self::from_key(key))
    }

    fn from_key(key: EcdsaSigningKey) -> Self {
        let address = address_of(key.verifying_key());
        Self { key, address }
    }

    /// The account identifier: `0x` + 40 lowercase hex digits.
    pub fn address(&self) -> String {
        self.address.clone()
    }

    /// Signs `text` as EIP-191 `personal_sign` does and returns `r ‖ s ‖ v`
    /// with `v = 27 + recovery id` (s is always low).
    pub fn sign_personal(&self, text: &str) -> [u8; 65] {
        let hash = personal_message_hash(text);
        // Only fails for a prehash shorter than the field or a nonce of zero;
        // our prehash is always 32 bytes and RFC 6979 nonces are never zero.
        let (signature, recovery_id) = self
            .key
            .sign_prehash_recoverable(&hash)
            .expect("secp256k1 signing of a 32-byte prehash");
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&signature.to_bytes());
        // The x-reduced flag is set with probability ~2^-128; Ethereum cannot
        // express it and verifiers reject such a `v`, like any other wallet's.
        out[64] = 27 + recovery_id.to_byte();
        out
    }
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Recovers the address that made an EIP-191 `personal_sign` signature of
/// `text`.
///
/// Accepts `v` ∈ {27, 28, 0, 1}; a high-s signature is first normalised to
/// low-s (flipping the recovery parity), as the network's verifier does.
/// Returns the lowercase `0x` address.
pub fn recover_personal_signer(text: &str, signature: &[u8]) -> Result<String, IdentityError> {
    recover_wallet(&personal_message_hash(text), signature).map(|wallet| wallet.address)
}

/// A wallet signature after recovery.
#[derive(Debug, Clone)]
pub(crate) struct RecoveredWallet {
    /// Lowercase `0x` address of the signer.
    pub address: String,
    /// `r ‖ low s ‖ parity (0/1)`: one key for every accepted encoding of
    /// the same signature, so re-encoding cannot bypass replay protection.
    pub replay_key: Vec<u8>,
}

/// The EIP-191 hash of `text`: keccak256(0x19 ‖ "Ethereum Signed Message:\n"
/// ‖ decimal byte length ‖ text).
pub(crate) fn personal_message_hash(text: &str) -> [u8; 32] {
    let mut digits = [0u8; 20];
    let mut hasher = Keccak256::new();
    hasher.update(PERSONAL_SIGN_PREFIX);
    hasher.update(ascii_decimal(text.len() as u64, &mut digits));
    hasher.update(text.as_bytes());
    hasher.finalize().into()
}

/// Recovers the signer of a 65-byte `r ‖ s ‖ v` signature over `hash`.
pub(crate) fn recover_wallet(
    hash: &[u8; 32],
    signature: &[u8],
) -> Result<RecoveredWallet, IdentityError> {
    let Ok(bytes) = <&[u8; 65]>::try_from(signature) else {
        return Err(IdentityError::BadSignature(format!(
            "a wallet signature is 65 bytes, got {}",
            signature.len()
        )));
    };
    let parity = match bytes[64] {
        0 | 27 => 0,
        1 | 28 => 1,
        v => {
            return Err(IdentityError::BadSignature(format!(
                "wallet signature recovery byte must be 0, 1, 27 or 28, got {v}"
            )))
        }
    };
    let signature = EcdsaSignature::from_slice(&bytes[..64])
        .map_err(|_| IdentityError::BadSignature("wallet signature r or s out of range".into()))?;
    // (r, n - s) is the same signature for the mirrored point R, so flipping
    // s flips the parity of R's y coordinate.
    let (signature, parity) = match signature.normalize_s() {
        Some(low) => (low, parity ^ 1),
        None => (signature, parity),
    };
    let key = EcdsaVerifyingKey::recover_from_prehash(
        hash,
        &signature,
        RecoveryId::new(parity == 1, false),
    )
    .map_err(|_| {
        IdentityError::BadSignature("no public key recovers from the wallet signature".into())
    })?;
    let mut replay_key = Vec::with_capacity(65);
    replay_key.extend_from_slice(&signature.to_bytes());
    replay_key.push(parity);
    Ok(RecoveredWallet {
        address: address_of(&key),
        replay_key,
    })
}

/// Ethereum address: last 20 bytes of keccak256 of the uncompressed public
/// key without its 0x04 tag, as lowercase hex with `0x`.
fn address_of(key: &EcdsaVerifyingKey) -> String {
    let point = key.to_encoded_point(false);
    let hash = Keccak256::digest(&point.as_bytes()[1..]);
    let mut address = String::with_capacity(42);
    address.push_str("0x");
    address.push_str(&hex::encode(&hash[12..]));
    address
}

/// An installation's Ed25519 key; its public key is the installation id.
#[derive(Clone)]
pub struct InstallationKey {
    key: Ed25519SigningKey,
}

impl InstallationKey {
    /// Generates a fresh random installation key from the operating
    /// system's RNG.
    pub fn generate() -> Self {
        Self {
            key: Ed25519SigningKey::generate(&mut OsRng),
        }
    }

    /// Restores an installation key from its 32-byte secret seed. Every
    /// 32-byte seed is a valid Ed25519 secret, so this cannot fail.
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Self {
        Self {
            key: Ed25519SigningKey::from_bytes(secret),
        }
    }

    /// The 32-byte public key: the installation id.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The 32-byte secret seed, for building the MLS signer.
    // Its caller lives in `crate::mls`, developed on another branch.
    #[allow(dead_code)]
    pub(crate) fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Signs an identity-update signature text with Ed25519ph (SHA-512
    /// prehash) under [`INSTALLATION_SIGNATURE_CONTEXT`].
    pub fn sign_identity_update(&self, text: &str) -> [u8; 64] {
        // Only fails for a context longer than 255 bytes; ours is constant.
        self.key
            .sign_prehashed(
                ed25519ph_prehash(text),
                Some(INSTALLATION_SIGNATURE_CONTEXT),
            )
            .expect("the identity-update context is shorter than 256 bytes")
            .to_bytes()
    }
}

impl fmt::Debug for InstallationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstallationKey")
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

/// Verifies an installation's Ed25519ph signature (context
/// [`INSTALLATION_SIGNATURE_CONTEXT`]) of an identity-update text.
///
/// A plain Ed25519 signature of the same text is rejected.
pub fn verify_installation_signature(
    public_key: &[u8],
    text: &str,
    signature: &[u8],
) -> Result<(), IdentityError> {
    verify_installation_prehashed(public_key, ed25519ph_prehash(text), signature)
}

/// The SHA-512 state over `text` that Ed25519ph signs; clone it to verify
/// several signatures of one text without rehashing.
pub(crate) fn ed25519ph_prehash(text: &str) -> Sha512 {
    Sha512::new_with_prefix(text.as_bytes())
}

/// [`verify_installation_signature`] with the text already hashed.
pub(crate) fn verify_installation_prehashed(
    public_key: &[u8],
    prehash: Sha512,
    signature: &[u8],
) -> Result<(), IdentityError> {
    let Ok(public_key) = <&[u8; 32]>::try_from(public_key) else {
        return Err(IdentityError::InvalidKey(format!(
            "an installation public key is 32 bytes, got {}",
            public_key.len()
        )));
    };
    let key = Ed25519VerifyingKey::from_bytes(public_key).map_err(|_| {
        IdentityError::InvalidKey("installation public key is not an Ed25519 point".into())
    })?;
    let Ok(signature) = <&[u8; 64]>::try_from(signature) else {
        return Err(IdentityError::BadSignature(format!(
            "an installation signature is 64 bytes, got {}",
            signature.len()
        )));
    };
    key.verify_prehashed(
        prehash,
        Some(INSTALLATION_SIGNATURE_CONTEXT),
        &Ed25519Signature::from_bytes(signature),
    )
    .map_err(|_| {
        IdentityError::BadSignature(
            "installation signature is not a valid Ed25519ph signature".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer;

    // Hardhat / Anvil default account #0, a widely published test key.
    const HARDHAT_SECRET: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const HARDHAT_ADDRESS: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";

    fn hardhat_wallet() -> Wallet {
        let secret: [u8; 32] = hex::decode(HARDHAT_SECRET).unwrap().try_into().unwrap();
        Wallet::from_secret_bytes(&secret).unwrap()
    }

    #[test]
    fn wallet_address_matches_known_account() {
        assert_eq!(hardhat_wallet().address(), HARDHAT_ADDRESS);
    }

    #[test]
    fn zero_secret_is_rejected() {
        assert!(matches!(
            Wallet::from_secret_bytes(&[0; 32]),
            Err(IdentityError::InvalidKey(_))
        ));
    }

    #[test]
    fn personal_sign_round_trips() {
        let wallet = Wallet::generate();
        let signature = wallet.sign_personal("hello xmtp");
        assert!(signature[64] == 27 || signature[64] == 28);
        assert_eq!(
            recover_personal_signer("hello xmtp", &signature).unwrap(),
            wallet.address()
        );
        // Same signature, other text: some other (or no) address.
        assert_ne!(
            recover_personal_signer("hello xmtq", &signature).ok(),
            Some(wallet.address())
        );
    }

    #[test]
    fn personal_sign_hash_matches_eip191_layout() {
        let mut expected = Keccak256::new();
        expected.update(b"\x19Ethereum Signed Message:\n12hello world!");
        assert_eq!(
            personal_message_hash("hello world!"),
            <[u8; 32]>::from(expected.finalize())
        );
    }

    #[test]
    fn recovery_byte_aliases_and_high_s_recover_the_same_signer() {
        let wallet = hardhat_wallet();
        let text = "alias";
        let signature = wallet.sign_personal(text);
        let hash = personal_message_hash(text);
        let canonical = recover_wallet(&hash, &signature).unwrap();

        let mut zero_one = signature;
        zero_one[64] -= 27;

        let low = EcdsaSignature::from_slice(&signature[..64]).unwrap();
        let (r, s) = low.split_scalars();
        let high = EcdsaSignature::from_scalars(r, -*s).unwrap();
        let mut high_s = [0u8; 65];
        high_s[..64].copy_from_slice(&high.to_bytes());
        high_s[64] = 27 + (1 - (signature[64] - 27));

        for form in [signature, zero_one, high_s] {
            let recovered = recover_wallet(&hash, &form).unwrap();
            assert_eq!(recovered.address, HARDHAT_ADDRESS);
            assert_eq!(recovered.replay_key, canonical.replay_key);
        }

        let mut bad_v = signature;
        bad_v[64] = 29;
        assert!(matches!(
            recover_personal_signer(text, &bad_v),
            Err(IdentityError::BadSignature(_))
        ));
        assert!(recover_personal_signer(text, &signature[..64]).is_err());
    }

    #[test]
    fn installation_signature_round_trips() {
        let key = InstallationKey::generate();
        let signature = key.sign_identity_update("text");
        verify_installation_signature(&key.public_key(), "text", &signature).unwrap();
        assert!(verify_installation_signature(&key.public_key(), "other", &signature).is_err());
        let other = InstallationKey::generate();
        assert!(verify_installation_signature(&other.public_key(), "text", &signature).is_err());
    }

    #[test]
    fn plain_ed25519_signature_is_rejected() {
        let key = InstallationKey::generate();
        let plain = key.key.sign(b"text").to_bytes();
        assert!(matches!(
            verify_installation_signature(&key.public_key(), "text", &plain),
            Err(IdentityError::BadSignature(_))
        ));
    }

    #[test]
    fn installation_key_restores_from_secret() {
        let key = InstallationKey::generate();
        let restored = InstallationKey::from_secret_bytes(&key.secret_bytes());
        assert_eq!(restored.public_key(), key.public_key());
    }

    #[test]
    fn debug_output_has_no_secrets() {
        let wallet = hardhat_wallet();
        let shown = format!("{wallet:?}");
        assert!(shown.contains(HARDHAT_ADDRESS));
        assert!(!shown.contains(HARDHAT_SECRET));

        let key = InstallationKey::from_secret_bytes(&[7; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains(&hex::encode(key.public_key())));
        assert!(!shown.contains(&hex::encode([7u8; 32])));
    }
}
