"""Run the evaluation suites on every dataset found under a data root and write the result files.

``run_suite`` is the Python API of docs/interfaces.md section 3.2; ``run_datasets`` is the same with a
report of the missing and failed datasets (what the CLI prints).

Options (``**options`` of :func:`run_suite`):

``protocol``       ``"farslip"`` (default; the published protocols) or ``"clip_benchmark"``: retrieval
                   without caption prefix or text deduplication; zero-shot with the 80 ImageNet
                   templates (CLIP_benchmark's fallback set).
``templates``      zero-shot template set name (``skyscript``, ``imagenet80``) or list; a custom
                   dataset's descriptor ``templates`` wins over the protocol's.
``caption_prefix`` retrieval caption prefix override.
``bg_threshold``   OVSS ``"spec"`` (per-dataset threshold and background index, the default) or ``"off"``.
``global_bias``    OVSS CLS "global bias" weight (SegEarth-OV's ``cls_token_lambda``); off (None) by default.
``on_bad``         OVSS bad image/label files: ``"error"`` (default) or ``"skip"`` (counted in the result).
``on_error``       ``"raise"`` (default) or ``"skip"``: a dataset that fails is logged and reported.
``progress``       show tqdm bars (default False). ``workers``: DataLoader workers (default 0).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from farslip_eval.registry import SUITES, DatasetEntry, ResolvedDataset, discover
from farslip_eval.results import make_result, utc_now, write_result

log = logging.getLogger(__name__)

PROTOCOLS: tuple[str, ...] = ("farslip", "clip_benchmark")
_KNOWN_OPTIONS = {"protocol", "templates", "caption_prefix", "bg_threshold", "on_error", "on_bad", "progress",
                  "workers", "global_bias"}


@dataclass
class SuiteReport:
    """What a run produced: result dicts (and their files), missing and failed datasets."""

    results: list[dict[str, Any]] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    missing: list[DatasetEntry] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (dataset, error message)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (dataset, reason): cannot apply


def model_provenance(encoder: Any) -> dict[str, Any]:
    """The encoder's provenance plus its name (the result folder) and input size."""
    prov = dict(getattr(encoder, "provenance", {}) or {})
    prov.setdefault("name", encoder.name)
    prov["slug"] = encoder.name
    prov.setdefault("image_size", getattr(encoder, "image_size", None))
    return prov


def _run_zeroshot(encoder: Any, ds: ResolvedDataset, opts: Mapping[str, Any], batch_size: int, device: str):
    from farslip_eval.zeroshot import evaluate_classification, load_classification, resolve_templates

    t0 = time.perf_counter()
    entry = ds.entry
    data = load_classification(ds.root, ds.layout.layout, name=entry.name, **dict(ds.layout.options))
    load_s = time.perf_counter() - t0
    if data.details.get("skipped_non_images"):
        log.warning("%s: skipped %s non-image files in the class folders", entry.name,
                    data.details["skipped_non_images"])
    default = "imagenet80" if opts.get("protocol") == "clip_benchmark" else "skyscript"
    templates = resolve_templates(entry.protocol.get("templates") or opts.get("templates") or default)
    metrics, timings = evaluate_classification(encoder, data, templates, batch_size=batch_size, device=device,
                                               workers=int(opts.get("workers", 0)),
                                               progress=bool(opts.get("progress", False)))
    protocol = {"name": opts.get("protocol", "farslip"), "layout": data.layout, "source": str(data.source),
                **{k: v for k, v in data.details.items() if k in ("csv", "split", "split_file")},
                "num_classes": len(data.classnames), "templates": list(templates),
                "class_embedding": "normalise each prompt, mean, renormalise", "logit_scale": 100.0,
                "preprocess": "encoder eval transform (resize shortest side, centre crop, normalise)"}
    return metrics, protocol, {"load_s": load_s, **timings}


def _run_retrieval(encoder: Any, ds: ResolvedDataset, opts: Mapping[str, Any], batch_size: int, device: str):
    from farslip_eval.retrieval import evaluate_retrieval, load_retrieval

    t0 = time.perf_counter()
    data = load_retrieval(ds.root, ds.layout.layout, name=ds.entry.name, **dict(ds.layout.options))
    load_s = time.perf_counter() - t0
    metrics, timings, facts = evaluate_retrieval(
        encoder, data, protocol=str(opts.get("protocol", "farslip")), prefix=opts.get("caption_prefix"),
        batch_size=batch_size, device=device, workers=int(opts.get("workers", 0)),
        progress=bool(opts.get("progress", False)))
    protocol = {"name": facts.pop("retrieval_protocol"), "layout": data.layout, "source": str(data.source),
                **{k: v for k, v in data.details.items() if k in ("csv", "json", "split", "caption_column")},
                **facts, "ks": [1, 5, 10], "ties": "stable sort: equal scores rank by candidate index",
                "table_value": "i2t_mean / t2i_mean (mean of R@1, R@5, R@10 per direction)"}
    return metrics, protocol, {"load_s": load_s, **timings}


