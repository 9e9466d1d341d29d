"""A grid of panels and its PNG bytes, for the studies' figures.

The Agg canvas directly, not pyplot: no global backend state, safe in any process.  matplotlib is
imported only when a figure is drawn.
"""

from __future__ import annotations

import io
import math


def panel_grid(count: int, width: float, height: float):
    """A constrained-layout figure of ``count`` panels (at most 3 a row, each ``width``×``height``
    inches) and its axes, flat; the unused ones are hidden."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = min(3, max(count, 1))
    nrows = max(1, math.ceil(count / ncols))
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes


def png_bytes(fig, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
