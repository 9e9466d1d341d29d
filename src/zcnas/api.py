"""The public Python API: build, score, search and train.

``zcnas.score`` runs the same implementations the NATS-Bench jobs use (the
model-level functions of ``zcnas.metrics``, several metrics at once on the fused
engine's shared passes, ``zcnas.metrics.fused``) on a model and batch you give.
Which metrics it takes are the options of ``conf/metric/`` (``zcnas.plugins``); what each needs
from the batch and its model-level function come from its class's declaration
(``zcnas.metrics.base.declare``), its parameters' defaults from its option.
``zcnas.build`` gives the network of an architecture of any space, ``zcnas.search``
runs a search job's search in-process and ``zcnas.train`` trains a network
(``zcnas.training``).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from zcnas import metrics as metric_options
from zcnas.errors import ConfigError, MetricError
from zcnas.metrics.base import LABELS, Metric


def model_metrics() -> dict[str, type[Metric]]:
    """The metrics that score any model, those declared with a model-level function: ``{name: class}``
    (imports every metric)."""
    classes = {name: metric_options.metric_class(name) for name in metric_options.names()}
    return {name: cls for name, cls in classes.items() if cls.model_score is not None}


def _split_batch(batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[0], torch.Tensor):
        x, y = batch
        if y is not None and not isinstance(y, torch.Tensor):
            raise TypeError(f"the labels of batch=(x, y) must be a tensor of class indices, got {type(y).__name__}")
        return x, y
    if hasattr(batch, "__iter__") and not isinstance(batch, (tuple, list, str, bytes, dict)):
        # a DataLoader or any iterable of batches: zero-cost metrics score one batch, its first
        first = next(iter(batch), None)
        if first is None:
            raise MetricError(f"the {type(batch).__name__} given as the batch yields no batch")
        return _split_batch(first)
    raise TypeError(f"batch must be a tensor x, a pair (x, y) of tensors or a DataLoader, got {type(batch).__name__}")


def _check_metric(metric, params: dict) -> tuple[type[Metric], dict]:
    """The class of ``metric`` and its parameters: its option's defaults (those its model-level
    function takes), ``params`` overriding them."""
    if not isinstance(metric, str):
        raise ConfigError(f"a metric is named by a string, got {metric!r}")
    if metric not in metric_options.names():
        raise ConfigError(f"unknown metric {metric!r}; valid: {', '.join(metric_options.names())}")
    cls = metric_options.metric_class(metric)
    if cls.model_score is None:
        raise ConfigError(f"metric {metric!r} cannot score an arbitrary model: {cls.cells_only}")
    takes = cls.param_names()
    unknown = sorted(set(params) - set(takes))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(unknown)} for metric {metric!r}; "
                          f"valid: {', '.join(takes) or 'none'}")
    given = {k: v for k, v in metric_options.defaults(metric).items() if k in takes}
    return cls, {**given, **params}


def score(model: nn.Module, batch, metric: str | None = None, *, metrics=None, settings=None,
          **params) -> float | dict[str, float]:
    """Score ``model`` with a zero-cost ``metric`` (a float), or with several ``metrics`` (a dict); higher is better.

    ``model``: any ``torch.nn.Module`` taking the batch's images and returning
    logits (one tensor, shape (N, classes)).  ``batch``: a tensor x (N, ...) or
    a pair (x, y) with y the class indices.  Metrics that need labels (snip,
    grad_norm, grasp, fisher, plain, epe_nas, zico) raise ``MetricError`` when y
    is missing; data-free metrics (synflow, zen, params, flops, l2_norm) use
    only x's shape (and device).  ``params``: the metric's own settings, e.g.
    ``zen``: alpha, repeat, seed, norm; ``zico``: num_batches; ``epe_nas``:
    num_classes; ``meco``: layers.  The score may be non-finite (e.g.
    hook_logdet's -inf for a singular kernel); rank those lowest.

    The model is left as it was: weights, buffers (BatchNorm running
    statistics), train/eval modes, ``requires_grad`` flags and any ``.grad``; so is the caller's
    torch random state (a model with dropout scores the same twice).
    A model a metric cannot handle gives a one-line ``MetricError`` (e.g.
    hook_logdet on a model without ``nn.ReLU`` modules); an unknown metric or
    parameter a one-line ``ConfigError``.

    ``batch`` may also be a ``DataLoader`` (any iterable of such batches): its first batch is
    scored, as zero-cost metrics score one batch.  ``metrics=[...]`` scores several metrics in
    one call on the fused engine (``zcnas.metrics.fused``): the metrics of one forward pass
    (hook_logdet, meco, fisher, snip, grad_norm, plain, grasp, jacov, epe_nas) share it and
    its backward passes, each score equal to its single-metric value; ``settings``:
    ``{metric: {param: value}}``.  It returns ``{metric: score}`` in the order given.

    Several metrics, from a DataLoader (runs as is)::

        import torch
        from torch.utils.data import DataLoader, TensorDataset

        import zcnas

        model = zcnas.build(123, num_classes=10, C=8, N=1, seed=0)  # a NATS-Bench network
        data = TensorDataset(torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,)))
        loader = DataLoader(data, batch_size=16)
        scores = zcnas.score(model, loader, metrics=["hook_logdet", "snip", "synflow", "zen"],
                             settings={"zen": {"seed": 1}})
        print(scores)  # {'hook_logdet': ..., 'snip': ..., 'synflow': ..., 'zen': ...}

    Example (runs as is; no torchvision needed)::

        import torch
        from torch import nn

        import zcnas

        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
        )
        x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))

        print(zcnas.score(model, x))                        # hook_logdet (NASWOT): images only
        print(zcnas.score(model, x, metric="synflow"))      # data-free: uses x's shape only
        print(zcnas.score(model, (x, y), metric="snip"))    # needs labels
        print(zcnas.score(model, x, metric="zen", seed=1))  # a metric's own parameters
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(metric, (list, tuple)):  # a list given as metric= means metrics=
        metric, metrics = None, metric if metrics is None else metrics
    if metrics is not None:
        if metric is not None or params:
            raise ConfigError("give metric= (one name, with its parameters as keywords) or metrics=[...] "
                              "(with settings={metric: {param: value}}), not both")
        return _score_many(model, batch, list(metrics), dict(settings or {}))
    if settings is not None:
        raise ConfigError("settings= goes with metrics=[...]; one metric takes its parameters as keywords")
    metric = "hook_logdet" if metric is None else metric
    cls, params = _check_metric(metric, params)
    x, y = _split_batch(batch)
    if cls.needs == LABELS and y is None:
        raise MetricError(f"metric {metric!r} needs labels: pass batch=(x, y) with y the class indices of x")
    with _model_kept(model):
        return float(cls.score_model(model, x, y, **params))


