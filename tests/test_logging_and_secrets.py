"""Logging never ends a job (a W&B failure falls back to CSV with one warning), and no
credential reaches a file or log the job writes."""

import json
import secrets
import socket

from tests.helpers.jobs import cli
from tests.helpers.wandb_records import config as wandb_config
from tests.helpers.wandb_records import run_files


def fallback_run(tmp_path, env: dict, *args: str):
    home = tmp_path / "home"  # no ~/.netrc, so no stored W&B key
    home.mkdir()
    done = cli(
        ["+debug=fast", "logger=wandb", "logger.offline=false", *args, "hydra.run.dir=out"],
        cwd=tmp_path,
        env={"HOME": str(home), "WANDB_MODE": "online", **env},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    output = (done.stdout + done.stderr).splitlines()  # Hydra logs to stdout
    warnings = [line for line in output if "logging failed" in line]
    assert len(warnings) == 1, done.stdout[-2000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["metrics"]["test"]["en"]["f1"] >= 0
    assert results["logger"]["used"] == "CSVLogger" and results["logger"]["asked"] == "W&B"
    logged = (tmp_path / "out" / "csv_fallback" / "metrics.csv").read_text()
    assert "final/test/en/f1" in logged  # the CSV logger got what W&B would have
    return results["logger"]["failure"], warnings[0]


def test_online_wandb_without_an_api_key_falls_back_to_csv(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:  # a server that is up
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        failure, warning = fallback_run(tmp_path, {"WANDB_API_KEY": "", "WANDB_BASE_URL": url})
    assert "API key" in failure and "csv_fallback" in warning


def test_online_wandb_without_a_network_falls_back_to_csv(tmp_path):
    key = secrets.token_hex(20)
    failure, _ = fallback_run(
        tmp_path, {"WANDB_API_KEY": key, "WANDB_BASE_URL": "http://127.0.0.1:9"}
    )
    assert "not reachable" in failure and key not in failure


def test_an_unwritable_logger_folder_falls_back_too(tmp_path):
    (tmp_path / "a-file").write_text("")
    done = cli(
        [
            "+debug=fast",
            "logger=csv",
            f"logger.save_dir={tmp_path / 'a-file'}",
            "hydra.run.dir=out",
        ],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    output = (done.stdout + done.stderr).splitlines()
    assert sum("logging failed" in line for line in output) == 1
    assert json.loads((tmp_path / "out" / "results.json").read_text())["logger"]["failure"]


def test_credentials_reach_no_file_and_no_log(tmp_path):
    """W&B and hub credentials from the environment, and a token given as an override,
    across a two-job sweep with W&B (offline) logging: masked everywhere."""
    env = {
        "WANDB_API_KEY": secrets.token_hex(20),
        "HF_TOKEN": "hf_" + secrets.token_hex(16),
        "XLPRUNE_CACHE": str(tmp_path / "cache"),
    }
    given = "tok_" + secrets.token_hex(12)
    done = cli(
        [
            "+debug=fast",
            "logger=wandb",
            f"+hub.token={given}",
            "+run_label=${oc.env:HF_TOKEN}",  # a config that pulls a secret in
            "pruning.count=0,1",
            "-m",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(list(tmp_path.glob("multirun/*/*/*/results.json"))) == 2
    assert len(run_files(tmp_path / "multirun", "finetune")) == 2
    (ranking_run,) = run_files(tmp_path / "multirun", "ranking")  # k=1's ranking fine-tune
    assert list(tmp_path.glob("multirun/*/*/multirun.yaml"))
    logged = wandb_config(ranking_run)
    assert logged["hub"]["token"] == "***" and logged["run_label"] == "***"
    for value in (*env.values(), given):
        if "cache" in value:
            continue
        assert value not in done.stdout and value not in done.stderr
        leaks = [str(p) for p in written if value.encode() in p.read_bytes()]
        assert not leaks, f"a secret was written to {leaks}"
    config = json.loads(next(tmp_path.glob("multirun/*/*/0/results.json")).read_text())
    assert config["prune_count"] in (0, 1)
    saved = next(tmp_path.glob("multirun/*/*/0/.hydra/config.yaml")).read_text()
    assert "token: '***'" in saved or "token: ***" in saved


def test_a_wandb_run_that_dies_mid_job_falls_back_with_one_warning(tmp_path, caplog):
    import logging

    import wandb
    from pytorch_lightning.loggers import WandbLogger

    from xlprune.job.loggers import FallbackLogger

    make = lambda: WandbLogger(project="xlprune", offline=True, save_dir=str(tmp_path))  # noqa: E731
    logger = FallbackLogger(make, tmp_path, "W&B")
    logger.log_metrics({"train/loss": 1.0}, step=0)
    assert logger.failure is None and logger.is_wandb
    wandb.finish()  # the W&B run ends under the job, as when its service process dies
    with caplog.at_level(logging.WARNING, logger="xlprune.job.loggers"):
        logger.log_metrics({"train/loss": 0.5}, step=1)
        logger.log_metrics({"train/loss": 0.25}, step=2)
        logger.save()
    assert caplog.text.count("logging failed") == 1 and "is finished" in logger.failure
    rows = (tmp_path / "csv_fallback" / "metrics.csv").read_text().splitlines()
    assert "train/loss" in rows[0].split(",")
    assert [row.split(",")[-1] for row in rows[1:]] == ["0.5", "0.25"]


def test_a_sweep_without_a_network_logs_to_csv_and_its_summary_offline(tmp_path):
    (tmp_path / "home").mkdir()
    done = cli(
        ["+debug=fast", "logger=wandb", "logger.offline=false", "pruning.count=0,1", "-m"],
        cwd=tmp_path,
        env={
            "HOME": str(tmp_path / "home"),
            "WANDB_MODE": "online",
            "WANDB_API_KEY": secrets.token_hex(20),
            "WANDB_BASE_URL": "http://127.0.0.1:9",
            "XLPRUNE_CACHE": str(tmp_path / "cache"),
        },
    )
    assert done.returncode == 0, done.stderr[-2000:]
    jobs = [json.loads(p.read_text()) for p in tmp_path.glob("multirun/*/*/*/results.json")]
    assert len(jobs) == 2 and all(j["logger"]["used"] == "CSVLogger" for j in jobs)
    assert "the summary run is logged offline" in done.stdout
    assert list(tmp_path.glob("multirun/*/*/wandb/offline-run-*/run-*.wandb"))
    # the ranking fine-tune (k=1) fell back too, to a CSV folder of its own
    assert list(tmp_path.glob("multirun/*/*/*/csv_fallback_ranking_en/metrics.csv"))
    assert "ranking fine-tune on en" in done.stdout + done.stderr


def test_swept_and_crashing_secrets_stay_masked(tmp_path):
    swept = ["sweep_" + secrets.token_hex(8) for _ in range(2)]
    done = cli(
        ["+debug=fast", "logger=none", f"+hub.token={','.join(swept)}", "-m"],
        cwd=tmp_path,
        env={"XLPRUNE_CACHE": str(tmp_path / "cache")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "+hub.token=***" in done.stdout  # Hydra's launch lines, masked
    crash = "crash_" + secrets.token_hex(8)
    failed = cli(  # an unexpected error: the traceback and error line are masked too
        ["+debug=fast", "logger=none", f"+hub.token={crash}", f"+model.token={crash}"],
        cwd=tmp_path,
    )
    assert failed.returncode == 2 and "unexpected" in failed.stderr.splitlines()[-1]
    for value in (*swept, crash):
        assert value not in done.stdout + done.stderr + failed.stdout + failed.stderr
        assert not [
            p for p in tmp_path.rglob("*") if p.is_file() and value.encode() in p.read_bytes()
        ]
