//! Sending an application message, and reading one another member sent.
//!
//! A send frames a short text as XMTP does (a `PlaintextEnvelope` around
//! an `xmtp.org/text` `EncodedContent`), encrypts it to the group's
//! current epoch, publishes it to the group's topic, and ends when the
//! message can be read back there. On V4 application messages go to a
//! node (not the commit chain), so they become readable without the
//! indexer's lag.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::mls::{decode_text, encode_text};

use super::api::AppMessageEntry;
use super::phase::{run, run_sync, Phase};
use super::visibility::await_visible;
use super::{Client, ClientError, Group, XmtpApi};
use crate::topic::COMMITS_ORIGINATOR;

/// What a send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// Size of the published MLS message.
    pub bytes: usize,
    /// The originator that stored it (V3: 0).
    pub originator: u32,
    /// Its position on that originator's sequence.
    pub sequence_id: u64,
}

impl<A: XmtpApi> Client<A> {
    /// Sends `text` to `group` as its owner and waits until the message is
    /// readable on the group's topic.
    pub async fn send_message(
        &self,
        group: &mut Group,
        text: &str,
    ) -> Result<SendReport, ClientError> {
        // libxmtp uses the send time, which also tells equal texts apart.
        let key = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_string();
        let owner = group.owner().clone();
        let data = run_sync(Phase::MessageEncrypt, || {
            group
                .state
                .encrypt_message(owner.mls(), &encode_text(text, &key))
        })?;
        let group_id = group.group_id();
        let published = run(
            Phase::MessagePublish,
            self.api.publish_message(group_id, data.clone()),
        )
        .await?;
        // Read from what this member has seen, past the commits it applied;
        // when the network said where the message went, from just before it.
        let mut cursor = group.message_cursor.clone();
        let floor = cursor.entry(COMMITS_ORIGINATOR).or_insert(0);
        *floor = (*floor).max(group.last_commit());
        if let Some((originator, sequence_id)) = published {
            let from = cursor.entry(originator).or_insert(0);
            *from = (*from).max(sequence_id.saturating_sub(1));
        }
        let cursor = &cursor;
        let data = &data;
        let found = run(
            Phase::MessageAwaitVisible,
            await_visible("message", self.config.visibility_timeout, || async move {
                let messages = self.api.query_messages(group_id, cursor).await?;
                Ok(messages.into_iter().find(|m| &m.data == data))
            }),
        )
        .await?;
        advance(group, &found);
        Ok(SendReport {
            bytes: data.len(),
            originator: found.originator,
            sequence_id: found.sequence_id,
        })
    }

    /// Reads the application messages other members sent to `group` since
    /// this member last read, and decrypts them to their texts.
    pub async fn receive_messages(&self, group: &mut Group) -> Result<Vec<String>, ClientError> {
        let messages = self
            .api
            .query_messages(group.group_id(), &group.message_cursor)
            .await?;
        messages
            .iter()
            .map(|message| open_message(group, message))
            .collect()
    }
}

/// Moves `group`'s read position past `message` and decrypts its text.
pub(super) fn open_message(
    group: &mut Group,
    message: &AppMessageEntry,
) -> Result<String, ClientError> {
    advance(group, message);
    let owner = group.owner().clone();
    let plaintext = group.state.decrypt_message(owner.mls(), &message.data)?;
    Ok(decode_text(&plaintext)?)
}

/// Moves `group`'s read position past `message`.
fn advance(group: &mut Group, message: &AppMessageEntry) {
    let seen = group.message_cursor.entry(message.originator).or_insert(0);
    *seen = (*seen).max(message.sequence_id);
}
