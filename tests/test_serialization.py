"""Tests for nn.serialization: round trip, corruption/tampering detection, atomic writes, no pickle."""

import io
import json
import zipfile

import numpy as np
import pytest

import nn.serialization as ser
from autograd import Tensor
from nn.serialization import RECORD_KEY, load, save


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
    real_savez = np.savez

    def failing_savez(file, *args, **kwds):
        file.write(b"PK\x03\x04 partial garbage")  # write something, then die midway
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(RuntimeError, match="disk full"):
        save({"w": np.zeros(3)}, p)
    monkeypatch.setattr(np, "savez", real_savez)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["m.npz"]
    np.testing.assert_array_equal(load(p)["w"], np.ones(3))


def test_atomic_write_new_path_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(ser.os, "replace", lambda a, b: (_ for _ in ()).throw(OSError("no")))
    with pytest.raises(OSError):
        save({"w": np.ones(3)}, tmp_path / "new.npz")
    assert not list(tmp_path.iterdir())
