"""Running jobs from tests: in-process (compose + run) or as the real CLI in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path


def compose(overrides: list[str], out_dir: Path | None = None, keep_hydra: bool = False):
    """The job config the CLI would build, with Hydra's runtime set so the job can run
    in this process."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from xlprune.config.paths import config_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = hydra_compose("config", overrides=overrides, return_hydra_config=True)
    if out_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(out_dir)
        HydraConfig.instance().set_config(cfg)
        if not keep_hydra:
            with open_dict(cfg):
                del cfg["hydra"]
    return cfg


def run_job(overrides: list[str], out_dir: Path) -> dict:
    from xlprune.job.run import run

    return run(compose(overrides, out_dir))


FAST = ["+debug=fast", "logger=none"]


def cli(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 300, drop_env=()):
    """The real command line, as a user runs it (`drop_env`: prefixes of environment
    variables it runs without)."""
    full_env = {k: v for k, v in os.environ.items() if not (drop_env and k.startswith(drop_env))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "xlprune", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_xtreme_dir(root: Path, task: str, langs: list[str], n: int = 40) -> Path:
    """Files in the PAN-X layout (train-/dev-/test-{lang}.tsv) from the embedded corpus."""
    from xlprune.data.synthetic import generate

    root.mkdir(parents=True, exist_ok=True)
    for lang in langs:
        for split in ("train", "dev", "test"):
            lines = []
            for words, labels in generate(task, lang, split, n=n, seed=3):
                lines += [f"{w}\t{t}" for w, t in zip(words, labels, strict=True)] + [""]
            (root / f"{split}-{lang}.tsv").write_text("\n".join(lines) + "\n")
    return root


def as_in_a_terminal() -> None:
    """preexec_fn of a CLI a test signals: Ctrl-C works as in a terminal's foreground job.
    A shell script's background job starts with SIGINT ignored, children inherit that, and
    xlprune keeps an ignored SIGINT ignored (the nohup rule), so without this a test run
    from such a job could not stop its CLI with SIGINT."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
