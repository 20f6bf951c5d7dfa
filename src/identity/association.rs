//! The association rules: which identity updates are valid, and what an
//! inbox looks like after them.
//!
//! An inbox's state is the fold of its update log: start from nothing, apply
//! each update in order. An update is all-or-nothing: either every action
//! applies, or the update is invalid and the network's indexer drops it
//! (after the publish call has already returned success). The rules below
//! restate the network's (libxmtp `association_log.rs`, run by the xmtpd
//! validation service).
//!
//! Every signature in an update signs the update's [`signature_text`], each
//! kind of member its own way: wallets with ERC-191 (or, for smart-contract
//! wallets, ERC-1271 — see [`ScwSignatures`]), installations with
//! Ed25519ph, passkeys with a WebAuthn assertion ([`super::passkey`]).
//! Then:
//!
//! * **CreateInbox** only on an empty log, so only as the first action of the
//!   first update ([`IdentityError::NotEmpty`] otherwise). The owner — a
//!   wallet, or a passkey whose key the identifier gives in hex — must sign
//!   it; a wallet's recovered address must equal `initial_identifier`
//!   exactly (recovered addresses are lowercase, so the identifier must be
//!   too). The inbox id is derived from the identifier and nonce; the owner
//!   becomes the first member and the recovery identifier.
//! * **AddAssociation**: the new member signs for itself; an existing
//!   member, or the recovery identifier, co-signs. Nobody adds itself, and
//!   an installation cannot add another installation (it may add a wallet
//!   or a passkey).
//! * **RevokeAssociation**: signed by the recovery identifier. The member is
//!   removed, together with the installations it added.
//! * **ChangeRecoveryAddress**: signed by the current recovery identifier;
//!   the new one may be a wallet or a passkey.
//! * **Chains**: a member added with a smart-contract-wallet signature is
//!   bound to that signature's chain; its later signatures must name the
//!   same chain.
//! * **Replay protection**: a signature seen in an earlier update is refused.
//!   Signatures are recorded only once the whole update applies, so a new
//!   inbox may use one wallet signature for both of its actions. Wallet and
//!   passkey signatures are recorded in a canonical form (low s, and parity
//!   0/1 for wallets), so re-encoding one does not get it past the check.
//! * After the last action, the state's inbox id must equal the update's
//!   `inbox_id`.
//!
//! Not modelled, reported as [`IdentityError::Unsupported`]: legacy
//! delegated signatures, and smart-contract-wallet signatures under
//! [`ScwSignatures::Refuse`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use sha2::Sha512;

use crate::proto::associations::{
    identity_action, member_identifier, signature, AddAssociation, ChangeRecoveryAddress,
    CreateInbox, IdentifierKind, IdentityUpdate, MemberIdentifier, RevokeAssociation, Signature,
};

use super::keys::{
    ed25519ph_prehash, personal_message_hash, recover_wallet, verify_installation_prehashed,
};
use super::passkey::verify_passkey;
use super::scw::claimed_signer;
use super::{signature_text, IdentityError, ScwSignatures};

/// A member of an inbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberId {
    /// A wallet, by its `0x` address as written in the update.
    Address(String),
    /// An installation, by its Ed25519 public key (the installation id).
    Installation([u8; 32]),
    /// A passkey, by its SEC1 P-256 public key exactly as the update gives
    /// it (the relying party is not part of the identity, as in libxmtp).
    Passkey(Vec<u8>),
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(address) => f.write_str(address),
            Self::Installation(key) => write!(f, "installation {}", hex::encode(key)),
            Self::Passkey(key) => write!(f, "passkey {}", hex::encode(key)),
        }
    }
}

/// What the state keeps about one member.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    /// The member that added it (`None` for the creator).
    added_by: Option<MemberId>,
    /// The chain of the smart-contract-wallet signature that added it.
    chain_id: Option<u64>,
}

/// What an inbox is after applying its identity updates: its members, its
/// recovery identifier, and the signatures it has already consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationState {
    inbox_id: String,
    recovery: MemberId,
    /// Ordered, so listings come out sorted without extra work.
    members: BTreeMap<MemberId, Member>,
    /// Replay keys of every signature of every applied update.
    seen_signatures: HashSet<Vec<u8>>,
}

impl AssociationState {
    /// The inbox id (64 lowercase hex characters).
    pub fn inbox_id(&self) -> &str {
        &self.inbox_id
    }

    /// The wallet or passkey allowed to revoke members and change recovery.
    pub fn recovery_identifier(&self) -> &MemberId {
        &self.recovery
    }

    /// The installation ids with messaging access, sorted.
    pub fn installations(&self) -> Vec<[u8; 32]> {
        self.members
            .keys()
            .filter_map(|member| match member {
                MemberId::Installation(key) => Some(*key),
                _ => None,
            })
            .collect()
    }

    /// The wallet addresses linked to the inbox, sorted.
    pub fn addresses(&self) -> Vec<String> {
        self.members
            .keys()
            .filter_map(|member| match member {
                MemberId::Address(address) => Some(address.clone()),
                _ => None,
            })
            .collect()
    }

    /// The passkeys (SEC1 public keys) linked to the inbox, sorted.
    pub fn passkeys(&self) -> Vec<Vec<u8>> {
        self.members
            .keys()
            .filter_map(|member| match member {
                MemberId::Passkey(key) => Some(key.clone()),
                _ => None,
            })
            .collect()
    }

