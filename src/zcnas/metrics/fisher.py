"""fisher (Turner et al., "BlockSwap: Fisher-guided Block Substitution for
Network Compression on a Budget", ICLR 2020; as a NAS proxy by Abdelfattah
et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021).

The Fisher-information estimate of the loss increase when an output channel
(activation) is removed (Theis et al. 2018, as used by Turner et al.): for the
activation a of a layer (its output, before any BatchNorm or ReLU), image n
and channel k,

    Δ_k = ½ · (1/N) Σ_n ( Σ_s a_{n,k,s} · ∂L/∂a_{n,k,s} )² ,

s running over the spatial positions (none for a linear layer), and the score
sums Δ_k over the channels of every ``nn.Conv2d`` and ``nn.Linear`` output:

    fisher = Σ_l Σ_k Δ_{l,k} .

L is the mean cross-entropy of the untrained network on one labelled batch in
training mode (BatchNorm on the batch statistics), as in Abdelfattah et al.'s
code.  A layer applied twice contributes once per application; an output cut
off from the loss contributes 0.  For a linear layer whose output has extra
leading dimensions (N, …, F) the channel is the last dimension and the middle
ones are summed like spatial positions.  Higher is better.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zcnas.metrics.base import ACTIVATION_GRADIENTS, LABELS, declare
from zcnas.metrics.model_passes import EngineMetric, check_labels, conv_linear_weights, hooked, scratch_train_mode, trainable


def channel_saliency(a: torch.Tensor, g: torch.Tensor, linear: bool) -> torch.Tensor:
    """Σ_k ½·mean_n(Σ_s a·g)² for one activation a and its gradient g."""
    prod = (a * g).to(torch.float64)
    if linear:  # (N, ..., F): channels last
        per = prod.reshape(prod.shape[0], -1, prod.shape[-1]).sum(dim=1)
    else:  # (N, C, *spatial)
        per = prod.reshape(prod.shape[0], prod.shape[1], -1).sum(dim=2)
    return 0.5 * per.pow(2).mean(dim=0).sum()


def activation_capture(acts: list[tuple[torch.Tensor, bool]]):
    """The forward hook on a conv/linear layer that keeps its output (and whether it is linear) in ``acts``."""

    def capture(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        acts.append((output, isinstance(module, nn.Linear)))
        # the rest of the network works on a copy, so an in-place op downstream
        # (e.g. ReLU(inplace=True)) cannot overwrite the activation kept here
        return output.clone()

    return capture


def conv_linear_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def saliency_sum(acts: list[tuple[torch.Tensor, bool]], grads, device) -> float:
    """Σ over the captured activations of their channel saliencies; one without a gradient adds 0."""
    total = torch.zeros((), dtype=torch.float64, device=device)
    for (a, linear), g in zip(acts, grads):
        if g is not None:
            total += channel_saliency(a.detach(), g.detach(), linear)
    return float(total)


def fisher_score(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Σ over conv/linear output channels of ½·mean_n(Σ_s a·∂L/∂a)², L = mean cross-entropy of (x, y)."""
    y = check_labels(x, y, "fisher")
    weights = conv_linear_weights(model, "fisher")
    acts: list[tuple[torch.Tensor, bool]] = []
    with hooked(conv_linear_layers(model), activation_capture(acts)), trainable(weights), \
            scratch_train_mode(model), torch.enable_grad():
        loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, [a for a, _ in acts], allow_unused=True)
    return saliency_sum(acts, grads, x.device)


@declare(needs=LABELS, model_score=fisher_score, fusion=ACTIVATION_GRADIENTS)
class Fisher(EngineMetric):
    prune = False  # it hooks every conv and linear layer: the full forward pass

    @classmethod
    def join_shared_pass(cls, shared, settings: dict):
        """The conv/linear outputs of the shared forward pass and their cross-entropy gradients."""
        acts: list[tuple[torch.Tensor, bool]] = []
        shared.hook(conv_linear_layers(shared.model), activation_capture(acts))
        return acts, shared.loss_gradients(lambda: [a for a, _ in acts])

    @classmethod
    def from_shared_pass(cls, shared, state) -> float:
        acts, grads = state
        return saliency_sum(acts, grads, shared.device)
