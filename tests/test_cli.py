"""The chainrule command line (nn.cli / python -m nn): train, eval, graph (fast, offline)."""

import contextlib
import importlib.util
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import autograd
import nn.cli as cli
import nn.serialization as ser
from autograd.threads import get_num_threads, set_num_threads
from nn._atomic import atomic_write, file_digest
from nn.cli import main
from nn.models import MLP
from nn.serialization import load, load_optimizer_state
from nn.utils import record_layers

ROOT = Path(__file__).resolve().parents[1]


def test_python_m_nn_help():
    r = subprocess.run([sys.executable, "-m", "nn", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for cmd in ("train", "eval", "graph", "demo"):
        assert cmd in r.stdout


def test_train_help_states_when_a_resumed_run_is_exact(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the description
    assert "finishing an interrupted run with the same --threads gives the same weights" in text


def test_train_writes_checkpoint_metrics_and_eval_reads_it(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--dataset", "sample", "--model", "mlp", "--epochs", "1", "--limit", "500",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    for name in ("checkpoint.npz", "optimizer.npz", "checkpoint.json", "metrics.json"):
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
    opt_state = load_optimizer_state(out / "optimizer.npz")
    assert meta["epoch"] == 1 and meta["train_args"]["optimizer"] == "adam"
    assert set(meta["rng"]) == {"loader"}  # no augmentation: the shuffling's generator only
    assert opt_state["state"][0]["step"] == 8  # 500 images in batches of 64
    assert opt_state["param_groups"][0]["betas"] == (0.9, 0.999)

    rc = main(["eval", "--checkpoint", str(out), "--dataset", "sample", "--limit", "500"])  # the run folder
    assert rc == 0
    text = capsys.readouterr().out
    assert f"accuracy {100 * ep['test_acc']:.2f}%" in text and str(out / "checkpoint.npz") in text
    assert main(["eval", "--checkpoint", str(tmp_path / "nowhere")]) == 1
    assert "no checkpoint here" in capsys.readouterr().err
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


def test_out_auto_is_a_folder_name_and_no_out_means_runs_train(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "plot_curves", lambda *a, **k: False)
    with open(os.devnull, "w") as f:
        cli.train(model="mlp", dataset="sample", epochs=1, limit=100, out="auto", progress=False, log=f)
    assert (tmp_path / "auto" / "checkpoint.json").is_file() and not (tmp_path / "runs").exists()
    shutil.rmtree(tmp_path / "auto")
    argv = ["train", "--dataset", "sample", "--model", "mlp", "--epochs", "1", "--limit", "100", "--no-progress"]
    assert main(argv + ["--out", "auto"]) == 0
    assert (tmp_path / "auto" / "checkpoint.json").is_file() and not (tmp_path / "runs").exists()
    assert main(argv) == 0
    assert (tmp_path / "runs" / "train" / "checkpoint.json").is_file()


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


def test_plot_curves_writes_a_png_atomically(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.figure

    path = tmp_path / "curves.png"
    metrics = [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.2 / e, "train_acc": 0.9, "test_acc": 0.8}
               for e in (1, 2)]
    assert cli.plot_curves(metrics, path, "t")
    old = path.read_bytes()
    assert old.startswith(b"\x89PNG")

    def half_then_fail(self, f, **kw):  # (to a file object, or straight to the path)
        if hasattr(f, "write"):
            f.write(old[:100])
        else:
            Path(f).write_bytes(old[:100])
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half_then_fail)
    with pytest.raises(RuntimeError, match="mid-write"):
        cli.plot_curves(metrics, path)
    assert path.read_bytes() == old  # the previous picture, whole; no temporary file left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]


def test_a_run_removes_the_temporary_files_of_killed_writes(tmp_path):
    """A write killed mid-way (SIGKILL, power loss) leaves its hidden .part file; a later run's save removes those
    of the files it writes that are older than the run, and nothing else."""
    run = tmp_path / "run"
    run.mkdir()
    stale = [".checkpoint.json.0badf00d.part", ".metrics.json.12345678.part", "..checkpoint.npz.next.deadbeef.part",
             "..optimizer.npz.next.abcdef01.part", ".curves.png.0f0f0f0f.part"]
    others = [".metrics.json.mine.part", ".notes.12345678.part", "checkpoint.json.12345678.part"]
    for name in stale + others:
        (run / name).write_bytes(b"half")
        os.utime(run / name, (1e9, 1e9))  # written before this run started
    live = ".metrics.json.a1b2c3d4.part"  # as if another run were writing it right now
    orig = cli._write_json

    def write_json(path, obj):  # the live one is (re)created during this run's save, after the run started
        (run / live).write_bytes(b"being written")
        orig(path, obj)

    with open(os.devnull, "w") as f, pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli, "_write_json", write_json)
        cli.train(epochs=1, out=str(run), **QUICK, log=f)
    left = {p.name for p in run.iterdir()}
    assert not left & set(stale) and set(others) <= left and live in left
    assert {"checkpoint.npz", "optimizer.npz", "checkpoint.json", "metrics.json"} <= left


def test_atomic_write_fsyncs_the_folder_where_it_can(tmp_path, monkeypatch):
    path = tmp_path / "a.bin"
    synced = []  # True for a folder
    real_fsync, real_open = os.fsync, os.open
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real_fsync(fd)))
    atomic_write(path, lambda f: f.write(b"one"))
    assert path.read_bytes() == b"one" and synced == [False, True]  # the file, then its folder (the rename)

    def no_folders(p, flags, *a):  # as on Windows, where a folder cannot be opened
        if os.path.isdir(p):
            raise PermissionError(13, "Permission denied", str(p))
        return real_open(p, flags, *a)

    synced.clear()
    monkeypatch.setattr(os, "open", no_folders)
    atomic_write(path, lambda f: f.write(b"two"))
    assert path.read_bytes() == b"two" and synced == [False]
    monkeypatch.setattr(os, "open", real_open)

    def folders_refuse_fsync(fd):  # as on some network file systems
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(22, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", folders_refuse_fsync)
    atomic_write(path, lambda f: f.write(b"three"))
    assert path.read_bytes() == b"three" and [p.name for p in tmp_path.iterdir()] == ["a.bin"]


# ------------------------------------------------------------------------------------------------ resume
QUICK = dict(model="mlp", dataset="sample", limit=300, batch_size=50, progress=False)


@pytest.fixture
def quiet(monkeypatch):
    """A sink for the training log; curves are not drawn (matplotlib is slow and not what these tests check).

    Every run uses 1 thread, as ``main`` does by default: the thread count changes how products are split and so
    the rounding, and bit-exact comparisons need the same count on both sides."""
    monkeypatch.setattr(cli, "plot_curves", lambda *a, **k: False)
    threads = get_num_threads()
    set_num_threads(1)
    with open(os.devnull, "w") as f:
        yield f
    set_num_threads(threads)


def assert_same_files(a, b):
    """Bit-identical weights and optimizer state (arrays, step counts, hyper-parameters) and generator states."""
    wa, wb = load(a / "checkpoint.npz"), load(b / "checkpoint.npz")
    assert list(wa) == list(wb)
    for k in wa:
        assert wa[k].dtype == wb[k].dtype and np.array_equal(wa[k], wb[k]), k
    sa, sb = load_optimizer_state(a / "optimizer.npz"), load_optimizer_state(b / "optimizer.npz")
    assert sa["param_groups"] == sb["param_groups"]
    ma, mb = json.loads((a / "checkpoint.json").read_text()), json.loads((b / "checkpoint.json").read_text())
    assert ma["epoch"] == mb["epoch"] and ma["rng"] == mb["rng"]
    assert list(sa["state"]) == list(sb["state"])
    for i, st in sa["state"].items():
        for name, v in st.items():
            assert np.array_equal(v, sb["state"][i][name]), (i, name)


@pytest.mark.parametrize("optimizer,augment", [("sgd", True), ("adam", False)])
def test_resume_after_one_epoch_equals_two_straight_epochs(tmp_path, quiet, capsys, optimizer, augment):
    kw = dict(QUICK, optimizer=optimizer, augment=augment, scheduler="none", log=quiet)
    straight = cli.train(epochs=2, out=str(tmp_path / "straight"), **kw)
    first = cli.train(epochs=1, out=str(tmp_path / "resumed"), **kw)
    after_one = load(tmp_path / "resumed" / "checkpoint.npz")
    assert first["epochs"][0]["train_loss"] == straight["epochs"][0]["train_loss"]

    argv = ["train", "--resume", str(tmp_path / "resumed"), "--epochs", "2", "--no-progress"]
    assert main(argv + (["--augment"] if augment else [])) == 0  # repeating a matching option is fine
    assert "resuming" in capsys.readouterr().out
    assert_same_files(tmp_path / "straight", tmp_path / "resumed")
    final = load(tmp_path / "resumed" / "checkpoint.npz")
    assert not np.array_equal(final["1.weight"], after_one["1.weight"])  # the resumed run did train
    metrics = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr"):
        assert [e[key] for e in metrics["epochs"]] == [e[key] for e in straight["epochs"]], key
    meta = json.loads((tmp_path / "resumed" / "checkpoint.json").read_text())
    assert meta["epoch"] == 2 and meta["train_args"]["epochs"] == 2 and meta["train_args"]["augment"] is augment


def test_resume_interrupted_cosine_run_is_exact(tmp_path, quiet, monkeypatch):
    kw = dict(QUICK, optimizer="adam", scheduler="cosine", epochs=3, log=quiet)
    straight = cli.train(out=str(tmp_path / "straight"), **kw)
    real_write_json = cli._write_json

    def interrupt_after_first_epoch(path, obj):  # Ctrl-C once epoch 1 is fully saved
        real_write_json(path, obj)
        if Path(path).name == "metrics.json" and len(obj["epochs"]) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_write_json", interrupt_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        cli.train(out=str(tmp_path / "run"), **kw)
    monkeypatch.setattr(cli, "_write_json", real_write_json)
    assert json.loads((tmp_path / "run" / "checkpoint.json").read_text())["epoch"] == 1

    resumed = cli.train(resume=str(tmp_path / "run" / "checkpoint.npz"), log=quiet, progress=False)  # to 3 (planned)
    assert [e["epoch"] for e in resumed["epochs"]] == [1, 2, 3]
    assert [e["lr"] for e in resumed["epochs"]] == [e["lr"] for e in straight["epochs"]]  # the cosine schedule
    assert_same_files(tmp_path / "straight", tmp_path / "run")


main_thread_only = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                      reason="signal handlers can only be set in the main thread")


