"""XOR: what one perceptron cannot do and one hidden layer can.

No line puts (0,1), (1,0) on one side and (0,0), (1,1) on the other (the two diagonals' midpoints
coincide), so a single linear threshold unit gets at most 3 of the 4 points right. A 2-2-1 net
of threshold units does it by hand (hidden OR and AND, output "OR and not AND"), and a 2-2-2
softmax MLP (a 2-2-1 net with a sigmoid output: softmax over 2 logits is the sigmoid of their
difference) learns it by gradient descent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnstudy.scratch.mlp import MLP, Adam, fit_full_batch
from nnstudy.scratch.perceptron import train_perceptron, xor_data


def _step(z):
    return np.where(z > 0, 1.0, 0.0)


# The hand-set 2-2-1 threshold net, W shaped (n_in, n_out) as in scratch.mlp.
HAND_XOR = {
    "W1": np.array([[1.0, 1.0], [1.0, 1.0]]),  # hidden unit 0: x1 + x2 > 0.5 (OR)
    "b1": np.array([-0.5, -1.5]),  # hidden unit 1: x1 + x2 > 1.5 (AND)
    "W2": np.array([1.0, -1.0]),  # output: OR - AND > 0.5 (exactly one input on)
    "b2": -0.5,
}


def xor_hand_net(X, net=HAND_XOR):
    """Predictions in {-1, +1} of the hand-set 2-2-1 threshold net on X (N, 2)."""
    h = _step(np.asarray(X, dtype=np.float64) @ net["W1"] + net["b1"])  # (N, 2) hidden units
    return 2 * _step(h @ net["W2"] + net["b2"]) - 1  # (N,)


def train_xor_mlp(seed: int = 0, steps: int = 300, lr: float = 0.1, activation: str = "tanh",
                  max_restarts: int = 10):
    """Full-batch Adam on a 2-2-2 MLP from seeds seed, seed + 1, ... until it gets all 4 points.

    A 2-unit hidden layer can stall in a local minimum from some initializations; the number of
    tries it took is returned with the net: (net, accuracy, losses, tries)."""
    X, y = xor_data()
    labels = (y > 0).astype(np.int64)  # {-1, +1} -> class {0, 1}
    for k in range(max_restarts):
        net = MLP([2, 2, 2], activation, seed=seed + k)
        losses = fit_full_batch(net, X, labels, Adam(net.params, lr=lr), steps)
        acc = net.accuracy(X, labels)
        if acc == 1.0:
            break
    return net, acc, losses, k + 1


@dataclass
class XorReport:
    perceptron_max_accuracy: float  # best accuracy of any weights the perceptron visited (<= 0.75)
    perceptron_mistakes: int  # updates made in max_epochs without converging
    hand_net_accuracy: float  # hand-set 2-2-1 threshold net: 1.0
    mlp_accuracy: float  # trained 2-2-2 MLP
    mlp_final_loss: float
    mlp_tries: int  # initializations tried before one reached 100 %


def solve_xor(max_epochs: int = 100, seed: int = 0) -> XorReport:
    """The perceptron fails on XOR; a hidden layer, hand-set or trained, succeeds."""
    X, y = xor_data()
    res = train_perceptron(X, y, max_epochs=max_epochs)
    visited = res.history @ np.hstack([X, np.ones((4, 1))]).T  # (updates, 4) scores per point
    best = float(((visited * y) > 0).mean(axis=1).max()) if len(visited) else 0.0
    net, acc, losses, tries = train_xor_mlp(seed)
    return XorReport(
        perceptron_max_accuracy=max(best, res.max_accuracy), perceptron_mistakes=res.mistakes,
        hand_net_accuracy=float((xor_hand_net(X) == y).mean()), mlp_accuracy=acc,
        mlp_final_loss=net.loss(X, (y > 0).astype(np.int64)), mlp_tries=tries)
