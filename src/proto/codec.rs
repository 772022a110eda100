//! The codec every generated client and service uses: prost, with small
//! first buffers. tonic allocates an encode and a decode buffer of 8 KiB
//! each per call, up front; a server holding thousands of quiet exec
//! streams paid 16 KiB apiece for buffers that mostly never fill. They
//! still grow to whatever a message needs.
use std::marker::PhantomData;
use tonic::codec::{BufferSettings, Codec, ProstCodec};

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
    type Decoder = <ProstCodec<T, U> as Codec>::Decoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::new(FIRST_BUFFER, YIELD_THRESHOLD))
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(BufferSettings::new(FIRST_BUFFER, YIELD_THRESHOLD))
    }
}