@main_thread_only
def test_ctrl_c_during_an_epoch_save_waits_for_all_files(tmp_path, quiet, monkeypatch):
    kw = dict(QUICK, optimizer="sgd", scheduler="none", epochs=3, log=quiet)
    straight = cli.train(out=str(tmp_path / "straight"), **kw)
    real = ser.save_optimizer_state
    calls = []

    def interrupted_midway(state, path):  # Ctrl-C while epoch 2 is saved, after its weights are written
        calls.append(path)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        real(state, path)

    monkeypatch.setattr(ser, "save_optimizer_state", interrupted_midway)
    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):  # still interrupted, once the save is complete
        cli.train(out=str(tmp_path / "run"), **kw)
    assert len(calls) == 2 and signal.getsignal(signal.SIGINT) is previous
    monkeypatch.setattr(ser, "save_optimizer_state", real)
    run = tmp_path / "run"
    assert cli.read_resume_info(run)["epoch"] == 2  # the sidecar vouches for both files of epoch 2
    assert [e["epoch"] for e in json.loads((run / "metrics.json").read_text())["epochs"]] == [1, 2]
    cli.train(resume=str(run), log=quiet, progress=False)
    assert_same_files(tmp_path / "straight", run)
    assert [e["train_loss"] for e in json.loads((run / "metrics.json").read_text())["epochs"]] == \
        [e["train_loss"] for e in straight["epochs"]]


