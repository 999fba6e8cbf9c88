"""Run benchmarks by name (all when none is given); each writes its section of bench/RESULTS.md."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "incremental",
    "parse",
    "dbwrite",
    "throughput",
    "memory",
    "distributed",
    "render",
    "dataout",
    "watch",
    "watchmemory",
    "digests",
    "queries",
    "startup",
    "warc",
    "peakrss",
]


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 64
    for name in names or BENCHMARKS:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"bench.{name}":
                print(f"bench {name}: not written yet", file=sys.stderr)
                continue
            raise
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
