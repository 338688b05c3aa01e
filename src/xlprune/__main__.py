"""`python -m xlprune [overrides] [-m]`: the Hydra app. Imports nothing heavy at module
level so `--help` and config composition stay fast."""

import contextlib
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from xlprune.config.paths import config_dir
from xlprune.infra.errors import XlpruneError, fail, one_line

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


def check_command(argv: list[str]) -> None:
    """Compose the config the command's first job gets (a sweep's first values) and check
    it, before Hydra makes directories or launches anything: unknown keys, values, classes,
    and room to write. Commands with Hydra's own flags (--help, --cfg, ...) are left to it."""
    flags = [a for a in argv if a.startswith("-")]
    if any(flag not in ("-m", "--multirun") for flag in flags):
        return
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    from xlprune.config.checks import check_room, check_targets, check_values

    args = [a for a in argv if not a.startswith("-")]
    try:
        first, sweeps = [], []
        for override in OverridesParser.create().parse_overrides(args):
            if override.is_sweep_override():
                texts = list(override.sweep_string_iterator())
                first.append(f"{override.get_key_element()}={texts[0]}")
                typed = list(override.sweep_iterator())  # as Hydra reads them: 5e-5 a float
                sweeps.append((override.get_key_element().lstrip("+~"), typed))
            else:
                first.append(override.input_line)
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose("config", overrides=first, return_hydra_config=True)
    except HydraException as err:
        message = str(err).split("\n")
        if message[0].startswith("Could not override"):
            key = message[0].split("'")[1]
            raise XlpruneError(
                f"{key}: no such key in the config; check its spelling (python -m xlprune "
                f"--cfg job shows every key), or add a new one with +{key}=..."
            ) from None
        raise XlpruneError(unparsable(args) or " ".join(message)) from None
    finally:
        GlobalHydra.instance().clear()
    if sweeps and not multirun_asked(flags, cfg):
        key, values = sweeps[0]
        raise XlpruneError(
            f"{key}: several values ({', '.join(map(str, values))}) need -m to run a sweep; "
            f"for one value that contains commas, quote it: {key}='...'"
        )
    tree = OmegaConf.to_container(cfg, resolve=False)
    check_targets({k: v for k, v in tree.items() if k != "hydra"})
    check_targets(tree["hydra"].get("callbacks") or {}, "hydra.callbacks")
    check_values(cfg)
    for key, values in sweeps:  # every value a sweep gives a key, before any job runs
        if OmegaConf.select(cfg, key) is None or (config_dir() / key).is_dir():
            continue  # a group's choices were checked with the command line
        for value in values:
            one = OmegaConf.to_container(cfg, resolve=False)
            one.pop("hydra")
            one = OmegaConf.create(one)
            OmegaConf.update(one, key, value)
            check_values(one)
    key = "hydra.sweep.dir" if multirun_asked(flags, cfg) else "hydra.run.dir"
    check_room(OmegaConf.select(cfg, key), key, cfg)
    if multirun_asked(flags, cfg):
        from xlprune.sweep.slurm import check_cluster

        check_cluster(cfg)  # hydra/launcher=slurm: the cluster can take the jobs
    else:  # a sweep's jobs are checked together by its plan (sweep/plan.py)
        from xlprune.config import hf_hub as hub

        hub.check_sweep([cfg])  # models and datasets on the hub, before anything reads it


CFG_FLAGS = ("--cfg", "-c")
VALUE_FLAGS = (
    *CFG_FLAGS,
    *("--package", "-p", "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd"),
    *("--experimental-rerun", "--info", "-i"),
)


def show_one_cell(argv: list[str]) -> list[str]:
    """`--cfg` on a swept experiment: Hydra would print the config before the sweep, one
    that no job runs. Instead show the sweep's first job, say so, and say how to pick
    another (and drop -m, which Hydra refuses beside --cfg). Returns the argv to run; on
    anything it cannot work out, the argv as given, for Hydra to answer."""
    if not any(a in CFG_FLAGS or a.startswith("--cfg=") for a in argv):
        return argv
    argv = [a for a in argv if a not in ("-m", "--multirun")]
    try:
        first, swept, replaced = first_job(argv)
    except Exception:  # noqa: BLE001 - Hydra's own message says what is wrong
        return argv
    if not swept:
        return argv
    print(
        f"xlprune: the sweep's first job ({' '.join(first)}); the sweep runs "
        f"{' '.join(f'{k}={v}' for k, v in swept.items())}: add one value of each to see "
        "another job, e.g. " + first[-1].split("=")[0] + "=...",
        file=sys.stderr,
    )
    flags, overrides, skip = [], [], False
    for arg in argv:  # Hydra's parser takes the overrides as one run of arguments
        (flags if skip or arg.startswith("-") else overrides).append(arg)
        skip = arg in VALUE_FLAGS
    added = [f for f in first if f not in replaced.values()]
    return added + [replaced.get(a, a) for a in overrides] + flags


