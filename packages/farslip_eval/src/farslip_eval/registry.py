"""Dataset registry for the three suites: built-in datasets and custom ``farslip_dataset.json`` folders.

Built-in datasets live in a fixed folder under the data root (``DatasetEntry.folder``) in one of
their published layouts (``DatasetEntry.layouts``, tried in order; the first whose required files
exist is used and recorded in the result). ``farslip-eval list`` prints them all. Any folder under the
data root (up to ``CUSTOM_SEARCH_DEPTH`` levels deep) that holds ``farslip_dataset.json``
(docs/interfaces.md section 3.3) is a custom dataset; its name must not clash with a built-in.

Zero-shot classification (layouts of :mod:`farslip_eval.zeroshot.datasets`):

=================  ==================  =====================================================
name               folder              layouts
=================  ==================  =====================================================
skyscript_cls      SkyScript_cls       skyscript_csv (``classnames.txt`` + the ``val`` CSV)
aid                AID                 skyscript_csv (``test`` CSV); folder (``AID/<class>/``)
eurosat            EuroSAT             skyscript_csv (``test``); folder (``2750/<class>/`` RGB
                                       release, ``<class>/``, or torchgeo's 13-band tif tree)
fmow               fMoW                skyscript_csv (``val``)
millionaid         MillionAID          skyscript_csv (``train`` = whole set)
patternnet         PatternNet          skyscript_csv (``train``); folder (``images/<class>/``)
rsicb256           RSI-CB256           skyscript_csv (``train``)
resisc45           NWPU-RESISC45       skyscript_csv (``train``); folder (``<class>/``)
ucm                UCMerced_LandUse    folder (``Images/<class>/``)
whu_rs19           WHU-RS19            folder (``<class>/``)
=================  ==================  =====================================================

Retrieval (layouts of :mod:`farslip_eval.retrieval.datasets`), folders ``RSICD``, ``RSITMD`` and
``UCM-Captions`` (names ``rsicd``, ``rsitmd``, ``ucm_captions``), each in one of: a SkyScript CSV
whose name contains ``test`` (``filepath,title``); ``dataset_*.json`` (Karpathy) + ``images/``; the
VT-RSBS table (``RSICD.csv``, ``RSITMD.csv``, ``UCM_captions.csv``) + ``images/``.

OVSS datasets come from :mod:`farslip_eval.ovss` (their folders follow SegEarth-OV's preparation).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from farslip_eval.dataset_errors import DatasetError, UnknownDatasetError

log = logging.getLogger(__name__)

SUITES: tuple[str, ...] = ("ovss", "zeroshot", "retrieval")
DESCRIPTOR_NAME = "farslip_dataset.json"
CUSTOM_SEARCH_DEPTH = 3


@dataclass(frozen=True)
class Layout:
    """One way a dataset can be stored: the loader layout, its sub-folder, a presence probe, options."""

    layout: str
    subdir: str = "."
    requires: tuple[str, ...] = ()  # glob patterns (relative to subdir) that must each match
    options: Mapping[str, Any] = field(default_factory=dict)

    def present(self, base: Path) -> bool:
        root = base / self.subdir
        if not root.is_dir():
            return False
        if self.layout == "folder":
            return any(p.is_dir() for p in root.iterdir())
        return all(any(root.glob(pattern)) for pattern in self.requires)


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset the suites know: where it lives under a data root and how to read it."""

    name: str
    suite: str
    folder: str
    description: str
    layouts: tuple[Layout, ...]
    paper_key: str | None = None  # column in the paper's table (paper_results.json)
    custom: bool = False
    descriptor: Path | None = None
    protocol: Mapping[str, Any] = field(default_factory=dict)  # protocol settings (e.g. templates)
    spec: Any = None  # OVSS: the ovss spec object

    def locate(self, data_root: Path | str) -> ResolvedDataset | None:
        """The first layout present under ``data_root``, or None if the dataset is missing."""
        base = self.descriptor.parent if self.descriptor is not None else Path(data_root) / self.folder
        if self.spec is not None:  # OVSS: the spec knows its image and label folders
            present = self.spec.is_present(data_root)
            if not present:
                return None
            return ResolvedDataset(self, self.spec.dataset_dir(data_root), self.layouts[0], Path(data_root))
        for layout in self.layouts:
            if layout.present(base):
                return ResolvedDataset(self, base / layout.subdir, layout, Path(data_root))
        return None

    def layout_summary(self) -> str:
        if self.spec is not None:
            return str(self.spec.expected_layout())
        return " | ".join(_describe(self.folder if not self.custom else ".", lay) for lay in self.layouts)


