"""Image-text retrieval datasets (RSICD, RSITMD, UCM-Captions) in their three published forms.

Layouts (the folder is the dataset's directory under the data root):

``skyscript_csv``
    SkyScript benchmark CSV with columns ``filepath`` (GeoRSCLIP: ``filename``) and ``title`` (or
    ``caption_column``; ``encoding`` for GeoRSCLIP's gb18030 RSICD file), one row
    per (image, caption); ``filepath`` relative to the folder (else ``image_root``). The CSV is ``csv``
    if given, else the one ``*.csv`` whose name contains ``split``.
``karpathy``
    ``dataset_*.json`` (``json``): ``images[].filename``, ``.split``, ``.sentences[].raw``; images
    in ``image_dir``. Only images of ``split`` are used.
``vtrsbs_csv``
    VT-RSBS flattened table (``csv``): columns ``filename,split,sentence`` (plus ``img_id``,
    ``sent_id``, optional index and ``label``); ``sentence`` is a Python list literal of captions,
    parsed with :func:`ast.literal_eval` (never evaluated as code). Images in ``image_dir``.

Every reader returns the images in file order with all their captions; duplicate file names are
merged (their captions concatenated). Captions are kept verbatim (no whitespace stripping), as the
reference harness embeds them: UCM-Captions' test split then has 378 distinct strings, two of which
differ only by a trailing space.
"""

from __future__ import annotations

import ast
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from farslip_eval.dataset_errors import DatasetError, DatasetNotFoundError
from farslip_eval.zeroshot.datasets import pick_csv


@dataclass(frozen=True)
class CaptionedImage:
    """One image and its ground-truth captions."""

    path: Path
    captions: tuple[str, ...]


@dataclass(frozen=True)
class RetrievalData:
    """A retrieval test set."""

    name: str
    items: list[CaptionedImage]
    layout: str
    source: Path
    details: dict[str, object] = field(default_factory=dict)

    @property
    def num_captions(self) -> int:
        return sum(len(i.captions) for i in self.items)


def _group(pairs: list[tuple[Path, str]]) -> tuple[list[CaptionedImage], int]:
    grouped: dict[Path, list[str]] = {}
    for path, caption in pairs:
        grouped.setdefault(path, []).append(caption)
    return [CaptionedImage(p, tuple(c)) for p, c in grouped.items()], len(pairs)


def _check_exist(source: Path, items: list[CaptionedImage]) -> None:
    missing = [str(i.path) for i in items if not i.path.is_file()]
    if missing:
        raise DatasetError(source, f"{len(missing)} of {len(items)} images do not exist "
                                   f"(first: {missing[:3]})")


def read_skyscript_retrieval_csv(folder: Path, *, name: str = "", split: str | None = "test",
                                 csv_name: str | None = None, caption_column: str = "title",
                                 image_root: Path | None = None, encoding: str = "utf-8",
                                 check_files: bool = True) -> RetrievalData:
    """SkyScript-form retrieval CSV (see the module docstring)."""
    folder = Path(folder)
    path = pick_csv(folder, split, csv_name)
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise DatasetError(path, f"not valid {encoding} text at byte {exc.start}; set 'encoding' "
                                 "(GeoRSCLIP's RSICD CSV is gb18030)") from None
    pairs: list[tuple[Path, str]] = []
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        path_col = "filepath" if "filepath" in fields else "filename"  # GeoRSCLIP's CSVs say filename
        if path_col not in fields or caption_column not in fields:
            raise DatasetError(path, f"expected columns 'filepath' (or 'filename') and {caption_column!r}, "
                                     f"found {fields}", record="header")
        for row_no, row in enumerate(reader, start=2):
            rel, caption = (row.get(path_col) or "").strip(), row.get(caption_column) or ""
            if not rel or not caption.strip():
                raise DatasetError(path, f"empty filepath or {caption_column}", record=f"line {row_no}")
            img = folder / rel
            if image_root is not None and not img.exists():
                img = Path(image_root) / rel
            pairs.append((img, caption))
    items, n = _group(pairs)
    if not items:
        raise DatasetError(path, "no rows")
    if check_files:
        _check_exist(path, items)
    return RetrievalData(name or folder.name, items, "skyscript_csv", path,
                         {"csv": path.name, "rows": n, "caption_column": caption_column})


