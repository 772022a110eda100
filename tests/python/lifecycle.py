"""Sandbox lifecycle, files, logs, discovery and auth with the real client.

Covers: a main command that completes with its exit code, stop() reaching a
terminal state, Sandbox.from_id, Sandbox.list with tags, read_file/write_file,
SandboxFileError, stream_logs, list_runners() and a bad API key.
"""

import os
import uuid

from harness import case, eq, finish, ok, raises, require_env

import cwsandbox
from cwsandbox import (
    CWSandboxAuthenticationError,
    Sandbox,
    SandboxFileError,
    SandboxNotFoundError,
    SandboxStatus,
)

require_env()

TERMINAL = {SandboxStatus.COMPLETED, SandboxStatus.TERMINATED, SandboxStatus.FAILED}
RUN_TAG = f"conformance-{uuid.uuid4().hex[:8]}"


@case("Sandbox.run('echo', 'hi') completes with returncode 0")
def _():
    sb = Sandbox.run("echo", "hi", tags=[RUN_TAG])
    sb.wait_until_complete().result()
    eq(sb.status, SandboxStatus.COMPLETED, "status")
    eq(sb.returncode, 0, "returncode")


@case("a main command's non-zero exit is COMPLETED with that returncode")
def _():
    sb = Sandbox.run("sh", "-c", "exit 3")
    sb.wait_until_complete().result()
    eq(sb.status, SandboxStatus.COMPLETED, "status")
    eq(sb.returncode, 3, "returncode")


@case("stop() on a completed sandbox is a no-op that keeps the record")
def _():
    sb = Sandbox.run("true")
    sb.wait_until_complete().result()
    sb.stop().result()
    eq(sb.status, SandboxStatus.COMPLETED, "status after stop")
    again = Sandbox.from_id(sb.sandbox_id).result()
    eq(again.status, SandboxStatus.COMPLETED, "status seen by from_id")


@case("stream_logs(follow=True) yields each line, and ends when the main command exits")
def _():
    # The main command prints, then waits for /tmp/go, so the stream is
    # followed while it runs and must end by itself once it exits.
    script = (
        "for i in 1 2 3; do echo line-$i; done; echo to-stderr >&2; "
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo last"
    )
    sb = Sandbox.run("sh", "-c", script)
    reader = sb.stream_logs(follow=True)
    first = [next(reader) for _ in range(4)]
    eq(sorted(first), ["line-1\n", "line-2\n", "line-3\n", "to-stderr\n"], "first lines")
    eq([x for x in first if x.startswith("line")], ["line-1\n", "line-2\n", "line-3\n"], "order")
    sb.write_file("/tmp/go", b"").result()
    eq(list(reader), ["last\n"], "rest of the followed log")
    sb.wait_until_complete().result()
    eq(sb.returncode, 0, "returncode")


@case("stream_logs on a running sandbox: follow, then tail_lines")
def _():
    script = 'echo first; echo second; trap "exit 0" TERM; sleep infinity & wait'
    with Sandbox.run("sh", "-c", script) as sb:
        reader = sb.stream_logs(follow=True)
        got = [next(reader), next(reader)]
        reader.close()
        eq(got, ["first\n", "second\n"], "followed lines")
        eq(list(sb.stream_logs(tail_lines=1)), ["second\n"], "tail_lines=1")
        stamped = list(sb.stream_logs(timestamps=True))
        eq(len(stamped), 2, "timestamped line count")
        eq([line.split(" ", 1)[1] for line in stamped], ["first\n", "second\n"], "text")
        ok(stamped[0][:2] == "20" and "T" in stamped[0].split(" ")[0], f"stamp: {stamped[0]!r}")


@case("the default command prints no logs")
def _():
    with Sandbox.run() as sb:
        sb.wait()
        eq(list(sb.stream_logs(tail_lines=10)), [], "logs")


