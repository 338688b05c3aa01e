"""Stored head-importance score files (ranking.stored in results.json): read once each,
drawn as layers x heads heatmaps with the heads the sweep's jobs removed by them, and
compared across languages by Spearman correlation of their rankings (the paper's Figure 1).
A file that is gone is a note, not a failure."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from xlprune.config.rankings import DEFAULT_GRANULARITY, GRADIENT_BASED, ORDERED, SCORE_METHOD
from xlprune.infra.files import pyplot, save_figure, write_csv
from xlprune.job.heatmap import per_layer, ranked_values
from xlprune.report.series import Context, slugify


@dataclass
class ScoreFile:
    path: str
    context: Context
    method: str
    lang: str
    split: str
    raw: list[list[float]]
    # the heads removed by its ranking, first removed first, up to the largest k of its jobs
    removed: list[tuple[int, int]] = field(default_factory=list)
    score: str = "gradient"  # what the matrix holds (gradient, textpruner, iterative, shapley)

    def slug(self) -> str:
        return slugify(f"{self.context.slug()}_{self.method}_{self.lang}")


def score_files(jobs, contexts: dict) -> tuple[list[ScoreFile], list[str]]:
    """Each stored score file once, under the context of the first job that used it, with
    the heads removed by the jobs ranked by it alone."""
    found: dict[str, ScoreFile] = {}
    problems, missing = [], set()
    users: dict[str, list] = {}
    for job in jobs:
        ranking = (job.results or {}).get("ranking") or {}
        stored = ranking.get("stored") or []
        for path in stored:
            if path in found or path in missing:
                continue
            try:
                data = json.loads(Path(path).read_text())
                raw = [[float(v) for v in row] for row in data["raw"]]
            except (OSError, ValueError, KeyError, TypeError):
                missing.add(path)
                problems.append(f"{job.label}: ranking score file {path} is gone or unreadable")
                continue
            found[path] = ScoreFile(
                path=path,
                context=contexts[job.label],
                method=method_label(data),
                score=str(data.get("method", "gradient")),
                lang=str(data.get("source", "?")),
                split=str(data.get("split", "")),
                raw=raw,
            )
        if len(stored) == 1 and ranked_as_drawn(ranking):
            users.setdefault(stored[0], []).append(job)
    for path, f in found.items():
        problems += mark_removed(f, users.get(path, []))
    return list(found.values()), problems


def method_label(data: dict) -> str:
    """A ranking's name in the report: its method, with the granularity of gradient-based
    ones when it is not the default. A record from before granularities were recorded has
    none and keeps the bare name (its scores were summed per evaluation batch)."""
    method = str(data.get("method") or "gradient")
    if method == "shapley" and data.get("on") == "target":
        return "shapley:target"  # the targets' own ranking, not the source's
    granularity = data.get("granularity")
    if SCORE_METHOD.get(method) not in GRADIENT_BASED or granularity is None:
        return method
    return method if granularity == DEFAULT_GRANULARITY else f"{method}:{granularity}"


def ranked_as_drawn(ranking: dict) -> bool:
    """Whether a one-file ranking orders heads as its heatmap shows them: lowest normalised
    score first (`max` removes the highest first; `normalise: false` ranks the raw score)."""
    if ranking.get("method") in ORDERED:  # ranked as stored, whatever `normalise` says
        return True
    return ranking.get("method") != "max" and ranking.get("normalise", True) is not False


def removed_sets(results: dict) -> list[list[tuple[int, int]]]:
    """Every head set a job removed: before fine-tuning, and at each masked-curve point."""
    sets = [results.get("pruned_heads") or []]
    sets += [point.get("heads") or [] for point in results.get("mask_curve") or []]
    return [[(int(layer), int(head)) for layer, head in heads] for heads in sets]


def mark_removed(f: ScoreFile, jobs) -> list[str]:
    """Set f.removed to the first k heads of its ranking, k the largest any job removed,
    after checking each job removed exactly the first k of that ranking."""
    order = removal_order(ranked_values(f.raw, f.score))
    problems, largest = [], 0
    for job in jobs:
        try:
            sets = removed_sets(job.results)
        except (TypeError, ValueError):
            problems.append(f"{job.label}: unreadable removed heads, left unmarked")
            continue
        for heads in sets:
            if set(heads) != set(order[: len(heads)]):
                problems.append(
                    f"{job.label}: its {len(heads)} removed heads are not the lowest "
                    f"{len(heads)} of {f.path}; left unmarked on its heatmap"
                )
                continue
            largest = max(largest, len(heads))
    f.removed = order[:largest]
    return problems


def by_language(files: list[ScoreFile]) -> dict[tuple, dict[str, ScoreFile]]:
    """(context, method) -> language -> its score file (the first, if several)."""
    groups: dict[tuple, dict[str, ScoreFile]] = {}
    for f in files:
        groups.setdefault((f.context, f.method), {}).setdefault(f.lang, f)
    return groups


def heatmap_name(f: ScoreFile, taken: set) -> str:
    name, n = f"heatmap_{f.slug()}.png", 2
    while name in taken:
        name, n = f"heatmap_{f.slug()}_{n}.png", n + 1
    taken.add(name)
    return name


def heatmap_title(f: ScoreFile) -> str:
    split = f" ({f.split})" if f.split else ""
    marks = f"; numbered: the {len(f.removed)} heads removed, in order" if f.removed else ""
    return f"{f.context.title()} {f.lang}: {f.method} importance{split}{marks}"


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for m in range(i, j + 1):
            out[order[m]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = ranks(a), ranks(b)
    n = len(ra)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    if va == 0 or vb == 0:
        return 1.0 if ra == rb else float("nan")
    return cov / (va * vb) ** 0.5


def removal_order(scores: list[list[float]]) -> list[tuple[int, int]]:
    """Every (layer, head), lowest score first, ties by (layer, head): heads.rank_heads."""
    cells = [(v, layer, head) for layer, row in enumerate(scores) for head, v in enumerate(row)]
    return [(layer, head) for _, layer, head in sorted(cells)]


def ranked_scores(raw: list[list[float]], score: str = "gradient") -> list[float]:
    """The scores the ranking orders by, flattened: per layer (the min-max step does not
    change the order, so Spearman does not need it); iterative positions and Shapley
    values as they are."""
    rows = raw if score in ORDERED else per_layer(raw)
    return [v for row in rows for v in row]


@dataclass
class Correlation:
    context: Context
    method: str
    langs: list[str]  # the rows and columns: languages, or ranking methods
    matrix: list[list[float]]
    between: str = "languages"  # or "methods": `method` is then the ranked language

    def slug(self) -> str:
        extra = "_methods" if self.between == "methods" else ""
        return slugify(f"{self.context.slug()}_{self.method}{extra}")

    def title(self) -> str:
        if self.between == "methods":
            return f"{self.context.title()}: Spearman between ranking methods ({self.method})"
        return f"{self.context.title()}: Spearman of {self.method} head rankings"


def correlations(files: list[ScoreFile]) -> list[Correlation]:
    out = []
    for (context, method), per_lang in sorted(by_language(files).items(), key=lambda kv: kv[0]):
        langs = list(per_lang)
        if len(langs) < 2:
            continue
        flat = {g: ranked_scores(per_lang[g].raw, per_lang[g].score) for g in langs}
        if len({len(v) for v in flat.values()}) != 1:
            continue  # different architectures: nothing to correlate
        matrix = [[1.0 if a == b else spearman(flat[a], flat[b]) for b in langs] for a in langs]
        out.append(Correlation(context, method, langs, matrix))
    return out + method_correlations(files)


def method_correlations(files: list[ScoreFile]) -> list[Correlation]:
    """Per (context, language): Spearman between the rankings of different methods of the
    same fine-tuned recipe (gradient at each granularity, iterative, Shapley, TextPruner)."""
    groups: dict[tuple, dict[str, ScoreFile]] = {}
    for f in files:
        groups.setdefault((f.context, f.lang), {}).setdefault(f.method, f)
    out = []
    for (context, lang), per_method in sorted(groups.items(), key=lambda kv: kv[0]):
        names = sorted(per_method)
        if len(names) < 2:
            continue
        flat = {m: ranked_scores(per_method[m].raw, per_method[m].score) for m in names}
        if len({len(v) for v in flat.values()}) != 1:
            continue
        matrix = [[1.0 if a == b else spearman(flat[a], flat[b]) for b in names] for a in names]
        out.append(Correlation(context, lang, names, matrix, between="methods"))
    return out


def write_correlation_csv(c: Correlation, path: Path) -> Path:
    return write_csv(
        path, ["lang", *c.langs], [[a, *row] for a, row in zip(c.langs, c.matrix, strict=True)]
    )


def correlation_figure(c: Correlation, path: Path) -> Path:
    plt = pyplot()
    n = len(c.langs)
    fig, ax = plt.subplots(figsize=(1.6 + 0.8 * n, 1.2 + 0.7 * n))
    finite = [v for row in c.matrix for v in row if v == v]
    image = ax.imshow(c.matrix, cmap="viridis", vmin=min([0.0, *finite]), vmax=1.0)
    ax.set_xticks(range(n), c.langs)
    ax.set_yticks(range(n), c.langs)
    for i, row in enumerate(c.matrix):
        for j, value in enumerate(row):
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value < 0.6 else "black",
            )
    ax.set_title(c.title(), fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return save_figure(fig, path)
