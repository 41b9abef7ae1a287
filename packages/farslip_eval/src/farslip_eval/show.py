"""PNG of an image, its ground truth and the predicted OVSS map, with a class legend."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from farslip_eval.encoders import ImageTextEncoder
from farslip_eval.ovss.data import read_image, read_label
from farslip_eval.ovss.inference import OvssPredictor
from farslip_eval.ovss.specs import BgThreshold, OvssSpec

log = logging.getLogger(__name__)

__all__ = ["class_colours", "colourise", "main", "render_segmentation", "show_prediction"]

IGNORE_COLOUR = (0, 0, 0)


def class_colours(num_classes: int) -> np.ndarray:
    """(C, 3) uint8 distinct colours (matplotlib tab20, then a hue ramp)."""
    from matplotlib import colormaps

    tab = colormaps["tab20"].colors
    hsv = colormaps["hsv"]
    cols = [tab[i] if i < len(tab) else hsv((i - len(tab)) / max(1, num_classes - len(tab)))[:3]
            for i in range(num_classes)]
    return (np.asarray(cols)[:, :3] * 255).round().astype(np.uint8)


def colourise(label: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) RGB; ids outside the palette (the ignore index) are black."""
    out = np.zeros((*label.shape, 3), np.uint8)
    out[:] = IGNORE_COLOUR
    valid = (label >= 0) & (label < len(colours))
    out[valid] = colours[label[valid]]
    return out


def render_segmentation(
    image: np.ndarray,
    prediction: np.ndarray,
    class_names: Sequence[str],
    out_path: str | Path,
    ground_truth: np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """Write ``image | ground truth | prediction`` (ground truth omitted when None) with a legend."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colours = class_colours(len(class_names))
    panels = [("image", image)]
    if ground_truth is not None:
        panels.append(("ground truth", colourise(ground_truth, colours)))
    panels.append(("prediction", colourise(prediction, colours)))
    shown = set(np.unique(prediction).tolist())
    if ground_truth is not None:
        shown |= set(np.unique(ground_truth).tolist())
    handles = [Patch(color=colours[i] / 255.0, label=name) for i, name in enumerate(class_names) if i in shown]
    if ground_truth is not None and bool((ground_truth >= len(class_names)).any()):
        handles.append(Patch(color=np.array(IGNORE_COLOUR) / 255.0, label="ignored"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.6), squeeze=False)
    for ax, (name, arr) in zip(axes[0], panels):
        ax.imshow(arr, interpolation="nearest")
        ax.set_title(name)
        ax.axis("off")
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6) or 1, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    log.info("wrote %s", out)
    return out


def show_prediction(
    encoder: ImageTextEncoder,
    spec: OvssSpec,
    image_path: str | Path,
    out_path: str | Path,
    label_path: str | Path | None = None,
    *,
    bg_threshold: BgThreshold = "spec",
    batch_size: int = 32,
    device: str = "cpu",
) -> Path:
    """Predict the OVSS map of one image with ``spec``'s protocol and write the PNG."""
    image = read_image(image_path)
    class_names = spec.class_names()
    gt = read_label(label_path, spec, len(class_names)) if label_path is not None else None
    predictor = OvssPredictor(encoder, spec, bg_threshold=bg_threshold, batch_size=batch_size, device=device)
    size = gt.shape if gt is not None else image.shape[:2]
    pred = predictor.predict(image, out_size=(int(size[0]), int(size[1]))).cpu().numpy()
    title = f"{encoder.name} on {spec.name} ({Path(image_path).name}, bg-threshold {bg_threshold})"
    return render_segmentation(image, pred, [c[0] for c in class_names], out_path, gt, title)


def _resolve_spec(name: str, data_root: Path | None) -> OvssSpec:
    import json

    from farslip_eval.ovss.specs import BUILTIN_SPECS

    if name.lower() in BUILTIN_SPECS:
        return BUILTIN_SPECS[name.lower()]
    if data_root is not None:
        for desc in sorted(Path(data_root).glob("*/farslip_dataset.json")):
            doc = json.loads(desc.read_text(encoding="utf-8"))
            if doc.get("suite") == "ovss" and doc.get("name") == name:
                return OvssSpec.from_descriptor(doc, base_dir=desc.parent)
    raise KeyError(f"unknown OVSS dataset {name!r}: not built in ({', '.join(BUILTIN_SPECS)}) and no "
                   f"farslip_dataset.json with that name under {data_root}")


def main(argv: Sequence[str] | None = None) -> int:
    """``farslip-eval show``: one image (``--image``, or the ``--index``-th of a dataset) to a PNG."""
    import argparse

    from farslip_eval.encoders import load_encoder
    from farslip_eval.ovss.data import OvssDataset

    p = argparse.ArgumentParser(prog="farslip-eval show", description=main.__doc__)
    p.add_argument("--model", required=True, help="open_clip architecture or farslip:PATH")
    p.add_argument("--pretrained", help="open_clip tag, checkpoint file, or 'none'")
    p.add_argument("--dataset", required=True, help="OVSS dataset name (built-in or custom descriptor name)")
    p.add_argument("--data-root", type=Path, help="data root holding the dataset")
    p.add_argument("--image", type=Path, help="image file (default: the --index-th image of the dataset)")
    p.add_argument("--label", type=Path, help="ground-truth label map for --image (optional)")
    p.add_argument("--index", type=int, default=0, help="which dataset image when --image is not given")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--bg-threshold", choices=("spec", "off"), default="spec")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args(list(argv) if argv is not None else None)
    try:
        spec = _resolve_spec(args.dataset, args.data_root)
        image, label = args.image, args.label
        if image is None:
            ds = OvssDataset(spec, args.data_root)
            if not 0 <= args.index < len(ds):
                raise IndexError(f"--index {args.index} is outside the {len(ds)} images of {spec.name}")
            image, label = ds.pairs[args.index]
        encoder = load_encoder(args.model, args.pretrained, device=args.device)
        out = show_prediction(encoder, spec, image, args.out, label, bg_threshold=args.bg_threshold,
                              batch_size=args.batch_size, device=args.device)
    except (KeyError, IndexError, OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0
