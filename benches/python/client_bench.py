"""Timings of the published Python client, for the Rust benchmark suite.

usage: client_bench.py exec N      -> "exec_seconds t1 t2 ..." (N round trips of `true`)
       client_bench.py stdout BYTES -> "stdout_seconds t" (head -c BYTES /dev/zero, checked)
       client_bench.py lines N     -> "lines_ok K" (the documented stdin/stdout example
                                      N times; K gave its two lines as two items)
Server address and key come from CWSANDBOX_BASE_URL and CWSANDBOX_API_KEY.
"""

import sys
import time

from cwsandbox import Sandbox


def main():
    mode, arg = sys.argv[1], int(sys.argv[2])
    with Sandbox.run() as sandbox:
        # The first exec pays for channel set-up; it is not what is measured.
        sandbox.exec(["true"]).result()
        if mode == "exec":
            times = []
            for i in range(arg):
                started = time.perf_counter()
                result = sandbox.exec(["true"]).result()
                times.append(time.perf_counter() - started)
                if result.returncode != 0:
                    sys.exit(f"exec #{i}: returncode {result.returncode}")
            print("exec_seconds " + " ".join(f"{t:.9f}" for t in times))
        elif mode == "stdout":
            started = time.perf_counter()
            result = sandbox.exec(["head", "-c", str(arg), "/dev/zero"]).result()
            elapsed = time.perf_counter() - started
            out = result.stdout
            if result.returncode != 0 or len(out) != arg or out.count("\0") != arg:
                sys.exit(f"stdout: returncode {result.returncode}, {len(out)} of {arg} bytes")
            print(f"stdout_seconds {elapsed:.9f}")
        elif mode == "lines":
            good = 0
            for i in range(arg):
                # As documented under "Combine stdin and stdout streaming".
                process = sandbox.exec(["cat"], stdin=True)
                process.stdin.writeline("hello").result()
                process.stdin.writeline("world").result()
                process.stdin.close().result()
                items = [line for line in process.stdout]
                result = process.result()
                if result.returncode != 0 or "".join(items) != "hello\nworld\n":
                    sys.exit(f"lines #{i}: returncode {result.returncode}, items {items!r}")
                good += items == ["hello\n", "world\n"]
            print(f"lines_ok {good}")
        else:
            sys.exit(f"unknown mode {mode}")


main()
