//! The V3 API: XMTP's centralized network, one node that answers each
//! logical call with an RPC of its own (`MlsApi` and `IdentityApi`).
//!
//! The operations and their cryptography are the ones V4 uses; only this
//! transport differs, which is what makes a V3 against V4 comparison
//! meaningful.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::try_join_all;

use crate::codec::MAX_PAYLOAD_BYTES;
use crate::proto::associations::{IdentifierKind, IdentityUpdate};
use crate::proto::xmtp::identity::api::v1::{
    get_identity_updates_request, get_inbox_ids_request, identity_api_client::IdentityApiClient,
    GetIdentityUpdatesRequest, GetInboxIdsRequest, PublishIdentityUpdateRequest,
};
use crate::proto::xmtp::mls::api::v1::{
    group_message, group_message_input, mls_api_client::MlsApiClient, welcome_message,
    welcome_message_input, FetchKeyPackagesRequest, GroupMessage, GroupMessageInput,
    KeyPackageUpload, PagingInfo, QueryGroupMessagesRequest, QueryWelcomeMessagesRequest,
    SendGroupMessagesRequest, SendWelcomeMessagesRequest, SortDirection, UploadKeyPackageRequest,
    WelcomeMessage, WelcomeMessageInput,
};

use super::api::{
    entries, ApiVersion, AppMessageEntry, EntryStream, GroupMessageEntry, IdentityLogEntry,
    TopicCursor, WelcomeEntry, XmtpApi,
};
use super::transport::BoxedService;
use super::v4::timed;
use super::{ClientError, Subscriber, Transport};

/// The gRPC paths this API calls.
pub mod methods {
    /// `IdentityApi/GetInboxIds`.
    pub const GET_INBOX_IDS: &str = "/xmtp.identity.api.v1.IdentityApi/GetInboxIds";
    /// `IdentityApi/PublishIdentityUpdate`.
    pub const PUBLISH_IDENTITY_UPDATE: &str =
        "/xmtp.identity.api.v1.IdentityApi/PublishIdentityUpdate";
    /// `IdentityApi/GetIdentityUpdates`.
    pub const GET_IDENTITY_UPDATES: &str = "/xmtp.identity.api.v1.IdentityApi/GetIdentityUpdates";
    /// `MlsApi/UploadKeyPackage`.
    pub const UPLOAD_KEY_PACKAGE: &str = "/xmtp.mls.api.v1.MlsApi/UploadKeyPackage";
    /// `MlsApi/FetchKeyPackages`.
    pub const FETCH_KEY_PACKAGES: &str = "/xmtp.mls.api.v1.MlsApi/FetchKeyPackages";
    /// `MlsApi/SendGroupMessages`.
    pub const SEND_GROUP_MESSAGES: &str = "/xmtp.mls.api.v1.MlsApi/SendGroupMessages";
    /// `MlsApi/QueryGroupMessages`.
    pub const QUERY_GROUP_MESSAGES: &str = "/xmtp.mls.api.v1.MlsApi/QueryGroupMessages";
    /// `MlsApi/SendWelcomeMessages`.
    pub const SEND_WELCOME_MESSAGES: &str = "/xmtp.mls.api.v1.MlsApi/SendWelcomeMessages";
    /// `MlsApi/QueryWelcomeMessages`.
    pub const QUERY_WELCOME_MESSAGES: &str = "/xmtp.mls.api.v1.MlsApi/QueryWelcomeMessages";
    /// `MlsApi/SubscribeGroupMessages`.
    pub const SUBSCRIBE_GROUP_MESSAGES: &str = "/xmtp.mls.api.v1.MlsApi/SubscribeGroupMessages";
    /// `MlsApi/SubscribeWelcomeMessages`.
    pub const SUBSCRIBE_WELCOME_MESSAGES: &str = "/xmtp.mls.api.v1.MlsApi/SubscribeWelcomeMessages";
}

/// Welcomes per call, as libxmtp batches them.
const WELCOME_BATCH: usize = 50;
/// Messages per query page.
const PAGE: u32 = 100;

/// XMTP V3 calls to one node.
#[derive(Debug)]
pub struct V3Api {
    node: Transport,
    /// Subscriptions go to the node without a deadline.
    streams: Subscriber,
    rpc_timeout: Duration,
}

