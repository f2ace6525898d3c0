"""Figures of the report. Each function takes numbers already computed by a section and returns
a matplotlib Figure; none computes statistics and none saves (render.py writes every file)."""

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

MARKERS = "osD^v<>pPX*h"
TILE_GAP = (14, 4)  # mosaic rows and columns between images (room for a two-line caption)


def subplots(*grid, figsize, layout=None, **options):
    """(Figure, axes) as pyplot.subplots gives them, without pyplot: the report only saves its
    figures (Figure.savefig draws with Agg), so pyplot's global figure manager is not needed."""
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(*grid, **options)


def heatmap(ax, values, rows, columns, fmt, vmin=None, vmax=None, cmap="viridis"):
    """Draw `values` (r, c) on `ax` with its numbers written in, rows and columns labelled; white
    text on dark cells. Returns the image (for a colour bar)."""
    finite = values[np.isfinite(values)]
    lo = vmin if vmin is not None else (finite.min() if finite.size else 0.0)
    hi = vmax if vmax is not None else (finite.max() if finite.size else 1.0)
    image = ax.imshow(values, cmap=cmap, aspect="auto", vmin=lo, vmax=hi)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            red, green, blue, _ = image.cmap(image.norm(v))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            ax.text(
                j,
                i,
                format(v, fmt),
                ha="center",
                va="center",
                fontsize=6,
                color="white" if dark else "black",
            )
    return image


def panel_grid(rows, width, height, layout=None):
    """(Figure, [[axes of row i]]): one row of axes per entry of `rows` (lists of panels), as
    many columns as the longest row, each axes `width` x `height` inches; a shorter row leaves
    its last places empty (no axes is made there: each costs as much to build as to draw)."""
    columns = max(map(len, rows))
    fig = Figure(figsize=(width * columns, height * len(rows)), layout=layout)
    grid = fig.add_gridspec(len(rows), columns)
    return fig, [
        [fig.add_subplot(grid[i, j]) for j in range(len(row))] for i, row in enumerate(rows)
    ]


def interaction_figure(title, rows):
    """One heatmap per panel, a row of panels per entry of `rows`, all on one colour scale (from
    the 10th percentile of the cells, so that one collapsed cell does not flatten the rest;
    lower cells take the bottom colour). rows: [[(panel title, DataFrame of values indexed by
    row level, columns by column level)]]."""
    values = [frame.to_numpy(float) for row in rows for _, frame in row]
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    vmin, vmax = (np.percentile(finite, 10), finite.max()) if finite.size else (0.0, 1.0)
    fig, axes = panel_grid(rows, 3.2, 3.1)
    drawn = list(
        zip([ax for line in axes for ax in line], [panel for row in rows for panel in row], values)
    )
    for ax, (name, frame), v in drawn:
        image = heatmap(ax, v, list(frame.index), list(frame.columns), ".1f", vmin, vmax)
        ax.set_ylabel(frame.index.name or "", fontsize=8)
        ax.set_xlabel(frame.columns.name or "", fontsize=8)
        ax.set_title(name, fontsize=9)
    width, height = fig.get_size_inches()  # margins in inches (constrained layout costs more)
    fig.subplots_adjust(
        left=1.1 / width,
        right=1 - 0.9 / width,
        bottom=1.0 / height,
        top=1 - 0.55 / height,
        wspace=0.55,
        hspace=0.6,
    )
    fig.colorbar(
        image, ax=[ax for ax, _, _ in drawn], fraction=0.03, label="test acc %", extend="min"
    )
    fig.suptitle(title)
    return fig


def band_figure(title, rows, xlabel, ylabel, ylim=None):
    """Lines with shaded bands, one axes per panel, a row of panels per entry of `rows`.
    rows: [[(panel title, [(label, x, mean, low, high)])]]; a band that is all nan (one seed)
    is left out."""
    fig, axes = panel_grid(rows, 4.0, 3.0)
    for line, row in zip(axes, rows):
        for ax, (name, lines) in zip(line, row):
            for label, x, mean, low, high in lines:
                ax.plot(x, mean, label=str(label))
                if np.isfinite(low).any():
                    ax.fill_between(x, low, high, alpha=0.2)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(name, fontsize=9)
            ax.legend(fontsize=7)
            if ylim is not None:
                ax.set_ylim(*ylim)
    fig.suptitle(title)
    width, height = fig.get_size_inches()  # margins in inches, whatever the number of panels
    fig.subplots_adjust(
        left=0.7 / width,
        right=1 - 0.15 / width,
        bottom=0.5 / height,
        top=1 - 0.7 / height,
        wspace=0.25,
        hspace=0.5,
    )
    return fig


