"""One static HTML page listing every figure and table of a results folder.

``build_report(results_dir, out_dir)`` walks ``results_dir`` and writes ``out_dir/index.html``:
one section per folder, with its ``*.md`` summaries (rendered: headings, pipe tables,
paragraphs), every PNG figure (linking its PDF and CSV when present), and every other CSV as
an HTML table (first ``max_rows`` rows). Figures' own CSVs are shown folded under the figure.
Links are relative and the page has no external CSS or JavaScript, so it reads offline. When
``out_dir`` differs from ``results_dir`` the files are copied under ``out_dir/files/`` so the
report folder is self-contained.
"""
from __future__ import annotations

import html
import logging
import os
import shutil
from pathlib import Path

import pandas as pd

from natsbench.errors import ConfigError, PathError, check_output

log = logging.getLogger(__name__)

REPORT_FILE = "index.html"
FILES_DIR = "files"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #aaa;margin-top:2em}
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:48%}
figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.85em;color:#444}
table{border-collapse:collapse;font-size:.8em;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
.note{color:#666;font-size:.85em}nav li{font-size:.9em}
details{margin:.3em 0}summary{cursor:pointer;font-size:.85em;color:#245}
"""


def _md_to_html(text: str) -> str:
    """Minimal markdown: ``#`` headings (demoted by two levels), pipe tables, paragraphs."""
    out: list[str] = []
    para: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if para:
            out.append(f"<p>{html.escape(' '.join(para))}</p>")
            para.clear()
        if table:
            rows = [r for r in table if not all(set(c.strip()) <= set("-:") for c in r)]
            head, body = rows[0], rows[1:]
            out.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                                 for r in body) + "</table>")
            table.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            if para:
                flush()
            cells = [c.strip().replace("\\|", "|") for c in
                     stripped[1:-1].replace("\\|", "\x00").split("|")]
            table.append([c.replace("\x00", "|") for c in cells])
            continue
        if table:
            flush()
        if not stripped:
            flush()
        elif stripped.startswith("#"):
            flush()
            level = min(6, len(stripped) - len(stripped.lstrip("#")) + 2)
            out.append(f"<h{level}>{html.escape(stripped.lstrip('#').strip())}</h{level}>")
        else:
            para.append(stripped)
    flush()
    return "\n".join(out)


def _csv_html(path: Path, max_rows: int) -> str:
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError) as exc:
        return f'<p class="note">{html.escape(path.name)}: unreadable CSV ({html.escape(str(exc))})</p>'
    note = ""
    if len(frame) > max_rows:
        note = f'<p class="note">first {max_rows} of {len(frame)} rows</p>'
        frame = frame.head(max_rows)
    return frame.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}",
                         border=0, escape=True) + note


def build_report(results_dir: str | Path, out_dir: str | Path, *, title: str = "natsbench results",
                 max_rows: int = 100) -> Path:
    """Write ``out_dir/index.html`` for everything under ``results_dir``; return its path."""
    results = Path(results_dir).resolve()
    out = Path(out_dir).resolve()
    if not results.is_dir():
        raise PathError(f"results folder {results} " + ("is a file; expected a directory"
                                                         if results.exists() else "does not exist"))
    if max_rows < 0:
        raise ConfigError(f"max_rows must be >= 0, got {max_rows}")
    check_output(out_dir, "report folder", directory=True)
    out.mkdir(parents=True, exist_ok=True)
    copy = out != results
    files = sorted(p for p in results.rglob("*")
                   if p.is_file() and p.suffix.lower() in (".png", ".pdf", ".csv", ".md")
                   and (not copy or out not in p.parents))  # skip a report folder inside results
    if copy:
        # Only copy what the page links to; keep the folder structure.
        for p in files:
            dst = out / FILES_DIR / p.relative_to(results)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dst)

    def href(p: Path) -> str:
        target = out / FILES_DIR / p.relative_to(results) if copy else p
        return html.escape(Path(os.path.relpath(target, out)).as_posix(), quote=True)

    sections: dict[Path, list[Path]] = {}
    for p in files:
        sections.setdefault(p.parent.relative_to(results), []).append(p)
    body: list[str] = [f"<h1>{html.escape(title)}</h1>",
                       f'<p class="note">{len(files)} files from {html.escape(results.name)}/</p>']
    if not files:
        body.append('<p class="note">no figures or tables found</p>')
    nav = ["<nav><ul>"]
    for k, (rel, group) in enumerate(sorted(sections.items(), key=lambda kv: kv[0].as_posix())):
        name = rel.as_posix() if rel.parts else "(top level)"
        nav.append(f'<li><a href="#s{k}">{html.escape(name)}</a></li>')
        body.append(f'<h2 id="s{k}">{html.escape(name)}</h2>')
        stems = {p.with_suffix("") for p in group if p.suffix.lower() == ".png"}
        for p in (q for q in group if q.suffix.lower() == ".md"):
            body.append(_md_to_html(p.read_text(encoding="utf-8")))
        for p in (q for q in group if q.suffix.lower() == ".png"):
            links = [f'<a href="{href(q)}">{q.suffix[1:].upper()}</a>'
                     for q in (p.with_suffix(".pdf"), p.with_suffix(".csv")) if q in group]
            fig = [f'<figure><img src="{href(p)}" alt="{html.escape(p.stem)}">',
                   f"<figcaption>{html.escape(p.stem)} {' '.join(links)}</figcaption>"]
            csv = p.with_suffix(".csv")
            if csv in group:
                fig.append(f"<details><summary>numbers plotted</summary>{_csv_html(csv, max_rows)}</details>")
            body.append("\n".join(fig) + "</figure>")
        for p in (q for q in group if q.suffix.lower() == ".csv" and q.with_suffix("") not in stems):
            body.append(f'<h3>{html.escape(p.name)} <a class="note" href="{href(p)}">CSV</a></h3>')
            body.append(_csv_html(p, max_rows))
    nav.append("</ul></nav>")
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + body[0] + "\n" + body[1] + "\n" + "\n".join(nav) + "\n" + "\n".join(body[2:])
            + "\n</body></html>\n")
    path = out / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    log.info("report: %s (%d files)", path, len(files))
    return path
