"""Published services and TLS passthrough, through the real client.

A service declared at create gets a host port of its own (on loopback here),
reported on Create's answer and on every Get: plain and HTTPS-kind services
as an http:// URL (no TLS is terminated locally), TLS passthrough endpoints
as host:port that reaches the sandbox's own TLS server. The ports go with
the sandbox, and a service reaches nothing but that port of that sandbox.
"""

import datetime
import hashlib
import ipaddress
import socket
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import case, eq, finish, ok, require_env

from cwsandbox import Endpoint, NetworkOptions, Sandbox, Service

require_env()

DEADLINE = 30.0
HTTP_SERVER = ("python3", "-m", "http.server", "8080", "--bind", "127.0.0.1")


def until(what, fn, timeout=DEADLINE):
    """fn() until it returns a value without raising, or fail saying what."""
    end = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            if time.monotonic() > end:
                raise AssertionError(f"{what}: still failing after {timeout}s: {e!r}") from e
            time.sleep(0.1)


def http_get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read()


def address_of(url):
    u = urlparse(url)
    return u.hostname, u.port


def refused(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
    except ConnectionRefusedError:
        return
    raise AssertionError(f"{host}:{port} still accepts connections")


def serve_file(sb):
    sb.write_file("/workspace/hello.txt", b"hello from the sandbox\n").result()


@case("a PUBLIC service: URL on Create's answer, 200 through it, from_id and list")
def _():
    svc = Service(port=8080, name="http", visibility="public")
    with Sandbox.run(*HTTP_SERVER, services=[svc]) as sb:
        eq(sb.exposed_ports, ((8080, "http"),), "exposed_ports on create")
        eq(len(sb.service_urls), 1, "service_urls on create")
        port, name, url = sb.service_urls[0]
        eq((port, name), (8080, "http"), "service_urls row")
        ok(url.startswith("http://127.0.0.1:"), f"a loopback http URL, got {url!r}")
        ok(address_of(url)[1] != 8080, "the host port is one of its own")
        sb.wait()
        serve_file(sb)
        status, body = until("GET through the URL", lambda: http_get(url + "/hello.txt"))
        eq((status, body), (200, b"hello from the sandbox\n"), "answer through the URL")

        again = Sandbox.from_id(sb.sandbox_id).result()
        again.get_status()
        eq(again.service_urls, sb.service_urls, "from_id(...).service_urls")
        eq(again.exposed_ports, ((8080, "http"),), "from_id(...).exposed_ports")
        status, _ = http_get(again.service_urls[0][2] + "/hello.txt")
        eq(status, 200, "answer through from_id's URL")
        listed = [s for s in Sandbox.list().result() if s.sandbox_id == sb.sandbox_id]
        eq([s.service_urls for s in listed], [sb.service_urls], "Sandbox.list()'s service_urls")


@case("a PRIVATE service in a sandbox with egress answers on loopback")
def _():
    svc = Service(port=8080, name="web", visibility="private")
    with Sandbox.run(
        *HTTP_SERVER, services=[svc], network=NetworkOptions(deny_egress=False)
    ) as sb:
        sb.wait()
        url = sb.service_urls[0][2]
        ok(url.startswith("http://127.0.0.1:"), f"a loopback URL, got {url!r}")
        serve_file(sb)
        status, _ = until("GET through the URL", lambda: http_get(url + "/hello.txt"))
        eq(status, 200, "status")


@case("an HTTPS-kind endpoint: an http:// URL and the applied request timeout")
def _():
    svc = Service(
        port=8080, name="api", visibility="public", endpoint=Endpoint(kind="https", auth="open")
    )
    with Sandbox.run(*HTTP_SERVER, services=[svc]) as sb:
        sb.wait()
        eq(len(sb.service_endpoints), 1, "service_endpoints")
        ep = sb.service_endpoints[0]
        eq(ep.request_timeout_seconds, 15, "request_timeout_seconds")
        eq(sb.service_urls[0][2], ep.url, "the URL is the endpoint's")
        serve_file(sb)
        status, _ = until("GET through the URL", lambda: http_get(ep.url + "/hello.txt"))
        eq(status, 200, "status")


def self_signed():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox tls test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert, cert.public_bytes(serialization.Encoding.PEM), key_pem


TLS_SERVER = """
import os, socket, ssl, time
while not os.path.exists("ready"):
    time.sleep(0.05)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("cert.pem", "key.pem")
srv = socket.create_server(("127.0.0.1", 8443))
while True:
    conn, _ = srv.accept()
    try:
        with ctx.wrap_socket(conn, server_side=True) as t:
            t.sendall(b"tls says: " + t.recv(100))
    except Exception as e:
        print("tls server:", e, flush=True)
"""


@case("TLS passthrough: host:port on create reaches the sandbox's own TLS server")
def _():
    cert, cert_pem, key_pem = self_signed()
    want = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    svc = Service(
        port=8443, name="tls", visibility="public", endpoint=Endpoint(kind="tls_passthrough")
    )
    with Sandbox.run("python3", "-c", TLS_SERVER, services=[svc]) as sb:
        eq(len(sb.service_addresses), 1, "service_addresses on create")
        entry = sb.service_addresses[0]
        eq((entry.port, entry.name), (8443, "tls"), "service_addresses row")
        host, port = entry.address.rsplit(":", 1)
        eq(host, "127.0.0.1", "address host")
        eq(sb.service_urls, (), "no URL for a passthrough endpoint")
        sb.wait()
        sb.write_file("/workspace/cert.pem", cert_pem).result()
        sb.write_file("/workspace/key.pem", key_pem).result()
        sb.write_file("/workspace/ready", b"").result()
        with tempfile.NamedTemporaryFile(suffix=".pem") as ca:
            ca.write(cert_pem)
            ca.flush()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(ca.name)

            def exchange():
                with socket.create_connection((host, int(port)), timeout=5) as raw:
                    with ctx.wrap_socket(raw, server_hostname=host) as t:
                        der = t.getpeercert(binary_form=True)
                        t.sendall(b"ping")
                        data = b""
                        while chunk := t.recv(100):
                            data += chunk
                        return der, data

            der, data = until("a TLS exchange through the address", exchange)
        eq(hashlib.sha256(der).hexdigest(), want, "the certificate presented is the sandbox's")
        eq(data, b"tls says: ping", "answer over TLS")
        again = Sandbox.from_id(sb.sandbox_id).result()
        eq(
            [a.address for a in again.service_addresses],
            [entry.address],
            "from_id(...).service_addresses",
        )


@case("published ports are released when the sandbox ends, and the URLs go")
def _():
    sb = Sandbox.run(*HTTP_SERVER, services=[Service(port=8080, name="http", visibility="public")])
    sb.wait()
    url = sb.service_urls[0][2]
    serve_file(sb)
    until("GET through the URL", lambda: http_get(url + "/hello.txt"))
    sb.stop().result()
    until("the port refusing connections", lambda: refused(*address_of(url)), timeout=5)
    ended = Sandbox.from_id(sb.sandbox_id).result()
    eq(ended.service_urls, (), "service_urls of an ended sandbox")


@case("a service reaches only its sandbox's port, never the host's")
def _():
    # The host listens on the very port the sandbox declares; nothing listens
    # on it inside the sandbox.
    trap = socket.create_server(("127.0.0.1", 0))
    trap.setblocking(False)
    port = trap.getsockname()[1]
    try:
        svc = Service(port=port, name="trap", visibility="public")
        with Sandbox.run(services=[svc]) as sb:
            sb.wait()
            host, published = address_of(sb.service_urls[0][2])
            with socket.create_connection((host, published), timeout=5) as c:
                c.settimeout(5)
                try:
                    got = c.recv(100)
                except ConnectionResetError:
                    got = b""
            eq(got, b"", "a connection to nothing inside is closed")
            try:
                trap.accept()[0].close()
                raise AssertionError("the host's listener was reached through a service")
            except BlockingIOError:
                pass
    finally:
        trap.close()


finish()
