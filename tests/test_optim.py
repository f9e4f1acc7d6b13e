"""nn.optim and nn.utils: hand-computed steps always, PyTorch agreement when torch is installed."""

import math

import numpy as np
import pytest

from autograd import Tensor, Value
from nn import optim
from nn.optim import SGD, Adam, AdamW
from nn.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR, StepLR
from nn.utils import clip_grad_norm_, clip_grad_value_, count_parameters


def _param(values):
    return Tensor(np.array(values, np.float32), requires_grad=True)


def _set_grad(p, g):
    p.grad = Tensor(np.array(g, np.float32))


# ------------------------------------------------------------------------------------------ hand-computed steps
def test_sgd_plain_step():
    p = _param([1.0, -2.0])
    _set_grad(p, [0.5, 1.0])
    data_id = id(p.data)
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, -2.1], rtol=1e-6)
    assert p.data.dtype == np.float32 and id(p.data) == data_id  # in place


def test_sgd_momentum_dampening_weight_decay_by_hand():
    w = np.array([1.0, -2.0])
    grads = [np.array([0.5, 1.0]), np.array([-0.25, 0.5]), np.array([0.1, 0.2])]
    lr, mu, damp, wd = 0.1, 0.9, 0.2, 0.01
    for nesterov in (False, True):
        d = 0.0 if nesterov else damp
        p = _param(w)
        opt = SGD([p], lr=lr, momentum=mu, dampening=d, nesterov=nesterov, weight_decay=wd)
        ref, buf = w.copy(), None
        for g in grads:
            _set_grad(p, g)
            opt.step()
            gg = g + wd * ref
            buf = gg.copy() if buf is None else mu * buf + (1 - d) * gg
            ref = ref - lr * (gg + mu * buf if nesterov else buf)
            np.testing.assert_allclose(p.data, ref, rtol=1e-6, atol=1e-7)


