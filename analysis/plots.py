"""Matplotlib figures for the analyses; each writes ``STEM.png``, ``STEM.pdf`` and ``STEM.csv``.

The CSV holds exactly the numbers drawn. Matplotlib is imported inside the functions and used
through the object-oriented API on an Agg canvas (no pyplot, no global backend switch), so
importing this module is cheap and safe in headless processes.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from natsbench.errors import QueryError

log = logging.getLogger(__name__)

DPI = 150


def _new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] = (5.0, 3.8)) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _styles(n: int) -> list[dict[str, Any]]:
    """``n`` distinct (colour, line style) pairs: tab10 colours, then the same with dashes."""
    from matplotlib import colormaps

    colours = colormaps["tab10"].colors
    dashes = ["-", "--", "-.", ":"]
    return [{"color": colours[i % 10], "linestyle": dashes[(i // 10) % 4]} for i in range(n)]


def _finish_grid(fig, axes, used: int, title: str | None) -> None:
    """Hide the unused panels of a [rows, cols] axes grid and set the figure title."""
    nrows, ncols = axes.shape
    for k in range(used, nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)


def save_figure(fig: Any, out_stem: str | Path, data: pd.DataFrame) -> list[Path]:
    """Write ``out_stem`` + ``.png``/``.pdf`` (the figure) and ``.csv`` (``data``)."""
    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ext) for ext in (".png", ".pdf", ".csv")]
    fig.savefig(paths[0], dpi=DPI)
    fig.set_layout_engine("none")  # keep the layout just computed; the PDF does not redo it
    fig.savefig(paths[1], metadata={"CreationDate": None})
    data.to_csv(paths[2], index=False)
    log.info("wrote %s.{png,pdf,csv}", stem)
    return paths


def plot_profiles(profile: pd.DataFrame, out_stem: str | Path, *, log10: bool = False,
                  title: str | None = None, highlight: Sequence[str] = ()) -> list[Path]:
    """Step plot of ``rho_s(tau)`` (``profile``: index tau, one column per solver).

    With ``log10`` the x axis is ``log10(tau)``. Solvers in ``highlight`` are drawn thicker.
    """
    fig, axes = _new_figure(size=(6.0, 4.2))
    ax = axes[0, 0]
    taus = profile.index.to_numpy(dtype=np.float64)
    xs = np.log10(taus) if log10 else taus
    for name, style in zip(profile.columns, _styles(len(profile.columns))):
        ax.step(xs, profile[name].to_numpy(), where="post", label=str(name),
                linewidth=2.6 if name in highlight else 1.4, **style)
    ax.set_xlabel("log10 τ" if log10 else "τ")
    ax.set_ylabel("fraction of tasks with ratio ≤ τ")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(xs.min(), xs.max())
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    if title:
        ax.set_title(title, fontsize=10)
    data = profile.reset_index().rename(columns={"index": "tau"})
    if log10:
        data.insert(1, "log10_tau", xs)
    return save_figure(fig, out_stem, data)


def plot_edfs(curves: pd.DataFrame, out_stem: str | Path, *, group: str = "group",
              xlabel: str = "error (%)", title: str | None = None) -> list[Path]:
    """EDF curves (``curves``: columns ``group, x, F`` and optionally ``lo, hi`` bands)."""
    fig, axes = _new_figure()
    ax = axes[0, 0]
    names = list(dict.fromkeys(curves[group]))
    for (name, sub), style in zip(curves.groupby(group, sort=False), _styles(len(names))):
        line, = ax.step(sub["x"], sub["F"], where="post", label=str(name), **style)
        if {"lo", "hi"} <= set(sub.columns):
            ax.fill_between(sub["x"], sub["lo"], sub["hi"], step="post", alpha=0.2,
                            color=line.get_color(), linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cumulative fraction of models")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, out_stem, curves)


def box_stats(frame: pd.DataFrame, *, value: str, group: str) -> pd.DataFrame:
    """Per-group ``n, mean, min, q1, median, q3, max`` and 1.5 IQR whisker ends."""
    rows = []
    for name, sub in frame.groupby(group, sort=False):
        v = sub[value].to_numpy(dtype=np.float64)
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        iqr = q3 - q1
        inside = v[(v >= q1 - 1.5 * iqr) & (v <= q3 + 1.5 * iqr)]
        rows.append({group: name, "n": v.size, "mean": v.mean(), "min": v.min(), "q1": q1,
                     "median": med, "q3": q3, "max": v.max(),
                     "whisker_lo": inside.min(), "whisker_hi": inside.max()})
    return pd.DataFrame(rows)


def plot_boxes(frame: pd.DataFrame, out_stem: str | Path, *, value: str, group: str,
               ylabel: str | None = None, title: str | None = None) -> list[Path]:
    """Box plot of ``frame[value]`` per ``frame[group]`` (1.5 IQR whiskers); CSV = box stats."""
    stats = box_stats(frame, value=value, group=group)
    fig, axes = _new_figure()
    ax = axes[0, 0]
    data = [sub[value].to_numpy(dtype=np.float64) for _, sub in frame.groupby(group, sort=False)]
    ax.boxplot(data, whis=1.5)
    ax.set_xticks(range(1, len(data) + 1), [str(g) for g in stats[group]])
    ax.set_ylabel(ylabel or value)
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, out_stem, stats)


def plot_anytime(summary: pd.DataFrame, out_stem: str | Path, *, xlabel: str = "simulated time (s)",
                 ylabel: str = "test accuracy (%)", title: str | None = None) -> list[Path]:
    """One panel per ``(space, dataset)``, one mean line + band per algorithm
    (``summary`` from :func:`analysis.anytime.summarize`)."""
    panels = list(summary.groupby(["space", "dataset"], sort=True))
    if not panels:
        raise QueryError("empty anytime summary: nothing to plot")
    ncols = min(3, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = _new_figure(nrows, ncols, size=(4.6, 3.6))
    for k, ((space, dataset), sub) in enumerate(panels):
        ax = axes[k // ncols, k % ncols]
        algs = sorted(summary["algorithm"].unique())
        styles = dict(zip(algs, _styles(len(algs))))
        for alg, cur in sub.groupby("algorithm", sort=True):
            line, = ax.plot(cur["x"], cur["mean"], label=str(alg), linewidth=1.5, **styles[alg])
            ax.fill_between(cur["x"], cur["lo"], cur["hi"], alpha=0.2, color=line.get_color(),
                            linewidth=0)
        ax.set_title(f"{space} / {dataset}", fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    _finish_grid(fig, axes, len(panels), title)
    return save_figure(fig, out_stem, summary)


def plot_cost_accuracy(frame: pd.DataFrame, out_stem: str | Path, *,
                       panels: Sequence[tuple[str, str]], title: str | None = None,
                       labels: dict[str, str] | None = None) -> list[Path]:
    """Scatter of accuracy vs cost with the Pareto front, one panel per ``(cost, acc)`` pair.

    ``frame`` has one row per arch (index = arch). The CSV holds the columns used plus one
    bool column ``pareto:<cost>:<acc>`` per panel.
    """
    from analysis.benchmark_analysis import pareto_front

    labels = labels or {}
    data = frame[sorted({c for pair in panels for c in pair}, key=list(frame.columns).index)].copy()
    ncols = min(2, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = _new_figure(nrows, ncols, size=(4.6, 3.6))
    for k, (cost, acc) in enumerate(panels):
        ax = axes[k // ncols, k % ncols]
        mask = pareto_front(data[cost].to_numpy(), data[acc].to_numpy())
        data[f"pareto:{cost}:{acc}"] = mask
        ax.scatter(data[cost], data[acc], s=3, alpha=0.35, color="tab:blue", rasterized=True,
                   label="architectures")
        front = data[mask].sort_values(cost)
        ax.step(front[cost], front[acc], where="post", color="tab:red", linewidth=1.4,
                label="Pareto front")
        ax.set_xlabel(labels.get(cost, cost))
        ax.set_ylabel(labels.get(acc, acc))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    _finish_grid(fig, axes, len(panels), title)
    out = data.reset_index()
    out = out.rename(columns={out.columns[0]: "arch"}) if "arch" not in out.columns else out
    return save_figure(fig, out_stem, out)


def plot_ranks(ranks: pd.DataFrame, out_stem: str | Path, *, reference: str,
               title: str | None = None) -> list[Path]:
    """Rank on each other column vs rank on ``reference`` (Fig. 5.2); CSV = the ranks."""
    fig, axes = _new_figure(size=(5.6, 4.2))
    ax = axes[0, 0]
    x = ranks[reference].to_numpy()
    ax.plot(x, x, color="black", linewidth=1.0, label=str(reference))
    for name in ranks.columns:
        if name != reference:
            ax.scatter(x, ranks[name], s=2, alpha=0.4, label=str(name), rasterized=True)
    ax.set_xlabel(f"rank on {reference}")
    ax.set_ylabel("rank")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", markerscale=4)
    if title:
        ax.set_title(title, fontsize=10)
    out = ranks.reset_index()
    out = out.rename(columns={out.columns[0]: "arch"}) if "arch" not in out.columns else out
    return save_figure(fig, out_stem, out)


def plot_correlation_matrix(corr: pd.DataFrame, out_stem: str | Path, *,
                            title: str | None = None) -> list[Path]:
    """Annotated heat map of a square correlation matrix; CSV = the matrix (first column = row)."""
    k = len(corr.columns)
    fig, axes = _new_figure(size=(1.0 + 0.9 * k, 0.6 + 0.8 * k))
    ax = axes[0, 0]
    im = ax.imshow(corr.to_numpy(dtype=np.float64), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(k), [str(c) for c in corr.columns], rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(k), [str(c) for c in corr.index], fontsize=7)
    for i in range(k):
        for j in range(k):
            val = corr.iat[i, j]
            ax.text(j, i, "nan" if pd.isna(val) else f"{val:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if not pd.isna(val) and abs(val) > 0.6 else "black")
    fig.colorbar(im, ax=ax, shrink=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, out_stem, corr.rename_axis("row").reset_index())


def plot_top_correlations(tidy: pd.DataFrame, out_stem: str | Path, *,
                          title: str | None = None) -> list[Path]:
    """Correlation vs top fraction, one line per (pair, method) (Fig. 5.5)."""
    fig, axes = _new_figure(size=(5.6, 4.0))
    ax = axes[0, 0]
    for (a, b, method), sub in tidy.groupby(["a", "b", "method"], sort=False):
        sub = sub.sort_values("fraction")
        ax.plot(sub["fraction"] * 100, sub["corr"], marker="o", label=f"{a} vs {b} ({method})")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("top archs kept (%)")
    ax.set_ylabel("correlation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, out_stem, tidy)
