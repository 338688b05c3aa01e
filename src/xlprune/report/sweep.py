"""The jobs a sweep plans, worked out the way Hydra's basic sweeper does (its params from
the config, then the command line, cartesian product), so progress can say "i of N" and
a report can name the jobs that never ran."""

BASIC = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def planned_jobs(hydra_cfg) -> list[list[str]] | None:
    """Each planned job's overrides, in launch order; None when it cannot be known (another
    sweeper, an unparsable override, a config without the sweep)."""
    try:
        sweeper = hydra_cfg.sweeper
        if sweeper.get("_target_") != BASIC:
            return None
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
        arguments = list(hydra_cfg.overrides.task)
        parsed = OverridesParser.create().parse_overrides(params + arguments)
        return BasicSweeper.split_arguments(parsed, None)[0]
    except Exception:  # any failure here only means "unknown"
        return None
