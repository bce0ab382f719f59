"""`nnstudy serve`: the API (validation, uploads, the store's runs), a training's stream of frames
over the WebSocket, Save as run -> `nnstudy show`, and `nnstudy train --config` reproducing it.

In-process (Starlette's TestClient); trainings are tiny (a few hundred points, tens of steps)."""

import io
import json
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient  # noqa: E402

from nnstudy.serve import app as app_module  # noqa: E402
from nnstudy.serve.app import create_app  # noqa: E402


def run_cli(*args):
    """`nnstudy ARGS` in this process (a subprocess would spend seconds importing torch again):
    (exit status, stdout, stderr)."""
    from contextlib import redirect_stderr, redirect_stdout

    from nnstudy.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()

SMALL = {"n_per_class": 60, "steps": 40}  # 180 points, 40 full-batch steps


@pytest.fixture
def client(isolated_home):
    with TestClient(create_app(isolated_home)) as c:
        yield c


def frames_until(ws, done):
    out = []
    while True:
        msg = ws.receive_json()
        assert msg["type"] != "error", msg
        out.append(msg)
        if done(msg):
            return out


def start(ws, config):
    ws.send_json({"type": "config", "config": config})
    ready = ws.receive_json()
    assert ready["type"] == "ready", ready
    first = ws.receive_json()
    assert first["type"] == "frame" and first["step"] == 0
    return ready, first


def test_pages_and_static_files_are_served(client):
    for path in ("/", "/compare", "/runs"):
        r = client.get(path)
        assert r.status_code == 200 and "<canvas" in r.text or "<table" in r.text
    for name in ("common.js", "playground.js", "compare.js", "runs.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    fields = client.get("/api/fields").json()
    assert fields["fields"]["activation"]["default"] == "relu"
    assert fields["limits"]["upload_bytes"] == 10 * 2**20


BAD = [  # (field, value, words the 422 must carry)
    ("activation", "swish", "relu"), ("lr", 0, "> 0"), ("lr", "NaN", "> 0"), ("lr", -0.1, "> 0"),
    ("lr", "inf", "> 0"), ("width", 0, "1 to 256"), ("width", 257, "1 to 256"), ("depth", 7, "1 to 6"),
    ("width", 2.5, "integer"), ("optimizer", "lbfgs", "adam"), ("loss", "hinge", "cross_entropy"),
    ("init", "zeros", "xavier"), ("momentum", 1.0, "0 <= x < 1"), ("test_frac", -0.2, "0 <= x < 1"),
    ("noise", -1, ">= 0"), ("steps", 0, "1 to 100,000"), ("steps", 10**6, "1 to 100,000"),
    ("batch_size", -5, ">= 0"), ("seed", 2**70, "integer"), ("classes", 1, "2 to 10"), ("classes", 11, "2 to 10"),
    ("n_per_class", 6000, "2 to 5,000"), ("batch_norm", "maybe", "true, false"), ("model", "resnet", "mlp"),
    ("dataset", "mnist", "spiral"), ("dataset", "../../etc/passwd", "spiral"), ("dataset", "npz:/etc/passwd", "spiral"),
    ("dataset", "points:../../nnstudy", "spiral"), ("dataset", "points:0123456789abcdef", "spiral"),
    ("weight_decay", "1e400", ">= 0"), ("device", "cuda", "one of"), ("threads", 4, "one of"),
    ("features", "x3", "x1^2"), ("features", "x1+x1", "x1^2"), ("widths", "8x0", "joined by x"),
    ("widths", "300x2", "256"), ("widths", "2x2x2x2x2x2x2", "1 to 6"),
    ("activations", "relu+tanh", "one per hidden layer"),
    ("activations", "swish", "relu"),
]


@pytest.mark.parametrize("field,value,valid", BAD, ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD])
def test_each_bad_parameter_is_422_naming_the_field_and_valid_values(client, field, value, valid):
    r = client.post("/api/check", json={field: value})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field
    assert valid in body["valid"] or valid in body["message"], body


def test_cross_field_rules_come_from_the_config(client):
    r = client.post("/api/check", json={"nesterov": True, "optimizer": "adam"})
    assert r.status_code == 422 and r.json()["field"] == "nesterov" and "momentum" in r.json()["message"]
    r = client.post("/api/check", json={"n_per_class": 4000, "classes": 3})  # 12,000 points
    assert r.status_code == 422 and r.json()["field"] == "n_per_class"


