"""make bench: run every benchmark and print its table."""

import sys

from benchmarks import s3_transfer, tintri_requests


def main():
    failures = 0
    for bench in (tintri_requests, s3_transfer):
        failures += bench.main()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
