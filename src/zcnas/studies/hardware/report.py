"""``pareto_<dataset>.png`` of ``task=hw_study``: per device, test accuracy against latency.

Grey dots: every measured cell; line: the Pareto front; dashed verticals: the latency budgets;
markers: what each search found under each budget (one per repeat).  matplotlib is imported only
when a figure is drawn, and only its Agg canvas (no pyplot state), as in ``zcnas.studies.correlation.report``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zcnas.names import DATASET_NAMES, SEARCH_TITLES
from zcnas.studies.figures import panel_grid, png_bytes

MARKERS = "o^sDv"


@dataclass
class DevicePanel:
    device: str
    cost: np.ndarray  # latency by NATS-Bench index (NaN: not measured)
    accuracy: np.ndarray  # test accuracy by index
    front: np.ndarray  # indices on the Pareto front, by increasing latency
    budgets: list[float]
    #: search label -> (latency, accuracy) of each architecture it found, all budgets together
    found: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def pareto_png(dataset: str, panels: list[DevicePanel], unit: str = "ms") -> bytes:
    fig, axes = panel_grid(len(panels), 4.4, 3.6)
    for ax, p in zip(axes, panels):
        ax.scatter(p.cost, p.accuracy, s=2, c="0.75", linewidths=0, rasterized=True, label="all cells")
        ax.plot(p.cost[p.front], p.accuracy[p.front], drawstyle="steps-post", c="k", lw=1.2, label="Pareto front")
        for b in p.budgets:
            ax.axvline(b, c="tab:red", ls="--", lw=0.8)
        for i, (label, points) in enumerate(p.found.items()):
            if points:
                x, y = np.array(points).T
                ax.scatter(x, y, s=14, marker=MARKERS[i % len(MARKERS)], alpha=0.6, linewidths=0,
                           color=f"C{i}", label=SEARCH_TITLES.get(label, label))
        top = float(np.nanmax(p.accuracy))
        ax.set_ylim(top - 30, top + 1)  # the front and the searches live near the top; ~10% cells would squash them
        ax.set_title(p.device, fontsize=9)
        ax.set_xlabel(f"latency ({unit})")
        ax.set_ylabel("test accuracy (%)")
    if panels:
        axes[0].legend(fontsize=7, loc="lower right", markerscale=1.5)
    fig.suptitle(f"{DATASET_NAMES.get(dataset, dataset)}: accuracy vs latency (HW-NAS-Bench); "
                 "dashed: budgets, markers: searches under them")
    return png_bytes(fig)
