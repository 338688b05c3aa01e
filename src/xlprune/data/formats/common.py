"""Shared by the readers: decode a file line by line with errors that say where, and the
label and token checks every format applies the same way."""

import logging
import re
from collections.abc import Iterator
from pathlib import Path

from xlprune.infra.errors import XlpruneError

log = logging.getLogger(__name__)
Sentence = tuple[list[str], list[str]]
LONG_SENTENCE = 10_000  # words; real sentences stay far below, a file without blank lines does not

# The 17 universal part-of-speech tags of Universal Dependencies v2.
UPOS = frozenset(
    [
        "ADJ",
        "ADP",
        "ADV",
        "AUX",
        "CCONJ",
        "DET",
        "INTJ",
        "NOUN",
        "NUM",
        "PART",
        "PRON",
        "PROPN",
        "PUNCT",
        "SCONJ",
        "SYM",
        "VERB",
        "X",
    ]
)
_IOB = re.compile(r"O|[BI]-\S+")
_EXPECTED = {
    "iob": "O, B-<type> or I-<type> (IOB)",
    "upos": "one of the 17 UD UPOS tags (" + " ".join(sorted(UPOS)) + ")",
}


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, text without line end); a UTF-8 BOM and CRLF ends are tolerated."""
    if not path.is_file():
        raise XlpruneError(f"{path}: file not found; check data.root and data.pattern")
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if b"\r" in raw.rstrip(b"\r\n"):  # CR inside a line: CR-only line ends
                raise XlpruneError(
                    f"{path}:{number}: the lines end in CR only (old Mac line endings), so the "
                    "file reads as one line; convert them to LF, e.g. tr '\\r' '\\n' < in > out"
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise XlpruneError(
                    f"{path}:{number}: bytes that are not UTF-8 ({err.reason} at column "
                    f"{err.start + 1}); re-encode the file as UTF-8"
                ) from None
            yield number, text.rstrip("\r\n")


def token_lines(path: Path, comments: bool = True) -> Iterator[list[tuple[int, str]]]:
    """Each sentence's token lines as (line number, line without trailing space): blank lines
    end a sentence (runs of them are one break), `#` lines are skipped when `comments`."""
    block: list[tuple[int, str]] = []
    for number, line in numbered_lines(path):
        line = line.rstrip()
        if not line:
            if block:
                warn_if_long(path, block[0][0], len(block))
                yield block
                block = []
        elif not (comments and line.startswith("#")):
            block.append((number, line))
    if block:
        warn_if_long(path, block[0][0], len(block))
        yield block


def warn_if_long(path: Path, first_line: int, words: int) -> None:
    """A 'sentence' of thousands of words is almost always a file whose blank lines (the
    sentence breaks) are missing: it is read and windowed, but say so, with where."""
    if words > LONG_SENTENCE:
        log.warning(
            "%s:%d: a sentence of %d words (more than %d); are the blank lines between "
            "sentences missing?",
            path,
            first_line,
            words,
            LONG_SENTENCE,
        )


def require_sentences(path: Path, sentences: list[Sentence]) -> list[Sentence]:
    if not sentences:
        raise XlpruneError(f"{path}: no sentences in the file; is it empty or the wrong format?")
    return sentences


def check_label(path: Path, number: int, label: str, allowed: tuple[str, ...] = ("iob",)) -> str:
    """The label, stripped, if it has one of the `allowed` shapes ("iob": O / B-X / I-X;
    "upos": a UD tag); checked while reading so a typo fails at its line, not mid-training."""
    label = label.strip()
    if ("iob" in allowed and _IOB.fullmatch(label)) or ("upos" in allowed and label in UPOS):
        return label
    expected = " or ".join(_EXPECTED[kind] for kind in allowed)
    raise XlpruneError(
        f"{path}:{number}: unknown label {label!r}; expected {expected}; correct the label "
        "or choose the data.format that matches the file"
    )


def iob2(labels: list[str]) -> list[str]:
    """IOB1 -> IOB2: an I-X that does not continue an X span (first label, or after O or
    another type) opens it, so it becomes B-X; IOB2 input comes back unchanged."""
    out, previous = [], "O"
    for label in labels:
        if label.startswith("I-") and previous[2:] != label[2:]:
            label = "B-" + label[2:]
        out.append(label)
        previous = label
    return out


def word(path: Path, number: int, text: str) -> str:
    """The token with inner whitespace replaced by '_' ("sinh viên" -> "sinh_viên", the
    convention of Vietnamese word segmenters), so one word stays one word wherever words are
    later joined or split on spaces, and the syllable boundary stays visible to the
    sub-word tokenizer; an empty token is an error."""
    parts = text.split()
    if not parts:
        raise XlpruneError(f"{path}:{number}: empty token; every token line needs a word")
    return "_".join(parts)
