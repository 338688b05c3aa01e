"""CoNLL-U (Universal Dependencies): one word per line in 10 tab-separated columns, the
UPOS tag (4th column) as label; comments, multi-word token ranges and empty nodes skipped."""

from pathlib import Path

from xlprune.data.formats.common import (
    Sentence,
    check_label,
    require_sentences,
    token_lines,
    word,
)
from xlprune.infra.errors import XlpruneError


def read_ud(path: str | Path) -> list[Sentence]:
    path = Path(path)
    sentences: list[Sentence] = []
    for block in token_lines(path):
        words, labels = tag_words(path, block)
        if words:  # a sentence of multi-word ranges alone has nothing to tag
            sentences.append((words, labels))
    return require_sentences(path, sentences)


def tag_words(path: Path, block: list[tuple[int, str]]) -> tuple[list[str], list[str]]:
    words: list[str] = []
    labels: list[str] = []
    for number, line in block:
        fields = line.split("\t")
        if len(fields) != 10:
            raise XlpruneError(
                f"{path}:{number}: expected 10 tab-separated CoNLL-U columns, found "
                f"{len(fields)} in {line[:60]!r}; fix the line (tabs, not spaces, between "
                "columns)"
            )
        ident = fields[0].strip()
        if "-" in ident or "." in ident:
            # `3-4` spans the words that follow it, `8.1` is an empty node: neither is tagged.
            continue
        if not ident.isdigit():
            raise XlpruneError(
                f"{path}:{number}: word ID {ident!r} is not a number, a range (3-4) or an "
                "empty node (8.1); fix the first column"
            )
        words.append(word(path, number, fields[1]))
        labels.append(check_label(path, number, fields[3], allowed=("upos",)))
    return words, labels
