"""Malformed input to `nnstudy serve`: a few hundred parameter sets, bodies, uploads and socket
messages, drawn from a seeded generator. Each is answered 422 or 413 (an error message on the
socket), none 500, and the server still serves a good request at the end."""

import io
import json
import random
import zipfile

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from nnstudy.serve.app import create_app  # noqa: E402
from nnstudy.serve.params import FIELDS  # noqa: E402

NUMBERS = ("lr", "noise", "test_frac", "momentum", "weight_decay")
INTEGERS = ("n_per_class", "classes", "data_seed", "width", "depth", "batch_size", "seed", "steps")
CHOICES = ("dataset", "model", "activation", "init", "loss", "optimizer")
FLAGS = ("batch_norm", "residual", "nesterov")
ANY_BAD = ["", " ", "abc", None, [], {}, [1], {"a": 1}, "NaN", "nan", "inf", "-inf", "1e400", "-1e400",
           "0x10", "1,5", "\x00", "é" * 300, "1;DROP TABLE runs", "../../etc/passwd"]
BAD_BY_KIND = {
    "lr": [0, -1, "0", "-1e-3", 1e309], "noise": [-0.1, "-1"], "test_frac": [1, 1.5, -0.01, "1.0"],
    "momentum": [1, 2, -0.5], "weight_decay": [-1e-5, "-1"],
    "n_per_class": [0, 1, 5001, 10**12, 2.5, "3.7"], "classes": [0, 1, 11, -3], "data_seed": [-1, 2**64, "1.5"],
    "width": [0, -1, 257, 10**9, 1.5], "depth": [0, 7, -2], "batch_size": [-1, "-4", 0.5],
    "seed": [-1, 2**63, 2**100], "steps": [0, -10, 100_001, 10**15],
    "dataset": ["mnist", "cifar10", "folder:/", "npz:/etc/passwd", "points:", "points:../x", "points:ABCDEF0123456789",
                "points:0000000000000000", "SPIRAL", "spiral/../x"],
    "model": ["alexnet", "vgg16", "lenet5", "MLP", "m lp"],
    "activation": ["swish", "RELU", "softmax", 1], "init": ["zeros", "orthogonal", 0], "loss": ["hinge", "nll", 2],
    "optimizer": ["lbfgs", "adagrad", "Adam"], "batch_norm": ["maybe", 2, "2", "yesno"],
    "residual": ["x", -1], "nesterov": ["sometimes", 5],
    "features": ["x3", "x1+x1", "x1 x2", "+", "sin(x3)", "x1^3"],
    "widths": ["0", "8x0", "x", "1e3", "-4", "300", "1x1x1x1x1x1x1"],
    "activations": ["swish", "relu+relu", "relu+", "+"],
}
LISTS = ("features", "widths", "activations")  # "" is their default: off


def bad_params(rng: random.Random) -> dict:
    """Good values for some fields, and at least one value that is wrong for its field."""
    p = {}
    for name in rng.sample(list(FIELDS), rng.randint(0, 4)):  # valid companions
        p[name] = FIELDS[name]
    kind = rng.random()
    if kind < 0.15:
        p[rng.choice(["activations", "lr_", "device", "threads", "epochs", "schedule", "x" * 100, "", "__proto__"])] = 1
    else:
        name = rng.choice(list(BAD_BY_KIND))
        anything = [v for v in ANY_BAD if not (name in LISTS and v in ("", " "))]
        pool = BAD_BY_KIND[name] + (anything if rng.random() < .5 else [])
        p[name] = rng.choice(pool)
    return p


def bad_upload(rng: random.Random) -> bytes:
    k = rng.randrange(9)
    if k == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 2000)))
    if k == 1:  # wrong column counts
        cols = rng.choice([1, 2, 4, 5])
        return "\n".join(",".join(str(rng.random()) for _ in range(cols)) for _ in range(20)).encode()
    if k == 2:  # non-finite or non-integer labels, one class
        rows = [f"{rng.random()},{rng.random()},{rng.choice(['0', '1', 'nan', '0.5', 'inf'])}" for _ in range(20)]
        rows[rng.randrange(20)] = f"nan,1,{rng.choice(['0.5', '0'])}"
        return "\n".join(rows).encode()
    if k == 3:  # a zip that is no npz, or an npz without x/y
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("hello.txt", "hi")
        return buf.getvalue()
    buf = io.BytesIO()
    if k == 4:
        np.savez(buf, a=np.zeros(3))
    elif k == 5:
        np.savez(buf, x=np.zeros((10, 3)), y=np.zeros(10))
    elif k == 6:
        np.savez(buf, x=np.array(["a", "b"]), y=np.array([0, 1]))
    elif k == 7:
        np.savez(buf, x=np.zeros((20, 2)), y=np.zeros(20))  # one class
    else:
        np.savez(buf, x=np.zeros((5, 2)), y=np.arange(5) * 1.0 + 0.5)  # labels that are not integers
    data = buf.getvalue()
    return data[: rng.randrange(10, len(data))] if rng.random() < 0.3 else data  # sometimes truncated


