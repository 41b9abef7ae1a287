"""FarSLIP losses against independent loop computations on small tensors."""

from __future__ import annotations

import math
import os

import pytest
import torch

from farslip_model.losses import (
    Teacher,
    global_contrastive_loss,
    patch_distillation_loss,
    region_category_loss,
    roi_align_mean,
)

torch.set_num_threads(1)


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _cos_matrix(a: torch.Tensor, b: torch.Tensor) -> list[list[float]]:
    au = [_unit(r) for r in a.tolist()]
    bu = [_unit(r) for r in b.tolist()]
    return [[sum(x * y for x, y in zip(r, c)) for c in bu] for r in au]


def _log_softmax_row(row: list[float], j: int) -> float:
    m = max(row)
    return row[j] - m - math.log(sum(math.exp(x - m) for x in row))


def _infonce_loop(img: torch.Tensor, txt: torch.Tensor, scale: float) -> float:
    s = [[scale * c for c in row] for row in _cos_matrix(img, txt)]
    st = [list(col) for col in zip(*s)]
    n = len(s)
    li = -sum(_log_softmax_row(s[i], i) for i in range(n)) / n
    lt = -sum(_log_softmax_row(st[i], i) for i in range(n)) / n
    return 0.5 * (li + lt)


def _mpcl_loop(img: torch.Tensor, txt: torch.Tensor, labels: list[int], scale: float) -> tuple[float, float]:
    """(image->text term, text->image term) of the multi-positive loss, positives = same label."""
    keep = [i for i, y in enumerate(labels) if y >= 0]
    s_full = _cos_matrix(img, txt)
    s = [[scale * s_full[i][j] for j in keep] for i in keep]
    st = [list(col) for col in zip(*s)]
    ys = [labels[i] for i in keep]
    terms = []
    for mat in (s, st):
        total = 0.0
        for i in range(len(ys)):
            pos = [j for j in range(len(ys)) if ys[j] == ys[i]]
            total += -sum(_log_softmax_row(mat[i], j) for j in pos) / len(pos)
        terms.append(total / len(ys))
    return terms[0], terms[1]


# ----------------------------------------------------------------------------------------- global
def test_global_contrastive_matches_loop_and_normalises() -> None:
    g = torch.Generator().manual_seed(0)
    img = torch.randn(4, 5, generator=g, dtype=torch.float64) * 3.0
    txt = torch.randn(4, 5, generator=g, dtype=torch.float64) * 0.2
    scale = torch.tensor(7.5, dtype=torch.float64)
    got = global_contrastive_loss(img, txt, scale)
    assert got.item() == pytest.approx(_infonce_loop(img, txt, 7.5), rel=1e-10)
    # rescaling a feature vector does not change the loss (features are L2-normalised inside)
    assert global_contrastive_loss(img * 10, txt, scale).item() == pytest.approx(got.item(), rel=1e-10)


def test_global_contrastive_gradients_reach_features_and_scale() -> None:
    img = torch.randn(3, 4, requires_grad=True)
    txt = torch.randn(3, 4, requires_grad=True)
    log_scale = torch.tensor(math.log(10.0), requires_grad=True)
    global_contrastive_loss(img, txt, log_scale.exp()).backward()
    for t in (img, txt, log_scale):
        assert t.grad is not None and t.grad.abs().sum() > 0


def test_global_contrastive_shape_error() -> None:
    with pytest.raises(ValueError, match="both be"):
        global_contrastive_loss(torch.randn(3, 4), torch.randn(2, 4), 10.0)


# -------------------------------------------------------------------------------------- RoIAlign
def _bilinear(fmap: list[list[list[float]]], y: float, x: float) -> list[float]:
    """torchvision's RoIAlign bilinear rule on a (H, W, C) nested list."""
    h, w, c = len(fmap), len(fmap[0]), len(fmap[0][0])
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return [0.0] * c
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    hy, hx = 1 - ly, 1 - lx
    return [
        hy * hx * fmap[y0][x0][k] + hy * lx * fmap[y0][x1][k] + ly * hx * fmap[y1][x0][k] + ly * lx * fmap[y1][x1][k]
        for k in range(c)
    ]


