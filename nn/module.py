"""``Module``: a container of parameters, buffers and sub-modules, named as in PyTorch.

A module finds its parameters by *walking its attributes* in assignment order
(``vars(self)``): a :class:`Parameter` is a parameter, a :class:`Module` is a
child, and a ``list``/``tuple``/``dict`` holding either is walked too (its
entries are named ``0``, ``1``, ... or by key, like a ``ModuleList``). So::

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.heads = [nn.Linear(6, 2), nn.Linear(6, 3)]

has parameters ``conv1.weight, conv1.bias, heads.0.weight, heads.0.bias, ...``.
Buffers (state that is saved but not trained, e.g. BatchNorm's running
statistics) are registered with :meth:`Module.register_buffer`.

The order is PyTorch's: a module's own parameters first, then its children's
(depth first), so ``state_dict()`` keys match an equivalent ``torch.nn`` model.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from autograd import Tensor, no_grad

__all__ = ["Parameter", "Buffer", "Module", "Sequential", "ModuleList", "ModuleDict", "eval_mode"]


class Parameter(Tensor):
    """A Tensor that is a trainable weight of a Module (``requires_grad=True`` by default).

    Assigning a Parameter to a Module attribute registers it; ``Parameter(t)``
    shares ``t``'s array.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.zeros((0,), np.float32)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (Parameter, (self.data, self.requires_grad))


class Buffer(Tensor):
    """A Tensor that is saved in ``state_dict`` but not trained (``torch.nn.Buffer``)."""

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None) -> None:
        if dtype is None and isinstance(data, np.ndarray | np.generic):
            dtype = data.dtype  # keep integer counters integer
        super().__init__(data, requires_grad=False, dtype=dtype)


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

# attributes the walker never looks at
_INTERNAL = frozenset({"training", "_buffer_names", "_out_shape", "_items"})


def _is_container(v: Any) -> bool:
    if isinstance(v, dict):
        vals: Iterable = v.values()
    elif isinstance(v, list | tuple):
        vals = v
    else:
        return False
    return any(isinstance(x, Parameter | Module) or _is_container(x) for x in vals)


