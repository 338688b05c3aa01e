"""The Hugging Face hub: what a sweep needs from it, and whether it is used. The offline
decision is made once per process, before a hub client (huggingface_hub, imported by
transformers, datasets and Lightning's torchmetrics) reads its offline switches; offline,
every hub name a sweep needs and the local caches lack fails in one line, before launch.
Nothing here imports a hub client at module level: checking a sweep's configs is cheap."""

import os
import socket
import sys
import threading
from dataclasses import dataclass
from functools import cache
from itertools import zip_longest
from urllib.parse import urlparse

from xlprune.infra.errors import LIMIT, XlpruneError

DEFAULT_ENDPOINT = "https://huggingface.co"
SWITCHES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
TRUE = ("1", "ON", "YES", "TRUE")  # what huggingface_hub reads as set


@dataclass(frozen=True)
class Need:
    """One hub name a job needs: a model repo, or one configuration of a dataset repo."""

    kind: str  # "model" or "dataset"
    repo: str  # the hub repo id
    config: str | None  # the dataset's configuration (one per language); None for a model
    named_by: str  # the override that names it: model.name_or_path=..., data=...


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT


@cache
def hub_reachable(timeout: float = 2.0) -> bool:
    """A TCP connection to the endpoint opens within `timeout`, name lookup included (it
    runs in a thread: a resolver with no network can hang far longer than the connect)."""
    url = urlparse(endpoint())
    port = url.port or (80 if url.scheme == "http" else 443)
    opened: list[bool] = []

    def connect() -> None:
        try:
            socket.create_connection((url.hostname, port), timeout=timeout).close()
            opened.append(True)
        except (OSError, UnicodeError):
            opened.append(False)

    probe = threading.Thread(target=connect, daemon=True)
    probe.start()
    probe.join(timeout)
    return bool(opened and opened[0])


_reason: str | None = None  # why this process is offline ("" online), once decided


def decide(mode: str | bool) -> bool:
    """Whether this process leaves the hub alone (True: offline), decided at the first call:
    an offline switch already in the environment, `mode` true (hub_offline=true), or, for
    auto, an endpoint that does not answer within 2 s; false never probes. Offline, the
    switches are set, so transformers and datasets fail at once instead of retrying."""
    global _reason
    if _reason is None:
        _reason = offline_reason(mode)
        if _reason:
            switch_off()
    return bool(_reason)


def offline_reason(mode: str | bool) -> str:
    """Why the hub is not used, for the error line; "" when it is."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").upper() in TRUE:
            return f"{name}={os.environ[name]}"
    if str(mode).lower() == "auto":
        return (
            "" if hub_reachable() else f"cannot reach {urlparse(endpoint()).netloc or endpoint()}"
        )
    return "hub_offline=true" if str(mode).lower() in ("true", "1", "yes") else ""


def switch_off() -> None:
    """Set the offline switches; a client already imported read them when it was, so its
    copies are set too (a late decision then still stops the retries)."""
    for name in SWITCHES:
        os.environ[name] = "1"
    if (constants := sys.modules.get("huggingface_hub.constants")) is not None:
        constants.HF_HUB_OFFLINE = True
    if (config := sys.modules.get("datasets.config")) is not None:
        config.HF_HUB_OFFLINE = config.HF_DATASETS_OFFLINE = True


def needs(cfg) -> list[Need]:
    """The hub names one composed job config needs, from the config alone: the model when
    its name is not a local directory, and a hub dataset's configuration for each of the
    job's languages (source and targets)."""
    from hydra.utils import get_class, instantiate
    from omegaconf import OmegaConf

    from xlprune.config.checks import check_targets
    from xlprune.data.corpus import languages, make_source

    for key in ("model", "data"):  # only classes xlprune builds are built, here too
        check_targets(OmegaConf.to_container(cfg[key], resolve=False), key)
    found = []
    spec = built(instantiate, cfg.model)
    if spec.needs_hub():
        found.append(
            Need("model", spec.name_or_path, None, f"model.name_or_path={spec.name_or_path}")
        )
    if hasattr(get_class(cfg.data._target_), "needs_hub"):  # file sources have no such need
        source = built(make_source, cfg.data)
        if source.needs_hub():
            for lang in languages(cfg):
                found.append(
                    Need("dataset", source.path, source.config(lang), f"data={cfg.data.name}")
                )
    return found


def built(make, node):
    """`make(node)`, with what a constructor refused raised as the XlpruneError it is
    (Hydra's instantiate wraps it)."""
    try:
        return make(node)
    except Exception as err:
        cause = err
        while cause is not None and not isinstance(cause, XlpruneError):
            cause = cause.__cause__
        raise cause or err from None


