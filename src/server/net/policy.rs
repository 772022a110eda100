//! What a sandbox may reach, read from its request before anything runs.
//!
//! - No network options, or `deny_egress=true`: nothing beyond its own
//!   loopback.
//! - `deny_egress=false` and no rules: the outside world (not the host's
//!   loopback), as before rules existed.
//! - Egress rules: nothing but what they grant. A `dns_name` grant
//!   (`https_hostname` on the wire) lets the sandbox resolve names that
//!   match it and connect to the addresses they resolve to on TCP 443; a
//!   `cidr` grant, a range of addresses (optionally some ports); `any`,
//!   everything. Rules that name other sandboxes or cluster workloads
//!   (`tenant`, `selector`) have no meaning on one machine and are refused.
use crate::proto::v1 as pb;
use pb::egress_rule::Destination;
use std::net::IpAddr;

/// A sandbox's egress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressPolicy {
    /// Its own loopback only.
    Closed,
    /// Everything user-mode networking reaches.
    Open,
    /// Only what the rules grant.
    Rules(EgressRules),
}

impl EgressPolicy {
    /// Whether the sandbox gets a network beyond its loopback.
    pub fn has_network(&self) -> bool {
        !matches!(self, EgressPolicy::Closed)
    }
}

/// The grants of a rule-based policy, all checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressRules {
    /// Host names reachable over HTTPS.
    pub names: Vec<NamePattern>,
    /// Address ranges reachable.
    pub nets: Vec<NetGrant>,
    /// `any`: every destination.
    pub any: bool,
    /// Whether names outside the grants resolve too (`any`, or
    /// `dns_egress=ALLOW`); connecting still needs a grant.
    pub resolve_all: bool,
}

impl EgressRules {
    /// Whether the sandbox's resolver may look `name` up.
    pub fn may_resolve(&self, name: &str) -> bool {
        self.resolve_all || self.names.iter().any(|p| p.matches(name))
    }
}

/// An exact host name, or every name below one (`*.example.org` matches
/// `a.example.org` and `a.b.example.org`, not `example.org`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    Exact(String),
    Below(String),
}

impl NamePattern {
    pub fn matches(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.');
        match self {
            NamePattern::Exact(n) => name.eq_ignore_ascii_case(n),
            NamePattern::Below(suffix) => {
                name.len() > suffix.len() + 1
                    && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
                    && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
        }
    }
}

/// A network, as an address and a prefix length that fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A `cidr` grant: a range, minus exceptions, on some ports (all if none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetGrant {
    pub net: Net,
    pub except: Vec<Net>,
    pub ports: Vec<Ports>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    /// No protocol named: TCP and UDP.
    TcpUdp,
}

/// A port range of a grant, first..=last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub protocol: Protocol,
    pub first: u16,
    pub last: u16,
}

/// Why a request's network options were refused: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub field: String,
    pub why: String,
    /// The rule asks for something only a cluster has.
    pub unsupported: bool,
}

fn bad(field: String, why: impl Into<String>) -> PolicyError {
    PolicyError {
        field,
        why: why.into(),
        unsupported: false,
    }
}

