"""Read a W&B offline run file (run-*.wandb) back, to check what a job really logged.

The file is a LevelDB-style log: a 7-byte header, then 32 KiB blocks of chunks, each with
a 7-byte header (crc32, length, type: 1 full, 2 first, 3 middle, 4 last) around pieces of
serialized `wandb_internal_pb2.Record` messages.

What wandb writes there: a `run` record at wandb.init (name, job type, tags, group, notes,
the init config; written again when tags change), `config` records for later config
updates (a logged chart adds `_wandb.visualize.<key>`: its panel), `history` records per
log call (a table is its file's path under `<key>/path`, the file in the run folder's
files/), `summary` records, and `exit` when the run was finished."""

import json
import struct
from pathlib import Path

BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: str | Path):
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:  # block trailer padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        if kind in (FULL, FIRST):
            pending = chunk
        else:
            pending += chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def summary(path: str | Path) -> dict:
    """The run's final summary: the last value written for every key."""
    values: dict = {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "summary":
            for item in record.summary.update:
                values[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "history":
            for item in record.history.item:
                values[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return values


def item_values(items) -> dict:
    """Config or summary items as a nested dict: `key` items hold a whole JSON value,
    `nested_key` items one leaf of a nested one."""
    out: dict = {}
    for item in items:
        path = [item.key] if item.key else list(item.nested_key)
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        value = json.loads(item.value_json)
        if isinstance(value, dict) and isinstance(node.get(path[-1]), dict):
            merge(node[path[-1]], value)
        else:
            node[path[-1]] = value
    return out


def merge(into: dict, more: dict) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def config(path: str | Path) -> dict:
    """The run's config, nested: what wandb.init got, then every later update."""
    values: dict = {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            merge(values, item_values(record.run.config.update))
        elif kind == "config":
            merge(values, item_values(record.config.update))
    return values


def run_info(path: str | Path) -> dict:
    """What the run record says last: name, job type, tags, group, notes, project; and
    whether the run was finished (an exit record)."""
    info, finished = None, False
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            info = {
                "name": run.display_name,
                "job_type": run.job_type,
                "tags": list(run.tags),
                "group": run.run_group,
                "notes": run.notes,
                "project": run.project,
            }
        finished = finished or kind == "exit"
    assert info is not None, f"no run record in {path}"
    return dict(info, finished=finished)


def history(path: str | Path) -> list[dict]:
    """Every history row (one per log call), nested like config."""
    return [
        item_values(record.history.item)
        for record in records(path)
        if record.WhichOneof("record_type") == "history"
    ]


def table(path: str | Path, key: str) -> dict:
    """The last table logged under `key` as {"columns": [...], "rows": [dict per row]}, read
    from the run folder's files/ (where `wandb sync` uploads it from)."""
    logged = summary(path)
    assert logged.get(f"{key}/_type") == "table-file", f"no table {key} in {path}"
    data = json.loads((Path(path).parent / "files" / logged[f"{key}/path"]).read_text())
    columns = data["columns"]
    return {"columns": columns, "rows": [dict(zip(columns, r, strict=True)) for r in data["data"]]}


def charts(path: str | Path) -> dict:
    """Custom charts (wandb.plot.*): key -> {"spec", "title", "xname", "table"}, the table
    being the chart's data as table() reads it."""
    panels = (config(path).get("_wandb") or {}).get("visualize") or {}
    out = {}
    for key, panel in panels.items():
        settings = panel["panel_config"]
        out[key] = {
            "spec": settings["panelDefId"],
            "title": settings["stringSettings"].get("title"),
            "xname": settings["stringSettings"].get("xname"),
            "table": table(path, f"{key}_table"),
        }
    return out


def run_files(root: str | Path, job_type: str | None = None, wait: float = 60) -> list[Path]:
    """The run files under `root` (any depth), those of one job type if given. wandb.finish
    can return before wandb-core has written the file out: each is waited for (up to
    `wait` seconds) until it holds its exit record; wait=0 for a run that was killed."""
    found = sorted(Path(root).glob("**/offline-run-*/run-*.wandb"))
    for path in found:
        finished(path, wait)
    return [f for f in found if job_type is None or run_info(f)["job_type"] == job_type]


def finished(path: str | Path, wait: float = 60) -> bool:
    """Whether the run file holds an exit record, waiting up to `wait` seconds for it."""
    import time

    deadline = time.monotonic() + wait
    while True:
        try:
            if any(r.WhichOneof("record_type") == "exit" for r in records(path)):
                return True
        except Exception:  # noqa: BLE001 - a file being written: a torn last record
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
