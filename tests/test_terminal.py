"""What a user sees in the terminal: a single job names its phases, shows Lightning's
progress bar and ends with its scores, without known noise; `--cfg job` on a swept
experiment says which of the sweep's jobs it shows."""

import os
import re

from tests.helpers.jobs import cli


def test_single_job_shows_phases_progress_and_scores(tmp_path):
    # Lightning hints at srun whenever an `srun` is on PATH (any SLURM install): silenced
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "srun").chmod(0o755)
    done = cli(
        ["+debug=fast", "logger=none", "task=pos", "pruning.count=1"],
        cwd=tmp_path,
        env={
            "XLPRUNE_CACHE": str(tmp_path / "cache"),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        },
    )
    assert done.returncode == 0, done.stderr[-1500:]
    out = done.stdout + done.stderr
    phases = ["rank: gradient scores of 12 heads", "tokenise:", "fine-tune:", "evaluate:"]
    positions = [out.find(p) for p in phases]
    assert all(p >= 0 for p in positions), (phases, out[-3000:])
    assert out.find("fine-tune: 1 epoch on en, 1 heads removed") > positions[0]
    assert re.search(r"scores: accuracy, k=1: test en \d\.\d{3} de \d\.\d{3}; dev en", out), out
    assert "Epoch 0" in done.stdout  # the progress bar, on for a single job
    assert "srun" not in out


def test_cfg_job_on_a_swept_experiment_shows_its_first_job(tmp_path):
    done = cli(["+experiment=demo", "--cfg", "job", "-m"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1500:]
    note = done.stderr.strip().splitlines()[-1]
    assert note.startswith("xlprune: the sweep's first job (model=tiny_bert task=ner")
    assert "setting=cross,multi" in note or "setting=cross" in note
    assert "add one value of each to see another job" in note
    assert "  name: tiny_bert\n" in done.stdout and "count: 0\n" in done.stdout
    picked = cli(["+experiment=demo", "model=tiny_xlmr", "--cfg", "job"], cwd=tmp_path)
    assert picked.returncode == 0, picked.stderr[-1500:]
    assert "  name: tiny_xlmr\n" in picked.stdout
    assert "model=" not in picked.stderr.split("first job (")[1].split(")")[0]


def test_wandb_job_logs_dev_every_epoch_and_stays_quiet(tmp_path):
    from tests.helpers.wandb_records import history, run_files

    done = cli(
        ["+debug=fast", "logger=wandb", "task=pos", "trainer.max_epochs=2"],
        cwd=tmp_path,
        env={"XLPRUNE_CACHE": str(tmp_path / "cache")},
    )
    assert done.returncode == 0, done.stderr[-1500:]
    out = done.stdout + done.stderr
    assert "anonymous" not in out and "wandb:" not in out
    (run,) = run_files(tmp_path, "finetune")
    dev = [row for row in history(run) if "dev/en/accuracy" in row]
    assert [row["epoch"] for row in dev] == [0, 1], dev  # one dev score per epoch
    assert all(0.0 <= row["dev/de/accuracy"] <= 1.0 for row in dev)


def test_cfg_job_takes_the_first_value_of_a_command_line_sweep(tmp_path):
    for args in (
        ["-m", "--cfg=job", "pruning.count=3,2"],
        ["+experiment=demo", "task=pos,ner", "--cfg", "job"],
    ):
        done = cli(args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-1500:]
        assert "the sweep's first job" in done.stderr
    assert "  name: pos\n" in done.stdout  # task=pos,ner: its first value
    bad = cli(["nokey=1", "--cfg", "job"], cwd=tmp_path)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
