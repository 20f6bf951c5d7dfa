//! The other side of a message: a member that reads its group by stream.
//!
//! A [`MessageReceiver`] is what a member's app does all day: hold a
//! subscription to the group's topic and decrypt each message as it
//! comes. It runs in a task of its own, as an app's stream consumer does,
//! and notes when each text was decrypted, so `message.visible` can end
//! at that instant rather than when someone asked. If the node ends the
//! stream (a restart, an injected fault), it subscribes again from the
//! last message it read, as libxmtp's streams do.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_stream::StreamExt;

use super::arrivals::Arrivals;
use super::message::open_message;
use super::subscribe::Resubscribe;
use super::{Client, ClientError, Group, XmtpApi};

/// A member reading one group by stream; stops when dropped.
#[derive(Debug)]
pub struct MessageReceiver {
    texts: Arc<Arrivals<String, ()>>,
    task: JoinHandle<()>,
}

impl Drop for MessageReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MessageReceiver {
    /// Waits up to `deadline` until `text` has been decrypted; returns
    /// when it was.
    pub async fn wait_for(
        &self,
        text: &str,
        deadline: Duration,
    ) -> Result<std::time::Instant, ClientError> {
        let (_, at) = self
            .texts
            .wait(&text.to_owned(), "message", deadline)
            .await?;
        Ok(at.into_std())
    }
}

impl<A: XmtpApi> Client<A> {
    /// Starts reading `group` (as the member it belongs to) by stream,
    /// from the last message the member read.
    pub fn receive_by_stream(&self, group: Group) -> MessageReceiver {
        // Arrivals are kept as long as a send may wait for its own.
        let texts = Arc::new(Arrivals::new(2 * self.config.visibility_timeout));
        let task = tokio::spawn(read_forever(self.clone(), group, texts.clone()));
        MessageReceiver { texts, task }
    }
}

/// Subscribes, decrypts and notes every text, again after each end.
async fn read_forever<A: XmtpApi>(
    client: Client<A>,
    mut group: Group,
    texts: Arc<Arrivals<String, ()>>,
) {
    let mut again = Resubscribe::new("a receiver's group stream");
    loop {
        again
            .after(read_until_end(&client, &mut group, &texts).await)
            .await;
    }
}

async fn read_until_end<A: XmtpApi>(
    client: &Client<A>,
    group: &mut Group,
    texts: &Arrivals<String, ()>,
) -> Result<(), ClientError> {
    let mut stream = client
        .api
        .subscribe_messages(group.group_id(), &group.message_cursor)
        .await?;
    while let Some(message) = stream.next().await {
        texts.record(open_message(group, &message?)?, ());
    }
    Ok(())
}
