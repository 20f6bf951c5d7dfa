//! Following a write with the measurement of what the other side sees.
//!
//! With visibility on, every `identity.create`, `group.add_members` and
//! `message.send` that succeeds is followed by `identity.visible`,
//! `member.visible` or `message.visible`: an operation of its own, through
//! the same layer, whose clock starts when the write started. A [`Follow`]
//! is what the workload knows before the write (who receives, what was
//! sent); [`Follow::op`] adds what only the write's result tells.

use std::sync::Arc;
use std::time::Instant;

use crate::client::{MessageReceiver, Op, OpResult, WelcomeInbox};

/// The visibility measurement a write will be followed by.
#[derive(Debug)]
pub enum Follow {
    /// The group's receiver must decrypt `text`.
    Message {
        /// The member reading the group by stream.
        receiver: Arc<MessageReceiver>,
        /// The text sent.
        text: String,
    },
    /// The first newcomer must join the group from its welcome.
    Member {
        /// The newcomer's welcomes.
        newcomer: Arc<WelcomeInbox>,
    },
    /// Another connection must read the new inbox.
    Identity,
}

impl Follow {
    /// The measurement of a write that started at `since` and returned
    /// `result`; `None` if the result is not the write's.
    pub fn op(self, since: Instant, result: &OpResult) -> Option<Op> {
        match (self, result) {
            (Self::Message { receiver, text }, OpResult::Sent(_)) => Some(Op::AwaitMessage {
                since,
                receiver,
                text,
            }),
            (Self::Member { newcomer }, OpResult::Added(report)) => Some(Op::AwaitMember {
                since,
                newcomer,
                group_id: report.group_id,
                epoch: report.epoch,
            }),
            (Self::Identity, OpResult::Identity(identity)) => Some(Op::AwaitIdentity {
                since,
                address: identity.address().to_owned(),
                inbox_id: identity.inbox_id().to_owned(),
                installation: identity.installation_key(),
            }),
            _ => None,
        }
    }
}
