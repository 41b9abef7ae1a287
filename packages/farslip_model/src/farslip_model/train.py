"""The FarSLIP trainer: ``train(config) -> TrainResult``.

One process or DDP under torchrun (gloo on CPU, nccl on GPU); AMP (bf16/fp16) on GPU and fp32 on
CPU; gradient accumulation; the logit scale clamped to [0, ln 100] after every step; step-level
checkpoints that resume exactly (model, optimizer, schedule, scaler, EMA teacher, RNG states and the
data position, stored as safetensors + JSON); ``metrics.jsonl`` and TensorBoard scalars; a progress
line on rank 0; and an optional per-epoch zero-shot validation through ``farslip_eval``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from farslip_model.checkpoint import (
    CheckpointError,
    load_state_dict_file,
    load_state_dict_flexible,
    save_checkpoint,
)
from farslip_model.collate import collate, flat_region_texts
from farslip_model.config import TrainConfig, save_config
from farslip_model.data import TrainDataset, build_dataset
from farslip_model.distributed import (
    WorldInfo,
    destroy_distributed,
    init_distributed,
    is_initialized,
    world_info,
)
from farslip_model.model import FarSLIPModel, create_model
from farslip_model.optim import WarmupCosine, build_optimizer
from farslip_model.task import FarSLIPTask
from farslip_model.teacher import Teacher
from farslip_model.train_state import TrainStateError, load_state, rng_state, save_state, set_rng_state

logger = logging.getLogger(__name__)

LOGIT_SCALE_MAX = math.log(100.0)
CHECKPOINT_DIR = "checkpoints"
STATE_NAME = "trainer_state"
STEP_DIR = "step_{step:07d}"
LOSS_TERMS = ("global", "distill", "region")


@dataclass
class TrainResult:
    """What a run produced.

    Attributes:
        output_dir: the run folder.
        final_checkpoint: ``output_dir/final`` (a ``save_checkpoint`` folder), None on ranks > 0.
        steps: optimizer steps done in total (including steps before a resume).
        losses: the total loss of each step this process ran, averaged over ranks and micro-batches.
        terms: per step, each loss term (``loss_global``, ``loss_distill``, ``loss_region``).
        eval_results: results of the zero-shot hook, one list per evaluated epoch.
    """

    output_dir: Path
    final_checkpoint: Path | None
    steps: int
    losses: list[float] = field(default_factory=list)
    terms: list[dict[str, float]] = field(default_factory=list)
    eval_results: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def metrics_path(self) -> Path:
        return self.output_dir / "metrics.jsonl"


# ------------------------------------------------------------------------------------------ setup


def resolve_device(name: str, world: WorldInfo) -> torch.device:
    """``auto`` picks CUDA (this rank's local GPU) when available, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device=cuda was asked for but CUDA is not available")
        return torch.device("cuda", world.local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def resolve_precision(precision: str, device: torch.device) -> str:
    """fp32 on CPU; on GPU ``auto`` means bf16 AMP where supported, else fp16 AMP."""
    if device.type != "cuda":
        if precision not in ("auto", "fp32"):
            logger.info("precision %s is for GPUs; training in fp32 on the CPU", precision)
        return "fp32"
    if precision == "auto":
        return "amp_bf16" if torch.cuda.is_bf16_supported() else "amp_fp16"
    return precision


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "amp_bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _build_model(config: TrainConfig, device: torch.device) -> FarSLIPModel:
    m = config.model
    return create_model(
        m.arch, m.pretrained, long_text=m.long_text, dense_variant=m.dense_variant, device=device
    )


# ------------------------------------------------------------------------------------ checkpoints


def list_step_checkpoints(output_dir: Path) -> list[Path]:
    """Complete step checkpoints of a run, oldest first."""
    root = output_dir / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    done = [p for p in root.glob("step_*") if p.is_dir() and (p / f"{STATE_NAME}.json").is_file()]
    return sorted(done, key=lambda p: p.name)


def resolve_resume(resume: str | None, output_dir: Path) -> Path | None:
    """The step checkpoint to resume from: None, ``latest`` (None if there is none yet) or a folder."""
    if resume is None:
        return None
    if resume == "latest":
        found = list_step_checkpoints(output_dir)
        if not found:
            logger.info(
                "resume=latest: no checkpoint in %s yet, starting from scratch", output_dir / CHECKPOINT_DIR
            )
            return None
        return found[-1]
    path = Path(resume)
    if not (path / f"{STATE_NAME}.json").is_file():
        raise TrainStateError(
            f"{path}: not a step checkpoint (no {STATE_NAME}.json); expected {CHECKPOINT_DIR}/step_XXXXXXX"
        )
    return path


def _barrier() -> None:
    if is_initialized():
        dist.barrier()


def _save_step(
    path: Path,
    world: WorldInfo,
    model: FarSLIPModel,
    state: dict[str, Any],
    keep_last: int | None,
) -> None:
    """Write a step checkpoint atomically: every rank its RNG state, rank 0 the rest, then rename."""
    tmp = path.with_name(path.name + ".partial")
    if world.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    save_state({"rng": rng_state()}, tmp, f"rng_rank{world.rank}")
    if world.is_main:
        save_checkpoint(model, tmp, extra={"step": state["step"], "epoch": state["data"]["epoch"]})
        save_state(state, tmp, STATE_NAME)
    _barrier()
    if world.is_main:
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)
        if keep_last is not None:
            for old in list_step_checkpoints(path.parent.parent)[:-keep_last]:
                shutil.rmtree(old, ignore_errors=True)
        logger.info("saved %s", path)
    _barrier()


# ---------------------------------------------------------------------------------------- logging


class _RunLog:
    """metrics.jsonl, TensorBoard and the progress line; all no-ops on ranks > 0."""

    def __init__(
        self, config: TrainConfig, output_dir: Path, world: WorldInfo, start_step: int, total: int
    ) -> None:
        self.enabled = world.is_main
        self.every = config.log.every_steps
        self.total = total
        self.metrics_path = output_dir / "metrics.jsonl"
        self.writer = None
        self.bar = None
        if not self.enabled:
            return
        if self.metrics_path.exists():  # drop steps a resume will redo
            lines = self.metrics_path.read_text().splitlines()
            kept = [ln for ln in lines if ln and json.loads(ln)["step"] <= start_step]
            self.metrics_path.write_text("".join(ln + "\n" for ln in kept))
        if config.log.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(output_dir / "tensorboard"), purge_step=start_step + 1)
        if sys.stderr.isatty():
            self.bar = tqdm(total=total, initial=start_step, desc=config.name, dynamic_ncols=True)

    def step(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.metrics_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        step = record["step"]
        if self.writer is not None:
            for key, value in record.items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"train/{key}", value, step)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{record['loss']:.4f}")
        if step % self.every == 0 or step == self.total:
            terms = " ".join(f"{k[5:]} {record[k]:.4f}" for k in record if k.startswith("loss_"))
            logger.info(
                "step %d/%d epoch %d loss %.4f [%s] lr %.3g scale %.2f %.1f samples/s",
                step, self.total, record["epoch"], record["loss"], terms, record["lr"],
                record["logit_scale"], record["samples_per_s"],
            )

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------------------------- eval hook


