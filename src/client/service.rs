//! The client as a `tower::Service<Op>`, so the operation layer (and any
//! other tower middleware) can wrap it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Mutex;
use tower::Service;

use super::{Client, ClientError, Op, OpResult, XmtpApi};

impl<A: XmtpApi> Service<Op> for Client<A> {
    type Response = OpResult;
    type Error = ClientError;
    type Future = Pin<Box<dyn Future<Output = Result<OpResult, ClientError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        // Operations share nothing that could be exhausted; every call is
        // independent.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, op: Op) -> Self::Future {
        let client = self.clone();
        Box::pin(async move { client.perform(op).await })
    }
}

impl<A: XmtpApi> Client<A> {
    /// Performs one [`Op`].
    pub async fn perform(&self, op: Op) -> Result<OpResult, ClientError> {
        match op {
            Op::CreateIdentity => self.create_identity().await.map(OpResult::Identity),
            Op::RegisterIdentity {
                installation,
                address,
                nonce,
                update,
            } => self
                .register_signed(*installation, &address, nonce, *update)
                .await
                .map(OpResult::Identity),
            Op::CreateGroup { owner, members } => {
                let group = self.create_group(&owner, &members).await?;
                Ok(OpResult::Group(Arc::new(Mutex::new(group))))
            }
            Op::AddMembers { group, members } => {
                let mut group = group.lock().await;
                self.add_members(&mut group, &members)
                    .await
                    .map(OpResult::Added)
            }
            Op::LookupIdentity { address } => {
                self.lookup_inbox(&address).await.map(OpResult::Inbox)
            }
            Op::SendMessage { group, text } => {
                let mut group = group.lock().await;
                self.send_message(&mut group, &text)
                    .await
                    .map(OpResult::Sent)
            }
            Op::AwaitMessage { receiver, text, .. } => receiver
                .wait_for(&text, self.config.visibility_timeout)
                .await
                .map(OpResult::Visible),
            Op::AwaitMember {
                newcomer,
                group_id,
                epoch,
                ..
            } => self
                .await_member(&newcomer, group_id, epoch)
                .await
                .map(OpResult::Visible),
            Op::AwaitIdentity {
                address,
                inbox_id,
                installation,
                ..
            } => {
                self.await_identity(&address, &inbox_id, installation)
                    .await?;
                Ok(OpResult::Visible(std::time::Instant::now()))
            }
        }
    }
}
