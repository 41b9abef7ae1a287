"""OVSS inference: batched windows == one window at a time, geometry, decision and threshold, evaluate()."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from farslip_eval.encoders import ClipEncoder, NoDenseReadoutError, load_encoder
from farslip_eval.ovss import OvssPredictor, OvssSpec, evaluate, slide_logits, window_offsets
from farslip_eval.ovss.inference import build_text_classifier, fit_size, resize_to_fit


@pytest.fixture(scope="module")
def tiny() -> ClipEncoder:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    return load_encoder("FarSLIP-Tiny", None)


def _spec(**kw: object) -> OvssSpec:
    base = dict(name="t", folder="t", img_dir="img", ann_dir="ann", img_suffix=".png", seg_map_suffix=".png",
                class_file="cls_udd5.txt", fit_size=128, window=64, stride=32, prob_thd=0.4, bg_idx=4)
    base.update(kw)
    return OvssSpec(**base)  # type: ignore[arg-type]


def test_window_offsets_follow_the_protocol() -> None:
    assert window_offsets(448, 224, 112) == [(0, 224), (112, 336), (224, 448)]
    assert window_offsets(378, 224, 112) == [(0, 224), (112, 336), (154, 378)]
    assert window_offsets(200, 224, 112) == [(0, 200)]
    assert fit_size(1080, 1280, 448) == (378, 448)
    assert fit_size(512, 512, 448) == (448, 448)
    assert fit_size(100, 50, 448) == (448, 224)  # small images are enlarged (mmseg keep_ratio)


@pytest.mark.parametrize("size", [(100, 150), (30, 150)])  # the second has a short side < window: padded
def test_batched_windows_equal_one_at_a_time(tiny: ClipEncoder, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
    x = resize_to_fit(image, 128)
    x = (x - 127.0) / 60.0
    text = torch.nn.functional.normalize(torch.randn(5, 64), dim=-1)
    one = slide_logits(tiny, x, text, window=64, stride=32, batch_size=1)
    many = slide_logits(tiny, x, text, window=64, stride=32, batch_size=16)
    assert one.shape == (5, *x.shape[1:])
    assert len(window_offsets(x.shape[1], 64, 32)) * len(window_offsets(x.shape[2], 64, 32)) > 1
    torch.testing.assert_close(many, one, rtol=1e-4, atol=1e-5)
    assert one.std() > 0  # not a constant map


def test_batched_windows_are_one_forward_call(tiny: ClipEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = tiny.encode_dense
    monkeypatch.setattr(tiny, "encode_dense", lambda imgs: calls.append(imgs.shape[0]) or real(imgs))
    x = torch.zeros(3, 128, 128)
    slide_logits(tiny, x, torch.eye(64)[:3], window=64, stride=32, batch_size=32)
    assert calls == [9]  # 3 x 3 windows in one batch


def test_cls_global_bias_is_lambda_times_cls_logits(tiny: ClipEncoder) -> None:
    x = torch.randn(3, 64, 64)
    text = torch.nn.functional.normalize(torch.randn(4, 64), dim=-1)
    plain = slide_logits(tiny, x, text, window=64, stride=32)
    biased = slide_logits(tiny, x, text, window=64, stride=32, cls_token_lambda=-0.3)
    cls, _ = tiny.encode_dense_with_cls(x[None])
    torch.testing.assert_close(biased - plain, (-0.3 * cls @ text.T)[0][:, None, None].expand_as(plain),
                               rtol=1e-4, atol=1e-5)


def test_text_classifier_averages_normalised_templates(tiny: ClipEncoder) -> None:
    text, owner = build_text_classifier(tiny, [("a",), ("b", "c")], templates=["{c}.", "a photo of {c}."])
    assert owner.tolist() == [0, 1, 1]
    expected = torch.nn.functional.normalize(tiny.encode_texts(["c.", "a photo of c."]).mean(0), dim=0)
    torch.testing.assert_close(text[2], expected)
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(3))


def test_max_over_synonyms_and_background_threshold(tiny: ClipEncoder) -> None:
    spec = _spec()  # udd5 classes: vegetation, building, road, vehicle, background ; thd 0.4, bg 4
    names = [("vegetation",), ("building", "roof"), ("road",), ("vehicle",), ("background",)]
    on = OvssPredictor(tiny, spec, class_names=names, bg_threshold="spec")
    off = OvssPredictor(tiny, spec, class_names=names, bg_threshold="off")
    # 6 queries; pixel 0: building split over two synonyms (each 0.3) -> class prob 0.3 (max, not sum)
    logits = torch.full((6, 1, 2), -10.0)
    logits[1, 0, 0] = logits[2, 0, 0] = 0.0
    logits[0, 0, 0] = -0.0063  # vegetation slightly lower
    logits[3, 0, 1] = 1.0  # pixel 1: confident road
    probs = on.class_probabilities(logits / 50.0)  # the predictor multiplies by the logit scale 50
    assert probs.shape == (5, 1, 2)
    assert probs[1, 0, 0] == pytest.approx(torch.softmax(logits[:, 0, 0], 0)[1].item())
    assert 0.29 < probs[1, 0, 0] < 0.4
    assert on.decide(probs).tolist() == [[4, 2]]  # top prob < 0.4 -> background index 4
    assert off.decide(probs).tolist() == [[1, 2]]
    assert (on.prob_thd, on.bg_idx, off.prob_thd, off.bg_idx) == (0.4, 4, 0.0, None)


def _tree(root: Path, spec: OvssSpec, n: int = 2) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        for d, arr in ((spec.image_dir(root), rng.integers(0, 255, (40, 70, 3), dtype=np.uint8)),
                       (spec.label_dir(root), rng.integers(0, 5, (40, 70), dtype=np.uint8))):
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(d / f"s{i}.png")


def test_evaluate_returns_metrics_protocol_timings(tiny: ClipEncoder, tmp_path: Path) -> None:
    spec = _spec()
    _tree(tmp_path, spec)
    res = evaluate(tiny, spec, tmp_path, batch_size=4, bg_threshold="off", progress=False)
    assert res["status"] == "ok"
    m = res["metrics"]
    assert m["num_images"] == 2 and m["num_pixels"] == 2 * 40 * 70
    assert 0.0 <= m["mIoU"] <= 100.0 and 0.0 <= m["aAcc"] <= 100.0
    assert list(m["per_class_IoU"]) == ["vegetation", "building", "road", "vehicle", "background"]
    conf = np.array(res["confusion_matrix"])
    assert conf.sum() == 2 * 40 * 70
    assert m["aAcc"] == round(100 * np.trace(conf) / conf.sum(), 2)
    p = res["protocol"]
    assert p["bg_threshold"] == "off" and p["prob_thd_applied"] == 0.0 and p["matches_published"] is True
    assert (p["window"], p["stride"], p["logit_scale"], p["cls_token_lambda"]) == (64, 32, 50.0, 0.0)
    assert res["timings"]["images"] == 2 and res["skipped"] == {}
    on = evaluate(tiny, spec, tmp_path, batch_size=4, bg_threshold="spec", progress=False)
    assert on["protocol"]["prob_thd_applied"] == 0.4 and on["protocol"]["bg_idx_applied"] == 4
    # the threshold only ever moves pixels to the background index 4, never elsewhere
    c_on, c_off = np.array(on["confusion_matrix"]), np.array(res["confusion_matrix"])
    assert (c_on[:, :4] <= c_off[:, :4]).all() and (c_on[:, 4] >= c_off[:, 4]).all()
    assert not np.array_equal(c_on, c_off)


def test_model_without_dense_readout_is_reported_as_skipped(tiny: ClipEncoder, tmp_path: Path) -> None:
    class NoDense:
        name, has_dense = "rn", False

    res = evaluate(NoDense(), _spec(), tmp_path)  # type: ignore[arg-type]
    assert res["status"] == "skipped" and res["metrics"] == {} and res["skipped"]["no_dense_readout"] == 1
    with pytest.raises(NoDenseReadoutError):
        OvssPredictor(NoDense(), _spec())  # type: ignore[arg-type]


def test_show_writes_image_gt_prediction_png(tiny: ClipEncoder, tmp_path: Path) -> None:
    from farslip_eval.show import class_colours, colourise, show_prediction

    spec = _spec()
    _tree(tmp_path, spec, n=1)
    out = show_prediction(tiny, spec, spec.image_dir(tmp_path) / "s0.png", tmp_path / "out" / "s0.png",
                          label_path=spec.label_dir(tmp_path) / "s0.png")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > im.height > 100
    colours = class_colours(5)
    assert len({tuple(c) for c in colours}) == 5
    rgb = colourise(np.array([[0, 255]]), colours)
    assert tuple(rgb[0, 0]) == tuple(colours[0]) and tuple(rgb[0, 1]) == (0, 0, 0)


def test_show_cli_on_a_dataset_index(tmp_path: Path) -> None:
    from farslip_eval.show import main

    spec = OvssSpec.from_descriptor(
        {"suite": "ovss", "name": "synth", "img_dir": "img", "ann_dir": "ann", "class_file": "classes.txt",
         "fit_size": 64, "window": 64, "stride": 32}, base_dir=tmp_path / "synth")
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "classes.txt").write_text("a\nb\nc\nd\ne", encoding="utf-8")
    (tmp_path / "synth" / "farslip_dataset.json").write_text(
        '{"suite": "ovss", "name": "synth", "img_dir": "img", "ann_dir": "ann", "class_file": "classes.txt",'
        ' "fit_size": 64, "window": 64, "stride": 32}', encoding="utf-8")
    _tree(tmp_path, spec, n=1)
    out = tmp_path / "panel.png"
    assert main(["--model", "FarSLIP-Tiny", "--dataset", "synth", "--data-root", str(tmp_path), "--out", str(out)]) == 0
    assert out.is_file()
    assert main(["--model", "FarSLIP-Tiny", "--dataset", "nope", "--data-root", str(tmp_path), "--out", str(out)]) == 2


def test_real_openearthmap_tile_through_the_full_protocol(tiny: ClipEncoder, shared_fixtures: Path,
                                                         tmp_path: Path) -> None:
    """The 1000x1000 OEM demo tile with the built-in spec: 448 fit, 3x3 windows of 224, GT-size output."""
    from farslip_eval.ovss import get_spec

    spec = get_spec("openearthmap")
    spec.image_dir(tmp_path).mkdir(parents=True)
    spec.label_dir(tmp_path).mkdir(parents=True)
    (spec.image_dir(tmp_path) / "koeln_50.tif").symlink_to(shared_fixtures / "segearth_ov/demo/oem_koeln_50.tif")
    label = np.full((1000, 1000), 8, np.uint8)
    label[:500] = 255
    Image.fromarray(label).save(spec.label_dir(tmp_path) / "koeln_50.tif", format="TIFF")
    res = evaluate(tiny, spec, tmp_path, batch_size=9, bg_threshold="off", progress=False)
    assert res["metrics"]["num_pixels"] == 500_000  # the ignored half is not counted
    assert np.array(res["confusion_matrix"])[8].sum() == 500_000
    assert res["protocol"]["fit_size"] == 448 and res["protocol"]["window"] == 224
    assert set(res["metrics"]["per_class_IoU"]) == {"background", "bareland", "grass", "pavement", "road", "tree",
                                                    "water", "cropland", "building"}
