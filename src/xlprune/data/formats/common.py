"""Shared by the readers: decode a file line by line with errors that say where."""

from collections.abc import Iterator
from pathlib import Path

from xlprune.errors import XlpruneError

Sentence = tuple[list[str], list[str]]


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, text without line end); a UTF-8 BOM and CRLF ends are tolerated."""
    if not path.is_file():
        raise XlpruneError(f"{path}: file not found; check data.root and data.pattern")
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise XlpruneError(
                    f"{path}:{number}: bytes that are not UTF-8 ({err.reason} at column "
                    f"{err.start + 1}); re-encode the file as UTF-8"
                ) from None
            yield number, text.rstrip("\r\n")


def require_sentences(path: Path, sentences: list[Sentence]) -> list[Sentence]:
    if not sentences:
        raise XlpruneError(f"{path}: no sentences in the file; is it empty or the wrong format?")
    return sentences
