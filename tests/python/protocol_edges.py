"""Protocol corners the real client depends on.

Covers: exec output volume, binary and UTF-8 output, concurrent execs,
background children holding stdout, unknown containers, stdin after exit,
TTY shells, log time filters, list filters by status, runner pinning and
discovery, runtime classes, unsupported create shapes, and the
errors of stopped or unknown sandboxes.
"""

import datetime
import time

from harness import case, eq, finish, ok, raises, require_env

import cwsandbox
from cwsandbox import (
    Container,
    RunnerNotFoundError,
    Sandbox,
    SandboxError,
    SandboxExecutionError,
    SandboxNotFoundError,
    SandboxNotRunningError,
    SandboxStatus,
    SandboxTerminatedError,
    SandboxValidationError,
    Service,
)

require_env()

with Sandbox.run() as sandbox:

    @case("10 MiB of stdout arrives whole")
    def _():
        code = "import sys; sys.stdout.write('x' * (10 * 1024 * 1024))"
        result = sandbox.exec(["python", "-c", code]).result()
        eq(len(result.stdout), 10 * 1024 * 1024, "stdout length")
        ok(set(result.stdout) == {"x"}, "stdout content")

    @case("binary and UTF-8 output are kept byte for byte")
    def _():
        code = "import sys; sys.stdout.buffer.write(bytes(range(256)))"
        eq(sandbox.exec(["python", "-c", code]).result().stdout_bytes, bytes(range(256)), "bytes")
        eq(sandbox.exec(["echo", "héllo ✓"]).result().stdout, "héllo ✓\n", "text")

    @case("20 concurrent execs in one sandbox")
    def _():
        processes = [sandbox.exec(["sh", "-c", f"echo {i}; echo e{i} >&2"]) for i in range(20)]
        results = [p.result() for p in processes]
        eq([r.stdout for r in results], [f"{i}\n" for i in range(20)], "stdouts")
        eq([r.stderr for r in results], [f"e{i}\n" for i in range(20)], "stderrs")

    @case("a background child holding stdout does not hold up the exit")
    def _():
        started = time.monotonic()
        result = sandbox.exec(["sh", "-c", "sleep 60 & echo done"]).result()
        eq(result.stdout, "done\n", "stdout")
        eq(result.returncode, 0, "returncode")
        ok(time.monotonic() - started < 30, "exec waited for the background child")

    @case("exec in an unknown container raises SandboxValidationError")
    def _():
        err = raises(
            SandboxValidationError, lambda: sandbox.exec(["true"], container="nope").result()
        )
        eq([v.field for v in err.field_violations], ["container"], "violated fields")

    @case("stdin writes after the process exited are refused")
    def _():
        process = sandbox.exec(["true"], stdin=True)
        eq(process.wait(), 0, "exit code")
        raises(SandboxExecutionError, lambda: process.stdin.write(b"late").result())

    @case("shell() gives a TTY with the requested size and the shell's exit code")
    def _():
        session = sandbox.shell(["/bin/sh"], width=80, height=24)
        session.stdin.writeline("test -t 0 && echo IS-A-TTY; stty size; exit 4").result()
        output = b"".join(session.output)
        eq(session.wait(), 4, "exit code")
        ok(b"IS-A-TTY" in output, f"not a tty: {output!r}")
        ok(b"24 80" in output, f"stty size: {output!r}")

    @case("a sandbox without a runtime class reports <node-default>")
    def _():
        sandbox.wait()
        eq(sandbox.effective_runtime_class, "<node-default>", "effective_runtime_class")


@case("stream_logs(since_time=...) returns only later lines")
def _():
    script = "echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after; sleep 60"
    with Sandbox.run("sh", "-c", script) as sb:
        reader = sb.stream_logs(follow=True)
        eq(next(reader), "before\n", "first line")
        middle = datetime.datetime.now(datetime.timezone.utc)
        sb.write_file("/tmp/go", b"").result()
        eq(next(reader), "after\n", "second line")
        reader.close()
        eq(list(sb.stream_logs(since_time=middle)), ["after\n"], "lines since the middle")
        eq(list(sb.stream_logs()), ["before\n", "after\n"], "all lines")


