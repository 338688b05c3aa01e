"""A sweep on a SLURM cluster (`hydra/launcher=slurm`), on top of hydra-submitit-launcher:
the cluster is asked what it has before anything is submitted, jobs get resources that fit
it, and the sweep watches its jobs itself (squeue, the jobs' own files), so a cancelled or
lost job ends as a failure record instead of a sweep that waits forever or dies.

- Checks (`partition_of`, `check_resources`, `test_submission`): SLURM installed and its
  controller answering, the partition existing with a node up, CPUs, memory and GPUs that
  a node has, a time limit above the plan's estimate, then `sbatch --test-only` with the
  very script that will be submitted. Each refusal is one line naming the key to set.
- Defaults (`fill_defaults`): GPUs only for `trainer=gpu`, memory from the plan's measured
  peak (or the partition's limit), at most 8 CPUs or what a node has, and a job name that
  says the experiment (the array index is the Hydra job number).
- Watching (`Watch`): a line per finished job with the sweep's counts, a failure record
  (failed.json) for a job that left the queue without a result, and `scancel` of what is
  left when the sweep itself is stopped."""

import math
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from xlprune.infra.errors import XlpruneError, one_line

UP = ("idle", "mixed", "allocated", "completing", "planned")
ASK_TIMEOUT_S = 15


@dataclass
class Partition:
    name: str
    cpus: int  # per node, the largest node
    memory_mb: int
    gpus: int
    time_limit: str
    states: list[str] = field(default_factory=list)


def ask(command: list[str], timeout: float = ASK_TIMEOUT_S) -> subprocess.CompletedProcess:
    """A SLURM command, bounded in time: a controller that is down must not hang the sweep."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise XlpruneError(
            f"hydra/launcher=slurm: `{' '.join(command[:2])}` had no answer in {timeout:.0f} s: "
            "the SLURM controller is down or unreachable (check `scontrol ping`), or use "
            "another launcher (hydra/launcher=basic or side_by_side)"
        ) from None


def gpus_in(gres: str) -> int:
    """GPUs a node offers, from sinfo's %G (`gpu:2`, `gpu:a100:4(S:0-1)`, `(null)`)."""
    total = 0
    for part in gres.split(","):
        found = re.match(r"gpu(?::[^:(]+)?:(\d+)", part.strip())
        total += int(found.group(1)) if found else 0
    return total


