//! What a benchmark does: which operations, in what proportions, on what
//! data.
//!
//! A [`Scenario`] names the traffic; [`Workload::provision`] creates what
//! it needs before the clock starts (the members to add, the groups to add
//! them to, the addresses to look up), and [`Workload::next_op`] hands out
//! one operation at a time. Provisioning goes through the plain client,
//! not the measured layer, so it never appears in the results.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tower::{Service, ServiceExt};

use crate::client::{Client, ClientError, Identity, XmtpApi};
use crate::client::{
    MessageReceiver, Op, OpKind, OpResult, SharedGroup, WelcomeInbox, WelcomeWatch,
};

use super::groups::{release, GroupLease, GroupPool};
use super::visibility::Follow;

/// The traffic a benchmark sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// `identity.create` only.
    Identity,
    /// `group.create` with the configured initial size.
    Group,
    /// `group.add_members` into existing groups.
    AddMembers,
    /// `identity.lookup` of registered addresses: a cheap read.
    Lookup,
    /// `message.send` into groups of the configured size.
    Messages,
    /// Several operations, drawn at random in proportion to the weights.
    Mix(Mix),
}

impl Scenario {
    /// The names `--scenario` accepts.
    pub const NAMES: [&'static str; 6] = [
        "identity",
        "group",
        "add-members",
        "lookup",
        "messages",
        "mix",
    ];

    /// The scenario's name as `--scenario` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Group => "group",
            Self::AddMembers => "add-members",
            Self::Lookup => "lookup",
            Self::Messages => "messages",
            Self::Mix(_) => "mix",
        }
    }

    /// Operation weights: one operation at weight 1 for a single-operation
    /// scenario.
    pub fn weights(&self) -> Vec<(OpKind, u32)> {
        match self {
            Self::Identity => vec![(OpKind::IdentityCreate, 1)],
            Self::Group => vec![(OpKind::GroupCreate, 1)],
            Self::AddMembers => vec![(OpKind::GroupAddMembers, 1)],
            Self::Lookup => vec![(OpKind::IdentityLookup, 1)],
            Self::Messages => vec![(OpKind::MessageSend, 1)],
            Self::Mix(mix) => mix.0.clone(),
        }
    }

    /// Reads a `--scenario` name, taking the weights of `mix` from `mix`.
    pub fn parse(name: &str, mix: Option<Mix>) -> Result<Self, ScenarioError> {
        match name {
            "identity" => Ok(Self::Identity),
            "group" => Ok(Self::Group),
            "add-members" => Ok(Self::AddMembers),
            "lookup" => Ok(Self::Lookup),
            "messages" => Ok(Self::Messages),
            "mix" => Ok(Self::Mix(mix.unwrap_or_default())),
            other => Err(ScenarioError(format!(
                "unknown scenario `{other}` (expected one of {})",
                Scenario::NAMES.join(", ")
            ))),
        }
    }
}

/// Operation weights for the `mix` scenario, e.g. `identity=2,group=1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix(Vec<(OpKind, u32)>);

impl Default for Mix {
    /// The three operations the monitor exists for, in equal parts.
    fn default() -> Self {
        Self(vec![
            (OpKind::IdentityCreate, 1),
            (OpKind::GroupCreate, 1),
            (OpKind::GroupAddMembers, 1),
        ])
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (kind, weight)) in self.0.iter().enumerate() {
            let separator = if i == 0 { "" } else { "," };
            write!(f, "{separator}{}={weight}", short_name(*kind))?;
        }
        Ok(())
    }
}

/// The operations `--mix` (and `opmon monitor --every`) can draw, by
/// the short names they go by there.
pub const SHORT_NAMES: [(&str, OpKind); 5] = [
    ("identity", OpKind::IdentityCreate),
    ("group", OpKind::GroupCreate),
    ("add-members", OpKind::GroupAddMembers),
    ("lookup", OpKind::IdentityLookup),
    ("message", OpKind::MessageSend),
];

/// The short name of a drawable operation, or else its full name
/// (visibility follows writes; nothing draws it).
pub fn short_name(kind: OpKind) -> &'static str {
    SHORT_NAMES
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or(kind.as_str(), |(name, _)| name)
}

/// The drawable operation a short name stands for.
pub fn from_short_name(name: &str) -> Option<OpKind> {
    SHORT_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, kind)| *kind)
}