def cost_figure(title, points, colour_by, marker_by, front):
    """Accuracy against training time, coloured by `colour_by` and marked by `marker_by` (None:
    one marker), with the Pareto front outlined. points: DataFrame with train_time_s, acc and
    the two factor columns; front: DataFrame (train_time_s, acc) in time order."""
    fig, ax = subplots(figsize=(7.5, 4.4))
    colours = list(dict.fromkeys(points[colour_by])) if colour_by else [None]
    markers = list(dict.fromkeys(points[marker_by])) if marker_by else [None]
    cmap = colormaps["tab10"]
    for i, colour in enumerate(colours):
        for j, marker in enumerate(markers):
            part = points[
                ((points[colour_by] == colour) if colour_by else True)
                & ((points[marker_by] == marker) if marker_by else True)
            ]
            ax.scatter(
                part["train_time_s"],
                part["acc"],
                s=18,
                alpha=0.75,
                color=cmap(i % 10),
                marker=MARKERS[j % len(MARKERS)],
            )
    ax.plot(front["train_time_s"], front["acc"], "k-", lw=1)
    legends = [
        (
            colour_by,
            [
                Line2D([], [], ls="", marker="o", color=cmap(i % 10), label=str(c))
                for i, c in enumerate(colours)
            ],
        ),
        (
            marker_by,
            [
                Line2D([], [], ls="", marker=MARKERS[j % len(MARKERS)], color="grey", label=str(m))
                for j, m in enumerate(markers)
            ],
        ),
    ]
    legends.append(("", [Line2D([], [], color="k", lw=1, label="Pareto front")]))
    top = 1.0
    for name, handles in legends:
        if name is None:
            continue
        legend = ax.legend(
            handles=handles,
            title=name or None,
            fontsize=7,
            title_fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.01, top),
            borderaxespad=0,
        )
        ax.add_artist(legend)
        top -= 0.06 * (len(handles) + 1.5)
    ax.set_xlabel("train time per run (s)")
    ax.set_ylabel("test acc %")
    if len(points):
        ax.set_ylim(np.nanpercentile(points["acc"], 10) - 2, np.nanmax(points["acc"]) + 0.5)
    ax.set_title(title)
    fig.subplots_adjust(left=0.09, right=0.78, bottom=0.12, top=0.92)  # room for the legends
    return fig


def confusion_figure(title, matrix, class_names):
    """Counts heatmap of a confusion matrix (rows true, columns predicted), log colour scale
    so that the off-diagonal errors stay visible next to the diagonal."""
    fig, ax = subplots(figsize=(6, 5))
    heatmap(ax, np.log10(1 + matrix.astype(float)), class_names, class_names, ".0f", cmap="Blues")
    for text, count in zip(ax.texts, matrix.ravel()):
        text.set_text(str(int(count)))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.subplots_adjust(left=0.2, right=0.97, bottom=0.2, top=0.93)
    return fig


def image_grid(title, images, captions, shape):
    """Up to 16 images (each reshaped to `shape`) in 2 rows of 8, each with its caption above:
    one mosaic on one axes (16 axes cost ten times as much to build and draw)."""
    rows, columns = 2, 8
    (height, width), (gap_y, gap_x) = shape, TILE_GAP
    cell_y, cell_x = height + gap_y, width + gap_x
    mosaic = np.full((rows * cell_y, columns * cell_x), np.nan)
    fig, ax = subplots(figsize=(10, 3.6))
    for k, (image, caption) in enumerate(zip(images, captions)):
        top, left = (k // columns) * cell_y + gap_y, (k % columns) * cell_x + gap_x // 2
        mosaic[top : top + height, left : left + width] = np.asarray(image, float).reshape(shape)
        ax.text(left + width / 2, top - 1, caption, ha="center", va="bottom", fontsize=7)
    ax.imshow(mosaic, cmap=colormaps["gray_r"].with_extremes(bad="white"), interpolation="nearest")
    ax.axis("off")
    fig.suptitle(title)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.86)
    return fig


