//! The shared gRPC client module (being written).
mod error;
mod types;
pub use error::{Error, Result};
pub use types::*;
