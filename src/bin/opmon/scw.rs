//! `--scw-signatures`: what the embedded node does with smart-contract-wallet
//! signatures, shared by `opmon node`, `opmon bench` and `opmon monitor`
//! (the last two pass it on to the node they start).

use clap::Args;
use xmtp_opmon::node::ScwSignatures;

/// The embedded node's smart-contract-wallet policy.
#[derive(Args, Debug, Clone, Default)]
pub struct ScwArgs {
    /// What to do with smart-contract-wallet (ERC-1271/ERC-6492) signatures,
    /// which need a chain to verify: `refuse` them with INVALID_ARGUMENT, or
    /// `accept-unverified` (apply the update without checking the
    /// signature) [default: refuse].
    #[arg(long, value_name = "POLICY")]
    pub scw_signatures: Option<ScwSignatures>,
}

impl ScwArgs {
    /// Whether the flag was given.
    pub fn any(&self) -> bool {
        self.scw_signatures.is_some()
    }

    /// The policy, the node's default when not given.
    pub fn policy(&self) -> ScwSignatures {
        self.scw_signatures.unwrap_or_default()
    }

    /// The flag, for a node started as a child process.
    pub fn to_args(&self) -> Vec<String> {
        self.scw_signatures
            .map(|policy| vec!["--scw-signatures".to_owned(), policy.to_string()])
            .unwrap_or_default()
    }
}
