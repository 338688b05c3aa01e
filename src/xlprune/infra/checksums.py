"""Checksums for artefacts other jobs trust (store entries, saved pruned models): a sealed
directory lists the SHA-256 of every file in it, so a file truncated, edited or lost after
it was written is found before it is used."""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from xlprune.infra.atomic import write_text


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file, read once per process while its size and modification time stay
    the same (a sweep's plan fingerprints the same data files for every job)."""
    stat = Path(path).stat()
    return _cached_digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=1024)
def _cached_digest(path: str, size: int, mtime_ns: int) -> str:
    return _digest(Path(path))


def _files(directory: Path, manifest: str) -> list[str]:
    return sorted(
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if p.is_file() and p.name != manifest and not p.name.endswith(".tmp")
    )


def seal(directory: str | Path, manifest: str) -> Path:
    """Write `manifest` in `directory`: every other file's size and SHA-256."""
    directory = Path(directory)
    files = {
        name: {"sha256": _digest(directory / name), "bytes": (directory / name).stat().st_size}
        for name in _files(directory, manifest)
    }
    return write_text(directory / manifest, json.dumps({"format": 1, "files": files}, indent=1))


def damage(directory: str | Path, manifest: str) -> str | None:
    """What is wrong with a sealed directory (a file missing, truncated or changed; no
    readable manifest), or None when every file matches its checksum."""
    directory = Path(directory)
    try:
        files = json.loads((directory / manifest).read_text())["files"]
        assert isinstance(files, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        return f"{manifest} missing or unreadable, so its files cannot be checked"
    for name, want in sorted(files.items()):
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != want.get("bytes") or _digest(path) != want.get("sha256"):
            return f"{name} does not match its checksum (truncated or changed after writing)"
    extra = sorted(set(_files(directory, manifest)) - set(files))
    if extra:
        return f"{extra[0]} was added after writing (not in {manifest})"
    return None