/// Read the request's network options.
pub fn from_spec(network: Option<&pb::NetworkOptions>) -> Result<EgressPolicy, PolicyError> {
    let Some(n) = network else {
        return Ok(EgressPolicy::Closed);
    };
    if n.egress.is_empty() {
        return Ok(if n.deny_egress == Some(false) {
            EgressPolicy::Open
        } else {
            EgressPolicy::Closed
        });
    }
    if n.deny_egress == Some(true) {
        return Err(bad(
            "spec.network.deny_egress".into(),
            "deny_egress cannot be combined with egress rules",
        ));
    }
    let mut rules = EgressRules {
        resolve_all: n.dns_egress == pb::DnsEgressMode::Allow as i32,
        ..Default::default()
    };
    for (i, rule) in n.egress.iter().enumerate() {
        let field = format!("spec.network.egress[{i}]");
        if !rule.https_hostname_except.is_empty() {
            return Err(bad(
                format!("{field}.https_hostname_except"),
                "exceptions are policy-only and not valid on a sandbox's grant",
            ));
        }
        match &rule.destination {
            Some(Destination::HttpsHostname(name)) => {
                rules.names.push(
                    name_pattern(name)
                        .map_err(|why| bad(format!("{field}.https_hostname"), why))?,
                );
                if !https_only(&rule.ports) {
                    return Err(bad(
                        format!("{field}.ports"),
                        "a host-name grant is for HTTPS (TCP 443) only: omit ports or give 443",
                    ));
                }
            }
            Some(Destination::Cidr(c)) => {
                let net = parse_net(&c.cidr).map_err(|why| bad(format!("{field}.cidr"), why))?;
                let mut except = Vec::new();
                for (j, e) in c.except.iter().enumerate() {
                    let e = parse_net(e)
                        .map_err(|why| bad(format!("{field}.cidr.except[{j}]"), why))?;
                    if e.addr.is_ipv4() != net.addr.is_ipv4() {
                        return Err(bad(
                            format!("{field}.cidr.except[{j}]"),
                            "an exception must be of the range's address family",
                        ));
                    }
                    except.push(e);
                }
                let ports = port_ranges(&rule.ports, &field)?;
                rules.nets.push(NetGrant { net, except, ports });
            }
            Some(Destination::Any(true)) => {
                rules.any = true;
                rules.resolve_all = true;
            }
            Some(Destination::Any(false)) | None => {
                return Err(bad(field, "a rule needs a destination"));
            }
            Some(Destination::Tenant(_)) | Some(Destination::Selector(_)) => {
                return Err(PolicyError {
                    field,
                    why: "egress to other tenants' sandboxes or to cluster workloads is not \
                          available on a local server"
                        .into(),
                    unsupported: true,
                });
            }
        }
    }
    Ok(EgressPolicy::Rules(rules))
}

/// The rules as the status echoes them: names as they are enforced.
pub fn effective_rules(network: Option<&pb::NetworkOptions>) -> Vec<pb::EgressRule> {
    let Some(n) = network else {
        return Vec::new();
    };
    n.egress
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(Destination::HttpsHostname(name)) = &mut r.destination {
                *name = name.trim().trim_end_matches('.').to_ascii_lowercase();
            }
            r
        })
        .collect()
}

fn name_pattern(name: &str) -> Result<NamePattern, String> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let (below, host) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest.to_string()),
        None => (false, name.clone()),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        return Err(format!(
            "{name:?} is not a host name or a single leftmost wildcard (*.example.com)"
        ));
    }
    if host.parse::<IpAddr>().is_ok() {
        return Err(format!("{name:?} is an address: grant it as a cidr"));
    }
    Ok(if below {
        NamePattern::Below(host)
    } else {
        NamePattern::Exact(host)
    })
}

fn https_only(ports: &[pb::PortRange]) -> bool {
    match ports {
        [] => true,
        [p] => {
            p.port == 443
                && (p.end_port == 0 || p.end_port == 443)
                && (p.protocol.is_empty() || p.protocol.eq_ignore_ascii_case("tcp"))
        }
        _ => false,
    }
}

fn parse_net(text: &str) -> Result<Net, String> {
    let text = text.trim();
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{text:?} is not an address range (like 10.1.0.0/16)"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{text:?} has a prefix length outside 0..={max}"))?,
    };
    Ok(Net {
        addr: masked(addr, prefix),
        prefix,
    })
}

/// `addr` with the bits past `prefix` cleared, as the kernel reads a range.
fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & mask).into())
        }
    }
}

