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


def describe(hydra_cfg) -> dict:
    """What a report's header says about a sweep: the command that started it, its
    experiment, its grid (the swept keys and their values) and how many jobs it plans."""
    import shlex

    overrides = [str(o) for o in hydra_cfg.overrides.task]
    launch = [str(o) for o in hydra_cfg.overrides.hydra if str(o) != "hydra.mode=MULTIRUN"]
    params = {str(k): str(v) for k, v in (hydra_cfg.sweeper.get("params") or {}).items()}
    grid = dict(params)
    try:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        for o in OverridesParser.create().parse_overrides(overrides):
            key = o.get_key_element()
            for swept in [k for k in grid if k.lstrip("+~") == key.lstrip("+~")]:
                del grid[swept]  # the command line's value replaces the config's
            if o.is_sweep_override():
                grid[key] = o.input_line.split("=", 1)[1]
    except Exception:  # an unparsable override: the config's grid is what is known
        pass
    experiment = next(
        (o.split("=", 1)[1] for o in overrides if o.lstrip("+~").startswith("experiment=")), ""
    )
    plan = planned_jobs(hydra_cfg)
    return {
        "command": " ".join(["python -m xlprune", *map(shlex.quote, launch + overrides), "-m"]),
        "experiment": experiment,
        "grid": grid,
        "planned": len(plan) if plan is not None else None,
    }