def _roi_mean_loop(grid: torch.Tensor, box: list[float]) -> list[float]:
    """Mean of RoIAlign(output = full grid, scale 1, adaptive sampling, aligned=True), by loops."""
    h, w, c = grid.shape
    fmap = grid.tolist()
    x1, y1, x2, y2 = box[0] * w - 0.5, box[1] * h - 0.5, box[2] * w - 0.5, box[3] * h - 0.5
    bin_h, bin_w = (y2 - y1) / h, (x2 - x1) / w
    sy, sx = math.ceil((y2 - y1) / h), math.ceil((x2 - x1) / w)
    acc = [0.0] * c
    for ph in range(h):
        for pw in range(w):
            for iy in range(sy):
                for ix in range(sx):
                    yy = y1 + ph * bin_h + (iy + 0.5) * bin_h / sy
                    xx = x1 + pw * bin_w + (ix + 0.5) * bin_w / sx
                    v = _bilinear(fmap, yy, xx)
                    acc = [a + b / (sy * sx) for a, b in zip(acc, v)]
    return [a / (h * w) for a in acc]


def test_roi_align_mean_matches_loop_on_non_square_grid() -> None:
    g = torch.Generator().manual_seed(1)
    h, w, d = 3, 4, 2
    dense = torch.randn(2, h * w, d, generator=g, dtype=torch.float64)
    boxes = torch.tensor(
        [[[0.0, 0.0, 1.0, 1.0], [0.1, 0.2, 0.6, 0.9]], [[0.5, 0.0, 1.0, 0.5], [0.05, 0.3, 0.95, 0.45]]],
        dtype=torch.float64,
    )
    got = roi_align_mean(dense, boxes, grid_size=(h, w))
    for b in range(2):
        grid = dense[b].reshape(h, w, d)
        for k in range(2):
            want = _roi_mean_loop(grid, boxes[b, k].tolist())
            assert got[b, k].tolist() == pytest.approx(want, rel=1e-9, abs=1e-12)
    # the full-image box samples every token centre exactly: its mean is the plain token mean
    assert torch.allclose(got[0, 0], dense[0].mean(0))


def test_roi_align_mean_accepts_4d_grid_and_rejects_non_square_without_size() -> None:
    dense = torch.randn(1, 2, 3, 4)
    boxes = torch.tensor([[[0.0, 0.0, 1.0, 1.0]]])
    assert torch.allclose(roi_align_mean(dense, boxes), dense.reshape(1, 6, 4).mean(1)[:, None], atol=1e-6)
    with pytest.raises(ValueError, match="grid_size"):
        roi_align_mean(dense.reshape(1, 6, 4), boxes)


# ---------------------------------------------------------------------------------- distillation
def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return sum(x * y for x, y in zip(_unit(a.tolist()), _unit(b.tolist())))


def _distill_setup(seed: int = 2) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    dense = torch.randn(2, 16, 3, generator=g, dtype=torch.float64)
    boxes = torch.tensor(
        [[[0.0, 0.0, 0.5, 0.5], [0.2, 0.1, 0.9, 0.7], [0.0, 0.0, 1.0, 1.0]],
         [[0.3, 0.3, 0.8, 1.0], [0.0, 0.5, 0.5, 1.0], [0.1, 0.1, 0.2, 0.2]]],
        dtype=torch.float64,
    )
    crops = torch.randn(2, 3, 9, 3, generator=g, dtype=torch.float64)
    cls = torch.randn(2, 3, 3, generator=g, dtype=torch.float64)
    valid = torch.tensor([[True, True, False], [True, False, True]])
    return dense, boxes, crops, cls, valid


def test_distillation_roi2pooled_with_valid_mask_matches_loop() -> None:
    dense, boxes, crops, _, valid = _distill_setup()
    per = {}
    for b in range(2):
        for k in range(3):
            student = torch.tensor(_roi_mean_loop(dense[b].reshape(4, 4, 3), boxes[b, k].tolist()), dtype=torch.float64)
            per[(b, k)] = 1 - _cos(student, crops[b, k].mean(0))
    want = sum(v for (b, k), v in per.items() if valid[b, k]) / int(valid.sum())
    got = patch_distillation_loss(dense, boxes, crops, valid=valid)
    assert got.item() == pytest.approx(want, rel=1e-9)
    want_all = sum(per.values()) / 6
    assert patch_distillation_loss(dense, boxes, crops).item() == pytest.approx(want_all, rel=1e-9)
    # a 5-column box tensor carries the validity flag like the reference (x1, y1, x2, y2, valid)
    boxes5 = torch.cat([boxes, valid[..., None].double()], dim=-1)
    assert patch_distillation_loss(dense, boxes5, crops).item() == pytest.approx(want, rel=1e-9)


