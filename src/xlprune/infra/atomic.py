"""Files written whole or not at all: a temporary file in the same folder, flushed to disk,
then renamed over the target. A reader (a resumed sweep, a browser, a W&B upload) never
sees half a file."""

import os
import tempfile
from pathlib import Path

from xlprune.infra.faults import reached


def umask() -> int:
    """The process's umask, read without changing it where Linux says it (/proc), else by
    setting and restoring it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600 whatever the umask: give it the mode open() would, so
        # a teammate on a shared results folder can read what the umask lets them
        os.chmod(tmp, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            reached(f"write:{path.name}")
            fh.write(data[len(data) // 2 :])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))
