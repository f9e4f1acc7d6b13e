"""The chainrule command line (nn.cli / python -m nn): train, eval, graph (fast, offline)."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autograd
import nn.cli as cli
from nn.cli import main
from nn.models import MLP
from nn.utils import record_layers

ROOT = Path(__file__).resolve().parents[1]


def test_python_m_nn_help():
    r = subprocess.run([sys.executable, "-m", "nn", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for cmd in ("train", "eval", "graph", "demo"):
        assert cmd in r.stdout


def test_train_writes_checkpoint_metrics_and_eval_reads_it(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--dataset", "sample", "--model", "mlp", "--epochs", "1", "--limit", "500",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    for name in ("checkpoint.npz", "checkpoint.json", "metrics.json"):
        assert (out / name).is_file(), name
    text = capsys.readouterr().out
    if importlib.util.find_spec("matplotlib") is not None:  # the plot is optional; the rest is not
        assert (out / "curves.png").is_file() and "curves.png" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "mlp" and metrics["n_train"] == 500 and len(metrics["epochs"]) == 1
    ep = metrics["epochs"][0]
    assert set(ep) >= {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"}
    assert 0.3 < ep["test_acc"] <= 1.0
    meta = json.loads((out / "checkpoint.json").read_text())
    assert meta["model"] == "mlp" and meta["input"] == {"pad": 0, "flatten": True}

    rc = main(["eval", "--checkpoint", str(out / "checkpoint.npz"), "--dataset", "sample", "--limit", "500"])
    assert rc == 0
    text = capsys.readouterr().out
    assert f"accuracy {100 * ep['test_acc']:.2f}%" in text
    res = cli.evaluate_checkpoint(str(out / "checkpoint.npz"), limit=500, log=open(os.devnull, "w"))
    assert res["accuracy"] == pytest.approx(ep["test_acc"]) and res["loss"] == pytest.approx(ep["test_loss"], rel=1e-5)


def test_train_overrides_recipe(tmp_path):
    metrics = cli.train(model="mlp", dataset="sample", epochs=2, batch_size=100, optimizer="sgd", limit=200,
                        out=None, progress=False, log=open(os.devnull, "w"))
    assert metrics["args"]["optimizer"] == "sgd" and metrics["args"]["lr"] == 0.05
    assert metrics["args"]["batch_size"] == 100 and len(metrics["epochs"]) == 2
    assert metrics["epochs"][1]["lr"] < metrics["epochs"][0]["lr"]  # cosine schedule


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    rc = main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert rc == 1
    assert "missing" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_graph_writes_svg(tmp_path):
    path = tmp_path / "g.svg"
    assert main(["graph", "--model", "mlp", "--out", str(path)]) == 0
    text = path.read_text()
    assert text.lstrip().startswith("<?xml") or "<svg" in text
    assert "1 (Linear)" in text


def test_graph_without_dot_writes_dot_source(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    assert main(["graph", "--model", "mlp", "--out", str(tmp_path / "g.svg")]) == 0
    src = (tmp_path / "g.dot").read_text()
    assert "digraph" in src and "cluster_" in src
    assert "install" in capsys.readouterr().out.lower()


def test_record_layers_groups_nodes_by_layer():
    net = MLP([4, 3, 2])
    with record_layers(net) as layer_of:
        out = net(autograd.Tensor(np.ones((1, 2, 2), np.float32)))  # 3-D: the Flatten makes a node too
    names = set(layer_of.values())
    assert names == {"0 (Flatten)", "1 (Linear)", "2 (ReLU)", "3 (Linear)"}
    assert layer_of[id(out)] == "3 (Linear)"
    assert layer_of[id(net[1].weight)] == "1 (Linear)"
    assert "forward" not in net[1].__dict__  # hooks removed


def test_write_json_is_atomic_fsynced_and_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    cli._write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1} and synced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        cli._write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}  # old content kept, no temporary file left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
