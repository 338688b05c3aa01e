"""Progress lines during a sweep, and the sweep plan they count from."""

import re

import yaml
from omegaconf import OmegaConf

from xlprune.report.sweep import planned_jobs
from xlprune.sweep.progress import SweepProgress
from xlprune.sweep.summary import SweepSummary


def test_one_line_per_job_with_total_and_estimate(sweep):
    lines = [line for line in sweep.stdout.splitlines() if line.startswith("[xlprune] job ")]
    assert len(lines) == 8
    pattern = (
        r"\[xlprune\] job (\d) of 8 done in \d:\d\d:\d\d; (\d) done, 0 running, (\d) pending, "
        r"0 failed; elapsed \d:\d\d:\d\d, about \d:\d\d:\d\d left"
    )
    found = [re.fullmatch(pattern, line) for line in lines]
    assert all(found), lines
    assert [int(m.group(1)) for m in found] == list(range(1, 9))
    # the counts are the sweep's folder at each job's end: i done, 8 - i pending
    assert [(int(m.group(2)), int(m.group(3))) for m in found] == [(i, 8 - i) for i in range(1, 9)]
    assert lines[-1].endswith("about 0:00:00 left")


def test_plan_matches_the_jobs_hydra_ran(sweep):
    saved = OmegaConf.load(sweep.dir / "multirun.yaml")
    plan = planned_jobs(saved.hydra)
    assert len(plan) == 8
    for num, overrides in enumerate(plan):
        ran = yaml.safe_load((sweep.dir / str(num) / ".hydra" / "overrides.yaml").read_text())
        assert overrides == ran


def fake_config(sweeper: dict, task: list[str], num=None, mode="MULTIRUN"):
    return OmegaConf.create(
        {
            "hydra": {
                "sweeper": sweeper,
                "overrides": {"task": task},
                "job": {"num": num},
                "mode": mode,
                "sweep": {"dir": "x"},
            }
        }
    )


def test_unknown_total_says_job_i(capsys):
    progress = SweepProgress()
    config = fake_config({"_target_": "some.other.Sweeper", "n_trials": 5}, ["a=1"])
    progress.on_multirun_start(config)
    for num in range(2):
        job = fake_config({}, [], num=num)
        progress.on_job_start(job)
        progress.on_job_end(job, job_return=None)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" done")[0] for line in out] == ["[xlprune] job 1", "[xlprune] job 2"]
    assert all("left" not in line for line in out)


def test_basic_sweeper_total_from_params_and_command_line():
    basic = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
    config = fake_config({"_target_": basic, "params": {"a": "1,2,3"}}, ["b=x,y", "c=1"])
    assert len(planned_jobs(config.hydra)) == 6


def test_report_failure_is_one_warning(sweep, monkeypatch, capsys):
    import xlprune.report.assemble as build

    def broken(*args, **kwargs):
        raise RuntimeError("disk full\nsecond line")

    monkeypatch.setattr(build, "build_report", broken)
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep.dir)}}})
    SweepSummary().on_multirun_end(config)
    out = capsys.readouterr().out.strip().splitlines()
    assert "8 job results under" in "\n".join(out)
    assert out[-1] == "xlprune: warning: no report built: RuntimeError: disk full"


def test_callback_modules_import_nothing_heavy():
    import subprocess
    import sys

    code = (
        "import sys, xlprune.sweep.summary, xlprune.sweep.progress;"
        "print([m for m in ('torch', 'matplotlib', 'wandb', 'pytorch_lightning') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr
