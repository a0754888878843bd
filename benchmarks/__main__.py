"""make bench: run every benchmark and print its table."""

import sys

from benchmarks import tintri_requests


def main():
    failures = 0
    for bench in (tintri_requests,):
        failures += bench.main()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