impl FromStr for Mix {
    type Err = ScenarioError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut weights: Vec<(OpKind, u32)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || {
                ScenarioError(format!(
                    "mix entry `{part}` is not NAME=WEIGHT with NAME one of identity, group, add-members, lookup, message and WEIGHT a whole number"
                ))
            };
            let (name, weight) = part.split_once('=').ok_or_else(bad)?;
            let kind = from_short_name(name.trim()).ok_or_else(bad)?;
            let weight: u32 = weight.trim().parse().map_err(|_| bad())?;
            if weights.iter().any(|(k, _)| *k == kind) {
                return Err(ScenarioError(format!("mix names `{}` twice", name.trim())));
            }
            if weight > 0 {
                weights.push((kind, weight));
            }
        }
        if weights.is_empty() {
            return Err(ScenarioError(format!(
                "mix `{spec}` gives no operation a weight above zero"
            )));
        }
        Ok(Self(weights))
    }
}

/// A scenario or mix that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(String);

/// What a workload is asked to do.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// The traffic.
    pub scenario: Scenario,
    /// Members of a group at creation, the creator included (`group`), and
    /// of the groups members are added to (`add-members`).
    pub group_size: usize,
    /// Inboxes added per `group.add_members`.
    pub add: usize,
    /// Groups kept ready for additions: at least the number of additions
    /// that can run at once.
    pub groups: usize,
    /// Seeds the choice of operations and lookup addresses.
    pub seed: u64,
    /// Follow each write with the measurement of what the other side sees
    /// (see [`Follow`]).
    pub visibility: bool,
    /// How newcomers learn of their welcomes, for `member.visible`.
    pub welcomes: WelcomeWatch,
}

/// How many additions a group takes before it is replaced, so groups stay
/// near their configured size instead of growing for the whole run.
pub(crate) const ADDS_PER_GROUP: usize = 4;

/// Identities that lookups cycle through.
const LOOKUP_ADDRESSES: usize = 16;

/// What provisioning created, reported apart from the measurements.
#[derive(Debug, Clone, Default)]
pub struct Provisioning {
    /// Identities created.
    pub identities: usize,
    /// Groups created before the run.
    pub groups: usize,
    /// Groups created during the run to replace used-up ones.
    pub replacement_groups: usize,
    /// How long provisioning took before the run.
    pub duration: Duration,
}

/// The data a scenario works on, and the source of its operations.
pub struct Workload {
    choice: Mutex<(StdRng, WeightedIndex<u32>)>,
    kinds: Vec<OpKind>,
    owners: Vec<Arc<Identity>>,
    /// Inbox ids: the first `group_size - 1` are a new group's members, the
    /// rest are added to groups in turns.
    members: Arc<Vec<String>>,
    group_size: usize,
    addresses: Vec<String>,
    groups: Option<GroupPool>,
    /// Groups messages are sent to, each by its owner.
    chats: Vec<SharedGroup>,
    /// With visibility on: per chat, another member reading it by stream.
    receivers: Vec<Arc<MessageReceiver>>,
    /// With visibility on: the welcomes of each inbox that additions add.
    newcomers: HashMap<String, Arc<WelcomeInbox>>,
    visibility: bool,
    skipped: AtomicU64,
    provisioning: Provisioning,
}

impl fmt::Debug for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workload")
            .field("kinds", &self.kinds)
            .field("provisioning", &self.provisioning)
            .finish_non_exhaustive()
    }
}

/// One operation to run, with what must happen once it has.
#[derive(Debug)]
pub struct NextOp {
    /// The operation.
    pub op: Op,
    /// A group on loan for the operation; give it back with
    /// [`Workload::finish`].
    pub lease: Option<GroupLease>,
    /// The visibility measurement to follow it with, if any.
    pub follow: Option<Follow>,
}

