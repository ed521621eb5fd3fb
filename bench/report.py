"""The one last line every bench prints, ``name: ratio X (goal Y)``, so a script can collect
the ratios of all of them (``python bench/x.py | tail -1``)."""

from __future__ import annotations


def ratio_line(name: str, ratio: float, goal: str = "none set") -> str:
    """``goal``: the target as text (``>= 1.25``), or that there is none."""
    return f"{name}: ratio {ratio:.2f} (goal {goal})"
