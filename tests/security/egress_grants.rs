//! Egress rules hold: a sandbox granted host names resolves and reaches
//! those over HTTPS and nothing else, and one granted a range reaches that
//! range's ports only. Hermetic, like `network.rs`: the server runs in a
//! "host" namespace of the test's, and the outside world is another one,
//! with a DNS server (the server's upstream) and an HTTPS server whose
//! certificate names the granted hosts.
use super::network::{answering, line_for, Netns};
use super::*;
use pb::egress_rule::Destination;

const HOST_ADDR: &str = "10.213.8.1";
/// The outside's resolver, and the address the granted names resolve to.
const GRANTED_ADDR: &str = "10.213.8.2";
/// Where the names that are not granted resolve to.
const OTHER_ADDR: &str = "10.213.8.3";

/// A DNS server for the test's names that logs every name it is asked.
fn dns_server(log: &str) -> String {
    format!(
        r#"
import socket, struct
names = {{b'api.example.com': '{GRANTED_ADDR}', b'x.example.org': '{GRANTED_ADDR}',
          b'example.org': '{GRANTED_ADDR}', b'evil.example.net': '{OTHER_ADDR}'}}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('{GRANTED_ADDR}', 53))
log = open('{log}', 'a')
while True:
    q, peer = s.recvfrom(4096)
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]]); i += 1 + q[i]
    name = b'.'.join(labels).lower()
    qtype = struct.unpack('>H', q[i + 1:i + 3])[0]
    log.write(name.decode() + '\n'); log.flush()
    question = q[12:i + 5]
    ip = names.get(name)
    if ip and qtype == 1:
        answer = b'\xc0\x0c' + struct.pack('>HHIH', 1, 1, 60, 4) + socket.inet_aton(ip)
        r = q[:2] + b'\x81\x80' + struct.pack('>HHHH', 1, 1, 0, 0) + question + answer
    elif ip:
        r = q[:2] + b'\x81\x80' + struct.pack('>HHHH', 1, 0, 0, 0) + question
    else:
        r = q[:2] + b'\x81\x83' + struct.pack('>HHHH', 1, 0, 0, 0) + question
    s.sendto(r, peer)
"#
    )
}

/// An HTTPS server on every outside address that says `tls-ok`.
fn https_server(cert: &str, key: &str) -> String {
    format!(
        r#"
import socket, ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain('{cert}', '{key}')
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 443)); s.listen(16)
while True:
    c, _ = s.accept()
    try:
        t = ctx.wrap_socket(c, server_side=True); t.sendall(b'tls-ok'); t.close()
    except OSError:
        c.close()
"#
    )
}

/// Python for the sandbox: argv[1] is the CA; then for each host:port,
/// connect (over TLS, checking the name, on 443) and print the reply or
/// why not.
const PROBE: &str = "\
import socket, ssl, sys
ctx = ssl.create_default_context(cadata=sys.argv[1])
for target in sys.argv[2:]:
    host, port = target.rsplit(':', 1)
    try:
        c = socket.create_connection((host, int(port)), timeout=5)
        if port == '443':
            c = ctx.wrap_socket(c, server_hostname=host)
        print(target, c.recv(100).decode() or 'connected')
    except OSError as e:
        print(target, 'failed', type(e).__name__, e)
";

/// Python for the sandbox: junk and a flood of ungranted names at its
/// resolver, then a granted name over TCP and over UDP.
const ABUSE: &str = r#"
import os, socket, struct
def query(name, qid=0x4242):
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.split('.'):
        q += bytes([len(label)]) + label.encode()
    return q + b'\x00' + struct.pack('>HH', 1, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
junk = [b'', b'\x00', os.urandom(11), os.urandom(512), b'\x12\x34\x81\x80' + bytes(8),
        b'\x12\x34\x01\x00\x00\x01' + bytes(6) + b'\xc0\x0c\x00\x01\x00\x01']
for j in junk:
    u.sendto(j, ('127.0.0.53', 53))
for i in range(300):
    u.sendto(query(f'flood{i}.example.net'), ('127.0.0.53', 53))
t = socket.create_connection(('127.0.0.53', 53), timeout=5)
m = query('api.example.com')
t.sendall(struct.pack('>H', len(m)) + m)
n = struct.unpack('>H', t.recv(2))[0]
r = b''
while len(r) < n:
    r += t.recv(n - len(r))
print('tcp rcode', r[3] & 15, 'answers', struct.unpack('>H', r[6:8])[0], socket.inet_ntoa(r[-4:]))
print('udp after abuse', socket.gethostbyname('api.example.com'))
"#;

/// A CA, and a certificate it signed for the outside's names.
fn pki(dir: &std::path::Path) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Not the leaf's default name, or OpenSSL takes the leaf for self-signed.
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "egress test CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let names = [
        "api.example.com",
        "*.example.org",
        "example.org",
        "evil.example.net",
    ];
    let params = CertificateParams::new(names.map(String::from).to_vec()).expect("params");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    let (cert_path, key_path) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    let path = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
    (ca.pem(), path(cert_path), path(key_path))
}

fn rule(destination: Destination, ports: &[(i32, i32)]) -> pb::EgressRule {
    pb::EgressRule {
        destination: Some(destination),
        ports: ports
            .iter()
            .map(|(port, end_port)| pb::PortRange {
                protocol: "TCP".into(),
                port: *port,
                end_port: *end_port,
            })
            .collect(),
        ..Default::default()
    }
}

