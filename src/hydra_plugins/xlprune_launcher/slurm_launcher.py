"""`hydra/launcher=slurm`: hydra-submitit-launcher's SLURM launcher with xlprune's checks,
defaults and watch (xlprune.sweep.slurm). Hydra only instantiates launchers from the
`hydra_plugins` package, so the class lives here; it stays thin, and light to import
(Hydra imports every plugin module when it starts)."""

import logging
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus, filter_overrides, run_job, setup_globals
from omegaconf import OmegaConf, open_dict

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher

log = logging.getLogger(__name__)


class SlurmLauncher(BaseSubmititLauncher):
    _EXECUTOR = "slurm"

    def __init__(self, poll_s: float = 5.0, lost_after_s: float = 30.0, **params: Any) -> None:
        super().__init__(**params)
        self.poll_s, self.lost_after_s = float(poll_s), float(lost_after_s)

    def __call__(self, *args, **kwargs):
        """On the node: this process runs one job of a sweep, not the sweep (a signal ends
        it with a failure record; xlprune.infra.signals.in_worker)."""
        import os

        from xlprune.infra import signals

        os.environ[signals.SWEEP_PID] = "slurm"
        return super().__call__(*args, **kwargs)

    def launch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
        from xlprune.infra.errors import XlpruneError, fail

        try:
            return self._launch(job_overrides, initial_job_idx)
        except XlpruneError as err:  # before any job was queued: one line, no report
            fail(str(err))

    def _launch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
        import submitit
        from submitit.slurm.slurm import _make_sbatch_string

        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
        from xlprune.job.results import FAILED
        from xlprune.sweep import slurm as cluster
        from xlprune.sweep.plan import read_plan

        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        jobs = [self.job(initial_job_idx + i, o) for i, o in enumerate(job_overrides)]
        plan = read_plan(sweep_dir)
        partition = cluster.partition_of(self.params.get("partition"))
        params = cluster.fill_defaults(self.params, jobs[0][2], partition, plan)
        cluster.check_resources(params, jobs[0][2], partition, plan)

        stored = [j for j in jobs if self.finished(j)]
        queued = [j for j in jobs if j not in stored]
        returns = {num: self.run_here(num, overrides, cfg) for num, overrides, cfg, _ in stored}
        if stored:
            log.info(f"{len(stored)} jobs already have stored results: copied, not queued")
        if queued:
            init = {"folder": params["submitit_folder"]}
            if "max_num_timeout" in params:
                init["slurm_max_num_timeout"] = params["max_num_timeout"]
            executor = submitit.AutoExecutor(cluster="slurm", **init)
            base = set(OmegaConf.structured(BaseQueueConf).keys())
            executor.update_parameters(
                **{
                    (k if k in base else f"slurm_{k}"): v
                    for k, v in params.items()
                    if k not in ("submitit_folder", "max_num_timeout")
                }
            )
            slurm = executor._executor  # noqa: SLF001 - the script it will submit
            script = _make_sbatch_string(
                command="true", folder=slurm.folder, map_count=len(queued), **slurm.parameters
            )
            cluster.test_submission(script, sweep_dir / ".xlprune")
            log.info(
                f"Submitting {len(queued)} jobs to SLURM (partition {params['partition']}, "
                f"{params.get('cpus_per_task')} CPUs, {params.get('mem_gb')} GB, "
                f"{params.get('gpus_per_node') or 0} GPUs, {params.get('timeout_min')} min each)"
            )
            for num, overrides, _, out_dir in queued:
                log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
                (out_dir / FAILED).unlink(missing_ok=True)  # an earlier run's: not this one's
            from hydra.core.singleton import Singleton

            state = Singleton.get_state()
            arguments = [
                (list(o), "hydra.sweep.dir", num, f"job_id_for_{num}", state)
                for num, o, _, _ in queued
            ]
            try:
                submitted = executor.map_array(self, *zip(*arguments, strict=True))
            except Exception as err:  # sbatch's refusal after the test passed (a race)
                raise cluster.refusal(str(err)) from None
            tasks = [
                cluster.Task(num=num, job=job, out_dir=out_dir)
                for (num, _, _, out_dir), job in zip(queued, submitted, strict=True)
            ]
            cluster.Watch(
                tasks,
                total=initial_job_idx + len(jobs),
                sweep_dir=sweep_dir,
                poll_s=self.poll_s,
                grace_s=self.lost_after_s,
            ).run(before=len(stored))
            for (num, overrides, cfg, _), task in zip(queued, tasks, strict=True):
                returns[num] = task.outcome if not task.failed else self.failed(overrides, cfg)
        return [returns[num] for num, *_ in jobs]

    def job(self, num: int, overrides) -> tuple:
        """(num, overrides, the job's config, its output folder)."""
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(cfg):
            cfg.hydra.job.id = f"job_id_for_{num}"
            cfg.hydra.job.num = num
        out_dir = Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(out_dir.absolute())
        return num, list(overrides), cfg, out_dir

    def finished(self, job: tuple) -> bool:
        """The job's result is already stored (a rerun of a stopped sweep): it is copied
        here in a second instead of waiting in the cluster's queue."""
        from hydra.core.hydra_config import HydraConfig

        from xlprune.job.run import stored_result

        cfg = job[2]
        HydraConfig.instance().set_config(cfg)
        task = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        return stored_result(task) is not None

    def run_here(self, num: int, overrides, cfg) -> JobReturn:
        setup_globals()
        log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))} (stored result)")
        return run_job(
            hydra_context=self.hydra_context,
            task_function=self.task_function,
            config=cfg,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )

    def failed(self, overrides, cfg) -> JobReturn:
        """A job that ended without a result: its failure record says why; to Hydra it is
        a job that returned nothing, so the sweep goes on to its summary and report."""
        ret = JobReturn(overrides=list(overrides), cfg=cfg, status=JobStatus.COMPLETED)
        ret.return_value = None
        return ret
