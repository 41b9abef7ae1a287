"""DOTA-devkit-style windows and the visible-area rule."""

from __future__ import annotations

import pytest
from shapely import STRtree
from shapely.geometry import box
from shapely.ops import unary_union

from mgrs_builder.geometry import check_polygon
from mgrs_builder.tiling import objects_in_window, tile_windows


def test_windows_follow_the_devkit_walk_with_last_window_flush() -> None:
    wins = tile_windows(1111, 1182, 512, 128)  # size of the DOTA sample P0706
    xs = sorted({w[0] for w in wins})
    ys = sorted({w[1] for w in wins})
    assert xs == [0, 384, 599] and ys == [0, 384, 670]
    assert all(w[2] - w[0] == 512 and w[3] - w[1] == 512 for w in wins)
    assert max(w[2] for w in wins) == 1111 and max(w[3] for w in wins) == 1182
    cover = unary_union([box(*w) for w in wins])
    assert cover.equals(box(0, 0, 1111, 1182))


def test_small_and_exact_images_give_one_window() -> None:
    assert tile_windows(100, 60, 512, 128) == [(0, 0, 100, 60)]
    assert tile_windows(512, 512, 512, 128) == [(0, 0, 512, 512)]
    assert tile_windows(513, 10, 512, 128) == [(0, 0, 512, 10), (1, 0, 513, 10)]


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (64, 64), (64, -1)])
def test_bad_tiling_parameters_raise(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="tile_size|overlap"):
        tile_windows(100, 100, size, overlap)


def test_visible_area_rule_and_truncated_flag() -> None:
    shapes = []
    for pts in [
        ((10.0, 10.0), (20.0, 10.0), (20.0, 20.0), (10.0, 20.0)),  # fully inside
        ((45.0, 10.0), (55.0, 10.0), (55.0, 20.0), (45.0, 20.0)),  # exactly half inside
        ((46.0, 30.0), (56.0, 30.0), (56.0, 40.0), (46.0, 40.0)),  # 40% inside
    ]:
        c = check_polygon(pts, 100, 100)
        shapes.append((c.shape, c.area))
    kept = objects_in_window(shapes, (0, 0, 50, 50), min_visible=0.5)
    assert [k.index for k in kept] == [0, 1]
    assert not kept[0].clipped.truncated and kept[1].clipped.truncated
    assert kept[1].clipped.visible_fraction == pytest.approx(0.5)
    assert [k.index for k in objects_in_window(shapes, (0, 0, 50, 50), min_visible=0.3)] == [0, 1, 2]
    assert [k.index for k in objects_in_window(shapes, (0, 0, 50, 50), min_visible=1.0)] == [0]
    tree = STRtree([s for s, _ in shapes])
    with_tree = objects_in_window(shapes, (0, 0, 50, 50), min_visible=0.3, tree=tree)
    assert [k.index for k in with_tree] == [0, 1, 2]
    assert [k.index for k in objects_in_window(shapes, (60, 60, 100, 100), tree=tree)] == []
