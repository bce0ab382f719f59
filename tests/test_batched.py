"""The batched trainer against the solo one: each member of a batched group must reproduce a
separate `train_and_evaluate` of its config.

Tolerances (float32 on a CPU; worst cases measured over these tests, torch 2.14, in brackets): loss
curves and final losses rtol 1e-4, atol 1e-5 [2.4e-7 abs, 2.5e-7 relative]; accuracies within one
example, since a logit that differs in its last bit may flip a near-tie [identical]; final weights
atol 1e-4 [3.6e-5: Adam, full batch, factored net at width 40; 7.1e-6: RMSprop on the plain path
at width 16; SGD 2.4e-7]. Adam and RMSprop scale each weight's step by its own gradient's size, so
the last-bit differences in a near-zero gradient become differences in lr-sized steps: the loss
curves still agree to 2.4e-7.
The differences come from summation order only: the stacked matmuls fold the bias into the product
and run over (K, features, B) instead of (B, features), and the week's net (one ReLU layer on a 2-D
input) has its weight gradients computed factored (StackedNet._backward_factored): the same sums,
grouped otherwise.
"""

from __future__ import annotations

import math

import pytest
import torch

from nnstudy.batched import plan_groups, train_many, why_solo
from nnstudy.config import TrainConfig
from nnstudy.experiment import load_run_model, train_and_evaluate
from nnstudy.models import build_model
from nnstudy.store import Store

RTOL, ATOL, W_ATOL = 1e-4, 1e-5, 1e-4
# width 40: the week's shape (one ReLU layer on the 2-D spiral) trains factored at this width
# (9 product rows <= 40 / 4); the shapes below cover the plain path
BASE = dict(dataset="spiral", n_per_class=40, width=40, steps=60, device="cpu", threads=1)
MINI = dict(steps=0, epochs=5, batch_size=40)  # 96 training points: batches of 40, 40, 16


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def curves(res) -> dict:
    out: dict = {}
    for step, split, name, value in res.records:
        out.setdefault((split, name), []).append((step, value))
    return out


def assert_same_run(b, s, n_examples: int = 96) -> None:
    """b (batched) reproduces s (solo): status, steps, every curve, final numbers, weights."""
    assert (b.status, b.steps) == (s.status, s.steps)
    cb, cs = curves(b), curves(s)
    assert cb.keys() == cs.keys()
    for key in cs:
        steps_b, vals_b = zip(*cb[key])
        steps_s, vals_s = zip(*cs[key])
        assert steps_b == steps_s, key
        if key[1] == "acc":
            assert max(abs(x - y) for x, y in zip(vals_b, vals_s)) <= 1 / n_examples + 1e-6, key
        else:
            torch.testing.assert_close(torch.tensor(vals_b), torch.tensor(vals_s), rtol=RTOL, atol=ATOL)
    assert b.final.keys() == s.final.keys()
    wb, ws = b.model.state_dict(), s.model.state_dict()
    assert wb.keys() == ws.keys()
    for k in ws:
        assert (wb[k] - ws[k]).abs().max().item() <= W_ATOL, k


def nan_equal(records: list) -> list:
    """records with NaN spelled out, so that equal runs compare equal (NaN != NaN as floats)."""
    return [tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in r) for r in records]


def check_group(cfgs: list[TrainConfig]) -> list:
    assert plan_groups(cfgs) == [(list(range(len(cfgs))), True)], "expected one batched group"
    batched = train_many(cfgs)
    for cfg, b in zip(cfgs, batched):
        assert b.config == cfg
        assert_same_run(b, train_and_evaluate(cfg))
    return batched


OPTIMIZERS = {
    "sgd": [dict(optimizer="sgd", lr=0.1), dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-3),
            dict(optimizer="sgd", lr=0.2, momentum=0.5)],
    "nesterov": [dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True),
                 dict(optimizer="sgd", lr=0.1, momentum=0.8, nesterov=True, weight_decay=1e-3)],
    "adam": [dict(optimizer="adam", lr=1e-2), dict(optimizer="adam", lr=3e-2, weight_decay=1e-3),
             dict(optimizer="adam", lr=1e-3)],
    "adamw": [dict(optimizer="adamw", lr=1e-2, weight_decay=1e-2), dict(optimizer="adamw", lr=3e-2, weight_decay=0.1)],
    "rmsprop": [dict(optimizer="rmsprop", lr=1e-3), dict(optimizer="rmsprop", lr=3e-3, momentum=0.9, weight_decay=1e-3),
                dict(optimizer="rmsprop", lr=1e-2, momentum=0.5)],
}


