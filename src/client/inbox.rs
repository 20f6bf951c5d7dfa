//! Identity creation and lookup.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::identity::{inbox_id, new_inbox_update, InstallationKey, Wallet};
use crate::mls::MlsInstallation;

use super::phase::{run, run_sync, Phase};
use super::visibility::await_visible;
use super::{Client, ClientError, XmtpApi};

/// A registered inbox with one installation: the wallet that owns it, the
/// installation key that acts for it, and the installation's MLS state.
pub struct Identity {
    wallet: Wallet,
    installation: InstallationKey,
    inbox_id: String,
    mls: MlsInstallation,
    sequence_id: u64,
}

impl std::fmt::Debug for Identity {
    // Keys stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("inbox_id", &self.inbox_id)
            .field("address", &self.wallet.address())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The inbox id (64 lowercase hex characters).
    pub fn inbox_id(&self) -> &str {
        &self.inbox_id
    }

    /// The owning wallet's address (lowercase `0x…`).
    pub fn address(&self) -> String {
        self.wallet.address()
    }

    /// The installation's public key, which is its id on the network.
    pub fn installation_key(&self) -> [u8; 32] {
        self.installation.public_key()
    }

    /// Position of the creating update in the inbox's identity log.
    pub fn sequence_id(&self) -> u64 {
        self.sequence_id
    }

    pub(crate) fn mls(&self) -> &MlsInstallation {
        &self.mls
    }
}

impl<A: XmtpApi> Client<A> {
    /// Creates a new inbox with one installation: a fresh wallet and
    /// installation key, a key package upload, a signed identity update,
    /// then polling until the update is readable (`not_visible` if it never
    /// is, which is how the network reveals a rejected update).
    pub async fn create_identity(&self) -> Result<Arc<Identity>, ClientError> {
        let wallet = Wallet::generate();
        let installation = InstallationKey::generate();
        self.register(wallet, installation).await
    }

    /// Registers a new inbox for the given keys (see
    /// [`create_identity`](Self::create_identity)).
    pub async fn register(
        &self,
        wallet: Wallet,
        installation: InstallationKey,
    ) -> Result<Arc<Identity>, ClientError> {
        let address = wallet.address();
        let existing = run(Phase::InboxLookup, self.api.get_inbox_id(&address)).await?;
        if let Some(existing) = existing {
            return Err(ClientError::Usage(format!(
                "wallet {address} already owns inbox {existing}"
            )));
        }
        let nonce = self.config.nonce;
        let inbox_id = inbox_id(&address, nonce)?;
        let (mls, key_package) = run_sync(Phase::KeyPackageBuild, || {
            let mls = MlsInstallation::new(&inbox_id, installation.secret_bytes())?;
            let key_package = mls.key_package()?;
            Ok::<_, ClientError>((mls, key_package))
        })?;
        run(
            Phase::KeyPackagePublish,
            self.api
                .upload_key_package(installation.public_key(), key_package),
        )
        .await?;
        let update = run_sync(Phase::IdentitySign, || {
            new_inbox_update(&wallet, &installation, nonce, now_ns())
        })?;
        let published = run(
            Phase::IdentityPublish,
            self.api.publish_identity_update(update),
        )
        .await?;
        let sequence_id = run(
            Phase::IdentityAwaitVisible,
            await_visible("identity update", self.config.visibility_timeout, || {
                let request = [(inbox_id.clone(), 0)];
                async move {
                    let logs = self.api.get_identity_updates(&request).await?;
                    let entries = logs.get(&request[0].0);
                    Ok(entries.and_then(|entries| {
                        entries
                            .iter()
                            .map(|e| e.sequence_id)
                            .find(|seq| published.is_none_or(|p| p == *seq))
                    }))
                }
            }),
        )
        .await?;
        Ok(Arc::new(Identity {
            wallet,
            installation,
            inbox_id,
            mls,
            sequence_id,
        }))
    }

    /// The inbox registered for an address, if any (`identity.lookup`).
    pub async fn lookup_inbox(&self, address: &str) -> Result<Option<String>, ClientError> {
        self.api.get_inbox_id(&address.to_ascii_lowercase()).await
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