fn port_ranges(ports: &[pb::PortRange], field: &str) -> Result<Vec<Ports>, PolicyError> {
    let mut out = Vec::new();
    for (k, p) in ports.iter().enumerate() {
        let f = format!("{field}.ports[{k}]");
        let protocol = match p.protocol.to_ascii_lowercase().as_str() {
            "" => Protocol::TcpUdp,
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            other => {
                return Err(bad(
                    f,
                    format!("unknown protocol {other:?} (TCP, UDP or SCTP)"),
                ))
            }
        };
        let first = u16::try_from(p.port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad(f.clone(), format!("port {} is outside 1-65535", p.port)))?;
        let last = if p.end_port == 0 {
            first
        } else {
            u16::try_from(p.end_port)
                .ok()
                .filter(|e| *e >= first)
                .ok_or_else(|| {
                    bad(
                        f.clone(),
                        format!("end_port {} is outside {first}-65535", p.end_port),
                    )
                })?
        };
        out.push(Ports {
            protocol,
            first,
            last,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> pb::EgressRule {
        pb::EgressRule {
            destination: Some(Destination::HttpsHostname(name.into())),
            ..Default::default()
        }
    }

    fn options(egress: Vec<pb::EgressRule>) -> pb::NetworkOptions {
        pb::NetworkOptions {
            egress,
            ..Default::default()
        }
    }

    fn rules(egress: Vec<pb::EgressRule>) -> EgressRules {
        match from_spec(Some(&options(egress))) {
            Ok(EgressPolicy::Rules(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_rules_the_deny_flag_decides() {
        assert_eq!(from_spec(None), Ok(EgressPolicy::Closed));
        let mut n = options(vec![]);
        assert_eq!(from_spec(Some(&n)), Ok(EgressPolicy::Closed));
        n.deny_egress = Some(false);
        assert_eq!(from_spec(Some(&n)), Ok(EgressPolicy::Open));
        n.deny_egress = Some(true);
        assert_eq!(from_spec(Some(&n)), Ok(EgressPolicy::Closed));
    }

    #[test]
    fn names_match_exactly_or_below_a_wildcard() {
        let r = rules(vec![host("API.example.com."), host("*.example.org")]);
        assert!(r.may_resolve("api.example.com"));
        assert!(r.may_resolve("Api.Example.Com."));
        assert!(!r.may_resolve("x.api.example.com"));
        assert!(!r.may_resolve("example.com"));
        assert!(r.may_resolve("a.example.org"));
        assert!(r.may_resolve("a.b.example.org"));
        assert!(!r.may_resolve("example.org"));
        assert!(!r.may_resolve("badexample.org"));
        assert!(!r.may_resolve("example.org.evil.net"));
    }

    #[test]
    fn bad_rules_name_their_field() {
        for (rule, field) in [
            (host("*"), "spec.network.egress[0].https_hostname"),
            (
                host("a.*.example.com"),
                "spec.network.egress[0].https_hostname",
            ),
            (host("10.0.0.1"), "spec.network.egress[0].https_hostname"),
            (
                host("bad name.com"),
                "spec.network.egress[0].https_hostname",
            ),
            (
                pb::EgressRule {
                    ports: vec![pb::PortRange {
                        port: 80,
                        ..Default::default()
                    }],
                    ..host("example.com")
                },
                "spec.network.egress[0].ports",
            ),
            (
                pb::EgressRule {
                    destination: Some(Destination::Cidr(pb::CidrBlock {
                        cidr: "10.0.0.0/33".into(),
                        except: vec![],
                    })),
                    ..Default::default()
                },
                "spec.network.egress[0].cidr",
            ),
            (pb::EgressRule::default(), "spec.network.egress[0]"),
        ] {
            let err = from_spec(Some(&options(vec![rule]))).unwrap_err();
            assert_eq!(err.field, field, "{err:?}");
            assert!(!err.unsupported);
        }
        let tenant = pb::EgressRule {
            destination: Some(Destination::Tenant(1)),
            ..Default::default()
        };
        assert!(
            from_spec(Some(&options(vec![tenant])))
                .unwrap_err()
                .unsupported
        );
    }

    #[test]
    fn ranges_are_read_as_the_kernel_reads_them() {
        let r = rules(vec![pb::EgressRule {
            destination: Some(Destination::Cidr(pb::CidrBlock {
                cidr: "10.213.9.77/24".into(),
                except: vec!["10.213.9.5".into()],
            })),
            ports: vec![pb::PortRange {
                protocol: "tcp".into(),
                port: 8000,
                end_port: 8080,
            }],
            ..Default::default()
        }]);
        let g = &r.nets[0];
        assert_eq!(g.net.to_string(), "10.213.9.0/24");
        assert_eq!(g.except[0].to_string(), "10.213.9.5/32");
        assert_eq!(
            g.ports,
            vec![Ports {
                protocol: Protocol::Tcp,
                first: 8000,
                last: 8080
            }]
        );
        assert!(!r.may_resolve("example.com"));
    }

    #[test]
    fn the_status_echoes_names_as_enforced() {
        let n = options(vec![host(" API.Example.com. ")]);
        let echoed = effective_rules(Some(&n));
        assert_eq!(
            echoed[0].destination,
            Some(Destination::HttpsHostname("api.example.com".into()))
        );
    }
}
