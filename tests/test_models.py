"""nn.models: LeNet5 layer sizes and keys, MLP structure, PyTorch state_dict round trips, a training smoke test."""

import numpy as np
import pytest

import autograd
import nn
import nn.functional as F
from autograd import Tensor

LENET_KEYS = ["c1.weight", "c1.bias", "c3.weight", "c3.bias", "c5.weight", "c5.bias", "f6.weight", "f6.bias",
              "output.weight", "output.bias"]


def test_lenet5_parameter_counts_and_keys():
    m = nn.LeNet5()
    counts = {name: mod.num_parameters() for name, mod in m.named_children()}
    assert counts == {"c1": 156, "s2": 0, "c3": 2416, "s4": 0, "c5": 48120, "flatten": 0, "f6": 10164,
                      "output": 850}
    assert m.num_parameters() == 61706
    assert list(m.state_dict()) == LENET_KEYS
    assert nn.LeNet5(num_classes=3).output.out_features == 3


def test_lenet5_forward_shapes_padding_and_summary():
    autograd.manual_seed(0)
    m = nn.LeNet5()
    x28 = autograd.randn(3, 1, 28, 28)
    y = m(x28)
    assert y.shape == (3, 10)
    x32 = Tensor(np.pad(x28.data, ((0, 0), (0, 0), (2, 2), (2, 2))))
    np.testing.assert_allclose(m(x32).data, y.data, atol=1e-6)
    np.testing.assert_allclose(m(x28.data[:, 0]).data, y.data, atol=1e-6)  # (N, 28, 28) works too
    assert m.c1._out_shape == (3, 6, 28, 28) and m.c5._out_shape == (3, 120, 1, 1)
    text = m.summary((1, 32, 32))
    for name, shape, n in [("c1", "(-1, 6, 28, 28)", "156"), ("s4", "(-1, 16, 5, 5)", "0"),
                           ("c5", "(-1, 120, 1, 1)", "48,120"), ("output", "(-1, 10)", "850")]:
        assert any(s.startswith(name + " (") and shape in s and s.rstrip().endswith(n) for s in text.splitlines())
    assert "Total params: 61,706" in text
    proba = m.predict_proba(x28)
    np.testing.assert_allclose(proba.data.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(m.predict(x28), y.data.argmax(1))
    with pytest.raises(ValueError, match=r"LeNet5.*\(N, 1, 32, 32\)"):
        m(autograd.randn(2, 3, 32, 32))


def test_mlp_structure():
    m = nn.MLP([784, 256, 128, 10])
    assert [type(l).__name__ for l in m] == ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert m.num_parameters() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert m(autograd.randn(2, 1, 28, 28)).shape == (2, 10)
    full = nn.MLP([4, 8, 3], activation="tanh", dropout=0.2, batch_norm=True)
    assert [type(l).__name__ for l in full] == ["Flatten", "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"]
    assert list(full.state_dict())[:5] == ["1.weight", "1.bias", "2.weight", "2.bias", "2.running_mean"]
    assert isinstance(nn.MLP([2, 2, 1], activation=nn.Sigmoid)[2], nn.Sigmoid)
    with pytest.raises(ValueError, match="activation"):
        nn.MLP([2, 1, 1], activation="gelu")


def test_mlp_trains_on_a_toy_problem():
    autograd.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR-like quadrants
    m = nn.MLP([2, 32, 2], batch_norm=True)
    first = None
    for _ in range(150):
        loss = F.cross_entropy(m(x), y)
        first = first if first is not None else loss.item()
        m.zero_grad()
        loss.backward()
        for p in m.parameters():
            p.data -= 0.5 * p.grad.data
    m.eval()
    assert loss.item() < 0.5 * first
    assert (m.predict(x) == y).mean() > 0.9


def torch_lenet(torch):
    tnn = torch.nn

    class TorchLeNet5(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = tnn.Conv2d(1, 6, 5)
            self.s2 = tnn.MaxPool2d(2)
            self.c3 = tnn.Conv2d(6, 16, 5)
            self.s4 = tnn.MaxPool2d(2)
            self.c5 = tnn.Conv2d(16, 120, 5)
            self.flatten = tnn.Flatten()
            self.f6 = tnn.Linear(120, 84)
            self.output = tnn.Linear(84, 10)

        def forward(self, x):
            r = torch.relu
            x = self.s4(r(self.c3(self.s2(r(self.c1(x))))))
            return self.output(r(self.f6(self.flatten(r(self.c5(x))))))

    return TorchLeNet5()


def test_lenet5_keys_match_torch():
    torch = pytest.importorskip("torch")
    theirs = torch_lenet(torch).state_dict()
    ours = nn.LeNet5().state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(theirs[k].shape) and ours[k].dtype == np.float32 for k in ours)


def test_lenet5_round_trip_through_torch():
    torch = pytest.importorskip("torch")
    autograd.manual_seed(1)
    ours = nn.LeNet5()
    theirs = torch_lenet(torch)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(4, 1, 32, 32)).astype(np.float32)
    yt = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(x).data, yt, atol=1e-5)
    back = nn.LeNet5()
    back.load_state_dict(theirs.state_dict())  # torch tensors are accepted
    np.testing.assert_array_equal(back(x).data, ours(x).data)


def test_mlp_round_trip_through_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    ours = nn.MLP([6, 5, 3], batch_norm=True)
    theirs = tnn.Sequential(tnn.Flatten(), tnn.Linear(6, 5), tnn.BatchNorm1d(5), tnn.ReLU(), tnn.Linear(5, 3))
    x = np.random.default_rng(0).normal(size=(8, 6)).astype(np.float32)
    ours(x)  # move the running statistics
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    back = nn.MLP([6, 5, 3], batch_norm=True)
    back.load_state_dict(theirs.state_dict())
    back.eval()
    np.testing.assert_array_equal(back(x).data, ours(x).data)


def test_predict_and_predict_proba_run_in_eval_mode_and_restore_it():
    autograd.manual_seed(0)
    model = nn.MLP([4, 16, 3], dropout=0.5, batch_norm=True)
    model.train()
    model[2].eval()  # a sub-module's own mode is restored too
    bn = model[2]
    x = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    mean0, tracked0 = bn.running_mean.data.copy(), int(bn.num_batches_tracked.data)
    p1, p2 = model.predict_proba(x).data, model.predict_proba(x).data
    np.testing.assert_array_equal(p1, p2)  # Dropout off
    np.testing.assert_array_equal(model.predict(x), p1.argmax(-1))
    np.testing.assert_array_equal(model.predict(x), nn.train.predict(model, x).argmax(-1))
    np.testing.assert_array_equal(bn.running_mean.data, mean0)  # BatchNorm statistics untouched
    assert int(bn.num_batches_tracked.data) == tracked0
    assert model.training and model[4].training and not model[2].training
    with nn.module.eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert model.training and not model[2].training
