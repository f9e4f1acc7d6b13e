"""nn.Module: walking, PyTorch naming, modes, state_dict, freezing, containers, repr/summary."""

import numpy as np
import pytest

import autograd
import nn
from autograd import Tensor


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(4, np.float32))
        self.heads = [nn.Linear(4, 2), nn.Linear(4, 1)]
        self.extra = {"a": nn.Linear(2, 2)}
        self.bn = nn.BatchNorm1d(4)
        self.seq = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Dropout(0.5))
        self.not_a_param = Tensor(np.zeros(3))  # plain Tensors are not registered
        self.sizes = [3, 4]

    def forward(self, x):
        h = self.seq(self.bn(self.fc1(x) * self.scale))
        return self.heads[0](h), self.heads[1](h)


def test_named_parameters_follow_pytorch_order_and_names():
    names = [n for n, _ in Net().named_parameters()]
    # own parameters first, then children depth first in assignment order
    assert names == [
        "scale", "fc1.weight", "fc1.bias", "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias",
        "extra.a.weight", "extra.a.bias", "bn.weight", "bn.bias", "seq.0.weight", "seq.0.bias",
    ]
    assert all(isinstance(p, nn.Parameter) for p in Net().parameters())


def test_buffers_children_modules():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert net.bn.num_batches_tracked.dtype == np.int64
    assert [n for n, _ in net.named_children()] == ["fc1", "heads.0", "heads.1", "extra.a", "bn", "seq"]
    names = [n for n, _ in net.named_modules()]
    assert names[0] == "" and "seq.2" in names and len(names) == 10
    assert list(net.modules())[0] is net
    assert net.get_submodule("seq.0") is net.seq[0]


def test_state_dict_keys_values_are_copies():
    net = Net()
    sd = net.state_dict()
    assert list(sd)[:3] == ["scale", "fc1.weight", "fc1.bias"]
    assert "bn.running_mean" in sd and "bn.num_batches_tracked" in sd
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    before = sd["fc1.weight"].copy()
    net.fc1.weight.data += 1
    np.testing.assert_array_equal(sd["fc1.weight"], before)


def test_state_dict_round_trip_gives_identical_outputs():
    autograd.manual_seed(0)
    a, b = Net(), Net()
    x = autograd.randn(5, 3)
    a.train()
    a(x)  # updates running stats
    a.eval()
    b.eval()
    weight_array = b.fc1.weight.data
    b.load_state_dict(a.state_dict())
    assert b.fc1.weight.data is weight_array  # copied into the existing arrays
    for ya, yb in zip(a(x), b(x)):
        np.testing.assert_array_equal(ya.data, yb.data)
    assert int(b.bn.num_batches_tracked.data) == 1


def test_load_state_dict_strict_errors_name_keys_and_shapes():
    net = Net()
    sd = net.state_dict()
    bad = dict(sd)
    bad["fc1.weight"] = np.zeros((5, 3), np.float32)
    with pytest.raises(RuntimeError, match=r"fc1\.weight.*\(5, 3\).*\(4, 3\)"):
        net.load_state_dict(bad)
    missing = dict(sd)
    del missing["bn.running_var"]
    with pytest.raises(RuntimeError, match="missing.*bn.running_var"):
        net.load_state_dict(missing)
    extra = dict(sd, **{"head.weight": np.zeros(1)})
    with pytest.raises(RuntimeError, match="unexpected.*head.weight"):
        net.load_state_dict(extra)
    # non-strict reports instead of raising; shape mismatches always raise
    res = net.load_state_dict({**missing, "head.weight": np.zeros(1)}, strict=False)
    assert res.missing_keys == ["bn.running_var"] and res.unexpected_keys == ["head.weight"]
    with pytest.raises(RuntimeError, match="size mismatch"):
        net.load_state_dict(bad, strict=False)


def test_failed_load_copies_nothing():
    net = Net()
    sd = {k: v + 1 if v.dtype.kind == "f" else v for k, v in net.state_dict().items()}
    sd["seq.0.weight"] = np.zeros((2, 2))
    old = net.fc1.weight.data.copy()
    with pytest.raises(RuntimeError):
        net.load_state_dict(sd)
    np.testing.assert_array_equal(net.fc1.weight.data, old)


def test_train_eval_propagate():
    net = Net()
    assert net.training and net.seq[2].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.bn.training


def test_zero_grad_and_freezing():
    autograd.manual_seed(1)
    net = Net()
    net.fc1.requires_grad_(False)
    y0, y1 = net(autograd.randn(4, 3))
    (y0.sum() + y1.sum()).backward()
    assert net.fc1.weight.grad is None and net.fc1.bias.grad is None
    assert net.heads[0].weight.grad is not None and net.scale.grad is not None
    assert net.num_parameters(trainable_only=True) == net.num_parameters() - 16
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(True)
    assert all(p.requires_grad for p in net.parameters())


def test_shared_parameters_counted_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert seq.num_parameters() == 6
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_apply_and_num_parameters():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 5
    net.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert not net.fc1.weight.data.any()
    assert net.num_parameters() == 4 + 16 + 10 + 5 + 6 + 8 + 20


