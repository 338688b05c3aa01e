"""MultiATIS++ tsv: a header row, then one utterance per row with its tokens and its IOB
slot labels each separated by single spaces (the intent column is not used here)."""

from pathlib import Path

from xlprune.data.formats.common import (
    Sentence,
    check_label,
    numbered_lines,
    require_sentences,
    word,
)
from xlprune.infra.errors import XlpruneError

HEADER = ("id", "utterance", "slot_labels", "intent")


def read_multiatis(path: str | Path) -> list[Sentence]:
    path = Path(path)
    sentences: list[Sentence] = []
    header_seen = False
    for number, line in numbered_lines(path):
        line = line.rstrip()
        if not line:
            continue
        fields = line.split("\t")
        if not header_seen:
            if tuple(f.strip() for f in fields) != HEADER:
                raise XlpruneError(
                    f"{path}:{number}: expected the header row {'<TAB>'.join(HEADER)}, found "
                    f"{line[:60]!r}; MultiATIS++ files start with it (add it, or check "
                    "data.format)"
                )
            header_seen = True
            continue
        if len(fields) != len(HEADER):
            raise XlpruneError(
                f"{path}:{number}: expected {len(HEADER)} tab-separated columns "
                f"({', '.join(HEADER)}), found {len(fields)}; fix the row"
            )
        # Split on ASCII spaces only: other whitespace inside a token stays in it (then
        # becomes '_'), so tokens and labels are counted the same way.
        tokens = [t for t in fields[1].split(" ") if t.strip()]
        tags = [t for t in fields[2].split(" ") if t.strip()]
        if not tokens:
            raise XlpruneError(
                f"{path}:{number}: empty utterance; give its tokens or remove the row"
            )
        if len(tokens) != len(tags):
            raise XlpruneError(
                f"{path}:{number}: {len(tokens)} tokens but {len(tags)} slot labels; each "
                "token needs exactly one label (both separated by single spaces)"
            )
        sentences.append(
            (
                [word(path, number, t) for t in tokens],
                [check_label(path, number, t) for t in tags],
            )
        )
    return require_sentences(path, sentences)