def test_distillation_roi2cls_and_combined_match_loop() -> None:
    dense, boxes, crops, cls, valid = _distill_setup(3)
    pooled_terms, cls_terms = [], []
    for b in range(2):
        for k in range(3):
            if not valid[b, k]:
                continue
            student = torch.tensor(_roi_mean_loop(dense[b].reshape(4, 4, 3), boxes[b, k].tolist()), dtype=torch.float64)
            pooled_terms.append(1 - _cos(student, crops[b, k].mean(0)))
            cls_terms.append(1 - _cos(student, cls[b, k]))
    n = len(cls_terms)
    got_cls = patch_distillation_loss(dense, boxes, crops, align="roi2cls", crop_cls=cls, valid=valid)
    assert got_cls.item() == pytest.approx(sum(cls_terms) / n, rel=1e-9)
    got_comb = patch_distillation_loss(dense, boxes, crops, align="combined", crop_cls=cls, valid=valid)
    assert got_comb.item() == pytest.approx(0.5 * (sum(cls_terms) + sum(pooled_terms)) / n, rel=1e-9)
    with pytest.raises(ValueError, match="crop_cls"):
        patch_distillation_loss(dense, boxes, crops, align="roi2cls")
    with pytest.raises(ValueError, match="align"):
        patch_distillation_loss(dense, boxes, crops, align="roi2roi")  # type: ignore[arg-type]


def test_distillation_gradients_active_teacher_both_branches_and_masked_regions_silent() -> None:
    dense, boxes, crops, _, valid = _distill_setup(4)
    dense.requires_grad_(True)
    crops.requires_grad_(True)
    patch_distillation_loss(dense, boxes, crops, valid=valid).backward()
    assert dense.grad is not None and dense.grad.abs().sum() > 0  # student branch
    assert crops.grad is not None
    assert crops.grad[valid].abs().sum() > 0  # active teacher: no stop-gradient
    assert crops.grad[~valid].abs().sum() == 0  # invalid regions contribute nothing


def test_distillation_all_invalid_is_zero_and_backpropagates() -> None:
    dense, boxes, crops, _, valid = _distill_setup(5)
    dense.requires_grad_(True)
    loss = patch_distillation_loss(dense, boxes, crops, valid=torch.zeros_like(valid))
    loss.backward()
    assert loss.item() == 0.0 and dense.grad is not None


# --------------------------------------------------------------------------------------- region
def test_region_multi_positive_matches_loop_with_repeats_ignored_and_padding() -> None:
    g = torch.Generator().manual_seed(6)
    labels = [3, 5, 3, -1, 7, 5, 3, -1]  # repeats, a free-text row (-1) and a padding row (-1)
    region = torch.randn(8, 4, generator=g, dtype=torch.float64)
    text = torch.randn(8, 4, generator=g, dtype=torch.float64)
    li, lt = _mpcl_loop(region, text, labels, 12.0)
    got = region_category_loss(region, text, torch.tensor(labels), 12.0)
    assert got.item() == pytest.approx(0.5 * (li + lt), rel=1e-10)
    # ignored rows really are ignored: changing them leaves the loss unchanged
    region2, text2 = region.clone(), text.clone()
    region2[[3, 7]] = torch.randn(2, 4, dtype=torch.float64)
    text2[[3, 7]] = torch.randn(2, 4, dtype=torch.float64)
    assert region_category_loss(region2, text2, torch.tensor(labels), 12.0).item() == pytest.approx(got.item())


def test_region_multi_positive_equals_infonce_when_labels_distinct() -> None:
    g = torch.Generator().manual_seed(7)
    region = torch.randn(5, 4, generator=g, dtype=torch.float64)
    text = torch.randn(5, 4, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 4, 2, 9, 1])
    mp = region_category_loss(region, text, labels, 9.0)
    sp = region_category_loss(region, text, labels, 9.0, variant="single_positive")
    assert mp.item() == pytest.approx(sp.item(), rel=1e-12)
    assert sp.item() == pytest.approx(_infonce_loop(region, text, 9.0), rel=1e-10)