@main_thread_only
def test_sigint_deferral_hands_over_to_the_previous_handler():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with cli._sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("body finished")
    assert done == ["body finished"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with cli._sigint_deferred():  # an ignored Ctrl-C stays ignored
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)

    def in_a_thread():  # no handlers outside the main thread: the body just runs
        with cli._sigint_deferred():
            done.append("thread")

    t = threading.Thread(target=in_a_thread)
    t.start()
    t.join()
    assert done[-1] == "thread" and signal.getsignal(signal.SIGINT) is previous


def test_resume_to_more_epochs_than_planned_notes_the_schedule(tmp_path, quiet):
    cli.train(epochs=1, out=str(tmp_path / "run"), optimizer="sgd", **QUICK, log=quiet)
    buf = io.StringIO()
    set_num_threads(2)
    metrics = cli.train(resume=str(tmp_path / "run"), epochs=2, out=str(tmp_path / "fork"), log=buf, progress=False)
    assert "schedule now spans 2 epochs" in buf.getvalue()
    assert "written using 1 thread(s), this run uses 2" in buf.getvalue()
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2] and metrics["args"]["optimizer"] == "sgd"
    assert metrics["epochs"][1]["lr"] == pytest.approx(0.025)  # the 2-epoch cosine's 2nd rate (1-epoch one's: 0)
    assert json.loads((tmp_path / "run" / "checkpoint.json").read_text())["epoch"] == 1  # --out: original untouched
    assert json.loads((tmp_path / "fork" / "checkpoint.json").read_text())["epoch"] == 2


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory):
    """A 1-epoch MLP run on 200 sample images; each test gets its own copy."""
    out = tmp_path_factory.mktemp("base") / "run"
    with open(os.devnull, "w") as f:
        cli.train(epochs=1, out=str(out), scheduler="none", **dict(QUICK, limit=200), log=f)
    return out


