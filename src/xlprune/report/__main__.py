"""`python -m xlprune.report <multirun dir> [more dirs] [--out DIR] [--wandb]`: the report
of finished (or partial) sweeps, rebuilt from what is on disk."""

import argparse
import sys
from pathlib import Path


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m xlprune.report",
        description="Collect every job's results.json under the given folders into one "
        "table and write a report: tables (Markdown, LaTeX, CSV), pruning curves, head "
        "heatmaps, Spearman matrices and index.html.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="multirun (sweep) or job folders")
    parser.add_argument("--out", type=Path, help="report folder (default: <first dir>/report)")
    parser.add_argument(
        "--wandb",
        action="store_true",
        help="also log a W&B summary run when the jobs used the W&B logger",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    missing = [d for d in args.dirs if not d.is_dir()]
    if missing:
        print(
            f"xlprune.report: error: not a folder: {', '.join(map(str, missing))}", file=sys.stderr
        )
        return 2
    from xlprune.report.assemble import build_report

    report = build_report(args.dirs, args.out)
    print(f"{report.header.counts.line()} {len(report.tables)} tables")
    for problem in report.problems:
        print(f"missing: {problem}")
    if args.wandb:
        from xlprune.report.wandb_summary import log_summary

        run_dir = log_summary(report, args.dirs[0])
        print(f"W&B summary run: {run_dir}" if run_dir else "W&B: the jobs did not use W&B")
    print(report.index.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