def test_adam_by_hand():
    w = np.array([0.5, -1.5, 2.0])
    grads = [np.array([0.1, -0.2, 0.3]), np.array([0.4, 0.0, -0.1]), np.array([-0.3, 0.2, 0.05])]
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.05
    for cls in (Adam, AdamW):
        p = _param(w)
        opt = cls([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
        ref, m, v = w.copy(), 0 * w, 0 * w
        for t, g in enumerate(grads, 1):
            _set_grad(p, g)
            opt.step()
            if cls is AdamW:
                ref = ref * (1 - lr * wd)
            else:
                g = g + wd * ref
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
            ref = ref - lr * mhat / (np.sqrt(vhat) + eps)
            np.testing.assert_allclose(p.data, ref, rtol=1e-5, atol=1e-6)
        assert p.data.dtype == np.float32


def test_adamw_default_weight_decay():
    p = _param([1.0])
    assert AdamW([p]).param_groups[0]["weight_decay"] == 1e-2
    assert Adam([p]).param_groups[0]["weight_decay"] == 0


def test_grad_is_not_modified_and_may_be_a_shared_view():
    shared = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    a, b = _param([1.0, 1.0]), _param([2.0, 2.0])
    a.grad, b.grad = Tensor._wrap(shared[:2]), Tensor._wrap(shared[2:])
    for opt in (SGD([a, b], lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True), Adam([a, b], weight_decay=0.1),
                AdamW([a, b])):
        for _ in range(3):
            opt.step()
    np.testing.assert_array_equal(shared, [1.0, 2.0, 3.0, 4.0])
    clip_grad_norm_([a, b], 0.1)
    clip_grad_value_([a, b], 0.5)
    np.testing.assert_array_equal(shared, [1.0, 2.0, 3.0, 4.0])


def test_frozen_and_gradless_params_untouched():
    frozen, nograd, live = _param([1.0, 2.0]), _param([3.0]), _param([4.0])
    _set_grad(frozen, [1.0, 1.0])
    frozen.requires_grad_(False)
    _set_grad(live, [1.0])
    for opt in (SGD([frozen, nograd, live], lr=0.5, momentum=0.9, weight_decay=0.1),
                Adam([frozen, nograd, live], weight_decay=0.1), AdamW([frozen, nograd, live])):
        opt.step()
        assert frozen not in opt.state and nograd not in opt.state
    np.testing.assert_array_equal(frozen.data, [1.0, 2.0])
    np.testing.assert_array_equal(nograd.data, [3.0])
    assert live.data[0] < 4.0


def test_zero_grad_sets_none_and_value_zero():
    p, v = _param([1.0]), Value(2.0)
    _set_grad(p, [1.0])
    v.grad = 3.0
    opt = SGD([p, v], lr=0.1)
    opt.zero_grad()
    assert p.grad is None and v.grad == 0.0
    old = Tensor(np.array([2.0], np.float32))
    p.grad = old
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.data, [0.0])
    np.testing.assert_array_equal(old.data, [2.0])


def test_sgd_steps_scalar_values():
    from nn.scalar import MLP

    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    model = MLP(3, [4, 4, 1], activation="tanh", seed=0)
    opt = SGD(model.parameters(), lr=0.02)
    losses = []
    for _ in range(20):
        preds = [model(x) for x in xs]
        preds = [p[0] if isinstance(p, list) else p for p in preds]
        loss = sum((p - y) ** 2 for p, y in zip(preds, ys))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
    assert losses[-1] < losses[0]
    assert all(isinstance(p.data, float) for p in model.parameters())


def test_values_with_momentum_and_adam_match_tensor_updates():
    for make in (lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                 lambda ps: Adam(ps, lr=0.05, weight_decay=0.01), lambda ps: AdamW(ps, lr=0.05)):
        v, t = Value(1.5), Tensor(np.array([1.5]), requires_grad=True, dtype=np.float64)
        ov, ot = make([v]), make([t])
        for g in (0.3, -0.2, 0.7):
            v.grad = g
            t.grad = Tensor(np.array([g]))
            ov.step()
            ot.step()
            assert isinstance(v.data, float)
            assert v.data == pytest.approx(float(t.data[0]), abs=1e-12)


def test_param_groups_and_state_dict_roundtrip():
    a, b = _param([1.0, 2.0]), _param([3.0])
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.01
    assert opt.param_groups[1]["momentum"] == 0.9
    _set_grad(a, [1.0, 1.0])
    _set_grad(b, [1.0])
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][1]["params"] == [1]
    assert isinstance(sd["state"][0]["momentum_buffer"], np.ndarray)
    opt2 = SGD([{"params": [a]}, {"params": [b]}], lr=0.5, momentum=0.9)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.01
    ref = a.data.copy()
    opt.step()
    after1 = a.data.copy()
    a.data[...] = ref
    opt2.step()
    np.testing.assert_allclose(a.data, after1)
    with pytest.raises(ValueError):
        SGD([a, a], lr=0.1)


def test_adam_state_dict_roundtrip_continues_identically():
    p1, p2 = _param([0.5, -0.5]), _param([0.5, -0.5])
    o1 = Adam([p1], lr=0.1)
    for g in ([0.1, 0.2], [0.3, -0.1]):
        _set_grad(p1, g)
        o1.step()
    p2.data[...] = p1.data
    o2 = Adam([p2], lr=0.1)
    o2.load_state_dict(o1.state_dict())
    for p, o in ((p1, o1), (p2, o2)):
        _set_grad(p, [0.2, 0.2])
        o.step()
    np.testing.assert_array_equal(p1.data, p2.data)


