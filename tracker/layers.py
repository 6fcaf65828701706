"""Neural-network layers shared by the tracking models (HART and SQAIR)."""

from __future__ import annotations

from torch import nn


class MLP(nn.Sequential):
    """Linear layers with ELU between them (none after the last).

    The layers sit at indices ``0, 2, 4, ...`` of the ``nn.Sequential`` (the ELUs between them),
    which is how the shipped weights name them (``0.weight``, ``2.bias``, ...).

    Args:
        sizes: ``in, hidden..., out`` features.
        final_init: when positive, the last layer's weights start uniform in
            ``+-final_init`` and its bias at zero (0 keeps PyTorch's default initialisation).
    """

    def __init__(self, *sizes: int, final_init: float = 0.0) -> None:
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(nn.ELU())
        super().__init__(*layers)
        if final_init > 0:
            nn.init.uniform_(layers[-1].weight, -final_init, final_init)
            nn.init.zeros_(layers[-1].bias)
