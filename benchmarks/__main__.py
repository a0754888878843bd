"""make bench: run every benchmark and print its table."""

import sys

from benchmarks import s3_transfer, tintri_requests, vmm_batch


def main():
    failures = 0
    for bench in (tintri_requests, vmm_batch, s3_transfer):
        failures += bench.main()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
