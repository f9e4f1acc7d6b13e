"""Tests for nn.serialization: round trip, corruption/tampering detection, atomic writes, no pickle."""

import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest

import autograd
import nn.serialization as ser
from autograd import Tensor, Value
from nn.models import MLP
from nn.optim import SGD, Adam
from nn.serialization import OPTIMIZER_KEY, RECORD_KEY, load, load_optimizer_state, save, save_optimizer_state


def state():
    rng = np.random.default_rng(0)
    return {
        "0.weight": rng.normal(size=(4, 3)).astype(np.float32),
        "0.bias": np.zeros(4, np.float32),
        "conv1.weight": rng.normal(size=(6, 1, 5, 5)),
        "conv1.bias": rng.normal(size=6).astype(np.float32),
        "bn.running_mean": np.arange(6, dtype=np.float32),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
        "emb.table": rng.integers(0, 9, size=(3, 2)).astype(np.int16),
    }


def test_round_trip_preserves_keys_order_dtype_shape(tmp_path):
    sd = state()
    p = tmp_path / "model.npz"
    save(sd, p)
    out = load(p)
    assert list(out) == list(sd)
    for k in sd:
        assert out[k].dtype == sd[k].dtype and out[k].shape == sd[k].shape
        np.testing.assert_array_equal(out[k], sd[k])
    assert not [f for f in tmp_path.iterdir() if f.name != "model.npz"]  # no temp files


def test_accepts_tensor_like_values(tmp_path):
    class WithNumpy:
        def numpy(self):
            return np.ones(3, np.float32)

    class WithData:
        data = np.full((2, 2), 5.0)

    save({"a": WithNumpy(), "b": WithData(), "c": 1.5}, tmp_path / "t.npz")
    out = load(tmp_path / "t.npz")
    np.testing.assert_array_equal(out["a"], np.ones(3))
    np.testing.assert_array_equal(out["b"], np.full((2, 2), 5.0))
    assert out["c"] == 1.5


def test_real_tensor_round_trips(tmp_path):
    t = Tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
    save({"w": t}, tmp_path / "t.npz")
    np.testing.assert_array_equal(load(tmp_path / "t.npz")["w"], np.arange(6.0).reshape(2, 3))


def test_refuses_object_arrays_and_bad_keys(tmp_path):
    with pytest.raises(TypeError, match="object"):
        save({"w": np.array([1, "a", None], dtype=object)}, tmp_path / "o.npz")
    with pytest.raises(TypeError):
        save({"w": "a string"}, tmp_path / "o.npz")
    with pytest.raises(TypeError):
        save({1: np.ones(2)}, tmp_path / "o.npz")
    with pytest.raises(ValueError):
        save({RECORD_KEY: np.ones(2)}, tmp_path / "o.npz")
    assert not list(tmp_path.iterdir())


def test_truncated_file(tmp_path):
    p = tmp_path / "m.npz"
    save(state(), p)
    raw = p.read_bytes()
    for cut in (len(raw) // 2, 10, 0):
        p.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="m.npz"):
            load(p)


def test_tampered_bytes_in_archive(tmp_path):
    p = tmp_path / "m.npz"
    sd = {"w": np.zeros((64, 64), np.float32)}
    save(sd, p)
    raw = bytearray(p.read_bytes())
    pos = raw.find(b"\x00" * 256) + 100  # inside w's data
    raw[pos] = 0x3F
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="m.npz"):
        load(p)


