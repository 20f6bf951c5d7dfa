//! Groups for `group.add_members`, lent out one operation at a time.
//!
//! Additions to one group cannot overlap (each is a commit on the group's
//! current epoch), so every addition borrows a group no other operation
//! holds. A group takes a few additions and is then replaced in the
//! background by a fresh one of the configured size: group sizes stay
//! what the user asked for, and the replacement's cost stays outside the
//! measured operations.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use crate::client::{Client, ClientError, Identity, XmtpApi};
use crate::client::{Op, SharedGroup};

use super::scenario::{retrying, ADDS_PER_GROUP};

/// How long an addition waits for a group before it is skipped.
pub(crate) const GROUP_WAIT: Duration = Duration::from_secs(30);

/// The groups a workload adds members to.
pub(crate) struct GroupPool {
    shared: Arc<Shared>,
}

struct Shared {
    ready: Mutex<VecDeque<Pooled>>,
    available: Notify,
    created: AtomicUsize,
    /// Asks the background task for one replacement group.
    replace: mpsc::UnboundedSender<()>,
    recipe: Recipe,
}

/// How every group in the pool is made and grown.
struct Recipe {
    owners: Vec<Arc<Identity>>,
    /// `initial` founding members, then the members added in turns.
    members: Arc<Vec<String>>,
    initial: usize,
    add: usize,
}

struct Pooled {
    group: SharedGroup,
    adds_done: usize,
}

/// A group on loan to one addition.
#[derive(Debug)]
pub struct GroupLease {
    group: SharedGroup,
    adds_done: usize,
    members: Vec<String>,
}

impl GroupLease {
    /// The addition to perform.
    pub(crate) fn op(&self) -> Op {
        Op::AddMembers {
            group: self.group.clone(),
            members: self.members.clone(),
        }
    }
}

impl GroupPool {
    /// Creates `count` groups through `client` and starts the task that
    /// replaces used-up ones.
    pub(crate) async fn fill<A: XmtpApi>(
        client: Client<A>,
        owners: Vec<Arc<Identity>>,
        members: Arc<Vec<String>>,
        initial: usize,
        add: usize,
        count: usize,
    ) -> Result<Self, ClientError> {
        let (replace, requests) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            ready: Mutex::new(VecDeque::with_capacity(count)),
            available: Notify::new(),
            created: AtomicUsize::new(0),
            replace,
            recipe: Recipe {
                owners,
                members,
                initial,
                add,
            },
        });
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let groups: Vec<SharedGroup> = stream::iter(0..count)
            .map(|n| shared.create(&client, n))
            .buffered(8)
            .try_collect()
            .await?;
        for group in groups {
            shared.push(group);
        }
        tokio::spawn(replace_groups(client, Arc::downgrade(&shared), requests));
        Ok(Self { shared })
    }

    /// Groups created so far, replacements included.
    pub(crate) fn created(&self) -> usize {
        self.shared.created.load(Ordering::Relaxed)
    }

    /// Borrows a group, waiting for one if all are busy — but not
    /// forever: if no group frees up within [`GROUP_WAIT`] (replacements
    /// keep failing), `None`.
    pub(crate) async fn take(&self) -> Option<GroupLease> {
        tokio::time::timeout(GROUP_WAIT, self.wait_for_group())
            .await
            .ok()
    }

    async fn wait_for_group(&self) -> GroupLease {
        loop {
            let notified = self.shared.available.notified();
            let next = self.shared.lock().pop_front();
            if let Some(pooled) = next {
                let recipe = &self.shared.recipe;
                let first = recipe.initial + pooled.adds_done * recipe.add;
                return GroupLease {
                    group: pooled.group,
                    adds_done: pooled.adds_done,
                    members: recipe.members[first..first + recipe.add].to_vec(),
                };
            }
            notified.await;
        }
    }

    /// Returns a group after its addition. A group that failed one (its
    /// state may be uncertain) or has taken its share is replaced.
    pub(crate) fn give_back(&self, lease: GroupLease, succeeded: bool) {
        let adds_done = lease.adds_done + 1;
        if succeeded && adds_done < ADDS_PER_GROUP {
            self.shared.lock().push_back(Pooled {
                group: lease.group,
                adds_done,
            });
            self.shared.available.notify_one();
        } else {
            release(lease.group);
            let _ = self.shared.replace.send(());
        }
    }
}

/// Frees a group no operation will touch again: its MLS state leaves the
/// owner's installation. A group someone else still holds is left alone.
pub(crate) fn release(group: SharedGroup) {
    if let Ok(group) = Arc::try_unwrap(group) {
        if let Err(error) = group.into_inner().forget() {
            tracing::debug!(%error, "could not release a group's MLS state");
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Pooled>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, group: SharedGroup) {
        self.lock().push_back(Pooled {
            group,
            adds_done: 0,
        });
        self.available.notify_one();
    }

    async fn create<A: XmtpApi>(
        &self,
        client: &Client<A>,
        n: usize,
    ) -> Result<SharedGroup, ClientError> {
        let recipe = &self.recipe;
        let owner = &recipe.owners[n % recipe.owners.len()];
        let founders = &recipe.members[..recipe.initial];
        let group = retrying(|| client.create_group(owner, founders)).await?;
        self.created.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(tokio::sync::Mutex::new(group)))
    }
}

/// Creates a replacement group for each request, until the pool is gone.
async fn replace_groups<A: XmtpApi>(
    client: Client<A>,
    shared: Weak<Shared>,
    mut requests: mpsc::UnboundedReceiver<()>,
) {
    let mut n = 0;
    // One warning per streak of failures: a target that is down for an
    // hour (under `opmon monitor`) must not log a line a second.
    let mut failing = false;
    while requests.recv().await.is_some() {
        loop {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            n += 1;
            match shared.create(&client, n).await {
                Ok(group) => {
                    shared.push(group);
                    if std::mem::take(&mut failing) {
                        tracing::info!("replacement groups can be created again");
                    }
                    break;
                }
                // The pool went away while this group was being made (the
                // run is over, its target perhaps stopped): nobody needs it.
                Err(_) if Arc::strong_count(&shared) == 1 => return,
                Err(error) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(%error, "could not create a replacement group; retrying every second");
                    }
                    drop(shared);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
