"""Where the config tree lives: inside the package when installed from a wheel, else the
repository's top-level conf/ (editable install)."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # src/xlprune (or site-packages/xlprune)


def config_dir() -> Path:
    for candidate in (_PACKAGE / "conf", _PACKAGE.parents[1] / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"xlprune config tree not found next to {_PACKAGE}")