/// An `MlsApi` client over `service` with XMTP's payload limits.
pub(super) fn mls_client(service: BoxedService) -> MlsApiClient<BoxedService> {
    MlsApiClient::new(service)
        .max_decoding_message_size(MAX_PAYLOAD_BYTES)
        .max_encoding_message_size(MAX_PAYLOAD_BYTES)
}

impl V3Api {
    /// An API calling `node`, with a deadline per call.
    pub fn new(node: Transport, rpc_timeout: Duration) -> Self {
        Self {
            streams: Subscriber::new(node.clone()),
            node: node.with_deadline(rpc_timeout),
            rpc_timeout,
        }
    }

    fn mls(&self) -> MlsApiClient<BoxedService> {
        mls_client(self.node.service())
    }

    fn identity(&self) -> IdentityApiClient<BoxedService> {
        IdentityApiClient::new(self.node.service())
            .max_decoding_message_size(MAX_PAYLOAD_BYTES)
            .max_encoding_message_size(MAX_PAYLOAD_BYTES)
    }

    /// Sends one group message (a commit or an application message).
    async fn send_group_message(&self, data: Vec<u8>) -> Result<(), ClientError> {
        let request = SendGroupMessagesRequest {
            messages: vec![GroupMessageInput {
                version: Some(group_message_input::Version::V1(group_message_input::V1 {
                    data,
                    sender_hmac: Vec::new(),
                    should_push: false,
                })),
            }],
        };
        timed(
            methods::SEND_GROUP_MESSAGES,
            self.rpc_timeout,
            self.mls().send_group_messages(request),
        )
        .await?;
        Ok(())
    }

    /// The group's messages after `after`, page by page: its commits, or
    /// its application messages; each as (id, data).
    async fn read_group(
        &self,
        group_id: [u8; 16],
        after: u64,
        commits: bool,
    ) -> Result<Vec<(u64, Vec<u8>)>, ClientError> {
        let mut entries = Vec::new();
        let mut cursor = after;
        loop {
            let request = QueryGroupMessagesRequest {
                group_id: group_id.to_vec(),
                paging_info: Self::paging(cursor),
            };
            let response = timed(
                methods::QUERY_GROUP_MESSAGES,
                self.rpc_timeout,
                self.mls().query_group_messages(request),
            )
            .await?;
            let page = response.messages.len();
            for message in response.messages {
                let Some(group_message::Version::V1(v1)) = message.version else {
                    return Err(ClientError::Protocol(
                        "group message without a version".into(),
                    ));
                };
                cursor = cursor.max(v1.id);
                if v1.is_commit == commits {
                    entries.push((v1.id, v1.data));
                }
            }
            if page < PAGE as usize {
                return Ok(entries);
            }
        }
    }

    fn paging(after: u64) -> Option<PagingInfo> {
        Some(PagingInfo {
            direction: SortDirection::Ascending as i32,
            limit: PAGE,
            id_cursor: after,
        })
    }
}

impl XmtpApi for V3Api {
    fn version(&self) -> ApiVersion {
        ApiVersion::V3
    }

    async fn get_inbox_id(&self, address: &str) -> Result<Option<String>, ClientError> {
        let request = GetInboxIdsRequest {
            requests: vec![get_inbox_ids_request::Request {
                identifier: address.to_owned(),
                identifier_kind: IdentifierKind::Ethereum as i32,
            }],
        };
        let response = timed(
            methods::GET_INBOX_IDS,
            self.rpc_timeout,
            self.identity().get_inbox_ids(request),
        )
        .await?;
        Ok(response
            .responses
            .into_iter()
            .find(|r| r.identifier == address)
            .and_then(|r| r.inbox_id))
    }

    async fn upload_key_package(
        &self,
        _installation_key: [u8; 32],
        key_package: Vec<u8>,
    ) -> Result<(), ClientError> {
        let request = UploadKeyPackageRequest {
            key_package: Some(KeyPackageUpload {
                key_package_tls_serialized: key_package,
            }),
            is_inbox_id_credential: true,
        };
        timed(
            methods::UPLOAD_KEY_PACKAGE,
            self.rpc_timeout,
            self.mls().upload_key_package(request),
        )
        .await
    }

