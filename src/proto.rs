//! The generated `coreweave.sandbox.v1` types. Only `client/` and `server/`
//! use these; everything above them sees domain types.
#![allow(clippy::all, missing_docs)]

pub mod codec;

pub mod v1 {
    tonic::include_proto!("coreweave.sandbox.v1");
}

/// Encoded descriptor set of every proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/sandbox_descriptor.bin"));
