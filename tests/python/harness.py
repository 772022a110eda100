"""Tiny check runner shared by the conformance scripts.

Every check prints one `PASS name` or `FAIL name` line, so that a failing run
shows at a glance which behaviour broke; a failure also prints the traceback.
`finish()` prints the totals and sets the exit code the Rust test asserts on.
"""

import os
import sys
import time
import traceback

_passed = 0
_failed = 0


def case(name):
    """Decorator: run the function now as one named check."""

    def run(fn):
        global _passed, _failed
        started = time.monotonic()
        try:
            fn()
        except BaseException:  # noqa: BLE001 - a check must never stop the others
            _failed += 1
            print(f"FAIL {name} ({time.monotonic() - started:.1f}s)", flush=True)
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
        else:
            _passed += 1
            print(f"PASS {name} ({time.monotonic() - started:.1f}s)", flush=True)
        return fn

    return run


def eq(actual, expected, what="value"):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def ok(condition, message):
    if not condition:
        raise AssertionError(message)


def raises(exc_type, fn):
    """Call fn and return the exception it raised, which must be an exc_type."""
    try:
        value = fn()
    except exc_type as exc:
        return exc
    raise AssertionError(f"expected {exc_type.__name__}, got a return value {value!r}")


def require_env():
    for name in ("CWSANDBOX_BASE_URL", "CWSANDBOX_API_KEY"):
        if not os.environ.get(name):
            print(f"FAIL environment: {name} is not set", flush=True)
            sys.exit(2)


def finish():
    print(f"python checks: {_passed} passed, {_failed} failed", flush=True)
    sys.exit(1 if _failed or not _passed else 0)
