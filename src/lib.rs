//! sandscope: a terminal UI, a CLI and a local server for sandboxes that speak
//! the `coreweave.sandbox.v1` gRPC API.
//!
//! `client` is the only gRPC speaker above the wire; `cli` and `tui` sit on it.
//! `server` runs sandboxes on this machine and serves the same API.
pub mod cli;
pub mod client;
pub mod config;
pub mod proto;
pub mod server;
pub mod tui;
