"""The distribution as a PNG: records per member under the current and the new config, side by side."""

from __future__ import annotations

from pathlib import Path

from baton.assignment.simulate.run import Simulation, counts_table
from kernel.errors import InputError

BAR_WIDTH = 0.4
INCHES_PER_MEMBER = 0.5


def plot_distribution(simulation: Simulation, path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'baton[plot]'") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    rows = counts_table(simulation)
    labels = [str(row["name"] or row["member_id"]) for row in rows]
    positions = range(len(rows))
    figure, axes = pyplot.subplots(figsize=(max(6.0, INCHES_PER_MEMBER * len(rows) + 2), 4.5))
    try:
        axes.bar([p - BAR_WIDTH / 2 for p in positions], [row["current"] for row in rows], BAR_WIDTH,
                 label="current config")
        axes.bar([p + BAR_WIDTH / 2 for p in positions], [row["new"] for row in rows], BAR_WIDTH,
                 label="new config")
        axes.set_xticks(list(positions), labels, rotation=45, ha="right")
        axes.set_ylabel("records")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(f"Records per member ({simulation.records} records)")
        axes.legend()
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        pyplot.close(figure)
