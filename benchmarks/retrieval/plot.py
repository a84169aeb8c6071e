"""Plot recall@k curves per retriever (overall group) with matplotlib on the Agg backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def plot_recall_curves(
    groups_by_retriever: Mapping[str, Mapping[str, Mapping[str, Any]]],
    ks: Sequence[int],
    title: str,
    path: Path,
    group: str = "overall",
) -> None:
    """Write a PNG of recall@k (solid) and all-found@k (dashed) against k, one colour each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for colour, (retriever, groups) in zip(
        plt.rcParams["axes.prop_cycle"].by_key()["color"], groups_by_retriever.items(), strict=False
    ):
        scores = groups.get(group)
        if not scores:
            continue
        recall = [scores[f"recall@{k}"] for k in ks]
        all_found = [scores[f"all_found@{k}"] for k in ks]
        axes.plot(ks, recall, marker="o", color=colour, label=f"{retriever} recall@k")
        axes.plot(
            ks,
            all_found,
            marker="x",
            linestyle="--",
            color=colour,
            label=f"{retriever} all found@k",
        )
    axes.set_xscale("log")
    axes.set_xticks(list(ks), [str(k) for k in ks])
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel("k (memories retrieved)")
    axes.set_ylabel(f"{group} score (categories 1-4)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
