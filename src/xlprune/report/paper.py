"""The paper's tables from score series: unpruned vs best pruned per (source, target)
(Tables 2-4), with the honest dev-selected k beside the paper's best-on-test; the ranking
ablation (Table 5) and the multi-source comparison (Table 6) when those runs exist."""

from dataclasses import replace

from xlprune.job.selection import dev_choice, paper_choice
from xlprune.report import paper_numbers
from xlprune.report.series import Context, Line, Series
from xlprune.report.table import Delta, Heads, Score, Table

PAPER_METHOD = "gradient"
METHOD_ORDER = (
    "gradient",
    "gradient:batch",
    "gradient:token",
    "iterative",
    "iterative:batch",
    "iterative:token",
    "shapley",
    "shapley:target",
    "max",
    "random",
    "textpruner",
)
COMBINE_NAMES = {"sum": "SD", "merge": "MD"}
NOT_RANKED = ("", "explicit")
TASK_TABLES = {"pos": "2", "ner": "3", "sf": "4"}  # the paper's table of each task
MA = "Ma et al."
# the data configs that read the paper's datasets: PAN-X, UD (XTREME's udpos), MultiATIS++
PAPER_DATA = {
    "ner": {"panx_hub", "wikiann", "xtreme"},
    "pos": {"ud", "ud_hub", "udpos_hub", "xtreme"},
    "sf": {"multiatis"},
}


def on_paper_data(series: Series, context: Context) -> bool:
    """Whether the paper's numbers can stand beside this context's: its data, no variant."""
    names = series.data_names.get(context) or {"?"}
    return not context.variant and names <= PAPER_DATA.get(context.task, set())


def cited(table: str) -> str:
    src = paper_numbers.source()
    return (
        f"{MA}: {src['title']} ({src['venue'].split('(')[-1].split(')')[0]}), Table {table}, "
        f"arXiv {src['arxiv']} v1, doi {src['doi']}; best over 1..12 heads, chosen on test."
    )


def paper_pair(series: Series, context: Context, setting: str, source: str, target: str):
    """The paper's (unpruned, pruned) for the same model, task, setting and pair, or Nones:
    only mbert and xlmr on the paper's data have them."""
    table = TASK_TABLES.get(context.task)
    if table is None or not on_paper_data(series, context):
        return [None, None]
    cells = [
        paper_numbers.table_value(table, context.model, context.task, setting, source, target, c)
        for c in ("unpruned", "pruned")
    ]
    return [opt(Score, v) for v in cells]


def drop_empty(columns: list[str], rows: list[list], names: tuple[str, ...]):
    """Leave out the named columns where no row has a value (a model the paper lacks)."""
    keep = [
        i
        for i, c in enumerate(columns)
        if c not in names or any(r[i] is not None for r in rows if len(r) > i)
    ]
    return [columns[i] for i in keep], [[r[i] for i in keep] for r in rows]


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


def averages(rows: list[list], labels: int, name: str, complete=()) -> list:
    """Column means over the rows that have a value; deltas and head counts keep their type.
    Columns in `complete` (the paper's) get a mean only when every row has a value, so it
    is over the same pairs as ours."""
    out: list = ["average", name] + [""] * (labels - 2)
    for column in range(labels, len(rows[0])):
        cells = [row[column] for row in rows if row[column] is not None]
        if column in complete and len(cells) < len(rows):
            cells = []
        kind = type(cells[0]) if cells else None
        out.append(kind(sum(cells) / len(cells)) if cells else None)
    return out


