"""Entity F1 on one absurdly long "sentence" (a file whose blank lines are missing): the
one-pass scorer on 2M tokens in one sentence, against seqeval's strict mode on the same
tokens cut into 100-token sentences (where seqeval is linear), and the two scorers' numbers
compared on that cut. Writes benchmarks/results_scoring.json.

    python benchmarks/bench_scoring.py [--tokens N]
"""

from __future__ import annotations

import argparse
import random
import time

from common import HERE, machine, versions, write_json_atomic

RESULTS = HERE / "results_scoring.json"
TAGS = ["O"] * 6 + ["B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=2_000_000)
    n = parser.parse_args().tokens
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    from xlprune.data.metrics import score

    rng = random.Random(1)
    gold = [rng.choice(TAGS) for _ in range(n)]
    pred = [t if rng.random() < 0.9 else rng.choice(TAGS) for t in gold]
    ours_long, long_s = timed(lambda: score("entity_f1", [gold], [pred]))
    cut = lambda seq: [seq[i : i + 100] for i in range(0, n, 100)]  # noqa: E731
    ours_cut, ours_cut_s = timed(lambda: score("entity_f1", cut(gold), cut(pred)))
    kwargs = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    theirs_cut, seqeval_cut_s = timed(lambda: float(f1_score(cut(gold), cut(pred), **kwargs)))
    out = {
        "what": "entity F1 on one long sentence vs seqeval strict on 100-token sentences",
        "tokens": n,
        "one_sentence_s": round(long_s, 3),
        "cut_ours_s": round(ours_cut_s, 3),
        "cut_seqeval_s": round(seqeval_cut_s, 3),
        "ratio_one_sentence_vs_seqeval_cut": round(long_s / seqeval_cut_s, 3),
        "f1_one_sentence": ours_long["f1"],
        "f1_cut_ours": ours_cut["f1"],
        "f1_cut_seqeval": theirs_cut,
        "equal_on_cut": ours_cut["f1"] == theirs_cut,
        "machine": machine(),
        "versions": versions(),
    }
    write_json_atomic(RESULTS, out)
    print(out)


if __name__ == "__main__":
    main()