def check_sweep(cfgs) -> None:
    """Before launch: every hub name of every job (a sweep's, or one job's) is available,
    or the hub is used. Offline, those the local caches lack are named in one error, with
    what to do. Jobs that need no hub decide nothing and probe nothing."""
    cfgs, found = list(cfgs), []
    for cfg in cfgs:
        try:
            found += needs(cfg)
        except XlpruneError:
            raise
        except Exception:  # noqa: BLE001 - a config that cannot be built: its job says why
            continue
    wanted = list(dict.fromkeys(found))
    if not wanted or not decide(cfgs[0].hub_offline):
        return
    missing = [need for need in wanted if not cached(need)]
    if missing:
        raise XlpruneError(unavailable(missing, _reason))


def cached(need: Need) -> bool:
    """Whether the need loads offline: a model whose config.json is in the hub cache, a
    dataset configuration that datasets has prepared in its own cache (where load_dataset
    looks offline). Call with the offline switches set: the clients read them on import."""
    if need.kind == "model":
        from huggingface_hub import try_to_load_from_cache

        try:
            return isinstance(try_to_load_from_cache(need.repo, "config.json"), str)
        except ValueError:  # not a valid repo id (a path that does not exist): not cached
            return False
    return dataset_cached(need.repo, need.config)


def dataset_cached(repo: str, config: str) -> bool:
    """datasets' offline lookup: <cache>/<namespace>___<name>/<config>/<version>/<hash>/
    holding a dataset_info.json of that configuration (datasets' _find_hash_in_cache)."""
    import glob
    import json
    from pathlib import Path

    from datasets.config import HF_DATASETS_CACHE
    from datasets.naming import camelcase_to_snakecase

    *namespace, name = repo.split("/")
    root = Path(HF_DATASETS_CACHE).expanduser() / "___".join(
        [*namespace, camelcase_to_snakecase(name)]
    )
    for info in root.glob(f"{glob.escape(config)}/*/*/dataset_info.json"):
        try:
            if json.loads(info.read_text(encoding="utf-8")).get("config_name") == config:
                return True
        except (OSError, ValueError):
            continue
    return False


MODEL_FIX = "save it with save_pretrained and pass model.name_or_path=/path/to/dir"
DATA_FIX = "use files: data=xtreme data.root=/path/to/dir"


def unavailable(missing: list[Need], reason: str) -> str:
    """The one line for needs the hub cannot serve: models and datasets (each with its
    configurations) named, as many as fit in the line and the rest counted, then what to
    do for each kind, and how to use the hub instead."""
    kinds = [kind for kind in ("model", "dataset") if any(n.kind == kind for n in missing)]
    fixes = [MODEL_FIX if kind == "model" else DATA_FIX for kind in kinds]
    if reason.startswith("cannot reach"):
        fixes.append("or connect and run again")
    elif reason == "hub_offline=true":
        fixes.append("or connect and set hub_offline=auto")
    else:
        fixes.append(f"or connect and unset {reason.split('=')[0]}")
    by_name: dict[tuple, list] = {}
    for need in missing:
        by_name.setdefault((need.kind, need.named_by, need.repo), []).append(need.config)
    groups = interleaved(list(by_name.items()))  # a shortened line names one of each kind
    widest = max(len(configs) for _, configs in groups)
    for kept in range(len(groups), 0, -1):
        dropped = sum(len(configs) for _, configs in groups[kept:])
        for shown in range(widest, 0, -1):
            names = listed(groups[:kept], shown) + (f" and {dropped} more" if dropped else "")
            line = f"HF hub offline ({reason}); not cached: {names}; " + "; ".join(fixes)
            if len(line) <= LIMIT:
                return line
    return line


def interleaved(groups: list) -> list:
    """Groups reordered so that kinds alternate: model, dataset, model, ..."""
    models = [group for group in groups if group[0][0] == "model"]
    datasets = [group for group in groups if group[0][0] != "model"]
    return [group for pair in zip_longest(models, datasets) for group in pair if group]


def listed(groups: list, shown: int) -> str:
    """Each model by the override that names it; each dataset by its override and repo
    with up to `shown` of its configurations."""
    parts = []
    for (kind, named_by, repo), configs in groups:
        if kind == "model":
            parts.append(named_by)
            continue
        more = len(configs) - shown
        names = ", ".join(configs[:shown]) + (f" and {more} more" if more > 0 else "")
        parts.append(f"{named_by} ({repo} {names})")
    return ", ".join(parts)
