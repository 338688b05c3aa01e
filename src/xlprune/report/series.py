"""Scores as series over k (heads removed or masked): tidy rows grouped by everything
except k and seed, averaged over seeds and repeated jobs. Tables and curves read these."""

import statistics
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Context:
    """What one table or figure is about; data and variant only when they differ."""

    model: str
    task: str
    data: str
    variant: str

    def title(self) -> str:
        extra = ", ".join(x for x in (self.data, self.variant) if x)
        return f"{self.model} {self.task}" + (f" ({extra})" if extra else "")

    def slug(self) -> str:
        return slugify("_".join(x for x in (self.model, self.task, self.data, self.variant) if x))


@dataclass(frozen=True, order=True)
class Line:
    context: Context
    setting: str
    source: str
    method: str  # '' = unpruned (k=0), 'explicit' = hand-given heads
    combine: str
    kind: str  # final (the fine-tuned model) | masked (post-hoc curve point)
    split: str
    lang: str


def slugify(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-." else "_" for c in text)
    return "_".join(p for p in keep.split("_") if p) or "all"


class Series:
    """score[line][k] = mean over seeds; spread[line][k] = (std, n) where n > 1;
    seeds[context] the seeds averaged; heads_total[context] the models' head counts."""

    def __init__(self, rows: list[dict]):
        data = {r["data"] for r in rows}
        values: dict = defaultdict(lambda: defaultdict(list))
        self.seeds: dict = defaultdict(set)
        self.heads_total: dict = defaultdict(set)
        self.data_names: dict = defaultdict(set)  # context -> the data configs it read
        self.metric: dict = {}
        self.targets: dict = defaultdict(list)  # (context, setting, source) -> target langs
        self.job_context: dict = {}  # job label -> its context
        for r in rows:
            context = Context(
                r["model"], r["task"], r["data"] if len(data) > 1 else "", r["variant"]
            )
            self.job_context[r["job"]] = context
            line = Line(
                context,
                r["setting"],
                r["source"],
                r["method"],
                r["combine"],
                r["kind"],
                r["split"],
                r["lang"],
            )
            if isinstance(r["score"], bool) or not isinstance(r["score"], int | float):
                continue
            values[line][r["k"]].append(float(r["score"]))
            self.seeds[context].add(r["seed"])
            if isinstance(r.get("heads_total"), int):
                self.heads_total[context].add(r["heads_total"])
            self.metric[context] = r["metric"]
            self.data_names[context].add(r["data"])
            langs = self.targets[(context, r["setting"], r["source"])]
            if r["role"] == "target" and r["lang"] not in langs:
                langs.append(r["lang"])
        self.score = {
            line: {k: sum(v) / len(v) for k, v in sorted(by_k.items())}
            for line, by_k in values.items()
        }
        # (standard deviation, number of values) where several seeds or runs were averaged
        self.spread = {
            line: {k: (statistics.stdev(v), len(v)) for k, v in sorted(by_k.items()) if len(v) > 1}
            for line, by_k in values.items()
        }

    def contexts(self) -> list[Context]:
        return sorted({line.context for line in self.score})

    def lines(self, context: Context, **match) -> list[Line]:
        return sorted(
            line
            for line in self.score
            if line.context == context and all(getattr(line, f) == v for f, v in match.items())
        )

    def values(self, **fields) -> dict[int, float]:
        return self.score.get(Line(**fields), {})

    def pruned(self, line: Line) -> dict[int, float]:
        """A ranking method's scores at k > 0."""
        return {k: v for k, v in self.score.get(line, {}).items() if k > 0}

    def unpruned_line(self, line: Line) -> Line:
        """The unpruned model of the same setting, source, split and language."""
        return Line(line.context, line.setting, line.source, "", "", "final", line.split, line.lang)

    def unpruned(self, line: Line) -> float | None:
        """The k = 0 score of the same setting, source, split and language."""
        return self.score.get(self.unpruned_line(line), {}).get(0)

    def seed_note(self, context: Context) -> str:
        seeds = sorted(self.seeds.get(context, ()), key=str)
        if len(seeds) > 1:
            return f"mean over seeds {', '.join(map(str, seeds))}"
        return f"seed {seeds[0]}" if seeds else ""