def _entries(obj: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(obj, Module):
        return obj._named_entries()
    if isinstance(obj, dict):
        return ((str(k), v) for k, v in obj.items())
    return ((str(i), v) for i, v in enumerate(obj))


def _split(obj: Any) -> tuple[list, list, list]:
    """(own parameters, own buffers, sub-nodes) of a Module or container, each as (name, value) pairs."""
    params, buffers, subs = [], [], []
    bnames = obj._buffer_names if isinstance(obj, Module) else ()
    for name, v in _entries(obj):
        if isinstance(v, Parameter):
            params.append((name, v))
        elif isinstance(v, Buffer) or (name in bnames and isinstance(v, Tensor)):
            buffers.append((name, v))
        elif isinstance(v, Module) or _is_container(v):
            subs.append((name, v))
    return params, buffers, subs


def _fmt_count(n: int) -> str:
    return f"{n:,}"


def _to_numpy(v: Any) -> np.ndarray:
    """An array from a numpy array, a chainrule Tensor or anything array-like (e.g. a CPU torch tensor)."""
    if isinstance(v, Tensor):
        return v.data
    if not isinstance(v, np.ndarray) and hasattr(v, "detach") and hasattr(v, "cpu"):
        v = v.detach().cpu().numpy()
    return np.asarray(v)


class Module:
    """Base class of layers and models: subclass it, assign parameters/modules in ``__init__``, write ``forward``.

    Calling the module runs ``forward`` and records the output shape (shown by ``repr``).
    ``training`` is True until :meth:`eval` (it changes Dropout and BatchNorm).
    """

    training: bool = True  # class defaults: a subclass that forgets super().__init__() still works
    _buffer_names: tuple | list = ()
    _out_shape: tuple | None = None

    def __init__(self) -> None:
        self.training = True

    # --- forward --------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define forward(self, x) in the subclass")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        shape = getattr(out, "shape", None)
        if shape is not None:
            self.__dict__["_out_shape"] = tuple(shape)
        return out

    # --- registration -----------------------------------------------------------
    def _named_entries(self) -> Iterable[tuple[str, Any]]:
        """The (name, value) pairs the walker inspects; containers override this."""
        return ((k, v) for k, v in self.__dict__.items() if k not in _INTERNAL)

    def register_buffer(self, name: str, tensor: Any) -> None:
        """Store ``tensor`` (array or Tensor, or None) as ``self.<name>``, saved in ``state_dict`` but not trained."""
        if "_buffer_names" not in self.__dict__:
            self._buffer_names = []
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Buffer(np.asarray(tensor))
        setattr(self, name, tensor)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        setattr(self, name, module)

    # --- walking ----------------------------------------------------------------
    def _nodes(self, prefix: str = "", dedupe: bool = True) -> Iterator[tuple[str, Any, list, list]]:
        """Pre-order walk: (prefix, node, own params, own buffers) for this module and every sub-node.

        A node reached twice is visited once unless ``dedupe`` is False (``state_dict`` keeps every name);
        cycles are never followed.
        """
        seen: set[int] = set()
        stack: list[tuple[str, Any, frozenset]] = [(prefix, self, frozenset())]
        while stack:
            pre, node, ancestors = stack.pop()
            if id(node) in (seen if dedupe else ancestors):
                continue
            seen.add(id(node))
            params, buffers, subs = _split(node)
            yield pre, node, params, buffers
            inner = ancestors | {id(node)}
            for name, sub in reversed(subs):
                stack.append((pre + name + ".", sub, inner))

    def _named_tensors(self, buffers: bool, prefix: str, recurse: bool) -> Iterator[tuple[str, Any]]:
        """(name, tensor) pairs of the walk's parameters (or buffers), each shared tensor once."""
        seen: set[int] = set()
        for pre, _node, params, bufs in self._nodes(prefix + "." if prefix else ""):
            for name, t in bufs if buffers else params:
                if id(t) not in seen:
                    seen.add(id(t))
                    yield pre + name, t
            if not recurse:
                break

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(name, Parameter) pairs with PyTorch names (``0.weight``, ``conv1.bias``); shared ones once."""
        return self._named_tensors(False, prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_tensors(True, prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(name, module) pairs, this module first (named ``prefix``, "" by default), depth first."""
        for pre, node, _, _ in self._nodes(prefix + "." if prefix else ""):
            if isinstance(node, Module):
                yield pre[:-1], node

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules (those inside a list/dict attribute are named ``attr.0``, ``attr.key``)."""
        seen: set[int] = set()

        def walk(pre: str, node: Any) -> Iterator[tuple[str, Module]]:
            for name, sub in _split(node)[2]:
                if isinstance(sub, Module):
                    if id(sub) not in seen:
                        seen.add(id(sub))
                        yield pre + name, sub
                else:
                    yield from walk(pre + name + ".", sub)

        yield from walk("", self)

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def get_submodule(self, target: str) -> Module:
        """The sub-module at the dotted path ``target`` (a shared module answers to each of its names)."""
        if not target:
            return self
        for pre, node, _, _ in self._nodes(dedupe=False):
            if pre[:-1] == target and isinstance(node, Module):
                return node
        raise AttributeError(f"{type(self).__name__} has no submodule {target!r}")

    # --- modes and gradients ----------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set ``training`` on this module and every sub-module; returns self."""
        if not isinstance(mode, bool | np.bool_):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: Dropout passes inputs through, BatchNorm uses its running statistics."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter (``grad = None``, as in PyTorch)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor._wrap(np.zeros_like(p.data))

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter; frozen parameters get no ``grad``."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn(m)`` on every sub-module (children first) and then on self; e.g. custom initialisation."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (counting shared ones once)."""
        return sum(p.data.size for p in self.parameters() if p.requires_grad or not trainable_only)

    def to(self, dtype: Any) -> Module:
        """Convert floating-point parameters and buffers to ``dtype`` in place (the Parameter objects stay)."""
        dtype = np.dtype(dtype)
        for t in [*self.parameters(), *self.buffers()]:
            if t.data.dtype.kind == "f" and t.data.dtype != dtype:
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad = Tensor._wrap(t.grad.data.astype(dtype))
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # --- state ---------------------------------------------------------------------
    def _state_tensors(self) -> OrderedDict[str, Tensor]:
        out: OrderedDict[str, Tensor] = OrderedDict()
        for pre, _node, params, buffers in self._nodes(dedupe=False):
            for name, t in params:
                out[pre + name] = t
            for name, t in buffers:
                out[pre + name] = t
        return out

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameters and buffers as numpy arrays, keyed by PyTorch names.

        The arrays are *copies* (unlike PyTorch), so a saved "best model" does not
        change when training continues.
        """
        return OrderedDict((k, t.data.copy()) for k, t in self._state_tensors().items())

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> _IncompatibleKeys:
        """Copy arrays (or Tensors, including CPU torch tensors) into the existing parameters and buffers.

        Shapes must match. With ``strict`` every key must be present on both sides; otherwise
        the missing and unexpected keys are returned. Nothing is copied if anything is wrong.
        """
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        arrays = {}
        for k, t in own.items():
            if k not in state_dict:
                continue
            arr = _to_numpy(state_dict[k])
            if arr.shape != t.data.shape:
                errors.append(
                    f"size mismatch for {k!r}: copying a param with shape {arr.shape} from the checkpoint, "
                    f"the shape in the current model is {t.data.shape}"
                )
            arrays[k] = arr
        if strict:
            if missing:
                errors.append("missing key(s) in state_dict: " + ", ".join(repr(k) for k in missing))
            if unexpected:
                errors.append("unexpected key(s) in state_dict: " + ", ".join(repr(k) for k in unexpected))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for k, arr in arrays.items():
            np.copyto(own[k].data, arr, casting="unsafe")
        return _IncompatibleKeys(missing, unexpected)

    # --- display ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside ``Name(...)`` for a layer (e.g. ``in_features=3, out_features=2``)."""
        return ""

    def _note(self) -> str:
        n = sum(p.data.size for _, p in self.named_parameters(recurse=False))
        bits = []
        if n:
            bits.append(f"{_fmt_count(n)} params")
        if self._out_shape is not None:
            bits.append(f"out {self._out_shape}")
        return f"  [{', '.join(bits)}]" if bits else ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra}){self._note()}"
        lines = [f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("]
        for name, m in children:
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        total = self.num_parameters()
        note = f"  [{_fmt_count(total)} params" + (f", out {self._out_shape}]" if self._out_shape else "]")
        lines.append(")" + note)
        return "\n".join(lines)

    def summary(self, input_shape: tuple | None = None, dtype: Any = np.float32) -> str:
        """A table of layers, their output shapes and parameter counts, with the totals.

        ``input_shape`` is the shape of *one sample* (no batch axis), e.g. ``(1, 32, 32)``;
        a batch of one zero input is run in eval mode without gradients (running statistics
        are not touched). Without ``input_shape`` the shapes seen by the last call are shown.
        Output shapes are printed with the batch axis as ``-1``.
        """
        if input_shape is not None:
            for m in self.modules():
                m.__dict__.pop("_out_shape", None)
            with eval_mode(self), no_grad():
                self(Tensor(np.zeros((1, *input_shape), dtype=dtype)))
        rows = []
        for name, m in self.named_modules():
            if not name:
                continue
            own = sum(p.data.size for _, p in m.named_parameters(recurse=False))
            if own or not any(True for _ in m.children()):
                shape = m._out_shape
                if shape is not None and input_shape is not None:
                    shape = (-1, *shape[1:])
                rows.append((f"{name} ({type(m).__name__})", str(shape) if shape is not None else "-", _fmt_count(own)))
        header = ("Layer (type)", "Output shape", "Params")
        w = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
        sep = "-" * (w[0] + w[1] + w[2] + 6)
        out = [sep, f"{header[0]:<{w[0]}}   {header[1]:<{w[1]}}   {header[2]:>{w[2]}}", "=" * len(sep)]
        out += [f"{a:<{w[0]}}   {b:<{w[1]}}   {c:>{w[2]}}" for a, b, c in rows]
        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        out += ["=" * len(sep), f"Total params: {_fmt_count(total)}", f"Trainable params: {_fmt_count(trainable)}",
                f"Non-trainable params: {_fmt_count(total - trainable)}", sep]
        return "\n".join(out)


@contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """``with eval_mode(model):`` runs the block with ``model.eval()`` (Dropout off, BatchNorm running
    statistics), then gives every sub-module back its own previous ``training`` flag (a sub-module that was
    already in eval mode inside a training model stays so). Gradients are not affected: add ``no_grad()``.
    """
    saved = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, was_training in saved:
            m.training = was_training


class _Container(Module):
    """Children kept in ``self._items`` (name -> Module, in order), walked before any other attribute."""

    def __init__(self) -> None:
        super().__init__()
        self._items: OrderedDict[str, Module] = OrderedDict()

    def _named_entries(self) -> Iterable[tuple[str, Any]]:
        yield from self._items.items()
        yield from super()._named_entries()

    def _check(self, name: str, m: Any) -> None:
        if not isinstance(m, Module):
            raise TypeError(f"{type(self).__name__}: expected a Module for {name!r}, got {type(m).__name__}")

    def _add(self, name: str, m: Module) -> None:
        self._check(name, m)
        self._items[str(name)] = m

    def __len__(self) -> int:
        return len(self._items)


class _ModuleSequence(_Container):
    """The list operations of ``Sequential`` and ``ModuleList``; appended children are named by position."""

    def _numbered(self) -> bool:
        return all(k == str(i) for i, k in enumerate(self._items))

    def _next_name(self) -> str:
        i = len(self._items)
        while str(i) in self._items:  # a named Sequential may already use this number
            i += 1
        return str(i)

    def _from_items(self, items: list[tuple[str, Module]]) -> _ModuleSequence:
        raise NotImplementedError

    def append(self, m: Module) -> Any:
        self._add(self._next_name(), m)
        return self

    def extend(self, modules: Iterable[Module]) -> Any:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, m: Module) -> Any:
        """Insert ``m`` before position ``index``. Children named ``0, 1, ...`` are renumbered; named children
        keep their names and ``m`` gets the next free number."""
        name = self._next_name()
        self._check(name, m)
        items = list(self._items.items())
        items.insert(index, (name, m))
        if self._numbered():
            items = [(str(i), v) for i, (_, v) in enumerate(items)]
        self._items = OrderedDict(items)
        return self

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items.values())

    def __getitem__(self, idx: int | slice | str) -> Any:
        if isinstance(idx, str):
            return self._items[idx]
        if isinstance(idx, slice):
            return self._from_items(list(self._items.items())[idx])
        return list(self._items.values())[idx]

    def __setitem__(self, idx: int, m: Module) -> None:
        self._add(list(self._items)[idx], m)


