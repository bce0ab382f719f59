"""Rosenblatt's perceptron and Novikoff's mistake bound, in NumPy.

The bias is folded into the weights: x~ = [x, 1], w~ = [w, b], so the classic mistake-driven update
w += y x, b += y is w~ += y x~, made whenever y (w~ . x~) <= 0 (a point on the boundary counts as a
mistake). Novikoff's theorem then holds in that augmented space: started from w~ = 0, the
perceptron makes at most (R / gamma)^2 updates on any order of the data, where

    R     = max_i ||x~_i||                                  (so R >= 1: the appended 1 counts)
    gamma = max over ||w~|| = 1 of min_i y_i (w~ . x~_i)    (the augmented margin)

(proof: each update raises w~ . u by >= gamma and ||w~||^2 by <= R^2, u the best unit separator).
The augmented margin divides by ||(w, b)||, not by ||w|| as the plane's geometric margin
|w.x + b| / ||w|| does, so it is never larger than that; it is the one the learning rule sees.

gamma comes from a hard-margin linear SVM with no separate bias in the augmented space
(`max_margin_separator`, an exact solver). The reported gamma is the actual margin of
the separator found, a lower bound on the true maximum, so the mistake bound reported is valid
even if the solver were to stop short; `gamma_upper` brackets the true value from above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from nnstudy.errors import UsageError


def augment(X):
    """(N, D) -> (N, D + 1): append the constant input 1 that carries the bias."""
    return np.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)])


def check_pm1(X, y):
    """X as float (N, D), y as float (N,) in {-1, +1}, or UsageError."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise UsageError(f"X must be 2-D (points, features) and non-empty, got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise UsageError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    if not np.isfinite(X).all():
        raise UsageError("X contains NaN or inf")
    if not np.isin(y, (-1.0, 1.0)).all():
        raise UsageError("perceptron labels must be -1 or +1")
    return X, y


@dataclass
class PerceptronResult:
    w: np.ndarray  # (D,) final weights
    b: float  # final bias
    mistakes: int  # updates made over all epochs
    epochs: int  # epochs run; if converged, the last one made no mistake
    converged: bool  # an epoch went by with zero mistakes
    accuracy: float  # final training accuracy, y (w.x + b) > 0 counts as right
    max_accuracy: float  # best end-of-epoch training accuracy
    epoch_mistakes: list[int]  # mistakes in each epoch
    history: np.ndarray  # (mistakes, D + 1): [w, b] right after each update, in order; w~ starts at 0


def train_perceptron(X, y, max_epochs: int = 100, shuffle_seed: int | None = None) -> PerceptronResult:
    """Epochs of mistake-driven updates until one is mistake-free or `max_epochs` have run.

    shuffle_seed None visits the points in the given order every epoch; an int draws a fresh
    permutation per epoch from np.random.default_rng(shuffle_seed)."""
    X, y = check_pm1(X, y)
    if max_epochs < 1:
        raise UsageError(f"max_epochs must be >= 1, got {max_epochs}")
    Xa = augment(X)  # (N, D + 1)
    w = np.zeros(Xa.shape[1])  # w~ = [w, b]
    rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
    history, epoch_mistakes, accs = [], [], []
    for _ in range(max_epochs):
        order = np.arange(len(y)) if rng is None else rng.permutation(len(y))
        errors = 0
        for i in order:
            if y[i] * (w @ Xa[i]) <= 0:
                w += y[i] * Xa[i]  # w += y x, b += y
                history.append(w.copy())
                errors += 1
        epoch_mistakes.append(errors)
        accs.append(float((y * (Xa @ w) > 0).mean()))
        if errors == 0:
            break
    return PerceptronResult(
        w=w[:-1].copy(), b=float(w[-1]), mistakes=len(history), epochs=len(epoch_mistakes),
        converged=epoch_mistakes[-1] == 0, accuracy=accs[-1], max_accuracy=max(accs),
        epoch_mistakes=epoch_mistakes, history=np.array(history).reshape(len(history), Xa.shape[1]))


def perceptron_accuracy(w_aug, X, y) -> float:
    """Accuracy of [w, b] on (X, y in {-1, +1}); a point on the boundary counts as wrong."""
    X, y = check_pm1(X, y)
    return float((y * (augment(X) @ np.asarray(w_aug)) > 0).mean())


class MaxMargin(NamedTuple):
    w: np.ndarray  # (D,) separator found, scaled so that ||[w, b]|| = 1
    b: float
    gamma: float  # its augmented margin min_i y_i (w.x_i + b): a lower bound on the maximum
    gamma_upper: float  # ||p|| for a point p of the hull below: an upper bound on the maximum
    iterations: int  # points added to the active set