def _copy_run(src, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(src, dst)
    return dst


def _resume_error(run, capsys, *extra):
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    rc = main(["train", "--resume", str(run), "--epochs", "2", "--no-progress", *extra])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # a refused resume writes nothing
    return err


def _edit_sidecar(run, **changes):
    side = run / "checkpoint.json"
    meta = json.loads(side.read_text())
    meta.update(changes)
    side.write_text(json.dumps(meta))


@pytest.mark.parametrize("option,value,shown", [("--model", "lenet5", "model='lenet5' (checkpoint: 'mlp')"),
                                                ("--lr", "0.5", "lr=0.5 (checkpoint: 0.001)"),
                                                ("--seed", "1", "seed=1 (checkpoint: 0)"),
                                                ("--scheduler", "cosine", "scheduler='cosine'")])
def test_resume_refuses_options_that_differ_from_the_checkpoint(one_epoch_run, tmp_path, capsys, option, value,
                                                                 shown):
    err = _resume_error(_copy_run(one_epoch_run, tmp_path), capsys, option, value)
    assert "options differ from the checkpoint" in err and shown in err


def test_resume_refuses_corrupted_or_mismatched_files(one_epoch_run, tmp_path, capsys):
    run = _copy_run(one_epoch_run, tmp_path)
    opt_file = run / "optimizer.npz"
    good = opt_file.read_bytes()

    raw = bytearray(good)
    raw[len(raw) // 2] ^= 0xFF  # a flipped byte: caught by the sidecar's sha256 of the file
    opt_file.write_bytes(bytes(raw))
    err = _resume_error(run, capsys)
    assert "optimizer.npz does not match its sidecar" in err

    _edit_sidecar(run, sha256={"weights": json.loads((one_epoch_run / "checkpoint.json").read_text())["sha256"]
                               ["weights"], "optimizer": file_digest(opt_file)})
    err = _resume_error(run, capsys)  # digests made to agree: the zip entries' own CRC still catches it
    assert "does not match its sidecar" not in err
    assert "optimizer.npz: not a valid chainrule state file (truncated or corrupted?): Bad CRC-32" in err

    opt_file.write_bytes(good)
    shutil.copy(run / "checkpoint.npz", run / "optimizer.npz")  # a model file where the optimizer state belongs
    _edit_sidecar(run, sha256={"weights": file_digest(run / "checkpoint.npz"),
                               "optimizer": file_digest(opt_file)})
    assert "not an optimizer state file" in _resume_error(run, capsys)

    opt_file.unlink()
    assert "missing optimizer state" in _resume_error(run, capsys)


def test_resume_notes_epochs_missing_from_metrics(one_epoch_run, tmp_path):
    run = _copy_run(one_epoch_run, tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "epochs": []}))  # killed before metrics.json was written
    buf = io.StringIO()
    resumed = cli.train(resume=str(run), epochs=2, log=buf, progress=False)
    assert "has no record of epoch(s) 1" in buf.getvalue()
    assert [e["epoch"] for e in resumed["epochs"]] == [2]
    assert [e["epoch"] for e in json.loads((run / "metrics.json").read_text())["epochs"]] == [2]


