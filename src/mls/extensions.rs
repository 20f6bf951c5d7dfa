//! XMTP's MLS extensions: type numbers, capabilities, and the protobuf
//! bodies of the group-context extensions.
//!
//! MLS lets an application attach typed, opaque blobs ("extensions") to
//! key packages, leaf nodes and the group context. XMTP keeps its whole
//! group state in group-context extensions, so every member sees the same
//! state in the same epoch and any change to it needs a commit:
//!
//! | type | body | where |
//! |---|---|---|
//! | 0xf000 ImmutableMetadata | TLS `opaque<V>` around `GroupMetadataV1` | group context |
//! | 0xff00 | `GroupMutableMetadataV1` (name, description, admins, …) | group context |
//! | 0xff01 | `GroupMembership` (inbox id → identity sequence id) | group context |
//! | 0xff02 | `GroupMutablePermissionsV1` (who may change what) | group context |
//! | 0xff03 | `WelcomeWrapperEncryption` (post-quantum wrapper key) | key package |
//! | 0xff04 | `WelcomePointeeEncryptionAeadTypesExtension` (reads pointers) | key package |
//!
//! 0xf000 is a typed extension in XMTP's openmls fork whose body is a TLS
//! variable-length vector; upstream openmls does not know it, so we encode it
//! as an unknown extension with the same bytes (varint length, then the
//! protobuf). The 0xff0x bodies are bare protobuf.
//!
//! MLS requires every non-default extension type that appears anywhere in a
//! group to be listed in each member's leaf capabilities, and the group's
//! `RequiredCapabilities` makes openmls refuse to add a key package that does
//! not list XMTP's types. [`leaf_capabilities`] and
//! [`required_capabilities`] hold these lists.

use openmls::prelude::tls_codec::{
    Deserialize as TlsDeserialize, Serialize as TlsSerialize, VLBytes,
};
use openmls::prelude::{
    Capabilities, CredentialType, Extension, ExtensionType, Extensions, GroupContext, ProposalType,
    ProtocolVersion, RequiredCapabilitiesExtension, UnknownExtension,
};
use prost::Message;

use super::{MlsError, CIPHERSUITE};
use crate::proto::xmtp::mls::message_contents::{
    membership_policy, metadata_policy, permissions_update_policy, ConversationType,
    GroupMembership, GroupMetadataV1, GroupMutableMetadataV1, GroupMutablePermissionsV1, Inboxes,
    MembershipPolicy, MetadataPolicy, PermissionsUpdatePolicy, PolicySet,
    WelcomePointeeEncryptionAeadType, WelcomePointeeEncryptionAeadTypesExtension,
    WelcomeWrapperAlgorithm, WelcomeWrapperEncryption,
};

/// `application_id` (RFC 9420): the inbox id of the leaf's owner, UTF-8.
pub const APPLICATION_ID: u16 = 1;
/// `app_data_dictionary` (extensions draft). Listed for completeness; not
/// advertised because openmls 0.9.2 supports it only with `extensions-draft`.
pub const APP_DATA_DICTIONARY: u16 = 6;
/// `last_resort` (RFC 9420 §17.3 registry): the key package may be reused.
pub const LAST_RESORT: u16 = 10;
/// XMTP fork's `ImmutableMetadata`: `GroupMetadataV1` fixed at creation.
pub const IMMUTABLE_METADATA: u16 = 0xf000;
/// Mutable metadata: `GroupMutableMetadataV1`.
pub const MUTABLE_METADATA: u16 = 0xff00;
/// Group membership: `GroupMembership`.
pub const GROUP_MEMBERSHIP: u16 = 0xff01;
/// Permission policies: `GroupMutablePermissionsV1`.
pub const GROUP_PERMISSIONS: u16 = 0xff02;
/// Post-quantum welcome wrapper key: `WelcomeWrapperEncryption`.
pub const WELCOME_WRAPPER_ENCRYPTION: u16 = 0xff03;
/// AEADs accepted for welcome pointees:
/// `WelcomePointeeEncryptionAeadTypesExtension`.
pub const WELCOME_POINTEE_AEAD_TYPES: u16 = 0xff04;

/// Attribute keys of the mutable metadata that every new group sets to "".
pub const METADATA_ATTRIBUTE_KEYS: [&str; 4] = [
    "group_name",
    "description",
    "group_image_url_square",
    "app_data",
];
/// Attribute key of the commit-log signer (hex of 32 random bytes).
pub const COMMIT_LOG_SIGNER_KEY: &str = "_commit_log_signer";

