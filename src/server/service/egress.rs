//! CreateSandbox's network options: the egress a launch gets, or the
//! answer that refuses them.
use super::errors::{self, reason};
use super::Shared;
use crate::proto::v1 as pb;
use crate::server::net::egress::Grants;
use crate::server::net::policy::{self, EgressPolicy};
use std::sync::Arc;
use tonic::{Code, Status};

/// Whether the sandbox gets a network, and the grants that then hold it.
pub fn plan(shared: &Shared, spec: &pb::SandboxSpec) -> Result<(bool, Option<Grants>), Status> {
    let policy = policy::from_spec(spec.network.as_ref()).map_err(|e| {
        if e.unsupported {
            errors::status(
                Code::Unimplemented,
                format!("{}: {}", e.field, e.why),
                reason::NOT_IMPLEMENTED,
                Default::default(),
            )
        } else {
            errors::invalid(&e.field, e.why)
        }
    })?;
    let network = policy.has_network();
    let EgressPolicy::Rules(rules) = policy else {
        return Ok((network, None));
    };
    let needs_resolver = rules.resolve_all || !rules.names.is_empty();
    if needs_resolver && shared.dns_upstream.is_none() {
        return Err(errors::failed_precondition(
            reason::INVALID_REQUEST,
            "host-name egress grants need a resolver, and this server has none \
             (no name server in /etc/resolv.conf; start it with --dns-upstream ADDR)",
        ));
    }
    Ok((
        network,
        Some(Grants {
            rules: Arc::new(rules),
            upstream: shared.dns_upstream.filter(|_| needs_resolver),
        }),
    ))
}

/// The egress rules the status reports (`dns_egress_names` is read from
/// them).
pub fn effective(spec: &pb::SandboxSpec) -> Vec<pb::EgressRule> {
    policy::effective_rules(spec.network.as_ref())
}
