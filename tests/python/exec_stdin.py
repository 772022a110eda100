"""The stdin examples of the command-execution guide, run with the real client.

Covers: write/close, several writelines, interactive python3, stdin combined
with stdout streaming, EOF-dependent sort, async stdin, and the stdin=False
default.
"""

import asyncio

from harness import case, eq, finish, ok, raises, require_env

from cwsandbox import Sandbox, SandboxExecutionError

require_env()


@case("stream input: cat with write() and close()")
def _():
    with Sandbox.run() as sandbox:
        process = sandbox.exec(["cat"], stdin=True)

        process.stdin.write(b"hello world\n").result()
        process.stdin.close().result()

        result = process.result()
        print(result.stdout, end="")
        eq(result.stdout, "hello world\n", "stdout")
        eq(result.returncode, 0, "returncode")


with Sandbox.run() as sandbox:

    @case("stdin is None when stdin=False")
    def _():
        process = sandbox.exec(["echo", "x"])
        eq(process.stdin, None, "process.stdin")
        eq(process.result().stdout, "x\n", "stdout")

    @case("send multiple writes: three writelines then close")
    def _():
        process = sandbox.exec(["cat"], stdin=True)

        process.stdin.writeline("line 1").result()
        process.stdin.writeline("line 2").result()
        process.stdin.writeline("line 3").result()
        process.stdin.close().result()

        result = process.result()
        eq(result.stdout, "line 1\nline 2\nline 3\n", "stdout")

    @case("interactive python3 through stdin")
    def _():
        process = sandbox.exec(["python3"], stdin=True)

        process.stdin.writeline("x = 40 + 2").result()
        process.stdin.writeline("print(f'answer: {x}')").result()
        process.stdin.close().result()

        result = process.result()
        eq(result.stdout, "answer: 42\n", "stdout")

    @case("combine stdin and stdout streaming: the two lines come as two items, every time")
    def _():
        # Both lines are often in cat's pipe together by the time the server
        # reads it; they must still come out as the guide shows them.
        for run in range(20):
            process = sandbox.exec(["cat"], stdin=True)

            process.stdin.writeline("hello").result()
            process.stdin.writeline("world").result()
            process.stdin.close().result()

            seen = []
            for line in process.stdout:
                if run == 0:
                    print(f"[out] {line}", end="")
                seen.append(line)

            result = process.result()
            eq(seen, ["hello\n", "world\n"], f"streamed items, run {run}")
            eq(result.returncode, 0, "returncode")

    @case("EOF-dependent command: sort prints only after close()")
    def _():
        process = sandbox.exec(["sort"], stdin=True)

        process.stdin.writeline("banana").result()
        process.stdin.writeline("apple").result()
        process.stdin.writeline("cherry").result()
        eq(process.poll(), None, "poll() before EOF")
        process.stdin.close().result()  # sort requires EOF before producing output

        result = process.result()
        eq(result.stdout, "apple\nbanana\ncherry\n", "stdout")

    @case("stdin echo is interactive: each line comes back before the next is sent")
    def _():
        process = sandbox.exec(["cat"], stdin=True)
        chunks = iter(process.stdout)
        for word in ("one", "two", "three"):
            process.stdin.writeline(word).result()
            eq(next(chunks), f"{word}\n", "echoed line")
        process.stdin.close().result()
        eq(process.result().returncode, 0, "returncode")

    @case("a large stdin payload round-trips through wc -c")
    def _():
        payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
        process = sandbox.exec(["wc", "-c"], stdin=True)
        process.stdin.write(payload).result()
        process.stdin.close().result()
        eq(process.result().stdout.strip(), str(len(payload)), "byte count")

    @case("write after close() is refused")
    def _():
        process = sandbox.exec(["cat"], stdin=True)
        process.stdin.close().result()
        raises(SandboxExecutionError, lambda: process.stdin.write(b"late"))
        eq(process.result().stdout, "", "stdout")


@case("stdin in async contexts: async with Sandbox.run(), await each write")
def _():
    async def main():
        async with Sandbox.run() as sandbox:
            process = sandbox.exec(["cat"], stdin=True)

            await process.stdin.write(b"async hello\n")
            await process.stdin.close()

            result = await process
            print(result.stdout, end="")
            return result

    result = asyncio.run(main())
    eq(result.stdout, "async hello\n", "stdout")
    ok(result.returncode == 0, f"returncode {result.returncode}")


@case("async: await exec, async for over stdout, await stop")
def _():
    async def main():
        async with Sandbox.run() as sandbox:
            echoed = await sandbox.exec(["echo", "hello"])
            process = sandbox.exec(["sh", "-c", "echo one; echo two >&2; echo three"])
            chunks = [chunk async for chunk in process.stdout]
            result = await process
            return echoed, "".join(chunks), result

    echoed, streamed, result = asyncio.run(main())
    eq(echoed.stdout, "hello\n", "awaited exec")
    eq(streamed, "one\nthree\n", "async-iterated stdout")
    eq(result.stderr, "two\n", "stderr")


finish()