def first_job(argv: list[str]) -> tuple[list[str], dict, dict]:
    """(the first job's values of every swept key, the swept keys with their values, the
    command line's sweep overrides -> their first value)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    args, skip = [], False
    for arg in argv:
        if not skip and not arg.startswith("-"):
            args.append(arg)
        skip = arg in VALUE_FLAGS
    parser = OverridesParser.create()
    first, swept, replaced, fixed = [], {}, {}, []
    for o in parser.parse_overrides(args):
        key = o.get_key_element()
        if o.is_sweep_override():
            swept[key] = o.input_line.split("=", 1)[1]
            replaced[o.input_line] = f"{key}={next(iter(o.sweep_string_iterator()))}"
            first.append(replaced[o.input_line])
        fixed.append(replaced.get(o.input_line, o.input_line))
    given = {o.split("=", 1)[0].lstrip("+~") for o in fixed}
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose("config", overrides=fixed, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    own = {k: str(v) for k, v in params.items() if k.lstrip("+~") not in given}
    for o in parser.parse_overrides([f"{k}={v}" for k, v in own.items()]):
        value = next(iter(o.sweep_string_iterator())) if o.is_sweep_override() else o.value()
        first.insert(len(first) - len(replaced), f"{o.get_key_element()}={value}")
    return first, {**own, **swept}, replaced


def unparsable(args: list[str]) -> str | None:
    """The override Hydra's grammar rejects, named, with the quoting that works for it:
    braces and other specials must sit inside quotes, which the shell needs quoted again."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for arg in args:
        try:
            parser.parse_overrides([arg])
        except Exception as err:  # noqa: BLE001 - Hydra's grammar errors vary in type
            key, _, value = arg.partition("=")
            reason = one_line(str(err))
            if any(c in value for c in "{}$"):
                fix = f"quote the value for Hydra and the shell: '{key}=\"{value}\"'"
            else:
                fix = "check the brackets and commas of the value"
            return f"{arg}: Hydra cannot read this override ({reason}); {fix}"
    return None


def multirun_asked(flags: list[str], cfg) -> bool:
    return bool(flags) or str(cfg.hydra.get("mode")) == "RunMode.MULTIRUN"


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from xlprune.infra import signals
    from xlprune.job.results import FAILED

    signals.install()  # also in a sweep's workers (joblib, SLURM), not only in cli()
    out_dir = HydraConfig.get().runtime.output_dir
    in_sweep = getattr(HydraConfig.get().mode, "name", None) == "MULTIRUN"
    if in_sweep:  # a rerun into the same folder: what an earlier run left is not this one's
        from xlprune.job.results import FILENAME

        for name in (FAILED, FILENAME):
            (Path(out_dir) / name).unlink(missing_ok=True)
    try:
        job(cfg)
    except signals.Interrupted as stop:
        if not signals.in_worker():
            raise  # the sweep's own process (or a single job): cli() says it and exits
        worker_stopped(stop, out_dir)
    except JobFailed as failed:
        if not in_sweep:
            fail(failed.message)
        # a sweep goes on: this job's one line now, its record for the sweep's end
        from xlprune.infra.secrets import redact_text
        from xlprune.job.results import write_failure

        message = redact_text(one_line(failed.message))
        print(f"xlprune: error: {message}", file=sys.stderr, flush=True)
        write_failure(out_dir, message, failed.kind)


