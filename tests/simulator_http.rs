//! The simulator over real HTTP, as a client sees it: Entra token shapes and errors, refresh
//! rotation, authorization code + PKCE, device code, the alerts API's paging, filters, quotas
//! and faults, and determinism.
//!
//! Most tests speak hand-written HTTP/1.1 over `TcpStream` (one request per connection), which
//! creates no timers, so paused-time tests stay deterministic; one goes through reqwest.
//! The tests live in `tests/simulator_http/`.

#[path = "simulator_http/alerts.rs"]
mod alerts;
#[path = "simulator_http/cli.rs"]
mod cli;
#[path = "simulator_http/client.rs"]
mod client;
#[path = "simulator_http/entra.rs"]
mod entra;