def test_region_shared_category_texts_make_mpcl_equal_infonce() -> None:
    """Checked, and true: when same-category regions share one identical text (the reference's
    "a satellite image of {category}"), MPCL equals InfoNCE. Image->text rows agree term by term
    (the positives' logits are identical); text->image rows differ one by one but their sum over a
    category is the same. The gradient reaching a shared text (summed over its copies) agrees too."""
    g = torch.Generator().manual_seed(8)
    labels = [0, 1, 0, 2, 1, 0]
    cat_text = torch.randn(3, 4, generator=g, dtype=torch.float64)
    region = torch.randn(6, 4, generator=g, dtype=torch.float64)
    text = cat_text[labels]
    mp_i, mp_t = _mpcl_loop(region, text, labels, 10.0)
    s = [[10.0 * c for c in row] for row in _cos_matrix(region, text)]
    st = [list(col) for col in zip(*s)]
    nce_i = -sum(_log_softmax_row(s[i], i) for i in range(6)) / 6
    nce_t = -sum(_log_softmax_row(st[i], i) for i in range(6)) / 6
    assert mp_i == pytest.approx(nce_i, rel=1e-10)
    assert mp_t == pytest.approx(nce_t, rel=1e-10)
    per_row_mp = -sum(_log_softmax_row(st[0], j) for j in (0, 2, 5)) / 3
    assert abs(per_row_mp - (-_log_softmax_row(st[0], 0))) > 1e-3  # ...though not row by row
    grads = []
    for variant in ("multi_positive", "single_positive"):
        cat = cat_text.clone().requires_grad_(True)
        reg = region.clone().requires_grad_(True)
        loss = region_category_loss(reg, cat[labels], torch.tensor(labels), 10.0, variant=variant)
        loss.backward()
        grads.append((loss.item(), cat.grad, reg.grad))
    assert grads[0][0] == pytest.approx(0.5 * (mp_i + mp_t), rel=1e-10)
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-10)
    assert torch.allclose(grads[0][1], grads[1][1]) and torch.allclose(grads[0][2], grads[1][2])


def test_region_mpcl_differs_from_infonce_when_same_category_texts_differ() -> None:
    g = torch.Generator().manual_seed(10)
    labels = torch.tensor([0, 1, 0, 1])
    region = torch.randn(4, 4, generator=g, dtype=torch.float64)
    text = torch.randn(4, 4, generator=g, dtype=torch.float64)  # e.g. per-object free captions
    mp = region_category_loss(region, text, labels, 10.0)
    sp = region_category_loss(region, text, labels, 10.0, variant="single_positive")
    li, lt = _mpcl_loop(region, text, labels.tolist(), 10.0)
    assert mp.item() == pytest.approx(0.5 * (li + lt), rel=1e-10)
    assert sp.item() == pytest.approx(_infonce_loop(region, text, 10.0), rel=1e-10)
    assert abs(mp.item() - sp.item()) > 1e-3


def test_region_single_positive_ignores_padding() -> None:
    g = torch.Generator().manual_seed(9)
    region = torch.randn(5, 4, generator=g, dtype=torch.float64)
    text = torch.randn(5, 4, generator=g, dtype=torch.float64)
    labels = torch.tensor([1, -1, 2, 2, -1])
    keep = labels >= 0
    got = region_category_loss(region, text, labels, 5.0, variant="single_positive")
    assert got.item() == pytest.approx(_infonce_loop(region[keep], text[keep], 5.0), rel=1e-10)


def test_region_gradients_flow_to_kept_rows_only() -> None:
    region = torch.randn(4, 3, requires_grad=True)
    text = torch.randn(4, 3, requires_grad=True)
    labels = torch.tensor([2, -1, 2, 0])
    region_category_loss(region, text, labels, 10.0).backward()
    assert region.grad is not None and text.grad is not None
    assert region.grad[[0, 2, 3]].abs().sum() > 0 and text.grad[[0, 2, 3]].abs().sum() > 0
    assert region.grad[1].abs().sum() == 0 and text.grad[1].abs().sum() == 0


def test_region_all_ignored_is_zero_with_graph() -> None:
    region = torch.randn(3, 3, requires_grad=True)
    loss = region_category_loss(region, torch.randn(3, 3), torch.full((3,), -1), 10.0)
    loss.backward()
    assert loss.item() == 0.0 and region.grad is not None


