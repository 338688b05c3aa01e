"""The paper's tables from score series: unpruned vs best pruned per (source, target)
(Tables 2-4), with the honest dev-selected k beside the paper's best-on-test; the ranking
ablation (Table 5) and the multi-source comparison (Table 6) when those runs exist."""

from dataclasses import replace

from xlprune.report.selection import dev_choice, paper_choice
from xlprune.report.series import Context, Line, Series
from xlprune.report.table import Delta, Heads, Score, Table

PAPER_METHOD = "gradient"
METHOD_ORDER = ("gradient", "max", "random", "textpruner")
COMBINE_NAMES = {"sum": "SD", "merge": "MD"}
NOT_RANKED = ("", "explicit")


def multi_source(source: str, setting: str) -> bool:
    return "+" in source or setting == "multi_source"


def method_key(method: str):
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)


def diff(a, b):
    return Delta(a - b) if a is not None and b is not None else None


def opt(kind, value):
    return kind(value) if value is not None else None


def pairs(series: Series, context: Context, setting: str, multi: bool) -> list[tuple[str, str]]:
    return [
        (source, target)
        for (ctx, st, source), targets in series.targets.items()
        if ctx == context and st == setting and multi_source(source, setting) == multi
        for target in targets
    ]


def settings(series: Series, context: Context) -> list[str]:
    order = {"cross": 0, "multi": 1}
    found = {line.setting for line in series.lines(context)}
    return sorted(found, key=lambda s: (order.get(s, 2), s))


def averages(rows: list[list], labels: int, name: str) -> list:
    """Column means over the rows that have a value; deltas and head counts keep their type."""
    out: list = ["average", name] + [""] * (labels - 2)
    for column in range(labels, len(rows[0])):
        cells = [row[column] for row in rows if row[column] is not None]
        kind = type(cells[0]) if cells else None
        out.append(kind(sum(cells) / len(cells)) if cells else None)
    return out


def with_averages(blocks: dict[str, list[list]], labels: int) -> list[list]:
    rows: list[list] = []
    for name, block in blocks.items():
        rows += block
        if len(block) > 1:
            rows.append(averages(block, labels, name))
    everything = [row for block in blocks.values() for row in block]
    if len(blocks) > 1 and everything:
        rows.append(averages(everything, labels, "all"))
    return rows


def choice_cells(series: Series, line: Line, base):
    """(paper k, paper score, its delta, dev k, dev-selected test score, its delta)."""
    test = series.pruned(line)
    dev = series.pruned(replace(line, split="dev"))
    pk, ps = paper_choice(test)
    dk, ds = dev_choice(dev, test)
    return [
        opt(Heads, pk),
        opt(Score, ps),
        diff(ps, base),
        opt(Heads, dk),
        opt(Score, ds),
        diff(ds, base),
    ]


def tried(series: Series, context: Context, setting: str, method: str) -> str:
    """The pruned k of re-trained runs, as a note under a table."""
    lines = series.lines(context, setting=setting, method=method, kind="final")
    ks = sorted({k for line in lines for k in series.pruned(line)})
    return ", ".join(map(str, ks)) or "none"


def common_notes(series: Series, context: Context) -> list[str]:
    metric = series.metric.get(context, "score")
    return [
        f"{metric} x100 on test; {series.seed_note(context)}; unpruned = no head removed (k=0).",
        "paper: the pruned k with the best TEST score (the paper's choice; optimistic).",
        "dev: the pruned k with the best DEV score of that language, and its test score.",
    ]


def paper_tables(series: Series) -> list[Table]:
    tables = []
    for context in series.contexts():
        for setting in settings(series, context):
            blocks: dict[str, list[list]] = {}
            for source, target in pairs(series, context, setting, multi=False):
                line = Line(context, setting, source, PAPER_METHOD, "", "final", "test", target)
                base = series.unpruned(line)
                cells = choice_cells(series, line, base)
                if base is None and all(c is None for c in cells):
                    continue
                blocks.setdefault(source, []).append([source, target, opt(Score, base), *cells])
            if not blocks:
                continue
            columns = [
                "source",
                "target",
                "unpruned",
                "k (paper)",
                "pruned (paper)",
                "gain (paper)",
            ]
            columns += ["k (dev)", "pruned (dev)", "gain (dev)"]
            notes = common_notes(series, context) + [
                f"pruned: {PAPER_METHOD} ranking, k tried: {tried(series, context, setting, PAPER_METHOD)}."
            ]
            tables.append(
                Table(
                    key=f"paper_{context.slug()}_{setting}",
                    title=f"{context.title()}, {setting}: unpruned vs pruned",
                    columns=columns,
                    rows=with_averages(blocks, 2),
                    notes=notes,
                    group="paper",
                )
            )
    return tables


