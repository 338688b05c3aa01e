"""torch's threads follow the CPUs the job was given, not the machine's core count.

The CPUs a job may use are the fewest of: the CPUs this process may run on
(`os.sched_getaffinity`: taskset, cpusets, SLURM's binding), `SLURM_CPUS_PER_TASK`, and a
cgroup CPU quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, rounded up;
a container's `--cpus`). Parallel local workers (hydra/launcher=joblib) divide them, and an
explicit `OMP_NUM_THREADS` caps what one job gets.

OpenMP's threads spin while they wait for work; where the job shares its CPUs (another
worker, another process) a spinning thread takes the core from the one doing the work, and
a step of the demo's model takes 100x longer (benchmarks/bench_threads.py). torch reads
`OMP_WAIT_POLICY` once, when it is imported, so `prepare_environment()` sets it at the
command line's start, before anything imports torch; jobs and the workers the launchers
start inherit it.

Standard library only at import; torch is imported by `apply` alone.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
# PASSIVE: threads sleep at once when they run out of work; set only when the CPUs are
# shared. Demo model, 2 cores (benchmarks/bench_threads.py, results_threads.json): on a quiet
# machine unset/2 threads 9.5 ms a step, PASSIVE/2 17.2 ms (1.9x slower), 1 thread 11.2 ms;
# with a CPU burner beside it unset/2 20.0 ms (8% of steps over 100 ms; 4.6-110x slower in
# runs on a busier machine), PASSIVE/2 13.6 ms, 1 thread 11.2-11.5 ms either way.
WAIT_POLICY = "PASSIVE"
BUSY_LOAD = 1.0  # a 1-minute load average this high: another process is using a core
V1_CPU_MOUNTS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")


def _positive_int(text: str | None) -> int | None:
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _quota_cpus(quota: str, period: str) -> int | None:
    """ceil(quota / period) CPUs, or None for no quota ('max', -1) or values not numbers."""
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    if q <= 0 or p <= 0:
        return None
    return max(1, math.ceil(q / p))


def _ancestors(mount: Path, relative: str) -> list[Path]:
    """`mount/relative` and every folder above it up to `mount`, deepest first (a quota
    anywhere above a cgroup limits it too)."""
    parts = [p for p in relative.strip().split("/") if p and p not in (".", "..")]
    return [mount.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _own_cgroups(self_cgroup: Path) -> tuple[str, str]:
    """This process's cgroup paths from /proc/self/cgroup: (v2's, v1's cpu controller's);
    '/' for one not listed."""
    v2 = v1 = "/"
    for line in (_read(self_cgroup) or "").splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            v2 = path or "/"
        elif "cpu" in controllers.split(","):
            v1 = path or "/"
    return v2, v1


def cgroup_cpus(
    root: str | Path = CGROUP_ROOT, self_cgroup: str | Path = SELF_CGROUP
) -> tuple[int, str] | None:
    """The CPUs a cgroup quota allows this process, with the file that sets it, or None
    without a quota. cgroup v2: `cpu.max` ("quota period", or "max period"); v1:
    `cpu.cfs_quota_us` / `cpu.cfs_period_us` (quota -1: none). The process's own cgroup
    and every cgroup above it count; the lowest quota wins."""
    root = Path(root)
    v2_path, v1_path = _own_cgroups(Path(self_cgroup))
    found: list[tuple[int, str]] = []
    for folder in _ancestors(root, v2_path):
        text = _read(folder / "cpu.max")
        fields = (text or "").split()
        if len(fields) == 2 and (cpus := _quota_cpus(*fields)) is not None:
            found.append((cpus, str(folder / "cpu.max")))
    mounts = [root / name for name in V1_CPU_MOUNTS] + [root]  # root: a flat v1 mount
    for mount in dict.fromkeys(mounts):
        for folder in _ancestors(mount, v1_path):
            quota = _read(folder / "cpu.cfs_quota_us")
            period = _read(folder / "cpu.cfs_period_us")
            if quota is None or period is None:
                continue
            if (cpus := _quota_cpus(quota.strip(), period.strip())) is not None:
                found.append((cpus, str(folder / "cpu.cfs_quota_us")))
    return min(found, key=lambda f: f[0]) if found else None


def affinity_cpus() -> int:
    """The CPUs this process may run on (its affinity mask; the core count where the
    platform has no affinity, e.g. macOS)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_cpus(
    environ: Mapping[str, str] | None = None,
    root: str | Path = CGROUP_ROOT,
    self_cgroup: str | Path = SELF_CGROUP,
    affinity: int | None = None,
) -> tuple[int, str]:
    """(CPUs this job was given, which limit set the count): the fewest of the affinity
    mask ('affinity'), SLURM_CPUS_PER_TASK ('SLURM_CPUS_PER_TASK') and a cgroup quota
    ('cgroup <file>'). On a tie the first of these names it."""
    environ = os.environ if environ is None else environ
    limits = [(affinity_cpus() if affinity is None else max(1, affinity), "affinity")]
    slurm = environ.get("SLURM_CPUS_PER_TASK")
    if slurm is not None:
        if (cpus := _positive_int(slurm)) is not None:
            limits.append((cpus, "SLURM_CPUS_PER_TASK"))
        else:
            log.warning("SLURM_CPUS_PER_TASK=%r is not a positive number: ignored", slurm)
    if (quota := cgroup_cpus(root, self_cgroup)) is not None:
        limits.append((quota[0], f"cgroup {quota[1]}"))
    return min(limits, key=lambda limit: limit[0])  # min keeps the first of equal counts


