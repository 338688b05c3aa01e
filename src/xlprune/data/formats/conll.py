"""CoNLL-2002/2003 NER: space-separated columns with the token first and the label last,
`-DOCSTART-` lines between documents; IOB1 labels are converted to IOB2."""

from pathlib import Path

from xlprune.data.formats.common import (
    Sentence,
    check_label,
    iob2,
    numbered_lines,
    require_sentences,
    warn_if_long,
    word,
)
from xlprune.infra.errors import XlpruneError


def read_conll(path: str | Path) -> list[Sentence]:
    path = Path(path)
    sentences: list[Sentence] = []
    words: list[str] = []
    labels: list[str] = []
    columns = 0  # every token line of a file has as many columns as the first one
    first = 0  # the line the sentence being read starts on

    def flush() -> None:
        nonlocal words, labels, first
        if words:
            warn_if_long(path, first, len(words))
            # CoNLL-2003 is IOB1 (I-X may open a span); the rest of the project reads IOB2.
            sentences.append((words, iob2(labels)))
            words, labels = [], []

    for number, line in numbered_lines(path):
        fields = line.split()
        if not fields:
            flush()
            continue
        if fields[0] == "-DOCSTART-":
            flush()  # some files put no blank line between it and the next sentence
            continue
        if len(fields) < 2:
            raise XlpruneError(
                f"{path}:{number}: only one column in {line.strip()[:60]!r}; expected the "
                "token first and the label last, separated by spaces"
            )
        if columns == 0:
            columns = len(fields)
        elif len(fields) != columns:
            raise XlpruneError(
                f"{path}:{number}: {len(fields)} columns where the file's first token line "
                f"has {columns}; a token with a space or a missing column? fix the line"
            )
        first = number if not words else first
        words.append(word(path, number, fields[0]))
        labels.append(check_label(path, number, fields[-1]))
    flush()
    return require_sentences(path, sentences)
