//! The simulator over real HTTP, as a client sees it: Entra token shapes and errors, refresh
//! rotation, authorization code + PKCE, device code, the alerts API's paging, filters, quotas
//! and faults (200 answers that are not a page among them), and determinism.
//!
//! Most tests speak hand-written HTTP/1.1 over `TcpStream` (one request per connection), which
//! creates no timers, so paused-time tests stay deterministic; a few go through reqwest.
//! The tests live in `tests/it/simulator_http/`.

#[path = "simulator_http/alerts.rs"]
mod alerts;
#[path = "simulator_http/answer_faults.rs"]
mod answer_faults;
#[path = "simulator_http/cli.rs"]
mod cli;
#[path = "simulator_http/client.rs"]
mod client;
#[path = "simulator_http/entra.rs"]
mod entra;
