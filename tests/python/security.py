"""The attacker's suite through the real client: attempts that once got out
of a default sandbox of a server running as root, each of which must now
fail with a clear error. A write attempt writes back the value already
there, so nothing on the host changes either way.
"""

import os

from harness import case, eq, finish, ok, raises, require_env

from cwsandbox import Sandbox
from cwsandbox.exceptions import CWSandboxError, SandboxFileError

require_env()

KNOB = "/proc/sys/kernel/printk_ratelimit_burst"
with open(KNOB, encoding="utf-8") as f:
    KNOB_VALUE = f.read()

SYSCALLS = r"""
import ctypes, platform
libc = ctypes.CDLL(None, use_errno=True)
nrs = {"x86_64": {"keyctl": 250, "add_key": 248, "io_uring_setup": 425, "bpf": 321,
                  "userfaultfd": 323},
       "aarch64": {"keyctl": 219, "add_key": 217, "io_uring_setup": 425, "bpf": 280,
                   "userfaultfd": 282}}[platform.machine()]
for name, nr in sorted(nrs.items()):
    r = libc.syscall(nr, 0, 0, 0, 0, 0)
    print(name, "ok" if r >= 0 else ctypes.get_errno())
"""

ALLOCATE = """
chunks = []
for i in range(32):
    chunks.append(bytearray(32 << 20))
    print((i + 1) * 32, flush=True)
print('allocated 1 GiB', flush=True)
"""

with Sandbox.run() as sandbox:

    @case("the sandbox's root is not the host's root")
    def _():
        uid_map = sandbox.exec(["cat", "/proc/self/uid_map"]).result().stdout.split()
        eq(uid_map[0], "0", "root inside")
        ok(uid_map[1] != "0", f"mapped to the host's root: {uid_map}")
        eq(uid_map[2], "1", "one id mapped")

    @case("kernel settings cannot be written, not even with their own value")
    def _():
        script = f"v=$(cat {KNOB}) && printf '%s\\n' \"$v\" > {KNOB}"
        result = sandbox.exec(["sh", "-c", script]).result()
        ok(result.returncode != 0, "the kernel setting was written")
        ok("Read-only file system" in result.stderr, result.stderr)

    @case("root-only host files are unreadable")
    def _():
        for path in ("/etc/shadow-", "/etc/gshadow-", "/etc/shadow"):
            if os.path.exists(path):
                result = sandbox.exec(["cat", path]).result()
                eq(result.stdout, "", f"{path} was readable")

    @case("no nested user namespace, and risky system calls fail with EPERM")
    def _():
        result = sandbox.exec(["unshare", "-U", "true"]).result()
        ok(result.returncode != 0, "unshare -U worked")
        lines = sandbox.exec(["python3", "-c", SYSCALLS]).result().stdout.splitlines()
        ok(lines, "no output")
        for line in lines:
            name, got = line.split()
            eq(got, str(1), f"{name} (errno)")

    @case("read_file sees what the sandbox sees: no kernel addresses")
    def _():
        text = sandbox.read_file("/proc/kallsyms").result().decode()
        first = text.splitlines()[:200]
        ok(first, "empty kallsyms")
        ok(all(line.startswith("0" * 16) for line in first), first[:2])

    @case("write_file into /proc/sys is refused")
    def _():
        raises(
            SandboxFileError,
            lambda: sandbox.write_file(KNOB, KNOB_VALUE.encode()).result(),
        )
        with open(KNOB, encoding="utf-8") as f:
            eq(f.read(), KNOB_VALUE, "the host's setting")

    @case("processes are bounded")
    def _():
        script = (
            "import subprocess\nps = []\nerr = None\n"
            "try:\n    for i in range(3000):\n        ps.append(subprocess.Popen(['sleep', '60']))\n"
            "except OSError as e:\n    err = e.errno\nprint(len(ps), err)\n"
            "for p in ps:\n    p.kill()\nfor p in ps:\n    p.wait()\n"
        )
        started, err = sandbox.exec(["python3", "-c", script]).result().stdout.split()
        ok(int(started) < 1024, f"{started} processes started")
        eq(err, "11", "errno (EAGAIN)")

    @case("/tmp is bounded")
    def _():
        script = "dd if=/dev/zero of=/tmp/fill bs=1M count=2048 2>&1; du -m /tmp/fill"
        out = sandbox.exec(["sh", "-c", script]).result().stdout
        ok("No space left on device" in out, out)
        ok(int(out.splitlines()[-1].split()[0]) <= 512, out)


@case("a memory limit kills inside the sandbox (exit 137) and is reported")
def _():
    with Sandbox.run(resources={"memory": "256Mi"}) as sb:
        result = sb.exec(["python3", "-c", ALLOCATE]).result()
        eq(result.returncode, 137, "exit code")
        ok("allocated 1 GiB" not in result.stdout, "got past the limit")
        ok("out of memory" in result.stderr, result.stderr)
        eq(sb.exec(["echo", "alive"]).result().stdout, "alive\n", "the sandbox lives on")


@case("a spec file cannot be aimed at /proc through the workspace")
def _():
    files = [
        {
            "mount_path": "/workspace/../proc/sys/kernel/printk_ratelimit_burst",
            "file_content": KNOB_VALUE.encode(),
        }
    ]
    err = raises(CWSandboxError, lambda: Sandbox.run(mounted_files=files).wait())
    ok("files[0].path" in str(err), str(err))


finish()