def _describe(folder: str, lay: Layout) -> str:
    base = folder if lay.subdir == "." else f"{folder}/{lay.subdir}"
    if lay.layout == "folder":
        return f"{base}/<class>/<image>"
    if lay.layout == "skyscript_csv" and "classnames.txt" in lay.requires:
        return f"{base}/classnames.txt + {base}/*{lay.options.get('split', '')}*.csv (filepath,label)"
    if lay.layout == "skyscript_csv":
        return f"{base}/*test*.csv (filepath,title)"
    if lay.layout == "karpathy":
        return f"{base}/dataset_*.json + {base}/images/"
    if lay.layout == "vtrsbs_csv":
        return f"{base}/{lay.options.get('csv_name')} (VT-RSBS) + {base}/images/"
    return f"{base} ({lay.layout})"


@dataclass(frozen=True)
class ResolvedDataset:
    """A dataset found on disk: its folder and the layout to read it with."""

    entry: DatasetEntry
    root: Path
    layout: Layout
    data_root: Path


def _bundle(split: str) -> Layout:
    return Layout("skyscript_csv", ".", ("classnames.txt", "*.csv"), {"split": split})


def _folder(subdir: str = ".", **options: Any) -> Layout:
    return Layout("folder", subdir, (), options)


def _zs(name: str, folder: str, paper: str | None, desc: str, *layouts: Layout) -> DatasetEntry:
    return DatasetEntry(name, "zeroshot", folder, desc, tuple(layouts), paper_key=paper)


_EUROSAT_TIF = "ds/images/remote_sensing/otherDatasets/sentinel_2/tif"

ZEROSHOT_BUILTINS: tuple[DatasetEntry, ...] = (
    _zs("skyscript_cls", "SkyScript_cls", "SkyScript", "SkyScript 70-class scene set (val CSV)",
        _bundle("val")),
    _zs("aid", "AID", "AID", "AID, 30 scene classes", _bundle("test"), _folder(".")),
    _zs("eurosat", "EuroSAT", "EuroSAT", "EuroSAT (Sentinel-2, 10 classes; 13-band tifs shown as RGB)",
        _bundle("test"), _folder("2750"), _folder(_EUROSAT_TIF), _folder(".")),
    _zs("fmow", "fMoW", "fMoW", "Functional Map of the World (val CSV)", _bundle("val")),
    _zs("millionaid", "MillionAID", "MillionAID", "Million-AID (whole set)", _bundle("train")),
    _zs("patternnet", "PatternNet", "PatternNet", "PatternNet, 38 classes", _bundle("train"),
        _folder("images")),
    _zs("rsicb256", "RSI-CB256", "RSICB", "RSI-CB256 (whole set)", _bundle("train")),
    _zs("resisc45", "NWPU-RESISC45", "NWPU", "NWPU-RESISC45, 45 classes", _bundle("train"), _folder(".")),
    _zs("ucm", "UCMerced_LandUse", None, "UC Merced Land Use, 21 classes", _folder("Images")),
    _zs("whu_rs19", "WHU-RS19", None, "WHU-RS19, 19 classes", _folder(".")),
)


def _ret(name: str, folder: str, paper: str, desc: str, vt_csv: str) -> DatasetEntry:
    return DatasetEntry(name, "retrieval", folder, desc, (
        Layout("skyscript_csv", ".", ("*test*.csv",), {"split": "test"}),
        Layout("karpathy", ".", ("dataset_*.json",), {"split": "test", "image_dir": "images"}),
        Layout("vtrsbs_csv", ".", (vt_csv,), {"csv_name": vt_csv, "split": "test", "image_dir": "images"}),
    ), paper_key=paper)


