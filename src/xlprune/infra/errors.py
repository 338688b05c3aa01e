"""One exception type for bad input: the CLI prints its message as one line and exits 2."""

import re

LIMIT = 300  # characters in an error line; longer ones lose their middle (quoted input)


class XlpruneError(Exception):
    """A problem with the user's input (config, files, names) that they can fix."""


def one_line(message: str, limit: int = LIMIT) -> str:
    """The message on one line, at most `limit` characters: a long quoted value (input) is
    cut in its middle first; then a long line keeps its start (what and where: file:line,
    key) and its end (what to do), and loses the middle."""
    text = " ".join(str(message).split())
    if len(text) <= limit:
        return text
    # a long quoted value (the user's input) first: its start and end are enough
    text = re.sub(r"'([^']{20})[^']{40,}([^']{20})'", r"'\1...\2'", text)
    if len(text) <= limit:
        return text
    tail = 2 * limit // 5
    return text[: limit - tail - 5] + " ... " + text[-tail:]


def fail(message: str, code: int = 2):
    """End the command with its one line, `xlprune: error: ...` (credentials masked)."""
    import sys

    from xlprune.infra.secrets import redact_text

    print(f"xlprune: error: {redact_text(one_line(message))}", file=sys.stderr, flush=True)
    sys.exit(code)
