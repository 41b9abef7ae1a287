"""A resumable, rank- and worker-split ``IterableDataset`` over training records.

Order of one epoch: shards in a seeded random order, rows of each shard in a seeded random order
(the webdataset pattern; ``shuffle=False`` keeps storage order). Position ``p`` of that order goes to
rank ``p % world_size``; a rank's ``j``-th sample (``j = p // world_size``) goes to DataLoader worker
``((j - skip) // batch_size) % num_workers`` (``skip``: samples already consumed), i.e. whole
batches round-robin, which is the order in which a DataLoader hands batches back. So every record
is read exactly once per epoch, a rank sees the same
stream whatever the worker count, and a position is simply "global samples consumed".

Each sample's augmentation uses its own generator seeded by (seed, epoch, record id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from farslip_model.sources import (
    MgrsJsonSource,
    ParquetSource,
    RawRecord,
    RecordSource,
    WebDatasetSource,
    open_source,
)
from farslip_model.views import ViewConfig, ViewMaker

logger = logging.getLogger(__name__)

READ_CHUNK = 256  # rows read from a shard at a time


class TrainDataset(IterableDataset):
    """Samples of ``source`` for one rank, transformed by ``transform(record, rng)``.

    Args:
        source: the records (see :mod:`farslip_model.sources`).
        transform: ``(record, numpy Generator) -> sample``; identity-like callables work for tests.
        batch_size: the per-rank batch size (the unit of the worker split).
        rank, world_size: this process's place in the job.
        seed: shuffling and augmentation seed (the same on every rank).
        shuffle: shuffle shards and rows each epoch.
        max_samples: keep only the first N records in storage order.
    """

    def __init__(
        self,
        source: RecordSource,
        transform: Callable[[RawRecord, np.random.Generator], Any],
        *,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle: bool = True,
        max_samples: int | None = None,
    ) -> None:
        super().__init__()
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world size {world_size}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.source = source
        self.transform = transform
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.shuffle = shuffle
        sizes, left = [], len(source) if max_samples is None else min(max_samples, len(source))
        for size in source.shard_sizes:
            sizes.append(min(size, left))
            left -= sizes[-1]
        self.shard_sizes = sizes
        self.shard_offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.num_records = int(sum(sizes))
        if self.num_records == 0:
            raise ValueError("the dataset has no records (max_samples=0?)")
        self.epoch = 0
        self.position = 0  # global samples consumed in this epoch (all ranks)

    # ------------------------------------------------------------------ sizes and order
    @property
    def samples_per_rank(self) -> int:
        """Samples every rank is guaranteed to get in an epoch (the shortest rank's share)."""
        return self.num_records // self.world_size

    def __len__(self) -> int:
        return len(range(self.rank, self.num_records, self.world_size))

    def epoch_order(self, epoch: int) -> np.ndarray:
        """Global record ids (shard offset + row) in the order of ``epoch``."""
        if not self.shuffle:
            return np.arange(self.num_records, dtype=np.int64)
        rng = np.random.default_rng([self.seed, epoch])
        parts = []
        for shard in rng.permutation(len(self.shard_sizes)):
            size = self.shard_sizes[shard]
            if size:
                parts.append(self.shard_offsets[shard] + rng.permutation(size))
        return np.concatenate(parts).astype(np.int64)

    def local_indices(self, worker: int = 0, num_workers: int = 1, skip: int = 0) -> np.ndarray:
        """This rank's local sample numbers ``j >= skip`` that ``worker`` of ``num_workers`` produces."""
        j = np.arange(skip, len(self), dtype=np.int64)
        if num_workers > 1:  # whole batches round-robin, counted from the resume point
            j = j[((j - skip) // self.batch_size) % num_workers == worker]
        return j

    def assigned_records(
        self, epoch: int, worker: int = 0, num_workers: int = 1, skip: int = 0
    ) -> np.ndarray:
        """Global record ids this rank/worker yields in ``epoch``, in order."""
        order = self.epoch_order(epoch)
        return order[self.local_indices(worker, num_workers, skip) * self.world_size + self.rank]

    def locate(self, gid: int) -> tuple[int, int]:
        """(shard, row) of a global record id."""
        shard = int(np.searchsorted(self.shard_offsets, gid, side="right") - 1)
        return shard, int(gid - self.shard_offsets[shard])

    # ------------------------------------------------------------------ position
    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` from its beginning (call before each epoch's iteration)."""
        self.epoch = epoch
        self.position = 0

    def advance(self, local_samples: int) -> None:
        """Record that every rank consumed ``local_samples`` more samples (the trainer calls this)."""
        self.position += local_samples * self.world_size

    def state_dict(self) -> dict[str, int]:
        """The resumable position: epoch and global samples consumed in it."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "num_records": self.num_records,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a :meth:`state_dict` (a different world size resumes at the nearest sample)."""
        if int(state.get("num_records", self.num_records)) != self.num_records:
            raise ValueError(
                f"data position was saved for {state['num_records']} records, "
                f"this dataset has {self.num_records}"
            )
        if int(state.get("seed", self.seed)) != self.seed:
            raise ValueError(
                f"data position was saved with seed {state['seed']}, this dataset uses {self.seed}"
            )
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        skip = self.position // self.world_size
        gids = self.assigned_records(self.epoch, worker, num_workers, skip)
        i = 0
        while i < len(gids):
            shard, _ = self.locate(int(gids[i]))
            end = i
            rows = []
            while end < len(gids) and len(rows) < READ_CHUNK:
                s, row = self.locate(int(gids[end]))
                if s != shard:
                    break
                rows.append(row)
                end += 1
            for gid, record in zip(gids[i:end], self.source.read(shard, rows), strict=True):
                rng = np.random.default_rng([self.seed, self.epoch, int(gid)])
                sample = self.transform(record, rng)
                if isinstance(sample, dict):
                    sample["index"] = int(gid)
                yield sample
            i = end


def build_dataset(
    data: Any,
    *,
    image_size: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    rank: int = 0,
    world_size: int = 1,
    seed: int = 0,
) -> TrainDataset:
    """The training dataset for a ``DataConfig`` and the model's input settings."""
    source = open_source(data.format, data.path, data.split)
    views = ViewMaker(ViewConfig.from_data(data, image_size, mean, std))
    logger.info(
        "data: %d records in %d shards from %s (%s)",
        len(source), len(source.shard_sizes), data.path, data.format,
    )
    return TrainDataset(
        source,
        views,
        batch_size=data.batch_size,
        rank=rank,
        world_size=world_size,
        seed=seed,
        shuffle=data.shuffle,
        max_samples=data.max_samples,
    )


__all__ = [
    "MgrsJsonSource",
    "ParquetSource",
    "RecordSource",
    "TrainDataset",
    "WebDatasetSource",
    "build_dataset",
    "open_source",
]
