//! Ports of sandboxes forwarded to this machine. They outlive the detail
//! screen they were opened from, until closed or until the TUI quits.
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardState {
    /// Looking for a relay tool in the sandbox and binding the port.
    Starting,
    Listening {
        addr: SocketAddr,
        tool: String,
    },
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub id: u64,
    pub sandbox_id: String,
    pub remote: u16,
    /// The local port asked for (0: any free one).
    pub local: u16,
    pub state: ForwardState,
    pub active: usize,
    pub total: u64,
}

impl Forward {
    /// What a browser or curl opens.
    pub fn url(&self) -> Option<String> {
        match &self.state {
            ForwardState::Listening { addr, .. } => Some(format!("http://{addr}/")),
            _ => None,
        }
    }
}

/// The forwards of one sandbox, in the order they were made.
pub fn of<'a>(all: &'a [Forward], sandbox_id: &'a str) -> impl Iterator<Item = &'a Forward> {
    all.iter().filter(move |f| f.sandbox_id == sandbox_id)
}

/// `8080` or `9000:8080` (local:remote), as `port-forward` takes them.
pub fn parse_ports(spec: &str) -> Result<(u16, u16), String> {
    let port = |s: &str, what: &str| -> Result<u16, String> {
        s.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{s}` is not a {what} port (1-65535)"))
    };
    let (local, remote) = match spec.split_once(':') {
        Some((l, r)) => (port(l, "local")?, port(r, "sandbox")?),
        None => (0, port(spec, "sandbox")?),
    };
    if remote == 0 {
        return Err("the sandbox port must be 1-65535".into());
    }
    Ok((local, remote))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_like_port_forward() {
        assert_eq!(parse_ports("8080"), Ok((0, 8080)));
        assert_eq!(parse_ports("9000:8080"), Ok((9000, 8080)));
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("x").is_err());
        assert!(parse_ports("70000").is_err());
    }
}