def rewrite_entry(path, key, new_value):
    """Re-pack the archive with one entry replaced but the old integrity record (a consistent zip)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    buf = io.BytesIO()
    np.save(buf, new_value)
    members[f"{key}.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)


def test_tampered_values_detected_naming_key(tmp_path):
    p = tmp_path / "m.npz"
    sd = state()
    save(sd, p)
    changed = sd["conv1.bias"].copy()
    changed[0] += 1
    rewrite_entry(p, "conv1.bias", changed)
    with pytest.raises(ValueError, match="conv1.bias"):
        load(p)
    assert load(p, verify=False)["conv1.bias"][0] == changed[0]
    rewrite_entry(p, "conv1.bias", sd["conv1.bias"].astype(np.float64))  # same values, other dtype
    with pytest.raises(ValueError, match="conv1.bias"):
        load(p)


def test_missing_record_or_keys(tmp_path):
    p = tmp_path / "plain.npz"
    np.savez(p, w=np.ones(2))
    with pytest.raises(ValueError, match=RECORD_KEY):
        load(p)
    np.testing.assert_array_equal(load(p, verify=False)["w"], np.ones(2))
    rec = np.frombuffer(json.dumps({"format": "chainrule.state_dict", "version": 1, "keys": ["w", "b"],
                                    "sha256": {}}).encode(), np.uint8)
    np.savez(p, w=np.ones(2), **{RECORD_KEY: rec})
    with pytest.raises(ValueError, match="missing"):
        load(p)


def test_never_pickles(tmp_path):
    p = tmp_path / "m.npz"
    save(state(), p)
    with np.load(p, allow_pickle=False) as z:  # readable without pickle
        assert all(z[k].dtype != object for k in z.files)
    pickled = tmp_path / "p.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        load(pickled)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.npz")


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "m.npz"
    save({"w": np.ones(3)}, p)
    before = p.read_bytes()
    real_write_array = np.lib.format.write_array

    def failing_write_array(entry, *args, **kwds):
        entry.write(b"\x93NUMPY partial garbage")  # write part of an entry, then die midway
        raise RuntimeError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", failing_write_array)
    with pytest.raises(RuntimeError, match="disk full"):
        save({"w": np.zeros(3)}, p)
    monkeypatch.setattr(np.lib.format, "write_array", real_write_array)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["m.npz"]
    np.testing.assert_array_equal(load(p)["w"], np.ones(3))


def test_atomic_write_new_path_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(ser.os, "replace", lambda a, b: (_ for _ in ()).throw(OSError("no")))
    with pytest.raises(OSError):
        save({"w": np.ones(3)}, tmp_path / "new.npz")
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------------ optimizer state
def trained_optimizer(kind, steps=3):
    """An MLP and its optimizer after ``steps`` updates on fixed random data."""
    autograd.manual_seed(0)
    net = MLP([5, 4, 3])
    opt = {"sgd": lambda: SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
           "adam": lambda: Adam(net.parameters(), lr=0.01, betas=(0.8, 0.95), amsgrad=True)}[kind]()
    x = Tensor(np.random.default_rng(1).normal(size=(6, 5)).astype(np.float32))
    for _ in range(steps):
        opt.zero_grad()
        (net(x) ** 2).mean().backward()
        opt.step()
    return net, opt, x


def assert_same_optimizer_state(a, b):
    assert a["param_groups"] == b["param_groups"]
    for ga, gb in zip(a["param_groups"], b["param_groups"]):
        assert {k: type(v) for k, v in ga.items()} == {k: type(v) for k, v in gb.items()}  # betas stays a tuple
    assert list(a["state"]) == list(b["state"])
    for i in a["state"]:
        assert list(a["state"][i]) == list(b["state"][i])
        for name, va in a["state"][i].items():
            vb = b["state"][i][name]
            assert type(va) is type(vb), (i, name)
            if isinstance(va, np.ndarray):
                assert va.dtype == vb.dtype and va.shape == vb.shape
                np.testing.assert_array_equal(va, vb)
            else:
                assert va == vb


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_optimizer_state_round_trip_continues_identically(tmp_path, kind):
    net, opt, x = trained_optimizer(kind)
    sd = opt.state_dict()
    assert sd["state"]  # momentum buffers / Adam moments exist, so the test covers them
    path = tmp_path / "optimizer.npz"
    save_optimizer_state(sd, path)
    loaded = load_optimizer_state(path)
    assert_same_optimizer_state(sd, loaded)
    with np.load(path, allow_pickle=False) as z:  # arrays as "state.<i>.<name>", the rest as JSON
        names = set(z.files) - {RECORD_KEY, OPTIMIZER_KEY}
        assert all(n.startswith("state.") and z[n].dtype != object for n in names)
        buf = "momentum_buffer" if kind == "sgd" else "exp_avg"
        assert f"state.0.{buf}" in names and "state.0.step" not in names

    # a fresh optimizer over a copy of the weights, given the loaded state, takes the same next steps
    net2, opt2, _ = trained_optimizer(kind, steps=0)
    net2.load_state_dict(net.state_dict())
    opt2.load_state_dict(loaded)
    for model, o in ((net, opt), (net2, opt2)):
        for _ in range(2):
            o.zero_grad()
            (model(x) ** 2).mean().backward()
            o.step()
    for (k, a), b in zip(net.state_dict().items(), net2.state_dict().values()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=k)


def test_optimizer_state_numpy_scalars_come_back_as_0d_arrays(tmp_path):
    sd = {"state": {2: {"step": np.float32(4.0), "count": 7, "buf": np.ones(3, np.float16)}},
          "param_groups": [{"lr": np.float64(0.5), "betas": (0.9, 0.99), "params": [2]}]}
    save_optimizer_state(sd, tmp_path / "o.npz")
    st = load_optimizer_state(tmp_path / "o.npz")["state"][2]
    assert type(st["step"]) is np.ndarray and st["step"].shape == () and st["step"].dtype == np.float32
    assert st["step"] == 4 and type(st["count"]) is int and st["buf"].dtype == np.float16
    assert load_optimizer_state(tmp_path / "o.npz")["param_groups"] == [{"lr": 0.5, "betas": (0.9, 0.99),
                                                                         "params": [2]}]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_optimizer_state_of_scalar_values_round_trips(tmp_path, kind):
    """Optimizers of scalar Values keep 0-d array buffers (updated in place): they must come back as such."""
    def run(ps, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            loss = ps[0] * ps[0] * 3 + ps[1] * ps[0] - ps[1]
            loss.backward()
            opt.step()

    def make(ps):
        return SGD(ps, lr=0.1, momentum=0.9, nesterov=True) if kind == "sgd" else Adam(ps, lr=0.1, amsgrad=True)

    ps = [Value(0.5), Value(-1.0)]
    opt = make(ps)
    run(ps, opt, 3)
    save_optimizer_state(opt.state_dict(), tmp_path / "o.npz")
    loaded = load_optimizer_state(tmp_path / "o.npz")
    assert_same_optimizer_state(opt.state_dict(), loaded)
    assert all(isinstance(v, np.ndarray) and v.shape == () for st in loaded["state"].values() for k, v in st.items()
               if k != "step")
    ps2 = [Value(p.data) for p in ps]
    opt2 = make(ps2)
    opt2.load_state_dict(loaded)
    run(ps, opt, 2)
    run(ps2, opt2, 2)
    assert [p.data for p in ps2] == [p.data for p in ps]


def test_optimizer_state_errors(tmp_path):
    path = tmp_path / "o.npz"
    with pytest.raises(TypeError, match="lambda|function"):  # not JSON-able: refused, nothing written
        save_optimizer_state({"state": {}, "param_groups": [{"lr": 0.1, "fn": lambda: 0, "params": []}]}, path)
    assert not path.exists()
    save(state(), tmp_path / "model.npz")
    with pytest.raises(ValueError, match="not an optimizer state file"):
        load_optimizer_state(tmp_path / "model.npz")

    _, opt, _ = trained_optimizer("adam", steps=1)
    save_optimizer_state(opt.state_dict(), path)
    with zipfile.ZipFile(path) as z:
        meta = json.loads(np.load(io.BytesIO(z.read(f"{OPTIMIZER_KEY}.npy"))).tobytes())
    meta["state_keys"][0][1].append("exp_avg_sq_typo")  # record and entries disagree
    rewrite_entry(path, OPTIMIZER_KEY, np.frombuffer(json.dumps(meta).encode(), np.uint8))
    with pytest.raises(ValueError, match=OPTIMIZER_KEY):  # the JSON entry is sha256-checked like any other
        load_optimizer_state(path)
    arrays = load(path, verify=False)
    arrays.pop(OPTIMIZER_KEY)
    save({**arrays, OPTIMIZER_KEY: np.frombuffer(json.dumps(meta).encode(), np.uint8)}, path)  # consistent digests
    with pytest.raises(ValueError, match="exp_avg_sq_typo.*missing"):
        load_optimizer_state(path)
    meta["state_keys"][0][1].remove("exp_avg_sq_typo")
    meta["state_keys"][0][1].remove("exp_avg_sq")  # an entry the record does not list
    save({**arrays, OPTIMIZER_KEY: np.frombuffer(json.dumps(meta).encode(), np.uint8)}, path)
    with pytest.raises(ValueError, match=r"unexpected entries \['state.0.exp_avg_sq'\]"):
        load_optimizer_state(path)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_atomic_write_gives_a_new_file_the_umask_default_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        save({"w": np.ones(3)}, tmp_path / "m.npz")
        ser.atomic_write(tmp_path / "m.json", lambda f: f.write(b"{}"))
    finally:
        os.umask(old)
    for name in ("m.npz", "m.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664], ids=oct)
def test_atomic_write_keeps_an_existing_files_mode(tmp_path, mode):
    old = os.umask(0o022)
    try:
        for name in ("m.npz", "m.json"):
            (tmp_path / name).write_bytes(b"old")
            os.chmod(tmp_path / name, mode)
        save({"w": np.zeros(3)}, tmp_path / "m.npz")
        ser.atomic_write(tmp_path / "m.json", lambda f: f.write(b"{}"))
    finally:
        os.umask(old)
    for name in ("m.npz", "m.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert (tmp_path / "m.json").read_bytes() == b"{}"


def test_file_digest_reads_in_chunks(tmp_path, monkeypatch):
    import hashlib

    from nn._atomic import file_digest

    data = np.random.default_rng(0).integers(0, 256, (3 << 20) + 5, dtype=np.uint8).tobytes()
    (tmp_path / "f").write_bytes(data)
    reads = []
    real_open = open

    def counting_open(*args, **kwargs):
        f = real_open(*args, **kwargs)
        real_read = f.read
        f.read = lambda n=-1: (reads.append(n), real_read(n))[1]
        return f

    monkeypatch.setattr("builtins.open", counting_open)
    assert file_digest(tmp_path / "f", "md5") == hashlib.md5(data).hexdigest()
    assert file_digest(tmp_path / "f") == hashlib.sha256(data).hexdigest()  # sha256 by default
    assert reads and set(reads) == {1 << 20}  # never the whole file at once


def test_keys_named_like_savez_parameters_round_trip(tmp_path):
    """np.savez(f, **arrays) would lose an 'allow_pickle' entry and fail on 'file'; save writes the archive itself."""
    state = {"file": np.arange(3.0), "allow_pickle": np.ones(2, np.float32), "args": np.zeros((2, 2))}
    save(state, tmp_path / "s.npz")
    back = load(tmp_path / "s.npz")
    assert list(back) == list(state)
    for k, v in state.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype
    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:  # still a plain .npz that numpy reads
        assert sorted(z.files) == sorted([*state, RECORD_KEY])


def test_load_of_an_npy_file_is_a_clear_error(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3))
    with pytest.raises(ValueError, match=r"a.npy: not a valid chainrule state file .*not an .npz archive"):
        load(tmp_path / "a.npy")


def test_save_writes_through_a_symlink(tmp_path):
    real = tmp_path / "real.npz"
    save({"a": np.zeros(1)}, real)
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    save({"a": np.ones(1)}, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    np.testing.assert_array_equal(load(real)["a"], [1.0])
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
