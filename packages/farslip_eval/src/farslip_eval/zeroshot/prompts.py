"""Zero-shot prompt template sets (``{c}`` is the class name)."""

from __future__ import annotations

from farslip_eval.templates import OPENAI_IMAGENET_TEMPLATES

#: SkyScript's two templates, the ones FarSLIP's classification harness averages (note: no period on
#: the second). This is the default and the protocol behind the published table.
SKYSCRIPT_TEMPLATES: tuple[str, ...] = ("a satellite photo of {c}.", "a satellite image of {c}")

TEMPLATE_SETS: dict[str, tuple[str, ...]] = {
    "skyscript": SKYSCRIPT_TEMPLATES,
    "imagenet80": tuple(OPENAI_IMAGENET_TEMPLATES),
}


def resolve_templates(templates: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """A named template set, or an explicit list (each must contain ``{c}``)."""
    if templates is None:
        return SKYSCRIPT_TEMPLATES
    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise ValueError(f"unknown template set {templates!r}; expected one of {sorted(TEMPLATE_SETS)}")
        return TEMPLATE_SETS[templates]
    out = tuple(templates)
    if not out or any("{c}" not in t for t in out):
        raise ValueError(f"templates must be a non-empty list of strings containing '{{c}}', got {out!r}")
    return out