    async fn publish_identity_update(
        &self,
        update: IdentityUpdate,
    ) -> Result<Option<u64>, ClientError> {
        let request = PublishIdentityUpdateRequest {
            identity_update: Some(update),
        };
        timed(
            methods::PUBLISH_IDENTITY_UPDATE,
            self.rpc_timeout,
            self.identity().publish_identity_update(request),
        )
        .await?;
        // V3 does not say where the update landed; the caller reads the
        // log to find it.
        Ok(None)
    }

    async fn get_identity_updates(
        &self,
        requests: &[(String, u64)],
    ) -> Result<HashMap<String, Vec<IdentityLogEntry>>, ClientError> {
        let request = GetIdentityUpdatesRequest {
            requests: requests
                .iter()
                .map(|(inbox_id, after)| get_identity_updates_request::Request {
                    inbox_id: inbox_id.clone(),
                    sequence_id: *after,
                })
                .collect(),
        };
        let response = timed(
            methods::GET_IDENTITY_UPDATES,
            self.rpc_timeout,
            self.identity().get_identity_updates(request),
        )
        .await?;
        let mut logs: HashMap<String, Vec<IdentityLogEntry>> = HashMap::new();
        for answer in response.responses {
            if !requests.iter().any(|(asked, _)| *asked == answer.inbox_id) {
                return Err(ClientError::Protocol(format!(
                    "asked for some inboxes, got the log of inbox {}",
                    answer.inbox_id
                )));
            }
            let entries = answer
                .updates
                .into_iter()
                .map(|log| {
                    log.update
                        .map(|update| IdentityLogEntry {
                            sequence_id: log.sequence_id,
                            update,
                        })
                        .ok_or_else(|| {
                            ClientError::Protocol("identity log entry without an update".into())
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if !entries.is_empty() {
                logs.entry(answer.inbox_id).or_default().extend(entries);
            }
        }
        Ok(logs)
    }

    async fn fetch_key_packages(
        &self,
        installation_keys: &[[u8; 32]],
    ) -> Result<Vec<Option<Vec<u8>>>, ClientError> {
        let request = FetchKeyPackagesRequest {
            installation_keys: installation_keys.iter().map(|k| k.to_vec()).collect(),
        };
        let response = timed(
            methods::FETCH_KEY_PACKAGES,
            self.rpc_timeout,
            self.mls().fetch_key_packages(request),
        )
        .await?;
        if response.key_packages.len() != installation_keys.len() {
            return Err(ClientError::Protocol(format!(
                "asked for {} key packages, got {}",
                installation_keys.len(),
                response.key_packages.len()
            )));
        }
        Ok(response
            .key_packages
            .into_iter()
            .map(|kp| Some(kp.key_package_tls_serialized).filter(|bytes| !bytes.is_empty()))
            .collect())
    }

    async fn publish_commit(
        &self,
        _group_id: [u8; 16],
        data: Vec<u8>,
        _depends_on: Option<u64>,
    ) -> Result<Option<u64>, ClientError> {
        self.send_group_message(data).await?;
        Ok(None)
    }

    async fn query_group_messages(
        &self,
        group_id: [u8; 16],
        after: u64,
    ) -> Result<Vec<GroupMessageEntry>, ClientError> {
        // Application messages share the group's id sequence on V3; only
        // commits move the group's epoch (V4 reads the commit originator
        // alone for the same reason).
        let commits = self.read_group(group_id, after, true).await?;
        Ok(commits
            .into_iter()
            .map(|(sequence_id, data)| GroupMessageEntry { sequence_id, data })
            .collect())
    }

    async fn publish_message(
        &self,
        _group_id: [u8; 16],
        data: Vec<u8>,
    ) -> Result<Option<(u32, u64)>, ClientError> {
        self.send_group_message(data).await?;
        Ok(None)
    }

    async fn query_messages(
        &self,
        group_id: [u8; 16],
        after: &TopicCursor,
    ) -> Result<Vec<AppMessageEntry>, ClientError> {
        let after = after.get(&0).copied().unwrap_or(0);
        let messages = self.read_group(group_id, after, false).await?;
        Ok(messages
            .into_iter()
            .map(|(sequence_id, data)| AppMessageEntry {
                originator: 0,
                sequence_id,
                data,
            })
            .collect())
    }

    async fn send_welcomes(&self, welcomes: Vec<WelcomeMessageInput>) -> Result<(), ClientError> {
        let batches = welcomes.chunks(WELCOME_BATCH).map(|batch| {
            let request = SendWelcomeMessagesRequest {
                messages: batch.to_vec(),
            };
            let mut client = self.mls();
            async move {
                timed(
                    methods::SEND_WELCOME_MESSAGES,
                    self.rpc_timeout,
                    client.send_welcome_messages(request),
                )
                .await
            }
        });
        try_join_all(batches).await?;
        Ok(())
    }

    async fn query_welcomes(
        &self,
        installation_key: [u8; 32],
        after: u64,
    ) -> Result<Vec<WelcomeEntry>, ClientError> {
        let mut entries = Vec::new();
        let mut cursor = after;
        loop {
            let request = QueryWelcomeMessagesRequest {
                installation_key: installation_key.to_vec(),
                paging_info: Self::paging(cursor),
            };
            let response = timed(
                methods::QUERY_WELCOME_MESSAGES,
                self.rpc_timeout,
                self.mls().query_welcome_messages(request),
            )
            .await?;
            let page = response.messages.len();
            for message in response.messages {
                let entry = welcome_entry(message)?;
                cursor = cursor.max(entry.sequence_id);
                entries.push(entry);
            }
            if page < PAGE as usize {
                return Ok(entries);
            }
        }
    }

    async fn subscribe_messages(
        &self,
        group_id: [u8; 16],
        after: &TopicCursor,
    ) -> Result<EntryStream<AppMessageEntry>, ClientError> {
        let after = after.get(&0).copied().unwrap_or(0);
        let stream = self
            .streams
            .group_messages([(group_id.to_vec(), after)])
            .await?;
        Ok(entries(stream, app_message))
    }

    async fn subscribe_welcomes(
        &self,
        installation_key: [u8; 32],
        after: u64,
    ) -> Result<EntryStream<WelcomeEntry>, ClientError> {
        let stream = self
            .streams
            .welcomes([(installation_key.to_vec(), after)])
            .await?;
        Ok(entries(stream, |message| Some(welcome_entry(message))))
    }
}

/// A welcome as the node returns it, as the client reads it.
fn welcome_entry(message: WelcomeMessage) -> Result<WelcomeEntry, ClientError> {
    let (sequence_id, version) = match message.version {
        Some(welcome_message::Version::V1(v1)) => (
            v1.id,
            welcome_message_input::Version::V1(welcome_message_input::V1 {
                installation_key: v1.installation_key,
                data: v1.data,
                hpke_public_key: v1.hpke_public_key,
                wrapper_algorithm: v1.wrapper_algorithm,
                welcome_metadata: v1.welcome_metadata,
            }),
        ),
        Some(welcome_message::Version::WelcomePointer(pointer)) => (
            pointer.id,
            welcome_message_input::Version::WelcomePointer(welcome_message_input::WelcomePointer {
                installation_key: pointer.installation_key,
                welcome_pointer: pointer.welcome_pointer,
                hpke_public_key: pointer.hpke_public_key,
                wrapper_algorithm: pointer.wrapper_algorithm,
            }),
        ),
        None => return Err(ClientError::Protocol("welcome without a version".into())),
    };
    Ok(WelcomeEntry {
        sequence_id,
        welcome: WelcomeMessageInput {
            version: Some(version),
        },
    })
}

/// A streamed group message, if it is an application message.
fn app_message(message: GroupMessage) -> Option<Result<AppMessageEntry, ClientError>> {
    match message.version {
        Some(group_message::Version::V1(v1)) if v1.is_commit => None,
        Some(group_message::Version::V1(v1)) => Some(Ok(AppMessageEntry {
            originator: 0,
            sequence_id: v1.id,
            data: v1.data,
        })),
        None => Some(Err(ClientError::Protocol(
            "group message without a version".into(),
        ))),
    }
}
