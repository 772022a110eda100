//! The packet filter that holds a rule-based egress policy: an nftables
//! table in the sandbox's own network namespace, set by the server from
//! outside it. The sandbox's processes have no capabilities, so they can
//! neither read nor change it.
//!
//! What leaves the sandbox: its loopback, replies on connections it was
//! let make, TCP 443 to the addresses its granted names resolved to (a set
//! the grant resolver fills), and the ranges and ports of its `cidr`
//! grants. Everything else is refused at once (a TCP reset, an ICMP error
//! otherwise), so a program learns in a millisecond that it may not go
//! there instead of waiting for a timeout.
use super::policy::{EgressRules, Net, NetGrant, Ports, Protocol};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

const TABLE: &str = "sandscope_egress";
const NAMES_V4: &str = "granted_v4";
const NAMES_V6: &str = "granted_v6";
/// The port a host-name grant opens.
pub const HTTPS: u16 = 443;

/// nft, if installed (looked up in the system directories only).
pub fn tool() -> Option<PathBuf> {
    crate::server::runtime::DEFAULT_PATH
        .split(':')
        .map(|d| Path::new(d).join("nft"))
        .find(|p| p.is_file())
}

/// The filter of one sandbox's network namespace.
#[derive(Clone)]
pub struct Firewall {
    nft: PathBuf,
    netns: Arc<OwnedFd>,
    /// Addresses already in the granted sets: a name looked up again
    /// costs no second run of nft (a few milliseconds).
    granted: Arc<std::sync::Mutex<std::collections::HashSet<IpAddr>>>,
}

impl std::fmt::Debug for Firewall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Firewall")
    }
}

impl Firewall {
    /// Put `rules` in place in the network namespace `netns`.
    pub async fn install(netns: Arc<OwnedFd>, rules: &EgressRules) -> Result<Firewall, String> {
        let nft = tool().ok_or(
            "egress rules need nft (nftables) to enforce them, which is not installed; \
             the sandbox is not started without them",
        )?;
        let fw = Firewall {
            nft,
            netns,
            granted: Default::default(),
        };
        fw.run(&ruleset(rules)).await?;
        Ok(fw)
    }

    /// Let the sandbox reach `addrs` on the HTTPS port (a granted name
    /// resolved to them).
    pub async fn allow_https(&self, addrs: &[IpAddr]) -> Result<(), String> {
        let new: Vec<IpAddr> = match self.granted.lock() {
            Ok(granted) => addrs
                .iter()
                .filter(|a| !granted.contains(a))
                .copied()
                .collect(),
            Err(_) => addrs.to_vec(),
        };
        let script = grant_elements(&new);
        if script.is_empty() {
            return Ok(());
        }
        self.run(&script).await?;
        if let Ok(mut granted) = self.granted.lock() {
            granted.extend(new);
        }
        Ok(())
    }