@contextmanager
def _model_kept(model: nn.Module):
    """Every metric restores what it touches; this also puts back the modes and
    requires_grad flags should a metric fail half-way, and the caller's torch random state
    (a model's own randomness, dropout say, draws from it)."""
    modes = {m: m.training for m in model.modules()}
    flags = {p: p.requires_grad for p in model.parameters()}
    cuda = {p.device.index if p.device.index is not None else torch.cuda.current_device()
            for p in model.parameters() if p.is_cuda}
    try:
        with torch.random.fork_rng(devices=sorted(cuda)):
            yield
    finally:
        for m, mode in modes.items():
            m.train(mode)
        for p, flag in flags.items():
            p.requires_grad_(flag)


def _score_many(model: nn.Module, batch, names: list, settings: dict) -> dict[str, float]:
    from zcnas.metrics.base import SHARED_PASS
    from zcnas.metrics.fused import shared_scores

    if not names:
        raise ConfigError("metrics=[] names no metric; valid: " + ", ".join(metric_options.names()))
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ConfigError(f"metrics lists {', '.join(map(str, doubled))} more than once")
    stray = sorted(set(settings) - set(names))
    if stray:
        raise ConfigError(f"settings given for {', '.join(map(str, stray))}, which is not among the metrics")
    checked = {n: _check_metric(n, dict(settings.get(n) or {})) for n in names}
    x, y = _split_batch(batch)
    labelled = [n for n in names if checked[n][0].needs == LABELS]
    if labelled and y is None:
        raise MetricError(f"metric {labelled[0]!r} needs labels: pass batch=(x, y) with y the class indices of x")
    shared = [n for n in names if checked[n][0].fusion in SHARED_PASS]
    scores: dict[str, float] = {}
    with _model_kept(model):
        if shared:
            scores.update(shared_scores(model, x, y, shared, {n: checked[n][1] for n in shared}))
        for n in names:
            if n not in scores:
                cls, params = checked[n]
                scores[n] = float(cls.score_model(model, x, y, **params))
    return {n: float(scores[n]) for n in names}


# --- networks ---------------------------------------------------------------------------------