RETRIEVAL_BUILTINS: tuple[DatasetEntry, ...] = (
    _ret("rsicd", "RSICD", "RSICD", "RSICD test split (1,093 images)", "RSICD.csv"),
    _ret("rsitmd", "RSITMD", "RSITMD", "RSITMD test split (452 images)", "RSITMD.csv"),
    _ret("ucm_captions", "UCM-Captions", "UCM", "UCM-Captions test split (210 images)", "UCM_captions.csv"),
)


#: OVSS dataset name -> column of the paper's table.
OVSS_PAPER_KEYS: dict[str, str] = {"openearthmap": "OEM", "loveda": "LoveDA", "potsdam": "Potsdam",
                                   "vaihingen": "Vaihingen", "udd5": "UDD5", "vdd": "VDD", "uavid": "UAVid",
                                   "isaid": "iSAID"}


def _ovss_builtins() -> tuple[DatasetEntry, ...]:
    """OVSS entries from the ovss package's built-in specs."""
    from farslip_eval.ovss.specs import list_specs

    return tuple(_ovss_entry(spec) for spec in list_specs())


def _ovss_entry(spec: Any, descriptor: Path | None = None) -> DatasetEntry:
    return DatasetEntry(spec.name, "ovss", spec.folder, str(getattr(spec, "notes", "") or spec.name),
                        (Layout("segearth", ".", (), {"layout": spec.expected_layout()}),),
                        paper_key=OVSS_PAPER_KEYS.get(spec.name), custom=descriptor is not None,
                        descriptor=descriptor, spec=spec)


def builtin_entries(suite: str | None = None) -> list[DatasetEntry]:
    """Every built-in dataset (of ``suite`` if given), OVSS first."""
    entries = [*_ovss_builtins(), *ZEROSHOT_BUILTINS, *RETRIEVAL_BUILTINS]
    return [e for e in entries if suite in (None, "all", e.suite)]


# --- custom descriptors -------------------------------------------------------------------------

_ZS_KEYS = {"folder": {"image_dir", "split_file", "classnames"},
            "skyscript_csv": {"csv", "split", "classnames_file", "image_root"}}
_RET_KEYS = {"karpathy": {"json", "split", "image_dir"},
             "skyscript_csv": {"csv", "split", "caption_column", "image_root", "encoding"},
             "vtrsbs_csv": {"csv", "split", "image_dir"}}
_RENAME = {"csv": "csv_name", "json": "json_name"}
_PROTOCOL_KEYS = {"templates", "description", "paper_key"}


def _descriptor_entry(path: Path, ovss_from_descriptor: Callable[..., Any] | None) -> DatasetEntry:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"invalid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise DatasetError(path, "expected a JSON object")
    suite, name = doc.get("suite"), doc.get("name")
    if suite not in SUITES:
        raise DatasetError(path, f"'suite' must be one of {list(SUITES)}, got {suite!r}")
    if not isinstance(name, str) or not name.strip():
        raise DatasetError(path, "'name' must be a non-empty string")
    folder = path.parent
    if suite == "ovss":
        if ovss_from_descriptor is None:
            raise DatasetError(path, "OVSS descriptors need farslip_eval.ovss, which failed to import")
        try:
            spec = ovss_from_descriptor(doc, base_dir=folder)
        except ValueError as exc:
            raise DatasetError(path, str(exc)) from None
        return _ovss_entry(spec, descriptor=path)
    layout = doc.get("layout")
    allowed = (_ZS_KEYS if suite == "zeroshot" else _RET_KEYS)
    if layout not in allowed:
        raise DatasetError(path, f"'layout' for suite {suite} must be one of {sorted(allowed)}, "
                                 f"got {layout!r}")
    extra = set(doc) - {"suite", "name", "layout"} - _PROTOCOL_KEYS - allowed[layout]
    if extra:
        raise DatasetError(path, f"unknown keys {sorted(extra)} for layout {layout!r} "
                                 f"(allowed: {sorted(allowed[layout])})")
    options = {_RENAME.get(k, k): v for k, v in doc.items() if k in allowed[layout]}
    protocol = {k: doc[k] for k in ("templates",) if k in doc}
    if "templates" in protocol:
        t = protocol["templates"]
        ok_list = isinstance(t, list) and all(isinstance(x, str) and "{c}" in x for x in t)
        if not (isinstance(t, str) or ok_list):
            raise DatasetError(path, "'templates' must be a template-set name or a list of strings "
                                     "containing '{c}'")
    return DatasetEntry(name, suite, str(folder), str(doc.get("description", f"custom ({path})")),
                        (Layout(layout, ".", (), options),), paper_key=doc.get("paper_key"), custom=True,
                        descriptor=path, protocol=protocol)


