//! Application messages: what members say to each other in a group.
//!
//! An application message is encrypted to the group's current epoch as an
//! MLS `PrivateMessage`, so only members can read it, and the sender's
//! ratchet moves on with each message (which is why sending needs the
//! group exclusively).

use openmls::prelude::tls_codec::Serialize as TlsSerialize;
use openmls::prelude::ProcessedMessageContent;

use super::MlsGroupState;
use crate::mls::{MlsError, MlsInstallation};

impl MlsGroupState {
    /// Encrypts `plaintext` to the group's current epoch; returns the TLS
    /// `MLSMessage` to publish on the group's topic.
    pub fn encrypt_message(
        &mut self,
        installation: &MlsInstallation,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, MlsError> {
        self.check_owner(installation)?;
        let message = self
            .group
            .create_message(installation.provider(), installation.signer(), plaintext)
            .map_err(|e| MlsError::Openmls(format!("encrypting a message: {e}")))?;
        message
            .tls_serialize_detached()
            .map_err(|e| MlsError::Openmls(format!("encoding a message: {e}")))
    }

    /// Decrypts an application message another member sent; a commit or
    /// proposal is refused (those change the group: see
    /// [`process_commit`](Self::process_commit)).
    pub fn decrypt_message(
        &mut self,
        installation: &MlsInstallation,
        message: &[u8],
    ) -> Result<Vec<u8>, MlsError> {
        match self.process_incoming(installation, message)? {
            ProcessedMessageContent::ApplicationMessage(content) => Ok(content.into_bytes()),
            _ => Err(MlsError::InvalidMessage(
                "message is not an application message".into(),
            )),
        }
    }
}
