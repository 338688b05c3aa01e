"""token<TAB>label per line, a blank line between sentences: XTREME's PAN-X and UD-POS
exports."""

from pathlib import Path

from xlprune.data.formats.common import Sentence, numbered_lines, require_sentences
from xlprune.errors import XlpruneError


def read_xtreme(path: str | Path) -> list[Sentence]:
    path = Path(path)
    sentences: list[Sentence] = []
    words: list[str] = []
    labels: list[str] = []
    for number, line in numbered_lines(path):
        if not line.strip():
            if words:
                sentences.append((words, labels))
                words, labels = [], []
            continue
        fields = line.rstrip(" ").split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise XlpruneError(
                f"{path}:{number}: expected token<TAB>label, found {line!r}; "
                "every token line needs exactly one tab and a label"
            )
        words.append(fields[0].strip())
        labels.append(fields[1].strip())
    if words:
        sentences.append((words, labels))
    return require_sentences(path, sentences)