def test_load_state_dict_refuses_another_optimizers_state():
    a = _param([1.0, 2.0])
    adam, sgd = Adam([a], lr=0.1), SGD([a], lr=0.1, momentum=0.9)
    _set_grad(a, [1.0, 1.0])
    adam.step()
    before = (dict(sgd.param_groups[0]), dict(sgd.state))
    with pytest.raises(ValueError, match=r"does not fit SGD: it lacks \['dampening', 'momentum', 'nesterov'\] and "
                                         r"has unexpected \['amsgrad', 'betas', 'eps'\]"):
        sgd.load_state_dict(adam.state_dict())
    assert (sgd.param_groups[0], sgd.state) == before  # nothing was loaded
    with pytest.raises(ValueError, match="does not fit Adam"):
        adam.load_state_dict(sgd.state_dict())

    # a scheduler's initial_lr may be on either side: resuming creates the scheduler after loading
    CosineAnnealingLR(adam, T_max=4).step()
    fresh = Adam([a], lr=0.3)
    fresh.load_state_dict(adam.state_dict())  # the saved initial_lr is taken
    assert fresh.param_groups[0]["initial_lr"] == 0.1 and fresh.param_groups[0]["lr"] == adam.param_groups[0]["lr"]
    CosineAnnealingLR(fresh, T_max=4, last_epoch=0)
    receiver = Adam([a], lr=0.3)
    CosineAnnealingLR(receiver, T_max=4)
    receiver.load_state_dict(Adam([a], lr=0.1).state_dict())  # a state without initial_lr: it keeps its own
    assert receiver.param_groups[0]["initial_lr"] == 0.3 and receiver.param_groups[0]["lr"] == 0.1


def test_invalid_arguments():
    p = _param([1.0])
    with pytest.raises(ValueError):
        SGD([p], lr=-1)
    with pytest.raises(ValueError):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError):
        Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError):
        SGD([], lr=0.1)
    with pytest.raises(TypeError):
        SGD(p, lr=0.1)


# ------------------------------------------------------------------------------------------ schedulers
def test_step_lr_by_hand():
    opt = SGD([_param([1.0])], lr=1.0)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(6):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert opt.param_groups[0]["lr"] == 0.125


def test_cosine_lr_by_hand():
    opt = SGD([_param([1.0])], lr=0.1)
    sched = CosineAnnealingLR(opt, T_max=5, eta_min=0.01)
    for t in range(1, 13):
        sched.step()
        expect = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * t / 5)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(expect, rel=1e-9, abs=1e-12)


def test_lambda_and_exponential_lr():
    opt = SGD([_param([1.0])], lr=2.0)
    sched = LambdaLR(opt, lambda e: 1.0 / (e + 1))
    sched.step()
    assert sched.get_last_lr() == [1.0]
    opt = SGD([_param([1.0])], lr=2.0)
    sched = ExponentialLR(opt, 0.5)
    sched.step()
    sched.step()
    assert sched.get_last_lr() == [0.5]


# ------------------------------------------------------------------------------------------ utils
def test_clip_grad_norm_by_hand():
    a, b = _param([0.0, 0.0]), _param([0.0])
    _set_grad(a, [3.0, 0.0])
    _set_grad(b, [4.0])
    total = clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad.data, [3.0 / (5 + 1e-6), 0.0], rtol=1e-6)
    np.testing.assert_allclose(b.grad.data, [4.0 / (5 + 1e-6)], rtol=1e-6)
    assert a.grad.data.dtype == np.float32
    # below the threshold nothing changes
    assert clip_grad_norm_([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(b.grad.data, [0.8], rtol=1e-5)
    _set_grad(a, [-7.0, 2.0])
    assert clip_grad_norm_([a, b], max_norm=1.0, norm_type=float("inf")) == pytest.approx(7.0)
    assert clip_grad_norm_([a, b], max_norm=100.0, norm_type=1) == pytest.approx((7.0 + 2.0) / 7 + 0.8 / 7, rel=1e-5)
    v = Value(1.0)
    v.grad = -10.0
    assert clip_grad_norm_([v], 2.0) == pytest.approx(10.0)
    assert v.grad == pytest.approx(-2.0, rel=1e-6)


def test_count_parameters():
    a, b = _param([1.0, 2.0]), _param([3.0])
    b.requires_grad_(False)
    assert count_parameters([a, b]) == 2
    assert count_parameters([a, b], trainable_only=False) == 3
    assert optim.Optimizer is not None


# ------------------------------------------------------------------------------------------ PyTorch agreement
OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.02)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, betas=(0.85, 0.995))),
]


