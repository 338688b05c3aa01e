"""Content-keyed artefacts that later jobs reuse (trained tokenizers, rankings, ...).

An entry is a directory built in a temporary sibling and renamed into place, so a reader
never sees a half-written one; a file lock makes concurrent jobs build it once."""

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

COMPLETE = ".complete"


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def has(self, kind: str, key: str) -> bool:
        return (self.path(kind, key) / COMPLETE).is_file()

    def build_once(self, kind: str, key: str, build: Callable[[Path], None]) -> tuple[Path, bool]:
        """The entry's directory, and whether this call built it: `build(tmp_dir)` fills a
        temporary directory only when no complete entry exists."""
        final = self.path(kind, key)
        if self.has(kind, key):
            return final, False
        final.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(final) + ".lock"):
            if self.has(kind, key):
                return final, False
            tmp = final.parent / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                build(tmp)
                (tmp / COMPLETE).write_text("ok\n")
                if final.exists():  # an incomplete leftover of an interrupted build
                    shutil.rmtree(final)
                os.replace(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return final, True
