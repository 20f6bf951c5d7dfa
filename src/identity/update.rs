//! Building the identity update that creates a new inbox.
//!
//! A new inbox is one update with two actions:
//!
//! 1. `CreateInbox`: the wallet's address and nonce, signed by the wallet
//!    (ERC-191);
//! 2. `AddAssociation` of the first installation: the wallet, as the
//!    existing member, grants the installation messaging access, and the
//!    installation co-signs to prove it holds its key.
//!
//! Both signers sign the same [`signature_text`], which covers both actions,
//! so the wallet signs once and its signature is used for both actions. The
//! network permits this on purpose: signatures are recorded for replay
//! protection only after the whole update has been applied.

use crate::proto::associations::{
    identity_action, member_identifier, signature, AddAssociation, CreateInbox, IdentifierKind,
    IdentityAction, IdentityUpdate, MemberIdentifier, RecoverableEcdsaSignature,
    RecoverableEd25519Signature, Signature,
};

use super::{inbox_id, signature_text, IdentityError, InstallationKey, Wallet};

/// Builds and signs the identity update that creates the inbox of `wallet`
/// with `nonce` and grants `installation` messaging access to it.
pub fn new_inbox_update(
    wallet: &Wallet,
    installation: &InstallationKey,
    nonce: u64,
    client_timestamp_ns: u64,
) -> Result<IdentityUpdate, IdentityError> {
    let installation_id = installation.public_key();
    let mut update = unsigned_new_inbox(
        &wallet.address(),
        &installation_id,
        nonce,
        client_timestamp_ns,
    )?;
    let text = signature_text(&update)?;
    attach_new_inbox_signatures(
        &mut update,
        wallet.sign_personal(&text).to_vec(),
        installation.sign_identity_update(&text).to_vec(),
        installation_id.to_vec(),
    );
    Ok(update)
}

/// The new-inbox update with every signature still empty.
pub(crate) fn unsigned_new_inbox(
    identifier: &str,
    installation_id: &[u8],
    nonce: u64,
    client_timestamp_ns: u64,
) -> Result<IdentityUpdate, IdentityError> {
    Ok(IdentityUpdate {
        inbox_id: inbox_id(identifier, nonce)?,
        client_timestamp_ns,
        actions: vec![
            IdentityAction {
                kind: Some(identity_action::Kind::CreateInbox(CreateInbox {
                    initial_identifier: identifier.to_owned(),
                    nonce,
                    initial_identifier_signature: None,
                    initial_identifier_kind: IdentifierKind::Ethereum as i32,
                    relying_party: None,
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

/// Fills the signatures of an update made by [`unsigned_new_inbox`]: the one
/// wallet signature for both actions, the installation's for the second.
pub(crate) fn attach_new_inbox_signatures(
    update: &mut IdentityUpdate,
    wallet_signature: Vec<u8>,
    installation_signature: Vec<u8>,
    installation_public_key: Vec<u8>,
) {
    let wallet = erc191(wallet_signature);
    for action in &mut update.actions {
        match &mut action.kind {
            Some(identity_action::Kind::CreateInbox(create)) => {
                create.initial_identifier_signature = Some(wallet.clone());
            }
            Some(identity_action::Kind::Add(add)) => {
                add.existing_member_signature = Some(wallet.clone());
                add.new_member_signature = Some(installation_ed25519ph(
                    installation_signature.clone(),
                    installation_public_key.clone(),
                ));
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
    use crate::identity::{recover_personal_signer, verify_installation_signature};

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
