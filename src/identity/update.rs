//! Building identity updates.
//!
//! A new inbox is one update with two actions:
//!
//! 1. `CreateInbox`: the owner's identifier (a wallet's address or a
//!    passkey's public key) and nonce, signed by the owner;
//! 2. `AddAssociation` of the first installation: the owner, as the
//!    existing member, grants the installation messaging access, and the
//!    installation co-signs to prove it holds its key.
//!
//! Both signers sign the same [`signature_text`], which covers both actions,
//! so the owner signs once and its signature is used for both actions. The
//! network permits this on purpose: signatures are recorded for replay
//! protection only after the whole update has been applied.
//!
//! Later updates change the inbox: [`add_member_update`] links a member
//! (another installation, wallet or passkey) with the consent of an
//! existing one, as libxmtp does when a second app signs in;
//! [`revoke_member_update`] removes one with the recovery identifier's
//! signature.

use crate::proto::associations::{
    identity_action, member_identifier, signature, AddAssociation, CreateInbox, IdentifierKind,
    IdentityAction, IdentityUpdate, MemberIdentifier, RecoverableEcdsaSignature,
    RecoverableEd25519Signature, RevokeAssociation, Signature,
};

use super::{signature_text, IdentityError, IdentitySigner, InstallationKey};

/// Builds and signs the identity update that creates the inbox of `owner`
/// (a [`Wallet`](super::Wallet) or a [`SoftwarePasskey`](super::SoftwarePasskey))
/// with `nonce` and grants `installation` messaging access to it.
pub fn new_inbox_update(
    owner: &(impl IdentitySigner + ?Sized),
    installation: &InstallationKey,
    nonce: u64,
    client_timestamp_ns: u64,
) -> Result<IdentityUpdate, IdentityError> {
    let installation_id = installation.public_key();
    let (identifier, kind, relying_party) = owner_identifier(&owner.member_identifier())?;
    let mut update = unsigned_new_inbox_of(
        &identifier,
        kind,
        relying_party,
        &installation_id,
        nonce,
        client_timestamp_ns,
    )?;
    let text = signature_text(&update)?;
    attach_signatures(
        &mut update,
        owner.sign_text(&text),
        installation.sign_text(&text),
    );
    Ok(update)
}

/// The `CreateInbox` identifier of an owner: a wallet's address, or a
/// passkey's key in lowercase hex (with its relying party).
fn owner_identifier(
    owner: &MemberIdentifier,
) -> Result<(String, IdentifierKind, Option<String>), IdentityError> {
    match &owner.kind {
        Some(member_identifier::Kind::EthereumAddress(address)) => {
            Ok((address.clone(), IdentifierKind::Ethereum, None))
        }
        Some(member_identifier::Kind::Passkey(passkey)) => Ok((
            hex::encode(&passkey.key),
            IdentifierKind::Passkey,
            passkey.relying_party.clone(),
        )),
        Some(member_identifier::Kind::InstallationPublicKey(_)) | None => Err(
            IdentityError::NotAllowed("only a wallet or a passkey can own an inbox".into()),
        ),
    }
}

/// Builds and signs an update that adds `new_member` to the inbox, with
/// `existing` (a member, or the recovery identifier) consenting. Both sign
/// the same text; the network checks that `existing` may add members and
/// that an installation adds no installation.
pub fn add_member_update(
    inbox_id: &str,
    existing: &(impl IdentitySigner + ?Sized),
    new_member: &(impl IdentitySigner + ?Sized),
    client_timestamp_ns: u64,
) -> Result<IdentityUpdate, IdentityError> {
    let mut update = one_action(
        inbox_id,
        client_timestamp_ns,
        identity_action::Kind::Add(AddAssociation {
            new_member_identifier: Some(new_member.member_identifier()),
            ..Default::default()
        }),
    );
    let text = signature_text(&update)?;
    if let Some(identity_action::Kind::Add(add)) = &mut update.actions[0].kind {
        add.existing_member_signature = Some(existing.sign_text(&text));
        add.new_member_signature = Some(new_member.sign_text(&text));
    }
    Ok(update)
}

/// Builds and signs an update that revokes `member` (and, for a wallet or
/// passkey, the installations it added), signed by the recovery identifier.
pub fn revoke_member_update(
    inbox_id: &str,
    recovery: &(impl IdentitySigner + ?Sized),
    member: MemberIdentifier,
    client_timestamp_ns: u64,
) -> Result<IdentityUpdate, IdentityError> {
    let mut update = one_action(
        inbox_id,
        client_timestamp_ns,
        identity_action::Kind::Revoke(RevokeAssociation {
            member_to_revoke: Some(member),
            ..Default::default()
        }),
    );
    let text = signature_text(&update)?;
    if let Some(identity_action::Kind::Revoke(revoke)) = &mut update.actions[0].kind {
        revoke.recovery_identifier_signature = Some(recovery.sign_text(&text));
    }
    Ok(update)
}

/// An unsigned update of `inbox_id` made of one action.
fn one_action(
    inbox_id: &str,
    client_timestamp_ns: u64,
    kind: identity_action::Kind,
) -> IdentityUpdate {
    IdentityUpdate {
        inbox_id: inbox_id.to_owned(),
        client_timestamp_ns,
        actions: vec![IdentityAction { kind: Some(kind) }],
    }
}