/// The capabilities every XMTP leaf advertises (PROTOCOL.md §4.6), minus
/// AppDataDictionary / AppDataUpdate (need openmls' `extensions-draft`
/// feature).
pub fn leaf_capabilities() -> Capabilities {
    Capabilities::builder()
        .versions(vec![ProtocolVersion::Mls10])
        .ciphersuites(vec![CIPHERSUITE])
        .extensions(vec![
            ExtensionType::LastResort,
            ExtensionType::ApplicationId,
            ExtensionType::Unknown(IMMUTABLE_METADATA),
            ExtensionType::Unknown(GROUP_PERMISSIONS),
            ExtensionType::Unknown(MUTABLE_METADATA),
            ExtensionType::Unknown(GROUP_MEMBERSHIP),
            ExtensionType::Unknown(WELCOME_WRAPPER_ENCRYPTION),
            ExtensionType::Unknown(WELCOME_POINTEE_AEAD_TYPES),
        ])
        .proposals(vec![ProposalType::GroupContextExtensions])
        .credentials(vec![CredentialType::Basic])
        .build()
}

/// The `RequiredCapabilities` group-context extension of a new group
/// (PROTOCOL.md §5.1).
pub fn required_capabilities() -> RequiredCapabilitiesExtension {
    RequiredCapabilitiesExtension::new(
        &[
            ExtensionType::Unknown(GROUP_MEMBERSHIP),
            ExtensionType::Unknown(MUTABLE_METADATA),
            ExtensionType::Unknown(GROUP_PERMISSIONS),
            ExtensionType::Unknown(IMMUTABLE_METADATA),
            ExtensionType::LastResort,
            ExtensionType::ApplicationId,
        ],
        &[ProposalType::GroupContextExtensions],
        &[CredentialType::Basic],
    )
}

/// Key-package extension 0xff03: the X-Wing public key welcomes to this
/// key package are wrapped with.
pub fn welcome_wrapper_extension(x_wing_public_key: &[u8]) -> Extension {
    let body = WelcomeWrapperEncryption {
        pub_key: x_wing_public_key.to_vec(),
        algorithm: WelcomeWrapperAlgorithm::XwingMlkem768Draft6 as i32,
    };
    Extension::Unknown(
        WELCOME_WRAPPER_ENCRYPTION,
        UnknownExtension(body.encode_to_vec()),
    )
}

/// Key-package extension 0xff04: this installation reads welcome pointers
/// whose pointee is sealed with ChaCha20-Poly1305.
pub fn welcome_pointee_aead_extension() -> Extension {
    let body = WelcomePointeeEncryptionAeadTypesExtension {
        supported_aead_types: vec![WelcomePointeeEncryptionAeadType::Chacha20Poly1305 as i32],
    };
    Extension::Unknown(
        WELCOME_POINTEE_AEAD_TYPES,
        UnknownExtension(body.encode_to_vec()),
    )
}

/// 0xf000: the TLS `opaque<V>` wrapping of a `GroupMetadataV1`.
pub fn immutable_metadata_extension(metadata: &GroupMetadataV1) -> Result<Extension, MlsError> {
    let wrapped = VLBytes::new(metadata.encode_to_vec())
        .tls_serialize_detached()
        .map_err(|e| MlsError::Openmls(format!("encoding immutable metadata: {e}")))?;
    Ok(Extension::Unknown(
        IMMUTABLE_METADATA,
        UnknownExtension(wrapped),
    ))
}

/// 0xff00 from a `GroupMutableMetadataV1`.
pub fn mutable_metadata_extension(metadata: &GroupMutableMetadataV1) -> Extension {
    Extension::Unknown(MUTABLE_METADATA, UnknownExtension(metadata.encode_to_vec()))
}

/// 0xff01 from a `GroupMembership`.
pub fn membership_extension(membership: &GroupMembership) -> Extension {
    Extension::Unknown(
        GROUP_MEMBERSHIP,
        UnknownExtension(membership.encode_to_vec()),
    )
}

/// 0xff02 from a `GroupMutablePermissionsV1`.
pub fn permissions_extension(permissions: &GroupMutablePermissionsV1) -> Extension {
    Extension::Unknown(
        GROUP_PERMISSIONS,
        UnknownExtension(permissions.encode_to_vec()),
    )
}

/// The body of group-context extension `ext_type`, or `InvalidExtension`
/// when the group has none.
fn unknown_body(extensions: &Extensions<GroupContext>, ext_type: u16) -> Result<&[u8], MlsError> {
    extensions
        .unknown(ext_type)
        .map(|ext| ext.0.as_slice())
        .ok_or_else(|| {
            MlsError::InvalidExtension(format!("group has no extension {ext_type:#06x}"))
        })
}

fn decode_body<M: Message + Default>(body: &[u8], ext_type: u16) -> Result<M, MlsError> {
    M::decode(body)
        .map_err(|e| MlsError::InvalidExtension(format!("extension {ext_type:#06x}: {e}")))
}

