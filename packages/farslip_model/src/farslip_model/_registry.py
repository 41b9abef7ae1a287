"""Register the package's open_clip architecture configs (``model_configs/*.json``) with open_clip."""

from __future__ import annotations

from pathlib import Path

MODEL_CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"
ARCH_NAMES: tuple[str, ...] = tuple(sorted(p.stem for p in MODEL_CONFIG_DIR.glob("*.json")))


def register_model_configs() -> None:
    """Add ``model_configs/`` to open_clip's registry once (idempotent, cheap after the first call)."""
    import open_clip

    known = set(open_clip.list_models())
    if all(name in known for name in ARCH_NAMES):
        return
    open_clip.add_model_config(MODEL_CONFIG_DIR)
