//! The other side of an addition: a newcomer finding its welcome.
//!
//! A [`WelcomeInbox`] is one installation's view of the welcomes addressed
//! to it, read in one of two ways ([`WelcomeWatch`]): by stream, as an
//! app's conversation stream does (a task reads the welcome topic and
//! joins each group as its welcome comes), or by polling, as XMTP's
//! monitor does (each check fetches the welcomes after the last one read
//! and joins them). Either way each group joined is noted with its epoch
//! and the instant it was joined, and its MLS state is released at once:
//! the newcomer is there to be measured, not to take part.
//!
//! One newcomer may be added to several groups at once, so a check may
//! join welcomes that another measurement is waiting for; they are noted
//! for it, not lost.

use std::str::FromStr;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_stream::StreamExt;

use super::arrivals::Arrivals;
use super::group::join_one;
use super::phase::{run, run_sync, Phase};
use super::subscribe::Resubscribe;
use super::visibility::await_visible;
use super::{welcomes, Client, ClientError, Identity, WelcomeEntry, XmtpApi};

/// How a newcomer learns of its welcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WelcomeWatch {
    /// A subscription to its welcome topic.
    Stream,
    /// Fetching new welcomes at each check.
    #[default]
    Poll,
}

impl WelcomeWatch {
    /// `stream` or `poll`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Poll => "poll",
        }
    }
}

impl FromStr for WelcomeWatch {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "stream" => Ok(Self::Stream),
            "poll" => Ok(Self::Poll),
            other => Err(format!("`{other}` is neither `stream` nor `poll`")),
        }
    }
}

/// One installation's welcomes, and the groups they let it join.
#[derive(Debug)]
pub struct WelcomeInbox {
    identity: Arc<Identity>,
    /// Group id → the epoch joined at.
    joined: Arc<Arrivals<[u8; 16], u64>>,
    source: Source,
}

#[derive(Debug)]
enum Source {
    /// The position of the last welcome fetched.
    Poll(tokio::sync::Mutex<u64>),
    /// The task reading the stream.
    Stream(JoinHandle<()>),
}

impl Drop for WelcomeInbox {
    fn drop(&mut self) {
        if let Source::Stream(task) = &self.source {
            task.abort();
        }
    }
}

impl WelcomeInbox {
    /// The installation's owner.
    pub fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }
}

impl<A: XmtpApi> Client<A> {
    /// Starts watching `identity`'s welcomes, from the first.
    pub fn welcome_inbox(&self, identity: Arc<Identity>, watch: WelcomeWatch) -> WelcomeInbox {
        let joined = Arc::new(Arrivals::new(2 * self.config.visibility_timeout));
        let source = match watch {
            WelcomeWatch::Poll => Source::Poll(tokio::sync::Mutex::new(0)),
            WelcomeWatch::Stream => Source::Stream(tokio::spawn(watch_forever(
                self.clone(),
                identity.clone(),
                joined.clone(),
            ))),
        };
        WelcomeInbox {
            identity,
            joined,
            source,
        }
    }

    /// Waits until `inbox`'s installation has joined `group_id` from its
    /// welcome, and checks it joined at `epoch`; returns when it joined.
    pub async fn await_member(
        &self,
        inbox: &WelcomeInbox,
        group_id: [u8; 16],
        epoch: u64,
    ) -> Result<std::time::Instant, ClientError> {
        let deadline = self.config.visibility_timeout;
        let (joined_epoch, at) = match &inbox.source {
            Source::Stream(_) => inbox.joined.wait(&group_id, "welcome", deadline).await?,
            Source::Poll(cursor) => {
                let (cursor, group_id) = (cursor, &group_id);
                let check = move || async move {
                    if let Some(found) = inbox.joined.take(group_id) {
                        return Ok(Some(found));
                    }
                    let mut cursor = cursor.lock().await;
                    let key = inbox.identity.installation_key();
                    for entry in self.api.query_welcomes(key, *cursor).await? {
                        *cursor = (*cursor).max(entry.sequence_id);
                        self.join_welcome(&inbox.identity, &inbox.joined, entry)
                            .await;
                    }
                    Ok(inbox.joined.take(group_id))
                };
                run(
                    Phase::WelcomeAwaitVisible,
                    await_visible("welcome", deadline, check),
                )
                .await?
            }
        };
        if joined_epoch != epoch {
            return Err(ClientError::Protocol(format!(
                "the newcomer joined at epoch {joined_epoch}, but the addition's commit made epoch {epoch}"
            )));
        }
        Ok(at.into_std())
    }

    /// Opens and joins one welcome, notes the group, and forgets it. A
    /// welcome that does not open or join is skipped, as libxmtp does.
    async fn join_welcome(
        &self,
        identity: &Arc<Identity>,
        joined: &Arrivals<[u8; 16], u64>,
        entry: WelcomeEntry,
    ) {
        let group = async {
            let (welcome, cursor) = run(
                Phase::WelcomeOpen,
                welcomes::open(&*self.api, identity, entry.welcome.version),
            )
            .await?;
            run_sync(Phase::MlsGroupJoin, || join_one(identity, &welcome, cursor))
        };
        match group.await {
            Ok(group) => {
                let (id, epoch) = (group.group_id(), group.epoch());
                if let Err(error) = group.forget() {
                    tracing::warn!(%error, "cannot release a joined group's state");
                }
                joined.record(id, epoch);
            }
            Err(error) => tracing::warn!(%error, "skipping a welcome that cannot be joined"),
        }
    }
}

/// Reads the welcome stream and joins every group, again after each end.
async fn watch_forever<A: XmtpApi>(
    client: Client<A>,
    identity: Arc<Identity>,
    joined: Arc<Arrivals<[u8; 16], u64>>,
) {
    let mut cursor = 0;
    let mut again = Resubscribe::new("a newcomer's welcome stream");
    loop {
        let ended = async {
            let key = identity.installation_key();
            let mut stream = client.api.subscribe_welcomes(key, cursor).await?;
            while let Some(entry) = stream.next().await {
                let entry = entry?;
                cursor = cursor.max(entry.sequence_id);
                client.join_welcome(&identity, &joined, entry).await;
            }
            Ok::<_, ClientError>(())
        };
        again.after(ended.await).await;
    }
}
