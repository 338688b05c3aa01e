"""torch's threads on a quiet and on a loaded machine: the demo model's training step
(tiny_bert, vocabulary 12000, batch 8, synthetic en NER, a bare AdamW loop) with
OMP_WAIT_POLICY unset vs PASSIVE and with 1 vs 2 torch threads.

    python benchmarks/bench_threads.py [--quick] [--budget SECONDS]

OMP_WAIT_POLICY is read once, when torch's OpenMP runtime starts, so each policy gets its
own process (started here with the policy in its environment, the job built once) and
this process tells them, turn by turn, how many threads to step with. "Loaded" is one CPU
burner process (`while True: pass`) started for that block and stopped after it. Rounds
are interleaved: every round measures both loads, each load all four variants, the orders
reversed every other round, so drift on a shared machine hits every variant alike. Each
figure is a ratio within one round (a variant's median step time over the reference's,
unset/2 threads, torch's default here, under the same load), then the median over rounds.
Writes benchmarks/results_threads.json (raw step times kept) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from common import HERE, OFFLINE_ENV, median, versions, write_json_atomic

RESULTS = HERE / "results_threads.json"
POLICIES = ("unset", "PASSIVE")
THREADS = (1, 2)
LOADS = ("quiet", "loaded")
REFERENCE = "unset/2"
BURNER = "while True: pass"


def variant(policy: str, threads: int) -> str:
    return f"{policy}/{threads}"


# ----------------------------------------------------------------------------------------
# the child: one OpenMP wait policy, the job built once, steps on request
# ----------------------------------------------------------------------------------------


def child() -> None:
    import torch
    from bench_training import Bare, datamodule, job_for
    from common import quiet

    quiet()
    with tempfile.TemporaryDirectory(prefix="xlprune-bench-threads-") as cache:
        job = job_for(
            40,
            8,
            cache,
            model=["model=tiny_bert", "model.vocab_size=12000"],  # the demo's model
            extra=("optim.lr=2e-3",),
        )
        batches = list(datamodule(job).train_dataloader())
        bare = Bare(job, 100_000)  # a schedule that never reaches zero
        reply({"ready": True, "policy": os.environ.get("OMP_WAIT_POLICY", "unset")})
        at = 0
        for line in sys.stdin:
            request = json.loads(line)
            torch.set_num_threads(request["threads"])
            steps, cpu, t0 = [], [], time.perf_counter()
            while len(steps) < request["steps"] and (
                len(steps) < request["min_steps"] or time.perf_counter() - t0 < request["max_s"]
            ):
                batch = batches[at % len(batches)]
                at += 1
                start, cpu_start = time.perf_counter(), time.process_time()
                bare.step(batch)
                steps.append(time.perf_counter() - start)
                cpu.append(time.process_time() - cpu_start)
            reply({"step_s": [round(s, 6) for s in steps], "cpu_s": [round(c, 6) for c in cpu]})


def reply(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------------------
# the parent: children, burner, interleaved rounds
# ----------------------------------------------------------------------------------------


class Child:
    def __init__(self, policy: str):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        env.update(OFFLINE_ENV)
        env.pop("OMP_NUM_THREADS", None)  # torch's own default: every core
        if policy != "unset":
            env["OMP_WAIT_POLICY"] = policy
        self.policy = policy
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--child"],
            cwd=HERE,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"child {self.policy} ended (rc {self.proc.wait()})")
        return json.loads(line)

    def steps(self, threads: int, steps: int, min_steps: int, max_s: float) -> dict:
        request = {"threads": threads, "steps": steps, "min_steps": min_steps, "max_s": max_s}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Burner:
    """One process keeping a core busy while the `loaded` block runs."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", BURNER])
        time.sleep(0.3)  # scheduled and spinning before the first step
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure(rounds: int, budget_s: float, steps: int, max_s: float) -> dict:
    children = {p: Child(p) for p in POLICIES}
    try:
        ready = {p: c.read() for p, c in children.items()}
        names = [variant(p, n) for p in POLICIES for n in THREADS]
        for p in POLICIES:  # warm-up: first steps allocate, not measured
            for n in THREADS:
                children[p].steps(n, 5, 5, 10.0)
        raw = {load: {name: [] for name in names} for load in LOADS}
        per_round_load = []
        t0 = time.perf_counter()
        for r in range(rounds):
            if r >= 2 and time.perf_counter() - t0 > budget_s:
                break
            for load in LOADS if r % 2 == 0 else reversed(LOADS):
                order = names if (r // 2) % 2 == 0 else list(reversed(names))
                with Burner() if load == "loaded" else _nothing():
                    for name in order:
                        policy, threads = name.split("/")
                        raw[load][name].append(
                            children[policy].steps(int(threads), steps, 3, max_s)
                        )
                per_round_load.append({"round": r, "load": load, "loadavg": loadavg()})
        return {"ready": ready, "raw": raw, "blocks": per_round_load}
    finally:
        for c in children.values():
            c.close()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags)