def run_zero_shot_hook(
    model: FarSLIPModel, config: TrainConfig, epoch: int, output_dir: Path, device: torch.device
) -> list[dict[str, Any]] | None:
    """Run ``farslip_eval.run_suite`` on this epoch's weights (rank 0); None, with a log line, when
    no data root is configured or ``farslip_eval`` is not installed."""
    ev = config.eval
    if ev.data_root is None:
        logger.info("zero-shot hook: skipped after epoch %d (eval.data_root is not set)", epoch)
        return None
    try:
        import farslip_eval

        run_suite, load_encoder = farslip_eval.run_suite, farslip_eval.load_encoder
    except (ImportError, AttributeError) as err:
        logger.info("zero-shot hook: skipped after epoch %d (farslip_eval is not available: %s)", epoch, err)
        return None
    ckpt = save_checkpoint(model, output_dir / CHECKPOINT_DIR / f"epoch_{epoch:03d}", extra={"epoch": epoch})
    encoder = load_encoder(f"farslip:{ckpt}", None, device=str(device))
    results = run_suite(
        encoder,
        ev.suite,
        ev.data_root,
        datasets=list(ev.datasets) if ev.datasets else None,
        out_dir=output_dir / "eval" / f"epoch_{epoch:03d}",
        batch_size=ev.batch_size,
        device=str(device),
    )
    with (output_dir / "eval.jsonl").open("a", encoding="utf-8") as f:
        for r in results:
            line = {"epoch": epoch, "dataset": r.get("dataset"), "metrics": r.get("metrics")}
            f.write(json.dumps(line) + "\n")
    logger.info("zero-shot hook: epoch %d, %s on %d datasets", epoch, ev.suite, len(results))
    return results


# ----------------------------------------------------------------------------------------- steps


