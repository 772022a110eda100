//! The codec every generated client and service uses: prost, with small
//! first buffers. tonic allocates an encode and a decode buffer of 8 KiB
//! each per call, up front; a server holding thousands of quiet exec
//! streams paid 16 KiB apiece for buffers that mostly never fill. They
//! still grow to whatever a message needs.
//!
//! A message that does not decode (a `string` that is not UTF-8, a
//! malformed field) is the sender's mistake, so it is INVALID_ARGUMENT
//! naming the field rather than tonic's INTERNAL. The same codec decodes
//! responses in the client: a server sending such a response is reported
//! the same way.
use std::marker::PhantomData;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::ProstCodec;

/// First size of each per-call buffer.
const FIRST_BUFFER: usize = 1 << 10;
/// Output messages ready together are sent together up to this much
/// (tonic's default).
const YIELD_THRESHOLD: usize = 32 << 10;

#[derive(Debug, Clone, Copy)]
pub struct LeanCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for LeanCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for LeanCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
    type Decoder = StrictDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::new(FIRST_BUFFER, YIELD_THRESHOLD))
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder(PhantomData)
    }
}

/// prost's decoding, with decode errors as INVALID_ARGUMENT.
#[derive(Debug)]
pub struct StrictDecoder<U>(PhantomData<U>);

impl<U: prost::Message + Default> Decoder for StrictDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf)
            .map(Some)
            .map_err(|e| crate::server::undecodable(&e))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::new(FIRST_BUFFER, YIELD_THRESHOLD)
    }
}
