//! The forwarder's per-tenant loop.
//!
//! - [`checkpoint`]: where a tenant stands, saved atomically after every delivered window.
//! - [`daemon`]: [`Forwarder`]: every tenant in its own task, shared outputs, reload on
//!   SIGHUP, shutdown.
//! - [`planner`]: how long a tenant's next window is, from what the last one held.
//! - [`replay`]: a given range forwarded once, checkpoints untouched.
//! - [`supervisor`]: tenant tasks that panic are restarted with backoff, not forgotten.
//! - [`run_state`]: a tenant that is not well, on disk for `check` and `auth status`.
//! - [`window`]: one window fetched and sent to every output (shared by run and replay).
//! - [`tenant`]: `TenantForwarder`: window, fetch, de-duplicate, map, send, checkpoint.
//! - `tenant_task`: one tenant's task under `run`: built from its slot, polled, reported.
//! - [`wiring`]: what run and replay build alike: outputs with their dead letters, routing,
//!   API clients sharing HTTP clients and the page budget.

pub mod checkpoint;
pub mod daemon;
pub mod planner;
pub mod replay;
pub mod run_state;
pub mod supervisor;
pub mod tenant;
mod tenant_task;
pub mod window;
pub mod wiring;

#[cfg(test)]
mod tests;

pub use checkpoint::CheckpointError;
pub use daemon::{Forwarder, RunOutcome, StartError};
pub use tenant::{PollError, PollReport};