class DatasetSkipped(Exception):
    """A dataset the model cannot be evaluated on (e.g. OVSS without a dense readout)."""


def _run_ovss(encoder: Any, ds: ResolvedDataset, opts: Mapping[str, Any], batch_size: int, device: str):
    from farslip_eval.ovss import evaluate

    bg = str(opts.get("bg_threshold", "spec"))
    spec = ds.entry.spec
    out = evaluate(encoder, spec, None if spec.base_dir is not None else ds.data_root, batch_size=batch_size,
                   device=device, bg_threshold=bg, on_bad=str(opts.get("on_bad", "error")),
                   cls_token_lambda=opts.get("global_bias"), progress=bool(opts.get("progress", False)))
    if out.get("status") == "skipped":
        raise DatasetSkipped(str(out.get("skipped", {}).get("reason", "skipped by the OVSS evaluator")))
    protocol = dict(out.get("protocol", {}))
    if out.get("skipped"):
        protocol["skipped_records"] = out["skipped"]
    return dict(out["metrics"]), protocol, dict(out.get("timings", {}))


_RUNNERS = {"zeroshot": _run_zeroshot, "retrieval": _run_retrieval, "ovss": _run_ovss}


def run_datasets(encoder: Any, suite: str, data_root: Path | str, datasets: Iterable[str] | None = None,
                 out_dir: Path | str | None = None, batch_size: int = 32, device: str = "cpu",
                 **options: Any) -> SuiteReport:
    """Evaluate ``encoder`` on every found dataset of ``suite`` (``ovss``, ``zeroshot``, ``retrieval``,
    ``all``); write ``OUT/{model}/{suite}/{dataset}.json`` when ``out_dir`` is given."""
    unknown = set(options) - _KNOWN_OPTIONS
    if unknown:
        raise TypeError(f"unknown run options {sorted(unknown)}; known: {sorted(_KNOWN_OPTIONS)}")
    if options.get("protocol", "farslip") not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {options['protocol']!r}")
    if options.get("on_error", "raise") not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {options['on_error']!r}")
    found = discover(data_root, suite, datasets)
    report = SuiteReport(missing=list(found.missing))
    explicit = datasets is not None
    for entry in found.missing:
        level = logging.WARNING if explicit else logging.INFO
        log.log(level, "%s/%s: not found under %s (expected %s)", entry.suite, entry.name, data_root,
                entry.layout_summary())
    model = model_provenance(encoder)
    bar = tqdm(found.found, desc=f"suite {suite}", unit="dataset", disable=not options.get("progress", False))
    for ds in bar:
        bar.set_postfix_str(ds.entry.name)
        started = utc_now()
        try:
            metrics, protocol, timings = _RUNNERS[ds.entry.suite](encoder, ds, options, batch_size, device)
        except DatasetSkipped as exc:
            log.warning("%s/%s skipped: %s", ds.entry.suite, ds.entry.name, exc)
            report.skipped.append((ds.entry.name, str(exc)))
            continue
        except Exception as exc:
            if options.get("on_error", "raise") == "raise":
                raise
            log.error("%s/%s failed: %s", ds.entry.suite, ds.entry.name, exc)
            report.failed.append((ds.entry.name, f"{type(exc).__name__}: {exc}"))
            continue
        protocol = {"dataset_root": str(ds.root), "custom": ds.entry.custom, "paper_key": ds.entry.paper_key,
                    "batch_size": batch_size, "device": device, **protocol}
        result = make_result(ds.entry.suite, ds.entry.name, model, metrics, protocol,
                             {"started_utc": started, **timings})
        report.results.append(result)
        if out_dir is not None:
            report.paths.append(write_result(result, out_dir))
    return report


def run_suite(encoder: Any, suite: str, data_root: Path | str, datasets: Iterable[str] | None = None,
              out_dir: Path | str | None = None, batch_size: int = 32, device: str = "cpu",
              **options: Any) -> list[dict[str, Any]]:
    """Run a suite and return the result dicts (docs/interfaces.md 3.2); see :func:`run_datasets`."""
    return run_datasets(encoder, suite, data_root, datasets, out_dir, batch_size, device, **options).results


__all__ = [
    "PROTOCOLS", "SUITES", "DatasetSkipped", "SuiteReport", "model_provenance", "run_datasets", "run_suite",
]
