"""`python -m xlprune [overrides] [-m]`: the Hydra app. Imports nothing heavy at module
level so `--help` and config composition stay fast."""

import sys

import hydra
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from xlprune.errors import XlpruneError, one_line
from xlprune.paths import config_dir

CONFIG_DIR = str(config_dir())


def check_group_choices(argv: list[str]) -> None:
    """Fail in one line on `group=choice` overrides that name no config file; Hydra's own
    message for this is a multi-line dump."""
    root = config_dir()
    for arg in argv:
        if "=" not in arg or arg.startswith("-"):
            continue
        key, value = arg.split("=", 1)
        group = key.lstrip("+~")
        if "." in group or group.startswith("hydra/") or value in ("", "null"):
            continue  # keys, and Hydra's own groups (plugins provide options there)
        if not (root / group).is_dir():
            continue
        options = sorted(p.stem for p in (root / group).glob("*.yaml"))
        for choice in value.split(","):
            if choice not in options:
                raise XlpruneError(
                    f"{group}={choice}: no such {group}; choose one of {', '.join(options)} "
                    f"(files in {root / group})"
                )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    from xlprune.run import run

    try:
        run(cfg)
    except XlpruneError as err:
        fail(str(err))
    except MissingMandatoryValue as err:
        hint = cfg.data.get("hint") if "data" in cfg else None
        fail(
            f"{err.full_key}: no value given; set it on the command line ({err.full_key}=...)"
            + (f". {hint}" if hint and str(err.full_key).startswith("data.") else "")
        )


def fail(message: str) -> None:
    print(f"xlprune: error: {one_line(message)}", file=sys.stderr)
    sys.exit(2)


def cli() -> None:
    try:
        check_group_choices(sys.argv[1:])
    except XlpruneError as err:
        fail(str(err))
    main()


if __name__ == "__main__":
    cli()
