"""Published reference values (shared/reference/anchors.md) as data, each with its source label.

Studies and the report show these beside nnstudy's own numbers, never in place of them. Only what
a source printed belongs here: a value this project measured itself (a re-run of someone's recipe)
is a run in the store, shown as ours, never in a "published" column; and a value whose source
cannot be named exactly (anchors.md's "modern PyTorch re-run of RBM pretraining", no author or
link) is left out rather than shown as published. A value
is stored as the source states it (`shown`) and as a number (`value`, a fraction for accuracies)
so a sentence can quote it through `evidence.ref_num` and a test can check the quote.
Keys are `topic.name`; `topic(...)` lists a topic's values in the order anchors.md gives them.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnstudy.errors import UsageError


@dataclass(frozen=True)
class Ref:
    key: str  # "topic.name", unique
    source: str  # who published it: the label the report shows
    setup: str  # what was measured, on what
    value: float | None  # the number (accuracies as fractions; errors in %; seconds)
    shown: str  # as the source states it
    metric: str = ""  # what the number is: "train accuracy", "test error %", ...

    @property
    def topic(self) -> str:
        return self.key.split(".", 1)[0]

    def row(self) -> dict:
        """The shape of `Section.references` rows."""
        return {"source": self.source, "setup": self.setup, "value": self.shown, "metric": self.metric}


ATCOLD = "Atcold/pytorch-Deep-Learning 04-spiral_classification (the week's recipe)"
RECIPE = "3 classes x 1000 points, H=100, seed 12345, lr 1e-3, wd 1e-5, 1000 full-batch steps"
TRAIN = "train accuracy"
NIELSEN = "Nielsen, Neural Networks and Deep Learning, ch. 5 (the values fig/generate_gradient.py prints)"
NIELSEN_SETUP = "sigmoid net {}, 1000 MNIST images, gradient norm of hidden layer {} (of {}) at the start"
GLOROT = "Glorot & Bengio 2010, Table 1"
GLOROT_TEXT = "Glorot & Bengio 2010 (text, on the layer Jacobians)"
GLOROT_SETUP = "5 hidden layers of 1000, {}, {}"
ZALANDO = "zalandoresearch/fashion-mnist benchmark (submitted, unverified)"
D2L = "d2l (classic edition)"


def _spiral() -> list[Ref]:
    refs = [Ref("spiral.linear_sgd", ATCOLD, f"linear+SGD; {RECIPE}", 0.504, "0.504", TRAIN),
            Ref("spiral.relu_adam", ATCOLD, f"ReLU+Adam; {RECIPE}", 0.949, "0.949", TRAIN),
            Ref("spiral.steps", ATCOLD, "full-batch steps of the recipe", 1000, "1000", "steps")]
    return refs


def _vanishing() -> list[Ref]:
    nets = {"[784,30,30,10]": (0.066, 0.309), "[784,30,30,30,10]": (0.012, 0.060, 0.283),
            "[784,30,30,30,30,10]": (0.0030, 0.017, 0.070, 0.285)}
    refs = []
    for net, norms in nets.items():
        for i, v in enumerate(norms, 1):
            refs.append(Ref(f"vanishing.nielsen.{len(norms)}hidden.layer{i}", NIELSEN,
                            NIELSEN_SETUP.format(net, i, len(norms)), v, f"{v:g}", "gradient norm"))
    refs.append(Ref("vanishing.nielsen.images", NIELSEN, "MNIST training images his gradient measurement averages "
                    "over", 1000, "1000", "images"))
    refs += [Ref("vanishing.glorot.jacobian_standard", GLOROT_TEXT, "average singular value of layer Jacobians, "
                 "standard init", 0.5, "about 0.5", "singular value"),
             Ref("vanishing.glorot.jacobian_normalized", GLOROT_TEXT, "average singular value of layer Jacobians, "
                 "normalized init", 0.8, "about 0.8", "singular value")]
    return refs


def _glorot() -> list[Ref]:
    table = {"Softsign": (16.27, 1.64, 55.78), "Softsign N": (16.06, 1.72, 53.8), "Tanh": (27.15, 1.76, 55.9),
             "Tanh N": (15.60, 1.64, 52.92), "Sigmoid": (82.61, 2.21, 57.28)}
    refs = []
    for act, errs in table.items():
        for data, err in zip(("Shapeset", "MNIST", "CIFAR-10"), errs):
            key = f"glorot.{act.lower().replace(' n', '_n')}.{data.lower().replace('-', '')}"
            name = act.replace(" N", " with normalized init")
            refs.append(Ref(key, GLOROT, GLOROT_SETUP.format(name, data), err, f"{err:g}", "test error %"))
    return refs


def _others() -> list[Ref]:
    atcold6 = "Atcold/pytorch-Deep-Learning 06-convnet"
    return [
        Ref("mlp_vs_cnn.fc", atcold6, "MNIST, 1 epoch, FC net, 6,442 params", 0.87, "87%", "test accuracy"),
        Ref("mlp_vs_cnn.cnn", atcold6, "MNIST, 1 epoch, CNN, 6,422 params", 0.94, "94%", "test accuracy"),
        Ref("mlp_vs_cnn.fc_permuted", atcold6, "pixel-permuted MNIST, FC net", 0.87, "87%", "test accuracy"),
        Ref("mlp_vs_cnn.cnn_permuted", atcold6, "pixel-permuted MNIST, CNN", 0.83, "83%", "test accuracy"),
        Ref("mnist.fast", "tuomaso/train_mnist_fast", "1 epoch, 0.76 s on a laptop GPU", 0.9904, "99.04%",
            "test accuracy"),
        Ref("mnist.examples", "tuomaso/train_mnist_fast", "pytorch/examples recipe, 14 epochs, 2 min 52 s",
            0.9919, "99.19%", "test accuracy"),
    ]


def _images() -> list[Ref]:
    fm = [("mlp", ZALANDO, "MLP 256-128-100", 0.883), ("conv2", ZALANDO, "2 conv layers, <100K params", 0.925),
          ("vgg16", ZALANDO, "VGG16", 0.935), ("conv2fc2", ZALANDO, "2 conv + 2 FC, flips", 0.939),
          ("resnet18", ZALANDO, "ResNet18", 0.949), ("wrn40_4", ZALANDO, "WRN40-4 (best listed)", 0.967),
          ("human", ZALANDO, "human", 0.835), ("d2l_lenet", D2L, "LeNet (sigmoid, avg-pool), 10 epochs", 0.779),
          ("d2l_alexnet", D2L, "AlexNet at 224 px, 10 epochs", 0.885),
          ("d2l_vgg11", D2L, "VGG-11 (channels / 4) at 224 px, 10 epochs", 0.920)]
    refs = [Ref(f"fashion_mnist.{k}", src, f"{setup} (Fashion-MNIST)", v, f"{v:.3f}", "test accuracy")
            for k, src, setup, v in fm]
    cifar = [("kuangliu_vgg16", "kuangliu/pytorch-cifar", "VGG16 (BN, 512->10 head); best test accuracy over "
              "the run, i.e. selected on test", 0.9264),
             ("huyvnphan_vgg16_bn", "huyvnphan/PyTorch_CIFAR10", "vgg16_bn, 100 epochs", 0.9400),
             ("airbench94", "KellerJordan/cifar10-airbench", "airbench94, mean of 200 runs, 2.59 s on an A100 "
              "(3.29 s in the paper)", 0.9401),
             ("airbench96", "KellerJordan/cifar10-airbench", "airbench96, about 27-46 s on an A100", 0.960),
             ("resnet9_page", "David Page, ResNet-9 \"bag of tricks\"", "26 s on a V100", 0.941)]
    refs += [Ref(f"cifar10.{k}", src, f"{setup} (CIFAR-10)", v, f"{100 * v:.2f}%", "test accuracy")
             for k, src, setup, v in cifar]
    m1d = (("logistic", 0.32), ("mlp", 0.68), ("cnn", 0.94), ("gru", 0.91), ("human", 0.96))
    refs += [Ref(f"mnist1d.{k}", "greydanus/mnist1d", f"{k} on MNIST-1D (generated locally)", v, f"{v:.0%}",
                 "test accuracy") for k, v in m1d]
    return refs


HUI_BELKIN = ("Hui and Belkin 2021, ICLR, \"Evaluation of Neural Architectures Trained with Square Loss vs "
              "Cross-Entropy in Classification Tasks\" (arXiv:2006.07322), abstract")


def _square_loss() -> list[Ref]:
    """Findings quoted word for word (no single number carries them): value None, the quote as shown."""
    setup = ("NLP, speech recognition and vision benchmarks, architectures trained with the hyper-parameters "
             "reported in the literature, square loss on raw outputs (no softmax) vs cross-entropy")
    return [Ref("square_loss.hui_belkin", HUI_BELKIN, setup, None,
                "\u201cperform comparably or better when trained with the square loss, even after equalizing "
                "computational resources\u201d", "finding (quoted)"),
            Ref("square_loss.hui_belkin_vision", HUI_BELKIN, setup, None,
                "\u201cCross-entropy appears to have a slight edge on computer vision tasks.\u201d",
                "finding (quoted)")]


LECUN = ("LeCun, Bottou, Bengio & Haffner 1998, Gradient-based learning applied to document recognition, "
         "Proc. IEEE 86(11)")
KRIZHEVSKY = ("Krizhevsky, Sutskever & Hinton 2012, ImageNet classification with deep convolutional neural networks, "
              "NeurIPS 25")
# Figure 1's caption, verbatim (checked against several copies of the paper's text, 2026-12-06).
KRIZHEVSKY_FIG1 = ("\u201cA four-layer convolutional neural network with ReLUs (solid line) reaches a 25% "
                   "training error rate on CIFAR-10 six times faster than an equivalent network with tanh neurons "
                   "(dashed line). The learning rates for each network were chosen independently to make training "
                   "as fast as possible. No regularization of any kind was employed.\u201d")


def _lenet_alexnet() -> list[Ref]:
    """LeNet-5 and AlexNet as published: results (topic lenet_alexnet, shown beside Q1) and the 2012
    net's shape (topic alexnet2012, for sentences describing what the study's net scaled down)."""
    lenet = "LeNet-5 (scaled tanh, trainable subsampling, the C3 connection table, RBF outputs), MNIST"
    refs = [Ref("lenet_alexnet.lecun_lenet5", LECUN, f"{lenet}, trained without distortions", 0.0095, "0.95%",
                "test error"),
            Ref("lenet_alexnet.lecun_lenet5_distorted", LECUN, f"{lenet}, trained with distortions", 0.008, "0.8%",
                "test error"),
            Ref("lenet_alexnet.krizhevsky_relu_tanh", f"{KRIZHEVSKY}, Figure 1", KRIZHEVSKY_FIG1, 6, "six times",
                "ReLU's speed-up over tanh (epochs to the training error)"),
            Ref("lenet_alexnet.krizhevsky_train_err", f"{KRIZHEVSKY}, Figure 1", "the training error at which "
                "Figure 1 compares the two nets", 0.25, "25%", "training error")]
    shape = {"input_px": (224, "input pixels (224 x 224 x 3)"), "convs": (5, "convolutional layers"),
             "conv1": (96, "channels of conv 1 (11 x 11 kernels)"),
             "conv1_stride": (4, "stride of conv 1, pixels"), "conv2": (256, "channels of conv 2"),
             "conv3": (384, "channels of conv 3"), "conv4": (384, "channels of conv 4"),
             "conv5": (256, "channels of conv 5"), "fcs": (3, "fully connected layers"),
             "fc1": (4096, "units of fc 1"), "fc2": (4096, "units of fc 2"), "classes": (1000, "ImageNet classes"),
             "params_million": (60, "parameters, millions"), "train_images_million": (1.2, "ImageNet training "
                                                                                     "images, millions")}
    refs += [Ref(f"alexnet2012.{k}", KRIZHEVSKY, what, v, f"{v:g}", "architecture") for k, (v, what) in shape.items()]
    return refs


REFERENCES: dict[str, Ref] = {r.key: r for r in _spiral() + _vanishing() + _glorot() + _others() + _images()
                              + _square_loss() + _lenet_alexnet()}

# Which published values belong beside which study, when the study's section names none itself.
STUDY_TOPICS = {
    "spiral": ("spiral",), "vanishing": ("vanishing", "glorot"), "activations": ("glorot",),
    "width-depth": ("mlp_vs_cnn",),
    "lenet-alexnet": ("lenet_alexnet", "fashion_mnist", "cifar10"), "images": ("mnist", "fashion_mnist", "cifar10"),
}


def ref(key: str) -> Ref:
    try:
        return REFERENCES[key]
    except KeyError:
        raise UsageError(f"no published reference {key!r}; topics: {', '.join(topics())}") from None


def topics() -> list[str]:
    return list(dict.fromkeys(r.topic for r in REFERENCES.values()))


def topic(name: str) -> list[Ref]:
    return [r for r in REFERENCES.values() if r.topic == name]


FACTS = ("steps", "images")  # a recipe's settings, quoted by sentences: not published results


def rows(*topic_names: str) -> list[dict]:
    """`Section.references` rows for the given topics (results only: the step counts of a recipe
    are there for sentences to quote, not as published results)."""
    return [r.row() for t in topic_names for r in topic(t) if r.metric not in FACTS]


def for_study(study: str) -> list[dict]:
    return rows(*STUDY_TOPICS.get(study, ()))
