"""Import a locustfile in a throwaway process: ``python -m lr_ci.checks.p95._probe LOCUSTFILE RESULT``.

A locustfile is code, and its import may never end (a ``while True``, a C call holding the interpreter's
lock, a blocking read) or take all the memory there is. lr-ci imports it here first, in a process its
parent kills at the import timeout and whose data memory is limited, so that the import that follows in
the load process is known to end, within that memory. The outcome is one line written to
RESULT ("ok", or the one-line problem), never to stdout: the file may print without end.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    locustfile, result = argv
    outcome = "ok"
    try:
        import resource

        from lr_ci.checks.p95.load import LOCUSTFILE_IMPORT_MEMORY

        # Memory is bounded here as time is by the parent: past it, allocations fail (MemoryError).
        resource.setrlimit(resource.RLIMIT_DATA, (LOCUSTFILE_IMPORT_MEMORY, LOCUSTFILE_IMPORT_MEMORY))
        import locust  # noqa: F401 - first, as in the load process: gevent patches the standard library

        from lr_ci.checks.p95.load import import_locustfile_here

        import_locustfile_here(locustfile)
    except BaseException as exc:
        outcome = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    with open(result, "w", encoding="utf-8") as handle:
        handle.write(" ".join(str(outcome).split())[:2000])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
