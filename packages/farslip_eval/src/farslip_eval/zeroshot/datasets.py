"""Zero-shot classification datasets: the SkyScript benchmark CSV form and folder-per-class trees.

Layouts (the folder is the dataset's directory under the data root):

``skyscript_csv``
    ``classnames.txt`` (one class per line, line index = label id) and a CSV with columns
    ``filepath,label`` (an optional leading unnamed index column is ignored). ``label`` is the class
    index or the class name; ``filepath`` is relative to the dataset folder (else to ``image_root``).
    The CSV is ``csv`` if given, otherwise the one ``*.csv`` whose name contains ``split``.
``folder``
    ``image_dir/<class>/<image>``; class ids follow the sorted folder names; the prompt name is the
    folder name with ``_``/``-`` as spaces and CamelCase split, lower-cased ("AnnualCrop" ->
    "annual crop"). ``split_file`` (a list of file names, one a line, as torchgeo ships) restricts the
    samples; ``classnames`` overrides the prompt names.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from farslip_eval.dataset_errors import DatasetError, DatasetNotFoundError

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


@dataclass(frozen=True)
class ClassificationData:
    """Samples ``(image path, class id)`` with the class names used in the prompts."""

    name: str
    classnames: list[str]
    samples: list[tuple[Path, int]]
    layout: str
    source: Path
    details: dict[str, object] = field(default_factory=dict)


def read_classnames(path: Path) -> list[str]:
    """``classnames.txt``: one class per line; blank lines (other than a final newline) are errors."""
    if not path.is_file():
        raise DatasetNotFoundError(path, "class-name file not found (expected one class name per line)")
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    names: list[str] = []
    for lineno, raw in enumerate(lines, start=1):
        name = raw.strip()
        if not name:
            raise DatasetError(path, "empty line (every line is a class id; blank lines would shift them)",
                               record=f"line {lineno}")
        names.append(name)
    if not names:
        raise DatasetError(path, "no class names")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DatasetError(path, f"duplicate class names {dup}")
    return names


def pick_csv(folder: Path, split: str | None, csv_name: str | None) -> Path:
    """The CSV named ``csv_name``, else the single ``*.csv`` whose name contains ``split``."""
    if csv_name:
        path = folder / csv_name
        if not path.is_file():
            raise DatasetNotFoundError(path, "CSV file not found")
        return path
    candidates = sorted(folder.glob("*.csv"))
    if split:
        matching = [p for p in candidates if split.lower() in p.name.lower()]
        candidates = matching or (candidates if len(candidates) == 1 else [])
    if len(candidates) != 1:
        raise DatasetNotFoundError(
            folder, f"expected exactly one CSV for split {split!r}, found {[p.name for p in candidates]}"
        )
    return candidates[0]


def read_skyscript_csv(folder: Path, *, name: str = "", split: str | None = "test",
                       csv_name: str | None = None,
                       classnames_file: str = "classnames.txt", image_root: Path | None = None,
                       check_files: bool = True) -> ClassificationData:
    """Read a SkyScript-bundle classification set (see the module docstring)."""
    folder = Path(folder)
    classnames = read_classnames(folder / classnames_file)
    index = {c: i for i, c in enumerate(classnames)}
    path = pick_csv(folder, split, csv_name)
    samples: list[tuple[Path, int]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        if "filepath" not in fields or "label" not in fields:
            raise DatasetError(path, f"expected columns 'filepath,label', found {fields}", record="header")
        for row_no, row in enumerate(reader, start=2):
            rel, raw = (row.get("filepath") or "").strip(), (row.get("label") or "").strip()
            if not rel or not raw:
                raise DatasetError(path, "empty filepath or label", record=f"line {row_no}")
            if raw in index:
                label = index[raw]
            else:
                try:
                    label = int(raw)
                except ValueError:
                    raise DatasetError(path, f"label {raw!r} is neither a class id nor a name in "
                                             f"{classnames_file}", record=f"line {row_no}") from None
                if not 0 <= label < len(classnames):
                    raise DatasetError(path, f"label {label} outside the {len(classnames)} classes of "
                                             f"{classnames_file}", record=f"line {row_no}")
            samples.append((_resolve(rel, folder, image_root), label))
    if not samples:
        raise DatasetError(path, "no samples")
    if check_files:
        _check_exist(path, samples)
    return ClassificationData(name or folder.name, classnames, samples, "skyscript_csv", path,
                              {"csv": path.name, "split": split})


def _resolve(rel: str, folder: Path, image_root: Path | None) -> Path:
    candidate = folder / rel
    if image_root is not None and not candidate.exists():
        return Path(image_root) / rel
    return candidate


def _check_exist(source: Path, samples: Sequence[tuple[Path, int]]) -> None:
    missing = [str(p) for p, _ in samples if not p.is_file()]
    if missing:
        raise DatasetError(source, f"{len(missing)} of {len(samples)} listed images do not exist "
                                   f"(first: {missing[:3]})")


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def prompt_name(folder_name: str) -> str:
    """Folder name to prompt name: separators to spaces, CamelCase split, lower-case."""
    return " ".join(_CAMEL.sub(" ", folder_name).replace("_", " ").replace("-", " ").split()).lower()


def read_class_folders(root: Path, *, name: str = "", image_dir: str = ".", split_file: str | None = None,
                       classnames: Sequence[str] | None = None,
                       extensions: Sequence[str] = IMAGE_EXTENSIONS) -> ClassificationData:
    """Read a folder-per-class tree (see the module docstring)."""
    root = Path(root)
    base = root / image_dir
    if not base.is_dir():
        raise DatasetNotFoundError(base, "image folder not found (expected <class>/<image> sub-folders)")
    class_dirs = sorted(p for p in base.iterdir() if p.is_dir())
    if not class_dirs:
        raise DatasetError(base, "no class sub-folders (expected <class>/<image>)")
    wanted: set[str] | None = None
    if split_file:
        split_path = root / split_file
        if not split_path.is_file():
            raise DatasetNotFoundError(split_path, "split file not found")
        wanted = {ln.strip() for ln in split_path.read_text(encoding="utf-8").splitlines() if ln.strip()}
    exts = {e.lower() for e in extensions}
    samples: list[tuple[Path, int]] = []
    skipped = 0
    for label, cdir in enumerate(class_dirs):
        for img in sorted(cdir.iterdir()):
            if not img.is_file() or img.suffix.lower() not in exts:
                skipped += img.is_file()
                continue
            if wanted is not None and img.name not in wanted:
                continue
            samples.append((img, label))
    if wanted is not None:
        found = {p.name for p, _ in samples}
        absent = sorted(wanted - found)
        if absent:
            raise DatasetError(split_path, f"{len(absent)} listed files are not in any class folder "
                                           f"(first: {absent[:3]})")
    if not samples:
        raise DatasetError(base, f"no images with extensions {sorted(exts)} in the class folders")
    names = list(classnames) if classnames is not None else [prompt_name(d.name) for d in class_dirs]
    if len(names) != len(class_dirs):
        raise DatasetError(base, f"{len(class_dirs)} class folders but {len(names)} class names given")
    return ClassificationData(name or root.name, names, samples, "folder", base,
                              {"folders": [d.name for d in class_dirs], "split_file": split_file,
                               "skipped_non_images": skipped})


def load_classification(folder: Path, layout: str, *, name: str = "",
                        **options: object) -> ClassificationData:
    """Dispatch on ``layout`` (``skyscript_csv`` or ``folder``)."""
    if layout == "skyscript_csv":
        return read_skyscript_csv(folder, name=name, **options)  # type: ignore[arg-type]
    if layout == "folder":
        return read_class_folders(folder, name=name, **options)  # type: ignore[arg-type]
    raise ValueError(f"unknown zero-shot layout {layout!r}; expected 'skyscript_csv' or 'folder'")