def worker_stopped(stop, out_dir: str) -> None:
    """A sweep's job stopped by a signal outside the sweep's process (a joblib worker, a
    SLURM job: scancel, its time limit): its one line and failure record, then that
    process ends at once; the job's own cleanup already ran on the way here."""
    import os

    from xlprune.job.results import write_failure

    print(f"xlprune: error: {stop.message()}", file=sys.stderr, flush=True)
    with contextlib.suppress(OSError):
        write_failure(out_dir, stop.message(), "stopped by a signal")
    sys.stdout.flush()
    os._exit(stop.exit_code)


class JobFailed(Exception):
    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.message, self.kind = message, kind


def job(cfg: DictConfig) -> None:
    """Run one job; what ends it early becomes a JobFailed with its one-line reason."""
    from xlprune.job.run import run

    try:
        run(cfg)
    except XlpruneError as err:
        raise JobFailed(str(err), "bad input") from None
    except MissingMandatoryValue as err:
        hint = cfg.data.get("hint") if "data" in cfg else None
        raise JobFailed(
            f"{err.full_key}: no value given; set it on the command line ({err.full_key}=...)"
            + (f". {hint}" if hint and str(err.full_key).startswith("data.") else ""),
            "bad input",
        ) from None
    except Exception as err:
        if type(err).__name__ == "UncompletedJobError":  # submitit: SLURM's time limit
            raise JobFailed(
                "SLURM's time limit came before the job ended; raise hydra.launcher.timeout_min "
                "and run the same command again",
                "timed out",
            ) from None
        if disk_full(err):
            raise JobFailed(
                f"no space left on the device while writing ({one_line(err)[:200]}); free "
                "space and run the same command again (finished jobs are kept); a higher "
                "min_free_gb stops jobs before they start instead",
                "disk full",
            ) from None
        cause = err.__cause__  # Hydra's instantiate wraps what a constructor raised
        while cause is not None and not isinstance(cause, XlpruneError):
            cause = cause.__cause__
        if cause is not None:
            raise JobFailed(str(cause), "bad input") from None
        import traceback

        from xlprune.infra.secrets import redact_text

        # printed here, masked, rather than by Hydra (its message repeats every override)
        sys.stderr.write(redact_text("".join(traceback.format_exception(err))))
        raise JobFailed(
            f"unexpected {type(err).__name__} (the traceback above): {err}", "crash"
        ) from None


def disk_full(err: BaseException | None) -> bool:
    """A write failed for lack of space (an OSError, or a library's own error around one)."""
    import errno

    while err is not None:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def cli() -> None:
    from xlprune.infra import signals, threads

    threads.prepare_environment()  # OpenMP reads OMP_WAIT_POLICY when torch is imported
    signals.install()  # SIGTERM / SIGINT: end the job (or sweep) in one line, 143 / 130
    try:
        from xlprune.infra.secrets import redact_logs, remember_command_line

        remember_command_line(sys.argv[1:])
        redact_logs()
        try:
            check_group_choices(sys.argv[1:])
            check_command(sys.argv[1:])
            sys.argv[1:] = show_one_cell(sys.argv[1:])
        except XlpruneError as err:
            fail(str(err))
        sweep = any(a in ("-m", "--multirun") for a in sys.argv)
        signals.mark_sweep(sweep)
        with signals.phase("sweep" if sweep else "job"):
            main()
        if sweep:
            sweep_failed()
    except signals.Interrupted as stop:
        interrupted(stop)


def sweep_failed() -> None:
    """A sweep whose jobs did not all finish exits 1, after its report, in one line."""
    from xlprune.sweep.summary import unfinished_jobs

    if unfinished_jobs:
        fail(
            f"{len(unfinished_jobs)} job(s) of the sweep did not finish (listed above and in "
            "the report); fix what they say and run the same command again: finished jobs are "
            "reused, only these run",
            code=1,
        )


def interrupted(stop) -> None:
    """The one line for a job (or sweep) stopped by a signal, and the shell's exit status
    for that signal (143 SIGTERM, 130 SIGINT)."""
    import atexit
    import logging
    import os

    logging.shutdown()  # the job's log file gets what was logged before the signal
    print(f"xlprune: error: {stop.message()}", file=sys.stderr, flush=True)
    # the job's own cleanup ran on the way here (finally blocks, loggers, temporary store
    # folders); exit handlers too, but not the interpreter's teardown of torch (seconds)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(stop.exit_code)


if __name__ == "__main__":
    cli()