    /// How many members (addresses and installations) the inbox has.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// How many signatures the state remembers to refuse replays: one or
    /// two per applied update.
    pub fn replay_key_count(&self) -> usize {
        self.seen_signatures.len()
    }

    /// Whether `member` currently belongs to the inbox.
    pub fn is_member(&self, member: &MemberId) -> bool {
        self.members.contains_key(member)
    }

    /// The member that added `member`; `None` for the creator or a
    /// non-member.
    pub fn added_by(&self, member: &MemberId) -> Option<&MemberId> {
        self.members
            .get(member)
            .and_then(|member| member.added_by.as_ref())
    }

    fn check_not_replayed(&self, signer: &VerifiedSignature) -> Result<(), IdentityError> {
        if self.seen_signatures.contains(&signer.replay_key) {
            return Err(IdentityError::ReplayedSignature);
        }
        Ok(())
    }

    /// A member signing again must sign on the chain it was added on (both
    /// `None` for everything but smart-contract wallets).
    fn check_chain(&self, signer: &VerifiedSignature) -> Result<(), IdentityError> {
        match self.members.get(&signer.signer) {
            Some(member) if member.chain_id != signer.chain_id => {
                Err(IdentityError::NotAllowed(format!(
                    "{} was added on chain {} but signs on chain {}",
                    signer.signer,
                    member.chain_id.unwrap_or(0),
                    signer.chain_id.unwrap_or(0)
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Applies one identity update to an inbox (`None`: the inbox does not exist
/// yet) and returns the new state, or why the network would drop the update.
/// Smart-contract-wallet signatures are refused (see [`apply_update_with`]).
///
/// `state` is left untouched either way.
pub fn apply_update(
    state: Option<&AssociationState>,
    update: &IdentityUpdate,
) -> Result<AssociationState, IdentityError> {
    apply_update_with(state, update, ScwSignatures::Refuse)
}

/// [`apply_update`], with `scw` deciding what smart-contract-wallet
/// signatures, which need a chain to verify, do.
pub fn apply_update_with(
    state: Option<&AssociationState>,
    update: &IdentityUpdate,
    scw: ScwSignatures,
) -> Result<AssociationState, IdentityError> {
    apply_owned(state.cloned(), update, scw)
}

/// Replays a whole identity-update log from the start.
///
/// The network stores only updates that passed these rules, so an error
/// means the log is not one the network produced (or that it uses a feature
/// this crate does not model). An empty log is
/// [`IdentityError::MissingCreateInbox`].
pub fn fold_log<'a>(
    updates: impl IntoIterator<Item = &'a IdentityUpdate>,
) -> Result<AssociationState, IdentityError> {
    let mut state = None;
    for update in updates {
        // Owned threading: no clone of the growing state per update.
        state = Some(apply_owned(state, update, ScwSignatures::Refuse)?);
    }
    state.ok_or(IdentityError::MissingCreateInbox)
}

fn apply_owned(
    mut state: Option<AssociationState>,
    update: &IdentityUpdate,
    scw: ScwSignatures,
) -> Result<AssociationState, IdentityError> {
    let text = signature_text(update)?;
    let mut verifier = Verifier::new(&text, scw);
    // Recorded only after every action applied: one update may reuse a
    // signature across its actions.
    let mut replay_keys = Vec::with_capacity(2 * update.actions.len());

    for action in &update.actions {
        use identity_action::Kind;
        match &action.kind {
            Some(Kind::CreateInbox(create)) => {
                if state.is_some() {
                    return Err(IdentityError::NotEmpty);
                }
                state = Some(create_inbox(create, &mut verifier, &mut replay_keys)?);
            }
            Some(Kind::Add(add)) => {
                add_association(existing(&mut state)?, add, &mut verifier, &mut replay_keys)?;
            }
            Some(Kind::Revoke(revoke)) => {
                revoke_association(
                    existing(&mut state)?,
                    revoke,
                    &mut verifier,
                    &mut replay_keys,
                )?;
            }
            Some(Kind::ChangeRecoveryAddress(change)) => {
                change_recovery(
                    existing(&mut state)?,
                    change,
                    &mut verifier,
                    &mut replay_keys,
                )?;
            }
            None => {
                return Err(IdentityError::Malformed(
                    "identity action without a kind".into(),
                ))
            }
        }
    }

    let mut state = state.ok_or(IdentityError::MissingCreateInbox)?;
    if state.inbox_id != update.inbox_id {
        return Err(IdentityError::WrongInboxId {
            expected: state.inbox_id,
            got: update.inbox_id.clone(),
        });
    }
    state.seen_signatures.extend(replay_keys);
    Ok(state)
}

fn existing(state: &mut Option<AssociationState>) -> Result<&mut AssociationState, IdentityError> {
    state.as_mut().ok_or(IdentityError::MissingCreateInbox)
}

fn create_inbox<'a>(
    create: &'a CreateInbox,
    verifier: &mut Verifier<'a>,
    replay_keys: &mut Vec<Vec<u8>>,
) -> Result<AssociationState, IdentityError> {
    let owner = identifier(&create.initial_identifier, create.initial_identifier_kind)?;
    let signed = verifier.verify(
        &create.initial_identifier_signature,
        "initial_identifier_signature",
    )?;
    if signed.signer != owner {
        return Err(IdentityError::SignerMismatch {
            expected: owner.to_string(),
            got: signed.signer.to_string(),
        });
    }
    let inbox_id = super::inbox_id::of_identifier(
        &create.initial_identifier,
        kind(create.initial_identifier_kind)?,
        create.nonce,
    )?;
    replay_keys.push(signed.replay_key);
    Ok(AssociationState {
        inbox_id,
        recovery: owner.clone(),
        members: BTreeMap::from([(
            owner,
            Member {
                added_by: None,
                chain_id: signed.chain_id,
            },
        )]),
        seen_signatures: HashSet::new(),
    })
}

fn add_association<'a>(
    state: &mut AssociationState,
    add: &'a AddAssociation,
    verifier: &mut Verifier<'a>,
    replay_keys: &mut Vec<Vec<u8>>,
) -> Result<(), IdentityError> {
    let new_member = member_id(&add.new_member_identifier, "AddAssociation")?;

    // The new member proves it consents by signing with its own key.
    let new_signed = verifier.verify(&add.new_member_signature, "new_member_signature")?;
    state.check_not_replayed(&new_signed)?;
    if new_signed.signer != new_member {
        return Err(IdentityError::SignerMismatch {
            expected: new_member.to_string(),
            got: new_signed.signer.to_string(),
        });
    }

    let existing_signed =
        verifier.verify(&add.existing_member_signature, "existing_member_signature")?;
    state.check_not_replayed(&existing_signed)?;
    let adder = existing_signed.signer.clone();
    if adder == new_member {
        return Err(IdentityError::NotAllowed(
            "a member cannot add itself".into(),
        ));
    }
    state.check_chain(&existing_signed)?;
    if !state.members.contains_key(&adder) && state.recovery != adder {
        return Err(IdentityError::UnknownSigner(adder.to_string()));
    }
    if matches!(adder, MemberId::Installation(_)) && matches!(new_member, MemberId::Installation(_))
    {
        return Err(IdentityError::NotAllowed(
            "an installation cannot add another installation".into(),
        ));
    }

    replay_keys.push(new_signed.replay_key);
    replay_keys.push(existing_signed.replay_key);
    state.members.insert(
        new_member,
        Member {
            added_by: Some(adder),
            chain_id: new_signed.chain_id,
        },
    );
    Ok(())
}

/// The recovery identifier's signature, checked: the shared part of
/// revocation and recovery change.
fn recovery_signature<'a>(
    state: &AssociationState,
    signature: &'a Option<Signature>,
    verifier: &mut Verifier<'a>,
    replay_keys: &mut Vec<Vec<u8>>,
) -> Result<(), IdentityError> {
    let signed = verifier.verify(signature, "recovery_identifier_signature")?;
    state.check_not_replayed(&signed)?;
    state.check_chain(&signed)?;
    if state.recovery != signed.signer {
        return Err(IdentityError::UnknownSigner(signed.signer.to_string()));
    }
    replay_keys.push(signed.replay_key);
    Ok(())
}

fn revoke_association<'a>(
    state: &mut AssociationState,
    revoke: &'a RevokeAssociation,
    verifier: &mut Verifier<'a>,
    replay_keys: &mut Vec<Vec<u8>>,
) -> Result<(), IdentityError> {
    let revoked = member_id(&revoke.member_to_revoke, "RevokeAssociation")?;
    recovery_signature(
        state,
        &revoke.recovery_identifier_signature,
        verifier,
        replay_keys,
    )?;
    // Revoking a wallet or passkey also revokes the installations it
    // granted access; other members it linked stay.
    state.members.retain(|member, info| {
        *member != revoked
            && !(matches!(member, MemberId::Installation(_))
                && info.added_by.as_ref() == Some(&revoked))
    });
    Ok(())
}

fn change_recovery<'a>(
    state: &mut AssociationState,
    change: &'a ChangeRecoveryAddress,
    verifier: &mut Verifier<'a>,
    replay_keys: &mut Vec<Vec<u8>>,
) -> Result<(), IdentityError> {
    let new_recovery = identifier(
        &change.new_recovery_identifier,
        change.new_recovery_identifier_kind,
    )?;
    recovery_signature(
        state,
        &change.existing_recovery_identifier_signature,
        verifier,
        replay_keys,
    )?;
    // An address is taken verbatim, as the network does: a malformed one
    // is accepted and simply leaves the inbox without a usable recovery.
    state.recovery = new_recovery;
    Ok(())
}

fn kind(kind: i32) -> Result<IdentifierKind, IdentityError> {
    IdentifierKind::try_from(kind)
        .map_err(|_| IdentityError::Malformed(format!("unknown identifier kind {kind}")))
}

/// The member a public identifier names: an address verbatim, or a
/// passkey's key from its hex.
fn identifier(identifier: &str, identifier_kind: i32) -> Result<MemberId, IdentityError> {
    match kind(identifier_kind)? {
        IdentifierKind::Unspecified | IdentifierKind::Ethereum => {
            Ok(MemberId::Address(identifier.to_owned()))
        }
        IdentifierKind::Passkey => hex::decode(identifier).map(MemberId::Passkey).map_err(|_| {
            IdentityError::Malformed(format!("passkey identifier {identifier:?} is not hex"))
        }),
    }
}

fn member_id(
    identifier: &Option<MemberIdentifier>,
    action: &str,
) -> Result<MemberId, IdentityError> {
    match identifier.as_ref().and_then(|id| id.kind.as_ref()) {
        Some(member_identifier::Kind::EthereumAddress(address)) => {
            Ok(MemberId::Address(address.clone()))
        }
        Some(member_identifier::Kind::InstallationPublicKey(key)) => {
            let key = <[u8; 32]>::try_from(key.as_slice()).map_err(|_| {
                IdentityError::Malformed(format!(
                    "{action}: an installation id is 32 bytes, got {}",
                    key.len()
                ))
            })?;
            Ok(MemberId::Installation(key))
        }
        Some(member_identifier::Kind::Passkey(passkey)) => {
            Ok(MemberId::Passkey(passkey.key.clone()))
        }
        None => Err(IdentityError::Malformed(format!(
            "{action} without a member identifier"
        ))),
    }
}

/// A signature that verified, and who made it.
#[derive(Debug, Clone)]
struct VerifiedSignature {
    signer: MemberId,
    /// What replay protection remembers (see `RecoveredWallet::replay_key`
    /// for wallets; `r ‖ low s` for passkeys; the raw bytes otherwise).
    replay_key: Vec<u8>,
    /// The chain of a smart-contract-wallet signature.
    chain_id: Option<u64>,
}

/// Verifies the signatures of one update: hashes the text once per scheme
/// and verifies each distinct signature once (a new inbox carries the same
/// wallet signature twice).
struct Verifier<'a> {
    text: &'a str,
    scw: ScwSignatures,
    personal_hash: [u8; 32],
    ed25519ph_prehash: Sha512,
    verified: Vec<(&'a Signature, VerifiedSignature)>,
}

impl<'a> Verifier<'a> {
    fn new(text: &'a str, scw: ScwSignatures) -> Self {
        Self {
            text,
            scw,
            personal_hash: personal_message_hash(text),
            ed25519ph_prehash: ed25519ph_prehash(text),
            verified: Vec::with_capacity(4),
        }
    }

    fn verify(
        &mut self,
        signature: &'a Option<Signature>,
        field: &str,
    ) -> Result<VerifiedSignature, IdentityError> {
        let Some(signature) = signature else {
            return Err(IdentityError::Malformed(format!("{field} is missing")));
        };
        if let Some((_, done)) = self.verified.iter().find(|(seen, _)| *seen == signature) {
            return Ok(done.clone());
        }
        let verified = match &signature.signature {
            Some(signature::Signature::Erc191(ecdsa)) => {
                let wallet = recover_wallet(&self.personal_hash, &ecdsa.bytes)?;
                VerifiedSignature {
                    signer: MemberId::Address(wallet.address),
                    replay_key: wallet.replay_key,
                    chain_id: None,
                }
            }
            Some(signature::Signature::InstallationKey(ed25519)) => {
                verify_installation_prehashed(
                    &ed25519.public_key,
                    self.ed25519ph_prehash.clone(),
                    &ed25519.bytes,
                )?;
                let key = <[u8; 32]>::try_from(ed25519.public_key.as_slice()).map_err(|_| {
                    IdentityError::InvalidKey("installation public key is not 32 bytes".into())
                })?;
                VerifiedSignature {
                    signer: MemberId::Installation(key),
                    replay_key: ed25519.bytes.clone(),
                    chain_id: None,
                }
            }
            Some(signature::Signature::Passkey(passkey)) => {
                let verified = verify_passkey(self.text, passkey)?;
                VerifiedSignature {
                    signer: MemberId::Passkey(verified.key),
                    replay_key: verified.replay_key,
                    chain_id: None,
                }
            }
            Some(signature::Signature::Erc6492(scw)) => match self.scw {
                ScwSignatures::Refuse => {
                    return Err(IdentityError::Unsupported(
                        "smart-contract wallet (ERC-1271/ERC-6492) signatures",
                    ))
                }
                ScwSignatures::AcceptUnverified => {
                    let (address, chain_id) = claimed_signer(scw)?;
                    VerifiedSignature {
                        signer: MemberId::Address(address),
                        replay_key: scw.signature.clone(),
                        chain_id: Some(chain_id),
                    }
                }
            },
            Some(signature::Signature::DelegatedErc191(_)) => {
                return Err(IdentityError::Unsupported("legacy delegated signatures"))
            }
            None => return Err(IdentityError::Malformed(format!("{field} is empty"))),
        };
        self.verified.push((signature, verified.clone()));
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::update::{attach_new_inbox_signatures, erc191, unsigned_new_inbox};
    use crate::identity::{
        inbox_id, new_inbox_update, revoke_member_update, IdentitySigner, InstallationKey,
        SoftwarePasskey, Wallet,
    };
    use crate::proto::associations::IdentityAction;
    use ed25519_dalek::Signer as _;

    const T0: u64 = 1_700_000_000_000_000_000;
    const SECOND: u64 = 1_000_000_000;

    /// Who signs a slot of a hand-built update.
    enum Signer<'a> {
        Wallet(&'a Wallet),
        Installation(&'a InstallationKey),
        Passkey(&'a SoftwarePasskey),
    }

    impl Signer<'_> {
        fn sign(&self, text: &str) -> Signature {
            match self {
                Self::Wallet(wallet) => wallet.sign_text(text),
                Self::Installation(key) => key.sign_text(text),
                Self::Passkey(passkey) => passkey.sign_text(text),
            }
        }
    }

    fn installation_member(key: &InstallationKey) -> Option<MemberIdentifier> {
        Some(MemberIdentifier {
            kind: Some(member_identifier::Kind::InstallationPublicKey(
                key.public_key().to_vec(),
            )),
        })
    }

    fn address_member(wallet: &Wallet) -> Option<MemberIdentifier> {
        Some(MemberIdentifier {
            kind: Some(member_identifier::Kind::EthereumAddress(wallet.address())),
        })
    }

    /// One-action update: `by` adds `new_member`, which `new_signer` signs for.
    fn add_update(
        inbox: &str,
        timestamp_ns: u64,
        by: Signer<'_>,
        new_member: Option<MemberIdentifier>,
        new_signer: Signer<'_>,
    ) -> IdentityUpdate {
        let mut update = IdentityUpdate {
            inbox_id: inbox.to_owned(),
            client_timestamp_ns: timestamp_ns,
            actions: vec![IdentityAction {
                kind: Some(identity_action::Kind::Add(AddAssociation {
                    new_member_identifier: new_member,
                    ..Default::default()
                })),
            }],
        };
        let text = signature_text(&update).unwrap();
        if let Some(identity_action::Kind::Add(add)) = &mut update.actions[0].kind {
            add.existing_member_signature = Some(by.sign(&text));
            add.new_member_signature = Some(new_signer.sign(&text));
        }
        update
    }

    fn revoke_update(
        inbox: &str,
        timestamp_ns: u64,
        recovery: &Wallet,
        member: Option<MemberIdentifier>,
    ) -> IdentityUpdate {
        let mut update = IdentityUpdate {
            inbox_id: inbox.to_owned(),
            client_timestamp_ns: timestamp_ns,
            actions: vec![IdentityAction {
                kind: Some(identity_action::Kind::Revoke(RevokeAssociation {
                    member_to_revoke: member,
                    ..Default::default()
                })),
            }],
        };
        let text = signature_text(&update).unwrap();
        if let Some(identity_action::Kind::Revoke(revoke)) = &mut update.actions[0].kind {
            revoke.recovery_identifier_signature =
                Some(erc191(recovery.sign_personal(&text).to_vec()));
        }
        update
    }

    fn change_recovery_update(
        inbox: &str,
        timestamp_ns: u64,
        recovery: &Wallet,
        new_recovery: &str,
    ) -> IdentityUpdate {
        let mut update = IdentityUpdate {
            inbox_id: inbox.to_owned(),
            client_timestamp_ns: timestamp_ns,
            actions: vec![IdentityAction {
                kind: Some(identity_action::Kind::ChangeRecoveryAddress(
                    ChangeRecoveryAddress {
                        new_recovery_identifier: new_recovery.to_owned(),
                        new_recovery_identifier_kind: IdentifierKind::Ethereum as i32,
                        ..Default::default()
                    },
                )),
            }],
        };
        let text = signature_text(&update).unwrap();
        if let Some(identity_action::Kind::ChangeRecoveryAddress(change)) =
            &mut update.actions[0].kind
        {
            change.existing_recovery_identifier_signature =
                Some(erc191(recovery.sign_personal(&text).to_vec()));
        }
        update
    }

    fn new_inbox() -> (Wallet, InstallationKey, AssociationState) {
        let wallet = Wallet::generate();
        let installation = InstallationKey::generate();
        let update = new_inbox_update(&wallet, &installation, 0, T0).unwrap();
        let state = apply_update(None, &update).unwrap();
        (wallet, installation, state)
    }

    #[test]
    fn new_inbox_validates_and_lists_installation_and_address() {
        let wallet = Wallet::generate();
        let installation = InstallationKey::generate();
        let update = new_inbox_update(&wallet, &installation, 1, T0).unwrap();
        let state = apply_update(None, &update).unwrap();

        assert_eq!(state.inbox_id(), inbox_id(&wallet.address(), 1).unwrap());
        assert_eq!(state.addresses(), vec![wallet.address()]);
        assert_eq!(state.installations(), vec![installation.public_key()]);
        assert_eq!(
            state.recovery_identifier(),
            &MemberId::Address(wallet.address())
        );
        assert_eq!(
            state.added_by(&MemberId::Installation(installation.public_key())),
            Some(&MemberId::Address(wallet.address()))
        );
        assert_eq!(fold_log([&update]).unwrap(), state);
    }

    #[test]
    fn create_inbox_signed_by_another_wallet_is_rejected() {
        let owner = Wallet::generate();
        let forger = Wallet::generate();
        let installation = InstallationKey::generate();
        let mut update =
            unsigned_new_inbox(&owner.address(), &installation.public_key(), 0, T0).unwrap();
        let text = signature_text(&update).unwrap();
        attach_new_inbox_signatures(
            &mut update,
            forger.sign_personal(&text).to_vec(),
            installation.sign_identity_update(&text).to_vec(),
            installation.public_key().to_vec(),
        );
        assert_eq!(
            apply_update(None, &update),
            Err(IdentityError::SignerMismatch {
                expected: owner.address(),
                got: forger.address(),
            })
        );
    }

    #[test]
    fn plain_ed25519_installation_signature_is_rejected() {
        let wallet = Wallet::generate();
        let installation = InstallationKey::generate();
        let mut update =
            unsigned_new_inbox(&wallet.address(), &installation.public_key(), 0, T0).unwrap();
        let text = signature_text(&update).unwrap();
        let plain = ed25519_dalek::SigningKey::from_bytes(&installation.secret_bytes())
            .sign(text.as_bytes())
            .to_bytes();
        attach_new_inbox_signatures(
            &mut update,
            wallet.sign_personal(&text).to_vec(),
            plain.to_vec(),
            installation.public_key().to_vec(),
        );
        assert!(matches!(
            apply_update(None, &update),
            Err(IdentityError::BadSignature(_))
        ));
    }

    #[test]
    fn wrong_inbox_id_is_rejected() {
        let wallet = Wallet::generate();
        let installation = InstallationKey::generate();
        let mut update =
            unsigned_new_inbox(&wallet.address(), &installation.public_key(), 0, T0).unwrap();
        // Correctly signed, but naming the nonce-1 inbox while creating nonce 0.
        let wrong = inbox_id(&wallet.address(), 1).unwrap();
        update.inbox_id = wrong.clone();
        let text = signature_text(&update).unwrap();
        attach_new_inbox_signatures(
            &mut update,
            wallet.sign_personal(&text).to_vec(),
            installation.sign_identity_update(&text).to_vec(),
            installation.public_key().to_vec(),
        );
        assert_eq!(
            apply_update(None, &update),
            Err(IdentityError::WrongInboxId {
                expected: inbox_id(&wallet.address(), 0).unwrap(),
                got: wrong,
            })
        );
    }

    #[test]
    fn second_create_inbox_is_rejected() {
        let (wallet, _, state) = new_inbox();
        let again =
            new_inbox_update(&wallet, &InstallationKey::generate(), 0, T0 + SECOND).unwrap();
        assert_eq!(
            apply_update(Some(&state), &again),
            Err(IdentityError::NotEmpty)
        );
    }

    #[test]
    fn log_without_create_inbox_is_rejected() {
        let wallet = Wallet::generate();
        let installation = InstallationKey::generate();
        let inbox = inbox_id(&wallet.address(), 0).unwrap();
        let add = add_update(
            &inbox,
            T0,
            Signer::Wallet(&wallet),
            installation_member(&installation),
            Signer::Installation(&installation),
        );
        assert_eq!(
            apply_update(None, &add),
            Err(IdentityError::MissingCreateInbox)
        );
        assert_eq!(fold_log([]), Err(IdentityError::MissingCreateInbox));
    }

    #[test]
    fn replayed_update_is_rejected() {
        let (wallet, _, state) = new_inbox();
        let inbox = state.inbox_id().to_owned();
        let phone = InstallationKey::generate();
        let add_phone = add_update(
            &inbox,
            T0 + SECOND,
            Signer::Wallet(&wallet),
            installation_member(&phone),
            Signer::Installation(&phone),
        );
        let with_phone = apply_update(Some(&state), &add_phone).unwrap();
        assert!(with_phone.is_member(&MemberId::Installation(phone.public_key())));

        let revoke_phone = revoke_update(
            &inbox,
            T0 + 2 * SECOND,
            &wallet,
            installation_member(&phone),
        );
        let revoked = apply_update(Some(&with_phone), &revoke_phone).unwrap();
        assert!(!revoked.is_member(&MemberId::Installation(phone.public_key())));

        // Re-publishing the old grant would restore the revoked installation.
        assert_eq!(
            apply_update(Some(&revoked), &add_phone),
            Err(IdentityError::ReplayedSignature)
        );
    }

    #[test]
    fn re_encoded_wallet_signatures_are_still_a_replay() {
        let (wallet, _, state) = new_inbox();
        let second_wallet = Wallet::generate();
        let mut link = add_update(
            state.inbox_id(),
            T0 + SECOND,
            Signer::Wallet(&wallet),
            address_member(&second_wallet),
            Signer::Wallet(&second_wallet),
        );
        let linked = apply_update(Some(&state), &link).unwrap();
        let revoked = apply_update(
            Some(&linked),
            &revoke_update(
                state.inbox_id(),
                T0 + 2 * SECOND,
                &wallet,
                address_member(&second_wallet),
            ),
        )
        .unwrap();

        // Both wallet signatures rewritten with v as 0/1 instead of 27/28:
        // new bytes, same signatures.
        if let Some(identity_action::Kind::Add(add)) = &mut link.actions[0].kind {
            for slot in [
                &mut add.existing_member_signature,
                &mut add.new_member_signature,
            ] {
                if let Some(Signature {
                    signature: Some(signature::Signature::Erc191(ecdsa)),
                }) = slot
                {
                    ecdsa.bytes[64] -= 27;
                }
            }
        }
        assert_eq!(
            apply_update(Some(&revoked), &link),
            Err(IdentityError::ReplayedSignature)
        );
    }

    #[test]
    fn stranger_cannot_add_members() {
        let (_, _, state) = new_inbox();
        let stranger = Wallet::generate();
        let phone = InstallationKey::generate();
        let update = add_update(
            state.inbox_id(),
            T0 + SECOND,
            Signer::Wallet(&stranger),
            installation_member(&phone),
            Signer::Installation(&phone),
        );
        assert_eq!(
            apply_update(Some(&state), &update),
            Err(IdentityError::UnknownSigner(stranger.address()))
        );
    }

    #[test]
    fn new_member_must_sign_for_itself() {
        let (wallet, _, state) = new_inbox();
        let phone = InstallationKey::generate();
        let impostor = InstallationKey::generate();
        let update = add_update(
            state.inbox_id(),
            T0 + SECOND,
            Signer::Wallet(&wallet),
            installation_member(&phone),
            Signer::Installation(&impostor),
        );
        assert!(matches!(
            apply_update(Some(&state), &update),
            Err(IdentityError::SignerMismatch { .. })
        ));
    }

    #[test]
    fn installation_cannot_add_installation_but_wallets_can_link_wallets() {
        let (wallet, installation, state) = new_inbox();
        let phone = InstallationKey::generate();
        let by_installation = add_update(
            state.inbox_id(),
            T0 + SECOND,
            Signer::Installation(&installation),
            installation_member(&phone),
            Signer::Installation(&phone),
        );
        assert!(matches!(
            apply_update(Some(&state), &by_installation),
            Err(IdentityError::NotAllowed(_))
        ));

        let second_wallet = Wallet::generate();
        let link = add_update(
            state.inbox_id(),
            T0 + SECOND,
            Signer::Wallet(&wallet),
            address_member(&second_wallet),
            Signer::Wallet(&second_wallet),
        );
        let linked = apply_update(Some(&state), &link).unwrap();
        let mut expected = vec![wallet.address(), second_wallet.address()];
        expected.sort();
        assert_eq!(linked.addresses(), expected);
        // Linking a wallet does not change the inbox id or the recovery address.
        assert_eq!(linked.inbox_id(), state.inbox_id());
        assert_eq!(
            linked.recovery_identifier(),
            &MemberId::Address(wallet.address())
        );
    }

    #[test]
    fn revoking_a_wallet_revokes_its_installations() {
        let (owner, first_installation, state) = new_inbox();
        let inbox = state.inbox_id().to_owned();
        let second_wallet = Wallet::generate();
        let laptop = InstallationKey::generate();
        let log_tail = [
            add_update(
                &inbox,
                T0 + SECOND,
                Signer::Wallet(&owner),
                address_member(&second_wallet),
                Signer::Wallet(&second_wallet),
            ),
            add_update(
                &inbox,
                T0 + 2 * SECOND,
                Signer::Wallet(&second_wallet),
                installation_member(&laptop),
                Signer::Installation(&laptop),
            ),
            revoke_update(
                &inbox,
                T0 + 3 * SECOND,
                &owner,
                address_member(&second_wallet),
            ),
        ];
        let mut current = state;
        for update in &log_tail {
            current = apply_update(Some(&current), update).unwrap();
        }
        assert_eq!(current.addresses(), vec![owner.address()]);
        assert_eq!(
            current.installations(),
            vec![first_installation.public_key()]
        );
    }

    #[test]
    fn only_recovery_address_revokes_and_changes_recovery() {
        let (owner, installation, state) = new_inbox();
        let inbox = state.inbox_id().to_owned();
        let second_wallet = Wallet::generate();
        let linked = apply_update(
            Some(&state),
            &add_update(
                &inbox,
                T0 + SECOND,
                Signer::Wallet(&owner),
                address_member(&second_wallet),
                Signer::Wallet(&second_wallet),
            ),
        )
        .unwrap();

        // A linked wallet is a member but not the recovery address.
        let revoke = revoke_update(
            &inbox,
            T0 + 2 * SECOND,
            &second_wallet,
            installation_member(&installation),
        );
        assert_eq!(
            apply_update(Some(&linked), &revoke),
            Err(IdentityError::UnknownSigner(second_wallet.address()))
        );

        let handover =
            change_recovery_update(&inbox, T0 + 3 * SECOND, &owner, &second_wallet.address());
        let handed = apply_update(Some(&linked), &handover).unwrap();
        assert_eq!(
            handed.recovery_identifier(),
            &MemberId::Address(second_wallet.address())
        );

        // The old recovery address can no longer revoke; the new one can.
        let by_old = revoke_update(
            &inbox,
            T0 + 4 * SECOND,
            &owner,
            installation_member(&installation),
        );
        assert_eq!(
            apply_update(Some(&handed), &by_old),
            Err(IdentityError::UnknownSigner(owner.address()))
        );
        let revoked = apply_update(Some(&handed), &revoke).unwrap();
        assert!(revoked.installations().is_empty());
    }

    #[test]
    fn uppercase_owner_is_rejected() {
        let wallet = Wallet::generate();
        let installation = InstallationKey::generate();
        let mut update =
            unsigned_new_inbox(&wallet.address(), &installation.public_key(), 0, T0).unwrap();
        if let Some(identity_action::Kind::CreateInbox(create)) = &mut update.actions[0].kind {
            create.initial_identifier = format!("0x{}", wallet.address()[2..].to_uppercase());
        }
        let text = signature_text(&update).unwrap();
        attach_new_inbox_signatures(
            &mut update,
            wallet.sign_personal(&text).to_vec(),
            installation.sign_identity_update(&text).to_vec(),
            installation.public_key().to_vec(),
        );
        assert!(matches!(
            apply_update(None, &update),
            Err(IdentityError::SignerMismatch { .. })
        ));
    }

    fn passkey_member(passkey: &SoftwarePasskey) -> Option<MemberIdentifier> {
        Some(passkey.member_identifier())
    }

    #[test]
    fn a_linked_passkey_adds_installations_and_its_revocation_removes_them() {
        let (wallet, _, state) = new_inbox();
        let inbox = state.inbox_id().to_owned();
        let passkey = SoftwarePasskey::generate();
        let linked = apply_update(
            Some(&state),
            &add_update(
                &inbox,
                T0 + SECOND,
                Signer::Wallet(&wallet),
                passkey_member(&passkey),
                Signer::Passkey(&passkey),
            ),
        )
        .unwrap();
        assert_eq!(linked.passkeys(), vec![passkey.public_key()]);
        let laptop = InstallationKey::generate();
        let with_laptop = apply_update(
            Some(&linked),
            &add_update(
                &inbox,
                T0 + 2 * SECOND,
                Signer::Passkey(&passkey),
                installation_member(&laptop),
                Signer::Installation(&laptop),
            ),
        )
        .unwrap();
        assert_eq!(
            with_laptop.added_by(&MemberId::Installation(laptop.public_key())),
            Some(&MemberId::Passkey(passkey.public_key()))
        );
        let revoked = apply_update(
            Some(&with_laptop),
            &revoke_update(&inbox, T0 + 3 * SECOND, &wallet, passkey_member(&passkey)),
        )
        .unwrap();
        assert!(revoked.passkeys().is_empty());
        assert!(!revoked.is_member(&MemberId::Installation(laptop.public_key())));
    }

    #[test]
    fn a_passkey_owns_an_inbox_and_is_its_recovery_identifier() {
        let passkey = SoftwarePasskey::generate();
        let installation = InstallationKey::generate();
        let update = new_inbox_update(&passkey, &installation, 3, T0).unwrap();
        let state = apply_update(None, &update).unwrap();
        let owner = MemberId::Passkey(passkey.public_key());
        assert_eq!(state.recovery_identifier(), &owner);
        let expected = <sha2::Sha256 as sha2::Digest>::digest(format!(
            "{}3",
            hex::encode(passkey.public_key())
        ));
        assert_eq!(state.inbox_id(), hex::encode(expected));
        // The passkey, as recovery identifier, revokes the installation.
        let revoke = revoke_member_update(
            state.inbox_id(),
            &passkey,
            installation.member_identifier(),
            T0 + SECOND,
        )
        .unwrap();
        assert!(apply_update(Some(&state), &revoke)
            .unwrap()
            .installations()
            .is_empty());
    }

    #[test]
    fn a_passkey_signature_over_another_text_is_refused() {
        let (wallet, _, state) = new_inbox();
        let passkey = SoftwarePasskey::generate();
        let mut update = add_update(
            state.inbox_id(),
            T0 + SECOND,
            Signer::Wallet(&wallet),
            passkey_member(&passkey),
            Signer::Passkey(&passkey),
        );
        if let Some(identity_action::Kind::Add(add)) = &mut update.actions[0].kind {
            add.new_member_signature = Some(passkey.sign_identity_update("another update"));
        }
        assert!(matches!(
            apply_update(Some(&state), &update),
            Err(IdentityError::BadSignature(_))
        ));
    }

    fn scw_signature(account_id: &str, bytes: &[u8]) -> Signature {
        Signature {
            signature: Some(signature::Signature::Erc6492(
                crate::proto::associations::SmartContractWalletSignature {
                    account_id: account_id.into(),
                    block_number: 1,
                    signature: bytes.to_vec(),
                },
            )),
        }
    }

    #[test]
    fn smart_contract_wallets_are_refused_or_accepted_unverified() {
        let (wallet, _, state) = new_inbox();
        let smart = "0x00000000000000000000000000000000000000aa";
        let mut scw = add_update(
            state.inbox_id(),
            T0 + SECOND,
            Signer::Wallet(&wallet),
            Some(MemberIdentifier {
                kind: Some(member_identifier::Kind::EthereumAddress(smart.into())),
            }),
            Signer::Wallet(&wallet),
        );
        if let Some(identity_action::Kind::Add(add)) = &mut scw.actions[0].kind {
            add.new_member_signature = Some(scw_signature(&format!("eip155:8453:{smart}"), b"sig"));
        }
        assert!(matches!(
            apply_update(Some(&state), &scw),
            Err(IdentityError::Unsupported(_))
        ));
        let linked =
            apply_update_with(Some(&state), &scw, ScwSignatures::AcceptUnverified).unwrap();
        assert!(linked.is_member(&MemberId::Address(smart.into())));

        // Bound to its chain: signing from another one is refused.
        let phone = InstallationKey::generate();
        let mut other_chain = add_update(
            state.inbox_id(),
            T0 + 2 * SECOND,
            Signer::Wallet(&wallet),
            installation_member(&phone),
            Signer::Installation(&phone),
        );
        if let Some(identity_action::Kind::Add(add)) = &mut other_chain.actions[0].kind {
            add.existing_member_signature =
                Some(scw_signature(&format!("eip155:1:{smart}"), b"sig2"));
        }
        assert!(matches!(
            apply_update_with(Some(&linked), &other_chain, ScwSignatures::AcceptUnverified),
            Err(IdentityError::NotAllowed(_))
        ));
    }

    #[test]
    fn state_is_unchanged_by_a_rejected_update() {
        let (_, _, state) = new_inbox();
        let before = state.clone();
        let stranger = Wallet::generate();
        let phone = InstallationKey::generate();
        let update = add_update(
            state.inbox_id(),
            T0 + SECOND,
            Signer::Wallet(&stranger),
            installation_member(&phone),
            Signer::Installation(&phone),
        );
        assert!(apply_update(Some(&state), &update).is_err());
        assert_eq!(state, before);
    }
}