def with_averages(blocks: dict[str, list[list]], labels: int, complete=()) -> list[list]:
    rows: list[list] = []
    for name, block in blocks.items():
        rows += block
        if len(block) > 1:
            rows.append(averages(block, labels, name, complete))
    everything = [row for block in blocks.values() for row in block]
    if len(blocks) > 1 and everything:
        rows.append(averages(everything, labels, "all", complete))
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
        f"{metric} (0-1) on test; {series.seed_note(context)}; unpruned = no head removed (k=0).",
        "best on test: the pruned k with the best TEST score (the paper's rule; optimistic).",
        "dev-selected: the pruned k with the best DEV score of that language, and its test score.",
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
                theirs = paper_pair(series, context, setting, source, target)
                blocks.setdefault(source, []).append(
                    [source, target, opt(Score, base), *cells, *theirs]
                )
            if not blocks:
                continue
            columns = [
                "source",
                "target",
                "unpruned",
                "best-on-test k (the paper's rule)",
                "pruned (best on test)",
                "gain (best on test)",
                "dev-selected k",
                "pruned (dev-selected)",
                "gain (dev-selected)",
                f"{MA} unpruned",
                f"{MA} pruned",
            ]
            notes = common_notes(series, context) + [
                f"pruned: {PAPER_METHOD} ranking, k tried: {tried(series, context, setting, PAPER_METHOD)}."
            ]
            theirs = (f"{MA} unpruned", f"{MA} pruned")
            complete = [columns.index(c) for c in theirs]
            columns, rows = drop_empty(columns, with_averages(blocks, 2, complete), theirs)
            if f"{MA} pruned" in columns:
                notes.append(cited(TASK_TABLES[context.task]))
            tables.append(
                Table(
                    key=f"paper_{context.slug()}_{setting}",
                    title=f"{context.title()}, {setting}: unpruned vs pruned",
                    columns=columns,
                    rows=rows,
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
                        f"{series.metric.get(context, 'score')} (0-1) on test; "
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
                    f"{label} best-on-test k",
                    f"{label} (best on test)",
                    f"{label} dev-selected k",
                    f"{label} (dev-selected)",
                ]
            theirs = [f"{MA} {c}" for c in ("unpruned", "MD", "SD", "EC")]
            columns += theirs
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
                row += paper_multi_source(series, context, source, target)
                blocks.setdefault(source, []).append(row)
            notes = common_notes(series, context) + [
                "SD: the sources' score matrices summed; MD: each head at its best rank."
            ]
            complete = [columns.index(c) for c in theirs]
            columns, rows = drop_empty(columns, with_averages(blocks, 2, complete), tuple(theirs))
            if any(c in columns for c in theirs):
                notes.append(cited("6") + " EC: each single source's ranking tried in turn.")
            tables.append(
                Table(
                    key=f"multisource_{context.slug()}_{setting}",
                    title=f"{context.title()}, {setting}: several sources",
                    columns=columns,
                    rows=rows,
                    notes=notes,
                    group="multi_source",
                )
            )
    return tables


def paper_multi_source(series: Series, context: Context, source: str, target: str) -> list:
    """Table 6 (mBERT, cross-lingual, four sources): unpruned, MD, SD, EC, or Nones."""
    if context.task not in ("ner", "pos") or not on_paper_data(series, context):
        return [None] * 4
    found = paper_numbers.rows("6", model=context.model, task=context.task, target=target)
    found = [r for r in found if set(r["source"].split("+")) == set(source.split("+"))]
    if len(found) != 1:
        return [None] * 4
    return [opt(Score, found[0].get(c)) for c in ("unpruned", "md", "sd", "ec")]


def ablation_gain_tables(series: Series) -> list[Table]:
    """Each ranking method's best test gain over the pruned k against the unpruned model,
    the measure of the paper's Table 5, with the paper's gains where it has the pair."""
    tables = []
    for context in series.contexts():
        for setting in settings(series, context):
            methods = sorted(
                {
                    line.method
                    for line in series.lines(context, setting=setting, kind="final", split="test")
                    if line.method not in NOT_RANKED and not multi_source(line.source, setting)
                },
                key=method_key,
            )
            if not methods or methods == [PAPER_METHOD]:
                continue
            rows = []
            for source, target in pairs(series, context, setting, multi=False):
                base = series.unpruned(
                    Line(context, setting, source, "", "", "final", "test", target)
                )
                ours = []
                for m in methods:
                    line = Line(context, setting, source, m, "", "final", "test", target)
                    ours.append(diff(paper_choice(series.pruned(line))[1], base))
                theirs = [
                    opt(Delta, paper_table5(series, context, setting, source, target, c))
                    for c in ("max", "random")
                ]
                rows.append([source, target, opt(Score, base), *ours, *theirs])
            names = (f"{MA} max", f"{MA} random")
            columns, rows = drop_empty(
                ["source", "target", "unpruned", *methods, *names], rows, names
            )
            notes = [
                f"{series.metric.get(context, 'score')} (0-1) on test; per method: the best "
                "pruned test score minus the unpruned one (the paper's Table 5 measure)."
            ]
            if names[0] in columns:
                notes.append(cited("5"))
            tables.append(
                Table(
                    key=f"ablationgain_{context.slug()}_{setting}",
                    title=f"{context.title()}, {setting}: best gain per ranking method",
                    columns=columns,
                    rows=rows,
                    notes=notes,
                    group="ablation",
                )
            )
    return tables


def paper_table5(series, context: Context, setting: str, source: str, target: str, column: str):
    if context.task not in ("ner", "pos") or not on_paper_data(series, context):
        return None
    return paper_numbers.table_value(
        "5", context.model, context.task, setting, source, target, column
    )


def spearman_table(correlations, series: Series) -> list[Table]:
    """Our cross-language Spearman of gradient head rankings beside the paper's Figure 1,
    for the models, data and languages it shows."""
    rows = []
    for c in correlations:
        if c.between != "languages" or c.method != PAPER_METHOD:
            continue
        if not on_paper_data(series, c.context):
            continue
        for i, a in enumerate(c.langs):
            for j in range(i + 1, len(c.langs)):
                b = c.langs[j]
                theirs = paper_numbers.spearman(c.context.task, c.context.model, a, b)
                if theirs is not None:
                    rows.append([c.context.title(), c.method, a, b, c.matrix[i][j], theirs])
    if not rows:
        return []
    src = paper_numbers.source()
    return [
        Table(
            key="spearman_paper",
            title="Spearman of head rankings between languages, ours and the paper's Figure 1",
            columns=["model, task", "method", "language", "language", "ours", f"{MA}"],
            rows=rows,
            notes=[
                f"{MA}, Figure 1 (arXiv {src['arxiv']} v1, doi {src['doi']}): their rankings "
                "came from their own fine-tunes on their data."
            ],
            group="spearman",
            labels=4,
        )
    ]


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
                        f"{series.metric.get(context, 'score')} (0-1) on test; "
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
        + ablation_gain_tables(series)
        + multi_source_tables(series)
        + seed_tables(series)
    )
