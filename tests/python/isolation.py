"""What a sandbox can and cannot reach, observed through the real client.

The server's isolation (bubblewrap) promises: a read-only view of the host's
files, a private /tmp, a writable /workspace, private process, hostname and
network namespaces, and for sandboxes that ask for egress, user-mode
networking that never reaches the host's loopback services.
"""

import os
import socket
from urllib.parse import urlparse

from harness import case, eq, finish, ok, require_env

from cwsandbox import EgressRule, NetworkOptions, Sandbox

require_env()

SERVER = urlparse(os.environ["CWSANDBOX_BASE_URL"])
CONNECT = (
    "import socket, sys\n"
    "host = sys.argv[2] if len(sys.argv) > 2 else '127.0.0.1'\n"
    "try:\n"
    "    socket.create_connection((host, int(sys.argv[1])), timeout=5).close()\n"
    "    print('connected')\n"
    "except OSError as e:\n"
    "    print('refused', type(e).__name__)\n"
)


def server_reachable_from_host():
    socket.create_connection((SERVER.hostname, SERVER.port), timeout=5).close()


with Sandbox.run() as sandbox:

    @case("host files are visible read-only")
    def _():
        with open("/etc/os-release", encoding="utf-8") as f:
            expected = f.read()
        eq(sandbox.exec(["cat", "/etc/os-release"]).result().stdout, expected, "host file")
        for probe in ("/etc/sandscope-probe", "/usr/sandscope-probe"):
            result = sandbox.exec(["touch", probe]).result()
            ok(result.returncode != 0, f"a sandbox could create {probe}")
            ok(not os.path.exists(probe), f"{probe} appeared on the host")

    @case("commands start in /workspace with a clean environment")
    def _():
        eq(sandbox.exec(["pwd"]).result().stdout, "/workspace\n", "working directory")
        env = sandbox.exec(["env"]).result().stdout.splitlines()
        ok("HOME=/workspace" in env, f"HOME not /workspace: {env!r}")
        # cargo sets CARGO_* for the test process, which hosts the server.
        leaked = [line for line in env if line.startswith("CARGO_")]
        ok(not leaked, f"the server's environment leaked in: {leaked!r}")

    @case("processes have no capabilities, not even to regain")
    def _():
        status = sandbox.exec(["cat", "/proc/self/status"]).result().stdout
        caps = dict(line.split(":\t", 1) for line in status.splitlines() if line.startswith("Cap"))
        for name in ("CapEff", "CapPrm", "CapBnd"):
            eq(int(caps[name], 16), 0, name)

    @case("/tmp is private to the sandbox")
    def _():
        name = f"/tmp/sandscope-private-{os.getpid()}"
        sandbox.exec(["touch", name], check=True).result()
        ok(not os.path.exists(name), f"{name} appeared in the host's /tmp")

    @case("two sandboxes do not share /tmp")
    def _():
        sandbox.write_file("/tmp/owner.txt", b"first").result()
        with Sandbox.run() as other:
            result = other.exec(["cat", "/tmp/owner.txt"]).result()
            ok(result.returncode != 0, f"the other sandbox sees it: {result.stdout!r}")

    @case("/workspace is writable")
    def _():
        sandbox.exec(["sh", "-c", "echo kept > /workspace/file"], check=True).result()
        eq(sandbox.read_file("/workspace/file").result(), b"kept\n", "content")

    @case("host processes are not visible")
    def _():
        result = sandbox.exec(["test", "-e", f"/proc/{os.getpid()}"]).result()
        ok(result.returncode != 0, "the test runner's pid is visible in the sandbox")
        pids = sandbox.exec(["sh", "-c", "ls /proc | grep -c '^[0-9]'"]).result().stdout
        ok(int(pids) < 20, f"{pids.strip()} processes visible")

    @case("the hostname is the sandbox's own")
    def _():
        inside = sandbox.exec(["cat", "/proc/sys/kernel/hostname"]).result().stdout.strip()
        ok(inside and inside != socket.gethostname(), f"hostname {inside!r}")

    @case("without egress the sandbox has only its own loopback")
    def _():
        server_reachable_from_host()
        devices = sandbox.exec(["cat", "/proc/net/dev"]).result().stdout
        names = [line.split(":")[0].strip() for line in devices.splitlines()[2:]]
        eq(names, ["lo"], "network interfaces")
        out = sandbox.exec(["python", "-c", CONNECT, str(SERVER.port)]).result().stdout
        ok(out.startswith("refused"), f"reached the host's loopback: {out!r}")


@case("a sandbox that asks for egress gets its own network, not the host's loopback")
def _():
    server_reachable_from_host()
    with Sandbox.run(network=NetworkOptions(deny_egress=False)) as sb:
        devices = sb.exec(["cat", "/proc/net/dev"]).result().stdout
        names = sorted(line.split(":")[0].strip() for line in devices.splitlines()[2:])
        eq(names, ["lo", "tap0"], "network interfaces")
        for host in ("127.0.0.1", "10.0.2.2"):
            out = sb.exec(["python", "-c", CONNECT, str(SERVER.port), host]).result().stdout
            ok(out.startswith("refused"), f"reached the server's port through {host}: {out!r}")


RESOLVE = (
    "import socket, sys\n"
    "try:\n"
    "    print('resolved', socket.getaddrinfo(sys.argv[1], 443))\n"
    "except socket.gaierror as e:\n"
    "    print('unresolved', e.errno)\n"
)


@case("egress rules: granted names are echoed, other names do not resolve, nothing else is reached")
def _():
    grants = [EgressRule(dns_name="API.example.com"), EgressRule(dns_name="*.example.org")]
    with Sandbox.run(network=NetworkOptions(egress=grants)) as sb:
        eq(sb.dns_egress_names, ("api.example.com", "*.example.org"), "dns_egress_names")
        out = sb.exec(["python", "-c", RESOLVE, "not-granted.invalid"]).result().stdout
        eq(out.strip(), f"unresolved {socket.EAI_NONAME}", "an ungranted name")
        # User-mode networking's own resolver is behind the filter too.
        out = sb.exec(["python", "-c", CONNECT, "53", "10.0.2.3"]).result().stdout
        eq(out.strip(), "refused ConnectionRefusedError", "user-mode networking's resolver")


finish()