/// Decodes 0xf000 (varint length prefix, then `GroupMetadataV1`).
pub fn decode_immutable_metadata(
    extensions: &Extensions<GroupContext>,
) -> Result<GroupMetadataV1, MlsError> {
    let body = unknown_body(extensions, IMMUTABLE_METADATA)?;
    let inner = VLBytes::tls_deserialize_exact(body).map_err(|e| {
        MlsError::InvalidExtension(format!("extension {IMMUTABLE_METADATA:#06x}: {e}"))
    })?;
    decode_body(inner.as_slice(), IMMUTABLE_METADATA)
}

/// Decodes 0xff00.
pub fn decode_mutable_metadata(
    extensions: &Extensions<GroupContext>,
) -> Result<GroupMutableMetadataV1, MlsError> {
    decode_body(
        unknown_body(extensions, MUTABLE_METADATA)?,
        MUTABLE_METADATA,
    )
}

/// Decodes 0xff01.
pub fn decode_membership(
    extensions: &Extensions<GroupContext>,
) -> Result<GroupMembership, MlsError> {
    decode_body(
        unknown_body(extensions, GROUP_MEMBERSHIP)?,
        GROUP_MEMBERSHIP,
    )
}

/// Decodes 0xff02.
pub fn decode_permissions(
    extensions: &Extensions<GroupContext>,
) -> Result<GroupMutablePermissionsV1, MlsError> {
    decode_body(
        unknown_body(extensions, GROUP_PERMISSIONS)?,
        GROUP_PERMISSIONS,
    )
}

/// Immutable metadata of a new (non-DM) group.
pub fn new_group_metadata(creator_inbox_id: &str) -> GroupMetadataV1 {
    GroupMetadataV1 {
        conversation_type: ConversationType::Group as i32,
        creator_account_address: String::new(),
        creator_inbox_id: creator_inbox_id.to_owned(),
    }
}

/// Mutable metadata of a new group: empty attributes, the commit-log signer
/// as hex, no admins, the creator as the only super admin.
pub fn new_mutable_metadata(
    creator_inbox_id: &str,
    commit_log_signer: &[u8; 32],
) -> GroupMutableMetadataV1 {
    let mut attributes: std::collections::HashMap<String, String> = METADATA_ATTRIBUTE_KEYS
        .iter()
        .map(|key| ((*key).to_owned(), String::new()))
        .collect();
    attributes.insert(
        COMMIT_LOG_SIGNER_KEY.to_owned(),
        hex::encode(commit_log_signer),
    );
    GroupMutableMetadataV1 {
        attributes,
        admin_list: Some(Inboxes { inbox_ids: vec![] }),
        super_admin_list: Some(Inboxes {
            inbox_ids: vec![creator_inbox_id.to_owned()],
        }),
    }
}

/// Metadata fields a new group gets a policy for, in libxmtp's order
/// (`GroupMutableMetadata::supported_fields`), with the policy its default
/// preset gives each: the disappearing-message settings need an admin, the
/// minimum protocol version a super admin, everything else is open.
pub const METADATA_FIELD_POLICIES: [(&str, metadata_policy::MetadataBasePolicy); 7] = {
    use metadata_policy::MetadataBasePolicy::{Allow, AllowIfAdmin, AllowIfSuperAdmin};
    [
        ("group_name", Allow),
        ("description", Allow),
        ("group_image_url_square", Allow),
        ("message_disappear_from_ns", AllowIfAdmin),
        ("message_disappear_in_ns", AllowIfAdmin),
        ("minimum_supported_protocol_version", AllowIfSuperAdmin),
        ("app_data", Allow),
    ]
};

/// libxmtp's default ("all members") permission preset: anyone may add
/// members, removal needs an admin, metadata as [`METADATA_FIELD_POLICIES`],
/// and admin lists and the policies themselves need a super admin.
pub fn all_members_permissions() -> GroupMutablePermissionsV1 {
    let membership = |base: membership_policy::BasePolicy| MembershipPolicy {
        kind: Some(membership_policy::Kind::Base(base as i32)),
    };
    let super_admin_only = || PermissionsUpdatePolicy {
        kind: Some(permissions_update_policy::Kind::Base(
            permissions_update_policy::PermissionsBasePolicy::AllowIfSuperAdmin as i32,
        )),
    };
    let update_metadata_policy = METADATA_FIELD_POLICIES
        .iter()
        .map(|(field, base)| {
            let policy = MetadataPolicy {
                kind: Some(metadata_policy::Kind::Base(*base as i32)),
            };
            ((*field).to_owned(), policy)
        })
        .collect();
    GroupMutablePermissionsV1 {
        policies: Some(PolicySet {
            add_member_policy: Some(membership(membership_policy::BasePolicy::Allow)),
            remove_member_policy: Some(membership(
                membership_policy::BasePolicy::AllowIfAdminOrSuperAdmin,
            )),
            update_metadata_policy,
            add_admin_policy: Some(super_admin_only()),
            remove_admin_policy: Some(super_admin_only()),
            update_permissions_policy: Some(super_admin_only()),
        }),
    }
}

