//! Smart-contract wallets (ERC-1271, counterfactual ERC-6492): a choice,
//! because checking one needs a chain.
//!
//! A smart-contract wallet has no key of its own: its signature is valid
//! when the contract's `isValidSignature` says so, at a given block of the
//! chain named by the signature's CAIP-10 account id
//! (`eip155:<chain id>:<address>`). xmtpd asks a chain RPC endpoint; this
//! crate has none, so whoever applies identity updates decides with
//! [`ScwSignatures`] whether such signatures are refused or accepted
//! without the contract call.

use super::inbox_id::is_lowercase_address;
use super::IdentityError;
use crate::proto::associations::SmartContractWalletSignature;

/// What to do with smart-contract-wallet signatures, which cannot be
/// verified without a chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ScwSignatures {
    /// Refuse every update that carries one (the default): nothing
    /// unverified enters an inbox.
    #[default]
    Refuse,
    /// Apply the update as if the contract had approved the signature: the
    /// signer is the account id's address, on its chain. For load tests
    /// and experiments with smart-wallet inboxes; never for deciding who
    /// owns an inbox.
    AcceptUnverified,
}

impl ScwSignatures {
    /// The flag value: `refuse` or `accept-unverified`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::AcceptUnverified => "accept-unverified",
        }
    }
}

impl std::str::FromStr for ScwSignatures {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "refuse" => Ok(Self::Refuse),
            "accept-unverified" => Ok(Self::AcceptUnverified),
            other => Err(format!(
                "unknown smart-contract-wallet policy {other:?}: expected refuse or accept-unverified"
            )),
        }
    }
}

impl std::fmt::Display for ScwSignatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The address and chain id a smart-contract-wallet signature claims, from
/// its CAIP-10 account id, without checking the signature.
pub(crate) fn claimed_signer(
    signature: &SmartContractWalletSignature,
) -> Result<(String, u64), IdentityError> {
    let malformed = || {
        IdentityError::Malformed(format!(
            "smart-contract wallet account id {:?} is not eip155:<chain id>:<0x address>",
            signature.account_id
        ))
    };
    let mut parts = signature.account_id.split(':');
    let (Some("eip155"), Some(chain), Some(address), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let chain_id: u64 = chain.parse().map_err(|_| malformed())?;
    let address = address.to_ascii_lowercase();
    if !is_lowercase_address(&address) {
        return Err(malformed());
    }
    Ok((address, chain_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_name_an_address_on_a_chain() {
        let signature = |account_id: &str| SmartContractWalletSignature {
            account_id: account_id.into(),
            ..Default::default()
        };
        assert_eq!(
            claimed_signer(&signature(
                "eip155:8453:0xAB5801a7D398351b8bE11C439e05C5B3259aeC9B"
            ))
            .unwrap(),
            ("0xab5801a7d398351b8be11c439e05c5b3259aec9b".into(), 8453)
        );
        for bad in [
            "",
            "eip155:1",
            "cosmos:1:0xab5801a7d398351b8be11c439e05c5b3259aec9b",
            "eip155:x:0xab5801a7d398351b8be11c439e05c5b3259aec9b",
            "eip155:1:0xab",
            "eip155:1:0xab5801a7d398351b8be11c439e05c5b3259aec9b:extra",
        ] {
            assert!(claimed_signer(&signature(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn policy_round_trips_through_its_flag_value() {
        for policy in [ScwSignatures::Refuse, ScwSignatures::AcceptUnverified] {
            assert_eq!(policy.as_str().parse::<ScwSignatures>(), Ok(policy));
        }
        assert!("accept".parse::<ScwSignatures>().is_err());
        assert_eq!(ScwSignatures::default(), ScwSignatures::Refuse);
    }
}
