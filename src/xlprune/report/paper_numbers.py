"""The paper's own published numbers (Ma et al., ACL 2021), kept as data so a report can put
them beside ours. paper_numbers.json holds the values and says where each was read; this module
only reads it. Scores are on the project's 0-1 scale (the paper prints x100).

Plain stdlib on purpose: the report should be able to show the paper's numbers without torch.
"""

import json
from functools import cache
from pathlib import Path

PATH = Path(__file__).with_name("paper_numbers.json")
ROW_KEYS = ("model", "task", "setting", "source", "target")


@cache
def _load() -> dict:
    with PATH.open(encoding="utf-8") as f:
        return json.load(f)


def load() -> dict:
    """The whole file as a dict (a fresh copy each call, so callers may change theirs)."""
    return json.loads(json.dumps(_load()))


def source() -> dict:
    """The citation and where the numbers were read: for a report's footnote."""
    return load()["source"]


def table_names() -> list[str]:
    """The paper's table numbers held here, as strings ('2' .. '6')."""
    return sorted(_load()["tables"], key=int)


def rows(table: str | int, **match: str) -> list[dict]:
    """A table's rows whose keys equal every given value, e.g. rows(2, model="xlmr").
    Unknown table names raise KeyError: a typo should not look like a missing cell."""
    tables = _load()["tables"]
    key = str(table)
    if key not in tables:
        raise KeyError(f"table {table}: the paper's tables here are {table_names()}")
    bad = set(match) - set(ROW_KEYS)
    if bad:
        raise KeyError(f"{sorted(bad)}: rows are matched on {ROW_KEYS}")
    return [dict(r) for r in tables[key]["rows"] if all(r.get(k) == v for k, v in match.items())]


def table_value(
    table: str | int,
    model: str | None = None,
    task: str | None = None,
    setting: str | None = None,
    source: str | None = None,
    target: str | None = None,
    column: str = "pruned",
) -> float | None:
    """One cell on the 0-1 scale, or None where the paper prints no such cell.

    Arguments left as None are not used to match, so table_value(4, "mbert", setting="cross",
    target="de") works; if that leaves more than one row the call is ambiguous and raises
    ValueError rather than guessing. Columns: 'unpruned' / 'pruned' (Tables 2-4),
    'max' / 'random' (Table 5, score changes), 'unpruned' / 'md' / 'sd' / 'ec' (Table 6).
    A column the table does not have raises KeyError.
    """
    info = _load()["tables"].get(str(table))
    if info is not None and column not in info["columns"]:
        raise KeyError(f"table {table} has columns {sorted(info['columns'])}, not {column!r}")
    given = {"model": model, "task": task, "setting": setting, "source": source, "target": target}
    found = rows(table, **{k: v for k, v in given.items() if v is not None})
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"table {table}: {len(found)} rows match {given}; give more of them")
    return found[0].get(column)


def gain(table: str | int, model: str, task: str, setting: str, source: str, target: str):
    """Pruned minus unpruned for one pair of Tables 2-4 (0-1 scale), None if either is absent."""
    cells = [
        table_value(table, model, task, setting, source, target, column)
        for column in ("unpruned", "pruned")
    ]
    if None in cells:
        return None
    return round(cells[1] - cells[0], 4)


def spearman(task: str, model: str, a: str, b: str) -> float | None:
    """Figure 1: Spearman's rho between the head rankings of languages a and b (as printed,
    already 0-1); None if that task, model or language is not in the figure."""
    panel = _load()["figure_1"]["panels"].get(task, {}).get(model)
    if panel is None:
        return None
    langs = panel["languages"]
    if a not in langs or b not in langs:
        return None
    return panel["rho"][langs.index(a)][langs.index(b)]


def missing() -> list[str]:
    """What the paper does not give (or the source did not keep), in words."""
    return list(_load()["missing"])