def read_karpathy_json(folder: Path, *, name: str = "", json_name: str | None = None, split: str = "test",
                       image_dir: str = "images", check_files: bool = True) -> RetrievalData:
    """Karpathy-style ``dataset_*.json`` (see the module docstring)."""
    folder = Path(folder)
    if json_name is None:
        found = sorted(folder.glob("dataset_*.json"))
        if len(found) != 1:
            raise DatasetNotFoundError(folder,
                                       f"expected one dataset_*.json, found {[p.name for p in found]}")
        path = found[0]
    else:
        path = folder / json_name
    if not path.is_file():
        raise DatasetNotFoundError(path, "caption JSON not found")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"invalid JSON ({exc})") from None
    images = doc.get("images") if isinstance(doc, dict) else None
    if not isinstance(images, list):
        raise DatasetError(path, "expected an object with an 'images' list")
    pairs: list[tuple[Path, str]] = []
    for i, rec in enumerate(images):
        if not isinstance(rec, dict) or "filename" not in rec or "split" not in rec:
            raise DatasetError(path, "expected 'filename', 'split' and 'sentences'", record=f"images[{i}]")
        if rec["split"] != split:
            continue
        sentences = rec.get("sentences")
        if not isinstance(sentences, list) or not sentences:
            raise DatasetError(path, "no sentences for a test image", record=f"images[{i}] {rec['filename']}")
        for j, s in enumerate(sentences):
            raw = s.get("raw") if isinstance(s, dict) else None
            if not isinstance(raw, str) or not raw.strip():
                raise DatasetError(path, "sentence without a non-empty 'raw' string",
                                   record=f"images[{i}].sentences[{j}]")
            pairs.append((folder / image_dir / rec["filename"], raw))
    items, n = _group(pairs)
    if not items:
        raise DatasetError(path, f"no images in split {split!r}")
    if check_files:
        _check_exist(path, items)
    return RetrievalData(name or folder.name, items, "karpathy", path,
                         {"json": path.name, "split": split, "rows": n})


def parse_sentence_list(text: str, source: Path, record: str) -> list[str]:
    """A VT-RSBS ``sentence`` cell: a Python list literal of strings (``ast.literal_eval`` only)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise DatasetError(source, f"'sentence' is not a Python list literal ({exc.__class__.__name__})",
                           record=record) from None
    if not isinstance(value, list) or not value or not all(isinstance(s, str) and s.strip() for s in value):
        raise DatasetError(source, "'sentence' must be a non-empty list of non-empty strings", record=record)
    return list(value)


def read_vtrsbs_csv(folder: Path, *, name: str = "", csv_name: str | None = None, split: str = "test",
                    image_dir: str = "images", check_files: bool = True) -> RetrievalData:
    """VT-RSBS flattened CSV (see the module docstring)."""
    folder = Path(folder)
    path = folder / csv_name if csv_name else pick_csv(folder, None, None)
    if not path.is_file():
        raise DatasetNotFoundError(path, "caption CSV not found")
    pairs: list[tuple[Path, str]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        if not {"filename", "split", "sentence"} <= set(fields):
            raise DatasetError(path, f"expected columns 'filename,split,sentence', found {fields}",
                               record="header")
        for row_no, row in enumerate(reader, start=2):
            if (row.get("split") or "").strip() != split:
                continue
            filename = (row.get("filename") or "").strip()
            if not filename:
                raise DatasetError(path, "empty filename", record=f"line {row_no}")
            for caption in parse_sentence_list(row.get("sentence") or "", path, f"line {row_no}"):
                pairs.append((folder / image_dir / filename, caption))
    items, n = _group(pairs)
    if not items:
        raise DatasetError(path, f"no rows in split {split!r}")
    if check_files:
        _check_exist(path, items)
    return RetrievalData(name or folder.name, items, "vtrsbs_csv", path,
                         {"csv": path.name, "split": split, "rows": n})


def load_retrieval(folder: Path, layout: str, *, name: str = "", **options: object) -> RetrievalData:
    """Dispatch on ``layout`` (``skyscript_csv``, ``karpathy`` or ``vtrsbs_csv``)."""
    readers = {"skyscript_csv": read_skyscript_retrieval_csv, "karpathy": read_karpathy_json,
               "vtrsbs_csv": read_vtrsbs_csv}
    if layout not in readers:
        raise ValueError(f"unknown retrieval layout {layout!r}; expected one of {sorted(readers)}")
    return readers[layout](folder, name=name, **options)  # type: ignore[operator]