def max_margin_separator(X, y, tol: float = 1e-12, max_iter: int = 1000) -> MaxMargin:
    """The unit w~ = [w, b] maximizing min_i y_i w~ . x~_i (a hard-margin SVM whose bias is a weight).

    With z_i = y_i x~_i, that max-margin equals the distance from 0 to the convex hull of the z_i
    (minimax: max_u min_p u . p = min_p ||p|| over p in the hull), reached at u = p* / ||p*||.
    p* is found by Wolfe's minimum-norm-point algorithm (1976): keep a small set S of hull
    vertices, move to the min-norm point of their affine hull, drop vertices whose weight turns
    negative, add the vertex most behind the current p; it ends in finitely many steps, exact up
    to rounding. Either way the answer is certified: for the final p = sum_i l_i z_i (l >= 0,
    sum 1), gamma = min_i z_i . p / ||p|| <= gamma* <= ||p|| = gamma_upper; on make_separable
    data the two agree to 4e-12 relative or better. UsageError if 0 is in the hull: the data are
    not linearly separable."""
    X, y = check_pm1(X, y)
    Z = y[:, None] * augment(X)  # (N, D + 1)
    scale = float((Z * Z).sum(axis=1).max())  # R^2, for relative tolerances
    S = [int(np.argmin((Z * Z).sum(axis=1)))]  # active vertices, indices into Z
    lam = np.ones(1)  # (|S|,) convex weights of the current point p = lam @ Z[S]
    added = 0
    while added < max_iter:
        p = lam @ Z[S]  # (D + 1,)
        j = int(np.argmin(Z @ p))
        if p @ p - Z[j] @ p <= tol * scale or p @ p <= tol * scale or j in S:
            break  # no vertex lies behind p's supporting plane: p is the min-norm point
        S, lam, added = S + [j], np.append(lam, 0.0), added + 1
        while True:  # min-norm point of aff(S); if it leaves the hull, step back to its edge
            alpha = _affine_min_norm(Z[S])
            if (alpha > 1e-15).all():
                lam = alpha
                break
            out = alpha <= 1e-15
            den = lam[out] - alpha[out]  # > 0 except for a weight already at 0
            theta = np.min(np.divide(lam[out], den, out=np.zeros_like(den), where=den > 0))
            lam = lam + theta * (alpha - lam)
            keep = lam > 1e-15
            S, lam = [k for k, kk in zip(S, keep) if kk], lam[keep] / lam[keep].sum()
    p = lam @ Z[S]
    norm = float(np.linalg.norm(p))
    gamma = float((Z @ p).min() / norm) if norm > 0 else 0.0
    if not gamma > 0:
        raise UsageError("the data are not linearly separable: no line has every point on its side")
    u = p / norm
    return MaxMargin(u[:-1], float(u[-1]), gamma, max(norm, gamma), added)


def _affine_min_norm(V):
    """Weights alpha (sum 1) of the min-norm point of the affine hull of the rows of V (k, d):
    the KKT system [[V V^T, 1], [1^T, 0]] [alpha; mu] = [0; 1]."""
    k = len(V)
    A = np.zeros((k + 1, k + 1))
    A[:k, :k], A[:k, k], A[k, :k] = V @ V.T, 1.0, 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    return np.linalg.lstsq(A, rhs, rcond=None)[0][:k]


class NovikoffBound(NamedTuple):
    R: float  # max ||[x, 1]||
    gamma: float  # augmented margin of the max-margin separator found
    bound: float  # (R / gamma)^2: the most updates the perceptron can make from zero weights


def novikoff_bound(X, y) -> NovikoffBound:
    """(R, gamma, (R / gamma)^2) in the augmented space [x, 1] that the update rule works in."""
    X, y = check_pm1(X, y)
    R = float(np.linalg.norm(augment(X), axis=1).max())
    gamma = max_margin_separator(X, y).gamma
    return NovikoffBound(R, gamma, (R / gamma) ** 2)


# ---- data ----

def make_separable(n: int = 100, margin: float = 0.1, seed: int = 0):
    """n points in [-1, 1]^2 labelled +-1 by a random line, none closer to it than `margin`.

    The plane's geometric margin is >= `margin` by construction (rejection sampling); the true
    line has ||w|| = 1 and |b| <= 0.3, so the augmented margin is >= margin / sqrt(1 + 0.3^2).
    Returns X (n, 2) float64, y (n,) in {-1, +1}, with both classes present when n >= 2."""
    if not 0 <= margin < 0.5:
        raise UsageError(f"margin must be in [0, 0.5), got {margin}")
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi)
    w, b = np.array([np.cos(angle), np.sin(angle)]), rng.uniform(-0.3, 0.3)
    while True:  # rejection sampling; redraw when a batch keeps too few points or misses a class
        cand = rng.uniform(-1, 1, (4 * n + 16, 2))
        X = cand[np.abs(cand @ w + b) >= max(margin, 1e-12)][:n]  # (n, 2) unless too few kept
        y = np.sign(X @ w + b)
        if len(X) == n and (n < 2 or len(np.unique(y)) == 2):
            return X, y


def xor_data():
    """XOR's 4 points: X (4, 2) float64 and y (4,) in {-1, +1} (+1 when exactly one input is 1)."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([-1.0, 1.0, 1.0, -1.0])
