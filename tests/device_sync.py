"""A CPU stand-in for a CUDA device that raises wherever the host would wait for the device.

On a GPU the host queues kernels and runs ahead of them. It stops and waits for the device (a
"sync") when it needs something the device computed: a tensor's value (``item()``, ``bool()``,
``int()``, ``tolist()``, printing), a copy into host memory (``cpu()``, ``numpy()``), or the
size of an output that depends on the data (``nonzero``, boolean-mask indexing, ``unique``,
``repeat_interleave`` without ``output_size``). A copy from host memory to the device without
``non_blocking`` waits as well: PyTorch synchronises the stream after it (an index given as a
Python list or a host tensor is copied that way too); ``torch.cuda.set_sync_debug_mode``
reports all of these on a real GPU.

:class:`SimulatedDevice` runs code on the CPU as though its tensors were on such a device and
raises :class:`DeviceSync` at each of these operations, so that a machine without a GPU shows
that a code path never makes the host wait.

Which tensors are on the simulated device? Every tensor not known to be a host tensor: the
model's parameters, their gradients, the optimiser's state, a batch's tensors (moved to the
device before the mode is entered). Host tensors are those passed as ``host``, those the code
creates without naming a device, and those computed from host tensors only: reading them is
free on a GPU machine too. A device tensor answers ``is_cuda`` True, so code that picks its CUDA
path by ``is_cuda`` (the package's convention) takes that path here, on CPU kernels.

What it cannot see: a tensor's ``device`` stays ``cpu``, so a ``.to()`` target given as a
``torch.device`` is taken to be the simulated device and only the string ``"cpu"`` names host
memory; and it sees calls made from Python only (the package's and torch's own Python code,
such as ``pack_padded_sequence``), not what a kernel or the backward pass does in C++: an
operation whose kernel syncs is caught only because it is listed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

Tensor = torch.Tensor
_VF = torch._C._VariableFunctions


class DeviceSync(AssertionError):
    """An operation that would make the host wait for the device."""


# Each reads a device tensor's values on the host: the host waits until the device has computed
# them and copied them back.
READS = {
    Tensor.item, Tensor.tolist, Tensor.numpy, Tensor.cpu, Tensor.__bool__, Tensor.__int__, Tensor.__float__,
    Tensor.__index__, Tensor.__complex__, Tensor.__array__, Tensor.__format__, Tensor.__repr__, Tensor.__contains__,
    Tensor.is_nonzero, torch.is_nonzero, Tensor.equal, torch.equal, Tensor.allclose, torch.allclose,
}
# Each makes an output whose size depends on the data: the host waits to learn it.
DATA_SIZED = {
    torch.nonzero, Tensor.nonzero, torch.argwhere, Tensor.argwhere, torch.masked_select, Tensor.masked_select,
    torch.unique, Tensor.unique, torch.unique_consecutive, Tensor.unique_consecutive, torch.bincount, Tensor.bincount,
}
INDEXING = {Tensor.__getitem__, Tensor.__setitem__, Tensor.index_put, Tensor.index_put_, torch.index_put, torch.index_put_}
REPEATS = {torch.repeat_interleave, Tensor.repeat_interleave}
# Each copies its Python data from host memory to the device it names, blocking.
FROM_DATA = {torch.tensor, torch.as_tensor, torch.asarray, Tensor.new_tensor}
# Outputs that live in host memory whatever the inputs: packing keeps the batch sizes and
# lengths of a PackedSequence on the CPU.
HOST_OUTPUTS = {_VF._pack_padded_sequence: (1,), _VF._pad_packed_sequence: (1,)}


class SimulatedDevice(TorchFunctionMode):
    """Inside this mode, tensors other than ``host`` ones (and those made from them alone) act
    as CUDA tensors, and an operation that would make the host wait for them raises
    :class:`DeviceSync`. With ``copies``, a device tensor's ``cpu()`` (one wait, for a
    result the host must have) is allowed and counted in :attr:`copies` instead."""

    def __init__(self, host: Iterable[Tensor] = (), *, copies: bool = False) -> None:
        super().__init__()
        self.count_copies = copies
        self.copies = 0
        self._host: WeakIdKeyDictionary = WeakIdKeyDictionary()
        for tensor in host:
            self._host[tensor] = True
        # How often code asked a device tensor ``is_cuda`` (and heard True): a test checks that
        # the code under it chose its GPU paths, not only that they would not wait.
        self.cuda_answers = 0

    def on_device(self, tensor: Tensor) -> bool:
        """Whether ``tensor`` lives on the simulated device."""
        return tensor not in self._host

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__self__", None) is Tensor.is_cuda:  # the property's getter
            self.cuda_answers += self.on_device(args[0])
            return self.on_device(args[0])
        if func is Tensor.cpu and self.count_copies and self.on_device(args[0]):
            self.copies += 1
            result = func(*args, **kwargs).clone()  # a new tensor in host memory, as on a GPU
            self._host[result] = True
            return result
        self._check(func, args, kwargs)
        result = func(*args, **kwargs)
        if func is Tensor.to and self._moves_to_device(args, kwargs) and result is args[0]:
            result = result.clone()  # on the CPU `.to()` returns the host tensor itself; on a GPU a new one
        self._record(func, args, kwargs, result)
        return result

    def _check(self, func, args: tuple, kwargs: dict) -> None:
        """Raise :class:`DeviceSync` if calling ``func`` would make the host wait."""
        name = getattr(func, "__name__", repr(func))
        on_device = any(self.on_device(t) for t in _tensors((args, kwargs)))
        if func in READS and on_device:
            raise DeviceSync(f"{name}: reads a device tensor's values on the host")
        if func in DATA_SIZED and on_device:
            raise DeviceSync(f"{name}: the size of its output depends on the device's data")
        if func is torch.where and len(args) + len(kwargs) == 1 and on_device:
            raise DeviceSync(f"{name} with a condition alone: the nonzero positions, sized by the data")
        if func in REPEATS and on_device and _repeats_sized_by_data(func, args, kwargs):
            raise DeviceSync(f"{name} of tensor repeats without output_size: sized by the data")
        if func is torch._C._nn.one_hot and on_device and kwargs.get("num_classes", args[1] if len(args) > 1 else -1) == -1:
            raise DeviceSync(f"{name} without num_classes: the largest id, read on the host")
        if func in INDEXING and on_device:
            self._check_index(name, args[1] if len(args) > 1 else kwargs["indices"])
        if func in FROM_DATA:
            self._check_from_data(name, func, args, kwargs)
        if func is Tensor.to:
            self._check_to(name, args, kwargs)
        if func is Tensor.copy_:
            self._check_copy(name, args, kwargs)

    def _check_index(self, name: str, index: object) -> None:
        # A tuple (or index_put's list of tensors) indexes one dimension per part.
        several = isinstance(index, tuple) or (isinstance(index, list) and any(isinstance(i, Tensor) for i in index))
        for part in index if several else (index,):
            if isinstance(part, Tensor) and part.dtype in (torch.bool, torch.uint8):
                raise DeviceSync(f"{name} with a boolean mask: the selection's size depends on the data")
            if isinstance(part, Tensor) and part.dim() and not self.on_device(part):
                raise DeviceSync(f"{name} with a host tensor as index: a blocking copy to the device")
            if isinstance(part, list):
                raise DeviceSync(f"{name} with a Python list as index: a blocking copy to the device")

    def _check_from_data(self, name: str, func, args: tuple, kwargs: dict) -> None:
        if func is Tensor.new_tensor:  # made where its tensor lives unless told otherwise
            data = args[1]
            to_device = _names_device(kwargs["device"]) if "device" in kwargs else self.on_device(args[0])
        else:
            data = args[0] if args else kwargs.get("data")
            to_device = _names_device(kwargs.get("device"))
        if to_device and not (isinstance(data, Tensor) and self.on_device(data)):
            raise DeviceSync(f"{name} on the device from host data: a blocking copy")

    def _check_to(self, name: str, args: tuple, kwargs: dict) -> None:
        target = _to_target(args, kwargs)
        if target is None:
            return  # a dtype change stays where it is
        if self.on_device(args[0]) and not self._target_on_device(target):
            raise DeviceSync(f"{name} host memory: a copy from the device")
        if self._moves_to_device(args, kwargs) and not _non_blocking(args, kwargs):
            raise DeviceSync(f"{name} the device without non_blocking=True: a blocking copy")

    def _check_copy(self, name: str, args: tuple, kwargs: dict) -> None:
        target, source = args[0], args[1]
        if self.on_device(source) and not self.on_device(target):
            raise DeviceSync(f"{name} into host memory from the device")
        if self.on_device(target) and not self.on_device(source) and not _non_blocking(args[1:], kwargs):
            raise DeviceSync(f"{name} from host memory without non_blocking=True: a blocking copy")

    def _target_on_device(self, target: object) -> bool:
        return self.on_device(target) if isinstance(target, Tensor) else _names_device(target)

    def _moves_to_device(self, args: tuple, kwargs: dict) -> bool:
        target = _to_target(args, kwargs)
        return target is not None and not self.on_device(args[0]) and self._target_on_device(target)

    def _record(self, func, args: tuple, kwargs: dict, result: object) -> None:
        """Mark ``result``'s tensors as host tensors where they live in host memory."""
        if func is Tensor.to:
            target = _to_target(args, kwargs)
            host = not self._target_on_device(target) if target is not None else not self.on_device(args[0])
        elif kwargs.get("device") is not None:
            host = not _names_device(kwargs["device"])
        else:
            inputs = list(_tensors((args, kwargs)))
            host = not any(self.on_device(t) for t in inputs)  # no tensor inputs: made on the host
        if host:
            for tensor in _tensors(result):
                self._host[tensor] = True
        for position in HOST_OUTPUTS.get(func, ()):
            self._host[result[position]] = True