def test_resume_refuses_checkpoints_that_do_not_fit(one_epoch_run, tmp_path, capsys):
    run = _copy_run(one_epoch_run, tmp_path)
    meta = json.loads((run / "checkpoint.json").read_text())
    _edit_sidecar(run, train_args={**meta["train_args"], "model": "lenet5"})  # MLP weights, LeNet-5 run
    assert "do not fit a lenet5" in _resume_error(run, capsys)

    _edit_sidecar(run, train_args={**meta["train_args"], "optimizer": "sgd"})  # Adam state, SGD run
    assert "does not fit this run's SGD" in _resume_error(run, capsys)  # refused by SGD.load_state_dict

    _edit_sidecar(run, train_args=meta["train_args"], rng={**meta["rng"], "transform.0": meta["rng"]["loader"]})
    assert "generator states ['loader', 'transform.0'] do not match" in _resume_error(run, capsys)  # augmented run

    _edit_sidecar(run, rng=meta["rng"])
    assert "already at epoch 1" in _resume_error(run, capsys, "--epochs", "1")

    for key in ("optimizer_file", "sha256"):  # a checkpoint from before optimizer state was saved
        del meta[key]
    (run / "checkpoint.json").write_text(json.dumps(meta))
    assert "has no optimizer state" in _resume_error(run, capsys)
    rc = main(["train", "--resume", str(tmp_path / "nowhere")])
    assert rc == 1 and "no checkpoint here" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ hard kills
class HardKill(BaseException):
    """Stands for SIGKILL or a power loss at a chosen step of a save: raised where the process would die, caught by
    no ``except Exception``; from then on ``os.unlink`` does nothing, so the clean-up code it runs through on its way
    out leaves the temporary files behind, as a real kill would."""


@contextlib.contextmanager
def hard_kill_at(monkeypatch, step, when):
    """Within the block, the ``step``-th ``os.replace`` (0-based) raises HardKill ``when`` ("before" or "after") it
    renames. Yields the destination names of the renames seen (the whole sequence when ``step`` is None)."""
    real_replace, real_unlink = os.replace, os.unlink
    seen, killed = [], []

    def replace(src, dst):
        seen.append(Path(dst).name)
        if len(seen) - 1 == step and when == "before":
            killed.append(True)
            raise HardKill
        real_replace(src, dst)
        if len(seen) - 1 == step:
            killed.append(True)
            raise HardKill

    with monkeypatch.context() as m:
        m.setattr(os, "replace", replace)
        m.setattr(os, "unlink", lambda *a, **k: None if killed else real_unlink(*a, **k))
        yield seen


def staged_files(run):
    return sorted(p.name for p in run.iterdir() if p.name.endswith(".next"))


