"""One exception type for bad input: the CLI prints its message as one line and exits 2."""


class XlpruneError(Exception):
    """A problem with the user's input (config, files, names) that they can fix."""


def one_line(message: str) -> str:
    return " ".join(str(message).split())
