"""The results chart for the docs: one PNG drawn from a saved results document.

For every scenario measured unpinned, one group of horizontal bars: the cost of each
(implementation, loop) relative to plain asyncio on the same loop, so 1.0 is asyncio,
left of it is faster and right of it slower (the same cost ratio as the tables' "vs
asyncio" column). Scenarios without an asyncio row are drawn against the raw limit
instead, and say so in their label.

matplotlib is imported only here (it is in the ``dev`` extra that ``make bench``
installs); the rest of the suite does not need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._report import cost_ratio, measured

#: Bar colours per (implementation, loop); anything else gets grey.
COLOURS = {
    ("aioipc", "asyncio"): "#1f77b4",
    ("aioipc", "uvloop"): "#0b3d91",
    ("anyio", "asyncio"): "#ff7f0e",
    ("anyio", "uvloop"): "#c25100",
    ("anyio-unix", "asyncio"): "#f2b880",
    ("anyio-unix", "uvloop"): "#d98b3a",
}


def draw(document: dict[str, Any], path: Path, pinning: str = "off") -> Path:
    """Draw the chart of ``document``'s ``pinning`` results into ``path`` (PNG).

    Raises:
        ValueError: the document has no results for ``pinning``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: list[tuple[str, list[tuple[str, float]]]] = []
    for scenario, results, limit, baseline in measured(document, pinning):
        bars = []
        against = "asyncio" if baseline else "raw"
        for r in results:
            impl = document["implementations"][r["implementation"]]
            if impl["role"] in ("limit", "baseline") or r["loop"] is None:
                continue
            reference = baseline.get(r["loop"]) if baseline else limit
            ratio = cost_ratio(r["median"], reference, scenario["higher_is_better"])
            if ratio is not None:
                bars.append((f"{r['implementation']} on {r['loop']}", ratio))
        if bars:
            rows.append((f"{scenario['title']} (vs {against})", bars))
    if not rows:
        raise ValueError(f"no {pinning} results to draw")

    labels = sorted({label for _, bars in rows for label, _ in bars})
    height = 0.8 / len(labels)
    figure, axes = plt.subplots(figsize=(12, 0.42 * len(rows) + 1.5))
    for index, label in enumerate(labels):
        impl, _, loop = label.partition(" on ")
        ys, widths = [], []
        for position, (_, bars) in enumerate(rows):
            for bar_label, ratio in bars:
                if bar_label == label:
                    ys.append(position + index * height)
                    widths.append(ratio)
        axes.barh(ys, widths, height=height, label=label, color=COLOURS.get((impl, loop), "grey"))
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_yticks([p + 0.4 - height / 2 for p in range(len(rows))])
    axes.set_yticklabels([title for title, _ in rows], fontsize=7)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("cost relative to plain asyncio on the same loop (lower is better; log scale)")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    machine = document["machine"]
    axes.set_title(
        f"aioipc benchmarks, {pinning} pinning — {machine['cpu_model']}, "
        f"{machine['nproc']} CPUs, {document['started_at']}",
        fontsize=8,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
