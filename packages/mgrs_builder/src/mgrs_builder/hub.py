"""Publish a built folder to the Hugging Face Hub as a dataset repo.

The upload is one commit of exactly :func:`planned_files`: the card (``README.md``), the manifest,
the build report and every shard the manifest lists. ``dry_run`` returns the same list without
touching the network. The token comes from ``token=`` or huggingface_hub's usual lookup
(``HF_TOKEN`` or ``huggingface-cli login``); it is never logged or returned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MgrsBuilderError, SourceNotFoundError
from .schema import MANIFEST_NAME, REPORT_NAME
from .shards import read_manifest
from .validate import validate_dataset

logger = logging.getLogger(__name__)

CARD_NAME = "README.md"


@dataclass(frozen=True)
class PublishResult:
    """What was (or, for a dry run, would be) uploaded."""

    repo_id: str
    private: bool
    dry_run: bool
    files: list[str]
    card: str
    url: str | None = None
    token_source: str = "none"


def planned_files(dataset_dir: Path | str) -> list[str]:
    """Repo paths a publish uploads, sorted: card, manifest, report and the listed shards.

    Raises:
        SourceNotFoundError: a file the upload needs is missing.
    """
    d = Path(dataset_dir)
    manifest = read_manifest(d)
    files = [CARD_NAME, MANIFEST_NAME, REPORT_NAME]
    files += [s["path"] for info in manifest["splits"].values() for s in info["shards"]]
    for f in files:
        if not (d / f).is_file():
            raise SourceNotFoundError(f"{d / f}: needed for publishing but missing (rebuild the folder)")
    return sorted(files)


def _token_source(token: str | None) -> tuple[str | None, str]:
    if token:
        return token, "argument"
    from huggingface_hub import get_token

    found = get_token()
    return found, ("environment or login" if found else "none")


def publish(dataset_dir: Path | str, repo_id: str, *, private: bool = False, dry_run: bool = False,
            token: str | None = None, api: Any = None, validate: bool = True,
            commit_message: str = "Upload MGRS shards built with mgrs_builder") -> PublishResult:
    """Upload the folder's card, manifest, report and shards to dataset repo ``repo_id``.

    Args:
        dataset_dir: a built folder.
        repo_id: ``user/name`` on the Hub.
        private: create the repo private (only when it does not exist yet).
        dry_run: list the files and return the rendered card; upload nothing.
        token: a Hub token; default: huggingface_hub's lookup.
        api: an ``HfApi``-like object (tests pass a fake); default ``HfApi(token=...)``.
        validate: refuse to publish a folder that fails :func:`validate_dataset`.

    Raises:
        MgrsBuilderError: invalid repo id, failed validation, or no token for a real upload.
    """
    d = Path(dataset_dir)
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise MgrsBuilderError(f"repo id {repo_id!r}: expected 'namespace/name'")
    files = planned_files(d)
    if validate:
        res = validate_dataset(d)
        if not res.ok:
            raise MgrsBuilderError(f"{d} fails validation ({len(res.faults)} faults, first: {res.faults[0]}); "
                                   "fix it before publishing")
    card = (d / CARD_NAME).read_text(encoding="utf-8")
    resolved, source = _token_source(token)
    if dry_run:
        return PublishResult(repo_id, private, True, files, card, None, source)
    if api is None:
        if resolved is None:
            raise MgrsBuilderError("no Hugging Face token: set HF_TOKEN or run `huggingface-cli login`")
        from huggingface_hub import HfApi

        api = HfApi(token=resolved)
    from huggingface_hub import CommitOperationAdd

    repo = api.create_repo(repo_id=repo_id, repo_type="dataset", private=private, exist_ok=True)
    ops = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(d / f)) for f in files]
    api.create_commit(repo_id=repo_id, repo_type="dataset", operations=ops, commit_message=commit_message)
    url = str(getattr(repo, "url", repo)) if repo is not None else f"https://huggingface.co/datasets/{repo_id}"
    logger.info("published %d files to %s", len(files), repo_id)
    return PublishResult(repo_id, private, False, files, card, url, source)