@pytest.mark.parametrize("batching", ["full", "mini"])
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_members_match_their_solo_runs(opt, batching):
    extra = MINI if batching == "mini" else {}
    cfgs = [TrainConfig(**{**BASE, **extra, **o}, seed=seed) for seed, o in enumerate(OPTIMIZERS[opt])]
    check_group(cfgs)


@pytest.mark.parametrize("batching", ["full", "mini"])
@pytest.mark.parametrize("schedule", ["step", "cosine", "onecycle"])
@pytest.mark.parametrize("opt", ["sgd", "adam", "adamw", "rmsprop"])
def test_scheduled_members_match_their_solo_runs(opt, schedule, batching):
    """Each member follows its own schedule (its lr; OneCycle also cycles SGD's momentum, here from 0,
    and Adam's beta1), exactly as its solo run does."""
    extra = MINI if batching == "mini" else {}
    cfgs = [TrainConfig(**{**BASE, **extra, **o}, schedule=schedule, seed=seed)
            for seed, o in enumerate(OPTIMIZERS[opt][:2])]
    check_group(cfgs)


@pytest.mark.parametrize("shape", [
    dict(depth=2, activation="tanh", init="xavier", loss="mse", optimizer="sgd", lr=0.05),
    dict(activation="gelu", init="kaiming", loss="bce", optimizer="adam", lr=1e-2, val_frac=0.2),
    dict(activation="leaky_relu", label_smoothing=0.1, optimizer="adam", lr=1e-2, grad_clip=0.5),
    dict(depth=3, activation="sigmoid", optimizer="sgd", lr=0.5, momentum=0.9),
    dict(activation="none", optimizer="adamw", lr=1e-2, weight_decay=0.01),
    dict(model="linear", optimizer="sgd", lr=0.1),
    dict(model="logistic", optimizer="adam", lr=1e-2),
])
def test_shapes_losses_and_own_data_draws(shape):
    """Members differ in seed and data_seed (each its own spiral), the shape varies per case."""
    cfgs = [TrainConfig(**{**BASE, "steps": 40, **shape}, seed=s, data_seed=10 + s) for s in range(2)]
    check_group(cfgs)


def test_a_diverging_member_is_frozen_and_the_others_match():
    cfgs = [TrainConfig(**BASE, optimizer="sgd", loss="mse", lr=lr, seed=s)
            for s, lr in enumerate((0.05, 1e3, 0.1))]
    batched = train_many(cfgs)
    assert [r.status for r in batched] == ["complete", "diverged", "complete"]
    for i in (0, 2):
        assert_same_run(batched[i], train_and_evaluate(cfgs[i]))
    bad, solo = batched[1], train_and_evaluate(cfgs[1])
    assert solo.status == "diverged" and bad.steps == solo.steps < cfgs[1].steps
    assert bad.final == {} and "diverged" in bad.error
    last = max(step for step, *_ in bad.records)
    assert last == bad.steps  # records stop at the step whose loss was not finite
    loss = [v for step, split, name, v in bad.records if split == "train" and name == "loss"]
    assert len(loss) == bad.steps + 1 and not math.isfinite(loss[-1]) and all(map(math.isfinite, loss[:-1]))
    assert all(torch.isfinite(v).all() for v in bad.model.state_dict().values())  # frozen before the bad update


def test_every_member_stored_as_if_trained_alone(tmp_path):
    store = Store(tmp_path / "runs")
    cfgs = [TrainConfig(**BASE, optimizer="adam", lr=1e-2, seed=s) for s in range(3)]
    batched = train_many(cfgs, store, study="t", names=[f"seed {s}" for s in range(3)])
    solo_store = Store(tmp_path / "solo")
    solo = train_and_evaluate(cfgs[0], solo_store, study="t")
    assert len(store.runs(study="t", kind="train")) == 3
    for cfg, r in zip(cfgs, batched):
        row = store.get(r.run_id)
        assert row["status"] == "complete" and row["config"] == cfg.to_dict() and row["digest"] == cfg.digest()
        assert row["seed"] == cfg.seed and row["name"] == f"seed {cfg.seed}"
        assert set(solo_store.get(solo.run_id)["summary"]) <= set(row["summary"])
        assert row["summary"]["batched"]["models"] == 3
        assert len(store.metrics(r.run_id)) == len(solo_store.metrics(solo.run_id))
        model, _, _ = load_run_model(store, r.run_id)  # model.pt loads into the solo model, strictly
        for k, v in r.model.state_dict().items():
            assert torch.equal(model.state_dict()[k], v)
    state = torch.load(store.run_dir(batched[0].run_id) / "model.pt", weights_only=True)
    fresh = build_model(cfgs[0], (2,), 3)
    fresh.load_state_dict(state)
    assert state.keys() == solo.model.state_dict().keys()


