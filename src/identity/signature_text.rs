//! The text every signer of an identity update signs.
//!
//! Signatures do not cover the protobuf bytes. Instead, each signer of an
//! update (wallet or installation) signs one human-readable text that a
//! wallet can show its user, and a verifier rebuilds that text from the
//! received update. It must therefore be reproduced bit for bit:
//!
//! ```text
//! XMTP : Authenticate to inbox
//!
//! Inbox ID: <inbox id>
//! Current time: <client timestamp, RFC 3339 UTC, whole seconds, Z>
//!
//! - <action verb phrase>
//!   (<Label>: <value>)
//! ...one pair of lines per action, in order...
//!
//! For more info: https://xmtp.org/signatures
//! ```
//!
//! Lines are separated by `\n`, with no trailing newline. The text holds no
//! signatures, so it can be computed from an update whose signatures are
//! still empty.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use crate::proto::associations::{
    identity_action, member_identifier, ChangeRecoveryAddress, CreateInbox, IdentifierKind,
    IdentityAction, IdentityUpdate, MemberIdentifier,
};

use super::IdentityError;

const HEADER: &str = "XMTP : Authenticate to inbox";
const FOOTER: &str = "For more info: https://xmtp.org/signatures";

/// Builds the signature text of `update`, exactly as the network's verifier
/// rebuilds it.
///
/// Fails with [`IdentityError::Malformed`] for an action or identifier with
/// no kind, an unknown identifier kind or a non-hex passkey identifier, and
/// with [`IdentityError::Unsupported`] for a timestamp past `i64::MAX` ns
/// (year 2262), which the reference implementation renders with a wrapping
/// cast.
pub fn signature_text(update: &IdentityUpdate) -> Result<String, IdentityError> {
    // Fixed parts are ~140 bytes; an action pair is at most ~110.
    let mut text = String::with_capacity(160 + 112 * update.actions.len() + update.inbox_id.len());
    text.push_str(HEADER);
    text.push_str("\n\nInbox ID: ");
    text.push_str(&update.inbox_id);
    text.push_str("\nCurrent time: ");
    push_timestamp(&mut text, update.client_timestamp_ns)?;
    text.push_str("\n\n");
    for (index, action) in update.actions.iter().enumerate() {
        if index > 0 {
            text.push('\n');
        }
        push_action(&mut text, action)?;
    }
    text.push_str("\n\n");
    text.push_str(FOOTER);
    Ok(text)
}

fn push_timestamp(text: &mut String, client_timestamp_ns: u64) -> Result<(), IdentityError> {
    if client_timestamp_ns > i64::MAX as u64 {
        return Err(IdentityError::Unsupported(
            "client timestamps after 2262-04-11 (beyond i64 nanoseconds)",
        ));
    }
    let time = UNIX_EPOCH + Duration::from_nanos(client_timestamp_ns);
    // Whole seconds (sub-second part truncated), `Z` suffix.
    write!(text, "{}", humantime::format_rfc3339_seconds(time))
        .map_err(|_| IdentityError::Malformed("client timestamp cannot be formatted".into()))
}

fn push_action(text: &mut String, action: &IdentityAction) -> Result<(), IdentityError> {
    use identity_action::Kind;
    match &action.kind {
        Some(Kind::CreateInbox(create)) => push_create_inbox(text, create),
        Some(Kind::Add(add)) => {
            let member = required_member(&add.new_member_identifier, "AddAssociation")?;
            let verb = match member {
                member_identifier::Kind::InstallationPublicKey(_) => {
                    "Grant messaging access to app"
                }
                member_identifier::Kind::EthereumAddress(_) => "Link address to inbox",
                member_identifier::Kind::Passkey(_) => "Link passkey to inbox",
            };
            push_member_line(text, verb, member);
            Ok(())
        }
        Some(Kind::Revoke(revoke)) => {
            let member = required_member(&revoke.member_to_revoke, "RevokeAssociation")?;
            let verb = match member {
                member_identifier::Kind::InstallationPublicKey(_) => {
                    "Revoke messaging access from app"
                }
                member_identifier::Kind::EthereumAddress(_) => "Unlink address from inbox",
                member_identifier::Kind::Passkey(_) => "Unlink passkey from inbox",
            };
            push_member_line(text, verb, member);
            Ok(())
        }
        Some(Kind::ChangeRecoveryAddress(change)) => push_change_recovery(text, change),
        None => Err(IdentityError::Malformed(
            "identity action without a kind".into(),
        )),
    }
}