def ablation_tables(series: Series) -> list[Table]:
    """Test score at each k per ranking method; only where a control method was run."""
    tables = []
    for context in series.contexts():
        for setting in settings(series, context):
            lines = [
                line
                for line in series.lines(context, setting=setting, kind="final", split="test")
                if line.method not in NOT_RANKED and not multi_source(line.source, setting)
            ]
            methods = sorted({line.method for line in lines}, key=method_key)
            if not methods or methods == [PAPER_METHOD]:
                continue
            ks = sorted({k for line in lines for k in series.pruned(line)})
            blocks: dict[str, list[list]] = {}
            for source, target in pairs(series, context, setting, multi=False):
                for k in ks:
                    scores = [
                        series.score.get(
                            Line(context, setting, source, m, "", "final", "test", target), {}
                        ).get(k)
                        for m in methods
                    ]
                    if all(s is None for s in scores):
                        continue
                    base = series.unpruned(
                        Line(context, setting, source, "", "", "final", "test", target)
                    )
                    row = [source, target, Heads(k), opt(Score, base)]
                    blocks.setdefault(f"k={k}", []).append(row + [opt(Score, s) for s in scores])
            if not blocks:
                continue
            rows = []
            for name, block in blocks.items():
                rows += block
                if len(block) > 1:
                    avg = averages([r[:2] + r[3:] for r in block], 2, name)
                    rows.append(avg[:2] + [block[0][2]] + avg[2:])
            tables.append(
                Table(
                    key=f"ablation_{context.slug()}_{setting}",
                    title=f"{context.title()}, {setting}: ranking methods at each k",
                    columns=["source", "target", "k", "unpruned", *methods],
                    rows=rows,
                    notes=[
                        f"{series.metric.get(context, 'score')} x100 on test; "
                        f"{series.seed_note(context)}.",
                        "gradient: lowest-ranked heads removed (the paper); max: highest-ranked "
                        "first; random: a seeded random set; textpruner: |sum W*dW| scores.",
                    ],
                    group="ablation",
                    labels=3,
                )
            )
    return tables


def variant_label(method: str, combine: str) -> str:
    return f"{method}/{COMBINE_NAMES.get(combine, combine)}" if combine else method


def multi_source_tables(series: Series) -> list[Table]:
    """Several training sources, rankings combined in different ways (the paper's Table 6)."""
    tables = []
    for context in series.contexts():
        for setting in settings(series, context):
            found = pairs(series, context, setting, multi=True)
            lines = [
                line
                for line in series.lines(context, setting=setting, kind="final", split="test")
                if line.method not in NOT_RANKED and multi_source(line.source, setting)
            ]
            variants = sorted(
                {(x.method, x.combine) for x in lines}, key=lambda v: (method_key(v[0]), v[1])
            )
            if not found:
                continue
            columns = ["sources", "target", "unpruned"]
            for method, combine in variants:
                label = variant_label(method, combine)
                columns += [
                    f"{label} k (paper)",
                    f"{label} (paper)",
                    f"{label} k (dev)",
                    f"{label} (dev)",
                ]
            blocks: dict[str, list[list]] = {}
            for source, target in found:
                base = series.unpruned(
                    Line(context, setting, source, "", "", "final", "test", target)
                )
                row = [source, target, opt(Score, base)]
                for method, combine in variants:
                    line = Line(context, setting, source, method, combine, "final", "test", target)
                    pk, ps, _, dk, ds, _ = choice_cells(series, line, base)
                    row += [pk, ps, dk, ds]
                blocks.setdefault(source, []).append(row)
            tables.append(
                Table(
                    key=f"multisource_{context.slug()}_{setting}",
                    title=f"{context.title()}, {setting}: several sources",
                    columns=columns,
                    rows=with_averages(blocks, 2),
                    notes=common_notes(series, context)
                    + ["SD: the sources' score matrices summed; MD: each head at its best rank."],
                    group="multi_source",
                )
            )
    return tables


def seed_tables(series: Series) -> list[Table]:
    """Mean and standard deviation over seeds (seed=1,2,3), for every test score that was
    averaged over more than one run."""
    tables = []
    for context in series.contexts():
        rows = []
        for line in series.lines(context, kind="final", split="test"):
            for k, (std, n) in series.spread.get(line, {}).items():
                mean = series.score[line][k]
                rows.append(
                    [
                        line.setting,
                        line.source,
                        line.lang,
                        line.method or "-",
                        Heads(k),
                        Score(mean),
                        Score(std),
                        n,
                    ]
                )
        if rows:
            tables.append(
                Table(
                    key=f"seeds_{context.slug()}",
                    title=f"{context.title()}: mean and std over seeds",
                    columns=["setting", "source", "target", "method", "k", "mean", "std", "runs"],
                    rows=rows,
                    notes=[
                        f"{series.metric.get(context, 'score')} x100 on test; "
                        f"{series.seed_note(context)}; std: sample standard deviation."
                    ],
                    group="seeds",
                    labels=4,
                )
            )
    return tables


def all_tables(series: Series) -> list[Table]:
    return (
        paper_tables(series)
        + ablation_tables(series)
        + multi_source_tables(series)
        + seed_tables(series)
    )
