"""Where the config tree lives: inside the package when installed from a wheel, else the
repository's top-level conf/ (editable install)."""

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def config_dir() -> Path:
    for candidate in (_HERE / "conf", _HERE.parents[1] / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"xlprune config tree not found next to {_HERE}")