impl Workload {
    /// Creates everything `config` needs through `client`.
    pub async fn provision<A: XmtpApi>(
        client: &Client<A>,
        config: &WorkloadConfig,
    ) -> Result<Self, ClientError> {
        let started = Instant::now();
        let weights = config.scenario.weights();
        let needs = |kind| weights.iter().any(|(k, _)| *k == kind);
        let (creates, adds, lookups, sends) = (
            needs(OpKind::GroupCreate),
            needs(OpKind::GroupAddMembers),
            needs(OpKind::IdentityLookup),
            needs(OpKind::MessageSend),
        );
        let initial = config.group_size.saturating_sub(1);
        let mut members = 0;
        if creates || adds || sends {
            members = initial;
        }
        if adds {
            members += config.add * ADDS_PER_GROUP;
        }
        let owners = if creates || adds || sends { 4 } else { 0 };
        let lookup_count = if lookups { LOOKUP_ADDRESSES } else { 0 };

        let identities = create_identities(client, owners + members + lookup_count).await?;
        let (owners, rest) = identities.split_at(owners);
        let (member_ids, lookup_ids) = rest.split_at(members);
        let members: Arc<Vec<String>> = Arc::new(
            member_ids
                .iter()
                .map(|identity| identity.inbox_id().to_owned())
                .collect(),
        );
        let groups = if adds {
            Some(
                GroupPool::fill(
                    client.clone(),
                    owners.to_vec(),
                    members.clone(),
                    initial,
                    config.add,
                    config.groups.max(1),
                )
                .await?,
            )
        } else {
            None
        };

        let chats = if sends {
            create_chats(
                client,
                owners,
                &members[..initial],
                config.groups.clamp(1, MAX_CHATS),
            )
            .await?
        } else {
            Vec::new()
        };
        let (mut receivers, mut newcomers) = (Vec::new(), HashMap::new());
        if config.visibility && sends {
            if initial == 0 {
                return Err(ClientError::Usage(
                    "message.visible needs a member besides the sender: a group size of at least 2"
                        .into(),
                ));
            }
            receivers = listen(client, &member_ids[0], &chats).await?;
        }
        if config.visibility && adds {
            for newcomer in &member_ids[initial..] {
                let inbox = client.welcome_inbox(newcomer.clone(), config.welcomes);
                newcomers.insert(newcomer.inbox_id().to_owned(), Arc::new(inbox));
            }
        }

        let kinds: Vec<OpKind> = weights.iter().map(|(kind, _)| *kind).collect();
        let index = WeightedIndex::new(weights.iter().map(|(_, w)| *w))
            .map_err(|e| ClientError::Usage(format!("operation weights: {e}")))?;
        let provisioning = Provisioning {
            identities: identities.len(),
            groups: groups.as_ref().map_or(0, GroupPool::created) + chats.len(),
            replacement_groups: 0,
            duration: started.elapsed(),
        };
        Ok(Self {
            choice: Mutex::new((StdRng::seed_from_u64(config.seed), index)),
            kinds,
            owners: owners.to_vec(),
            members,
            group_size: config.group_size,
            addresses: lookup_ids
                .iter()
                .map(|identity| identity.address().to_owned())
                .collect(),
            groups,
            chats,
            receivers,
            newcomers,
            visibility: config.visibility,
            skipped: AtomicU64::new(0),
            provisioning,
        })
    }

    /// What provisioning created.
    pub fn provisioning(&self) -> Provisioning {
        let mut report = self.provisioning.clone();
        if let Some(groups) = &self.groups {
            // The pool made every group but the chats.
            let pooled = report.groups - self.chats.len();
            report.replacement_groups = groups.created() - pooled;
        }
        report
    }

    /// The operation for the `ticket`-th slot of the run. Waits only when
    /// an addition needs a group and every group is busy or being
    /// replaced; `None` if none came (see [`skipped`](Self::skipped)).
    pub async fn next_op(&self, ticket: u64) -> Option<NextOp> {
        let (kind, pick) = {
            let mut choice = self.choice.lock().unwrap_or_else(|p| p.into_inner());
            let (rng, index) = &mut *choice;
            let kind = self.kinds[index.sample(rng)];
            (kind, ticket as usize)
        };
        let (op, lease) = match kind {
            OpKind::GroupCreate => (
                Op::CreateGroup {
                    owner: self.owners[pick % self.owners.len()].clone(),
                    members: self.members[..self.group_size.saturating_sub(1)].to_vec(),
                },
                None,
            ),
            OpKind::GroupAddMembers => {
                let lease = match &self.groups {
                    Some(pool) => pool.take().await,
                    None => None,
                };
                let Some(lease) = lease else {
                    if self.skipped.fetch_add(1, Ordering::Relaxed) == 0 {
                        tracing::warn!(
                            "an addition found no group to add to within {:?}: replacement groups are failing; such additions are skipped and counted",
                            super::groups::GROUP_WAIT
                        );
                    }
                    return None;
                };
                (lease.op(), Some(lease))
            }
            OpKind::IdentityLookup => (
                Op::LookupIdentity {
                    address: self.addresses[pick % self.addresses.len()].clone(),
                },
                None,
            ),
            OpKind::MessageSend => (
                Op::SendMessage {
                    group: self.chats[pick % self.chats.len()].clone(),
                    text: format!("opmon message {ticket}"),
                },
                None,
            ),
            _ => (Op::CreateIdentity, None),
        };
        let follow = self.follow(&op, pick);
        Some(NextOp { op, lease, follow })
    }

    /// The visibility measurement that follows `op`, if it is on.
    fn follow(&self, op: &Op, pick: usize) -> Option<Follow> {
        if !self.visibility {
            return None;
        }
        match op {
            Op::SendMessage { text, .. } => Some(Follow::Message {
                receiver: self.receivers[pick % self.receivers.len()].clone(),
                text: text.clone(),
            }),
            Op::AddMembers { members, .. } => Some(Follow::Member {
                newcomer: self.newcomers.get(members.first()?)?.clone(),
            }),
            Op::CreateIdentity => Some(Follow::Identity),
            _ => None,
        }
    }

