"""VM files on disk: the datastore directory (the appliance's /tintri export) and snapshot storage.

Disk files hold deterministic pseudo-random bytes so checksums are meaningful; copies use
reflinks where the filesystem has them, else an in-kernel sparse-aware copy.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import shutil
from pathlib import Path

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
CHUNK = 1 << 20
CONFIG_SUFFIXES = (".vmx", ".vmcx")
CONFIG_HEADER = "# Tintri VMstore simulator: virtual machine configuration\n"


def ensure_dir(path: Path) -> None:
    if not path.is_dir():  # a stat is much cheaper than a failing mkdir
        path.mkdir(parents=True, exist_ok=True)


def write_disk(path: Path, size: int, seed: str, sparse: bool = False) -> None:
    """Create a disk file of ``size`` bytes: seeded pseudo-random content, or a hole if sparse."""
    ensure_dir(path.parent)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        if sparse:
            # A short seeded header keeps sparse disks distinguishable by checksum.
            head = random.Random(seed).randbytes(min(size, 4096))
            fh.write(head)
            fh.truncate(size)
        else:
            rng = random.Random(seed)
            left = size
            while left > 0:
                n = min(CHUNK, left)
                fh.write(rng.randbytes(n))
                left -= n
    os.replace(tmp, path)


def _reflink(src_fd: int, dst_fd: int) -> bool:
    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
        return True
    except OSError:
        return False


def _copy_range(src_fd: int, dst_fd: int, start: int, end: int) -> None:
    pos = start
    while pos < end:
        try:
            n = os.copy_file_range(src_fd, dst_fd, end - pos, pos, pos)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            os.lseek(src_fd, pos, os.SEEK_SET)
            os.lseek(dst_fd, pos, os.SEEK_SET)
            data = os.read(src_fd, min(end - pos, CHUNK))
            if not data:
                break
            n = os.write(dst_fd, data)
        if n == 0:
            break
        pos += n


def copy_file(src: Path, dst: Path) -> None:
    """Copy src to dst (atomic replace): reflink, else data extents only so holes stay holes."""
    ensure_dir(dst.parent)
    tmp = dst.with_name(dst.name + ".part")
    with open(src, "rb") as fs, open(tmp, "wb") as fd:
        if not _reflink(fs.fileno(), fd.fileno()):
            size = os.fstat(fs.fileno()).st_size
            pos = 0
            while pos < size:
                try:
                    data_start = os.lseek(fs.fileno(), pos, os.SEEK_DATA)
                except OSError as exc:
                    if exc.errno == errno.ENXIO:  # only a hole remains
                        break
                    data_start = pos  # SEEK_DATA unsupported: copy everything
                    _copy_range(fs.fileno(), fd.fileno(), data_start, size)
                    break
                try:
                    hole = os.lseek(fs.fileno(), data_start, os.SEEK_HOLE)
                except OSError:
                    hole = size
                _copy_range(fs.fileno(), fd.fileno(), data_start, hole)
                pos = hole
            fd.truncate(size)
    shutil.copymode(src, tmp)
    os.replace(tmp, dst)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- configuration files -------------------------------------------------------------------

def config_name(vm_name: str, hypervisor: str) -> str:
    base = "".join(c if c.isalnum() or c in "-_." else "_" for c in vm_name) or "vm"
    return base + (".vmcx" if hypervisor == "HYPERV" else ".vmx")


def render_config(vm: dict) -> str:
    """A .vmx-style text file naming the VM, its Tintri UUID and its disks (relative file names)."""
    lines = [CONFIG_HEADER]

    def put(key, value):
        lines.append(f'{key} = "{value}"\n')

    put("displayName", vm["name"])
    put("tintri.uuid", vm["id"])
    put("tintri.hypervisorType", vm["hypervisorType"])
    put("numvcpus", vm.get("numberCpu", 2))
    put("memsize", vm.get("memoryMB", 4096))
    for i, d in enumerate(vm["disks"]):
        put(f"disk{i}.name", d["name"])
        put(f"disk{i}.fileName", os.path.basename(d["file"]))
        put(f"disk{i}.boot", "TRUE" if d.get("boot") else "FALSE")
    return "".join(lines)


def parse_config(text: str) -> dict:
    """Inverse of render_config; tolerant of unknown keys and comments."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"')
    disks = []
    i = 0
    while f"disk{i}.fileName" in values:
        disks.append({
            "name": values.get(f"disk{i}.name", f"disk{i}"),
            "fileName": values[f"disk{i}.fileName"],
            "boot": values.get(f"disk{i}.boot", "FALSE").upper() == "TRUE",
        })
        i += 1
    return {
        "name": values.get("displayName"),
        "uuid": values.get("tintri.uuid"),
        "hypervisorType": values.get("tintri.hypervisorType"),
        "numberCpu": values.get("numvcpus"),
        "memoryMB": values.get("memsize"),
        "disks": disks,
    }


def find_config(directory: Path) -> Path | None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return None
    for entry in entries:
        if entry.is_file() and entry.name.endswith(CONFIG_SUFFIXES):
            return Path(entry.path)
    return None


def write_text_atomic(path: Path, text: str) -> None:
    ensure_dir(path.parent)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text)
    os.replace(tmp, path)
