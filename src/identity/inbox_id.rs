//! Inbox ids: the name of an inbox, derived from the wallet that created it.
//!
//! `inbox_id = lowercase_hex(SHA-256(identifier ‖ decimal(nonce)))`, 64 hex
//! characters. The nonce lets one wallet create several inboxes (libxmtp
//! apps usually use 0, xdbg uses 1).
//!
//! # Why identifiers must be lowercase here
//!
//! The network's validator only requires 42 characters, a `0x` prefix and
//! hex digits, so it would hash a checksummed (mixed-case) address too. But
//! the id is a hash of the exact string, and the network later requires the
//! creating signature to recover to that exact string, and recovered
//! addresses are always lowercase. An inbox id computed from a checksummed
//! address therefore names an inbox that no valid update can ever create.
//! We reject such input with [`IdentityError::InvalidAddress`] rather than
//! return an id that can only ever look up nothing.

use sha2::{Digest, Sha256};

use crate::proto::associations::IdentifierKind;

use super::{ascii_decimal, IdentityError};

/// Derives the inbox id of `identifier` (a lowercase `0x` Ethereum address)
/// with `nonce`.
///
/// Fails with [`IdentityError::InvalidAddress`] unless `identifier` is `0x`
/// followed by exactly 40 lowercase hex digits.
pub fn inbox_id(identifier: &str, nonce: u64) -> Result<String, IdentityError> {
    if !is_lowercase_address(identifier) {
        return Err(IdentityError::InvalidAddress(identifier.to_owned()));
    }
    Ok(hash(identifier.as_bytes(), nonce))
}

/// The inbox id of a `CreateInbox` identifier of either kind: an address
/// as [`inbox_id`] hashes it, or a passkey's public key, given in hex, which
/// libxmtp decodes and hashes as lowercase hex (so `AB…` and `ab…` name one
/// inbox).
pub(crate) fn of_identifier(
    identifier: &str,
    kind: IdentifierKind,
    nonce: u64,
) -> Result<String, IdentityError> {
    match kind {
        IdentifierKind::Unspecified | IdentifierKind::Ethereum => inbox_id(identifier, nonce),
        IdentifierKind::Passkey => {
            let key = hex::decode(identifier).map_err(|_| {
                IdentityError::Malformed(format!("passkey identifier {identifier:?} is not hex"))
            })?;
            Ok(hash(hex::encode(key).as_bytes(), nonce))
        }
    }
}

fn hash(identifier: &[u8], nonce: u64) -> String {
    let mut digits = [0u8; 20];
    let mut hasher = Sha256::new();
    hasher.update(identifier);
    hasher.update(ascii_decimal(nonce, &mut digits));
    hex::encode(hasher.finalize())
}

/// Whether `s` is `0x` followed by exactly 40 lowercase hex digits.
pub(crate) fn is_lowercase_address(s: &str) -> bool {
    s.len() == 42
        && s.starts_with("0x")
        && s.bytes()
            .skip(2)
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The four vectors of PROTOCOL.md §4.2.
    #[test]
    fn libxmtp_unit_test_vector() {
        assert_eq!(
            inbox_id("0x1234567890abcdef1234567890abcdef12345678", 0).unwrap(),
            "fcd18d86276d7a99fe522dba9660c420f03c8648785ada7c5daae232a3df77a9"
        );
    }

    #[test]
    fn same_address_nonce_zero_and_one() {
        let address = "0x7e57aed10441c8879ce08e45805ec01ee9689c9f";
        assert_eq!(
            inbox_id(address, 0).unwrap(),
            "47e572c736ceaba25dbef27bd6660c03c9649a82c17bbd71b5cc8208cc3ba686"
        );
        assert_eq!(
            inbox_id(address, 1).unwrap(),
            "95956c5db9ca005ad65bb37c79e82018de623002472cc90ea23865b5199c7877"
        );
    }

    #[test]
    fn vitalik_address_nonce_zero() {
        assert_eq!(
            inbox_id("0xd8da6bf26964af9d7eed9e03e53415d37aa96045", 0).unwrap(),
            "181e981242b7e006e65f784c51197de1e46f024866f2aa86289616eba939b127"
        );
    }

    #[test]
    fn malformed_identifiers_are_rejected() {
        for bad in [
            "",
            "0x",
            "1234567890abcdef1234567890abcdef12345678",
            "0x1234567890abcdef1234567890abcdef1234567",
            "0x1234567890abcdef1234567890abcdef123456789",
            "0x1234567890abcdef1234567890abcdef1234567g",
            "0X1234567890abcdef1234567890abcdef12345678",
            // Checksummed: valid for the network's length check, refused here.
            "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045",
        ] {
            assert!(
                matches!(inbox_id(bad, 0), Err(IdentityError::InvalidAddress(_))),
                "{bad:?} was accepted"
            );
        }
    }
}
