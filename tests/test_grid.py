"""The paper's grid as experiments, and the ways to run it beyond one process."""

import json

import pytest

from tests.helpers.jobs import cli, compose
from xlprune.report.sweep import planned_jobs

PAPER_TARGETS = ["en", "zh", "ar", "he", "ja", "fa", "de", "nl", "ur"]


def sweep_of(experiment: str, tmp_path, *extra: str) -> list[list[str]]:
    from hydra.core.hydra_config import HydraConfig

    compose([f"+experiment={experiment}", *extra], tmp_path)
    return planned_jobs(HydraConfig.get())


@pytest.mark.parametrize(
    ("experiment", "jobs"),
    [
        ("mbert_pos", 3 * 2 * 13),
        ("mbert_ner", 3 * 2 * 13),
        ("mbert_sf", 1 * 2 * 13),
        ("xlmr_pos", 3 * 2 * 13),
        ("xlmr_ner", 3 * 2 * 13),
        ("xlmr_sf", 1 * 2 * 13),
        ("paper", 2 * 7 * 2 * 13),
    ],
)
def test_experiments_expand_to_the_papers_grid(experiment, jobs, tmp_path):
    planned = sweep_of(experiment, tmp_path)
    assert len(planned) == jobs
    ks = sorted(
        {int(o.split("=")[1]) for job in planned for o in job if o.startswith("pruning.count=")}
    )
    assert ks == list(range(13))


@pytest.mark.parametrize("cell", ["pos_en", "ner_zh", "sf_en"])
def test_a_job_of_the_paper_grid_has_the_papers_setup(cell, tmp_path):
    cfg = compose(["+experiment=xlmr_" + cell[:-3], f"+paper_cell={cell}"], tmp_path)
    assert cfg.model.name_or_path == "xlm-roberta-base"
    assert (cfg.optim.lr, cfg.trainer.max_epochs, cfg.seed) == (5e-5, 3, 42)
    assert cfg.task.name == cell[:-3] and list(cfg.source) == [cell[-2:]]
    expected = {"pos": "udpos_hub", "ner": "panx_hub", "sf": "multiatis"}[cell[:-3]]
    assert cfg.data.name == expected
    if cell != "sf_en":
        assert list(cfg.targets) == PAPER_TARGETS


def test_data_override_switches_a_paper_job_to_files(tmp_path):
    cfg = compose(
        ["+experiment=xlmr_ner", "+paper_cell=ner_en", "data=xtreme", "data.root=/data/panx"],
        tmp_path,
    )
    assert cfg.data.name == "xtreme" and cfg.data.root == "/data/panx"


def test_analysis_experiments_compose(tmp_path):
    assert len(sweep_of("ablation", tmp_path)) == 3 * 12
    assert len(sweep_of("multisource", tmp_path)) == 2 * 13
    assert len(sweep_of("scarce", tmp_path)) == 9 * 13
    cfg = compose(["+experiment=multisource"], tmp_path)
    assert cfg.setting.name == "multi_source" and len(cfg.source) == 4


def test_gpu_trainer_composes_and_ddp_is_gone(tmp_path):
    gpu = compose(["trainer=gpu"], tmp_path).trainer
    assert (gpu.accelerator, gpu.precision, gpu.max_epochs) == ("gpu", "bf16-mixed", 3)
    with pytest.raises(Exception, match="ddp"):  # one job = one process (README, GPU)
        compose(["trainer=ddp"], tmp_path)


def test_slurm_launcher_writes_a_job_script_with_the_resources(tmp_path):
    """The composed launcher's resources go through submitit's own sbatch writer, as the
    launcher's executor does (tests/slurm submits real ones to a local cluster)."""
    from submitit.slurm.slurm import _make_sbatch_string

    cfg = compose(
        [
            "hydra/launcher=slurm",
            "hydra.launcher.partition=gpu-a100",
            "hydra.launcher.gpus_per_node=2",
            "hydra.launcher.timeout_min=600",
            "hydra.launcher.cpus_per_task=8",
            "hydra.launcher.mem_gb=32",
            "trainer=gpu",
        ],
        tmp_path,
        keep_hydra=True,
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and cfg.trainer.accelerator == "gpu"
    script = _make_sbatch_string(
        "python -m xlprune",
        folder=tmp_path / "submitit",
        partition=launcher.partition,
        time=launcher.timeout_min,
        gpus_per_node=launcher.gpus_per_node,
        cpus_per_task=launcher.cpus_per_task,
        mem=f"{launcher.mem_gb}GB",
        array_parallelism=launcher.array_parallelism,
        map_count=100,
    )
    for line in (
        "#SBATCH --partition=gpu-a100",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --time=600",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32GB",
        "#SBATCH --array=0-99%64",
    ):
        assert line in script, script


def test_joblib_runs_jobs_in_parallel_and_builds_the_ranking_once(tmp_path):
    done = cli(
        [
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "+debug=fast",
            "logger=none",
            "pruning.count=1,2",
            "-m",
        ],
        cwd=tmp_path,
        env={"XLPRUNE_CACHE": str(tmp_path / "cache")},
    )
    assert done.returncode == 0, done.stderr[-1500:]
    results = [json.loads(p.read_text()) for p in tmp_path.glob("multirun/*/*/*/results.json")]
    assert sorted(r["prune_count"] for r in results) == [1, 2]
    assert sum(r["ranking"]["computed"] for r in results) == 1
    # what both jobs need, each built once (the tokenizer and the training features
    # already by the sweep plan's estimate, which runs the first job's own set-up)
    built = [entry for r in results for entry in r["store"]["built"]]
    assert len(built) == len(set(built)), built
    assert {entry.split("/")[0] for entry in built} >= {"rankings"}
    assert len(list((tmp_path / "cache").glob("tokenizers/*/tokenizer.json"))) == 1
    assert "[xlprune] sweep: 2 jobs, 2 fine-tunes and at most 1 ranking" in done.stdout
    # jobs side by side: their log lines reach the terminal, their progress bars do not
    assert "fine-tune: 1 epoch on en" in done.stdout + done.stderr
    assert "Epoch 0" not in done.stdout + done.stderr