fn push_create_inbox(text: &mut String, create: &CreateInbox) -> Result<(), IdentityError> {
    text.push_str("- Create inbox\n  (Owner: ");
    push_identifier(
        text,
        &create.initial_identifier,
        create.initial_identifier_kind,
    )?;
    text.push(')');
    Ok(())
}

fn push_change_recovery(
    text: &mut String,
    change: &ChangeRecoveryAddress,
) -> Result<(), IdentityError> {
    // The label is "Address" whatever the kind of the new recovery identifier.
    text.push_str("- Change inbox recovery address\n  (Address: ");
    push_identifier(
        text,
        &change.new_recovery_identifier,
        change.new_recovery_identifier_kind,
    )?;
    text.push(')');
    Ok(())
}

/// Appends a root identifier (`CreateInbox` owner, recovery identifier) as
/// the verifier prints it: an address verbatim, a passkey as lowercase hex
/// of its decoded key.
fn push_identifier(text: &mut String, identifier: &str, kind: i32) -> Result<(), IdentityError> {
    match IdentifierKind::try_from(kind) {
        Ok(IdentifierKind::Unspecified | IdentifierKind::Ethereum) => {
            text.push_str(identifier);
            Ok(())
        }
        Ok(IdentifierKind::Passkey) => {
            let key = hex::decode(identifier).map_err(|_| {
                IdentityError::Malformed(format!("passkey identifier {identifier:?} is not hex"))
            })?;
            push_hex(text, &key);
            Ok(())
        }
        Err(_) => Err(IdentityError::Malformed(format!(
            "unknown identifier kind {kind}"
        ))),
    }
}

fn required_member<'a>(
    member: &'a Option<MemberIdentifier>,
    action: &str,
) -> Result<&'a member_identifier::Kind, IdentityError> {
    member
        .as_ref()
        .and_then(|member| member.kind.as_ref())
        .ok_or_else(|| IdentityError::Malformed(format!("{action} without a member identifier")))
}

fn push_member_line(text: &mut String, verb: &str, member: &member_identifier::Kind) {
    text.push_str("- ");
    text.push_str(verb);
    text.push_str("\n  (");
    match member {
        member_identifier::Kind::InstallationPublicKey(key) => {
            text.push_str("ID: ");
            push_hex(text, key);
        }
        member_identifier::Kind::EthereumAddress(address) => {
            text.push_str("Address: ");
            text.push_str(address);
        }
        member_identifier::Kind::Passkey(passkey) => {
            text.push_str("Passkey: ");
            push_hex(text, &passkey.key);
        }
    }
    text.push(')');
}

