//! Pins every message, enum and service in `proto/` to XMTP's official
//! definitions (xmtp/proto, the revision libxmtp builds against).
//!
//! A protobuf peer only sees field numbers and wire types, so a field that
//! is renumbered, retyped or turned from singular into repeated silently
//! corrupts what the other side reads (our old `PermissionsBasePolicy` read
//! a real group's DENY as ALLOW). This test compiles our `.proto` files the
//! way `build.rs` does, reduces every definition to one line per fact (full
//! name, field number, label, type; enum values; rpc signatures) and
//! requires each line to appear in `fixtures/official_proto_facts.txt`, the
//! same facts taken from the official files. We may define fewer fields or
//! messages than XMTP does; we may not define any differently.

use std::collections::BTreeSet;
use std::path::Path;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto};

const FIXTURE: &str = include_str!("fixtures/official_proto_facts.txt");

fn proto_files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            proto_files(&path, root, out);
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            let relative = path.strip_prefix(root).unwrap();
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn type_name(field: &FieldDescriptorProto) -> String {
    match field.r#type() {
        Type::Message | Type::Enum | Type::Group => {
            field.type_name().trim_start_matches('.').to_owned()
        }
        scalar => scalar
            .as_str_name()
            .trim_start_matches("TYPE_")
            .to_lowercase(),
    }
}

fn label(field: &FieldDescriptorProto, message: &DescriptorProto) -> String {
    if field.label() == Label::Repeated {
        return "repeated".into();
    }
    if field.proto3_optional() {
        return "optional".into();
    }
    match field.oneof_index {
        Some(index) => format!("oneof {}", message.oneof_decl[index as usize].name()),
        None => "singular".into(),
    }
}

fn enum_facts(full: &str, definition: &EnumDescriptorProto, facts: &mut BTreeSet<String>) {
    facts.insert(format!("enum {full}"));
    for value in &definition.value {
        facts.insert(format!(
            "value {full}.{} = {}",
            value.name(),
            value.number()
        ));
    }
}

fn message_facts(full: &str, message: &DescriptorProto, facts: &mut BTreeSet<String>) {
    facts.insert(format!("message {full}"));
    for field in &message.field {
        facts.insert(format!(
            "field {full}.{} = {} {} {}",
            field.name(),
            field.number(),
            label(field, message),
            type_name(field)
        ));
    }
    for nested in &message.nested_type {
        message_facts(&format!("{full}.{}", nested.name()), nested, facts);
    }
    for nested in &message.enum_type {
        enum_facts(&format!("{full}.{}", nested.name()), nested, facts);
    }
}

/// One line per fact of every definition in our `proto/` tree.
fn our_facts() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    let mut files = Vec::new();
    proto_files(&root, &root, &mut files);
    let set = protox::compile(&files, [&root]).unwrap();
    let mut facts = BTreeSet::new();
    for file in set
        .file
        .iter()
        .filter(|f| files.iter().any(|n| n == f.name()))
    {
        let package = file.package();
        for message in &file.message_type {
            message_facts(
                &format!("{package}.{}", message.name()),
                message,
                &mut facts,
            );
        }
        for definition in &file.enum_type {
            enum_facts(
                &format!("{package}.{}", definition.name()),
                definition,
                &mut facts,
            );
        }
        for service in &file.service {
            let full = format!("{package}.{}", service.name());
            facts.insert(format!("service {full}"));
            for method in &service.method {
                let stream = |yes: bool| if yes { "stream " } else { "" };
                facts.insert(format!(
                    "rpc {full}.{}({}{}) returns ({}{})",
                    method.name(),
                    stream(method.client_streaming()),
                    method.input_type().trim_start_matches('.'),
                    stream(method.server_streaming()),
                    method.output_type().trim_start_matches('.'),
                ));
            }
        }
    }
    facts
}

