//! The welcomes of an addition, as libxmtp sends them, and reading them
//! back.
//!
//! Each added installation gets the commit's MLS Welcome sealed to its key
//! package (V1). When more than [`POINTER_THRESHOLD`] of them read welcome
//! pointers, the welcome is instead published once as a symmetric pointee
//! (first in the batch, so it is readable before any pointer to it) and
//! those installations get a pointer; the rest still get V1 welcomes.

use crate::mls::{
    accepts_pointers, seal_pointee, seal_welcome, MlsError, VerifiedKeyPackage, POINTER_THRESHOLD,
};
use crate::proto::xmtp::mls::api::v1::{welcome_message_input, WelcomeMessageInput};
use crate::proto::xmtp::mls::message_contents::WelcomeWrapperAlgorithm;

use super::{parallel, ClientError, Identity, XmtpApi};

/// The welcome messages announcing `welcome` (positioned at `cursor`) to
/// the installations of `key_packages`; pointers only if `pointers` (the
/// API can serve them back).
pub(super) fn seal_all(
    welcome: &[u8],
    key_packages: &[VerifiedKeyPackage],
    cursor: u64,
    pointers: bool,
) -> Result<Vec<WelcomeMessageInput>, ClientError> {
    let capable = key_packages
        .iter()
        .filter(|kp| accepts_pointers(kp))
        .count();
    let bundle = (pointers && capable > POINTER_THRESHOLD)
        .then(|| seal_pointee(welcome, cursor))
        .transpose()?;
    let mut out = Vec::with_capacity(key_packages.len() + 1);
    if let Some(bundle) = &bundle {
        out.push(WelcomeMessageInput {
            version: Some(welcome_message_input::Version::V1(
                welcome_message_input::V1 {
                    installation_key: bundle.pointee.destination.to_vec(),
                    data: bundle.pointee.data.clone(),
                    hpke_public_key: Vec::new(),
                    wrapper_algorithm: WelcomeWrapperAlgorithm::SymmetricKey as i32,
                    welcome_metadata: bundle.pointee.welcome_metadata.clone(),
                },
            )),
        });
    }
    let sealed = parallel::map(key_packages, |kp| {
        let installation_key = kp.installation_key().to_vec();
        let version = match &bundle {
            Some(bundle) if accepts_pointers(kp) => {
                let sealed = bundle.seal_for(kp)?;
                welcome_message_input::Version::WelcomePointer(
                    welcome_message_input::WelcomePointer {
                        installation_key,
                        welcome_pointer: sealed.welcome_pointer,
                        hpke_public_key: sealed.hpke_public_key,
                        wrapper_algorithm: sealed.wrapper_algorithm,
                    },
                )
            }
            _ => {
                let sealed = seal_welcome(welcome, kp, cursor)?;
                welcome_message_input::Version::V1(welcome_message_input::V1 {
                    installation_key,
                    data: sealed.data,
                    hpke_public_key: sealed.hpke_public_key,
                    wrapper_algorithm: sealed.wrapper_algorithm as i32,
                    welcome_metadata: sealed.welcome_metadata,
                })
            }
        };
        Ok::<_, MlsError>(WelcomeMessageInput {
            version: Some(version),
        })
    });
    for welcome in sealed {
        out.push(welcome?);
    }
    Ok(out)
}

/// Opens one welcome addressed to `identity`: a V1 welcome directly, a
/// pointer by fetching and opening its pointee. Returns the MLS welcome and
/// the message cursor.
pub(super) async fn open<A: XmtpApi>(
    api: &A,
    identity: &Identity,
    welcome: Option<welcome_message_input::Version>,
) -> Result<(Vec<u8>, u64), ClientError> {
    match welcome {
        Some(welcome_message_input::Version::V1(v1)) => Ok(identity.mls().open_welcome(
            &v1.data,
            &v1.hpke_public_key,
            v1.wrapper_algorithm,
            &v1.welcome_metadata,
        )?),
        Some(welcome_message_input::Version::WelcomePointer(pointer)) => {
            let opened = identity.mls().open_pointer(
                &pointer.welcome_pointer,
                &pointer.hpke_public_key,
                pointer.wrapper_algorithm,
            )?;
            // The pointee is the first welcome at its destination.
            let at_destination = api.query_welcomes(opened.destination, 0).await?;
            let Some(welcome_message_input::Version::V1(pointee)) = at_destination
                .into_iter()
                .next()
                .and_then(|entry| entry.welcome.version)
            else {
                return Err(ClientError::Protocol(
                    "welcome pointer leads to no pointee".into(),
                ));
            };
            if pointee.wrapper_algorithm != WelcomeWrapperAlgorithm::SymmetricKey as i32 {
                return Err(ClientError::Protocol(
                    "welcome pointer leads to a welcome that is not a pointee".into(),
                ));
            }
            Ok(opened.open_pointee(&pointee.data, &pointee.welcome_metadata)?)
        }
        None => Err(ClientError::Protocol("welcome without a version".into())),
    }
}