def partition_of(name: str | None) -> Partition:
    """The partition jobs go to (the cluster's default when `name` is None), as sinfo sees
    it; fails in one line when SLURM is missing, down, or the partition has no node up."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        raise XlpruneError(
            "hydra/launcher=slurm: SLURM is not installed here (no sbatch on PATH); run the "
            "sweep on the cluster's login node, or run it here with hydra/launcher=basic or "
            "side_by_side"
        )
    done = ask(["sinfo", "-h", "-o", "%P|%c|%m|%G|%T|%l"])
    if done.returncode != 0:
        raise XlpruneError(
            f"hydra/launcher=slurm: sinfo failed ({one_line(done.stderr or done.stdout, 160)}): "
            "the SLURM controller is down or unreachable (check `scontrol ping`), or use "
            "another launcher (hydra/launcher=basic or side_by_side)"
        )
    rows: dict[str, list[list[str]]] = {}
    default = None
    for line in done.stdout.splitlines():
        cells = line.strip().split("|")
        if len(cells) != 6:
            continue
        part = cells[0]
        if part.endswith("*"):
            part = default = part[:-1]
        rows.setdefault(part, []).append(cells)
    chosen = name or default
    if chosen not in rows:
        known = ", ".join(sorted(rows)) or "none"
        what = (
            f"hydra.launcher.partition={name}: no such partition"
            if name
            else ("hydra.launcher.partition: the cluster has no default partition")
        )
        raise XlpruneError(f"{what}; this cluster has {known}; set hydra.launcher.partition")
    cells = rows[chosen]
    states = sorted({c[4] for c in cells})
    if not any(s.rstrip("*~#!%$@^-+").lower() in UP and "*" not in s for s in states):
        raise XlpruneError(
            f"hydra.launcher.partition={chosen}: no node is up (sinfo says {', '.join(states)}); "
            "the jobs would wait for a node that may never come: start slurmd / ask the "
            "cluster's admins, or choose another partition"
        )

    def number(text: str) -> int:
        digits = re.match(r"\d+", text)
        return int(digits.group()) if digits else 0

    return Partition(
        name=chosen,
        cpus=max(number(c[1]) for c in cells),
        memory_mb=max(number(c[2]) for c in cells),
        gpus=max(gpus_in(c[3]) for c in cells),
        time_limit=cells[0][5],
        states=states,
    )


def wants_gpu(trainer) -> bool:
    return str(trainer.get("accelerator", "")).lower() in ("gpu", "cuda")


def memory_gb(plan: dict | None) -> int | None:
    """A job's memory request from the plan's measured peak: half again, plus 1 GB for
    what the calibration did not run (evaluation, the report's share), rounded up."""
    if not plan or not plan.get("peak_memory_mb"):
        return None
    return max(2, math.ceil(plan["peak_memory_mb"] * 1.5 / 1024 + 1))


def fill_defaults(params: dict, cfg, partition: Partition, plan: dict | None) -> dict:
    """The keys left unset (None) in hydra.launcher, from what the job and cluster say."""
    out = dict(params)
    if out.get("partition") is None:
        out["partition"] = partition.name
    if out.get("gpus_per_node") is None and wants_gpu(cfg.trainer):
        out["gpus_per_node"] = 1
    if out.get("cpus_per_task") is None:
        out["cpus_per_task"] = max(1, min(8, partition.cpus))
    if out.get("mem_gb") is None:
        need = memory_gb(plan)
        out["mem_gb"] = need if need is not None else max(1, partition.memory_mb // 1024)
    if not out.get("name"):
        choices = cfg.hydra.runtime.get("choices") or {}
        experiment = choices.get("experiment") or choices.get("+experiment")
        out["name"] = f"xlprune-{experiment}" if experiment else "xlprune"
    return out


def check_resources(params: dict, cfg, partition: Partition, plan: dict | None) -> None:
    """What sbatch would refuse (or accept and never run), named by its key, before any
    job is submitted."""
    where = f"partition {partition.name}"
    cpus = params.get("cpus_per_task") or 1
    if cpus > partition.cpus:
        raise XlpruneError(
            f"hydra.launcher.cpus_per_task={cpus}: the largest node of {where} has "
            f"{partition.cpus} CPUs; set hydra.launcher.cpus_per_task={partition.cpus} or less"
        )
    mem = params.get("mem_gb")
    if mem is not None and mem * 1024 > partition.memory_mb:
        measured = memory_gb(plan)
        why = f" (about {measured} GB measured for one job)" if measured == mem else ""
        raise XlpruneError(
            f"hydra.launcher.mem_gb={mem}{why}: the largest node of {where} has "
            f"{partition.memory_mb // 1024} GB; set hydra.launcher.mem_gb lower or choose "
            "another partition"
        )
    gpus = params.get("gpus_per_node") or 0
    if gpus > partition.gpus:
        hint = "trainer=gpu asks for one; " if wants_gpu(cfg.trainer) else ""
        raise XlpruneError(
            f"hydra.launcher.gpus_per_node={gpus}: {where} has {partition.gpus or 'no'} GPUs "
            f"per node; {hint}choose a GPU partition (hydra.launcher.partition=...) or run "
            "on CPUs (trainer=default, hydra.launcher.gpus_per_node=null)"
        )
    longest = (plan or {}).get("longest_job_s")
    timeout = params.get("timeout_min")
    if longest and timeout and not wants_gpu(cfg.trainer) and timeout * 60 < longest:
        raise XlpruneError(
            f"hydra.launcher.timeout_min={timeout}: below the longest job's estimated time "
            f"({math.ceil(longest / 60)} min measured on this machine); SLURM would stop it "
            f"before it ends: set hydra.launcher.timeout_min={math.ceil(longest / 60 * 1.5)} "
            "or more"
        )


LAUNCHER = "hydra_plugins.xlprune_launcher.slurm_launcher.SlurmLauncher"


def check_cluster(cfg) -> None:
    """Before the sweep's plan (its calibration takes seconds to minutes): SLURM answers,
    the partition has a node up, and the resources asked for fit a node. No-op for other
    launchers."""
    from omegaconf import OmegaConf

    launcher = cfg.hydra.launcher
    if launcher.get("_target_") != LAUNCHER:
        return
    partition = partition_of(launcher.get("partition"))
    params = OmegaConf.to_container(launcher, resolve=False)
    check_resources(fill_defaults(params, cfg, partition, None), cfg, partition, None)


REFUSALS = (  # sbatch's words -> the hydra.launcher key that sets it (first match wins)
    ("gres", "gpus_per_node"),
    ("account", "account"),
    ("qos", "qos"),
    ("memory", "mem_gb"),
    ("time limit", "timeout_min"),
    ("feature", "constraint"),
    ("constraint", "constraint"),
    ("partition", "partition"),
    ("node configuration", "cpus_per_task, mem_gb or constraint"),
)


def refusal(text: str) -> XlpruneError:
    """sbatch's refusal in one line, with the key that most likely caused it."""
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "failure" in line.lower()]
    reason = (errors or lines or ["no reason given"])[-1]
    reason = re.sub(r"^(sbatch: error: |allocation failure: )", "", reason.strip())
    reason = reason.replace("Batch job submission failed: ", "")
    key = next((k for word, k in REFUSALS if word in text.lower()), None)
    fix = f"set hydra.launcher.{key}" if key else "check the hydra.launcher.* keys"
    return XlpruneError(f"SLURM refused the job: {one_line(reason, 160)}; {fix}")


def test_submission(script: str, folder: Path) -> None:
    """`sbatch --test-only` of the script that will be submitted: the controller's own
    checks (partition, account, QOS, limits), with nothing queued."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".test-only.sh"
    path.write_text(script)
    try:
        done = ask(["sbatch", "--test-only", str(path)])
    finally:
        path.unlink(missing_ok=True)
    if done.returncode != 0:
        raise refusal(done.stderr + done.stdout)


LIVE = "PD,R,CF,CG,S,RQ,RS,RF,SO,ST"  # states of a job still on its way (squeue -t)


def queue(array_id: str) -> dict[str, str] | None:
    """The array's tasks still in the queue: `<id>_<task>` -> state (PENDING, RUNNING...);
    None when squeue did not answer (a controller restarting): nothing is gone then."""
    try:
        done = subprocess.run(
            ["squeue", "-h", "-r", "-j", array_id, "-t", LIVE, "-o", "%i|%T"],
            capture_output=True,
            text=True,
            timeout=ASK_TIMEOUT_S,
        )
    except (subprocess.TimeoutExpired, OSError):
        return None
    if done.returncode != 0:
        return None
    states = {}
    for line in done.stdout.splitlines():
        job_id, _, state = line.strip().partition("|")
        states[job_id] = state
    return states


def why_gone(job_id: str, stderr: Path) -> tuple[str, str]:
    """(kind, reason) for a job that left the queue without a result: SLURM's own words in
    the job's error log (a cancel, the time limit, an OOM kill), else sacct's state where
    the cluster keeps accounting, else lost."""
    try:
        tail = stderr.read_text(errors="replace")[-4000:]
    except OSError:
        tail = ""
    if re.search(r"\*\*\* JOB \S+ ON \S+ CANCELLED AT \S+ DUE TO TIME LIMIT", tail):
        return "timed out", "SLURM stopped it at its time limit; raise hydra.launcher.timeout_min"
    if found := re.search(r"\*\*\* JOB \S+ ON \S+ CANCELLED AT (\S+)", tail):
        return "cancelled", f"cancelled at {found.group(1)} (scancel or the cluster)"
    if re.search(r"oom[-_ ]kill|out of memory", tail, re.IGNORECASE):
        return (
            "out of memory",
            "killed for using more memory than it asked for; raise hydra.launcher.mem_gb",
        )
    state = ""
    if shutil.which("sacct"):
        try:
            done = subprocess.run(
                ["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State,ExitCode"],
                capture_output=True,
                text=True,
                timeout=ASK_TIMEOUT_S,
            )
            state = (done.stdout.strip().splitlines() or [""])[0] if done.returncode == 0 else ""
        except subprocess.TimeoutExpired:
            pass
    if state:
        kind = "cancelled" if state.startswith("CANCELLED") else "lost"
        return kind, f"SLURM says {state.replace('|', ', exit ')}"
    return "lost", "left the queue without a result (killed, or its node failed)"


@dataclass
class Task:
    """One submitted job of the sweep, as the watch sees it."""

    num: int
    job: object  # submitit's SlurmJob
    out_dir: Path
    state: str = "PENDING"
    started: float | None = None
    gone_since: float | None = None
    outcome: object = None  # Hydra's JobReturn, or None with a failure record
    ended: bool = False
    failed: bool = False


class Watch:
    """Polls the sweep's array until every task has ended, one way or another; prints a
    progress line for each, and one when the number running changes."""

    def __init__(
        self, tasks: list[Task], total: int, sweep_dir: Path, poll_s: float, grace_s: float
    ):
        self.tasks, self.total, self.sweep_dir = tasks, total, sweep_dir
        self.poll_s, self.grace_s = poll_s, grace_s
        self.started = time.time()
        self.last_counts = None

    def run(self, before: int = 0, failed_before: int = 0) -> None:
        """`before`: jobs of the sweep already done outside the array (resumed here)."""

        self.before, self.failed_before = before, failed_before
        array_id = str(self.tasks[0].job.job_id).split("_")[0]
        try:
            while not all(t.ended for t in self.tasks):
                self.poll(queue(array_id))
                if not all(t.ended for t in self.tasks):
                    time.sleep(self.poll_s)
        except BaseException:  # stopped (a signal) or broken: no job runs on unwatched
            left = [t for t in self.tasks if not t.ended]
            if left:
                self.cancel(array_id, len(left))
            raise

    @staticmethod
    def cancel(array_id: str, left: int) -> None:
        try:
            done = subprocess.run(
                ["scancel", array_id], capture_output=True, text=True, timeout=ASK_TIMEOUT_S
            )
            ok = done.returncode == 0
        except (subprocess.TimeoutExpired, OSError):
            ok = False
        if ok:
            print(
                f"[xlprune] cancelled the sweep's {left} unfinished SLURM jobs (scancel {array_id})",
                flush=True,
            )
        else:
            print(
                f"[xlprune] could not cancel the sweep's {left} SLURM jobs: run scancel {array_id}",
                flush=True,
            )

    def poll(self, queued: dict[str, str] | None) -> None:
        from xlprune.job.results import FAILED

        now = time.time()
        for task in self.tasks:
            if task.ended:
                continue
            job = task.job
            if job.paths.result_pickle.exists():
                self.finish(task, now)
                continue
            if queued is None:
                continue  # squeue did not answer: ask again next time
            state = queued.get(str(job.job_id))
            if state is not None:
                task.gone_since = None
                if state == "RUNNING" and task.started is None:
                    task.started = now
                task.state = state
                continue
            task.gone_since = task.gone_since or now
            said_why = (task.out_dir / FAILED).is_file()  # a job stopped by a signal
            if said_why or now - task.gone_since >= self.grace_s:  # results can lag a little
                self.lost(task, now)
        counts = self.standing()
        if (counts.running, counts.pending) != self.last_counts and not all(
            t.ended for t in self.tasks
        ):
            self.last_counts = (counts.running, counts.pending)
            print(f"[xlprune] sweep: {counts.counts()}", flush=True)

    def standing(self):
        from xlprune.sweep.progress import Standing

        out = Standing(total=self.total, done=self.before, failed=self.failed_before)
        for task in self.tasks:
            if not task.ended:
                out.running += task.state == "RUNNING"
            elif task.failed:
                out.failed += 1
            else:
                out.done += 1
        return out

    def finish(self, task: Task, now: float) -> None:
        from xlprune.job.results import FAILED, write_failure

        try:
            task.outcome = task.job.results()[0]
            failed = getattr(task.outcome.status, "name", "") == "FAILED"
            if failed:  # raised outside xlprune's own handler (Hydra's job set-up)
                err = task.outcome._return_value
                write_failure(task.out_dir, one_line(f"{type(err).__name__}: {err}"), "crash")
        except Exception as err:  # submitit could not run the job function at all
            last = [line for line in str(err).splitlines() if line.strip()]
            reason = last[-1] if last else type(err).__name__
            write_failure(
                task.out_dir, one_line(f"{reason}; its log: {task.job.paths.stderr}"), "crash"
            )
        task.failed = (task.out_dir / FAILED).is_file()
        self.end(task, now)

    def lost(self, task: Task, now: float) -> None:
        from xlprune.job.results import FAILED, read_failure, write_failure

        kind, reason = why_gone(str(task.job.job_id), Path(task.job.paths.stderr))
        if kind == "timed out":  # SIGTERM at the limit: the job's own record says a signal
            write_failure(task.out_dir, f"{reason} (SLURM job {task.job.job_id})", kind)
        elif (task.out_dir / FAILED).is_file():  # the job said why itself (a signal)
            record = read_failure(task.out_dir) or {}
            kind = record.get("kind", "cancelled")
        else:
            write_failure(task.out_dir, f"{reason} (SLURM job {task.job.job_id})", kind)
        task.failed = True
        self.end(task, now, kind)

    def end(self, task: Task, now: float, kind: str | None = None) -> None:
        from xlprune.sweep.progress import progress_line

        task.ended = True
        state = "failed" if task.failed else "done"
        if kind and task.failed:
            state = f"failed ({kind})"
        took = now - task.started if task.started else None
        line = progress_line(task.num, state, took, self.standing(), now - self.started)
        print(line + f" [SLURM {task.job.job_id}]", flush=True)
