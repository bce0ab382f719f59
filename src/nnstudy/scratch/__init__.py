"""From-scratch neural nets in NumPy (no autograd), tested against PyTorch on the same inputs.

- perceptron: Rosenblatt's perceptron, Novikoff's bound, a max-margin solver, toy data.
- xor: the perceptron's failure on XOR and a hidden layer's success, hand-set and trained.
- mlp: a multi-layer perceptron with hand-written backward, SGD and Adam as torch.optim does.
- gradcheck: hand gradients vs central finite differences and vs torch.autograd.
"""

from nnstudy.scratch.gradcheck import autograd_grads, finite_difference_grads, gradcheck, relative_error
from nnstudy.scratch.mlp import MLP, SGD, Adam, fit_full_batch, softmax_cross_entropy
from nnstudy.scratch.perceptron import (
    MaxMargin,
    NovikoffBound,
    PerceptronResult,
    make_separable,
    max_margin_separator,
    novikoff_bound,
    train_perceptron,
    xor_data,
)
from nnstudy.scratch.xor import solve_xor, train_xor_mlp, xor_hand_net

__all__ = [
    "MLP", "SGD", "Adam", "fit_full_batch", "softmax_cross_entropy",
    "gradcheck", "relative_error", "finite_difference_grads", "autograd_grads",
    "train_perceptron", "novikoff_bound", "max_margin_separator", "make_separable", "xor_data",
    "PerceptronResult", "NovikoffBound", "MaxMargin",
    "solve_xor", "train_xor_mlp", "xor_hand_net",
]
