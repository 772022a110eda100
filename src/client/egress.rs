//! What a new sandbox may reach on the network, as the CLI and the TUI
//! ask for it, and what a sandbox was granted, as they show it.
use crate::proto::v1 as pb;
use pb::egress_rule::Destination;

/// A sandbox's egress when it is created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Egress {
    /// The server's default (on the local server: its own loopback only).
    #[default]
    Default,
    /// The whole network the server offers.
    Open,
    /// Only what these grant.
    Grants(Vec<Grant>),
}

/// One egress grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// HTTPS (TCP 443) to a host name, or to every name below one
    /// (`*.example.org`).
    Host(String),
    /// An address range (`10.1.0.0/16`), on every port.
    Net(String),
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grant::Host(h) => write!(f, "{h} (https)"),
            Grant::Net(n) => f.write_str(n),
        }
    }
}

impl Grant {
    /// A host-name grant from what a user typed: a name, or `*.` and one.
    pub fn host(text: &str) -> Result<Grant, String> {
        let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let bare = name.strip_prefix("*.").unwrap_or(&name);
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if bare.is_empty() || !bare.split('.').all(label_ok) {
            return Err(format!(
                "{text:?} is not a host name or a wildcard like *.example.org"
            ));
        }
        Ok(Grant::Host(name))
    }

    /// An address-range grant from what a user typed (`10.0.0.0/8`, or one
    /// address).
    pub fn net(text: &str) -> Result<Grant, String> {
        let text = text.trim();
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
            return Err(format!(
                "{text:?} is not an address or range like 10.1.0.0/16"
            ));
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if !prefix.is_empty() && !prefix.parse::<u8>().is_ok_and(|p| p <= max) {
            return Err(format!("{text:?}: the prefix length must be 0 to {max}"));
        }
        Ok(Grant::Net(text.to_string()))
    }
}

impl Egress {
    /// From one line a user typed: empty for the default, `all` for the
    /// whole network, else host names and address ranges apart by spaces
    /// or commas.
    pub fn parse(text: &str) -> Result<Egress, String> {
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        match words.as_slice() {
            [] => Ok(Egress::Default),
            ["all"] => Ok(Egress::Open),
            words => words
                .iter()
                .map(|w| {
                    let looks_like_address = w.contains(':')
                        || w.split('/')
                            .next()
                            .is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok());
                    if looks_like_address {
                        Grant::net(w)
                    } else {
                        Grant::host(w)
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Egress::Grants),
        }
    }
}

/// The request's network options for `egress` (None: the server's default).
pub(crate) fn to_wire(egress: &Egress) -> Option<pb::NetworkOptions> {
    match egress {
        Egress::Default => None,
        Egress::Open => Some(pb::NetworkOptions {
            deny_egress: Some(false),
            ..Default::default()
        }),
        Egress::Grants(grants) => Some(pb::NetworkOptions {
            egress: grants
                .iter()
                .map(|g| pb::EgressRule {
                    destination: Some(match g {
                        Grant::Host(h) => Destination::HttpsHostname(h.clone()),
                        Grant::Net(n) => Destination::Cidr(pb::CidrBlock {
                            cidr: n.clone(),
                            except: Vec::new(),
                        }),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
    }
}

/// A readable line per granted destination, from the status's echo of the
/// rules (else the spec's).
pub(crate) fn from_wire(sb: &pb::Sandbox) -> Vec<String> {
    let echoed = sb
        .status
        .as_ref()
        .map(|s| s.effective_egress.as_slice())
        .unwrap_or_default();
    let network = sb.spec.as_ref().and_then(|s| s.network.as_ref());
    let rules = if echoed.is_empty() {
        network.map(|n| n.egress.as_slice()).unwrap_or_default()
    } else {
        echoed
    };
    let mut out: Vec<String> = rules.iter().map(describe).collect();
    if out.is_empty() && network.is_some_and(|n| n.deny_egress == Some(false)) {
        out.push("all (no rules)".into());
    }
    out
}

fn describe(rule: &pb::EgressRule) -> String {
    let ports: Vec<String> = rule
        .ports
        .iter()
        .map(|p| {
            let proto = if p.protocol.is_empty() {
                String::new()
            } else {
                format!("{}/", p.protocol.to_ascii_lowercase())
            };
            if p.end_port > p.port {
                format!("{proto}{}-{}", p.port, p.end_port)
            } else {
                format!("{proto}{}", p.port)
            }
        })
        .collect();
    let on = if ports.is_empty() {
        String::new()
    } else {
        format!(" port {}", ports.join(","))
    };
    match &rule.destination {
        Some(Destination::HttpsHostname(h)) => format!("{h} (https)"),
        Some(Destination::Cidr(c)) if c.except.is_empty() => format!("{}{on}", c.cidr),
        Some(Destination::Cidr(c)) => format!("{} except {}{on}", c.cidr, c.except.join(", ")),
        Some(Destination::Any(true)) => format!("any{on}"),
        Some(Destination::Tenant(_)) => format!("other sandboxes{on}"),
        Some(Destination::Selector(_)) => format!("cluster workloads{on}"),
        Some(Destination::Any(false)) | None => "(no destination)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_grants_are_checked() {
        assert_eq!(
            Grant::host("API.example.com."),
            Ok(Grant::Host("api.example.com".into()))
        );
        assert_eq!(
            Grant::host("*.example.org"),
            Ok(Grant::Host("*.example.org".into()))
        );
        assert!(Grant::host("a b").is_err());
        assert!(Grant::host("*").is_err());
        assert_eq!(
            Grant::net("10.1.0.0/16"),
            Ok(Grant::Net("10.1.0.0/16".into()))
        );
        assert!(Grant::net("10.1.0.0/33").is_err());
        assert!(Grant::net("example.com").is_err());
    }

    #[test]
    fn a_typed_line_is_a_default_all_or_grants() {
        assert_eq!(Egress::parse("  "), Ok(Egress::Default));
        assert_eq!(Egress::parse("all"), Ok(Egress::Open));
        assert_eq!(
            Egress::parse("pypi.org, *.pypi.org 10.0.0.0/8 fd00::/8"),
            Ok(Egress::Grants(vec![
                Grant::Host("pypi.org".into()),
                Grant::Host("*.pypi.org".into()),
                Grant::Net("10.0.0.0/8".into()),
                Grant::Net("fd00::/8".into()),
            ]))
        );
        assert!(Egress::parse("pypi.org 10.0.0.0/99").is_err());
        assert!(Egress::parse("bad_name!").is_err());
    }

    #[test]
    fn grants_go_out_as_rules_and_come_back_as_lines() {
        let egress = Egress::Grants(vec![
            Grant::Host("api.example.com".into()),
            Grant::Net("10.0.0.0/8".into()),
        ]);
        let network = to_wire(&egress);
        let sb = pb::Sandbox {
            spec: Some(pb::SandboxSpec {
                network: network.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(from_wire(&sb), ["api.example.com (https)", "10.0.0.0/8"]);
        assert_eq!(to_wire(&Egress::Default), None);
        let open = pb::Sandbox {
            spec: Some(pb::SandboxSpec {
                network: to_wire(&Egress::Open),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(from_wire(&open), ["all (no rules)"]);
    }
}
