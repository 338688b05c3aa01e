"""token<TAB>label per line, a blank line between sentences: XTREME's PAN-X and UD-POS
exports (IOB labels or UPOS tags), also raw PAN-X whose tokens carry a language prefix."""

import re
from pathlib import Path

from xlprune.data.formats.common import (
    Sentence,
    check_label,
    require_sentences,
    token_lines,
    word,
)
from xlprune.infra.errors import XlpruneError

_PREFIX = re.compile(r"[a-z]{2,3}:")


def read_xtreme(path: str | Path) -> list[Sentence]:
    path = Path(path)
    sentences: list[Sentence] = []
    prefix: str | None = None  # the language prefix all tokens so far share ("" if none)
    for block in token_lines(path, comments=False):  # `#` is a token in PAN-X
        words: list[str] = []
        labels: list[str] = []
        for number, line in block:
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
                raise XlpruneError(
                    f"{path}:{number}: expected token<TAB>label, found {line!r}; "
                    "every token line needs exactly one tab and a label"
                )
            token = word(path, number, fields[0])
            if prefix is None:
                found = _PREFIX.match(token)
                prefix = found.group() if found else ""
            elif prefix and not token.startswith(prefix):
                prefix = ""
            words.append(token)
            labels.append(check_label(path, number, fields[1], allowed=("iob", "upos")))
        sentences.append((words, labels))
    if prefix:
        sentences = [(strip_prefix(ws, prefix), ls) for ws, ls in sentences]
    return require_sentences(path, sentences)


def strip_prefix(words: list[str], prefix: str) -> list[str]:
    """Raw PAN-X writes `en:Paris`. The prefix is dropped only when every token of the file
    has it, since real tokens look alike (`bar:24` in English PAN-X); a token that is only
    the prefix (`en:`) is kept as it is."""
    n = len(prefix)
    return [w[n:] if len(w) > n else w for w in words]
