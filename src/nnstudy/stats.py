"""Small-sample statistics the report's rules share: Student-t quantiles and Welch's interval.

Pure arithmetic on stored numbers (no torch, no store), so both the evidence layer
(`evidence.compare`) and the verdict rules (`verdicts.judge`) decide from the same formulas.
"""

from __future__ import annotations

import math

# Two-sided 95% Student-t quantiles by degrees of freedom (standard tables); beyond 30, the normal's.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
       10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101,
       19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042}


def t95(df: float) -> float:
    """The 95% two-sided t quantile; a fractional df (Welch) rounds down, the conservative side."""
    df = max(1, int(df))
    return T95.get(df) or T95[max(k for k in T95 if k <= df)] if df <= 30 else 1.960


def welch(ma, sa, na, mb, sb, nb):
    """Welch's interval for mean(a) - mean(b) from stored mean, std, n: (mean, half-width)."""
    if min(na, nb) < 2:
        return ma - mb, math.inf
    va, vb = sa * sa / na, sb * sb / nb
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / ((va * va / (na - 1)) + (vb * vb / (nb - 1))) if se else na + nb - 2
    return ma - mb, t95(df) * se
