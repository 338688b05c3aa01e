"""Several seeds: the report gives their mean and standard deviation."""

import statistics

from tests.report.test_selection import result, write_jobs
from xlprune.report.assemble import build_report


def test_seeds_give_mean_and_std(tmp_path):
    tests = {1: 0.40, 2: 0.46, 3: 0.49}
    jobs = [result(0, 0.5, t, seed=s) for s, t in tests.items()]
    jobs += [result(2, 0.6, t + 0.05, seed=s) for s, t in tests.items()]
    report = build_report([write_jobs(tmp_path / "sweep", jobs)], out=tmp_path / "report")
    text = (tmp_path / "report" / "tables.md").read_text()
    assert "mean and std over seeds" in text
    mean, std = statistics.mean(tests.values()), statistics.stdev(tests.values())
    row = next(line for line in text.splitlines() if line.startswith("| cross | en | de | - | 0 |"))
    assert f"| {mean:.4f} | {std:.4f} | 3 |" in row
    assert "mean over seeds 1, 2, 3" in text and report.index.is_file()
