//! XMTP's framing of what an application message carries.
//!
//! The MLS plaintext is a `PlaintextEnvelope` whose content is an
//! `EncodedContent`: a payload with a content type (`xmtp.org/text` 1.0
//! for text) and the parameters to decode it (`encoding=UTF-8`). The
//! envelope's idempotency key (libxmtp puts the send time there) makes two
//! equal texts encrypt to messages that can be told apart.

use std::collections::HashMap;

use prost::Message;

use super::MlsError;
use crate::proto::xmtp::mls::message_contents::plaintext_envelope::{Content, V1};
use crate::proto::xmtp::mls::message_contents::{ContentTypeId, EncodedContent, PlaintextEnvelope};

/// The authority and type of plain text.
const TEXT_AUTHORITY: &str = "xmtp.org";
const TEXT_TYPE: &str = "text";

/// The plaintext of an application message carrying `text`.
pub fn encode_text(text: &str, idempotency_key: &str) -> Vec<u8> {
    let content = EncodedContent {
        r#type: Some(ContentTypeId {
            authority_id: TEXT_AUTHORITY.to_owned(),
            type_id: TEXT_TYPE.to_owned(),
            version_major: 1,
            version_minor: 0,
        }),
        parameters: HashMap::from([("encoding".to_owned(), "UTF-8".to_owned())]),
        fallback: None,
        compression: None,
        content: text.as_bytes().to_vec(),
    };
    PlaintextEnvelope {
        content: Some(Content::V1(V1 {
            content: content.encode_to_vec(),
            idempotency_key: idempotency_key.to_owned(),
        })),
    }
    .encode_to_vec()
}

/// The text an application message's plaintext carries; anything else
/// (another content type, compression, a malformed envelope) is refused.
pub fn decode_text(plaintext: &[u8]) -> Result<String, MlsError> {
    let bad = |why: &str| MlsError::InvalidMessage(format!("message content: {why}"));
    let envelope =
        PlaintextEnvelope::decode(plaintext).map_err(|_| bad("not a PlaintextEnvelope"))?;
    let Some(Content::V1(v1)) = envelope.content else {
        return Err(bad("not a version 1 envelope"));
    };
    let content =
        EncodedContent::decode(v1.content.as_slice()).map_err(|_| bad("not EncodedContent"))?;
    let is_text = content.r#type.as_ref().is_some_and(|t| {
        t.authority_id == TEXT_AUTHORITY && t.type_id == TEXT_TYPE && t.version_major == 1
    });
    if !is_text || content.compression.is_some() {
        return Err(bad("not uncompressed xmtp.org/text 1.x"));
    }
    String::from_utf8(content.content).map_err(|_| bad("text is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_survives_the_framing_and_other_content_is_refused() {
        let plaintext = encode_text("gm ☀", "1700000000000000000");
        assert_eq!(decode_text(&plaintext).unwrap(), "gm ☀");
        assert!(decode_text(b"\xff\x00").is_err());
        let mut other = EncodedContent::decode(
            match PlaintextEnvelope::decode(plaintext.as_slice())
                .unwrap()
                .content
            {
                Some(Content::V1(v1)) => v1.content,
                None => unreachable!("encoded with content"),
            }
            .as_slice(),
        )
        .unwrap();
        other.r#type.as_mut().unwrap().type_id = "reaction".into();
        let wrapped = PlaintextEnvelope {
            content: Some(Content::V1(V1 {
                content: other.encode_to_vec(),
                idempotency_key: String::new(),
            })),
        };
        assert!(decode_text(&wrapped.encode_to_vec()).is_err());
    }
}
