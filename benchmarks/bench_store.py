"""What the hardening costs: verifying a store entry's checksums against reading the entry
(what a job does with it anyway), and the pre-flight check of a command line against
Python start-up. Ratios within one run; writes benchmarks/results_store.json.

python benchmarks/bench_store.py [--quick]"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from common import HERE, OFFLINE_ENV, SHARED, machine, versions, write_json_atomic


def sentences(quick: bool):
    """PAN-X English train from shared/data when present, else the embedded corpus."""
    path = SHARED / "panx" / "train-en.tsv"
    if path.is_file():
        from xlprune.data.formats.xtreme import read_xtreme

        found = read_xtreme(path)
        return found[:2000] if quick else found, str(path)
    from xlprune.data.synthetic import generate

    return generate("ner", "en", "train", n=2000 if quick else 20000), "embedded corpus"


def median_s(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def store_costs(quick: bool) -> dict:
    from xlprune.data.datamodule import encode
    from xlprune.infra.checksums import damage
    from xlprune.infra.store import COMPLETE, Store
    from xlprune.models.tokenizers import train_tokenizer

    sents, source = sentences(quick)
    labels = sorted({x for _, tags in sents for x in tags})
    tokenizer = train_tokenizer("xlmr", [" ".join(w) for w, _ in sents], 8000)
    feats = encode(tokenizer, sents, {x: i for i, x in enumerate(labels)}, 128)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        start = time.perf_counter()
        entry, _ = store.build_once(
            "features", "k", lambda d: (d / "features.json").write_text(json.dumps(feats))
        )
        build_s = time.perf_counter() - start
        size = (entry / "features.json").stat().st_size
        reps = 5 if quick else 15
        verify_s = median_s(lambda: damage(entry, COMPLETE), reps)
        read_s = median_s(lambda: json.loads((entry / "features.json").read_text()), reps)
    return {
        "data": source,
        "sentences": len(sents),
        "features_mb": round(size / 1e6, 2),
        "build_and_seal_s": round(build_s, 4),
        "verify_s": round(verify_s, 4),
        "read_s": round(read_s, 4),
        "verify_to_read": round(verify_s / read_s, 3),
        "verify_mb_per_s": round(size / 1e6 / verify_s, 1),
    }


def preflight_costs(quick: bool) -> dict:
    """check_command on a sweep's command line, in this process, against a bare
    `python -c pass` start-up and against `python -m xlprune --help`."""
    sys.argv = ["xlprune"]
    from xlprune.__main__ import check_command

    argv = ["+experiment=demo", "+debug=fast", "logger=none", "pruning.count=range(0,13)", "-m"]
    reps = 5 if quick else 15
    check_command(argv)  # warm: imports
    check_s = median_s(lambda: check_command(argv), reps)

    def start(*args):
        return median_s(
            lambda: subprocess.run(
                [sys.executable, *args], capture_output=True, env=OFFLINE_ENV, check=False
            ),
            3 if quick else 7,
        )

    bare_s, help_s = start("-c", "pass"), start("-m", "xlprune", "--help")
    return {
        "command": " ".join(argv),
        "check_command_s": round(check_s, 4),
        "python_start_s": round(bare_s, 4),
        "xlprune_help_s": round(help_s, 4),
        "check_to_help": round(check_s / help_s, 3),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    results = {
        "machine": machine(),
        "versions": versions(),
        "store": store_costs(args.quick),
        "preflight": preflight_costs(args.quick),
    }
    out = HERE / ("results_store_quick.json" if args.quick else "results_store.json")
    write_json_atomic(out, results)
    print(json.dumps({k: results[k] for k in ("store", "preflight")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
