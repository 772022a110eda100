"""Sandbox options and larger operations with the real client.

Covers: working_dir, environment_variables, mounted_files, scratch volumes,
resource echoes, max_lifetime_seconds, stopping right after create, large
files through the streaming fallbacks, and Session functions.
"""

import hashlib
import os

from harness import case, eq, finish, ok, require_env

from cwsandbox import Sandbox, SandboxStatus, ScratchVolumeOptions, Session

require_env()

TERMINAL = {SandboxStatus.COMPLETED, SandboxStatus.TERMINATED, SandboxStatus.FAILED}


@case("working_dir and environment_variables apply to exec")
def _():
    with Sandbox.run(working_dir="/tmp", environment_variables={"GREETING": "hi there"}) as sb:
        eq(sb.exec(["pwd"]).result().stdout, "/tmp\n", "pwd")
        eq(sb.exec(["sh", "-c", 'echo "$GREETING"']).result().stdout, "hi there\n", "env")


@case("environment_variables apply to the main command")
def _():
    # The exit code tells whether the main command saw the variable.
    script = 'test "$GREETING" = "from create" && exit 0 || exit 5'
    sb = Sandbox.run("sh", "-c", script, environment_variables={"GREETING": "from create"})
    sb.wait_until_complete().result()
    eq(sb.returncode, 0, "returncode (5 = variable missing)")


@case("mounted_files are present at start")
def _():
    files = [{"mount_path": "/tmp/config/app.toml", "file_content": b"answer = 42\n"}]
    with Sandbox.run(mounted_files=files) as sb:
        eq(sb.exec(["cat", "/tmp/config/app.toml"]).result().stdout, "answer = 42\n", "content")


@case("a scratch volume is shared by exec and the file calls")
def _():
    volume = ScratchVolumeOptions(name="scratch", mount_path="/data", size="1Gi")
    with Sandbox.run(volumes=[volume]) as sb:
        sb.exec(["sh", "-c", "echo in-volume > /data/note.txt"], check=True).result()
        eq(sb.read_file("/data/note.txt").result(), b"in-volume\n", "read_file")


@case("requested resources are echoed back")
def _():
    with Sandbox.run(resources={"cpu": "500m", "memory": "512Mi"}) as sb:
        sb.wait()
        eq(sb.resource_requests, {"cpu": "500m", "memory": "512Mi"}, "requests")
        eq(sb.resource_limits, {"cpu": "500m", "memory": "512Mi"}, "limits")


@case("max_lifetime_seconds ends a sandbox by itself")
def _():
    sb = Sandbox.run(max_lifetime_seconds=2)
    sb.wait()
    sb.wait_until_complete(timeout=60, raise_on_termination=False).result()
    ok(sb.status in TERMINAL, f"status {sb.status}")


@case("stop() right after create ends the sandbox")
def _():
    sb = Sandbox.run()
    sb.stop().result()
    ok(sb.status in TERMINAL, f"status {sb.status}")


with Sandbox.run() as sandbox:

    @case("a 40 MiB file goes through write_file and read_file (streaming fallbacks)")
    def _():
        payload = os.urandom(40 * 1024 * 1024)
        sandbox.write_file("/tmp/large.bin", payload).result()
        out = sandbox.exec(["sha256sum", "/tmp/large.bin"]).result().stdout
        eq(out.split()[0], hashlib.sha256(payload).hexdigest(), "sha256 in the sandbox")
        ok(sandbox.read_file("/tmp/large.bin").result() == payload, "content differs")

    @case("write_file_streaming and read_file_streaming round-trip chunks")
    def _():
        chunks = [bytes([i]) * 100_000 for i in range(30)]
        sandbox.write_file_streaming("/tmp/streamed.bin", iter(chunks)).result()
        got = b"".join(sandbox.read_file_streaming("/tmp/streamed.bin"))
        ok(got == b"".join(chunks), f"content differs ({len(got)} bytes)")


@case("Session.function runs a Python function remotely")
def _():
    with Session() as session:

        @session.function()
        def add(x, y):
            return {"sum": x + y}

        eq(add.remote(2, 40).result(), {"sum": 42}, "remote result")


finish()