def test_good_parameters_give_the_config_with_url_strings_coerced(client):
    r = client.post("/api/check", json={"lr": "0.01", "width": "8", "depth": "2", "activation": "tanh",
                                        "batch_norm": "true", "dataset": "moons"})
    assert r.status_code == 200, r.text
    cfg = r.json()["config"]
    assert (cfg["lr"], cfg["width"], cfg["depth"], cfg["batch_norm"], cfg["dataset"]) == (0.01, 8, 2, True, "moons")


def test_a_training_streams_frames_until_its_last_step(client):
    with client.websocket_connect("/ws") as ws:
        ready, first = start(ws, {**SMALL, "depth": 2, "width": 12})
        assert ready["classes"] == 3 and len(ready["train"]) + len(ready["test"]) == 180
        ws.send_json({"type": "run"})
        frames = frames_until(ws, lambda m: m["done"])
    steps = [f["step"] for f in frames]
    assert steps == sorted(steps) and steps[-1] == 40 and frames[-1]["status"] == "complete"
    f = frames[-1]
    assert len(__import__("base64").b64decode(f["probs"])) == 64 * 64 * 3
    assert len(f["grads"]) == 3 and all(g is not None and g >= 0 for g in f["grads"])  # 2 hidden + head
    assert [u["layer"] for u in f["units"]] == [1, 2] and f["units"][0]["units"] == 12
    assert 0 <= f["metrics"]["test_acc"] <= 1 and f["metrics"]["train_loss"] < first["metrics"]["train_loss"]
    assert f["computed"] <= time.time() * 1000


def test_input_features_and_a_width_and_activation_per_layer(client):
    """TensorFlow Playground's inputs (x1², sin x1, ...) and layers of their own width and activation:
    config fields, so a saved run reproduces them; the unit maps follow the layers."""
    cfg = {**SMALL, "dataset": "circles", "features": "x1^2+x2^2", "widths": "6x3", "activations": "tanh+relu"}
    with client.websocket_connect("/ws") as ws:
        ready, first = start(ws, cfg)
        assert ready["config"]["features"] == "x1^2+x2^2"
        assert first["layers"] == ["2->6", "6->3", "3->2"]
        assert [(u["layer"], u["units"]) for u in first["units"]] == [(1, 6), (2, 3)]
        ws.send_json({"type": "step", "steps": 20})
        ws.receive_json()
        ws.send_json({"type": "save"})
        saved = ws.receive_json()
    rc, out, err = run_cli("train", "--config", saved["config_toml"], "--json", "--no-figures")
    assert rc == 0, err
    assert json.loads(out)["final"]["test_acc"] == pytest.approx(saved["final"]["test_acc"])


def test_step_pause_and_reset_restore_the_same_initial_weights(client):
    with client.websocket_connect("/ws") as ws:
        _, first = start(ws, SMALL)
        ws.send_json({"type": "step", "steps": 5})
        after = ws.receive_json()
        assert after["step"] == 5 and after["metrics"] != first["metrics"]
        ws.send_json({"type": "reset"})
        again = ws.receive_json()
        assert again["step"] == 0 and again["metrics"] == first["metrics"] and again["probs"] == first["probs"]


def test_save_as_run_is_listed_by_show_and_reproduced_by_train_config(client, isolated_home):
    with client.websocket_connect("/ws") as ws:
        start(ws, {**SMALL, "steps": 200, "optimizer": "sgd", "momentum": 0.9, "nesterov": True, "lr": 0.05})
        ws.send_json({"type": "step", "steps": 30})
        live = ws.receive_json()
        ws.send_json({"type": "save"})
        saved = ws.receive_json()
    assert saved["type"] == "saved" and saved["steps"] == 30 and saved["status"] == "complete"
    assert saved["final"]["test_acc"] == live["metrics"]["test_acc"]  # the same model, the same numbers
    rc, out, err = run_cli("show", saved["run"], "--json")
    assert rc == 0, err
    shown = json.loads(out)
    assert shown["status"] == "complete" and shown["config"]["steps"] == 30 and shown["config"]["nesterov"] is True
    rc, out, err = run_cli("runs", "--json")
    assert saved["run"] in [r["id"] for r in json.loads(out)["runs"]]
    rc, out, err = run_cli("train", "--config", saved["config_toml"], "--json", "--no-figures")
    assert rc == 0, err
    again = json.loads(out)
    for key, value in saved["final"].items():
        assert again["final"][key] == pytest.approx(value, abs=1e-6), key
    assert again["steps"] == 30


