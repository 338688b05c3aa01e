"""index.html: the whole report on one self-contained page (inline CSS, tables as HTML,
figures by relative path), so it opens from disk in any browser."""

import html
from dataclasses import dataclass, field

from xlprune.report.table import Table, html_table

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.avg td{font-weight:600;background:#fafafa}
p.note{font-size:12px;color:#555;margin:.2em 0}img{max-width:100%;border:1px solid #eee}
figure{display:inline-block;margin:.5em;vertical-align:top}figcaption{font-size:12px;color:#555}
.problems{background:#fff4e5;border:1px solid #f0c36d;padding:.5em 1em}
.warnings{background:#fdecea;border:1px solid #e57373;padding:.5em 1em}
nav a{margin-right:1em}
"""


@dataclass
class Figure:
    path: str  # relative to the report folder
    caption: str


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (relative path, text)
    html: str = ""  # a trusted fragment built by the report itself (the interactive view)


def render(
    title: str,
    summary: list[str],
    problems: list[str],
    sections: list[Section],
    warnings: list[str] = (),
) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "".join(f"<p>{esc(line)}</p>" for line in summary),
    ]
    if warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
        parts.append(
            f'<details class="warnings" open><summary><b>Models that did not learn '
            f"({len(warnings)} warning{'s' if len(warnings) != 1 else ''}): those jobs' "
            "scores mean nothing</b></summary>"
            f"<ul>{items}</ul></details>"
        )
    if problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in problems)
        is_open = " open" if len(problems) <= 10 else ""
        parts.append(
            f'<details class="problems"{is_open}><summary><b>Missing or left out '
            f"({len(problems)})</b></summary><ul>{items}</ul></details>"
        )
    shown = [s for s in sections if s.tables or s.figures or s.links or s.intro or s.html]
    parts.append(
        "<nav>" + "".join(f'<a href="#{s.key}">{esc(s.title)}</a>' for s in shown) + "</nav>"
    )
    for s in shown:
        parts.append(f'<h2 id="{esc(s.key)}">{esc(s.title)}</h2>')
        if s.intro:
            parts.append(f"<p>{esc(s.intro)}</p>")
        parts += [html_table(t) for t in s.tables]
        if s.html:
            parts.append(s.html)
        for f in s.figures:
            src = esc(f.path, quote=True)
            parts.append(
                f'<figure><a href="{src}"><img src="{src}" alt="{esc(f.caption)}"></a>'
                f"<figcaption>{esc(f.caption)}</figcaption></figure>"
            )
        if s.links:
            items = "".join(
                f'<li><a href="{esc(path, quote=True)}">{esc(text)}</a></li>'
                for path, text in s.links
            )
            parts.append(f"<ul>{items}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
