"""Parallel execution across sandboxes, as in the command-execution guide.

Covers: commands started on three sandboxes at once, and cwsandbox.wait()
returning the first two of three processes to finish.
"""

from harness import case, eq, finish, ok, require_env

import cwsandbox
from cwsandbox import Sandbox

require_env()

# Start multiple sandboxes
sandboxes = [Sandbox.run(tags=["conformance-parallel"]) for _ in range(3)]
try:

    @case("three sandboxes have distinct ids")
    def _():
        ids = {sb.sandbox_id for sb in sandboxes}
        eq(len(ids), 3, "distinct sandbox ids")

    @case("run independent commands in parallel: print(i) on each sandbox")
    def _():
        # Start commands on each
        processes = [sb.exec(["python", "-c", f"print({i})"]) for i, sb in enumerate(sandboxes)]

        # Collect all results
        results = [p.result() for p in processes]
        for r in results:
            print(r.stdout, end="")
        eq([r.stdout for r in results], ["0\n", "1\n", "2\n"], "stdouts")

    @case("wait for N of M: cwsandbox.wait(processes, num_returns=2)")
    def _():
        # Two tasks finish at once; the third runs until its stdin is closed,
        # so which two come back first does not depend on timing.
        task = "import sys; sys.stdin.read(); print('task', {i})"
        processes = [
            sb.exec(["python", "-c", task.format(i=i)], stdin=True)
            for i, sb in enumerate(sandboxes)
        ]
        processes[0].stdin.close().result()
        processes[2].stdin.close().result()

        # Wait for first 2 to complete
        done, pending = cwsandbox.wait(processes, num_returns=2)
        eq(len(done), 2, "len(done)")
        eq(len(pending), 1, "len(pending)")
        ok(pending[0] is processes[1], "the blocked process is not the pending one")

        # Process completed ones immediately
        outputs = sorted(p.result().stdout for p in done)
        for out in outputs:
            print(out, end="")
        eq(outputs, ["task 0\n", "task 2\n"], "done outputs")

        # Wait for remaining
        processes[1].stdin.close().result()
        for p in pending:
            eq(p.result().stdout, "task 1\n", "pending output")

    @case("cwsandbox.wait() with no num_returns waits for all")
    def _():
        processes = [sb.exec(["echo", sb.sandbox_id]) for sb in sandboxes]
        done, pending = cwsandbox.wait(processes)
        eq((len(done), len(pending)), (3, 0), "(done, pending)")
        eq(
            [p.result().stdout for p in processes],
            [f"{sb.sandbox_id}\n" for sb in sandboxes],
            "stdouts",
        )

finally:
    for sb in sandboxes:
        sb.stop().result()

finish()