with Sandbox.run(tags=[RUN_TAG, "conformance-lifecycle"]) as sandbox:
    sandbox.wait()

    @case("a started sandbox is RUNNING with a runner id")
    def _():
        eq(sandbox.get_status(), SandboxStatus.RUNNING, "get_status()")
        ok(sandbox.runner_id, f"runner_id {sandbox.runner_id!r}")
        ok(sandbox.started_at is not None, "started_at is None")

    @case("Sandbox.from_id returns the same sandbox")
    def _():
        other = Sandbox.from_id(sandbox.sandbox_id).result()
        eq(other.sandbox_id, sandbox.sandbox_id, "sandbox_id")
        eq(other.status, SandboxStatus.RUNNING, "status")
        ok(RUN_TAG in other.tags, f"tags {other.tags!r}")
        eq(other.exec(["echo", "via from_id"]).result().stdout, "via from_id\n", "exec")

    @case("Sandbox.from_id of an unknown id raises SandboxNotFoundError")
    def _():
        raises(SandboxNotFoundError, lambda: Sandbox.from_id("no-such-sandbox-id").result())

    @case("Sandbox.list(tags=...) selects by every tag")
    def _():
        found = Sandbox.list(tags=[RUN_TAG, "conformance-lifecycle"]).result()
        eq([sb.sandbox_id for sb in found], [sandbox.sandbox_id], "ids with both tags")
        found = Sandbox.list(tags=[RUN_TAG, "conformance-other"]).result()
        eq(found, [], "ids with a tag nobody has")
        # The completed echo sandbox carries RUN_TAG too, but is terminal.
        found = Sandbox.list(tags=[RUN_TAG]).result()
        eq([sb.sandbox_id for sb in found], [sandbox.sandbox_id], "active ids with RUN_TAG")
        found = Sandbox.list(tags=[RUN_TAG], show_terminated=True).result()
        eq(len(found), 2, "ids with RUN_TAG, terminated included")

    @case("Sandbox.list follows pages: 60 tagged sandboxes come back once each")
    def _():
        tag = f"{RUN_TAG}-many"
        many = [Sandbox.run("true", tags=[tag]) for _ in range(60)]
        for ref in [sb.wait_until_complete() for sb in many]:
            ref.result()
        found = Sandbox.list(tags=[tag], show_terminated=True).result()
        eq(len(found), 60, "listed")
        eq({sb.sandbox_id for sb in found}, {sb.sandbox_id for sb in many}, "ids")
        eq({sb.returncode for sb in many}, {0}, "returncodes")

    @case("write_file then read_file round-trips bytes")
    def _():
        payload = bytes(range(256)) * 64
        sandbox.write_file("/tmp/round/trip.bin", payload).result()
        eq(sandbox.read_file("/tmp/round/trip.bin").result(), payload, "content")

    @case("write_file and exec see the same filesystem")
    def _():
        sandbox.write_file("/tmp/greeting.txt", b"hello from write_file\n").result()
        result = sandbox.exec(["cat", "/tmp/greeting.txt"]).result()
        eq(result.stdout, "hello from write_file\n", "cat output")
        sandbox.exec(["sh", "-c", "echo made by exec > /tmp/made.txt"], check=True).result()
        eq(sandbox.read_file("/tmp/made.txt").result(), b"made by exec\n", "read_file")

    @case("a 5 MiB file goes through write_file and read_file")
    def _():
        payload = os.urandom(5 * 1024 * 1024)
        sandbox.write_file("/tmp/big.bin", payload).result()
        eq(
            sandbox.exec(["wc", "-c", "/tmp/big.bin"]).result().stdout.split()[0],
            str(len(payload)),
            "size",
        )
        ok(sandbox.read_file("/tmp/big.bin").result() == payload, "content differs")

    @case("read_file of a missing file raises SandboxFileError")
    def _():
        err = raises(SandboxFileError, lambda: sandbox.read_file("/tmp/no/such/file").result())
        eq(err.filepath, "/tmp/no/such/file", "filepath")
        eq(err.reason, "CWSANDBOX_FILE_NOT_FOUND", "reason")

    @case("read_file of a directory raises SandboxFileError")
    def _():
        err = raises(SandboxFileError, lambda: sandbox.read_file("/tmp").result())
        eq(err.reason, "CWSANDBOX_FILE_IS_DIRECTORY", "reason")

    @case("list_runners() reports the runner the sandbox runs on")
    def _():
        runners = cwsandbox.list_runners()
        ok(runners, "no runners")
        ids = [r.runner_id for r in runners]
        ok(sandbox.runner_id in ids, f"runner {sandbox.runner_id!r} not in {ids!r}")
        ok(all(r.healthy for r in runners), "an unhealthy runner")

    @case("a bad API key raises CWSandboxAuthenticationError")
    def _():
        good = os.environ["CWSANDBOX_API_KEY"]
        os.environ["CWSANDBOX_API_KEY"] = "not-the-token"
        try:
            raises(CWSandboxAuthenticationError, lambda: Sandbox.list().result())
            raises(
                CWSandboxAuthenticationError,
                lambda: Sandbox.from_id(sandbox.sandbox_id).result(),
            )
            raises(CWSandboxAuthenticationError, lambda: Sandbox.run())
        finally:
            os.environ["CWSANDBOX_API_KEY"] = good

    @case("stop() ends a running sandbox in a terminal state")
    def _():
        sb = Sandbox.run(tags=[RUN_TAG])
        sb.wait()
        eq(sb.status, SandboxStatus.RUNNING, "status before stop")
        sb.stop().result()
        ok(sb.status in TERMINAL, f"status after stop: {sb.status}")
        seen = Sandbox.from_id(sb.sandbox_id).result()
        ok(seen.status in TERMINAL, f"status seen by from_id: {seen.status}")
        active = [s.sandbox_id for s in Sandbox.list(tags=[RUN_TAG]).result()]
        ok(sb.sandbox_id not in active, "a stopped sandbox is still listed as active")

    @case("the static Sandbox.delete stops a sandbox by id")
    def _():
        sb = Sandbox.run()
        sb.wait()
        Sandbox.delete(sb.sandbox_id).result()
        sb.stop(missing_ok=True).result()
        ok(sb.status in TERMINAL, f"status after stop: {sb.status}")


finish()
