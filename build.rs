//! Compiles `proto/` into Rust at build time with protox, so no system
//! `protoc` is needed. The descriptor set is also written out for gRPC
//! reflection.
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "coreweave/sandbox/v1/sandbox.proto",
    "coreweave/sandbox/v1/sandbox_data_plane.proto",
    "coreweave/sandbox/v1/discovery.proto",
    "coreweave/sandbox/v1/runtime_class.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("sandbox_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        // Output and stdin carry bulk data: as `Bytes` they pass from the
        // pipe reader to the encoder, and from the decoder to the caller,
        // without a copy.
        .bytes(".coreweave.sandbox.v1.ExecStreamOutput.data")
        .bytes(".coreweave.sandbox.v1.ExecStreamRequest.stdin")
        .codec_path("crate::proto::codec::LeanCodec")
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