def _inputs(
    batch: dict[str, Any], model: FarSLIPModel, config: TrainConfig, device: torch.device
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "images": batch["images"].to(device, non_blocking=True),
        "tokens": model.tokenize(batch["texts"]).to(device),
    }
    loss = config.loss
    if loss.w_distill > 0 or loss.w_region > 0:
        out["crops"] = batch["crops"].to(device, non_blocking=True)
        out["boxes"] = batch["boxes"].to(device)
        out["valid"] = batch["valid"].to(device)
    if loss.w_region > 0:
        out["labels"] = batch["labels"].to(device)
        flags = batch["valid"].flatten().tolist()
        texts = [t for t, v in zip(flat_region_texts(batch), flags, strict=True) if v]
        tokens = model.tokenize(texts) if texts else torch.zeros(0, model.context_length, dtype=torch.long)
        out["region_tokens"] = tokens.to(device)
    return out


def _mean_across_ranks(values: dict[str, torch.Tensor], device: torch.device) -> dict[str, float]:
    names = sorted(values)
    stacked = torch.stack([values[n].float().reshape(()).to(device) for n in names])
    if is_initialized():
        dist.all_reduce(stacked)
        stacked /= dist.get_world_size()
    return {n: float(v) for n, v in zip(names, stacked.tolist(), strict=True)}


def _batches(loader: DataLoader) -> Iterator[dict[str, Any]]:
    yield from loader


# ----------------------------------------------------------------------------------------- train


def train(config: TrainConfig) -> TrainResult:
    """Train per ``config`` (see :mod:`farslip_model.config` and the presets).

    Returns:
        The run's :class:`TrainResult`.

    Raises:
        ConfigError / SourceNotFoundError / SchemaMismatchError / TrainStateError: bad config, data or
        checkpoint, each naming the thing at fault.
    """
    config.validate()
    env = world_info()
    device = resolve_device(config.device, env)
    backend = None if config.dist.backend == "auto" else config.dist.backend
    if backend is None and env.world_size > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
    started_group = env.world_size > 1 and not is_initialized()
    world = init_distributed(backend)
    try:
        return _train(config, world, device)
    finally:
        if started_group:
            destroy_distributed()