def test_sequential_modulelist_moduledict():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    x = autograd.randn(2, 3)
    np.testing.assert_allclose(seq(x).data, seq[2](seq[1](seq[0](x))).data)
    seq.append(nn.Tanh())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict(conv=nn.Linear(2, 2), act=nn.ReLU()))
    assert [n for n, _ in named.named_parameters()] == ["conv.weight", "conv.bias"]
    assert isinstance(named.conv, nn.Linear)
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.Linear(1, 2))
    ml.insert(0, nn.Identity())
    assert [n for n, _ in ml.named_parameters()] == ["1.weight", "1.bias", "2.weight", "2.bias"]
    md = nn.ModuleDict({"train": nn.Linear(1, 1)})  # keys may shadow method names
    md["b"] = nn.Linear(1, 1)
    assert [n for n, _ in md.named_parameters()] == ["train.weight", "train.bias", "b.weight", "b.bias"]
    assert callable(md.train) and "b" in md and list(md) == ["train", "b"]


def test_module_without_super_init_and_parameter_class():
    class Bare(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(3))

        def forward(self, x):
            return x * self.w

    m = Bare()
    assert m.training and [n for n, _ in m.named_parameters()] == ["w"]
    p = nn.Parameter(np.zeros(2))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert not hasattr(p, "__dict__") and nn.Parameter.__slots__ == ()
    assert "Parameter containing" in repr(p)
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_to_double_keeps_parameter_objects():
    lin = nn.Linear(2, 3)
    w = lin.weight
    lin.double()
    assert lin.weight is w and w.dtype == np.float64
    assert lin(autograd.randn(4, 2, dtype=np.float64)).dtype == np.float64


def test_repr_shows_counts_and_last_output_shape():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    assert "[16 params]" in repr(seq)
    seq(autograd.randn(7, 3))
    r = repr(seq)
    assert "(0): Linear(in_features=3, out_features=4, bias=True)  [16 params, out (7, 4)]" in r
    assert r.endswith("[16 params, out (7, 4)]")


def test_summary_table():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    net.train()
    text = net.summary((3,))
    assert net.training and int(net[1].num_batches_tracked.data) == 0  # mode and stats untouched
    lines = text.splitlines()
    assert any("0 (Linear)" in s and "(-1, 4)" in s and s.rstrip().endswith("16") for s in lines)
    assert any("3 (Linear)" in s and "(-1, 2)" in s and s.rstrip().endswith("10") for s in lines)
    assert "Total params: 34" in text and "Trainable params: 34" in text


def test_container_slicing_and_insert_keep_types_and_names():
    from collections import OrderedDict

    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 2)])
    part = ml[0:2]
    assert type(part) is nn.ModuleList and len(part) == 2 and part[0] is ml[0]
    assert [n for n, _ in part.named_children()] == ["0", "1"]
    assert type(ml[1:]) is nn.ModuleList and len(ml[5:]) == 0
    with pytest.raises(TypeError):
        nn.ModuleList(nn.Linear(1, 1), nn.ReLU())  # one iterable, as in PyTorch
    with pytest.raises(NotImplementedError):
        ml(1)

    named = nn.Sequential(OrderedDict(conv=nn.Linear(2, 2), act=nn.ReLU()))
    named.insert(1, nn.Tanh())
    assert [n for n, _ in named.named_children()] == ["conv", "2", "act"]
    assert isinstance(named.conv, nn.Linear) and isinstance(named[1], nn.Tanh)
    assert [n for n, _ in named.named_parameters()] == ["conv.weight", "conv.bias"]
    named.append(nn.Identity())
    assert [n for n, _ in named.named_children()] == ["conv", "2", "act", "3"]
    sub = named[:2]
    assert type(sub) is nn.Sequential and [n for n, _ in sub.named_children()] == ["conv", "2"]

    seq = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    seq.insert(0, nn.Identity())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"] and isinstance(seq[0], nn.Identity)
    assert [n for n, _ in seq[1:].named_children()] == ["0", "1"]
    with pytest.raises(TypeError, match="expected a Module"):
        seq.insert(0, "relu")
    with pytest.raises(TypeError, match="expected a Module"):
        nn.ModuleDict({"a": 1})


def test_append_to_named_sequential_skips_taken_numbers():
    from collections import OrderedDict

    a, b, c, d = nn.Linear(1, 1), nn.ReLU(), nn.Tanh(), nn.Identity()
    seq = nn.Sequential(OrderedDict([("2", a), ("x", b)]))
    seq.append(c)  # the next number, 2, is taken by `a`: c becomes "3" and a stays
    assert [(n, m) for n, m in seq.named_children()] == [("2", a), ("x", b), ("3", c)]
    seq.insert(0, d)  # again past the taken numbers ("3" is c)
    assert [(n, m) for n, m in seq.named_children()] == [("4", d), ("2", a), ("x", b), ("3", c)]


def test_get_submodule_finds_a_shared_module_by_each_of_its_names():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(3, 3)
            self.dec = self.enc

    net = Tied()
    assert net.get_submodule("dec") is net.enc and net.get_submodule("enc") is net.enc
    assert "dec.weight" in net.state_dict()
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(nn.Sequential(lin), nn.Sequential(lin))
    assert seq.get_submodule("1.0") is lin and seq.get_submodule("0.0") is lin
    with pytest.raises(AttributeError, match="has no submodule '2'"):
        seq.get_submodule("2")


def test_train_wants_a_bool():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    with pytest.raises(ValueError, match=r"train: mode must be a bool, got 'False'"):
        net.train("False")
    assert net.train(np.bool_(False)).training is False and net[1].training is False
    assert net.train().training is True


def test_batchnorm_channel_error_says_how_many_channels():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected input of shape \(N, C, H, W\) with C = 3, got "
                                         r"\(2, 4, 3, 3\)"):
        nn.BatchNorm2d(3)(Tensor(np.zeros((2, 4, 3, 3), np.float32)))