def test_save_before_any_step_is_refused(client):
    with client.websocket_connect("/ws") as ws:
        start(ws, SMALL)
        ws.send_json({"type": "save"})
        msg = ws.receive_json()
    assert msg["type"] == "error" and msg["status"] == 409


def test_bad_config_over_the_socket_is_a_422_message_and_the_socket_goes_on(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "config", "config": {"lr": -1}})
        msg = ws.receive_json()
        assert msg["type"] == "error" and msg["status"] == 422 and msg["field"] == "lr"
        ws.send_json({"type": "run"})
        assert ws.receive_json()["status"] == 409  # no config yet
        ws.send_text("not json")
        assert ws.receive_json()["status"] == 422
        start(ws, SMALL)


def test_closing_the_socket_stops_its_training(client, monkeypatch):
    sessions = []
    real = app_module.Session

    def spy(cfg):
        s = real(cfg)
        sessions.append(s)
        return s

    monkeypatch.setattr(app_module, "Session", spy)
    with client.websocket_connect("/ws") as ws:
        start(ws, {**SMALL, "steps": 100_000})
        ws.send_json({"type": "run"})
        ws.receive_json()
    time.sleep(0.3)  # the chunk under way ends (FRAME_SECONDS)
    at = sessions[0].stepper.step
    time.sleep(0.4)
    assert sessions[0].stepper.step == at and 0 < at < 100_000
    assert client.app.state.s.trainings == 0


def test_trainings_at_once_are_bounded(client):
    from contextlib import ExitStack

    with ExitStack() as stack:
        sockets = [stack.enter_context(client.websocket_connect("/ws")) for _ in range(app_module.MAX_TRAININGS + 1)]
        for ws in sockets[:-1]:
            start(ws, {"n_per_class": 10, "steps": 5})
        sockets[-1].send_json({"type": "config", "config": {"n_per_class": 10}})
        msg = sockets[-1].receive_json()
        assert msg["type"] == "error" and msg["status"] == 503
    assert client.app.state.s.trainings == 0


def csv_points(n=60, classes=2):
    rng = np.random.default_rng(0)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, 2)) + y[:, None] * 3
    return "x1,x2,label\n" + "\n".join(f"{a:.4f},{b:.4f},{c}" for (a, b), c in zip(x, y))


def test_uploaded_points_train_and_reproduce_from_the_store(client, isolated_home):
    r = client.post("/api/upload?filename=mine.csv", content=csv_points().encode())
    assert r.status_code == 200, r.text
    ds = r.json()["dataset"]
    assert ds.startswith("points:") and r.json()["points"] == 60 and r.json()["classes"] == 2
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((10, 2)), y=np.arange(10) % 2)
    r2 = client.post("/api/upload", files={"file": ("p.npz", buf.getvalue())})  # multipart, as curl -F sends
    assert r2.status_code == 200, r2.text
    with client.websocket_connect("/ws") as ws:
        ready, _ = start(ws, {"dataset": ds, "steps": 10})
        assert ready["config"]["dataset"] == ds and len(ready["train"]) == 48
        ws.send_json({"type": "step", "steps": 10})
        ws.receive_json()
        ws.send_json({"type": "save"})
        saved = ws.receive_json()
    rc, out, err = run_cli("train", "--config", saved["config_toml"], "--json", "--no-figures")
    assert rc == 0, err
    assert json.loads(out)["final"]["test_acc"] == pytest.approx(saved["final"]["test_acc"])