def sensitivity_figure(title, panels, xlabel, ylabel):
    """Lines with markers on a log x axis, one axis per panel. panels: [(panel title,
    [(label, x, y)])]; nan y (every trial diverged) leaves a gap."""
    fig, axes = subplots(
        1, len(panels), figsize=(3.6 * len(panels), 3.4), squeeze=False, sharey=True
    )
    for ax, (name, lines) in zip(axes[0], panels):
        ticks = sorted({float(v) for _, x, _ in lines for v in x})
        for j, (label, x, y) in enumerate(lines):
            ax.plot(x, y, marker=MARKERS[j % len(MARKERS)], ms=4, label=str(label))
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{v:g}" for v in ticks], fontsize=7)
        ax.minorticks_off()
        ax.set_xlabel(xlabel)
        ax.set_title(name, fontsize=9)
        if any(str(label) for label, _, _ in lines):  # one unnamed line needs no legend
            ax.legend(fontsize=7)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title)
    width = 3.6 * len(panels)
    fig.subplots_adjust(left=0.7 / width, right=1 - 0.15 / width, bottom=0.16, top=0.84, wspace=0.1)
    return fig


def spread_figure(title, panels, ylabel):
    """Per panel, one point per source with its interval as an error bar and a dashed line at
    a reference value. panels: [(panel title, sources, values, lows, highs, reference,
    reference label)]."""
    width = max(4.2 * len(panels), 6.0)
    fig, axes = subplots(1, len(panels), figsize=(width, 3.4), squeeze=False, sharey=True)
    for ax, (name, sources, values, lows, highs, reference, label) in zip(axes[0], panels):
        values, lows, highs = (np.asarray(v, float) for v in (values, lows, highs))
        x = np.arange(len(sources))
        errors = np.nan_to_num(np.vstack([values - lows, highs - values]))
        ax.errorbar(x, values, yerr=errors, fmt="o", capsize=3)
        ax.axhline(reference, color="grey", ls="--", lw=1, label=label)
        ax.set_xticks(x, sources)
        ax.set_xlim(-0.5, len(sources) - 0.5)
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title)
    fig.subplots_adjust(left=0.7 / width, right=1 - 0.15 / width, bottom=0.14, top=0.84, wspace=0.1)
    return fig


def forest_figure(title, rows, xlabel):
    """A forest plot, one row per contrast, top to bottom: each cell's difference with its
    seed-noise interval (grey, spread over the row's height), the average over these settings
    with its interval (black diamond) and the across-settings interval over cells (blue bar),
    the verdict written at the right. rows: [(label, cells [(mean, low, high)], (mean, low,
    high) over these settings, (low, high) across settings, verdict)]."""
    height = 0.42 * len(rows) + 1.3
    fig, ax = subplots(figsize=(10, height))
    segments, dots = [], []  # every cell's interval in one polyline (nan-separated), one call
    for i, (_, cells, (mean, low, high), (across_low, across_high), verdict) in enumerate(rows):
        y = len(rows) - 1 - i
        offsets = np.linspace(-0.3, 0.3, len(cells)) if len(cells) > 1 else [0.0]
        for dy, (cell_mean, cell_low, cell_high) in zip(offsets, cells):
            segments += [(cell_low, y + dy), (cell_high, y + dy), (np.nan, np.nan)]
            dots.append((cell_mean, y + dy))
        if np.isfinite(across_low):
            ax.plot(
                [across_low, across_high],
                [y - 0.38] * 2,
                color="tab:blue",
                lw=2.5,
                solid_capstyle="butt",
            )
        ax.plot([low, high], [y] * 2, color="k", lw=1.5)
        ax.annotate(verdict, (1.01, y), xycoords=("axes fraction", "data"), fontsize=7, va="center")
    if segments:
        ax.plot(*np.asarray(segments, float).T, color="0.75", lw=0.8)
        ax.plot(*np.asarray(dots, float).T, "o", color="0.55", ms=2.5)
    ax.plot([r[2][0] for r in rows], np.arange(len(rows))[::-1], "D", color="k", ms=5)
    ax.axvline(0, color="grey", ls="--", lw=1)
    ax.set_yticks(range(len(rows)), [row[0] for row in reversed(rows)], fontsize=7)
    ax.set_ylim(-0.8, len(rows) - 0.4)
    ax.set_xlabel(xlabel)
    ax.plot([], [], "D", color="k", ms=5, label="over these settings, 95% CI")
    ax.plot([], [], color="tab:blue", lw=2.5, label="across settings, 95% CI over cells")
    ax.plot([], [], "o-", color="0.6", ms=2.5, lw=0.8, label="each cell, seed-noise 95% CI")
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False)
    ax.set_title(title, fontsize=10, pad=22)
    fig.subplots_adjust(left=0.24, right=0.74, bottom=0.9 / height, top=1 - 0.75 / height)
    return fig
