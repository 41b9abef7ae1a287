"""Process-group helpers: world info from the environment, init/destroy, gathers (identity on one process)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorldInfo:
    """Rank layout of this process (``torchrun`` sets RANK, WORLD_SIZE, LOCAL_RANK)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer") from exc


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_info() -> WorldInfo:
    """The live process group if there is one, else what the environment says."""
    if is_initialized():
        return WorldInfo(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0))
    return WorldInfo(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))


def init_distributed(backend: str | None = None) -> WorldInfo:
    """Join the process group when WORLD_SIZE > 1 (env:// rendezvous); a no-op otherwise."""
    info = world_info()
    if info.world_size > 1 and not is_initialized():
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if backend == "nccl":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend, init_method="env://")
        logger.info("joined process group: rank %d of %d (%s)", info.rank, info.world_size, backend)
        info = world_info()
    return info


def destroy_distributed() -> None:
    if is_initialized():
        dist.destroy_process_group()


def is_main() -> bool:
    return world_info().rank == 0


def get_world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def get_rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def _gather_sizes(t: Tensor) -> list[int]:
    size = torch.tensor([t.shape[0]], device=t.device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(get_world_size())]
    dist.all_gather(sizes, size)
    return [int(s.item()) for s in sizes]


def _pad_rows(t: Tensor, rows: int) -> Tensor:
    if t.shape[0] == rows:
        return t
    pad = t.new_zeros((rows - t.shape[0], *t.shape[1:]))
    return torch.cat([t, pad], dim=0)


def all_gather_no_grad(t: Tensor) -> Tensor:
    """Concatenate ``t`` from all ranks along dim 0; only this rank's slice keeps its gradient
    (open_clip ``ClipLoss`` with gather_with_grad=False). Ranks may hold different row counts."""
    if get_world_size() == 1:
        return t
    sizes = _gather_sizes(t)
    padded = _pad_rows(t.detach().contiguous(), max(sizes))
    chunks = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(chunks, padded)
    parts = [c[:n] for c, n in zip(chunks, sizes, strict=True)]
    parts[get_rank()] = t
    return torch.cat(parts, dim=0)


def all_gather_with_grad(t: Tensor) -> Tensor:
    """Concatenate ``t`` from all ranks along dim 0 with gradients flowing back to every rank."""
    if get_world_size() == 1:
        return t
    from torch.distributed.nn.functional import all_gather

    sizes = _gather_sizes(t)
    chunks = all_gather(_pad_rows(t.contiguous(), max(sizes)))
    return torch.cat([c[:n] for c, n in zip(chunks, sizes, strict=True)], dim=0)


__all__ = [
    "WorldInfo",
    "all_gather_no_grad",
    "all_gather_with_grad",
    "destroy_distributed",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_initialized",
    "is_main",
    "world_info",
]