def test_a_hard_kill_at_any_step_of_a_save_leaves_the_run_resumable(tmp_path, quiet, monkeypatch):
    """Kill the save of epoch 2 before and after each of its renames: the folder resumes at epoch 1 up to the
    commit point (the rename of checkpoint.json), at epoch 2 after it, and finishing the run gives the weights of an
    uninterrupted one."""
    kw = dict(QUICK, optimizer="adam", scheduler="none", log=quiet)
    cli.train(epochs=3, out=str(tmp_path / "straight"), **kw)
    base = tmp_path / "base"
    cli.train(epochs=1, out=str(base), **kw)
    with hard_kill_at(monkeypatch, None, None) as sequence:  # the renames of one save, the one of epoch 2
        cli.train(resume=str(shutil.copytree(base, tmp_path / "trace")), epochs=2, log=quiet, progress=False)
    commit = sequence.index("checkpoint.json")
    for step in range(len(sequence)):
        for when in ("before", "after"):
            run = shutil.copytree(base, tmp_path / f"{step}-{when}")
            with pytest.raises(HardKill), hard_kill_at(monkeypatch, step, when):
                cli.train(resume=str(run), epochs=3, log=quiet, progress=False)
            where = (step, when, sequence[step])
            expected = 2 if step > commit or (step == commit and when == "after") else 1
            assert cli.read_resume_info(run)["epoch"] == expected, where
            cli.train(resume=str(run), epochs=3, log=quiet, progress=False)
            assert_same_files(tmp_path / "straight", run)
            assert staged_files(run) == [], where
    assert sequence == [".checkpoint.npz.next", ".optimizer.npz.next", "checkpoint.json", "checkpoint.npz",
                        "optimizer.npz", "metrics.json"]  # the order the module docstring states


def test_a_first_save_killed_after_its_commit_point_is_finished_by_eval(tmp_path, quiet, monkeypatch, capsys):
    """The sidecar of epoch 1 is written, no checkpoint.npz is in place yet: eval finds the run all the same."""
    run = tmp_path / "run"
    with pytest.raises(HardKill), hard_kill_at(monkeypatch, 2, "after"):  # right after checkpoint.json's rename
        cli.train(epochs=2, out=str(run), **dict(QUICK, log=quiet))
    assert not (run / "checkpoint.npz").exists() and staged_files(run) == [".checkpoint.npz.next",
                                                                           ".optimizer.npz.next"]

    def read_only(src, dst):
        raise PermissionError(30, "Read-only file system")

    with monkeypatch.context() as m:  # a folder where the save cannot be finished: a clear error
        m.setattr(os, "replace", read_only)
        assert main(["eval", "--checkpoint", str(run), "--dataset", "sample"]) == 1
    assert "cannot finish the save of epoch 1 that was interrupted" in capsys.readouterr().err
    buf = io.StringIO()
    res = cli.evaluate_checkpoint(str(run), limit=QUICK["limit"], log=buf)
    assert "note: finished the interrupted save of epoch 1" in buf.getvalue()
    assert "checkpoint.npz and optimizer.npz into place" in buf.getvalue()
    assert res["accuracy"] == json.loads((run / "checkpoint.json").read_text())["test_accuracy"]
    assert staged_files(run) == [] and cli.read_resume_info(run)["epoch"] == 1


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")
def test_a_real_sigkill_between_the_renames_of_a_save(tmp_path, quiet):
    """A training process SIGKILLed right after the weights of epoch 2 are renamed into place (the sidecar is
    written; the optimizer state is not in place yet): the next resume finishes the save and the run."""
    run = tmp_path / "run"
    script = f"""if True:
        import os, signal
        from pathlib import Path
        import nn.cli as cli
        from autograd.threads import set_num_threads
        set_num_threads(1)
        cli.plot_curves = lambda *a, **k: False
        real_replace, count = os.replace, []

        def replace(src, dst):
            real_replace(src, dst)
            if Path(dst).name == "checkpoint.npz":
                count.append(dst)
                if len(count) == 2:  # the save of epoch 2
                    os.kill(os.getpid(), signal.SIGKILL)

        os.replace = replace
        cli.train(epochs=3, out={str(run)!r}, **{dict(QUICK, optimizer="sgd", scheduler="none")!r})
        """
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    buf = io.StringIO()
    cli.train(resume=str(run), log=buf, progress=False)
    text = buf.getvalue()
    assert "finished the interrupted save of epoch 2" in text and "moved the staged optimizer.npz" in text
    assert f"resuming {run / 'checkpoint.npz'} at epoch 2" in text
    cli.train(epochs=3, out=str(tmp_path / "straight"), **dict(QUICK, optimizer="sgd", scheduler="none", log=quiet))
    assert_same_files(tmp_path / "straight", run)


