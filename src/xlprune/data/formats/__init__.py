"""One reader per file format: path -> sentences, each a (words, labels) pair.

Readers know nothing about tokenizers; errors name the file and line."""

from xlprune.data.formats.xtreme import read_xtreme

READERS = {"xtreme": read_xtreme}

__all__ = ["READERS", "read_xtreme"]
