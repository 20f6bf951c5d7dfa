//! `--visibility` and `--welcomes`: whether writes are followed by what the
//! other side sees, for `opmon bench` and `opmon monitor` alike.

use clap::Args;
use xmtp_opmon::client::WelcomeWatch;

/// The visibility flags.
#[derive(Args, Debug, Clone, Copy)]
pub struct VisibilityArgs {
    /// Follow each write with what the other side sees: identity.visible (another
    /// connection reads the new inbox), member.visible (the first newcomer joins from its
    /// welcome), message.visible (a member reading the group by stream decrypts it).
    #[arg(long)]
    pub visibility: bool,
    /// How a newcomer finds its welcome for member.visible: poll (as XMTP's monitor does)
    /// or stream [default: poll].
    #[arg(long, value_name = "HOW", requires = "visibility",
          value_parser = |s: &str| s.parse::<WelcomeWatch>())]
    welcomes: Option<WelcomeWatch>,
}

impl VisibilityArgs {
    /// How newcomers read their welcomes.
    pub fn welcomes(&self) -> WelcomeWatch {
        self.welcomes.unwrap_or_default()
    }

    /// What run.json records: the welcome reading, if visibility is on.
    pub fn recorded(&self) -> Option<String> {
        self.visibility.then(|| self.welcomes().as_str().to_owned())
    }
}