fn official_facts() -> BTreeSet<String> {
    FIXTURE
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_definition_matches_the_official_one() {
    let official = official_facts();
    let differing: Vec<String> = our_facts().difference(&official).cloned().collect();
    assert!(
        differing.is_empty(),
        "definitions in proto/ that differ from xmtp/proto (or are not in it):\n{}",
        differing.join("\n")
    );
}

/// The facts that issue 12 found wrong, each required to be defined (not
/// merely absent) by us.
#[test]
fn corrected_definitions_are_present() {
    let ours = our_facts();
    let required = [
        "value xmtp.mls.message_contents.PermissionsUpdatePolicy.PermissionsBasePolicy.PERMISSIONS_BASE_POLICY_UNSPECIFIED = 0",
        "value xmtp.mls.message_contents.PermissionsUpdatePolicy.PermissionsBasePolicy.PERMISSIONS_BASE_POLICY_DENY = 1",
        "value xmtp.mls.message_contents.PermissionsUpdatePolicy.PermissionsBasePolicy.PERMISSIONS_BASE_POLICY_ALLOW_IF_ADMIN = 2",
        "value xmtp.mls.message_contents.PermissionsUpdatePolicy.PermissionsBasePolicy.PERMISSIONS_BASE_POLICY_ALLOW_IF_SUPER_ADMIN = 3",
        "field xmtp.mls.message_contents.PolicySet.add_admin_policy = 4 singular xmtp.mls.message_contents.PermissionsUpdatePolicy",
        "field xmtp.mls.message_contents.PolicySet.remove_admin_policy = 5 singular xmtp.mls.message_contents.PermissionsUpdatePolicy",
        "value xmtp.mls.message_contents.WelcomeWrapperAlgorithm.WELCOME_WRAPPER_ALGORITHM_SYMMETRIC_KEY = 3",
        "field xmtp.mls.api.v1.WelcomeMetadata.message_cursor = 1 singular uint64",
        "value xmtp.mls.message_contents.WelcomePointeeEncryptionAeadType.WELCOME_POINTEE_ENCRYPTION_AEAD_TYPE_CHACHA20_POLY1305 = 3",
        "field xmtp.mls.message_contents.WelcomePointeeEncryptionAeadTypesExtension.supported_aead_types = 1 repeated xmtp.mls.message_contents.WelcomePointeeEncryptionAeadType",
        "field xmtp.xmtpv4.envelopes.ClientEnvelope.payer_report = 6 oneof payload xmtp.xmtpv4.envelopes.PayerReport",
        "field xmtp.xmtpv4.envelopes.ClientEnvelope.payer_report_attestation = 7 oneof payload xmtp.xmtpv4.envelopes.PayerReportAttestation",
        "field xmtp.identity.associations.LegacyDelegatedSignature.delegated_key = 1 singular xmtp.message_contents.SignedPublicKey",
    ];
    assert_defined(&ours, &required);
}

/// The streaming RPCs (issue 14), each required to be defined: a node or
/// client that only has them half would still pass the first test.
#[test]
fn stream_definitions_are_present() {
    let ours = our_facts();
    let required = [
        "rpc xmtp.xmtpv4.message_api.QueryApi.SubscribeTopics(xmtp.xmtpv4.message_api.SubscribeTopicsRequest) returns (stream xmtp.xmtpv4.message_api.SubscribeTopicsResponse)",
        "rpc xmtp.xmtpv4.message_api.ReplicationApi.SubscribeTopics(xmtp.xmtpv4.message_api.SubscribeTopicsRequest) returns (stream xmtp.xmtpv4.message_api.SubscribeTopicsResponse)",
        "field xmtp.xmtpv4.message_api.SubscribeTopicsRequest.TopicFilter.last_seen = 2 singular xmtp.xmtpv4.envelopes.Cursor",
        "field xmtp.xmtpv4.message_api.SubscribeTopicsResponse.status_update = 2 oneof response xmtp.xmtpv4.message_api.SubscribeTopicsResponse.StatusUpdate",
        "value xmtp.xmtpv4.message_api.SubscribeTopicsResponse.SubscriptionStatus.SUBSCRIPTION_STATUS_CATCHUP_COMPLETE = 2",
        "rpc xmtp.mls.api.v1.MlsApi.SubscribeGroupMessages(xmtp.mls.api.v1.SubscribeGroupMessagesRequest) returns (stream xmtp.mls.api.v1.GroupMessage)",
        "rpc xmtp.mls.api.v1.MlsApi.SubscribeWelcomeMessages(xmtp.mls.api.v1.SubscribeWelcomeMessagesRequest) returns (stream xmtp.mls.api.v1.WelcomeMessage)",
        "field xmtp.mls.api.v1.SubscribeGroupMessagesRequest.Filter.id_cursor = 2 singular uint64",
    ];
    assert_defined(&ours, &required);
}

/// Fails with every fact of `required` that `ours` does not define.
fn assert_defined(ours: &BTreeSet<String>, required: &[&str]) {
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|fact| !ours.contains(*fact))
        .collect();
    assert!(
        missing.is_empty(),
        "not defined in proto/:\n{}",
        missing.join("\n")
    );
}