/// All group-context extensions of a freshly created group whose only member
/// is `creator_inbox_id`, at the position of its newest identity update.
pub fn new_group_extensions(
    creator_inbox_id: &str,
    creator_sequence_id: u64,
    commit_log_signer: &[u8; 32],
) -> Result<Extensions<GroupContext>, MlsError> {
    let membership = GroupMembership {
        members: [(creator_inbox_id.to_owned(), creator_sequence_id)]
            .into_iter()
            .collect(),
        failed_installations: vec![],
    };
    Extensions::from_vec(vec![
        immutable_metadata_extension(&new_group_metadata(creator_inbox_id))?,
        mutable_metadata_extension(&new_mutable_metadata(creator_inbox_id, commit_log_signer)),
        membership_extension(&membership),
        permissions_extension(&all_members_permissions()),
        Extension::RequiredCapabilities(required_capabilities()),
    ])
    .map_err(|e| MlsError::Openmls(format!("group context extensions: {e}")))
}

/// A copy of `current` in which 0xff01 is replaced by `membership`; every
/// other extension keeps its exact bytes.
pub fn with_membership(
    current: &Extensions<GroupContext>,
    membership: &GroupMembership,
) -> Result<Extensions<GroupContext>, MlsError> {
    let mut updated = current.clone();
    updated
        .add_or_replace(membership_extension(membership))
        .map_err(|e| MlsError::Openmls(format!("replacing membership extension: {e}")))?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immutable_metadata_has_tls_length_prefix() {
        let exts = new_group_extensions("abc", 1, &[7; 32]).unwrap();
        let body = exts.unknown(IMMUTABLE_METADATA).unwrap().0.clone();
        let proto = new_group_metadata("abc").encode_to_vec();
        // Short bodies use a one-byte QUIC-style varint length.
        assert!(proto.len() < 64);
        assert_eq!(body[0] as usize, proto.len());
        assert_eq!(&body[1..], proto.as_slice());
        let decoded = decode_immutable_metadata(&exts).unwrap();
        assert_eq!(decoded.creator_inbox_id, "abc");
        assert_eq!(decoded.conversation_type, ConversationType::Group as i32);
    }

    #[test]
    fn new_group_extension_bodies_roundtrip() {
        let exts = new_group_extensions("creator", 3, &[0xab; 32]).unwrap();
        let membership = decode_membership(&exts).unwrap();
        assert_eq!(membership.members.len(), 1);
        assert_eq!(membership.members.get("creator"), Some(&3));

        let meta = decode_mutable_metadata(&exts).unwrap();
        for key in METADATA_ATTRIBUTE_KEYS {
            assert_eq!(meta.attributes.get(key).map(String::as_str), Some(""));
        }
        assert_eq!(
            meta.attributes.get(COMMIT_LOG_SIGNER_KEY),
            Some(&"ab".repeat(32))
        );
        assert_eq!(
            meta.super_admin_list.unwrap().inbox_ids,
            vec!["creator".to_owned()]
        );

        let perms = decode_permissions(&exts).unwrap().policies.unwrap();
        assert_eq!(
            perms.add_member_policy.unwrap().kind,
            Some(membership_policy::Kind::Base(
                membership_policy::BasePolicy::Allow as i32
            ))
        );
        assert_eq!(
            perms.update_metadata_policy.len(),
            METADATA_FIELD_POLICIES.len()
        );
        assert!(exts.required_capabilities().is_some());
    }

    #[test]
    fn with_membership_replaces_only_membership() {
        let exts = new_group_extensions("creator", 1, &[1; 32]).unwrap();
        let mut membership = decode_membership(&exts).unwrap();
        membership.members.insert("other".into(), 5);
        let updated = with_membership(&exts, &membership).unwrap();
        assert_eq!(decode_membership(&updated).unwrap(), membership);
        for ty in [IMMUTABLE_METADATA, MUTABLE_METADATA, GROUP_PERMISSIONS] {
            assert_eq!(exts.unknown(ty), updated.unknown(ty));
        }
        assert_eq!(
            exts.required_capabilities(),
            updated.required_capabilities()
        );
    }

    #[test]
    fn missing_extension_is_remote_fault() {
        let err = decode_membership(&Extensions::empty()).unwrap_err();
        assert!(err.is_remote_fault());
    }
}
