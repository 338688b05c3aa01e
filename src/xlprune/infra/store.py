"""Content-keyed artefacts that later jobs reuse (tokenizers, tokenised features, rankings,
finished results).

An entry is a directory built in a temporary sibling, sealed with the checksums of its
files and renamed into place, so a reader never sees a half-written one. A file lock makes
concurrent jobs build it once. An entry whose files no longer match their checksums is
reported, removed and built again: it is never used."""

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from xlprune.infra.checksums import damage, seal

KEY_LENGTH = 20  # hex characters of a content key: 80 bits, no collision in any cache


def key(**fields) -> str:
    """The content key of whatever `fields` determine (a result, a ranking, features, a
    tokenizer): one hash rule for every kind of entry, so equal inputs meet in one entry."""
    blob = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:KEY_LENGTH]


COMPLETE = ".complete"  # the entry's checksum manifest; written last
log = logging.getLogger(__name__)


def stored_file_damage(path: str | Path) -> str | None:
    """For a file inside a store entry (a ranking's `stored` path given back as
    ranking.file): what is wrong with its entry, or None; None too outside the store."""
    entry = Path(path).parent
    return damage(entry, COMPLETE) if (entry / COMPLETE).exists() else None


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        self.built: list[str] = []  # kind/key entries this process built
        self.repaired: list[str] = []  # damaged entries it found (and removed or rebuilt)

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def _lock(self, kind: str, key: str) -> FileLock:
        final = self.path(kind, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(final) + ".lock")

    def _intact(self, kind: str, key: str) -> bool:
        """Whether the entry is there and sound; a damaged one is reported and removed
        (call under the entry's lock)."""
        final = self.path(kind, key)
        if not final.exists():
            return False
        problem = damage(final, COMPLETE)
        if problem is None:
            return True
        # entries only appear sealed (renamed into place after sealing): damaged since
        log.warning("store entry %s: %s; removed, it is built again", final, problem)
        self.repaired.append(f"{kind}/{key}")
        shutil.rmtree(final)
        return False

    def entry(self, kind: str, key: str) -> Path | None:
        """The verified entry, or None (a damaged one is removed)."""
        if not self.path(kind, key).exists():
            return None
        if damage(self.path(kind, key), COMPLETE) is None:
            return self.path(kind, key)
        with self._lock(kind, key):
            return self.path(kind, key) if self._intact(kind, key) else None

    def build_once(self, kind: str, key: str, build: Callable[[Path], None]) -> tuple[Path, bool]:
        """The entry's directory, and whether this call built it: `build(tmp_dir)` fills a
        temporary directory only when no sound entry exists."""
        final = self.path(kind, key)
        if final.exists() and damage(final, COMPLETE) is None:
            return final, False
        with self._lock(kind, key):
            if self._intact(kind, key):
                return final, False
            for stale in final.parent.glob(f".tmp-{key}-*"):  # left by a killed build
                shutil.rmtree(stale, ignore_errors=True)
            tmp = final.parent / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                build(tmp)
                seal(tmp, COMPLETE)
                os.replace(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        self.built.append(f"{kind}/{key}")
        return final, True
