"""The project's figures: one size, headless matplotlib, written atomically as PNG.

A bottom-layer helper beside :mod:`.fileio`: the run report, the cost report and the annotator evaluation all
draw with it, and none of them should have to import another to do so.
"""
from pathlib import Path
from typing import Any, Tuple

from .fileio import atomic_path


def new_figure() -> Tuple[Any, Any]:
    """``(fig, ax)`` of the project's size, with the non-interactive backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 4.5))


def save_figure(fig: Any, ax: Any, path: Path, *, xlabel: str, ylabel: str, title: str, legend_size: int = 8) -> None:
    """Label the axes, add the grid and legend, and write ``path`` (PNG, 120 dpi) atomically; close the figure."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