def test_unbatchable_configs_fall_back_to_solo_in_input_order():
    cfgs = [TrainConfig(**BASE, seed=0), TrainConfig(**BASE, dropout=0.1, seed=1),
            TrainConfig(**BASE, batch_norm=True, seed=2), TrainConfig(**BASE, seed=3),
            TrainConfig(**BASE, residual=True, depth=2, seed=4)]
    assert [why_solo(c) is None for c in cfgs] == [True, False, False, True, False]
    assert plan_groups(cfgs) == [([0, 3], True), ([1], False), ([2], False), ([4], False)]
    results = train_many(cfgs)
    assert [r.config for r in results] == cfgs
    for i in (1, 2, 4):  # solo configs run the solo code: identical numbers
        assert results[i].records == train_and_evaluate(cfgs[i]).records


def test_groups_split_on_every_field_but_the_batch_fields():
    a = TrainConfig(**BASE)
    same = [a.replace(seed=1), a.replace(data_seed=3), a.replace(lr=0.5), a.replace(weight_decay=0.1),
            a.replace(momentum=0.9), a.replace(extra={"x": 1})]
    other = [a.replace(width=8), a.replace(optimizer="sgd"), a.replace(steps=10), a.replace(batch_size=8)]
    assert plan_groups([a] + same) == [(list(range(7)), True)]
    assert len(plan_groups([a] + other)) == 5


CHUNKED = {  # five members each; the SGD group has a member that diverges
    "sgd": [dict(optimizer="sgd", loss="mse", lr=lr, momentum=m) for lr, m in
            [(0.05, 0.9), (0.1, 0.0), (1e3, 0.0), (0.2, 0.5), (0.02, 0.9)]],
    "adam": [dict(optimizer="adam", lr=lr, weight_decay=wd) for lr, wd in
             [(1e-2, 0.0), (3e-2, 1e-3), (1e-3, 0.0), (5e-3, 1e-2), (2e-2, 0.0)]],
}


@pytest.mark.parametrize("batching", ["full", "mini"])
@pytest.mark.parametrize("opt", list(CHUNKED))
def test_chunking_changes_no_members_numbers(opt, batching):
    """The premise of timing chunk sizes on real steps: one member per chunk, two, or all five in one
    give bit-identical records, final numbers and weights (a diverging member included)."""
    extra = MINI if batching == "mini" else {}
    cfgs = [TrainConfig(**{**BASE, **extra, **o}, seed=s, data_seed=s % 2) for s, o in enumerate(CHUNKED[opt])]
    assert len(plan_groups(cfgs)) == 1
    per_member = (40 + 3 * 3 + 3 + 3) * 96 * 4  # a member's workspace, full batch (StackedNet.floats_per_example)
    runs = {b: train_many(cfgs, chunk_bytes=b) for b in (1, 2 * per_member, 1 << 30)}
    one, *others = runs.values()
    assert ("diverged" in [r.status for r in one]) == (opt == "sgd")
    for other in others:
        for a, b in zip(one, other):
            assert (a.status, nan_equal(a.records), a.final) == (b.status, nan_equal(b.records), b.final)
            for k, v in a.model.state_dict().items():
                assert torch.equal(v, b.model.state_dict()[k]), k


def test_chunk_tuner_times_each_candidate_then_keeps_the_fastest():
    from nnstudy.batched import TUNE_ROUNDS, ChunkTuner

    cpu = torch.device("cpu")
    tuner = ChunkTuner(8, 100, (100, 400, 800, 10_000), cpu)  # 1, 4 and all 8 members per chunk; 800 = all
    assert [p[0] for p in tuner.plans] == [(0, 1), (0, 4), (0, 8)] and tuner.budgets == [100, 400, 800]
    fake = {1: 3.0, 4: 1.0, 8: 2.0}  # seconds per step by members per chunk
    settled = []
    for _ in range(TUNE_ROUNDS * 3):
        chunks = tuner.chunks()
        assert sorted(hi - lo for lo, hi in chunks)[-1] == chunks[0][1] and chunks[-1][1] == 8  # covers 0..8
        settled.append(tuner.record(fake[chunks[0][1]]))
    assert settled == [False] * (TUNE_ROUNDS * 3 - 1) + [True]
    assert tuner.chunks()[0] == (0, 4) and tuner.budget == 400
    assert tuner.record(0.0) is False and tuner.chunks()[0] == (0, 4)  # settled for good
    single = ChunkTuner(8, 100, (10_000,), cpu)
    assert single.chunks() == [(0, 8)] and single.record(1.0) is False
    assert ChunkTuner(8, 100, (100, 400), torch.device("cuda")).plans == [[(0, 8)]]  # a GPU: one chunk
    from nnstudy.batched import _chunks
    assert _chunks(32, 1, 15, cpu) == [(0, 11), (11, 22), (22, 32)]  # 15 fit: three chunks, balanced
    assert _chunks(7, 1, 3, cpu) == [(0, 3), (3, 5), (5, 7)]