/// The new-inbox update of a wallet, with every signature still empty.
#[cfg(test)]
pub(crate) fn unsigned_new_inbox(
    identifier: &str,
    installation_id: &[u8],
    nonce: u64,
    client_timestamp_ns: u64,
) -> Result<IdentityUpdate, IdentityError> {
    unsigned_new_inbox_of(
        identifier,
        IdentifierKind::Ethereum,
        None,
        installation_id,
        nonce,
        client_timestamp_ns,
    )
}

fn unsigned_new_inbox_of(
    identifier: &str,
    kind: IdentifierKind,
    relying_party: Option<String>,
    installation_id: &[u8],
    nonce: u64,
    client_timestamp_ns: u64,
) -> Result<IdentityUpdate, IdentityError> {
    Ok(IdentityUpdate {
        inbox_id: super::inbox_id::of_identifier(identifier, kind, nonce)?,
        client_timestamp_ns,
        actions: vec![
            IdentityAction {
                kind: Some(identity_action::Kind::CreateInbox(CreateInbox {
                    initial_identifier: identifier.to_owned(),
                    nonce,
                    initial_identifier_signature: None,
                    initial_identifier_kind: kind as i32,
                    relying_party,
                })),
            },
            IdentityAction {
                kind: Some(identity_action::Kind::Add(AddAssociation {
                    new_member_identifier: Some(MemberIdentifier {
                        kind: Some(member_identifier::Kind::InstallationPublicKey(
                            installation_id.to_vec(),
                        )),
                    }),
                    existing_member_signature: None,
                    new_member_signature: None,
                    relying_party: None,
                })),
            },
        ],
    })
}

/// Fills the signatures of a new-inbox update made by [`unsigned_new_inbox`]
/// from raw bytes: the one wallet signature for both actions, the
/// installation's for the second.
#[cfg(test)]
pub(crate) fn attach_new_inbox_signatures(
    update: &mut IdentityUpdate,
    wallet_signature: Vec<u8>,
    installation_signature: Vec<u8>,
    installation_public_key: Vec<u8>,
) {
    attach_signatures(
        update,
        erc191(wallet_signature),
        installation_ed25519ph(installation_signature, installation_public_key),
    );
}

/// Fills the signatures of a new-inbox update: the owner's for both
/// actions, the installation's for the second.
fn attach_signatures(update: &mut IdentityUpdate, owner: Signature, installation: Signature) {
    for action in &mut update.actions {
        match &mut action.kind {
            Some(identity_action::Kind::CreateInbox(create)) => {
                create.initial_identifier_signature = Some(owner.clone());
            }
            Some(identity_action::Kind::Add(add)) => {
                add.existing_member_signature = Some(owner.clone());
                add.new_member_signature = Some(installation.clone());
            }
            _ => {}
        }
    }
}

/// Wraps a 65-byte wallet signature as an ERC-191 `Signature`.
pub(crate) fn erc191(bytes: Vec<u8>) -> Signature {
    Signature {
        signature: Some(signature::Signature::Erc191(RecoverableEcdsaSignature {
            bytes,
        })),
    }
}

/// Wraps a 64-byte installation signature and its public key.
pub(crate) fn installation_ed25519ph(bytes: Vec<u8>, public_key: Vec<u8>) -> Signature {
    Signature {
        signature: Some(signature::Signature::InstallationKey(
            RecoverableEd25519Signature { bytes, public_key },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{
        inbox_id, recover_personal_signer, verify_installation_signature, Wallet,
    };

    #[test]
    fn new_inbox_update_has_the_documented_shape() {
        let wallet = Wallet::generate();
        let installation = InstallationKey::generate();
        let update =
            new_inbox_update(&wallet, &installation, 1, 1_700_000_000_000_000_000).unwrap();

        assert_eq!(update.inbox_id, inbox_id(&wallet.address(), 1).unwrap());
        assert_eq!(update.client_timestamp_ns, 1_700_000_000_000_000_000);
        assert_eq!(update.actions.len(), 2);
        let text = signature_text(&update).unwrap();

        let Some(identity_action::Kind::CreateInbox(create)) = &update.actions[0].kind else {
            panic!("first action is not CreateInbox");
        };
        assert_eq!(create.initial_identifier, wallet.address());
        assert_eq!(create.nonce, 1);
        assert_eq!(
            create.initial_identifier_kind,
            IdentifierKind::Ethereum as i32
        );
        let Some(signature::Signature::Erc191(create_sig)) = create
            .initial_identifier_signature
            .as_ref()
            .and_then(|s| s.signature.as_ref())
        else {
            panic!("CreateInbox is not signed with ERC-191");
        };
        assert_eq!(
            recover_personal_signer(&text, &create_sig.bytes).unwrap(),
            wallet.address()
        );

        let Some(identity_action::Kind::Add(add)) = &update.actions[1].kind else {
            panic!("second action is not AddAssociation");
        };
        assert_eq!(
            add.new_member_identifier,
            Some(MemberIdentifier {
                kind: Some(member_identifier::Kind::InstallationPublicKey(
                    installation.public_key().to_vec()
                )),
            })
        );
        assert_eq!(
            add.existing_member_signature,
            create.initial_identifier_signature
        );
        let Some(signature::Signature::InstallationKey(new_sig)) = add
            .new_member_signature
            .as_ref()
            .and_then(|s| s.signature.as_ref())
        else {
            panic!("new member is not signed with the installation key");
        };
        assert_eq!(new_sig.bytes.len(), 64);
        assert_eq!(new_sig.public_key, installation.public_key());
        verify_installation_signature(&new_sig.public_key, &text, &new_sig.bytes).unwrap();
    }
}
