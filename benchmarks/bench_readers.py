"""Read real corpora with the project's readers, check the counts, and time them.

    python benchmarks/bench_readers.py [DATA_DIR] [--repeats N]

DATA_DIR (default /work/shared/data) holds ud/*.conllu, panx/*.tsv and xsid/*.conll. Each
file's sentence and word counts are compared with counts taken from the raw text by other
means (sentence-id comments, blank-line blocks, lines starting with a word number), so a
reader that drops or invents words fails loudly. Seconds are the best of N reads. Prints a
table and writes benchmarks/results_readers.json atomically; exits 1 when a count differs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

from xlprune.data.formats import READERS

RESULTS = Path(__file__).with_name("results_readers.json")
WORD_LINE = re.compile(r"\d+\t")  # an integer first column: a word, not 3-4 or 8.1


def blocks(lines: list[str]) -> list[list[str]]:
    """Runs of non-blank lines."""
    out, current = [], []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def expected_ud(lines: list[str]) -> dict:
    return {
        "sentences": len(blocks(lines)),
        "words": sum(bool(WORD_LINE.match(x)) for x in lines),
        "sent_id_lines": sum(line.startswith("# sent_id") for line in lines),
    }


def expected_panx(lines: list[str]) -> dict:
    found = blocks(lines)
    return {"sentences": len(found), "words": sum(len(b) for b in found)}


def expected_xsid(lines: list[str]) -> dict:
    found = blocks(lines)
    return {"sentences": len(found), "words": sum(bool(WORD_LINE.match(x)) for x in lines)}


KINDS = {  # folder -> (file glob, reader name, independent count)
    "ud": ("*.conllu", "ud", expected_ud),
    "panx": ("*.tsv", "xtreme", expected_panx),
    "xsid": ("*.conll", "xsid", expected_xsid),
}


def bench_file(path: Path, fmt: str, expect, repeats: int) -> dict:
    reader = READERS[fmt]
    times, sentences = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        sentences = reader(path)
        times.append(time.perf_counter() - t0)
    expected = expect(path.read_text(encoding="utf-8-sig").splitlines())
    got = {"sentences": len(sentences), "words": sum(len(w) for w, _ in sentences)}
    aligned = all(len(w) == len(labels) for w, labels in sentences)
    seconds = min(times)
    return {
        "file": f"{path.parent.name}/{path.name}",
        "format": fmt,
        **got,
        "expected": expected,
        "ok": aligned
        and all(got[k] == expected[k] for k in got)
        and expected.get("sent_id_lines", got["sentences"]) == got["sentences"],
        "seconds": round(seconds, 4),
        "sentences_per_s": round(got["sentences"] / seconds),
        "bytes": path.stat().st_size,
    }


def write_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="/work/shared/data", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for folder, (glob, fmt, expect) in KINDS.items():
        for path in sorted((args.data / folder).glob(glob)):
            rows.append(bench_file(path, fmt, expect, args.repeats))
    if not rows:
        print(f"no ud/, panx/ or xsid/ files under {args.data}", file=sys.stderr)
        return 2
    head = (
        f"{'file':28} {'format':7} {'sentences':>9} {'words':>8} {'seconds':>8} {'sent/s':>8}  ok"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['file']:28} {r['format']:7} {r['sentences']:9d} {r['words']:8d} "
            f"{r['seconds']:8.4f} {r['sentences_per_s']:8d}  {'yes' if r['ok'] else 'NO'}"
        )
        if not r["ok"]:
            print(f"  expected {r['expected']}")
    write_atomic(
        RESULTS,
        {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "repeats": args.repeats,
            "all_ok": all(r["ok"] for r in rows),
            "files": rows,
        },
    )
    print(f"wrote {RESULTS}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