fn with_egress(rules: Vec<pb::EgressRule>) -> pb::SandboxSpec {
    let mut spec = keep_alive();
    spec.network = Some(pb::NetworkOptions {
        egress: rules,
        ..Default::default()
    });
    spec
}

#[test]
fn egress_rules_let_through_only_what_they_grant() {
    require_root();
    let (host, outside) = Netns::linked(("grveth0", HOST_ADDR), ("grveth1", GRANTED_ADDR));
    outside.sh(&format!("ip addr add {OTHER_ADDR}/24 dev grveth1"));
    let files = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = pki(files.path());
    let log = files.path().join("asked.log");
    let log_path = log.to_string_lossy().into_owned();
    let _dns = outside.python(&dns_server(&log_path));
    let _https = outside.python(&https_server(&cert, &key));
    let _plain = outside.python(&answering("0.0.0.0", 8080, "plain-ok"));
    for addr in [GRANTED_ADDR, OTHER_ADDR] {
        host.wait_for_port(addr, 443);
        host.wait_for_port(addr, 8080);
    }
    host.run(async move { in_host_namespace(ca, log).await });
}

async fn in_host_namespace(ca: String, log: std::path::PathBuf) {
    let (dir, _) = serve::serve_data_dir();
    let server = serve::Serve::start(
        dir.path(),
        &["--runtime", "bubblewrap", "--dns-upstream", GRANTED_ADDR],
    );
    let client = connect(&server.url, Some(TOKEN)).await;
    let probe = |id: String, targets: Vec<String>| {
        let client = client.clone();
        let ca = ca.clone();
        async move {
            let mut argv = vec!["python3", "-c", PROBE, &ca];
            argv.extend(targets.iter().map(String::as_str));
            let r = exec_on(&client, &id, &argv, None).await.expect("exec");
            format!("{}{}", r.out(), r.err())
        }
    };

    // Host names: exact and wildcard.
    let named = run_spec(
        &client,
        with_egress(vec![
            rule(Destination::HttpsHostname("API.example.com".into()), &[]),
            rule(
                Destination::HttpsHostname("*.example.org".into()),
                &[(443, 0)],
            ),
        ]),
    )
    .await;
    let echoed: Vec<_> = named
        .status
        .as_ref()
        .map(|s| s.effective_egress.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| match r.destination {
            Some(Destination::HttpsHostname(n)) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(echoed, ["api.example.com", "*.example.org"]);
    let targets: Vec<String> = [
        "api.example.com:443",
        "x.example.org:443",
        "example.org:443",
        "evil.example.net:443",
        &format!("{OTHER_ADDR}:443"),
        &format!("{GRANTED_ADDR}:8080"),
    ]
    .map(String::from)
    .to_vec();
    let r = probe(named.sandbox_id.clone(), targets.clone()).await;
    assert!(line_for(&r, &targets[0]).ends_with("tls-ok"), "{r}");
    assert!(line_for(&r, &targets[1]).ends_with("tls-ok"), "{r}");
    // The wildcard is for names below it, and other names do not resolve.
    for t in &targets[2..4] {
        assert!(line_for(&r, t).contains("failed gaierror"), "{t}: {r}");
    }
    // Addresses and ports no grant names are refused at once.
    for t in &targets[4..] {
        assert!(
            line_for(&r, t).contains("failed ConnectionRefusedError"),
            "{t}: {r}"
        );
    }
    // Junk and floods do not stop the resolver, which also answers over TCP.
    let abuse = exec_on(&client, &named.sandbox_id, &["python3", "-c", ABUSE], None)
        .await
        .expect("exec");
    assert_eq!(
        abuse.out(),
        format!("tcp rcode 0 answers 1 {GRANTED_ADDR}\nudp after abuse {GRANTED_ADDR}\n"),
        "{}",
        abuse.err()
    );

    // Only granted names were ever asked upstream.
    let asked = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(asked.contains("api.example.com"), "{asked}");
    assert!(
        !asked.contains("evil")
            && !asked.contains("flood")
            && !asked.lines().any(|l| l == "example.org"),
        "names that are not granted went upstream: {asked}"
    );

    // A range, minus an exception, on one port; no names.
    let ranged = run_spec(
        &client,
        with_egress(vec![rule(
            Destination::Cidr(pb::CidrBlock {
                cidr: "10.213.8.0/24".into(),
                except: vec![format!("{OTHER_ADDR}/32")],
            }),
            &[(8080, 0)],
        )]),
    )
    .await;
    let targets: Vec<String> = [
        format!("{GRANTED_ADDR}:8080"),
        format!("{OTHER_ADDR}:8080"),
        format!("{GRANTED_ADDR}:443"),
        "api.example.com:443".into(),
    ]
    .to_vec();
    let r = probe(ranged.sandbox_id.clone(), targets.clone()).await;
    assert!(line_for(&r, &targets[0]).ends_with("plain-ok"), "{r}");
    for t in &targets[1..3] {
        assert!(
            line_for(&r, t).contains("failed ConnectionRefusedError"),
            "{t}: {r}"
        );
    }
    assert!(line_for(&r, &targets[3]).contains("failed gaierror"), "{r}");

    // Rules that make no sense on one machine are refused, not ignored.
    let refused = client
        .clone()
        .create_sandbox(pb::CreateSandboxRequest {
            sandbox: Some(pb::Sandbox {
                spec: Some(with_egress(vec![rule(Destination::Tenant(1), &[])])),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("a tenant rule");
    assert_eq!(refused.code(), tonic::Code::Unimplemented, "{refused:?}");
    drop(server);
    drop(dir);
}