/// Appends lowercase hex without an intermediate `String`.
fn push_hex(text: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    text.reserve(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::associations::{AddAssociation, Passkey, RevokeAssociation};

    fn action(kind: identity_action::Kind) -> IdentityAction {
        IdentityAction { kind: Some(kind) }
    }

    fn member(kind: member_identifier::Kind) -> Option<MemberIdentifier> {
        Some(MemberIdentifier { kind: Some(kind) })
    }

    fn add(kind: member_identifier::Kind) -> IdentityAction {
        action(identity_action::Kind::Add(AddAssociation {
            new_member_identifier: member(kind),
            ..Default::default()
        }))
    }

    fn revoke(kind: member_identifier::Kind) -> IdentityAction {
        action(identity_action::Kind::Revoke(RevokeAssociation {
            member_to_revoke: member(kind),
            ..Default::default()
        }))
    }

    #[test]
    fn every_action_kind_matches_hand_written_text() {
        use member_identifier::Kind::{EthereumAddress, InstallationPublicKey};
        let installation: Vec<u8> = (0u8..32).collect();
        let passkey = || {
            member_identifier::Kind::Passkey(Passkey {
                key: vec![0x02, 0xab, 0xcd, 0xef],
                relying_party: Some("example.com".into()),
            })
        };
        let update = IdentityUpdate {
            inbox_id: "47e572c736ceaba25dbef27bd6660c03c9649a82c17bbd71b5cc8208cc3ba686".into(),
            // 1_700_000_000 s plus a fraction that must be truncated.
            client_timestamp_ns: 1_700_000_000_999_999_999,
            actions: vec![
                action(identity_action::Kind::CreateInbox(CreateInbox {
                    initial_identifier: "0x7e57aed10441c8879ce08e45805ec01ee9689c9f".into(),
                    nonce: 0,
                    initial_identifier_kind: IdentifierKind::Ethereum as i32,
                    ..Default::default()
                })),
                add(InstallationPublicKey(installation.clone())),
                add(EthereumAddress(
                    "0xd8da6bf26964af9d7eed9e03e53415d37aa96045".into(),
                )),
                add(passkey()),
                revoke(InstallationPublicKey(installation)),
                revoke(EthereumAddress(
                    "0xd8da6bf26964af9d7eed9e03e53415d37aa96045".into(),
                )),
                revoke(passkey()),
                action(identity_action::Kind::ChangeRecoveryAddress(
                    ChangeRecoveryAddress {
                        new_recovery_identifier: "0x1234567890abcdef1234567890abcdef12345678"
                            .into(),
                        new_recovery_identifier_kind: IdentifierKind::Ethereum as i32,
                        ..Default::default()
                    },
                )),
            ],
        };
        let expected = "XMTP : Authenticate to inbox\n\
\n\
Inbox ID: 47e572c736ceaba25dbef27bd6660c03c9649a82c17bbd71b5cc8208cc3ba686\n\
Current time: 2023-11-14T22:13:20Z\n\
\n\
- Create inbox\n  (Owner: 0x7e57aed10441c8879ce08e45805ec01ee9689c9f)\n\
- Grant messaging access to app\n  (ID: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f)\n\
- Link address to inbox\n  (Address: 0xd8da6bf26964af9d7eed9e03e53415d37aa96045)\n\
- Link passkey to inbox\n  (Passkey: 02abcdef)\n\
- Revoke messaging access from app\n  (ID: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f)\n\
- Unlink address from inbox\n  (Address: 0xd8da6bf26964af9d7eed9e03e53415d37aa96045)\n\
- Unlink passkey from inbox\n  (Passkey: 02abcdef)\n\
- Change inbox recovery address\n  (Address: 0x1234567890abcdef1234567890abcdef12345678)\n\
\n\
For more info: https://xmtp.org/signatures";
        assert_eq!(signature_text(&update).unwrap(), expected);
    }

    #[test]
    fn epoch_and_unspecified_kind() {
        let update = IdentityUpdate {
            inbox_id: "abc".into(),
            client_timestamp_ns: 0,
            actions: vec![action(identity_action::Kind::CreateInbox(CreateInbox {
                initial_identifier: "0x1234567890abcdef1234567890abcdef12345678".into(),
                ..Default::default()
            }))],
        };
        assert_eq!(
            signature_text(&update).unwrap(),
            "XMTP : Authenticate to inbox\n\nInbox ID: abc\nCurrent time: 1970-01-01T00:00:00Z\n\n\
             - Create inbox\n  (Owner: 0x1234567890abcdef1234567890abcdef12345678)\n\n\
             For more info: https://xmtp.org/signatures"
        );
    }

    #[test]
    fn malformed_actions_are_errors() {
        let mut update = IdentityUpdate {
            actions: vec![IdentityAction { kind: None }],
            ..Default::default()
        };
        assert!(matches!(
            signature_text(&update),
            Err(IdentityError::Malformed(_))
        ));
        update.actions = vec![action(
            identity_action::Kind::Add(AddAssociation::default()),
        )];
        assert!(matches!(
            signature_text(&update),
            Err(IdentityError::Malformed(_))
        ));
        update.actions = vec![];
        update.client_timestamp_ns = u64::MAX;
        assert!(matches!(
            signature_text(&update),
            Err(IdentityError::Unsupported(_))
        ));
    }
}
