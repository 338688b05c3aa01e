"""One reader per file format: path -> sentences, each a (words, labels) pair.

Readers know nothing about tokenizers; errors name the file and line. A data config's
`format` is a key of READERS."""

from xlprune.data.formats.conll import read_conll
from xlprune.data.formats.multiatis import read_multiatis
from xlprune.data.formats.ud import read_ud
from xlprune.data.formats.xsid import read_xsid
from xlprune.data.formats.xtreme import read_xtreme

READERS = {
    "conll": read_conll,
    "multiatis": read_multiatis,
    "ud": read_ud,
    "xsid": read_xsid,
    "xtreme": read_xtreme,
}

__all__ = ["READERS", "read_conll", "read_multiatis", "read_ud", "read_xsid", "read_xtreme"]
