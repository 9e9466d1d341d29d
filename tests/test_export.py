"""task=export: every file written is reloaded and gives the network's outputs."""

from __future__ import annotations

import importlib.util
import random

import pytest
import torch

import zcnas
from tests.cli import run_cli
from tests.test_train import ARCH, job_dir, tiny_npz, train_args
from zcnas.export import export_network
from zcnas.io import read_json
from zcnas.spaces import make_space


def network_of(result: dict, weights=None) -> torch.nn.Module:
    """The network a result.json describes, rebuilt with zcnas.build, with ``weights`` loaded."""
    net = result["network"]
    model = zcnas.build(net["arch"], net["space"], num_classes=net["num_classes"], resolution=net["resolution"],
                        **net["options"])
    if weights is not None:
        model.load_state_dict(torch.load(weights, weights_only=True))
    return model.eval()


def test_a_trained_network_exports_and_reloads_equal(tmp_path):
    data = tiny_npz(tmp_path)
    run_cli(tmp_path, *train_args(data))
    trained = job_dir(tmp_path)
    proc = run_cli(tmp_path, "task=export", f"from_result={trained / 'result.json'}")
    assert "trained weights" in proc.stdout
    folder = job_dir(tmp_path, "export")
    result = read_json(folder / "result.json")
    assert result["network"]["trained"] and result["network"]["arch"] == ARCH
    model = network_of(read_json(trained / "result.json"), trained / "weights.pt")
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = model(x)
        # each file, loaded as a user would
        state = torch.load(folder / "network.pt", weights_only=True)
        assert all(torch.equal(state[k], v) for k, v in torch.load(trained / "weights.pt", weights_only=True).items())
        rebuilt = network_of(result)
        rebuilt.load_state_dict(state)
        assert torch.equal(rebuilt(x), expected)
        assert torch.equal(torch.export.load(str(folder / "network.pt2")).module()(x), expected)
        assert torch.equal(torch.jit.load(str(folder / "network.torchscript.pt"))(x), expected)
    assert result["formats"]["torchscript"]["method"] == "script"
    if importlib.util.find_spec("onnx") is None:
        skipped = result["formats"]["onnx"]["skipped"]
        assert "onnx package is not installed" in skipped and "\n" not in skipped
        assert "onnx: skipped (the onnx package is not installed" in proc.stdout
    else:
        assert (folder / "network.onnx").is_file() and result["formats"]["onnx"]["ok"]


def test_export_of_an_architecture_uses_the_dataset_and_seed(tmp_path):
    proc = run_cli(tmp_path, "task=export", "arch=123", "dataset=ImageNet16-120", "formats=[state_dict,torchscript]")
    assert "initial weights" in proc.stdout
    result = read_json(job_dir(tmp_path, "export") / "result.json")
    assert result["network"]["num_classes"] == 120 and result["network"]["resolution"] == 16
    assert set(result["formats"]) == {"state_dict", "torchscript"}
    state = torch.load(job_dir(tmp_path, "export") / "network.pt", weights_only=True)
    seeded = zcnas.build(123, num_classes=120, resolution=16, seed=0).state_dict()
    assert all(torch.equal(state[k], v) for k, v in seeded.items())


def test_unknown_format_is_one_line(tmp_path):
    proc = run_cli(tmp_path, "task=export", "arch=123", "formats=[pdf]", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: unknown export format(s) pdf; valid: state_dict, "
                                                "torch_export, onnx, torchscript"]


def test_torch_jit_script_compiles_the_nats_network():
    for prune in (False, True):
        net = zcnas.build(9930, num_classes=10, seed=0, C=8, N=2)
        net.prune = prune
        net.eval()
        x = torch.randn(2, 3, 32, 32)
        with torch.no_grad():
            assert torch.equal(torch.jit.script(net)(x), net(x))


@pytest.mark.parametrize("space", ["nas_bench_macro", pytest.param("nas_bench_101", marks=pytest.mark.slow)])
def test_other_spaces_export(tmp_path, space):
    sp = make_space(space)
    arch = sp.format(sp.sample(random.Random(1)))

    def rebuild():
        return zcnas.build(arch, space, num_classes=5, resolution=16, seed=0)

    report = export_network(rebuild(), torch.randn(2, 3, 16, 16), tmp_path, ("state_dict", "torch_export",
                                                                             "torchscript"), rebuild)
    assert all(r["ok"] and r["equal"] for r in report.values()), report


def test_own_image_folder_from_search_to_reloaded_export(tmp_path):
    """Several classes of 48x48 PNGs: search -> train (train=quick) -> export -> reload, outputs equal."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("test", 3)):
        for c in range(4):
            folder = tmp_path / "imgs" / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray((rng.integers(0, 120, (48, 48, 3)) + 30 * c).astype(np.uint8)).save(folder / f"{i}.png")
    data = ["dataset=folder", f"dataset.path={tmp_path / 'imgs'}"]
    run_cli(tmp_path, "task=search", *data, "metric=hook_logdet", "search=random", "search.n=3", "batch_size=16")
    search = job_dir(tmp_path, "search") / "result.json"
    run_cli(tmp_path, "task=train", f"from_result={search}", *data, "train=quick", "train.epochs=2", "C=4", "N=1",
            "hardware.threads=1")
    trained = read_json(job_dir(tmp_path, "train") / "result.json")
    assert trained["network"]["arch"] == read_json(search)["best"]["arch"]
    assert (trained["network"]["num_classes"], trained["network"]["resolution"]) == (4, 48)
    run_cli(tmp_path, "task=export", f"from_result={job_dir(tmp_path, 'train') / 'result.json'}")
    folder = job_dir(tmp_path, "export")
    network = read_json(folder / "network.json")
    assert network["mean"] == trained["network"]["mean"]
    model = network_of(trained, job_dir(tmp_path, "train") / "weights.pt")
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        assert torch.equal(torch.export.load(str(folder / "network.pt2")).module()(x), model(x))
        assert torch.equal(torch.jit.load(str(folder / "network.torchscript.pt"))(x), model(x))