@pytest.mark.torch
@pytest.mark.parametrize("name,kwargs", OPTIMIZERS)
def test_optimizer_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ours = [Tensor(w.copy(), requires_grad=True) for w in init]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in init]
    o_ours = getattr(optim, name)(ours, **kwargs)
    o_theirs = getattr(torch.optim, name)(theirs, **kwargs)
    for _ in range(5):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        for p, q, g in zip(ours, theirs, grads):
            p.grad = Tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        o_ours.step()
        o_theirs.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-6, atol=1e-6)
            assert p.data.dtype == np.float32


@pytest.mark.torch
def test_schedulers_match_torch():
    torch = pytest.importorskip("torch")
    cases = [(StepLR, torch.optim.lr_scheduler.StepLR, dict(step_size=3, gamma=0.3)),
             (CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR, dict(T_max=4, eta_min=0.001)),
             (ExponentialLR, torch.optim.lr_scheduler.ExponentialLR, dict(gamma=0.9))]
    for ours_cls, theirs_cls, kw in cases:
        o_ours = SGD([_param([1.0])], lr=0.1, momentum=0.9)
        o_theirs = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
        s_ours, s_theirs = ours_cls(o_ours, **kw), theirs_cls(o_theirs, **kw)
        for _ in range(15):
            assert s_ours.get_last_lr()[0] == pytest.approx(s_theirs.get_last_lr()[0], rel=1e-12, abs=1e-15)
            o_ours.step()
            o_theirs.step()
            s_ours.step()
            s_theirs.step()


@pytest.mark.torch
def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(s).astype(np.float32) * 3 for s in [(5, 4), (4,)]]
    for norm_type in (2.0, 1.0, float("inf")):
        ours = [_param(np.zeros_like(g)) for g in grads]
        theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
        for p, q, g in zip(ours, theirs, grads):
            p.grad = Tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        t_ours = clip_grad_norm_(ours, 1.5, norm_type)
        t_theirs = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type)
        assert t_ours == pytest.approx(float(t_theirs), rel=1e-5)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda o, **k: ExponentialLR(o, gamma=0.5, **k),
    lambda o, **k: StepLR(o, step_size=2, gamma=0.5, **k),
    lambda o, **k: CosineAnnealingLR(o, T_max=8, eta_min=0.01, **k),
    lambda o, **k: LambdaLR(o, lambda e: 1.0 / (1 + e), **k),
])
@pytest.mark.parametrize("stop", [1, 3, 6])
def test_a_scheduler_resumed_with_last_epoch_continues_the_schedule_exactly(make, stop):
    def run(resume_at=None, epochs=10):
        opt = SGD([Tensor(np.zeros(2), requires_grad=True)], lr=1.0)
        sched, rates = make(opt), []
        for e in range(epochs):
            if e == resume_at:  # a new process: the optimizer from its state_dict, the scheduler from last_epoch
                state, last = opt.state_dict(), sched.last_epoch
                opt = SGD([Tensor(np.zeros(2), requires_grad=True)], lr=1.0)
                opt.load_state_dict(state)
                sched = make(opt, last_epoch=last)
                assert sched.last_epoch == last and sched.get_last_lr() == [opt.param_groups[0]["lr"]]
            rates.append(opt.param_groups[0]["lr"])
            sched.step()
        return rates

    assert run(resume_at=stop) == pytest.approx(run(), rel=1e-12, abs=0)