def build(arch, space: str | None = None, num_classes: int = 10, resolution: int = 32, seed: int | None = None,
          **space_options) -> nn.Module:
    """The ``torch.nn.Module`` of architecture ``arch`` of ``space``, freshly initialized (train mode).

    ``arch``: the architecture's string or its index (indexed spaces).  ``space``: ``nats_tss``
    (NATS-Bench topology), ``nas_bench_macro``, ``nas_bench_101``, or a ``zcnas.spaces.base.SearchSpace``
    instance (your own space); None: the default space of ``conf/config.yaml``.  ``num_classes`` and
    ``resolution`` (the input images are resolution x resolution x 3; a multiple of 4 for
    NATS-Bench) size it for your task.  NATS-Bench networks also take ``C`` (channels of the
    first stage, default 16) and ``N`` (cells per stage, default 5): the paper's network, on
    which every score and benchmark accuracy is measured.  With ``seed`` the weights are
    reproducible, and equal to those the metrics score for the same seed and size.

    Example (runs as is)::

        import torch

        import zcnas

        net = zcnas.build("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_1x1~2|",
                          num_classes=5, resolution=48, C=8, N=2, seed=0)
        print(net(torch.randn(2, 3, 48, 48)).shape)  # torch.Size([2, 5])
        print(sum(p.numel() for p in zcnas.build(123).parameters()))  # the paper's size: 344346
    """
    from zcnas.spaces import SearchSpace, default_name, make_space
    from zcnas.training.target import NATS_SIZE, network_options

    sp = space if isinstance(space, SearchSpace) else make_space(str(space or default_name()))
    a = sp.to_arch(arch)
    for name, value in (("num_classes", num_classes), ("resolution", resolution)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ConfigError(f"seed must be an integer >= 0 or None, got {seed!r}")
    stray = sorted(set(space_options) - {"C", "N"})
    if stray:
        raise ConfigError(f"unknown network option(s) {', '.join(stray)}; NATS-Bench networks take C and N, "
                          "the other spaces none")
    options = network_options(sp, space_options.get("C", NATS_SIZE["C"]), space_options.get("N", NATS_SIZE["N"]))
    return sp.sized_network(a, num_classes, resolution, seed=seed, **options)


# --- jobs in-process ----------------------------------------------------------------------------


@contextmanager
def _torch_settings_kept():
    """A job sets process-wide torch settings (its thread count, ``hardware.threads``; cuDNN's
    determinism and TF32 flags on a GPU); an API call puts the caller's back when it returns."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    threads, saved = torch.get_num_threads(), (cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32,
                                               matmul.allow_tf32)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = saved


def _compose(overrides: list[str]):
    """The job config the CLI would compose from ``overrides`` (Hydra's compose API)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from zcnas.config import CONFIG_DIR, register_resolvers
    from zcnas.schema import check_settings

    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides)
    except Exception as exc:  # Hydra's errors: one line
        raise ConfigError(str(exc).strip().splitlines()[0]) from None
    finally:
        GlobalHydra.instance().clear()
    check_settings(cfg)
    return cfg


def _override(key: str, value) -> str:
    import json

    if isinstance(value, str):
        plain = value and all(c.isalnum() or c in "._-/" for c in value)
        return f"{key}={value}" if plain else f"{key}={json.dumps(value)}"  # quoted: Hydra's grammar
    if value is None:
        return f"{key}=null"
    if isinstance(value, bool):
        return f"{key}={str(value).lower()}"
    return f"{key}={json.dumps(value)}"


def search(metric: str = "synflow", search: str = "random", dataset: str = "cifar10", seed: int = 0,
           space: str | None = None, overrides: list[str] | tuple[str, ...] = (), **settings) -> dict:
    """Run one search in-process, as ``python run.py task=search ...`` does; returns the job's result.

    ``metric``, ``search``, ``dataset``, ``space``: options of those config groups (``space=None``: the
    default of ``conf/config.yaml``); ``settings``:
    the search's own, the keys of ``conf/search/<search>.yaml`` (``n=`` for random, ``m=``/``p=``/``t=``/``w=`` for aging);
    ``overrides``: any other command-line overrides (``["hardware=gpu", "batch_size=64"]``).
    ``result["best"]`` holds the architecture found (``arch``, ``index``, ``score`` and, where the
    benchmark has it, ``test_accuracy``).  Nothing is written to disk, and the job's torch settings
    (``hardware.threads``) are the caller's again when it returns.

    Example (runs as is; the NATS-Bench table of ../shared)::

        import zcnas

        result = zcnas.search(metric="synflow", search="random", dataset="cifar10", seed=0, n=20)
        print(result["best"]["arch"], result["best"]["score"])
    """
    from zcnas.tasks.search import run_search_job

    cfg = _compose(["task=search", f"metric={metric}", f"search={search}", f"dataset={dataset}",
                    *([f"space={space}"] if space else []), f"seed={seed}", "progress=false", *overrides,
                    *(_override(f"search.{k}", v) for k, v in settings.items())])
    with _torch_settings_kept():
        return run_search_job(cfg, None)


def train(arch, data="cifar10", *, space: str | None = None, recipe: str = "quick", seed: int = 0, device: str = "cpu",
          output_dir=None, C: int = 16, N: int = 5, dataset_settings: dict | None = None, progress: bool = False,
          **hyperparameters):
    """Train architecture ``arch``; returns ``(network, summary)``, the network trained (eval mode).

    ``data``: arrays ``(x_train, y_train, x_test, y_test)`` (images uint8 N x H x W x 3 with H == W,
    labels 0..classes-1; classes and mean/std are taken from them), or the name of a
    ``dataset`` option (``cifar10``, ``folder``, ``npz``, ...) with ``dataset_settings`` its keys
    (``{"path": "imgs/"}``).  ``recipe``: a ``train`` option (``quick``, ``nats_bench``) whose
    settings ``hyperparameters`` override (``epochs=``, ``lr=``, ``batch_size=`` ...).  ``C``, ``N``:
    the NATS-Bench network's size.  ``output_dir``: where to checkpoint every epoch (a relaunch
    resumes) and write ``weights.pt``, ``history.csv`` and ``learning_curve.png``; None writes
    nothing.  The summary holds the final ``test_accuracy`` (%), ``best_epoch``, ``parameters``,
    the ``history`` per epoch and the seconds.

    Example (runs as is; a few seconds on a CPU)::

        import numpy as np

        import zcnas

        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (96, 16, 16, 3), dtype=np.uint8)
        y = np.arange(96) % 3
        x[y == 1, :8] //= 4  # something to learn
        net, summary = zcnas.train(123, data=(x[:72], y[:72], x[72:], y[72:]), C=4, N=1, epochs=2, batch_size=24)
        print(summary["test_accuracy"], summary["best_epoch"], summary["parameters"])
    """
    from pathlib import Path

    from omegaconf import OmegaConf

    from zcnas.config import CONFIG_DIR
    from zcnas.spaces import SearchSpace, default_name, make_space
    from zcnas.training import TrainingData, make_recipe, train_network
    from zcnas.training.target import resolve_target

    sp = space if isinstance(space, SearchSpace) else make_space(str(space or default_name()))
    options_file = CONFIG_DIR / "train" / f"{recipe}.yaml"
    if not options_file.is_file():
        from zcnas.config import group_options

        raise ConfigError(f"unknown recipe {recipe!r}; valid: {', '.join(group_options('train'))}")
    recipe_obj = make_recipe({**OmegaConf.to_container(OmegaConf.load(options_file)), **hyperparameters})
    if isinstance(data, TrainingData):
        training_data = data
    elif isinstance(data, (tuple, list)) and len(data) == 4:
        training_data = _arrays_data(*data)
    elif isinstance(data, str):
        from zcnas.training.data import load_training_data

        settings = (_override(f"dataset.{k}", v) for k, v in (dataset_settings or {}).items())
        cfg = _compose([f"dataset={data}", *settings])
        training_data = load_training_data(cfg.dataset)
    else:
        raise ConfigError("data must be (x_train, y_train, x_test, y_test) arrays or the name of a dataset option "
                          f"(cifar10, folder, npz, ...), got {type(data).__name__}")
    target = resolve_target(arch, None, sp, C, N)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device='cuda' but torch sees no CUDA device; use device='cpu'")
    with _torch_settings_kept():
        model, summary = train_network(target, training_data, recipe_obj, seed, device,
                                       Path(output_dir) if output_dir is not None else None, progress,
                                       log=lambda line: None if not progress else print(line))
    return model.eval(), summary


def _arrays_data(x_train, y_train, x_test, y_test):
    """A ``TrainingData`` of plain arrays: classes from the labels, mean and std from the training images."""
    import numpy as np

    from zcnas.training import TrainingData

    arrays = [np.asarray(a) for a in (x_train, y_train, x_test, y_test)]
    for x in arrays[::2]:
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3 or x.shape[1] != x.shape[2]:
            raise ConfigError(f"images must be uint8 N x H x W x 3 with H == W, got {x.dtype} {x.shape}")
    if arrays[0].shape[1:] != arrays[2].shape[1:]:
        raise ConfigError(f"train and test images differ in shape: {arrays[0].shape[1:]} and {arrays[2].shape[1:]}")
    for x, y in ((arrays[0], arrays[1]), (arrays[2], arrays[3])):
        if y.ndim != 1 or len(y) != len(x) or len(y) == 0 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ConfigError("labels must be one non-negative integer per image (and at least one image per split)")
    scaled = arrays[0].reshape(-1, 3).astype(np.float64) / 255
    return TrainingData("arrays", arrays[0], arrays[1].astype(np.int64), arrays[2], arrays[3].astype(np.int64),
                        int(max(arrays[1].max(), arrays[3].max())) + 1, int(arrays[0].shape[1]),
                        tuple(float(v) for v in scaled.mean(0)), tuple(float(v) for v in scaled.std(0)))
