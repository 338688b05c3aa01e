"""Where sentences come from: (task, language, split) -> sentences, plus a fingerprint of
the content so caches can be keyed by it."""

import hashlib
import json
from pathlib import Path
from typing import Protocol

from xlprune.data.formats import READERS
from xlprune.data.formats.common import Sentence
from xlprune.infra.errors import XlpruneError

SPLITS = ("train", "dev", "test")


class Source(Protocol):
    """What a data config builds (conf/data/*: SyntheticSource, FileSource, HubSource)."""

    name: str

    def load(self, task: str, lang: str, split: str) -> list[Sentence] | None:
        """One language's split, or None where the source has no such split."""

    def labels(self, task: str) -> list[str]:
        """The task's label set, in a fixed order."""


def fingerprint(sentences: list[Sentence]) -> str:
    """A content hash of sentences: equal data gives an equal key, whatever its origin."""
    digest = hashlib.sha256()
    for words, labels in sentences:
        digest.update(json.dumps([words, labels], ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


class SyntheticSource:
    """The embedded multilingual corpus (xlprune.data.synthetic), seeded and deterministic."""

    def __init__(self, name: str = "synthetic", seed: int = 0, sizes: dict | None = None):
        self.name = name
        self.seed = seed
        self.sizes = dict(sizes or {})

    def load(self, task: str, lang: str, split: str) -> list[Sentence]:
        from xlprune.data import synthetic

        try:
            return synthetic.generate(task, lang, split, n=self.sizes.get(split), seed=self.seed)
        except ValueError as err:
            raise XlpruneError(f"data=synthetic: {err}; check `source`/`targets`/`task`") from None

    def labels(self, task: str) -> list[str]:
        from xlprune.data import synthetic

        return synthetic.labels(task)


class FileSource:
    """Files on disk under `root`, one per (language, split), named by `pattern[split]` in
    which {lang} / {LANG} stand for the lower- / upper-case language code; a `*` matches
    what differs per language (UD's treebank names: `{lang}_*-ud-test.conllu`)."""

    def __init__(self, name: str, format: str, root: str, pattern: dict):
        if format not in READERS:
            raise XlpruneError(f"data.format={format}: unknown; choose one of {sorted(READERS)}")
        self.name = name
        self.reader = READERS[format]
        self.root = Path(root).expanduser()
        self.pattern = dict(pattern)
        for split, name in self.pattern.items():
            try:
                name is None or name.format(lang="xx", LANG="XX")
            except (KeyError, IndexError, ValueError) as err:
                raise XlpruneError(
                    f"data.pattern.{split}={name}: bad placeholder ({err}); use {{lang}} or "
                    "{LANG} for the language code"
                ) from None

    def path(self, lang: str, split: str) -> Path:
        if split not in self.pattern:
            raise XlpruneError(f"data.pattern.{split} is not set; give the {split} file name")
        name = self.pattern[split].format(lang=lang.lower(), LANG=lang.upper())
        if "*" not in name:
            return self.root / name
        found = sorted(self.root.glob(name))
        if len(found) > 1:
            raise XlpruneError(
                f"data.pattern.{split}={self.pattern[split]}: {len(found)} files match for "
                f"'{lang}' under {self.root} ({', '.join(p.name for p in found[:3])}); make "
                "the pattern match one file"
            )
        return found[0] if found else self.root / name

    def load(self, task: str, lang: str, split: str) -> list[Sentence] | None:
        """The split's sentences, or None when `data.pattern.<split>` is null (a dataset
        without that split: dev is then carved from train)."""
        if self.pattern.get(split, "") is None:
            return None
        if not self.root.is_dir():
            raise XlpruneError(
                f"data.root={self.root}: directory not found; point data.root at your files"
            )
        path = self.path(lang, split)
        if not path.is_file():
            raise XlpruneError(
                f"{path}: no {split} file for language '{lang}'; check data.root and "
                f"data.pattern.{split} ({self.pattern[split]!r})"
            )
        return self.reader(path)

    def labels(self, task: str) -> list[str]:
        return []
