"""Polygon checks, horizontal boxes and clipping to tiles."""

from __future__ import annotations

import math

import pytest

from mgrs_builder.geometry import (DEGENERATE, NAN_COORDINATES, OUTSIDE_IMAGE, SELF_INTERSECTING, TOO_FEW_POINTS,
                                   check_polygon, clip_to_window, hbb, polygon_problem)

SQUARE = ((10.0, 10.0), (30.0, 10.0), (30.0, 30.0), (10.0, 30.0))


@pytest.mark.parametrize(
    ("points", "reason"),
    [
        (((1.0, 1.0), (2.0, 2.0)), TOO_FEW_POINTS),
        (((1.0, math.nan), (5.0, 1.0), (5.0, 5.0), (1.0, 5.0)), NAN_COORDINATES),
        (((1.0, 1.0), (5.0, 1.0), (9.0, 1.0), (3.0, 1.0)), DEGENERATE),
        (((0.0, 0.0), (10.0, 10.0), (10.0, 0.0), (0.0, 10.0)), SELF_INTERSECTING),  # bow tie
        (((200.0, 200.0), (220.0, 200.0), (220.0, 220.0), (200.0, 220.0)), OUTSIDE_IMAGE),
    ],
)
def test_polygon_problems_are_named(points: tuple[tuple[float, float], ...], reason: str) -> None:
    problem = polygon_problem(points, 100, 100)
    assert problem is not None and problem[0] == reason
    with pytest.raises(ValueError) as info:
        check_polygon(points, 100, 100)
    assert info.value.args[0] == reason


def test_valid_polygon_and_clipping_to_the_image() -> None:
    assert polygon_problem(SQUARE, 100, 100) is None
    inside = check_polygon(SQUARE, 100, 100)
    assert inside.area == pytest.approx(400.0) and not inside.clipped_to_image
    # half outside the right border: kept, clipped to the image
    edge = check_polygon(((90.0, 10.0), (110.0, 10.0), (110.0, 20.0), (90.0, 20.0)), 100, 100)
    assert edge.clipped_to_image and edge.area == pytest.approx(100.0)
    assert edge.shape.bounds == (90.0, 10.0, 100.0, 20.0)


def test_hbb_of_oriented_box() -> None:
    assert hbb(((5.0, 0.0), (10.0, 5.0), (5.0, 10.0), (0.0, 5.0))) == (0.0, 0.0, 10.0, 10.0)


def test_clip_inside_window_shifts_into_tile_pixels() -> None:
    shape = check_polygon(SQUARE, 100, 100)
    c = clip_to_window(shape.shape, shape.area, (5, 5, 55, 55))
    assert c is not None
    assert c.bbox == (5.0, 5.0, 25.0, 25.0)
    assert not c.truncated and c.visible_fraction == 1.0
    assert len(c.polygon) == 8 and min(c.polygon) == 5.0 and max(c.polygon) == 25.0


def test_clip_cut_by_border_is_truncated_with_its_iof() -> None:
    shape = check_polygon(SQUARE, 100, 100)
    c = clip_to_window(shape.shape, shape.area, (20, 0, 70, 50))
    assert c is not None and c.truncated
    assert c.visible_fraction == pytest.approx(0.5)
    assert c.bbox == (0.0, 10.0, 10.0, 30.0)
    assert clip_to_window(shape.shape, shape.area, (40, 40, 90, 90)) is None


def test_clip_of_concave_region_split_by_border_covers_both_parts() -> None:
    # a U shape whose two arms both reach into the window x in [0, 100], y in [0, 10]
    u = ((0.0, 0.0), (10.0, 0.0), (10.0, 20.0), (30.0, 20.0), (30.0, 0.0), (40.0, 0.0), (40.0, 30.0), (0.0, 30.0))
    shape = check_polygon(u, 100, 100)
    c = clip_to_window(shape.shape, shape.area, (0, 0, 100, 10))
    assert c is not None
    assert c.bbox == (0.0, 0.0, 40.0, 10.0)  # box spans both arms
    xs = c.polygon[0::2]
    assert max(xs) - min(xs) == pytest.approx(10.0)  # polygon is one arm (the largest part)
