"""Writing a network out of zcnas: state_dict, ``torch.export`` program, ONNX, TorchScript.

``export_network(model, example, out_dir)`` writes each format, reloads the file it wrote and
checks that the reloaded network's outputs on ``example`` equal the network's.  The network is
exported in eval mode (BatchNorm on its running statistics): the inference graph.

* ``state_dict`` -> ``network.pt``: plain tensors (``torch.save`` of the state_dict, loaded with
  ``weights_only=True``); rebuild with ``zcnas.build`` and the settings of ``network.json``.
* ``torch_export`` -> ``network.pt2``: ``torch.export.export`` then ``torch.export.save``; reload
  with ``torch.export.load(path).module()``.  The batch size is fixed to the example's.
* ``onnx`` -> ``network.onnx``: ``torch.onnx.export`` where the ``onnx`` package is installed,
  checked with onnxruntime where that is; skipped in one line otherwise.
* ``torchscript`` -> ``network.torchscript.pt``: ``torch.jit.script``; a network that cannot be
  scripted is traced on the example instead (said in the result), or skipped in one line.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import warnings
from pathlib import Path

import torch
from torch import nn

FORMATS = ("state_dict", "torch_export", "onnx", "torchscript")
FILES = {"state_dict": "network.pt", "torch_export": "network.pt2", "onnx": "network.onnx",
         "torchscript": "network.torchscript.pt"}


def _atomic(path: Path, write) -> None:
    """``write(tmp)`` then ``os.replace``: a reader never sees a partial file."""
    # the suffix kept: torch.export.save wants a .pt2 name
    tmp = path.with_name(f".{path.stem}.{socket.gethostname()}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _compare(expected: torch.Tensor, got) -> dict:
    got = torch.as_tensor(got)
    diff = float((expected - got).abs().max()) if got.shape == expected.shape else float("inf")
    equal = bool(got.shape == expected.shape and torch.equal(expected, got))
    return {"equal": equal, "max_abs_diff": diff, "ok": equal}


def export_network(model: nn.Module, example: torch.Tensor, out_dir: Path, formats=FORMATS,
                   rebuild=None) -> dict:
    """``{format: {"file", "ok", "equal", "max_abs_diff", ...} or {"skipped": why}}`` for each of ``formats``.

    ``ok``: the reloaded file's outputs equal the network's (ONNX, run by onnxruntime: within
    rtol 1e-4, atol 1e-5, as another runtime's kernels round differently).

    ``rebuild()``: a fresh network of the same architecture, into which the state_dict is loaded
    back for its check (without it, a deep copy of ``model``).
    """
    from zcnas.errors import ConfigError

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(f"unknown export format(s) {', '.join(map(str, unknown))}; valid: {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    example = example.cpu()
    with torch.no_grad():
        expected = model(example)
    report: dict[str, dict] = {}
    for fmt in formats:
        path = out_dir / FILES[fmt]
        try:
            report[fmt] = {"file": path.name, **_EXPORTERS[fmt](model, example, expected, path, rebuild)}
        except _Skip as why:
            report[fmt] = {"skipped": str(why)}
    return report


class _Skip(Exception):
    """A format this environment or network cannot produce; its message says why in one line."""


def _state_dict(model, example, expected, path: Path, rebuild) -> dict:
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    _atomic(path, lambda tmp: torch.save(state, tmp))
    fresh = rebuild() if rebuild is not None else __import__("copy").deepcopy(model)
    fresh.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    with torch.no_grad():
        return _compare(expected, fresh.eval()(example))


def _torch_export(model, example, expected, path: Path, rebuild) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, (example,))
        _atomic(path, lambda tmp: torch.export.save(program, str(tmp)))
        loaded = torch.export.load(str(path)).module()
        with torch.no_grad():
            return _compare(expected, loaded(example))


def _onnx(model, example, expected, path: Path, rebuild) -> dict:
    if importlib.util.find_spec("onnx") is None:
        raise _Skip("the onnx package is not installed (pip install onnx onnxscript onnxruntime to write ONNX)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _atomic(path, lambda tmp: torch.onnx.export(model, (example,), str(tmp), input_names=["images"],
                                                        output_names=["logits"]))
        except Exception as exc:
            raise _Skip(f"torch.onnx.export failed: {str(exc).strip().splitlines()[0][:200]}") from None
    if importlib.util.find_spec("onnxruntime") is None:
        return {"ok": True, "note": "onnxruntime is not installed: the file was not run back"}
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: example.numpy()})
    # another runtime: its kernels round differently, so the check is a tolerance, not equality
    result = _compare(expected, torch.from_numpy(got))
    result["ok"] = bool(torch.allclose(expected, torch.from_numpy(got), rtol=1e-4, atol=1e-5))
    return result


def _torchscript(model, example, expected, path: Path, rebuild) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        how = "script"
        try:
            compiled = torch.jit.script(model)
        except Exception:  # a network whose forward is Python data-driven: its graph for this input
            how = "trace"
            try:
                compiled = torch.jit.trace(model, (example,))
            except Exception as exc:
                raise _Skip(f"torch.jit.script and torch.jit.trace both failed: "
                            f"{str(exc).strip().splitlines()[0][:200]}") from None
        _atomic(path, lambda tmp: torch.jit.save(compiled, str(tmp)))
        loaded = torch.jit.load(str(path), map_location="cpu")
        with torch.no_grad():
            return {"method": how, **_compare(expected, loaded(example))}


_EXPORTERS = {"state_dict": _state_dict, "torch_export": _torch_export, "onnx": _onnx, "torchscript": _torchscript}
