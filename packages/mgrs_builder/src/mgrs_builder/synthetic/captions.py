"""Caption sentences for a scene: its class, dominant land cover and counted objects (seeded templates)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from .scenes import SCENES, Scene, cover_fractions

_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def count_phrase(name: str, n: int) -> str:
    """'one ship', 'three ships', 'many small vehicles'."""
    word = _NUMBERS[n] if n < len(_NUMBERS) else "many"
    return f"{word} {name}" if n == 1 else f"{word} {name}s"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def object_counts(scene: Scene) -> Counter[str]:
    return Counter(o.kind for o in scene.objects)


def describe(scene: Scene, rng: np.random.Generator, n: int = 5) -> list[str]:
    """``n`` different captions of the scene, in random order."""
    where = SCENES[scene.scene_class].phrase
    covers = [c for c, f in sorted(cover_fractions(scene).items(), key=lambda kv: -kv[1]) if f > 0.15][:2]
    lc_phrase = _join(covers)
    counts = object_counts(scene).most_common(3)
    objs = _join([count_phrase(k, v) for k, v in counts]) if counts else ""
    pool = [
        f"an aerial image of {where}.",
        f"a satellite image of {where} with {lc_phrase}.",
        f"{where} surrounded by {lc_phrase}.",
    ]
    if objs:
        pool += [
            f"{where} with {objs}.",
            f"there are {objs} in {where}.",
            f"{objs} on {lc_phrase}.",
            f"a satellite image of {objs} in {where}.",
        ]
    else:
        pool += [f"{where} without any objects.", f"a view of {lc_phrase} from above.",
                 f"mostly {lc_phrase}."]
    order = rng.permutation(len(pool))
    return [pool[i] for i in order[:n]] + [pool[order[0]]] * max(0, n - len(pool))
