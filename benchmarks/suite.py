"""xlprune's benchmark suite (`make bench`): every figure a ratio against its comparator,
both measured in this run (interleaved rounds, medians, raw timings kept).

    python benchmarks/suite.py [--quick] [--only training,data,heads,processes,threads]
                               [--threads N] [--heads run|read]

Writes benchmarks/results.json (atomically, after every section, `complete` at the end) and
benchmarks/results.md, and prints the table. Sections:

  training   framework overhead: Lightning Trainer + Tagger + DataModule vs a bare loop
  data       padding waste, length-grouped eval batches, tokenisation vs datasets.map
  heads      gate overhead, importance-pass cost, removed-head speedup (bench_heads.py)
  processes  start-up, sweep fine-tune counts vs a naive grid, peak memory of jobs
  threads    the demo model's training step with 1 vs 2 torch threads
  e5         multilingual-e5-small: trimmed vs full step and memory, xlprune vs a bare loop,
             the importance pass, token ids against the package's engine (bench_e5.py)

--threads (default 1; 0 keeps torch's default) sets torch's threads here and OMP_NUM_THREADS
for the jobs this suite starts. On a 2-core machine shared with other work, two OpenMP
threads stall whenever the other core is busy (the `threads` section measures it), which
turns ratios into noise; one thread keeps every comparison on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

from common import HERE, machine, versions, write_json_atomic, write_text_atomic

RESULTS = HERE / "results.json"
REPORT = HERE / "results.md"
HEADS = HERE / "results_heads.json"
SECTIONS = ("training", "data", "heads", "processes", "threads", "e5")


# ----------------------------------------------------------------------------------------
# sections
# ----------------------------------------------------------------------------------------


def section_heads(quick: bool, mode: str) -> dict:
    if mode == "run":
        import bench_heads

        bench_heads.main(["--quick"] if quick else [])
    data = json.loads(HEADS.read_text())
    return {
        "source": f"{'ran' if mode == 'run' else 'read'} bench_heads ({HEADS.name})",
        "file_mtime": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(HEADS.stat().st_mtime)),
        **data,
    }


def run_section(name: str, args) -> dict:
    if name == "training":
        import bench_training

        return bench_training.run(args.quick)
    if name == "threads":
        import bench_training

        return bench_training.run_threads(args.quick)
    if name == "data":
        import bench_data

        return bench_data.run(args.quick)
    if name == "heads":
        return section_heads(args.quick, args.heads)
    if name == "processes":
        import bench_processes

        return bench_processes.run(args.quick)
    if name == "e5":
        import bench_e5

        result = bench_e5.run(args.quick)
        result["framework"].pop("_model", None)
        return result
    raise ValueError(name)


# ----------------------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------------------


def fmt(x, unit: str = "") -> str:
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if abs(x) >= 1000:
        return f"{x:,.0f}{unit}"
    if abs(x) >= 10:
        return f"{x:.1f}{unit}"
    return f"{x:.3g}{unit}"


def met(ok) -> str:
    return "" if ok is None else ("yes" if ok else "**no**")


def rows(sections: dict) -> list[dict]:
    out: list[dict] = []

    def add(figure, value, comparator, ratio, goal="", ok=None):
        out.append(
            {
                "figure": figure,
                "xlprune": value,
                "comparator": comparator,
                "ratio": ratio,
                "goal": goal,
                "met": ok,
            }
        )

    tr = sections.get("training")
    if tr and "error" not in tr:
        x, b = tr["median"]["xlprune"], tr["median"]["bare"]
        r = tr["ratio_step_throughput"]
        add(
            "training step throughput (tokens/s, wall)",
            fmt(x["step_tokens_per_s"]),
            f"bare loop {fmt(b['step_tokens_per_s'])}",
            fmt(r),
            ">= 0.95",
            r >= 0.95,
        )
        add(
            "training step throughput (tokens per CPU-s)",
            fmt(x["step_tokens_per_cpu_s"]),
            f"bare loop {fmt(b['step_tokens_per_cpu_s'])}",
            fmt(tr["ratio_step_throughput_cpu_time"]),
        )
        add(
            "training fit() incl. Trainer set-up (tokens/s)",
            fmt(x["fit_tokens_per_s"]),
            f"bare loop {fmt(b['fit_tokens_per_s'])}",
            fmt(tr["ratio_fit_throughput"]),
        )
        lock = tr["lockstep"]
        add(
            "training step, lockstep per-batch pairs",
            fmt(lock["median_step_ms"]["xlprune"], " ms"),
            f"bare loop {fmt(lock['median_step_ms']['bare'], ' ms')}",
            f"{fmt(lock['ratio_median_per_batch'])} (sums {fmt(lock['ratio_of_sums'])})",
            ">= 0.95",
            lock["ratio_median_per_batch"] >= 0.95,
        )
        fixed = tr["lockstep_with_proposed_fixes"]
        add(
            "training step, lockstep, proposed fixes patched in",
            fmt(fixed["median_step_ms"]["xlprune"], " ms"),
            f"bare loop {fmt(fixed['median_step_ms']['bare'], ' ms')}",
            f"{fmt(fixed['ratio_median_per_batch'])} (sums {fmt(fixed['ratio_of_sums'])})",
            "benchmark-only patch",
        )
        det = tr["deterministic_cost"]
        for mode, label in (("on", "deterministic=True"), ("on_no_fill", "... fill off (fix)")):
            add(
                f"bare step throughput, {label}",
                fmt(det["median_step_ms"][mode], " ms"),
                f"deterministic off {fmt(det['median_step_ms']['off'], ' ms')}",
                fmt(det["throughput_vs_off"][mode]),
                "lockstep pairs",
            )
    da = sections.get("data")
    if da and "error" not in da:
        for name, p in da["padding"].items():
            t = p["train_batch_32"]
            add(
                f"padding share, train batch 32: {name}",
                f"{t['dynamic_in_order']:.1%} (dynamic, in order)",
                f"{t['fixed_max_length']:.1%} (fixed 128)",
                fmt((1 - t["fixed_max_length"]) / (1 - t["dynamic_in_order"])),
                "positions: dynamic / fixed",
            )
        for name, e in da["eval"]["sets"].items():
            add(
                f"eval sentences/s, length-grouped: {name}",
                fmt(e["grouped_sentences_per_s"]),
                f"in order {fmt(e['in_order_sentences_per_s'])}",
                fmt(e["ratio_grouped_vs_in_order"]),
                f"same predictions; padding {e['padding_in_order']:.0%} -> "
                f"{e['padding_grouped']:.0%}",
                e["same_predictions"],
            )
        for name, t in da["tokenise"]["sets"].items():
            add(
                f"tokenise sentences/s: {name}",
                fmt(t["xlprune_sentences_per_s"]),
                f"datasets.map {fmt(t['datasets_sentences_per_s'])}",
                fmt(t["ratio_xlprune_vs_datasets"]),
            )
    he = sections.get("heads")
    if he and "error" not in he:
        g = he["gate_overhead"]
        add(
            "gate overhead on a training step",
            fmt(g["gated_step_s"] * 1e3, " ms"),
            f"plain {fmt(g['plain_step_s'] * 1e3, ' ms')}",
            fmt(1 + g["overhead"]),
            "<= 1.05",
            g["overhead"] <= 0.05,
        )
        i = he["importance"]
        add(
            "importance pass (gate_importance)",
            fmt(i["gate_importance_s"] * 1e3, " ms"),
            f"fwd+bwd {fmt(i['fwd_bwd_s'] * 1e3, ' ms')}",
            fmt(i["ratio"]),
            "<= 1.2",
            i["ratio"] <= 1.2,
        )
        for r in he["removal"]["rows"][1:]:
            a = r["achieved_over_predicted"]
            add(
                f"removed {r['removed']} heads: speedup",
                fmt(r["speedup"]),
                f"FLOP-predicted {fmt(r['predicted_speedup'])}",
                fmt(a),
                ">= 0.9 (ach/pred)",
                a >= 0.9,
            )
    pr = sections.get("processes")
    if pr and "error" not in pr:
        sw = pr["sweep"]
        add(
            "demo sweep fine-tunes (measured)",
            str(sw["demo_measured"]["total"]),
            f"naive grid {sw['demo_naive']['total']}",
            fmt(sw["demo_ratio_xlprune_vs_naive"]),
            "analytic = measured",
            sw["demo_analytic_matches_measured"],
        )
        add(
            "paper protocol fine-tunes (analytic)",
            str(sw["paper_xlprune"]["total"]),
            f"naive grid {sw['paper_naive']['total']}",
            fmt(sw["paper_ratio_xlprune_vs_naive"]),
        )
        for name, s in pr["startup"]["rows"].items():
            if "floor" in name:
                continue
            floor = pr["startup"]["rows"]["python -c pass (floor)"]["median_s"]
            add(
                f"start-up: {name}",
                fmt(s["median_s"], " s"),
                f"goal 2 s (python {fmt(floor, ' s')})",
                fmt(s["ratio_to_goal_2s"]),
                "<= 2 s",
                s["goal_met"],
            )
        mem = pr["memory"]["rows"]
        floor_name = next(iter(mem))
        for name, m in list(mem.items())[1:]:
            add(
                f"peak RSS: {name}",
                fmt(m["max_rss_mb"], " MB"),
                f"import floor {fmt(mem[floor_name]['max_rss_mb'], ' MB')}",
                fmt(m["ratio_to_import_floor"]),
                f"ran {fmt(m['seconds'], ' s')}",
            )
    th = sections.get("threads")
    if th and "error" not in th:
        add(
            "demo model step throughput, 2 vs 1 torch threads",
            f"{fmt(th['median_step_ms']['2'], ' ms')} (max {fmt(th['max_step_ms']['2'], ' ms')})",
            f"{fmt(th['median_step_ms']['1'], ' ms')} (max {fmt(th['max_step_ms']['1'], ' ms')})",
            fmt(th["ratio_2_vs_1_threads"]),
        )
    e5 = sections.get("e5")
    if e5 and "error" not in e5:
        rows_e5(e5, add)
    return out


def rows_e5(e5: dict, add) -> None:
    t = e5["trimming"]
    rows = t["embedding_rows"]
    add(
        f"e5_small training step, vocabulary trimmed ({rows['trimmed']:,} of {rows['full']:,} rows)",
        fmt(t["median_step_s"]["trimmed"], " s"),
        f"untrimmed {fmt(t['median_step_s']['full'], ' s')}",
        fmt(t["speedup"]) + "x faster",
    )
    add(
        "e5_small peak memory of a training process, trimmed",
        fmt(t["peak_rss_mb"]["trimmed"], " MB"),
        f"untrimmed {fmt(t['peak_rss_mb']['full'], ' MB')}",
        fmt(t["memory_ratio"]),
    )
    f = e5["framework"]
    add(
        "e5_small throughput, bare step time / xlprune's (lockstep)",
        fmt(f["median_step_ms"]["xlprune"], " ms"),
        f"bare {fmt(f['median_step_ms']['bare'], ' ms')}",
        fmt(f["ratio_median_per_batch"]),
        ">= 0.95",
        f["ratio_median_per_batch"] >= 0.95,
    )
    i = e5["importance"]
    add(
        "e5_small importance pass (12 x 12 gates)",
        fmt(i["gate_importance_s"], " s"),
        f"fwd+bwd {fmt(i['fwd_bwd_s'], ' s')}",
        fmt(i["ratio"]),
        "<= 1.2",
        i["ratio"] <= 1.2,
    )
    tok = e5["tokenizer"]
    if "lines" in tok:
        add(
            "e5_small token ids equal to the package's, UD `# text` lines",
            f"{tok['equal']:,} of {tok['lines']:,}",
            "the package's e5.c",
            fmt(tok["share_equal"]),
            ">= 0.995",
            tok["share_equal"] >= 0.995,
        )


def markdown(payload: dict) -> str:
    m, v = payload["machine"], payload["versions"]
    lines = [
        "# xlprune benchmarks",
        "",
        f"{m['cpu_count']} CPUs, {m['platform']}; torch threads {payload['threads_used']}, "
        f"load average {m['loadavg_start']} at start, {payload.get('loadavg_end')} at end; "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f"; quick={payload['quick']}; {payload.get('seconds', 0):.0f} s.",
        "",
        "| figure | xlprune | comparator | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in payload["table"]:
        lines.append(
            f"| {r['figure']} | {r['xlprune']} | {r['comparator']} | {r['ratio']} | "
            f"{r['goal']} | {met(r['met'])} |"
        )
    errors = {k: s["error"] for k, s in payload["sections"].items() if "error" in s}
    if errors:
        lines += ["", "Errors:", ""] + [f"- {k}: {e.splitlines()[-1]}" for k, e in errors.items()]
    lines += ["", "Raw timings and every intermediate figure: results.json.", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and rounds (smoke run)")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch default)")
    ap.add_argument(
        "--heads",
        choices=("run", "read"),
        default="run",
        help="run bench_heads again, or read its results_heads.json",
    )
    args = ap.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.threads > 0:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    payload = {
        "machine": machine(),
        "versions": versions(),
        "quick": args.quick,
        "threads_used": torch.get_num_threads(),
        "child_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")},
        "complete": False,
        "sections": {},
        "table": [],
    }
    t0 = time.perf_counter()
    failed = False
    for name in wanted:
        start = time.perf_counter()
        print(f"== {name} ...", flush=True)
        try:
            result = run_section(name, args)
        except Exception:  # keep the other sections' figures
            failed = True
            result = {"error": traceback.format_exc()}
            print(result["error"], file=sys.stderr)
        result["section_seconds"] = time.perf_counter() - start
        payload["sections"][name] = result
        payload["table"] = rows(payload["sections"])
        payload["seconds"] = time.perf_counter() - t0
        write_json_atomic(RESULTS, payload)
        print(f"   {name}: {result['section_seconds']:.0f} s", flush=True)
    payload["complete"] = not failed
    payload["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    payload["seconds"] = time.perf_counter() - t0
    write_json_atomic(RESULTS, payload)
    text = markdown(payload)
    write_text_atomic(REPORT, text)
    print()
    print(text)
    print(f"wrote {RESULTS} and {REPORT} ({payload['seconds']:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