@pytest.mark.parametrize("body,words", [
    (b"x1,x2\n1,2\n", "3 (x1, x2, label)"), (b"1,2,0\n1,nan,1\n3,4,0\n5,6,1\n", "NaN"),
    (b"1,2,0\n3,4,0\n5,6,0\n7,8,0\n", "2 to 10 classes"), (b"1,2,0.5\n3,4,1\n5,6,0\n7,8,1\n", "integers"),
    (b"a,b,c\nx,y,z\n", "not numeric"), (b"\xff\xfe\x00garbage", "neither"), (b"PK\x03\x04broken", "npz"),
    (b"", "points"),
])
def test_malformed_uploads_are_422(client, body, words):
    r = client.post("/api/upload", content=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "file" and words in r.json()["message"]


def test_uploaded_sets_are_bounded_in_number(client, isolated_home, monkeypatch):
    monkeypatch.setattr(app_module, "MAX_UPLOADS", 1)
    assert client.post("/api/upload", content=csv_points(20).encode()).status_code == 200
    assert client.post("/api/upload", content=csv_points(20).encode()).status_code == 200  # the same set again
    r = client.post("/api/upload", content=csv_points(24).encode())
    assert r.status_code == 507 and "uploads" in r.json()["error"]


def test_uploads_over_10_mb_are_413(client):
    r = client.post("/api/upload", content=b"1,2,0\n" * (2 * 2**20))  # 12 MB
    assert r.status_code == 413


def test_runs_api_lists_the_store_and_reads_no_path_outside_it(client, isolated_home):
    rc, out, err = run_cli("train", "--n-per-class", "30", "--steps", "20", "--json")
    assert rc == 0, err
    run_id = json.loads(out)["run"]
    listing = client.get("/api/runs").json()
    assert [r["id"] for r in listing["runs"]] == [run_id]
    assert client.get("/api/runs?kind=study").json()["runs"] == []
    assert client.get("/api/runs?status=bogus").status_code == 422
    detail = client.get(f"/api/runs/{run_id}").json()
    assert detail["curves"]["test_acc"][0][-1] == 20 and detail["figures"]
    name = detail["figures"][0]
    assert client.get(f"/api/runs/{run_id}/figures/{name}").headers["content-type"] == "image/png"
    (isolated_home / "secret.png").write_bytes(b"x")
    for path in (f"/api/runs/{run_id}/figures/..%2Fsecret.png", f"/api/runs/{run_id}/figures/..%2F..%2Fnnstudy.db",
                 "/api/runs/..%2F..%2Fetc", "/api/runs/nosuchrun/figures/a.png", "/static/..%2F..%2F__init__.py",
                 "/static/%2e%2e/app.py"):
        r = client.get(path)
        assert r.status_code == 404, path
    assert client.get("/report").status_code == 404  # no report written yet


def test_loopback_check_and_warning(monkeypatch, capsys):
    import uvicorn

    from nnstudy.serve import is_loopback, serve

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    lines = []
    serve("runs", "0.0.0.0", 9999, log=lines.append)
    assert "warning" in lines[0] and "loopback" in lines[0] and calls[0]["host"] == "0.0.0.0"
    lines.clear()
    serve("runs", "127.0.0.1", 9999, log=lines.append)
    assert not any("warning" in line for line in lines) and "http://127.0.0.1:9999/" in lines[0]


def test_cli_serve_help_and_bad_port():
    rc, out, _ = run_cli("serve", "--help")
    assert rc == 0 and "--host" in out and "--port" in out
    rc, _, err = run_cli("serve", "--port", "70000")
    assert rc == 2 and "65535" in err


@pytest.mark.parametrize("kw", [dict(steps=53), dict(steps=0, epochs=2, batch_size=32, dataset="moons"),
                                dict(steps=30, optimizer="sgd", lr=1e4)], ids=["full-batch", "mini-batch", "diverges"])
def test_stepper_is_fit_a_few_steps_at_a_time(kw):
    """The playground's engine: Stepper advanced in uneven chunks gives fit's records and numbers, and
    so_far() at step s is what fit with steps=s gives."""
    import torch

    from nnstudy.config import TrainConfig
    from nnstudy.data import load_dataset
    from nnstudy.models import build_model
    from nnstudy.train import Stepper, fit

    cfg = TrainConfig(device="cpu", n_per_class=50, **kw)
    data = load_dataset(cfg)

    def model():
        torch.manual_seed(cfg.seed)
        return build_model(cfg, data.input_shape, data.num_classes)

    whole = fit(model(), data, cfg)
    st, chunks = Stepper(model(), data, cfg), iter([1, 7, 2, 13, 5] * 100)
    while st.result is None:
        st.advance(next(chunks))
    assert (st.result.status, st.result.final, st.result.records) == (whole.status, whole.final, whole.records)
    if whole.status == "complete":
        k = min(11, whole.steps - 2)
        part = Stepper(model(), data, cfg)
        part.advance(k)
        so_far = part.so_far()
        part.advance(1)  # training goes on afterwards
        short = fit(model(), data, cfg.replace(steps=k, epochs=0))
        assert (so_far.final, so_far.records) == (short.final, short.records)
    else:
        assert whole.status == "diverged"


def test_a_port_in_use_is_one_line_and_exit_2():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        rc, _, err = run_cli("serve", "--port", s.getsockname()[1])
    assert rc == 2 and "in use" in err and "--port" in err and len(err.strip().splitlines()) == 1


def test_requests_from_other_sites_and_rebound_names_are_refused(isolated_home):
    """A page elsewhere can open a WebSocket to 127.0.0.1 or post to it, and a name rebound to 127.0.0.1
    can read it: an Origin must be this server's, and on loopback the Host a loopback name."""
    from starlette.websockets import WebSocketDisconnect

    from nnstudy.serve.guard import LOOPBACK_HOSTS

    with TestClient(create_app(isolated_home, LOOPBACK_HOSTS), base_url="http://127.0.0.1:8765") as c:
        assert c.get("/api/fields").status_code == 200  # curl, the benchmark: no Origin
        same = {"origin": "http://127.0.0.1:8765"}
        assert c.post("/api/check", json={}, headers=same).status_code == 200
        evil = {"origin": "http://evil.example"}
        assert c.post("/api/check", json={}, headers=evil).status_code == 403
        assert c.post("/api/upload", content=b"1,2,0\n", headers=evil).status_code == 403
        assert c.get("/api/runs", headers={"host": "evil.example:8765"}).status_code == 403  # DNS rebinding
        assert c.get("/", headers={"host": "localhost:8765"}).status_code == 200
        here = {"host": "127.0.0.1:8765"}  # the test client's sockets say "testserver" otherwise
        with pytest.raises(WebSocketDisconnect):
            with c.websocket_connect("/ws", headers={**here, **evil}) as ws:
                ws.receive_json()
        with c.websocket_connect("/ws", headers={**here, **same}) as ws:
            start(ws, SMALL)


def test_sessions_built_at_once_get_their_own_seeds_weights():
    """Compare builds two sessions in two threads at once: each model's initial weights must be its
    seed's, not a mix of two seeds' draws from torch's one global stream."""
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from nnstudy.serve.params import parse
    from nnstudy.serve.session import Session

    cfgs = [parse({"n_per_class": 20, "seed": s, "width": 256, "depth": 6}, Path(".")) for s in (1, 2) * 4]
    alone = {c.seed: Session(c).model.state_dict() for c in cfgs[:2]}
    with ThreadPoolExecutor(8) as pool:
        sessions = list(pool.map(Session, cfgs))
    for s in sessions:
        ref = alone[s.cfg.seed]
        assert all(torch_equal(v, ref[k]) for k, v in s.model.state_dict().items())


def torch_equal(a, b) -> bool:
    import torch

    return torch.equal(a, b)


# -- what the cold reader found (notes/19-coldread.md) ------------------------------------------------

BLOWN = {**SMALL, "optimizer": "sgd", "lr": 10, "seed": 1}  # SGD at lr 10: loss 1.11 -> 3.03, every ReLU dead


def test_a_run_that_blew_up_says_so_as_a_stored_run_would(client):
    """The playground's verdict is experiment.learning_warnings (what judges stored runs), and Save as
    run stores the same warnings; all-zero gradients are called dead units."""
    with client.websocket_connect("/ws") as ws:
        start(ws, BLOWN)
        ws.send_json({"type": "run"})
        last = frames_until(ws, lambda m: m["type"] == "frame" and m["done"])[-1]
        ws.send_json({"type": "save"})
        saved = ws.receive_json()
    assert last["status"] == "complete" and last["grads"] == [0.0, 0.0]
    codes = [v["code"] for v in last["verdict"]]
    assert codes == ["loss-rose", "at-chance", "dead"]
    rose = last["verdict"][0]["short"]
    assert rose.startswith("loss rose (1.1") and rose.endswith(f"-> {last['metrics']['train_loss']:.2f})")
    assert [w.split(":")[0] for w in saved["warnings"]] == ["loss-rose", "at-chance"]
    assert all(layer["constant"].count(True) >= 10 for layer in last["units"])  # dead units flagged on the maps


def test_a_run_that_learns_has_no_verdict_and_step_0_has_no_gradients(client):
    with client.websocket_connect("/ws") as ws:
        _, first = start(ws, {**SMALL, "steps": 200, "lr": 0.01})
        assert first["grads"] == [None, None] and first["updates"] == [None, None]  # "–" on the page, not 0
        ws.send_json({"type": "run"})
        last = frames_until(ws, lambda m: m["type"] == "frame" and m["done"])[-1]
    assert last["verdict"] == [] and last["metrics"]["train_acc"] > 0.8


def test_update_bars_are_the_step_the_optimizer_took():
    """||ΔW|| / ||W|| of the latest step: lr x ||g|| / ||W|| for SGD; for Adam not proportional to ||g||."""
    from pathlib import Path

    import torch

    from nnstudy.serve import params
    from nnstudy.serve.session import Session

    for opt in ("sgd", "adam"):
        s = Session(params.parse({**SMALL, "optimizer": opt, "lr": 0.1, "weight_decay": 0, "depth": 3,
                                  "activation": "sigmoid"}, Path("/nonexistent")))
        s.train_for(60.0, 3)
        before = [m.weight.detach().clone() for m in s.layers]
        s.train_for(60.0, 1)
        want = [((m.weight - b).norm() / b.norm()).item() for b, m in zip(before, s.layers)]
        assert s.updates == pytest.approx(want, rel=1e-5)
        ratio = [u / g for u, g in zip(s.updates, s.grads)]
        if opt == "sgd":
            # float32: W_after - W_before of a 1e-5 relative step keeps about 3 digits
            assert s.updates == pytest.approx([0.1 * g / b.norm().item() for g, b in zip(s.grads, before)], rel=2e-3)
        else:  # Adam's step does not follow the gradient's size: update/gradient differs by orders across layers
            assert max(ratio) / min(ratio) > 10
        assert torch.isfinite(torch.tensor(s.updates)).all()


def test_points_of_the_data_fields_are_drawn_while_another_field_is_bad(client):
    r = client.post("/api/points", json={"n_per_class": 50, "lr": -1, "width": 0})
    assert r.status_code == 200
    j = r.json()
    assert len(j["train"]) + len(j["test"]) == 150 and j["classes"] == 3 and len(j["bounds"]) == 4
    r = client.post("/api/points", json={"n_per_class": 1, "lr": -1})
    assert r.status_code == 422 and r.json()["field"] == "n_per_class"


def test_a_stored_run_opens_in_the_playground_with_its_setup(client, isolated_home):
    """The run's page links to the playground with its config; that link parses back to the same config.
    A run the playground cannot train (a field it does not have) gets no link."""
    from urllib.parse import parse_qsl

    from nnstudy.config import TrainConfig
    from nnstudy.experiment import train_and_evaluate
    from nnstudy.serve import params
    from nnstudy.store import Store

    setup = {**SMALL, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "activation": "tanh", "depth": 2}
    with client.websocket_connect("/ws") as ws:
        ready, _ = start(ws, setup)
        ws.send_json({"type": "step", "steps": 5})
        ws.receive_json()
        ws.send_json({"type": "save"})
        saved = ws.receive_json()
    d = client.get(f"/api/runs/{saved['run']}").json()
    assert d["name"] == "playground: tanh mlp 2x100, sgd momentum 0.9 lr 0.05, spiral"
    assert d["playground"].startswith("/?")
    back = dict(parse_qsl(d["playground"][2:]))
    assert back == {"n_per_class": "60", "steps": "5", "optimizer": "sgd", "lr": "0.05", "momentum": "0.9",
                    "activation": "tanh", "depth": "2"}
    assert params.public(params.parse(back, isolated_home / "uploads")) == {**ready["config"], "steps": 5}
    store = Store(isolated_home)
    plain = train_and_evaluate(TrainConfig(n_per_class=30, steps=5, device="cpu"), store)  # nnstudy train's defaults
    other = train_and_evaluate(TrainConfig(n_per_class=30, steps=5, schedule="cosine", device="cpu"), store)
    assert dict(parse_qsl(client.get(f"/api/runs/{plain.run_id}").json()["playground"][2:])) == {
        "n_per_class": "30", "steps": "5", "weight_decay": "0"}
    assert client.get(f"/api/runs/{other.run_id}").json()["playground"] is None