def test_tuned_run_stores_its_chunk_and_matches_a_fixed_chunk(tmp_path):
    store = Store(tmp_path / "runs")
    cfgs = [TrainConfig(**{**BASE, "n_per_class": 400, "width": 64}, optimizer="adam", lr=1e-2, seed=s)
            for s in range(40)]  # 64 KiB+ per member: the budgets give 1-2 different chunkings
    tuned = train_many(cfgs, store)
    fixed = train_many(cfgs, chunk_bytes=1)
    for a, b in zip(tuned, fixed):
        assert a.records == b.records
    k = store.get(tuned[0].run_id)["summary"]["batched"]["chunk_members"]
    assert 1 <= k <= 40


@pytest.mark.parametrize("activation, depth, factored", [
    ("relu", 1, True), ("relu", 2, False), ("tanh", 1, False), ("leaky_relu", 1, False), ("gelu", 1, False)])
def test_stacked_forward_and_gradients_match_autograd(activation, depth, factored):
    """StackedNet's own forward and backward (the factored one for the week's net: one ReLU layer on a
    2-D input; the plain one otherwise) against autograd through each member's solo model, on
    examples that put a unit exactly at z = 0 (relu'(0) = 0, as autograd has it)."""
    from nnstudy.stacked import StackedNet, layer_plan, loss_and_grad

    cfg = TrainConfig(**{**BASE, "activation": activation, "depth": depth})
    models = []
    for s in range(3):
        torch.manual_seed(s)
        models.append(build_model(cfg, (2,), 3))
    with torch.no_grad():
        models[0].hidden[0].linear.bias[:2] = 0.0  # with x = 0 (example 0): z = 0 exactly
    plan = layer_plan(models[0], cfg)
    net = StackedNet(models, plan, torch.device("cpu"))
    assert net.factored is factored
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 50, generator=gen)
    x[:, :, 0] = 0.0
    y = torch.randint(0, 3, (3, 50), generator=gen)
    xa = torch.cat((x, torch.ones(3, 1, 50)), 1)
    z = net.forward(net.params, xa).clone()
    losses, acc, dz = loss_and_grad(cfg, z, y, 3)
    grads = [torch.empty_like(p) for p in net.params]
    net.backward(net.params, xa, dz, grads)
    for k, model in enumerate(models):
        out = model(x[k].T)
        loss = torch.nn.functional.cross_entropy(out, y[k])
        loss.backward()
        torch.testing.assert_close(z[k].T, out, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(losses[k], loss, rtol=1e-5, atol=1e-6)
        assert acc[k].item() == (out.argmax(1) == y[k]).float().mean().item()
        for (prefix, _), g in zip(plan, grads):
            layer = model.get_submodule(prefix)
            torch.testing.assert_close(g[k, :, :-1], layer.weight.grad, rtol=1e-4, atol=1e-6)
            torch.testing.assert_close(g[k, :, -1], layer.bias.grad, rtol=1e-4, atol=1e-6)


def test_training_accuracy_follows_argmax_through_ties_and_nan():
    """loss_and_grad reads the accuracy off the log-probabilities; where examples tie (in the logits,
    or only after rounding) or a member has NaN logits, it must still count argmax's hits exactly:
    the first maximal class, NaN counting as maximal."""
    from nnstudy.stacked import loss_and_grad

    cfg = TrainConfig(**BASE)
    y = torch.tensor([[0, 1, 2, 0], [2, 1, 0, 1]])  # (k=2, B=4)
    plain = [[3.0, 1, 0, 0], [0, 2, 0, 5], [0, 0, 5, 0]]  # (C=3, B=4): argmax 0, 1, 2, 1
    cases = {"plain": plain,
             "tie in z": [[3.0, 1, 0, 5], [0, 2, 0, 5], [0, 0, 5, 0]],  # last example: 0 and 1 tie, 0 wins
             # distinct logits, equal log-probabilities: z - log(3) rounds all three to one number
             "tie by rounding": [[3.0, 1, 0, -1e-9], [0, 2, 0, 1e-9], [0, 0, 5, 2e-9]],  # argmax 2, not 1
             "nan": [[3.0, 1, 0, 0], [0, float("nan"), 0, 5], [0, 0, 5, 0]]}
    for name, z in cases.items():
        z = torch.tensor([plain, z])  # member 0 plain, member 1 the case
        want = (z.argmax(1) == y).float().mean(1)
        _, acc, _ = loss_and_grad(cfg, z.clone(), y, 3)
        assert torch.equal(acc, want), name
