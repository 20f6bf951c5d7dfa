//! The dedicated thread and Tokio runtime the gRPC exporters live on.
//!
//! tonic captures the runtime that is current when a channel is created and
//! spawns its connection tasks there. Creating the exporters on a runtime of
//! our own means telemetry neither depends on the application's runtime
//! (there may be none, or it may be shutting down) nor competes with it, and
//! the SDK's blocking calls can never deadlock a current-thread runtime.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::TelemetryError;

/// How long the runtime may take to cancel its tasks once told to stop.
const RUNTIME_STOP_GRACE: Duration = Duration::from_millis(200);

/// The `opmon-telemetry` thread running a current-thread Tokio runtime.
#[derive(Debug)]
pub(crate) struct TelemetryRuntime {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: mpsc::Receiver<()>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TelemetryRuntime {
    /// Starts the thread, runs `build` inside its runtime and returns what it
    /// built. The runtime then keeps driving whatever `build` spawned until
    /// [`stop`](Self::stop).
    pub(crate) fn start<T, F>(build: F) -> Result<(Self, T), TelemetryError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (built_tx, built_rx) = mpsc::channel::<std::io::Result<T>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (stopped_tx, stopped_rx) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("opmon-telemetry".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = built_tx.send(Err(error));
                        return;
                    }
                };
                let built = {
                    let _entered = runtime.enter();
                    build()
                };
                if built_tx.send(Ok(built)).is_ok() {
                    // An error means the guard is gone without stopping us:
                    // stop as well.
                    runtime.block_on(async {
                        let _ = stop_rx.await;
                    });
                }
                runtime.shutdown_timeout(RUNTIME_STOP_GRACE);
                let _ = stopped_tx.send(());
            })
            .map_err(TelemetryError::Runtime)?;

        let runtime = Self {
            stop: Some(stop_tx),
            stopped: stopped_rx,
            thread: Some(thread),
        };
        match built_rx.recv() {
            Ok(Ok(built)) => Ok((runtime, built)),
            Ok(Err(error)) => Err(TelemetryError::Runtime(error)),
            Err(_) => Err(TelemetryError::Runtime(std::io::Error::other(
                "the telemetry thread exited while building the exporters",
            ))),
        }
    }

    /// Stops the runtime, waiting at most `wait` for the thread to finish.
    /// Returns whether it did.
    pub(crate) fn stop(mut self, wait: Duration) -> bool {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let finished = match self.stopped.recv_timeout(wait) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => true,
            Err(mpsc::RecvTimeoutError::Timeout) => false,
        };
        if finished {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
        finished
    }
}