def _ovss_descriptor_loader() -> Callable[..., Any] | None:
    try:
        from farslip_eval.ovss.specs import OvssSpec
    except ImportError:  # pragma: no cover - shipped with the package
        return None
    return OvssSpec.from_descriptor


def find_descriptors(data_root: Path | str, max_depth: int = CUSTOM_SEARCH_DEPTH) -> list[Path]:
    """``farslip_dataset.json`` files under ``data_root`` (sorted; hidden folders skipped)."""
    root = Path(data_root)
    if not root.is_dir():
        return []
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < max_depth else []
        if DESCRIPTOR_NAME in filenames:
            found.append(Path(dirpath) / DESCRIPTOR_NAME)
    return sorted(found)


def custom_entries(data_root: Path | str) -> list[DatasetEntry]:
    """Datasets described by ``farslip_dataset.json`` under ``data_root``; clashes are errors."""
    builtin = {e.name for e in builtin_entries()}
    loader = None
    entries: list[DatasetEntry] = []
    seen: dict[str, Path] = {}
    for path in find_descriptors(data_root):
        if loader is None:
            loader = _ovss_descriptor_loader()
        entry = _descriptor_entry(path, loader)
        if entry.name in builtin:
            raise DatasetError(path, f"name {entry.name!r} clashes with a built-in dataset; rename it")
        if entry.name in seen:
            raise DatasetError(path, f"name {entry.name!r} is also used by {seen[entry.name]}")
        seen[entry.name] = path
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class Discovery:
    """Which datasets of a suite are present under a data root and which are missing."""

    found: list[ResolvedDataset]
    missing: list[DatasetEntry]


def all_entries(data_root: Path | str | None = None, suite: str | None = None) -> list[DatasetEntry]:
    """Built-ins plus (given a data root) the custom datasets under it, filtered by ``suite``."""
    entries = builtin_entries(suite)
    if data_root is not None:
        custom = [e for e in custom_entries(data_root) if suite in (None, "all", e.suite)]
        entries += sorted(custom, key=lambda e: (SUITES.index(e.suite), e.name))
    return entries


def discover(data_root: Path | str, suite: str | None = None,
             names: Iterable[str] | None = None) -> Discovery:
    """Resolve datasets under ``data_root``; ``names`` restricts (and must name known datasets)."""
    if suite not in (None, "all", *SUITES):
        raise ValueError(f"unknown suite {suite!r}; expected one of {['all', *SUITES]}")
    entries = all_entries(data_root, suite)
    if names is not None:
        wanted = list(dict.fromkeys(names))
        by_name = {e.name: e for e in entries}
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            raise UnknownDatasetError(
                f"unknown dataset(s) {unknown} for suite {suite or 'all'}; known: {sorted(by_name)}")
        entries = [by_name[n] for n in wanted]
    found, missing = [], []
    for entry in entries:
        resolved = entry.locate(data_root)
        (found if resolved is not None else missing).append(resolved or entry)
    return Discovery(found, missing)  # type: ignore[arg-type]