    /// Runs `next` through `service`, gives back what it borrowed, then
    /// runs the visibility measurement that follows it, if any (its
    /// outcome goes to the layer's observers like any other). Returns the
    /// operation's own result.
    pub async fn run<S>(&self, service: S, next: NextOp) -> Result<(), S::Error>
    where
        S: Service<Op, Response = OpResult> + Clone,
    {
        let since = Instant::now();
        let result = service.clone().oneshot(next.op).await;
        let follow_up = match (next.follow, &result) {
            (Some(follow), Ok(result)) => follow.op(since, result),
            _ => None,
        };
        let (result, error) = match result {
            Ok(result) => (Some(result), Ok(())),
            Err(error) => (None, Err(error)),
        };
        // The group goes back first: other additions need not wait while
        // the newcomer looks for its welcome.
        self.finish(next.lease, result);
        if let Some(op) = follow_up {
            let _ = service.oneshot(op).await;
        }
        error
    }

    /// Additions skipped because no group became available in time.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Ends an operation: returns its group on loan, and releases what it
    /// created that nothing will use again (`result` is `None` if it
    /// failed). A created group's MLS state would otherwise stay in its
    /// owner's installation for the whole run; a created identity is
    /// freed when its last handle (the result) is dropped here.
    pub fn finish(&self, lease: Option<GroupLease>, result: Option<OpResult>) {
        if let (Some(lease), Some(pool)) = (lease, &self.groups) {
            pool.give_back(lease, result.is_some());
        }
        if let Some(OpResult::Group(group)) = result {
            release(group);
        }
    }
}

/// Groups messages go to at most: sends to one group take turns (each
/// moves the sender's ratchet), so there are as many as can be sent to at
/// once, up to this.
const MAX_CHATS: usize = 64;

/// Creates `count` groups of `members`, owned by `owners` in turns.
async fn create_chats<A: XmtpApi>(
    client: &Client<A>,
    owners: &[Arc<Identity>],
    members: &[String],
    count: usize,
) -> Result<Vec<SharedGroup>, ClientError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    stream::iter(0..count)
        .map(|i| retrying(move || client.create_group(&owners[i % owners.len()], members)))
        .buffered(PROVISIONING_CONCURRENCY)
        .map_ok(|group| Arc::new(tokio::sync::Mutex::new(group)))
        .try_collect()
        .await
}

/// Joins `chats` as `receiver` (one of their members) and reads each by
/// stream; groups it was also invited to are released.
async fn listen<A: XmtpApi>(
    client: &Client<A>,
    receiver: &Arc<Identity>,
    chats: &[SharedGroup],
) -> Result<Vec<Arc<MessageReceiver>>, ClientError> {
    let mut joined: HashMap<[u8; 16], _> = retrying(|| client.join_groups(receiver))
        .await?
        .into_iter()
        .map(|group| (group.group_id(), group))
        .collect();
    let mut receivers = Vec::with_capacity(chats.len());
    for chat in chats {
        let id = chat.lock().await.group_id();
        let group = joined.remove(&id).ok_or_else(|| {
            ClientError::Protocol("a chat's member found no welcome to it".into())
        })?;
        receivers.push(Arc::new(client.receive_by_stream(group)));
    }
    for other in joined.into_values() {
        other.forget()?;
    }
    Ok(receivers)
}

/// How many provisioning calls run at once.
const PROVISIONING_CONCURRENCY: usize = 8;

/// Creates `count` identities, a few at a time, retrying transient
/// failures.
async fn create_identities<A: XmtpApi>(
    client: &Client<A>,
    count: usize,
) -> Result<Vec<Arc<Identity>>, ClientError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    stream::iter(0..count)
        .map(|_| retrying(|| client.create_identity()))
        .buffered(PROVISIONING_CONCURRENCY)
        .try_collect()
        .await
}

/// Runs `attempt` up to three times while it fails with a retryable class.
pub(crate) async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(error) if error.class().retryable() && tries < 2 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(200 << tries)).await;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scenarios_and_mixes() {
        assert_eq!(Scenario::parse("lookup", None).unwrap(), Scenario::Lookup);
        let mix: Mix = "identity=2, group=1,add-members=0".parse().unwrap();
        assert_eq!(mix.to_string(), "identity=2,group=1");
        assert_eq!(
            Scenario::parse("mix", Some(mix.clone())).unwrap(),
            Scenario::Mix(mix)
        );
        assert_eq!(
            Scenario::parse("messages", None).unwrap().weights(),
            [(OpKind::MessageSend, 1)]
        );
        let error = Scenario::parse("chat", None).unwrap_err().to_string();
        assert!(error.contains("unknown scenario `chat`"), "{error}");
        for bad in [
            "identity",
            "identity=x",
            "chat=1",
            "identity=0",
            "group=1,group=2",
        ] {
            assert!(bad.parse::<Mix>().is_err(), "{bad}");
        }
    }
}
