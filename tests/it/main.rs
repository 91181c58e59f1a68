//! The integration tests, as one test binary: each module is one concern (its `//!` line says
//! which), run against the real binary, the simulator over HTTP and real receivers on
//! 127.0.0.1. One binary links once and runs every test in one pool of threads, instead of
//! twenty binaries linked and run one after another.
// Tests and benchmarks stop at the first surprise: unwrap is their assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// A test scenario reads top to bottom: splitting it to fit 100 lines would hide its steps.
#![allow(clippy::too_many_lines)]

mod support;

mod admin;
mod auth_cli;
mod commands_cli;
mod fetch_simulator;
mod first_hour;
mod forwarder;
mod fuzz_inputs;
mod golden;
mod graph_fetch;
mod graph_source;
mod hostile_api;
mod isolation;
mod map_cli;
mod receiver_examples;
mod reload;
mod relp_output;
mod relp_receiver;
mod rsyslog_cef;
mod shutdown;
mod simulator_http;
mod syslog_ng_harness;
mod systemd_unit;
mod transport_delivery;
mod transport_restart;
mod transport_rsyslog;
mod transport_syslog_ng;
mod transport_tls_errors;