class Sequential(_ModuleSequence):
    """Modules applied in order; children are named ``"0"``, ``"1"``, ... (indexable, sliceable, iterable).

    ``Sequential(a, b)`` or ``Sequential(OrderedDict(name=module, ...))`` for named children (a slice
    keeps the names; a slice of a numbered one is renumbered).
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for k, m in modules[0].items():
                self._add(str(k), m)
        else:
            self.extend(modules)

    def _from_items(self, items: list[tuple[str, Module]]) -> Sequential:
        # a plain Sequential even for subclasses (e.g. MLP), whose constructors take other arguments
        return Sequential(*(m for _, m in items)) if self._numbered() else Sequential(OrderedDict(items))

    def __getattr__(self, name: str) -> Any:  # seq.conv1 for named children
        items = self.__dict__.get("_items")
        if items is not None and name in items:
            return items[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def forward(self, x: Any) -> Any:
        for m in self._items.values():
            x = m(x)
        return x


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (``0.weight``, ...); it has no forward.

    ``ModuleList(iterable)`` as in PyTorch; a slice is a ModuleList (renumbered).
    """

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self.extend(modules)

    def _from_items(self, items: list[tuple[str, Module]]) -> ModuleList:
        return ModuleList(m for _, m in items)

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(); iterate over it in your module's forward")


class ModuleDict(_Container):
    """A dict of modules whose parameters are registered under their keys (``encoder.weight``, ...)."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        items = modules.items() if isinstance(modules, Mapping) else modules
        for k, m in items:
            self[k] = m

    def __getitem__(self, key: str) -> Module:
        return self._items[key]

    def __setitem__(self, key: str, m: Module) -> None:
        self._add(key, m)

    def __delitem__(self, key: str) -> None:
        del self._items[key]

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def keys(self) -> Iterable[str]:
        return self._items.keys()

    def values(self) -> Iterable[Module]:
        return self._items.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._items.items()

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward(); index it in your module's forward")
