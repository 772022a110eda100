//! Services as the CLI (`--service`) and the TUI's create dialog ask for
//! them: `PORT[:NAME[:KIND]]`, one or several.
use super::{ServiceEndpoint, ServiceRequest, Visibility};

impl ServiceRequest {
    /// `8080`, `8080:web`, `8443:web:tls` into a service.
    pub fn parse(text: &str) -> Result<ServiceRequest, String> {
        let mut parts = text.trim().splitn(3, ':');
        let port = parts.next().unwrap_or_default();
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{port:?} is not a port (1-65535)"))?;
        let name = parts.next().unwrap_or_default().to_string();
        let (visibility, endpoint) = match parts.next().unwrap_or("public") {
            "public" | "" => (Visibility::Public, None),
            "private" => (Visibility::Private, None),
            "https" => (Visibility::Public, Some(ServiceEndpoint::Https)),
            "tls" | "tls-passthrough" => {
                (Visibility::Public, Some(ServiceEndpoint::TlsPassthrough))
            }
            other => {
                return Err(format!(
                    "unknown service kind {other:?}; use public, private, https or tls"
                ))
            }
        };
        Ok(ServiceRequest {
            port,
            name,
            visibility,
            endpoint,
        })
    }

    /// Services separated by spaces or commas (`8080:web 8443::tls`); empty
    /// for none. A port given twice is refused here, where the mistake is
    /// still on screen, rather than by the server.
    pub fn parse_list(line: &str) -> Result<Vec<ServiceRequest>, String> {
        let mut services: Vec<ServiceRequest> = Vec::new();
        for word in line.split([' ', ',']).filter(|w| !w.is_empty()) {
            let service = ServiceRequest::parse(word)?;
            if services.iter().any(|s| s.port == service.port) {
                return Err(format!("port {} is given twice", service.port));
            }
            services.push(service);
        }
        Ok(services)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_service() {
        let s = ServiceRequest::parse("8443:web:tls").unwrap();
        assert_eq!(
            (s.port, s.name.as_str(), s.visibility, s.endpoint),
            (
                8443,
                "web",
                Visibility::Public,
                Some(ServiceEndpoint::TlsPassthrough)
            )
        );
        let s = ServiceRequest::parse("80").unwrap();
        assert_eq!(
            (s.port, s.visibility, s.endpoint),
            (80, Visibility::Public, None)
        );
        assert_eq!(
            ServiceRequest::parse("9::private").unwrap().visibility,
            Visibility::Private
        );
        assert!(ServiceRequest::parse("0").is_err());
        assert!(ServiceRequest::parse("70000").is_err());
        assert!(ServiceRequest::parse("web").is_err());
        assert!(ServiceRequest::parse("80:x:udp").is_err());
    }

    #[test]
    fn a_list_of_services() {
        let list = ServiceRequest::parse_list(" 8080:web, 8443::tls  9000").unwrap();
        let ports: Vec<u16> = list.iter().map(|s| s.port).collect();
        assert_eq!(ports, [8080, 8443, 9000]);
        assert_eq!(list[1].endpoint, Some(ServiceEndpoint::TlsPassthrough));
        assert!(ServiceRequest::parse_list("").unwrap().is_empty());
        let twice = ServiceRequest::parse_list("80 80:web").unwrap_err();
        assert!(twice.contains("port 80 is given twice"), "{twice}");
        let bad = ServiceRequest::parse_list("80 x").unwrap_err();
        assert!(bad.contains("\"x\" is not a port"), "{bad}");
    }
}