@case("Sandbox.list(status=...) filters on the state")
def _():
    tag = f"edges-{time.time_ns()}"
    done = Sandbox.run("true", tags=[tag])
    done.wait_until_complete().result()
    with Sandbox.run(tags=[tag]) as running:
        running.wait()
        eq(
            [s.sandbox_id for s in Sandbox.list(tags=[tag], status="running").result()],
            [running.sandbox_id],
            "running",
        )
        eq(
            [s.sandbox_id for s in Sandbox.list(tags=[tag], status="completed").result()],
            [done.sandbox_id],
            "completed",
        )


@case("runner_ids: the local runner is accepted, others are refused")
def _():
    runner = cwsandbox.list_runners()[0].runner_id
    sb = Sandbox.run("true", runner_ids=[runner])
    sb.wait_until_complete().result()
    eq(sb.returncode, 0, "returncode on the pinned runner")
    err = raises(SandboxError, lambda: Sandbox.run("true", runner_ids=["no-such-runner"]).wait())
    eq(err.reason, "CWSANDBOX_NO_SUITABLE_RUNNER", "reason")


@case("get_runner and list_runners filters")
def _():
    runner = cwsandbox.list_runners()[0]
    got = cwsandbox.get_runner(runner.runner_id, organization_id=runner.organization_id)
    eq(got.runner_id, runner.runner_id, "runner_id")
    ok(got.resources is not None, "get_runner has no resources")
    raises(RunnerNotFoundError, lambda: cwsandbox.get_runner("no-such-runner", organization_id="x"))
    full = cwsandbox.list_runners(include_resources=True)
    ok(full and full[0].resources is not None, "list_runners(include_resources=True) has none")
    public = cwsandbox.list_runners(service_visibility="public")
    eq([r.runner_id for r in public], [runner.runner_id], "runners with public services")
    eq(cwsandbox.list_runners(service_visibility="custom"), [], "runners with custom services")
    eq(
        sorted(runner.supported_service_visibilities),
        ["private", "public"],
        "supported_service_visibilities",
    )


@case("a requested runtime class is echoed")
def _():
    with Sandbox.run(runtime_class="gvisor") as sb:
        sb.wait()
        eq(sb.effective_runtime_class, "gvisor", "effective_runtime_class")


@case("unsupported create shapes are refused with a reason")
def _():
    services = [Service(port=8080, visibility="public"), Service(port=8081, visibility="private")]
    err = raises(SandboxError, lambda: Sandbox.run(services=services))
    eq(err.reason, "CWSANDBOX_NOT_IMPLEMENTED", "mixed visibility")
    res = {"cpu": "1", "memory": "1Gi"}
    containers = [
        Container(image="python:3.11", name="a", primary=True, resources=res),
        Container(image="python:3.11", name="b", resources=res),
    ]
    err = raises(SandboxError, lambda: Sandbox.run(containers=containers))
    eq(err.reason, "CWSANDBOX_NOT_IMPLEMENTED", "two containers")


@case("after stop(): exec refused, wait_until_complete raises, stop is idempotent")
def _():
    sb = Sandbox.run()
    sb.wait()
    sb.stop().result()
    sb.stop().result()
    raises(SandboxNotRunningError, lambda: sb.exec(["true"]).result())
    raises(SandboxTerminatedError, lambda: sb.wait_until_complete().result())
    ok(sb.status in {SandboxStatus.COMPLETED, SandboxStatus.TERMINATED}, f"status {sb.status}")


@case("Sandbox.delete of an unknown id: NotFound, or nothing with missing_ok")
def _():
    raises(SandboxNotFoundError, lambda: Sandbox.delete("no-such-sandbox").result())
    eq(Sandbox.delete("no-such-sandbox", missing_ok=True).result(), None, "missing_ok")


finish()