def paired(medians: dict, a: str, b: str) -> float:
    """Median over rounds of a's median step time over b's, both from the same round."""
    return round(median(x / y for x, y in zip(medians[a], medians[b], strict=True)), 3)


def summarise(raw: dict) -> dict:
    out = {}
    for load, by_name in raw.items():
        medians = {n: [median(m["step_s"]) for m in ms] for n, ms in by_name.items()}
        rounds = len(medians[REFERENCE])
        ratio = {n: [medians[n][i] / medians[REFERENCE][i] for i in range(rounds)] for n in medians}

        out[load] = {
            "rounds": rounds,
            "median_step_ms": {
                n: round(median(s * 1e3 for m in ms for s in m["step_s"]), 2)
                for n, ms in by_name.items()
            },
            "max_step_ms": {
                n: round(max(s * 1e3 for m in ms for s in m["step_s"]), 1)
                for n, ms in by_name.items()
            },
            "share_of_steps_over_100ms": {
                n: round(share(s > 0.1 for m in ms for s in m["step_s"]), 3)
                for n, ms in by_name.items()
            },
            "cpu_per_step_ms": {
                n: round(median(c * 1e3 for m in ms for c in m["cpu_s"]), 2)
                for n, ms in by_name.items()
            },
            f"step_time_vs_{REFERENCE}": {n: round(median(v), 3) for n, v in ratio.items()},
            "per_round_step_time_vs_reference": {
                n: [round(x, 3) for x in v] for n, v in ratio.items()
            },
            "step_time_ratios": {
                "PASSIVE/unset at 1 thread": paired(medians, "PASSIVE/1", "unset/1"),
                "PASSIVE/unset at 2 threads": paired(medians, "PASSIVE/2", "unset/2"),
                "2/1 threads, unset": paired(medians, "unset/2", "unset/1"),
                "2/1 threads, PASSIVE": paired(medians, "PASSIVE/2", "PASSIVE/1"),
            },
        }
    return out


def table(summary: dict) -> str:
    names = [variant(p, n) for p in POLICIES for n in THREADS]
    lines = [
        "| load | variant (policy/threads) | median step ms | max step ms | steps > 100 ms "
        f"| CPU ms/step | step time vs {REFERENCE} |",
        "|---|---|---|---|---|---|---|",
    ]
    for load, s in summary.items():
        for n in names:
            lines.append(
                f"| {load} | {n} | {s['median_step_ms'][n]} | {s['max_step_ms'][n]} "
                f"| {s['share_of_steps_over_100ms'][n]:.0%} "
                f"| {s['cpu_per_step_ms'][n]} | {s[f'step_time_vs_{REFERENCE}'][n]} |"
            )
    for load, s in summary.items():
        lines.append("")
        lines.append(f"{load}: " + "; ".join(f"{k} {v}" for k, v in s["step_time_ratios"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds")
    parser.add_argument("--budget", type=float, default=100.0, help="no round starts after")
    args = parser.parse_args(argv)
    if args.child:
        child()
        return {}
    rounds, steps, max_s = (2, 8, 1.5) if args.quick else (12, 15, 2.5)
    started, before = time.strftime("%Y-%m-%d %H:%M:%S"), loadavg()
    t0 = time.perf_counter()
    measured = measure(rounds, 20.0 if args.quick else args.budget, steps, max_s)
    summary = summarise(measured["raw"])
    result = {
        "what": __doc__.split("\n\n")[0].strip(),
        "command": "python benchmarks/bench_threads.py" + (" --quick" if args.quick else ""),
        "config": f"tiny_bert, vocab_size 12000, batch 8, synthetic en NER, bare AdamW loop; "
        f"per variant and round up to {steps} steps (at least 3, no step started after "
        f"{max_s} s); at most {rounds} rounds, none started after the budget",
        "started": started,
        "wall_s": round(time.perf_counter() - t0, 1),
        "machine": {
            "cpu_count": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)),
            "loadavg_before": before,
            "loadavg_after": loadavg(),
        },
        "versions": versions(),
        "reference": REFERENCE,
        "summary": summary,
        "blocks": measured["blocks"],
        "raw_step_ms": {
            load: {n: [[round(s * 1e3, 2) for s in m["step_s"]] for m in ms] for n, ms in v.items()}
            for load, v in measured["raw"].items()
        },
    }
    write_json_atomic(RESULTS, result)
    print(table(summary))
    print(f"loadavg before {before}, after {result['machine']['loadavg_after']}; {RESULTS}")
    return result


if __name__ == "__main__":
    main()
