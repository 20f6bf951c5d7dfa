//! What a benchmark measures: the embedded node in a child process, a
//! published XMTP environment, or URLs given on the command line.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use xmtp_opmon::client::{ClientConfig, V3Client, V4Client};

use crate::node::{ARM, ARMED};

/// Where the operations go, as `opmon bench` and `opmon monitor` take it.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// A published XMTP environment instead of the embedded node.
    #[arg(long, value_enum, conflicts_with_all = ["node", "gateway"])]
    pub env: Option<Env>,
    /// Node URL for reads instead of the embedded node (with --api v3, the V3 node).
    #[arg(long, value_name = "URL")]
    pub node: Option<String>,
    /// Gateway URL for V4 writes [default: the --node URL].
    #[arg(long, value_name = "URL", requires = "node")]
    pub gateway: Option<String>,
    /// Network generation: v4 (d14n) or v3 (the centralized network).
    #[arg(long, default_value = "v4", value_parser = ["v4", "v3"])]
    pub api: String,
}

/// XMTP's published V4 environments (hosts as libxmtp configures them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Env {
    /// A node on this machine: node :5050, gateway :5052.
    Local,
    /// The testnet-dev network.
    Dev,
    /// The testnet-staging network.
    Staging,
    /// The production testnet.
    Production,
}

impl Env {
    /// Node (reads) and gateway (writes) URLs.
    pub fn urls(self) -> (&'static str, &'static str) {
        match self {
            Self::Local => ("http://localhost:5050", "http://localhost:5052"),
            Self::Dev => (
                "https://grpc.testnet-dev.xmtp.network:443",
                "https://payer.testnet-dev.xmtp.network:443",
            ),
            Self::Staging => (
                "https://grpc.testnet-staging.xmtp.network:443",
                "https://payer.testnet-staging.xmtp.network:443",
            ),
            Self::Production => (
                "https://grpc.testnet.xmtp.network:443",
                "https://payer.testnet.xmtp.network:443",
            ),
        }
    }

    /// The V3 node of the same environment (V3 has one URL for reads and
    /// writes; dev and staging share XMTP's dev network).
    pub fn v3_url(self) -> &'static str {
        match self {
            Self::Local => "http://localhost:5556",
            Self::Dev | Self::Staging => "https://grpc.dev.xmtp.network:443",
            Self::Production => "https://grpc.production.xmtp.network:443",
        }
    }

    /// The name `--env` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Dev => "dev",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

/// Where a run sends its operations.
pub struct Target {
    /// `embedded`, `env` or `explicit`.
    pub kind: &'static str,
    /// The preset, for `env`.
    pub env: Option<Env>,
    /// Reads go here.
    pub node: String,
    /// Writes go here.
    pub gateway: String,
    /// The embedded node's process, when there is one.
    pub child: Option<NodeProcess>,
}

impl Target {
    /// The target the flags name: an `--env` preset, explicit `--node`
    /// (and `--gateway`) URLs, or else the embedded node, started here
    /// with `node_args` (its fault and store flags).
    pub async fn resolve(args: &TargetArgs, node_args: &[String]) -> anyhow::Result<Self> {
        let (env, node, gateway) = (args.env, args.node.as_deref(), args.gateway.as_deref());
        Ok(match (env, node) {
            (Some(env), _) => {
                let (node, gateway) = if args.api == "v3" {
                    (env.v3_url(), env.v3_url())
                } else {
                    env.urls()
                };
                Self {
                    kind: "env",
                    env: Some(env),
                    node: node.to_owned(),
                    gateway: gateway.to_owned(),
                    child: None,
                }
            }
            (None, Some(node)) => Self {
                kind: "explicit",
                env: None,
                node: node.to_owned(),
                gateway: gateway.unwrap_or(node).to_owned(),
                child: None,
            },
            (None, None) => {
                let (child, url) = NodeProcess::start(node_args).await?;
                Self {
                    kind: "embedded",
                    env: None,
                    node: url.clone(),
                    gateway: url,
                    child: Some(child),
                }
            }
        })
    }
}

impl Target {
    /// A traced V4 client of this target, with a second connection of its
    /// own for visibility checks.
    pub fn v4_client(&self) -> anyhow::Result<V4Client> {
        let connect = || {
            V4Client::connect_traced(&self.gateway, &self.node, ClientConfig::default())
                .map_err(|e| anyhow::anyhow!("{e}"))
        };
        Ok(connect()?.with_reader(&connect()?))
    }

    /// A traced V3 client of this target, with a second connection of its
    /// own for visibility checks.
    pub fn v3_client(&self) -> anyhow::Result<V3Client> {
        let connect = || {
            V3Client::connect_traced(&self.node, ClientConfig::default())
                .map_err(|e| anyhow::anyhow!("{e}"))
        };
        Ok(connect()?.with_reader(&connect()?))
    }
}

/// How long the embedded node may take to print its address.
const NODE_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the embedded node gets to stop once asked.
const NODE_STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// `opmon node` running as a child of this process, so the client's CPU
/// and memory figures are its own.
pub struct NodeProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    pid: Option<u32>,
}

impl NodeProcess {
    /// Starts the node on a free loopback port with `node_args`, its faults
    /// held until [`arm`](Self::arm); returns it with its URL.
    pub async fn start(node_args: &[String]) -> anyhow::Result<(Self, String)> {
        let exe = std::env::current_exe().context("cannot find the opmon executable")?;
        let mut command = Command::new(exe);
        command
            .args(["node", "--listen", "127.0.0.1:0", "--supervised"])
            .args(node_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        // Its own process group: Ctrl-C in a terminal interrupts the
        // benchmark, which then stops the node itself once the operations
        // in flight are done.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().context("cannot start the embedded node")?;
        let pid = child.id();
        let stdout = child
            .stdout
            .take()
            .context("no pipe from the embedded node")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(NODE_START_TIMEOUT, lines.next_line())
            .await
            .context("the embedded node did not start in time")?
            .context("cannot read from the embedded node")?;
        let Some(url) = line
            .as_deref()
            .and_then(|l| l.strip_prefix("listening on "))
        else {
            bail!("the embedded node failed to start");
        };
        let url = url.trim().to_owned();
        Ok((
            Self {
                stdin: child.stdin.take(),
                stdout: lines,
                child,
                pid,
            },
            url,
        ))
    }

    /// The node's process id, for resource sampling.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Lets the injected faults apply from now on, and returns once the
    /// node confirms they do, so the first measured call is faulted too.
    pub async fn arm(&mut self) -> anyhow::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .context("the embedded node is stopped")?;
        stdin
            .write_all(format!("{ARM}\n").as_bytes())
            .await
            .and(stdin.flush().await)
            .context("cannot reach the embedded node")?;
        let answer = tokio::time::timeout(NODE_START_TIMEOUT, self.stdout.next_line())
            .await
            .context("the embedded node did not confirm its faults in time")?
            .context("cannot read from the embedded node")?;
        match answer.as_deref().map(str::trim) {
            Some(ARMED) => Ok(()),
            _ => bail!("the embedded node did not confirm its faults"),
        }
    }

    /// Stops the node: closing its stdin asks it to shut down; if it does
    /// not, it is killed.
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(NODE_STOP_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
