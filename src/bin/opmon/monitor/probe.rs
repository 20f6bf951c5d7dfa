//! One monitored operation, run on its own schedule for as long as the
//! monitor runs.
//!
//! A probe prepares what its operation needs (a group to add to, members
//! to add) outside the measurement, the way `opmon bench` provisions, then
//! runs the operation through the operation layer once per period. A
//! target that goes away is not fatal: the operation fails, is classified
//! and counted, and is tried again at the next period. After two failures
//! in a row the probe prepares afresh, because a target that came back may
//! have lost what was prepared (the embedded node keeps its store in
//! memory), and a group whose last commit failed may be in doubt.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower::Service;
use xmtp_opmon::client::{Client, XmtpApi};
use xmtp_opmon::client::{Op, OpKind, OpResult};
use xmtp_opmon::load::{Scenario, Workload, WorkloadConfig};
use xmtp_opmon::telemetry::Readiness;

use crate::visibility::VisibilityArgs;

/// Failures in a row after which a probe prepares its data again.
const STALE_AFTER: u32 = 2;

/// The outcome of each operation's last run, behind `/readyz`.
pub struct Rounds {
    kinds: usize,
    last: Mutex<BTreeMap<OpKind, bool>>,
    readiness: Readiness,
}

impl Rounds {
    /// Ready once every one of `kinds` operations last succeeded.
    pub fn new(kinds: usize, readiness: Readiness) -> Self {
        Self {
            kinds,
            last: Mutex::new(BTreeMap::new()),
            readiness,
        }
    }

    fn report(&self, kind: OpKind, succeeded: bool) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.insert(kind, succeeded);
        self.readiness
            .set(last.len() == self.kinds && last.values().all(|ok| *ok));
    }
}

/// What a probe runs, and against what.
pub struct Probe<A, S> {
    /// The operation.
    pub kind: OpKind,
    /// How often.
    pub period: Duration,
    /// For preparing data, unmeasured.
    pub client: Client<A>,
    /// The measured path: the operation layer over the client.
    pub service: S,
    /// Group sizes, as `opmon bench` takes them.
    pub group_size: usize,
    /// Inboxes per addition.
    pub add: usize,
    /// Where outcomes go.
    pub rounds: Arc<Rounds>,
    /// Whether writes are followed by what the other side sees.
    pub visibility: VisibilityArgs,
}

impl<A, S> Probe<A, S>
where
    A: XmtpApi,
    S: Service<Op, Response = OpResult> + Clone,
    S::Error: std::fmt::Display,
{
    /// Runs the operation once per period, forever.
    pub async fn run(self) {
        let scenario = match self.kind {
            OpKind::IdentityCreate => Scenario::Identity,
            OpKind::GroupCreate => Scenario::Group,
            OpKind::GroupAddMembers => Scenario::AddMembers,
            OpKind::MessageSend => Scenario::Messages,
            _ => Scenario::Lookup,
        };
        let config = WorkloadConfig {
            scenario,
            group_size: self.group_size,
            add: self.add,
            // One addition at a time: one group, replaced as it fills up.
            groups: 1,
            seed: rand::random(),
            visibility: self.visibility.visibility,
            welcomes: self.visibility.welcomes(),
        };
        let mut workload: Option<Workload> = None;
        let mut failures = 0u32;
        let mut ticket = 0u64;
        let mut tick = tokio::time::interval(self.period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if workload.is_none() || failures >= STALE_AFTER {
                match Workload::provision(&self.client, &config).await {
                    Ok(fresh) => workload = Some(fresh),
                    // Keep the old data, if any: its operation still runs,
                    // so the outage is measured and classified.
                    Err(error) => tracing::debug!(
                        operation = %self.kind,
                        %error,
                        "cannot prepare the operation's data"
                    ),
                }
            }
            let Some(prepared) = workload.as_ref() else {
                failures += 1;
                self.rounds.report(self.kind, false);
                continue;
            };
            ticket += 1;
            let Some(next) = prepared.next_op(ticket).await else {
                failures += 1;
                self.rounds.report(self.kind, false);
                continue;
            };
            let ran = prepared.run(self.service.clone(), next).await;
            if let Err(error) = &ran {
                tracing::debug!(operation = %self.kind, %error, "monitored operation failed");
            }
            let succeeded = ran.is_ok();
            failures = if succeeded { 0 } else { failures + 1 };
            self.rounds.report(self.kind, succeeded);
        }
    }
}
