//! Identity creation and lookup.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::identity::{
    fold_log, inbox_id, new_inbox_update, IdentityError, InstallationKey, Wallet,
};
use crate::mls::MlsInstallation;
use crate::proto::associations::IdentityUpdate;

use super::phase::{run, run_sync, Phase};
use super::visibility::await_visible;
use super::{Client, ClientError, XmtpApi};

/// A registered inbox with one installation: the address of the wallet
/// that owns it, the installation key that acts for it, and the
/// installation's MLS state. (The wallet's key is not kept: it is needed
/// only to sign the creating update.)
pub struct Identity {
    address: String,
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
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The inbox id (64 lowercase hex characters).
    pub fn inbox_id(&self) -> &str {
        &self.inbox_id
    }

    /// The owning wallet's address (lowercase `0x…`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The installation's public key, which is its id on the network.
    pub fn installation_key(&self) -> [u8; 32] {
        self.installation.public_key()
    }

    /// Position of the creating update in the inbox's identity log.
    pub fn sequence_id(&self) -> u64 {
        self.sequence_id
    }

    /// The installation's MLS side (its key packages' private keys, the
    /// groups it joined).
    pub fn mls(&self) -> &MlsInstallation {
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
        let nonce = self.config.nonce;
        let address = wallet.address();
        self.register_with(installation, &address, nonce, |installation, nonce| {
            new_inbox_update(&wallet, installation, nonce, now_ns())
        })
        .await
    }

    /// Registers a new inbox from an identity update signed elsewhere —
    /// by a hardware wallet or a browser extension, say. The update must
    /// create the inbox of `address` with `nonce` and grant `installation`
    /// messaging access; if it is invalid, the network drops it silently
    /// and this fails as `not_visible`.
    pub async fn register_signed(
        &self,
        installation: InstallationKey,
        address: &str,
        nonce: u64,
        update: IdentityUpdate,
    ) -> Result<Arc<Identity>, ClientError> {
        self.register_with(installation, address, nonce, |_, _| Ok(update))
            .await
    }

    async fn register_with(
        &self,
        installation: InstallationKey,
        address: &str,
        nonce: u64,
        sign: impl FnOnce(&InstallationKey, u64) -> Result<IdentityUpdate, IdentityError>,
    ) -> Result<Arc<Identity>, ClientError> {
        let address = address.to_ascii_lowercase();
        let existing = run(Phase::InboxLookup, self.api.get_inbox_id(&address)).await?;
        if let Some(existing) = existing {
            return Err(ClientError::Usage(format!(
                "wallet {address} already owns inbox {existing}"
            )));
        }
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
        let update = run_sync(Phase::IdentitySign, || sign(&installation, nonce))?;
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
            address,
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

    /// Waits until the reader connection (see [`Client::with_reader`])
    /// resolves `address` to `inbox_id`, then reads the inbox's identity
    /// log and checks that it associates `installation`.
    pub async fn await_identity(
        &self,
        address: &str,
        inbox_id: &str,
        installation: [u8; 32],
    ) -> Result<(), ClientError> {
        let reader = self.reader();
        let resolves = move || async move {
            let found = reader.get_inbox_id(address).await?;
            Ok(found.filter(|found| found == inbox_id).map(|_| ()))
        };
        let deadline = self.config.visibility_timeout;
        run(
            Phase::InboxAwaitVisible,
            await_visible("inbox", deadline, resolves),
        )
        .await?;
        let request = [(inbox_id.to_owned(), 0)];
        let logs = run(Phase::IdentityLoad, reader.get_identity_updates(&request)).await?;
        let log = logs.get(inbox_id).map(Vec::as_slice).unwrap_or_default();
        let state = fold_log(log.iter().map(|entry| &entry.update))?;
        if !state.installations().contains(&installation) {
            return Err(ClientError::Protocol(
                "the new inbox's log does not associate its installation".into(),
            ));
        }
        Ok(())
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
