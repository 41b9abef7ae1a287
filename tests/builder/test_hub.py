"""publish: dry run lists exactly what a (fake) real publish uploads; the token never shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mgrs_builder.build import build_dataset
from mgrs_builder.cli import main
from mgrs_builder.errors import MgrsBuilderError
from mgrs_builder.hub import planned_files, publish
from tests.builder.test_build import make_sources

TOKEN = "hf_fakeTOKENvalue1234567890"


class FakeApi:
    """Records what HfApi would have been asked to do."""

    def __init__(self) -> None:
        self.repos: list[dict[str, Any]] = []
        self.uploaded: list[str] = []
        self.local: list[str] = []

    def create_repo(self, **kwargs: Any) -> str:
        self.repos.append(kwargs)
        return f"https://huggingface.co/datasets/{kwargs['repo_id']}"

    def create_commit(self, *, repo_id: str, repo_type: str, operations: list[Any], commit_message: str) -> None:
        assert repo_type == "dataset"
        self.uploaded = sorted(op.path_in_repo for op in operations)
        self.local = sorted(str(op.path_or_fileobj) for op in operations)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    out = root / "built"
    build_dataset(out, make_sources(root / "src"), tile_size=64, overlap=16, progress=False,
                  max_shard_bytes=20_000)
    return out


def test_dry_run_lists_exactly_what_a_real_publish_uploads(built: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    dry = publish(built, "me/mgrs-test", private=True, dry_run=True)
    api = FakeApi()
    real = publish(built, "me/mgrs-test", private=True, api=api)
    assert dry.files == real.files == api.uploaded
    assert len([f for f in dry.files if f.startswith("data/")]) > 1  # several shards under the size cap
    assert {"README.md", "manifest.json", "build_report.json"} <= set(dry.files)
    assert api.repos == [{"repo_id": "me/mgrs-test", "repo_type": "dataset", "private": True, "exist_ok": True}]
    assert api.local == sorted(str(built / f) for f in dry.files)
    assert dry.card == (built / "README.md").read_text() and dry.card.startswith("---\n")
    assert dry.token_source == "environment or login"

    assert main(["publish", str(built), "--repo-id", "me/mgrs-test", "--private", "--dry-run"]) == 0
    out = capsys.readouterr()
    head = out.out.split("--- README.md (rendered card) ---")[0]
    listed = [ln.strip() for ln in head.splitlines() if ln.startswith("  ")]
    assert listed == planned_files(built)
    assert "--- README.md (rendered card) ---" in out.out and "configs:" in out.out
    assert TOKEN not in out.out + out.err and TOKEN not in repr(dry) + repr(real)


def test_publish_refuses_bad_repo_ids_and_invalid_folders(built: Path, tmp_path: Path) -> None:
    with pytest.raises(MgrsBuilderError, match="namespace/name"):
        publish(built, "no-namespace", dry_run=True)
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(built, broken)
    shard = sorted((broken / "data").glob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(MgrsBuilderError, match="fails validation"):
        publish(broken, "me/x", api=FakeApi())
    (broken / "README.md").unlink()
    with pytest.raises(FileNotFoundError, match="README.md"):
        publish(broken, "me/x", dry_run=True)


def test_real_publish_without_token_fails_clearly(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(MgrsBuilderError, match="no Hugging Face token"):
        publish(built, "me/x")


def test_card_template_and_source_cards_are_in_sync() -> None:
    from mgrs_builder.card import SOURCE_LICENCES, template_text
    from mgrs_builder.sources import list_readers

    repo = Path(__file__).resolve().parents[2]
    assert (repo / "data_cards" / "mgrs.md").read_text() == template_text()
    index = (repo / "data_cards" / "README.md").read_text()
    for reader in list_readers():
        assert (repo / "data_cards" / "sources" / f"{reader.name}.md").is_file(), reader.name
        assert f"sources/{reader.name}.md" in index and reader.name in SOURCE_LICENCES


def test_rendered_card_front_matter_is_valid_yaml(built: Path) -> None:
    import yaml

    card = (built / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "data/train-*.parquet"}]
    assert {s["source"] for s in meta["source_licenses"]} == {"dota", "isaid", "loveda"}
    assert "image-to-text" in meta["task_categories"] and meta["license"] == "other"
    report = __import__("json").loads((built / "build_report.json").read_text())
    for name, s in report["sources"].items():
        assert f"| {name} | {s['images_in']} |" in card  # real counts filled in
