"""plot_data / plot_model: the course's call shapes, without its side effects."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.figure  # noqa: E402
import torch  # noqa: E402

from nnstudy import plots  # noqa: E402
from nnstudy.data.toy import make_spiral  # noqa: E402
from nnstudy.models.mlp import MLP  # noqa: E402


def test_plot_model_leaves_model_device_and_mode(tmp_path):
    X, y = make_spiral(100, 3, 0.2, generator=torch.Generator().manual_seed(0))
    model = MLP(2, 3, 16, 1, "relu", dropout=0.5).double()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fig = plots.plot_model(X, y, model, save=tmp_path / "m.png")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert model.training  # mode restored
    assert all(p.device.type == "cpu" and p.dtype == torch.float64 for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert (tmp_path / "m.png").stat().st_size > 1000
    model.eval()
    plots.plot_model(X, y, model, probs=True)
    assert not model.training


def test_plot_data_fits_the_range_to_the_data():
    X = torch.tensor([[10.0, 20.0], [12.0, 21.0], [11.0, 25.0]])
    fig = plots.plot_data(X, torch.tensor([0, 1, 2]))
    ax = fig.axes[0]
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert x0 < 10 and x1 > 12 and y0 < 20 and y1 > 25
    assert x1 - x0 < 10  # not the course's fixed [-1.1, 1.1] window, and not absurdly wide
