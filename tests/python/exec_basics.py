"""The basic examples of the command-execution guide, run with the real client.

Covers: run a command, get results, stream output, working directory,
timeout, check=False/True, running Python code, sequential execution, and
process control with poll()/wait().
"""

import json
import time

from harness import case, eq, finish, ok, raises, require_env

import cwsandbox
from cwsandbox import Sandbox, SandboxExecutionError, SandboxTimeoutError

require_env()

LONG_SCRIPT = """\
import sys
for i in range(1, 4):
    print(f"step {i}", flush=True)
print("done")
"""

with Sandbox.run() as sandbox:

    @case("run a basic command: echo Hello, World!")
    def _():
        result = sandbox.exec(["echo", "Hello, World!"]).result()
        eq(result.stdout, "Hello, World!\n", "stdout")
        eq(result.returncode, 0, "returncode")

    @case("get results: exec returns a Process, result() blocks")
    def _():
        process = sandbox.exec(["python", "-c", "print('hello')"])
        ok(isinstance(process, cwsandbox.Process), f"exec returned {type(process)}")
        result = process.result()
        eq(result.stdout, "hello\n", "stdout")
        eq(result.stderr, "", "stderr")
        eq(result.returncode, 0, "returncode")

    @case("one-liner: ls -la")
    def _():
        result = sandbox.exec(["ls", "-la"]).result()
        eq(result.returncode, 0, "returncode")
        ok(" .." in result.stdout, f"ls -la output lacks '..': {result.stdout!r}")

    @case("stderr is kept apart from stdout")
    def _():
        code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
        result = sandbox.exec(["python", "-c", code]).result()
        eq(result.stdout, "out\n", "stdout")
        eq(result.stderr, "err\n", "stderr")
        eq(result.returncode, 3, "returncode")

    @case("stream output: iterate process.stdout, then result()")
    def _():
        sandbox.write_file("/tmp/long_script.py", LONG_SCRIPT.encode()).result()
        process = sandbox.exec(["python", "/tmp/long_script.py"])
        seen = []
        for line in process.stdout:
            print(f"[stdout] {line}", end="")
            seen.append(line)
        result = process.result()
        print(f"Exit code: {result.returncode}")
        eq("".join(seen), "step 1\nstep 2\nstep 3\ndone\n", "streamed stdout")
        eq(result.stdout, "step 1\nstep 2\nstep 3\ndone\n", "result stdout")
        eq(result.returncode, 0, "returncode")

    @case("stream output: the first line arrives while the command still runs")
    def _():
        # The command prints one line and then blocks on stdin, so the line can
        # only be seen now if the server forwards output as it is produced.
        code = "import sys; print('first', flush=True); sys.stdin.read(); print('second')"
        process = sandbox.exec(["python", "-c", code], stdin=True)
        chunks = iter(process.stdout)
        eq(next(chunks), "first\n", "first chunk")
        eq(process.poll(), None, "poll() while blocked on stdin")
        process.stdin.close().result()
        rest = "".join(chunks)
        eq(rest, "second\n", "rest of stdout")
        eq(process.result().returncode, 0, "returncode")

    @case("working directory: cwd='/tmp'")
    def _():
        sandbox.exec(["mkdir", "-p", "/tmp/app/data"]).result()
        sandbox.exec(["touch", "/tmp/app/data/marker.txt"]).result()
        result = sandbox.exec(["ls", "-la"], cwd="/tmp/app/data").result()
        eq(result.returncode, 0, "returncode")
        ok("marker.txt" in result.stdout, f"ls in cwd lacks marker.txt: {result.stdout!r}")
        eq(sandbox.exec(["pwd"], cwd="/tmp").result().stdout, "/tmp\n", "pwd")

    @case("working directory: a relative cwd is refused")
    def _():
        err = raises(ValueError, lambda: sandbox.exec(["ls"], cwd="app/data"))
        ok("absolute" in str(err), f"unexpected message: {err}")

    @case("working directory: a missing cwd fails the command")
    def _():
        result = sandbox.exec(["ls"], cwd="/no/such/dir").result()
        ok(result.returncode != 0, "ls in a missing directory succeeded")

    @case("timeout: sleep 60 with timeout_seconds raises SandboxTimeoutError")
    def _():
        started = time.monotonic()
        try:
            sandbox.exec(["sleep", "60"], timeout_seconds=2.0).result()
        except SandboxTimeoutError:
            print("Command timed out")
        else:
            raise AssertionError("no SandboxTimeoutError")
        ok(time.monotonic() - started < 30, "the timeout did not end the wait early")
        # The sandbox stays usable after a timed-out command.
        eq(sandbox.exec(["echo", "after"]).result().stdout, "after\n", "stdout after timeout")

    @case("check=False (default): false returns returncode 1")
    def _():
        result = sandbox.exec(["false"]).result()
        print(result.returncode)
        eq(result.returncode, 1, "returncode")

    @case("check=True: non-zero exit raises SandboxExecutionError with exec_result")
    def _():
        try:
            sandbox.exec(
                ["python", "-c", "raise ValueError('oops')"],
                check=True,
            ).result()
        except SandboxExecutionError as e:
            print(f"Command failed: {e.exec_result.returncode}")
            print(f"stderr: {e.exec_result.stderr}")
            eq(e.exec_result.returncode, 1, "returncode")
            ok("ValueError: oops" in e.exec_result.stderr, f"stderr: {e.exec_result.stderr!r}")
        else:
            raise AssertionError("no SandboxExecutionError")

    @case("check=True: a zero exit returns normally")
    def _():
        eq(sandbox.exec(["true"], check=True).result().returncode, 0, "returncode")

    @case("run Python code: one-liner sys.version")
    def _():
        result = sandbox.exec(
            ["python", "-c", "import sys; print(sys.version)"],
        ).result()
        eq(result.returncode, 0, "returncode")
        ok(result.stdout.startswith("3."), f"sys.version output: {result.stdout!r}")

    @case("run Python code: script from a string, JSON output")
    def _():
        code = """
import json
data = {"result": 42}
print(json.dumps(data))
"""
        result = sandbox.exec(["python", "-c", code]).result()
        output = json.loads(result.stdout)
        eq(output, {"result": 42}, "parsed output")

    @case("sequential: a later command sees what an earlier one left")
    def _():
        sandbox.exec(
            ["sh", "-c", "echo 'VALUE = 41 + 1' > /tmp/helper_mod.py"], check=True
        ).result()
        result = sandbox.exec(
            ["python", "-c", "import helper_mod; print(helper_mod.VALUE)"], cwd="/tmp"
        ).result()
        eq(result.stdout, "42\n", "stdout")

    @case("command not found gives a non-zero exit")
    def _():
        result = sandbox.exec(["definitely-not-a-command-xyz"]).result()
        ok(result.returncode != 0, f"returncode {result.returncode}")

    @case("process control: poll() is None while running, wait() returns the exit code")
    def _():
        # Stands in for the guide's long-running server.py: it runs until stdin closes.
        code = "import sys; sys.stdin.read(); sys.exit(7)"
        process = sandbox.exec(["python", "-c", code], stdin=True)
        if process.poll() is None:
            print("Still running")
        else:
            raise AssertionError(f"poll() returned {process.poll()!r} for a blocked command")
        eq(process.returncode, None, "returncode while running")
        process.stdin.close().result()
        exit_code = process.wait()
        print(f"Exited with code: {exit_code}")
        eq(exit_code, 7, "wait()")
        eq(process.poll(), 7, "poll() after exit")


finish()
