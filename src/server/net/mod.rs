//! A sandbox's network beyond its own loopback.
pub mod egress;
pub mod publish;
mod relay;
