"""xSID slot filling: `#` comment lines (id, text, text-en, intent, slots), then
index<TAB>token<TAB>intent<TAB>slot label per word, a blank line between sentences."""

import logging
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

log = logging.getLogger(__name__)

# The English test file of xSID 0.x has `Orecurring_datetime` on words outside any span: an
# O with a slot type glued on. Read as O rather than refusing the file.
_GLUED_O = re.compile(r"O[a-z_/]+")


def read_xsid(path: str | Path) -> list[Sentence]:
    path = Path(path)
    sentences: list[Sentence] = []
    glued = 0
    for block in token_lines(path):
        words: list[str] = []
        labels: list[str] = []
        for number, line in block:
            fields = line.split("\t")
            if len(fields) != 4:
                raise XlpruneError(
                    f"{path}:{number}: expected 4 tab-separated columns (index, token, intent, "
                    f"slot label), found {len(fields)} in {line[:60]!r}; fix the line"
                )
            if not fields[0].strip().isdigit():
                raise XlpruneError(
                    f"{path}:{number}: index {fields[0]!r} is not a number; is a `#` missing "
                    "before a comment, or is this not an xSID file?"
                )
            label = fields[3].strip()
            if _GLUED_O.fullmatch(label):
                label, glued = "O", glued + 1
            words.append(word(path, number, fields[1]))
            labels.append(check_label(path, number, label))
        sentences.append((words, labels))
    if glued:
        log.info("%s: %d labels like 'Orecurring_datetime' read as O", path, glued)
    return require_sentences(path, sentences)
