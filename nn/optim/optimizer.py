"""``Optimizer``: the base class holding parameter groups and per-parameter state (as in PyTorch).

A parameter group is a dict ``{"params": [p, ...], "lr": ..., <other hyper-parameters>}``; hyper-parameters
missing from a group are filled in from the optimizer's ``defaults``.  Per-parameter state (momentum buffers,
Adam moments) lives in ``self.state[p]`` as numpy arrays.

Subclasses implement :meth:`Optimizer._update`, which receives one parameter's weights ``w`` (an ndarray,
updated **in place**), its gradient ``g`` (an ndarray that must **not** be modified: gradients may be shared
views), its state dict and its group.  The base class deals with the two kinds of parameter:

* ``autograd.Tensor`` / ``nn.Parameter``: ``w`` is ``p.data`` itself, so updates keep the dtype (float32);
* scalar ``autograd.Value``: ``w`` is a 0-d float64 array, written back to ``p.data`` as a float.

Parameters whose ``grad`` is ``None`` or whose ``requires_grad`` is false (frozen) are skipped.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = ["Optimizer", "required"]


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def _grad_array(g: Any) -> Any:
    """The gradient as an ndarray (Tensor grads) or a float (Value grads)."""
    if isinstance(g, np.ndarray | float | int | np.generic):
        return g
    data = getattr(g, "data", None)
    return data if data is not None else np.asarray(g)


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``; ``params`` is an iterable of parameters or of group dicts."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Any, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if hasattr(params, "data") and hasattr(params, "grad"):
            raise TypeError("params must be an iterable of parameters (e.g. model.parameters()), "
                            f"got a single {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (e.g. a smaller ``lr`` for a pretrained part)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if hasattr(params, "data") and hasattr(params, "grad"):
            params = [params]
        group["params"] = list(params)
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {k}")
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = [id(p) for p in group["params"]]
        if len(set(ids)) != len(ids) or seen.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group (or twice in one)")
        for p in group["params"]:
            if not (hasattr(p, "data") and hasattr(p, "grad")):
                raise TypeError(f"optimizer can only optimize Tensors/Parameters/Values, got {type(p).__name__}")
        self.param_groups.append(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines) + "\n)"

    # --- the training-loop API ---------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``grad = None`` for Tensors (PyTorch's default; a new zero array with
        ``set_to_none=False``), ``0.0`` for scalar Values.  Existing gradient arrays are never written to."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if isinstance(g, float | int):  # scalar Value
                    p.grad = 0.0
                elif set_to_none or g is None:
                    p.grad = None
                else:
                    p.grad = type(g)._wrap(np.zeros_like(p.data)) if hasattr(type(g), "_wrap") \
                        else np.zeros_like(p.data)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; ``closure`` (optional) recomputes and returns the loss."""
        loss = None
        if closure is not None:
            from autograd import enable_grad

            with enable_grad():
                loss = closure()
        state = self.state
        for group in self.param_groups:
            update = self._update
            for p in group["params"]:
                g = p.grad
                if g is None or not p.requires_grad:
                    continue
                g = _grad_array(g)
                w = p.data
                if isinstance(w, np.ndarray):
                    st = state.get(p)
                    if st is None:
                        st = state[p] = {}
                    update(w, g, st, group)
                else:  # a scalar Value: float data, float grad
                    st = state.get(p)
                    if st is None:
                        st = state[p] = {}
                    self._update_scalar(p, float(g), st, group)
        return loss

    def _update_scalar(self, p: Any, g: float, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update a scalar ``Value``: run :meth:`_update` on a 0-d float64 array and write the float back."""
        arr = np.array(p.data, dtype=np.float64)
        self._update(arr, np.float64(g), state, group)
        p.data = float(arr)

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError  # pragma: no cover

    # --- checkpoints ---------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: ndarray | number}}, "param_groups": [{..., "params": [index, ...]}]}``.

        Parameters are numbered in group order, as in PyTorch; buffers are copies (numpy arrays, no Tensors).
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(g)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and buffers saved by :meth:`state_dict` (for the same parameters, same order).

        ``ValueError`` if the groups do not match this optimizer's: their number, their sizes, or their keys (state
        whose hyper-parameter keys differ from this optimizer's is refused, e.g. Adam's ``betas`` given to SGD;
        an optimizer with the same keys, such as AdamW for Adam, accepts it).
        ``initial_lr`` is left out of the key comparison: a learning-rate scheduler adds it, and may be created
        before or after loading.
        """
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(groups)} parameter groups, optimizer has "
                             f"{len(self.param_groups)}")
        for j, (mine, theirs) in enumerate(zip(self.param_groups, groups)):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "the optimizer's group")
            ours, given = set(mine) - {"initial_lr"}, set(theirs) - {"initial_lr"}
            if ours != given:
                raise ValueError(f"loaded state dict's parameter group {j} does not fit {type(self).__name__}: it "
                                 f"lacks {sorted(ours - given)} and has unexpected {sorted(given - ours)} (the "
                                 f"state of another kind of optimizer?)")
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        new_state: dict[Any, dict[str, Any]] = {}
        for mine, theirs in zip(self.param_groups, groups):
            for p, idx in zip(mine["params"], theirs["params"]):
                st = saved_state.get(int(idx))
                if st is None:
                    continue
                like = p.data if isinstance(p.data, np.ndarray) else np.asarray(p.data, np.float64)
                new = {}
                for k, v in st.items():
                    if isinstance(v, np.ndarray) or hasattr(v, "shape"):
                        v = np.array(np.asarray(v), dtype=like.dtype if np.ndim(v) else None, copy=True)
                        if v.ndim and v.shape != like.shape:
                            raise ValueError(f"state {k!r} has shape {v.shape}, parameter has {like.shape}")
                    new[k] = v
                new_state[p] = new
        self.state = new_state
        for mine, theirs in zip(self.param_groups, groups):
            for k, v in theirs.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)
