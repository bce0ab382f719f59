"""Rules that decide whether stored numbers carry a verdict, and the words that say so.

A study compares two variants (rows of its summary: a "test_acc" mean ± std over seeds and the
child "runs", one per seed). Before a direction word is written the comparison passes four rules,
in this order (the first that fires decides):

1. Chance: both means within CHANCE_MARGIN of 1/classes -> "both at chance", no ranking.
2. Ceiling: both means within CEILING_MARGIN of 1.0 -> "both at the ceiling", no ranking.
3. Convergence: each variant's held-out accuracy curve (validation split, else test), averaged
   over seeds, moved less than SETTLED over the last LAST_FRACTION of training; otherwise
   "not settled at this budget: still improving" (or "still moving"), naming the command that
   settles it. One exception: when the noise rule finds a clear gap and the only side still
   moving is the leader, rising, the direction stands (more budget can only widen the gap) and
   the interval's words say the leader was still rising. Without stored curves (a summary
   without child runs) the rule has nothing to look at and the noise rule decides.
4. Noise: per-seed paired differences a_i - b_i (same seed: same data draw and the same seeded
   initialisation stream) with a two-sided 95% Student-t interval over the n seeds. Interval
   inside (-TOLERANCE, +TOLERANCE): "about the same"; wholly above 0: higher; wholly below 0:
   lower; otherwise, or with fewer than MIN_SEEDS seeds, "unclear with n seeds". Without per-seed
   runs (or with unmatched seeds) the interval is Welch's, from the stored mean, std and n of each side.

A fifth rule flags a best hyperparameter at the edge of its grid (`grid_edge`).
Every number the rules produce is a `Num` whose record says how to recompute it from the store.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from nnstudy.evidence import OPS, Num, Text, Word, join, lookup, num, sentence
from nnstudy.stats import t95

TOLERANCE = 0.01  # accuracy: a paired difference whose 95% interval lies inside ±1 point is "about the same"
SETTLED = 0.01  # accuracy: a curve that moved under 1 point over the last fifth of training has settled
LAST_FRACTION = 0.2  # the last fifth of training, by step
CEILING_MARGIN = 0.01  # accuracy >= 0.99 is at the ceiling
CHANCE_MARGIN = 0.05  # accuracy <= 1/classes + 0.05 is at chance
MIN_SEEDS = 3  # fewer seeds carry no direction: with 2, two equal differences give an interval of width 0
# -- interval arithmetic the records name (evidence.OPS), so a reader can recompute each bound ------
def _paired(*vals):
    """vals = a_1..a_n, b_1..b_n -> (mean, half-width) of the differences a_i - b_i."""
    n = len(vals) // 2
    d = [a - b for a, b in zip(vals[:n], vals[n:])]
    half = t95(n - 1) * statistics.stdev(d) / math.sqrt(n) if n > 1 else math.inf
    return statistics.fmean(d), half


def _curve_delta(*vals):
    """vals = end_1, start_1, end_2, start_2, ... -> the mean over seeds of end - start."""
    return statistics.fmean(e - s for e, s in zip(vals[::2], vals[1::2]))


def _bounds(interval):
    return (lambda *v: interval(*v)[0] - interval(*v)[1]), (lambda *v: interval(*v)[0] + interval(*v)[1])


OPS.update({"paired_mean": lambda *v: _paired(*v)[0], "curve_delta": _curve_delta, "n_pairs": lambda *v: len(v) // 2})
OPS["paired_lo"], OPS["paired_hi"] = _bounds(_paired)


LEVEL = 0.95  # the intervals' confidence (T95 holds its quantiles)
RULES = {"level": LEVEL, "tolerance": TOLERANCE, "settled": SETTLED, "last_fraction": LAST_FRACTION,
         "ceiling_margin": CEILING_MARGIN, "chance_margin": CHANCE_MARGIN, "min_seeds": MIN_SEEDS}
OPS.update({name: (lambda v=v: v) for name, v in RULES.items()})


def stated(name: str, fmt: str = ".2f") -> Num:
    """A rule's stated constant (RULES) as a sentence number, recorded as that rule's name."""
    return Num(RULES[name], fmt, op=name, args=())


def _op(op: str, args: list[Num], fmt: str) -> Num:
    value = OPS[op](*(a.value for a in args))
    ok = value is not None and math.isfinite(value)
    return Num(value if ok else None, fmt, op=op, args=tuple(args))


# -- reading the store ----------------------------------------------------------------------------
def per_seed(store, row: dict, key: str = "test_acc") -> dict[int, Num]:
    """{seed: the child run's final `key`} for a summary row's complete child runs."""
    out = {}
    for rid in row.get("runs", []):
        try:
            child = store.get(rid)
        except Exception:  # a row that names a run this store lacks: no per-seed values from it
            continue
        final = child["summary"].get("final", {})
        if child["status"] == "complete" and final.get(key) is not None:
            out[child["config"].get("seed")] = num(child, f"final.{key}", ".3f")
    return out


def metric_num(run_id: str, split: str, name: str, step: int, value: float) -> Num:
    """A point of a stored curve (the metrics table), recorded so it can be looked up again."""
    return Num(value, ".3f", run=run_id, metric=f"{split}.{name}", step=step)


def curve_delta(store, row: dict, name: str = "acc") -> Num | None:
    """Mean over seeds of (last held-out value - the value at the start of the last fifth)."""
    args = []
    for rid in row.get("runs", []):
        for split in ("val", "test"):
            steps, vals = store.series(rid, split, name)
            if len(steps) >= 3:
                break
        else:
            continue
        first = next(i for i, s in enumerate(steps) if s >= steps[-1] * (1 - LAST_FRACTION))
        first = min(first, len(steps) - 2)  # at least two points apart
        args += [metric_num(rid, split, name, steps[-1], vals[-1]),
                 metric_num(rid, split, name, steps[first], vals[first])]
    return _op("curve_delta", args, "+.3f") if args else None


# -- the verdict ------------------------------------------------------------------------------------
@dataclass
class Verdict:
    kind: str  # higher | lower | same | unclear | unsettled | ceiling | chance
    word: Word  # the words a sentence uses in place of a direction
    diff: Num | None = None  # mean paired difference a - b
    lo: Num | None = None  # 95% interval
    hi: Num | None = None
    n: Num | None = None  # seeds the interval is over
    moved: list = None  # (label, curve delta) of each unsettled side

    @property
    def sign(self):
        return {"higher": 1, "lower": -1, "same": 0}.get(self.kind)

    @property
    def settled(self) -> bool:
        return self.kind not in ("unsettled", "unclear")

    def interval(self) -> Text:
        """'+0.050, 95% interval +0.030 to +0.070 over 5 seeds, paired by seed' for a sentence."""
        if self.diff is None:
            return Text([])
        how = "paired by seed" if self.diff.op == "paired_mean" else "from mean ± std"
        out = sentence("{d}, {lvl} interval {lo} to {hi} over {n} seeds, {how}", d=self.diff, lo=self.lo,
                       hi=self.hi, n=self.n, how=how, lvl=stated("level", ".0%"))
        for name, m in self.moved or []:  # sides still moving, each away from the other (judge)
            out += sentence("; {who}: held-out accuracy still {how} ({m} over the last fifth of training)", who=name,
                            m=m, how="rising" if m.value > 0 else "falling, unstable")
        return out


def classify(lo: float | None, hi: float | None, tol: float = TOLERANCE) -> str:
    if lo is None or hi is None:
        return "unclear"
    if -tol < lo and hi < tol:
        return "same"
    return "higher" if lo > 0 else "lower" if hi < 0 else "unclear"


def difference(store, run: dict, a: str, b: str, key: str = "test_acc") -> tuple[Num, Num, Num, Num]:
    """Mean a - b and its 95% interval: paired by seed when both rows' child runs share seeds,
    otherwise Welch's from the stored mean ± std (a, b: summary paths of rows)."""
    ra, rb = lookup(run["summary"], a), lookup(run["summary"], b)
    sa, sb = per_seed(store, ra, key), per_seed(store, rb, key)
    seeds = sorted(set(sa) & set(sb), key=str)
    if len(seeds) >= 2:
        args = [sa[s] for s in seeds] + [sb[s] for s in seeds]
        return (_op("paired_mean", args, "+.3f"), _op("paired_lo", args, "+.3f"), _op("paired_hi", args, "+.3f"),
                Num(len(seeds), "d", op="n_pairs", args=tuple(args)))
    args = [num(run, f"{p}.{key}.{f}", g) for p in (a, b) for f, g in (("mean", ".3f"), ("std", ".3f"), ("n", "d"))]
    mean = _op("sub", [args[0], args[3]], "+.3f")
    n = args[2] if ra[key]["n"] <= rb[key]["n"] else args[5]
    return mean, _op("welch_lo", args, "+.3f"), _op("welch_hi", args, "+.3f"), n


def bound(run: dict, a: str, b: str, classes: int, key: str = "test_acc") -> str | None:
    """'chance' / 'ceiling' when both rows' means sit there, else None."""
    ma, mb = (lookup(run["summary"], f"{p}.{key}.mean") for p in (a, b))
    if ma is None or mb is None:
        return None
    if max(ma, mb) <= 1 / classes + CHANCE_MARGIN:
        return "chance"
    if min(ma, mb) >= 1 - CEILING_MARGIN:
        return "ceiling"
    return None


WORDS = {"higher": "higher than", "lower": "lower than", "same": "about the same as",
         "unclear": "not clearly different from (unclear with {n} seeds)",
         "unsettled": "not settled at this budget ({how}; {settle} settles it)",
         "chance": "level with (both at chance)", "ceiling": "level with (both at the ceiling)"}


def settles(study: str, run: dict) -> str:
    """What settles a comparison this run's profile left open: the next profile's command."""
    profile = run["config"].get("profile", "quick")
    nxt = {"quick": "default", "default": "full"}.get(profile)
    return f"`nnstudy run {study} --profile {nxt}`" if nxt else "a longer budget than the full profile"


def row_name(row: dict, path: str) -> str:
    """What a sentence calls a summary row: its name, else its label (studies differ), else its path."""
    return row.get("name") or row.get("label") or path


def judge(store, run: dict, a: str, b: str, *, classes: int, settle: str, words: dict | None = None,
          key: str = "test_acc", tol: float = TOLERANCE) -> Verdict:
    """Compare summary rows `a` and `b` (paths) through the four rules. `settle`: the profile or
    command that settles an unsettled comparison. `words` overrides the higher/lower/same words."""
    w = {**WORDS, **(words or {})}
    rec = {"rule": "verdict", "a": a, "b": b, "tol": tol, "settled_tol": SETTLED}
    edge = bound(run, a, b, classes, key)
    if edge:
        return Verdict(edge, Word(w[edge], 0, {**rec, "kind": edge}))
    moved = []
    for path in (a, b):
        delta = curve_delta(store, lookup(run["summary"], path))
        if delta is not None and delta.value is not None and abs(delta.value) >= SETTLED:
            moved.append((row_name(lookup(run["summary"], path), path), delta))
    diff, lo, hi, n = difference(store, run, a, b, key)
    kind = classify(lo.value, hi.value, tol) if n.value >= MIN_SEEDS else "unclear"
    # A clear gap stands when every moving side moves so as to widen it (the leader still rising, the
    # trailing side falling, e.g. an unstable SGD): the trend gives more budget no way to close it.
    leader = a if kind == "higher" else b if kind == "lower" else None
    trailer = {a: b, b: a}.get(leader)
    names = {p: row_name(lookup(run["summary"], p), p) for p in (a, b)}
    widening = all((name == names.get(leader) and d.value > 0) or (name == names.get(trailer) and d.value < 0)
                   for name, d in moved)
    if moved and not widening:
        how = "still improving" if all(d.value > 0 for _, d in moved) else "still moving"
        return Verdict("unsettled", Word(w["unsettled"].format(how=how, settle=settle), None,
                                         {**rec, "kind": "unsettled", "moved": [d.record() for _, d in moved]}),
                       moved=moved)
    text = w[kind].format(n=n.value)
    rec = {**rec, "kind": kind, "lo": lo.record(), "hi": hi.record()}
    return Verdict(kind, Word(text, {"higher": 1, "lower": -1, "same": 0}.get(kind), rec), diff, lo, hi, n, moved)


def grid_edge(values: list, best) -> str | None:
    """'lowest' / 'highest' when the best value is at that end of a grid of 3+ values (the optimum
    may lie beyond it), else None. A grid of fewer than three values has no interior to be in."""
    vals = sorted(values)
    if len(vals) < 3:
        return "lowest" if best == vals[0] else "highest"
    return "lowest" if best == vals[0] else "highest" if best == vals[-1] else None


def edge_note(values: list, best: Num, what: str = "learning rate") -> Text:
    """A sentence flagging a best hyperparameter at its grid's edge; empty when it is interior."""
    edge = grid_edge(values, best.value)
    if edge is None:
        return Text([])
    return sentence(" The best {what}, {b}, is the {e} of its grid: the optimum may lie beyond it.",
                    what=what, b=best, e=edge)


# -- from the rules to the answer sheet ------------------------------------------------------------
NOT_SETTLED = "not settled at this budget"


def outcome(higher: str, lower: str, same: str = "level") -> dict:
    """Words for a verdict that stands alone after a colon ("Adam against SGD: Adam ahead"), for
    `judge(words=...)`: the default WORDS only read between the two sides' names."""
    return {"higher": higher, "lower": lower, "same": same, "unclear": "unclear with {n} seeds",
            "unsettled": "not settled at this budget ({how}; {settle} settles it)",
            "chance": "not ranked (both at chance)", "ceiling": "not ranked (both at the ceiling)"}


def claimed(v: Verdict, expect: int = 1) -> str:
    """The sheet's word for a claim that row a is higher (expect=1) or lower (-1) than row b: only
    a direction the rules let through supports or contradicts it; "about the same" contradicts a
    claimed direction; unclear, unsettled, chance and ceiling leave it not settled."""
    if v.sign is None:
        return NOT_SETTLED
    return "supported" if v.sign == expect else "not supported"


def deciding(v: Verdict, names: dict | None = None) -> Text:
    """A verdict's number for the sheet: its interval when the noise rule ran (with why it carries
    no direction when unclear); for a run still moving, how far each moving side moved over the
    last fifth (`names`: a row's name -> the words to show, where a name holds typed digits);
    else its words (chance, ceiling say why themselves)."""
    if v.kind == "unsettled":  # how far each side still moved is the number that keeps it open
        return sentence("not settled: ") + join((sentence("{name} moved {d} over the last fifth", d=d,
                                                          name=(names or {}).get(name, name))
                                                 for name, d in v.moved), "; ", "; ")
    if v.diff is None:
        return Text([v.word])
    if v.kind == "unclear":
        return v.interval() + sentence(": unclear with {n} seeds", n=v.n)
    return v.interval()


def _one_sample(m, s, n):
    """A 95% t-interval for a mean from its stored mean, std and n: (mean, half-width)."""
    return m, (t95(n - 1) * s / math.sqrt(n) if n > 1 else math.inf)


OPS["mean_lo"], OPS["mean_hi"] = _bounds(_one_sample)


def mean_interval(run: dict, path: str, fmt: str = ".3f") -> tuple[Num, Num, Num, Num]:
    """(mean, lo, hi, n) of the {"mean", "std", "n"} at `path` of a run's summary: a quantity
    measured once per seed (a gradient ratio, not a paired difference), each bound recomputable."""
    args = [num(run, f"{path}.mean", fmt), num(run, f"{path}.std", fmt), num(run, f"{path}.n", "d")]
    return args[0], _op("mean_lo", args, fmt), _op("mean_hi", args, fmt), args[2]


__all__ = ["judge", "claimed", "outcome", "deciding", "mean_interval", "NOT_SETTLED", "settles", "stated", "WORDS",
           "classify", "grid_edge", "edge_note", "difference", "curve_delta", "per_seed", "Verdict", "TOLERANCE",
           "SETTLED", "LAST_FRACTION", "CEILING_MARGIN", "CHANCE_MARGIN", "LEVEL", "MIN_SEEDS"]