def _tensors(value: object) -> Iterator[Tensor]:
    """The tensors inside nested tuples, lists and dicts (a PackedSequence is a tuple)."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def _names_device(device: object) -> bool:
    """Whether a ``device`` argument names the simulated device: anything but a string naming
    the CPU (a ``torch.device`` is taken to be the simulated one: module docstring)."""
    if device is None:
        return False
    return not (isinstance(device, str) and torch.device(device).type == "cpu")


def _to_target(args: tuple, kwargs: dict) -> object:
    """The device (or tensor) a ``Tensor.to`` call moves to; None when it names a dtype only."""
    for value in (*args[1:], kwargs.get("device"), kwargs.get("other")):
        if isinstance(value, (str, torch.device, Tensor)) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
    return None


def _non_blocking(args: tuple, kwargs: dict) -> bool:
    """A ``to`` / ``copy_`` call's ``non_blocking``: its keyword, or its first positional bool."""
    return bool(kwargs.get("non_blocking", next((value for value in args[1:] if isinstance(value, bool)), False)))


def _repeats_sized_by_data(func, args: tuple, kwargs: dict) -> bool:
    """Whether a ``repeat_interleave`` call takes its repeats from a tensor without being told
    the output's size (``torch.repeat_interleave(repeats)`` alone always is)."""
    if func is torch.repeat_interleave and len(args) + len(kwargs) == 1:
        return True
    repeats = args[1] if len(args) > 1 else kwargs.get("repeats")
    output_size = args[3] if len(args) > 3 else kwargs.get("output_size")
    return isinstance(repeats, Tensor) and output_size is None
