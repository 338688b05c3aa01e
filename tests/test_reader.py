"""The token<TAB>label reader on files the test writes."""

import pytest

from xlprune.data.formats import read_xtreme
from xlprune.infra.errors import XlpruneError


def write(path, text: str, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_reads_sentences(tmp_path):
    f = write(tmp_path / "a.tsv", "Anna\tB-PER\nlives\tO\n\n\n\nin\tO\nBerlin\tB-LOC\n")
    assert read_xtreme(f) == [
        (["Anna", "lives"], ["B-PER", "O"]),
        (["in", "Berlin"], ["O", "B-LOC"]),
    ]


def test_bom_crlf_and_trailing_space(tmp_path):
    f = write(tmp_path / "a.tsv", b"\xef\xbb\xbfAnna\tB-PER \r\nlives\tO\r\n\r\n")
    assert read_xtreme(f) == [(["Anna", "lives"], ["B-PER", "O"])]


@pytest.mark.parametrize(
    ("text", "where"),
    [("Anna\tB-PER\nlives\n", ":2:"), ("Anna\tB-PER\nlives\t\n", ":2:"), ("a\tO\tX\n", ":1:")],
)
def test_token_without_label_names_file_and_line(tmp_path, text, where):
    f = write(tmp_path / "bad.tsv", text)
    with pytest.raises(XlpruneError, match=rf"bad\.tsv{where}"):
        read_xtreme(f)


def test_empty_and_non_utf8(tmp_path):
    with pytest.raises(XlpruneError, match="no sentences"):
        read_xtreme(write(tmp_path / "e.tsv", "\n\n"))
    with pytest.raises(XlpruneError, match=r"l\.tsv:2: bytes that are not UTF-8"):
        read_xtreme(write(tmp_path / "l.tsv", b"a\tO\n\xe9t\xe9\tO\n"))