def test_a_stale_staged_file_is_ignored_and_replaced_by_the_next_save(tmp_path, quiet):
    kw = dict(QUICK, scheduler="none", log=quiet)
    run = tmp_path / "run"
    cli.train(epochs=1, out=str(run), **kw)
    (run / ".checkpoint.npz.next").write_bytes(b"PK\x03\x04 half a file")  # from saves killed before their commit
    shutil.copy(run / "checkpoint.npz", run / ".optimizer.npz.next")  # a whole file, but not the sidecar's
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert cli.read_resume_info(run)["epoch"] == 1
    buf = io.StringIO()
    cli.evaluate_checkpoint(str(run), limit=QUICK["limit"], log=buf)
    assert "interrupted save" not in buf.getvalue()
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # readers leave them alone

    cli.train(resume=str(run), epochs=2, log=buf, progress=False)
    assert "interrupted save" not in buf.getvalue() and staged_files(run) == []
    assert cli.read_resume_info(run)["epoch"] == 2
    cli.train(epochs=2, out=str(tmp_path / "straight"), **kw)
    assert_same_files(tmp_path / "straight", run)


def test_a_new_run_into_a_folder_first_finishes_the_save_pending_there(tmp_path, quiet, monkeypatch):
    """A save killed after its commit point, then a new run into the same folder killed before its own: the first
    run's epoch must survive (the new run's staged files would otherwise overwrite the ones pending)."""
    kw = dict(QUICK, scheduler="none", log=quiet)
    run = tmp_path / "run"
    with pytest.raises(HardKill), hard_kill_at(monkeypatch, 2, "after"):  # epoch 1 committed, not in place
        cli.train(epochs=1, out=str(run), **kw)
    buf = io.StringIO()
    with pytest.raises(HardKill), hard_kill_at(monkeypatch, 2, "before"):  # a new run, killed before its commit
        cli.train(epochs=1, out=str(run), **dict(kw, seed=1, log=buf))
    info = cli.read_resume_info(run)
    assert info["epoch"] == 1 and info["train_args"]["seed"] == 0
    assert "note: finished the interrupted save of epoch 1" in buf.getvalue()  # said by the new run
    cli.train(epochs=1, out=str(tmp_path / "straight"), **kw)
    assert_same_files(tmp_path / "straight", run)


def test_a_reader_that_finishes_a_save_while_it_runs_does_not_break_it(tmp_path, quiet, monkeypatch):
    """``eval`` (or a resume into another folder) reading the run while training is between its commit point and
    its renames does the renames itself; the training then finds its staged files gone, and goes on."""
    kw = dict(QUICK, scheduler="none", log=quiet)
    run = tmp_path / "run"
    real_replace, read = os.replace, []

    def replace(src, dst):
        real_replace(src, dst)
        if Path(dst).name == "checkpoint.json" and not read:
            read.append(cli.read_resume_info(run)["epoch"])  # moves both staged files into place

    monkeypatch.setattr(os, "replace", replace)
    cli.train(epochs=2, out=str(run), **kw)
    monkeypatch.setattr(os, "replace", real_replace)
    assert read == [1] and cli.read_resume_info(run)["epoch"] == 2 and staged_files(run) == []
    cli.train(epochs=2, out=str(tmp_path / "straight"), **kw)
    assert_same_files(tmp_path / "straight", run)


def test_augmentation_and_shuffling_draw_from_different_streams():
    """Seeded alike, the loader's shuffling and RandomAffine would draw the same numbers (the permutation and the
    augmentation parameters would be tied together); the augmentation gets a stream spawned from the seed."""
    loader, _ = cli.load_data("sample", "lenet5", augment=True, seed=3, limit=64)
    affine = loader.transform.transforms[0]
    assert type(affine).__name__ == "RandomAffine"
    assert loader.rng.bit_generator.state != affine.rng.bit_generator.state
    assert not np.array_equal(loader.rng.random(8), affine.rng.random(8))
    fresh = [cli.load_data("sample", "lenet5", augment=True, seed=3, limit=64)[0] for _ in range(2)]
    states = [ld.transform.transforms[0].rng.bit_generator.state for ld in fresh]
    assert states[0] == states[1]  # still reproducible from the seed
