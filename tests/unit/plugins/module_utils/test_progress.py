# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Status lines a long module run keeps for the collection's action plugins."""

from __future__ import annotations

import hashlib
import json
import threading

from ansible_collections.vmops.datacenter.plugins.module_utils._progress import (
    PROGRESS_FILE_ENV,
    PROGRESS_INTERVAL_ENV,
    Progress,
    human_duration,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._s3_transfer import (
    MIB,
    READ_BLOCK,
    CheckCounter,
    DownloadItem,
    plan_download,
    sha256_file,
    transfer_status,
)


def test_without_the_variable_nothing_is_written(tmp_path):
    progress = Progress(environ={})
    assert not progress.enabled
    progress.update("anything")
    with progress.watch(lambda: "never sampled"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_update_replaces_the_line_atomically(tmp_path):
    path = tmp_path / "status.json"
    progress = Progress(environ={PROGRESS_FILE_ENV: str(path), PROGRESS_INTERVAL_ENV: "2.5"})
    assert progress.enabled and progress.interval == 2.5
    progress.update("first")
    progress.update("second")
    assert json.loads(path.read_text())["text"] == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_watch_samples_at_once_then_every_interval_and_stops(tmp_path):
    path = tmp_path / "status.json"
    progress = Progress(environ={PROGRESS_FILE_ENV: str(path), PROGRESS_INTERVAL_ENV: "0.2"})
    samples = []
    twice = threading.Event()

    def status():
        samples.append(len(samples))
        if len(samples) >= 3:
            twice.set()
        return "sample %d" % samples[-1]

    with progress.watch(status):
        assert json.loads(path.read_text())["text"] == "sample 0"
        assert twice.wait(5)
    count = len(samples)
    assert not progress.watch(status).thread  # a new watch only starts on entry
    assert len(samples) == count  # nothing samples after the block


def test_a_failing_or_empty_sample_is_skipped(tmp_path):
    path = tmp_path / "status.json"
    progress = Progress(environ={PROGRESS_FILE_ENV: str(path)})
    with progress.watch(lambda: 1 / 0):
        pass
    with progress.watch(lambda: None):
        pass
    assert not path.exists()


def test_an_unwritable_place_does_not_fail_the_operation(tmp_path):
    progress = Progress(environ={PROGRESS_FILE_ENV: str(tmp_path / "missing" / "status.json")})
    progress.update("still fine")


def test_bad_interval_falls_back_and_tiny_ones_are_raised():
    assert Progress(environ={PROGRESS_FILE_ENV: "x", PROGRESS_INTERVAL_ENV: "soon"}).interval == 10.0
    assert Progress(environ={PROGRESS_FILE_ENV: "x", PROGRESS_INTERVAL_ENV: "0"}).interval == 0.2


def test_readable_durations_and_transfer_lines():
    assert [human_duration(s) for s in (0, 59.9, 61, 3599, 3661, 90000)] == [
        "0 s", "59 s", "1 m 01 s", "59 m 59 s", "1 h 01 m", "25 h 00 m"]
    assert transfer_status("upload tx-1", 2, 5, 300 * MIB, 1200 * MIB, 10) == (
        "upload tx-1: 2 of 5 files, 300.0 MiB of 1.2 GiB (25 %), 30 MiB/s, 10 s")
    assert transfer_status("download tx-1", 0, 0, 0, 0, 0) is None  # nothing to send: no line at all


def test_the_check_before_a_transfer_counts_the_files_it_reads(tmp_path):
    same, other = tmp_path / "same.bin", tmp_path / "other.bin"
    same.write_bytes(b"a" * 1000)
    other.write_bytes(b"b" * 3000)
    items = [DownloadItem(dict(path=p.name, key="t/" + p.name, size=p.stat().st_size,
                               sha256=hashlib.sha256(b"a" * 1000).hexdigest()), str(p)) for p in (same, other)]
    items.append(DownloadItem(dict(path="absent", key="t/absent", size=5, sha256="0" * 64), str(tmp_path / "absent")))
    counter = CheckCounter()
    assert counter.status("download t", 0) is None  # nothing to say while listing
    wanted = plan_download(items, force=False, verify=True, concurrency=2, counter=counter)
    assert [i.path for i in wanted] == ["other.bin", "absent"]
    assert counter.status("download t", 3) == (
        "download t: checking 2 of 2 files already there, 3.9 KiB of 3.9 KiB read (100 %), 3 s")
    quiet = CheckCounter()
    plan_download(items, force=False, verify=False, concurrency=2, counter=quiet)
    assert quiet.status("download t", 1) is None  # sizes only: nothing is read


def test_the_check_counts_bytes_within_a_big_file(tmp_path):
    big = tmp_path / "disk.vmdk"
    big.write_bytes(b"x" * (2 * READ_BLOCK + 5))
    counter = CheckCounter()
    counter.expect([big.stat().st_size])
    seen = []

    def on_read(size):
        counter.read(size)
        seen.append(counter.bytes_done)

    sha256_file(str(big), on_read=on_read)
    assert seen == [READ_BLOCK, 2 * READ_BLOCK, 2 * READ_BLOCK + 5]  # the line moves before the file is finished
    assert counter.files_done == 0