def _train(config: TrainConfig, world: WorldInfo, device: torch.device) -> TrainResult:
    precision = resolve_precision(config.precision, device)
    output_dir = Path(config.output_dir)
    if world.is_main:
        output_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, output_dir / "config.yaml")
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    model = _build_model(config, device)
    seed_everything(config.seed + world.rank)

    data = config.data
    dataset: TrainDataset = build_dataset(
        data, image_size=model.image_size, mean=model.mean, std=model.std,
        rank=world.rank, world_size=world.world_size, seed=config.seed,
    )
    per_step = data.batch_size * config.optim.accum_steps
    steps_per_epoch = dataset.samples_per_rank // per_step
    if steps_per_epoch == 0:
        raise ValueError(
            f"{data.path}: {dataset.num_records} records are fewer than one step "
            f"({world.world_size} ranks x batch {data.batch_size} x accum {config.optim.accum_steps})"
        )
    total = config.schedule.max_steps or config.schedule.epochs * steps_per_epoch
    epochs = math.ceil(total / steps_per_epoch)

    teacher = Teacher(model, config.loss.teacher, config.loss.ema_momentum)
    task = FarSLIPTask(model, config.loss, teacher)
    runner: torch.nn.Module = task
    if world.distributed:
        runner = DistributedDataParallel(
            task,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=config.dist.find_unused_parameters,
        )
    o = config.optim
    optimizer = build_optimizer(model, o.lr, o.weight_decay, o.betas, o.eps)
    scheduler = WarmupCosine(optimizer, config.schedule.warmup_steps, total, config.schedule.kind)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "amp_fp16")

    step = 0
    resume_dir = resolve_resume(config.checkpoint.resume, output_dir)
    if resume_dir is not None:
        step = _load_resume(resume_dir, world, model, optimizer, scheduler, scaler, teacher, dataset)
        logger.info("resumed from %s at step %d (epoch %d)", resume_dir, step, dataset.epoch)
    else:
        dataset.set_epoch(0)

    log = _RunLog(config, output_dir, world, step, total)
    result = TrainResult(output_dir=output_dir, final_checkpoint=None, steps=step)
    logger.info(
        "training %s: %d steps (%d per epoch, %d epochs), %d ranks x batch %d x accum %d, %s on %s",
        config.name, total, steps_per_epoch, epochs, world.world_size, data.batch_size, o.accum_steps,
        precision, device,
    )
    start_epoch = dataset.epoch
    task.train()
    for epoch in range(start_epoch, epochs):
        if epoch != dataset.epoch:
            dataset.set_epoch(epoch)
        step_in_epoch = dataset.position // (world.world_size * per_step)
        ran = 0
        loader = DataLoader(
            dataset, batch_size=data.batch_size, num_workers=data.workers, collate_fn=collate,
            drop_last=True, pin_memory=device.type == "cuda",
        )
        batches = _batches(loader)
        while step_in_epoch < steps_per_epoch and step < total:
            t0 = time.perf_counter()
            sums: dict[str, torch.Tensor] = {}
            for micro in range(o.accum_steps):
                batch = next(batches, None)
                if batch is None:  # pragma: no cover - steps_per_epoch is computed from the same counts
                    raise RuntimeError(f"epoch {epoch}: the data ran out after {step_in_epoch} steps")
                inputs = _inputs(batch, model, config, device)
                sync = contextlib.nullcontext()
                if world.distributed and micro < o.accum_steps - 1:
                    sync = runner.no_sync()  # type: ignore[operator]
                with sync:
                    with _autocast(device, precision):
                        terms = runner(**inputs)
                    scaler.scale(terms["total"] / o.accum_steps).backward()
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0.0) + value.detach().float() / o.accum_steps
            dataset.advance(per_step)
            if o.grad_clip is not None:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip)
            teacher.update(model)  # the reference updates the EMA teacher before the optimizer step
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            lr = optimizer.param_groups[-1]["lr"]
            scheduler.step()
            with torch.no_grad():
                model.clip.logit_scale.clamp_(0.0, LOGIT_SCALE_MAX)
            step += 1
            step_in_epoch += 1
            ran += 1
            means = _mean_across_ranks(sums, device)
            record: dict[str, Any] = {"step": step, "epoch": epoch, "loss": means["total"]}
            record.update({f"loss_{n}": means[n] for n in LOSS_TERMS if n in means})
            elapsed = time.perf_counter() - t0
            record.update(
                lr=lr,
                logit_scale=float(model.clip.logit_scale.detach().exp()),
                samples_per_s=per_step * world.world_size / max(elapsed, 1e-9),
            )
            result.losses.append(record["loss"])
            result.terms.append({k: v for k, v in record.items() if k.startswith("loss_")})
            log.step(record)
            every = config.checkpoint.every_steps
            if every and step % every == 0 and step < total:
                state = _state(step, optimizer, scheduler, scaler, teacher, dataset, config)
                path = output_dir / CHECKPOINT_DIR / STEP_DIR.format(step=step)
                _save_step(path, world, model, state, config.checkpoint.keep_last)
        del batches, loader
        if ran and step_in_epoch == steps_per_epoch and (epoch + 1) % config.eval.every_epochs == 0:
            if world.is_main:
                found = run_zero_shot_hook(model, config, epoch, output_dir, device)
                if found is not None:
                    result.eval_results.append(found)
                    for r in found:
                        metrics = r.get("metrics") or {}
                        numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
                        log.scalars(f"eval/{r.get('dataset')}", numeric, step)
            _barrier()
        if step >= total:
            break

    state = _state(step, optimizer, scheduler, scaler, teacher, dataset, config)
    path = output_dir / CHECKPOINT_DIR / STEP_DIR.format(step=step)
    _save_step(path, world, model, state, config.checkpoint.keep_last)
    if world.is_main:
        extra = {"step": step, "name": config.name}
        result.final_checkpoint = save_checkpoint(model, output_dir / "final", extra=extra)
    log.close()
    _barrier()
    result.steps = step
    return result


def _state(
    step: int,
    optimizer: torch.optim.Optimizer,
    scheduler: WarmupCosine,
    scaler: torch.amp.GradScaler,
    teacher: Teacher,
    dataset: TrainDataset,
    config: TrainConfig,
) -> dict[str, Any]:
    return {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "teacher": teacher.state_dict(),
        "data": dataset.state_dict(),
        "world_size": dataset.world_size,
        "config_name": config.name,
    }


def _load_resume(
    path: Path,
    world: WorldInfo,
    model: FarSLIPModel,
    optimizer: torch.optim.Optimizer,
    scheduler: WarmupCosine,
    scaler: torch.amp.GradScaler,
    teacher: Teacher,
    dataset: TrainDataset,
) -> int:
    report = load_state_dict_flexible(model, load_state_dict_file(path / "model.safetensors"))
    if report.missing or report.unexpected:
        raise CheckpointError(f"{path}: weights do not match the configured model ({report.summary()})")
    state = load_state(path, STATE_NAME)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if state["scaler"]:
        scaler.load_state_dict(state["scaler"])
    teacher.load_state_dict(state["teacher"])
    dataset.load_state_dict(state["data"])
    rng_file = path / f"rng_rank{world.rank}.json"
    if rng_file.is_file() and int(state.get("world_size", world.world_size)) == world.world_size:
        set_rng_state(load_state(path, f"rng_rank{world.rank}")["rng"])
    else:
        logger.warning(
            "%s: no RNG state for rank %d of %d; keeping fresh seeds", path, world.rank, world.world_size
        )
    return int(state["step"])


__all__ = ["TrainResult", "list_step_checkpoints", "resolve_resume", "run_zero_shot_hook", "train"]
