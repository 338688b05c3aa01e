"""A report table as data (typed cells keep the raw numbers) and its renderings: Markdown,
LaTeX, HTML and CSV. Scores are 0-1 everywhere (terminal, files, page, W&B), shown with
four decimals: the precision of the paper's x100 numbers with two."""

import html
from dataclasses import dataclass, field


class Score(float):
    """A metric value in [0, 1]."""


class Delta(float):
    """A difference of two scores, shown with a sign."""


class Heads(float):
    """A number of heads; an average of them gets one decimal."""


def text(cell) -> str:
    if cell is None:
        return "-"
    if isinstance(cell, Delta):
        return f"{cell:+.4f}"
    if isinstance(cell, Score):
        return f"{cell:.4f}"
    if isinstance(cell, Heads):
        return f"{cell:.0f}" if float(cell).is_integer() else f"{cell:.1f}"
    if isinstance(cell, float):
        return f"{cell:.4g}"
    return str(cell)


def raw(cell):
    return float(cell) if isinstance(cell, float) else cell


@dataclass
class Table:
    key: str  # file-safe name
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    group: str = ""  # the report section it belongs to
    labels: int = 2  # leading columns that name a row (source, target, ...)


def markdown(table: Table) -> str:
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    out = [f"### {table.title}", "", line(table.columns), line(["---"] * len(table.columns))]
    out += [line([text(c) for c in row]) for row in table.rows]
    out += [""] + [f"*{note}*" for note in table.notes]
    return "\n".join(out) + "\n"


LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(value: str) -> str:
    return "".join(LATEX_ESCAPES.get(c, c) for c in value)


def latex(table: Table) -> str:
    """A booktabs table; numbers right-aligned."""
    align = "".join("l" if i < table.labels else "r" for i in range(len(table.columns)))
    out = [
        "\\begin{table}[ht]",
        "\\centering\\small",
        f"\\begin{{tabular}}{{{align}}}",
        "\\toprule",
        " & ".join(tex_escape(c) for c in table.columns) + " \\\\",
        "\\midrule",
    ]
    for row in table.rows:
        if row and str(row[0]).startswith("average"):
            out.append("\\midrule")
        out.append(" & ".join(tex_escape(text(c)) for c in row) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}"]
    caption = table.title + (". " + " ".join(table.notes) if table.notes else "")
    out += [f"\\caption{{{tex_escape(caption)}}}", f"\\label{{tab:{table.key}}}", "\\end{table}"]
    return "\n".join(out) + "\n"


def html_table(table: Table) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        css = ' class="avg"' if row and str(row[0]).startswith("average") else ""
        cells = "".join(
            f"<td>{esc(text(c))}</td>"
            if i < table.labels
            else f'<td class="num">{esc(text(c))}</td>'
            for i, c in enumerate(row)
        )
        body.append(f"<tr{css}>{cells}</tr>")
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in table.notes)
    return (
        f'<h4 id="{esc(table.key)}">{esc(table.title)}</h4>\n'
        f"<table><thead><tr>{head}</tr></thead>\n<tbody>{''.join(body)}</tbody></table>\n"
        f"{notes}\n"
    )


def long_rows(tables: list[Table]) -> tuple[list[str], list[list]]:
    """Every number of every table, one row each, raw (full precision): table, its title, the row's
    labels joined by ' / ', the column, the value."""
    header = ["table", "title", "row", "column", "value"]
    rows = []
    for table in tables:
        for row in table.rows:
            label = " / ".join(str(c) for c in row[: table.labels] if c not in (None, ""))
            for column, cell in zip(
                table.columns[table.labels :], row[table.labels :], strict=False
            ):
                rows.append([table.key, table.title, label, column, raw(cell)])
    return header, rows