    /// `nft -f -` with `script`, in the sandbox's network namespace only
    /// (the host's filesystem and the server's privileges otherwise).
    async fn run(&self, script: &str) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new(&self.nft);
        cmd.args(["-f", "-"])
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let netns = self.netns.as_raw_fd();
        // SAFETY: setns only, between fork and exec; the descriptor stays
        // open for as long as `self` (held across the wait below).
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(netns, libc::CLONE_NEWNET) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child =
            crate::server::runtime::spawner::spawn(cmd).map_err(|e| format!("running nft: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .await
                .map_err(|e| format!("writing nft's rules: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| format!("waiting for nft: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "nft refused the sandbox's egress rules: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

/// The whole table for `rules`. Only values parsed into addresses and
/// numbers reach it, never text from the request.
pub fn ruleset(rules: &EgressRules) -> String {
    let mut grants = String::new();
    for g in &rules.nets {
        grants.push_str(&net_rule(g));
    }
    if rules.any {
        grants.push_str("    accept\n");
    }
    format!(
        "table inet {TABLE} {{\n\
         \x20 set {NAMES_V4} {{ type ipv4_addr; }}\n\
         \x20 set {NAMES_V6} {{ type ipv6_addr; }}\n\
         \x20 chain output {{\n\
         \x20   type filter hook output priority 0; policy drop;\n\
         \x20   oifname \"lo\" accept\n\
         \x20   ct state established,related accept\n\
         \x20   ip daddr @{NAMES_V4} tcp dport {HTTPS} accept\n\
         \x20   ip6 daddr @{NAMES_V6} tcp dport {HTTPS} accept\n\
         {grants}\
         \x20   meta l4proto tcp reject with tcp reset\n\
         \x20   reject with icmpx type admin-prohibited\n\
         \x20 }}\n\
         }}\n"
    )
}

fn family(net: &Net) -> &'static str {
    if net.addr.is_ipv4() {
        "ip"
    } else {
        "ip6"
    }
}

fn net_rule(g: &NetGrant) -> String {
    let fam = family(&g.net);
    let mut matches = format!("{fam} daddr {}", g.net);
    if !g.except.is_empty() {
        let except: Vec<String> = g.except.iter().map(Net::to_string).collect();
        matches.push_str(&format!(" {fam} daddr != {{ {} }}", except.join(", ")));
    }
    if g.ports.is_empty() {
        return format!("    {matches} accept\n");
    }
    g.ports
        .iter()
        .map(|p| format!("    {matches} {} accept\n", port_match(p)))
        .collect()
}

fn port_match(p: &Ports) -> String {
    let range = if p.first == p.last {
        p.first.to_string()
    } else {
        format!("{}-{}", p.first, p.last)
    };
    let proto = match p.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
        Protocol::TcpUdp => "{ tcp, udp }",
    };
    format!("meta l4proto {proto} th dport {range}")
}

/// Elements to add to the granted sets for `addrs`.
fn grant_elements(addrs: &[IpAddr]) -> String {
    let (v4, v6): (Vec<&IpAddr>, Vec<&IpAddr>) = addrs.iter().partition(|a| a.is_ipv4());
    let mut script = String::new();
    for (set, list) in [(NAMES_V4, v4), (NAMES_V6, v6)] {
        if !list.is_empty() {
            let list: Vec<String> = list.iter().map(|a| a.to_string()).collect();
            script.push_str(&format!(
                "add element inet {TABLE} {set} {{ {} }}\n",
                list.join(", ")
            ));
        }
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1 as pb;
    use crate::server::net::policy::{from_spec, EgressPolicy};
    use pb::egress_rule::Destination;

    #[test]
    fn grants_become_rules_before_the_refusal() {
        let n = pb::NetworkOptions {
            egress: vec![
                pb::EgressRule {
                    destination: Some(Destination::HttpsHostname("api.example.com".into())),
                    ..Default::default()
                },
                pb::EgressRule {
                    destination: Some(Destination::Cidr(pb::CidrBlock {
                        cidr: "10.9.0.0/16".into(),
                        except: vec!["10.9.1.0/24".into()],
                    })),
                    ports: vec![pb::PortRange {
                        protocol: String::new(),
                        port: 53,
                        end_port: 0,
                    }],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let EgressPolicy::Rules(rules) = from_spec(Some(&n)).unwrap() else {
            panic!("rules");
        };
        let text = ruleset(&rules);
        let grant = text
            .find("ip daddr 10.9.0.0/16 ip daddr != { 10.9.1.0/24 } meta l4proto { tcp, udp } th dport 53 accept")
            .expect(&text);
        assert!(grant < text.find("reject with tcp reset").unwrap());
        assert!(!text.contains("    accept\n"), "{text}");
    }

    #[test]
    fn resolved_addresses_go_to_their_family_set() {
        let addrs: Vec<IpAddr> = vec!["10.1.2.3".parse().unwrap(), "fd00::1".parse().unwrap()];
        assert_eq!(
            grant_elements(&addrs),
            "add element inet sandscope_egress granted_v4 { 10.1.2.3 }\n\
             add element inet sandscope_egress granted_v6 { fd00::1 }\n"
        );
        assert_eq!(grant_elements(&[]), "");
    }
}