def workers_for(n_jobs: int | None, cpus: int | None = None, **where) -> int | None:
    """How many jobs a joblib launcher with `n_jobs` runs at once here: n_jobs itself, or
    for a negative one joblib's rule (cpus + 1 + n_jobs: -1 every CPU, -2 all but one)
    over the CPUs this job was given; None (jobs one after another) stays None. `where`:
    available_cpus's arguments."""
    if n_jobs is None:
        return None
    if n_jobs > 0:
        return n_jobs
    cpus = available_cpus(**where)[0] if cpus is None else cpus
    return max(1, cpus + 1 + n_jobs) if n_jobs < 0 else cpus  # 0: joblib refuses it


def job_threads(
    workers: int | None,
    environ: Mapping[str, str] | None = None,
    root: str | Path = CGROUP_ROOT,
    self_cgroup: str | Path = SELF_CGROUP,
    affinity: int | None = None,
) -> int:
    """torch threads for one job: the CPUs it was given divided among `workers` jobs side
    by side (None: one job at a time), at least 1, at most an explicit OMP_NUM_THREADS
    (which joblib also sets in its workers)."""
    environ = os.environ if environ is None else environ
    return share(available_cpus(environ, root, self_cgroup, affinity)[0], workers, environ)


def share(cpus: int, workers: int | None, environ: Mapping[str, str]) -> int:
    threads = max(1, cpus // workers) if workers and workers > 1 else cpus
    cap = _positive_int(environ.get("OMP_NUM_THREADS"))
    return min(threads, cap) if cap is not None else threads


def apply(workers: int | None, environ: Mapping[str, str] | None = None, *where, **kwargs) -> int:
    """Set torch's intra-op threads to job_threads(workers) (`where`: available_cpus's
    other arguments), and its inter-op threads no higher (torch allows that only once,
    before any inter-op work: later it keeps what it has). Logs one line and returns the
    threads torch now uses."""
    import torch

    environ = os.environ if environ is None else environ
    cpus, limit = available_cpus(environ, *where, **kwargs)
    threads = share(cpus, workers, environ)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if torch.get_num_interop_threads() > threads:
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # set before, or inter-op work has started: keep it
            log.debug("torch inter-op threads already fixed at %d", torch.get_num_interop_threads())
    used = torch.get_num_threads()
    log.info(
        "torch threads: %d (CPUs %d, set by %s; %s; OMP_WAIT_POLICY=%s)",
        used,
        cpus,
        limit,
        f"{workers} workers side by side" if workers and workers > 1 else "one job at a time",
        environ.get("OMP_WAIT_POLICY", "unset"),
    )
    return used


def prepare_environment(
    environ: MutableMapping[str, str] | None = None, load: float | None = None
) -> str | None:
    """At the command line's start, before torch is imported: OMP_WAIT_POLICY=PASSIVE when
    the CPUs are shared (the load average says another process is busy), unless the user set
    a policy; on a quiet machine spinning is faster and is left. Returns the value set, or
    None. Set after torch's import it reaches only processes started later (workers)."""
    environ = os.environ if environ is None else environ
    if environ.get("OMP_WAIT_POLICY", "").strip():
        return None
    load = os.getloadavg()[0] if load is None else load
    if load < BUSY_LOAD:
        return None
    environ["OMP_WAIT_POLICY"] = WAIT_POLICY
    return WAIT_POLICY
