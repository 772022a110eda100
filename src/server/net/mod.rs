//! A sandbox's network beyond its own loopback: user-mode networking, and
//! for rule-based egress the policy, the filter that holds it and the
//! resolver that answers granted names.
pub mod dns;
pub mod egress;
pub mod firewall;
pub mod policy;
pub mod publish;
mod relay;
pub mod resolver;