def test_region_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="labels"):
        region_category_loss(torch.randn(3, 2), torch.randn(3, 2), torch.zeros(2), 1.0)
    with pytest.raises(ValueError, match="variant"):
        region_category_loss(torch.randn(3, 2), torch.randn(3, 2), torch.zeros(3), 1.0, variant="x")  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------- teacher
def test_teacher_modes() -> None:
    student = torch.nn.Linear(2, 2)
    active = Teacher(student, "active")
    assert active.model is student and not active.has_copy and active.state_dict() == {}
    frozen = Teacher(student, "frozen")
    assert frozen.model is not student and not any(p.requires_grad for p in frozen.model.parameters())
    ema = Teacher(student, "ema", momentum=0.9)
    before = ema.model.weight.detach().clone()
    with torch.no_grad():
        student.weight.add_(1.0)
    ema.update(student)
    frozen.update(student)
    assert torch.allclose(ema.model.weight, 0.9 * before + 0.1 * student.weight.detach())
    assert torch.allclose(frozen.model.weight, before)
    with ema.context():
        assert ema.model(torch.randn(1, 2)).requires_grad is False
    with pytest.raises(ValueError, match="teacher mode"):
        Teacher(student, "shared")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- two ranks (gloo)
def _global_batch() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(11)
    img, txt = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    reg, rtxt = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    labels = torch.tensor([1, 2, -1, 1, 3, 2, -1, 1])
    return img, txt, reg, rtxt, labels


_SPLITS = {"global": [(0, 3), (3, 6)], "region": [(0, 3), (3, 8)]}  # unequal region rows per rank


def _rank_worker(rank: int, world: int, store: str, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        img, txt, reg, rtxt, labels = _global_batch()
        a, b = _SPLITS["global"][rank]
        c, d = _SPLITS["region"][rank]
        my_img = img[a:b].clone().requires_grad_(True)
        my_reg = reg[c:d].clone().requires_grad_(True)
        lg = global_contrastive_loss(my_img, txt[a:b], 10.0)
        lr = region_category_loss(my_reg, rtxt[c:d], labels[c:d], 10.0)
        (lg + lr).backward()
        torch.save({"lg": lg.item(), "lr": lr.item(), "g_img": my_img.grad, "g_reg": my_reg.grad}, f"{out}/{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork to start the two ranks cheaply")
def test_losses_gather_across_two_gloo_ranks(tmp_path) -> None:
    """Two ranks give the single-process global-batch loss; own-rank gradients as the reference:
    global (gather without grad) = single-process rows, region (gather with grad) = world x rows."""
    import torch.multiprocessing as mp

    mp.start_processes(
        _rank_worker, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True, start_method="fork"
    )
    img, txt, reg, rtxt, labels = _global_batch()
    img.requires_grad_(True)
    reg.requires_grad_(True)
    lg = global_contrastive_loss(img, txt, 10.0)
    lr = region_category_loss(reg, rtxt, labels, 10.0)
    (lg + lr).backward()
    for rank in range(2):
        got = torch.load(tmp_path / f"{rank}.pt", weights_only=True)
        assert got["lg"] == pytest.approx(lg.item(), rel=1e-5)
        assert got["lr"] == pytest.approx(lr.item(), rel=1e-5)
        a, b = _SPLITS["global"][rank]
        c, d = _SPLITS["region"][rank]
        torch.testing.assert_close(got["g_img"], img.grad[a:b], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(got["g_reg"], 2 * reg.grad[c:d], rtol=1e-4, atol=1e-6)


def test_single_process_world_and_identity_gathers(monkeypatch: pytest.MonkeyPatch) -> None:
    from farslip_model import distributed as d

    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    info = d.world_info()
    assert (info.rank, info.world_size, info.local_rank, info.is_main, info.distributed) == (3, 4, 1, False, True)
    monkeypatch.setenv("WORLD_SIZE", "x")
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        d.world_info()
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert d.init_distributed() == d.WorldInfo(0, 1, 1) and d.is_main()
    t = torch.randn(3, 2, requires_grad=True)
    assert d.all_gather_no_grad(t) is t and d.all_gather_with_grad(t) is t