def test_hundreds_of_malformed_requests_get_422_or_413_and_the_server_keeps_serving(isolated_home):
    rng = random.Random(19)
    seen = {422: 0, 413: 0}
    with TestClient(create_app(isolated_home), raise_server_exceptions=False) as client:
        for _ in range(300):
            p = bad_params(rng)
            r = client.post("/api/check", content=json.dumps(p).encode())
            assert r.status_code == 422, (p, r.status_code, r.text)
            body = r.json()
            assert body["field"] and body["message"] and "valid" in body, body
            seen[422] += 1
        for raw in (b"{", b"[]", b"null", b"\"lr\"", b"1e999", b"{\"lr\": NaN}", b"{\"lr\": Infinity}",
                    b"\xff\xfe", b"[" * 10000 + b"]" * 10000, b"{\"a\":" * 5000 + b"1" + b"}" * 5000):
            r = client.post("/api/check", content=raw)
            assert r.status_code in (422, 413), (raw[:40], r.status_code)
            seen[r.status_code] += 1
        r = client.post("/api/check", content=b"{" + b" " * 70_000 + b"}")
        assert r.status_code == 413
        seen[413] += 1
        for i in range(120):
            r = client.post("/api/upload", content=bad_upload(rng))
            assert r.status_code == 422, (i, r.status_code, r.text)
            seen[422] += 1
        for big in (b"1,2,0\n" * 1_800_000, b"\x00" * (11 * 2**20)):
            r = client.post("/api/upload", content=big)
            assert r.status_code == 413
            seen[413] += 1
        with client.websocket_connect("/ws") as ws:
            for _ in range(60):
                msg = rng.choice([{"type": "config", "config": bad_params(rng)}, {"type": "config", "config": [1]},
                                  {"type": "nope"}, [], "text", {"type": "step", "steps": -5}])
                ws.send_text(json.dumps(msg) if not isinstance(msg, str) else msg)
                reply = ws.receive_json()
                assert reply["type"] == "error" and reply["status"] in (409, 422), (msg, reply)
            ws.send_text("x" * 70_000)
            assert ws.receive_json()["status"] == 413
        assert client.get("/api/fields").status_code == 200
        r = client.post("/api/check", json={"lr": 0.01})
        assert r.status_code == 200  # still serving
    assert seen[422] >= 400 and seen[413] >= 3


def test_points_of_malformed_setups_are_200_or_422_never_500(isolated_home):
    """/api/points reads only the data fields: a bad training field still gives the points (200), a bad
    data field or body is 422/413, nothing is a 500."""
    from nnstudy.serve.params import DATA_FIELDS

    rng = random.Random(1919)
    codes = {200: 0, 422: 0}
    with TestClient(create_app(isolated_home), raise_server_exceptions=False) as client:
        for _ in range(150):
            p = bad_params(rng)
            r = client.post("/api/points", content=json.dumps(p).encode())
            assert r.status_code in (200, 422), (p, r.status_code, r.text[:200])
            if r.status_code == 422:  # only ever for the data or the body (json.dumps writes inf as Infinity)
                assert r.json()["field"] in (*DATA_FIELDS, "body", "config") or r.json()["field"] not in FIELDS, p
            codes[r.status_code] += 1
        for raw in (b"{", b"[]", b"null", b"1e999", b"{\"noise\": NaN}", b"\xff\xfe"):
            assert client.post("/api/points", content=raw).status_code == 422, raw
        assert client.post("/api/points", content=b"{" + b" " * 70_000 + b"}").status_code == 413
    assert codes[200] > 20 and codes[422] > 20
