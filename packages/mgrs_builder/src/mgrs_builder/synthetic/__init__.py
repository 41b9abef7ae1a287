"""A seeded synthetic aerial world written in the native layouts the project reads (numpy + PIL only).

``generate_world(out_dir, preset, seed)`` draws top-down scenes (land cover with textures, objects of
13 categories at random positions, orientations and scales, with a GSD) and writes DOTA, iSAID and
LoveDA sources, two OVSS sets, a scene classification set, a retrieval set and a training caption set.
"""

from .scenes import SCENES
from .world import PRESETS, WorldInfo, WorldPreset, generate_world

__all__ = ["PRESETS", "SCENES", "WorldInfo", "WorldPreset", "generate_world"]
