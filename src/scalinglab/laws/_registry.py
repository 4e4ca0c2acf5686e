"""Name -> law registry: ``get_law``, ``get_preset``, ``list_laws``, ``list_presets``, ``law_from_spec``."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping

from .._errors import CatalogError, LawError
from ._base import Law, Preset

__all__ = ["get_law", "get_preset", "list_laws", "list_presets", "register_law", "law_from_spec"]

_FACTORIES: dict[str, Callable[..., Law]] = {}
_EXPRESSION_CHARS = set("+-*/() ")


def register_law(name: str, factory: Callable[..., Law]) -> None:
    """Add a law factory (a `Law` subclass or any callable returning a `Law`) under ``name``."""
    _FACTORIES[name] = factory


_LOADED: list[bool] = []


def _ensure_loaded() -> None:
    if not _LOADED:
        from ._catalog import CATALOG

        for key, factory in CATALOG.items():
            _FACTORIES.setdefault(key, factory)
        _LOADED.append(True)


def _presets() -> dict[str, Preset]:
    from ._presets import PRESETS

    return PRESETS


def _unknown(kind: str, name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(sorted(known))})"


def get_law(name_or_expression: str | Law, /, **options) -> Law:
    """Return a law by catalog name (``"chinchilla"``), preset name (its law) or expression.

    ``options`` go to the law's constructor, e.g. ``get_law("power", variable="N")`` or
    ``get_law("sigmoid", floor=0.25)``. A string that is not a catalog or preset name but looks like a
    formula (``"E + A/N**alpha + B/D**beta"``) is handed to :func:`parse_law` (options such as
    ``bounds=`` and ``variables=`` go with it).

    Raises
    ------
    LawError
        If ``options`` are given with a `Law` object or are not accepted by the law, the argument is
        neither a `Law` nor a string, or the name is unknown (the message suggests close matches). Its
        subclass `LawParseError` if an expression is rejected by the parser.
    """
    if isinstance(name_or_expression, Law):
        if options:
            raise LawError("options can only be given with a law name")
        return name_or_expression
    if not isinstance(name_or_expression, str):
        raise LawError(f"a law is named by a string, got {type(name_or_expression).__name__}")
    _ensure_loaded()
    key = name_or_expression.strip()
    if key.lower() in _FACTORIES:
        key = key.lower()
    if key in _FACTORIES:
        try:
            return _FACTORIES[key](**options)
        except TypeError as exc:
            raise LawError(f"law {key!r}: invalid option(s) {sorted(options)}: {exc}") from None
    presets = _presets()
    if key.lower() in presets:
        preset = presets[key.lower()]
        return _FACTORIES[preset.law](**{**preset.law_options, **options})
    if any(ch in _EXPRESSION_CHARS for ch in key):
        from ._parse import parse_law

        return parse_law(key, **options)
    raise LawError(_unknown("law", key, list(_FACTORIES) + list(presets)))


def get_preset(name: str, /) -> tuple[Law, Preset]:
    """Return ``(law, preset)`` for a preset name, e.g. ``get_preset("chinchilla-epoch")``.

    Names are case-insensitive. ``preset.values`` holds the published constants in natural space.

    Raises
    ------
    CatalogError
        If ``name`` is not a known preset (the message suggests close matches and lists the known ones).
    """
    _ensure_loaded()
    presets = _presets()
    key = str(name).strip().lower()
    if key not in presets:
        raise CatalogError(_unknown("preset", str(name), presets))
    preset = presets[key]
    return _FACTORIES[preset.law](**preset.law_options), preset


def list_laws() -> list[dict]:
    """One JSON-able dict per catalog law: name, variables, parameters, formula, target, description."""
    _ensure_loaded()
    out = []
    for name, factory in _FACTORIES.items():
        law = factory()
        out.append({
            "name": name,
            "variables": list(law.variables),
            "parameters": list(law.param_names),
            "formula": law.formula,
            "target": law.target,
            "description": law.description or (law.__doc__ or "").strip().splitlines()[0],
            "bounds": {p.name: [p.lower, p.upper] for p in law.params},
            "log_params": [p.name for p in law.params if p.log],
            "presets": [p.name for p in _presets().values() if p.law == name],
        })
    return out


def list_presets() -> list[dict]:
    """One JSON-able dict per preset: name, law, values, source, notes, conventions (and stderr if known)."""
    return [{"name": p.name, "law": p.law, "values": dict(p.values), "source": p.source, "notes": p.notes,
             "conventions": dict(p.conventions), "stderr": dict(p.stderr) or None,
             "law_options": dict(p.law_options)} for p in _presets().values()]


def law_from_spec(spec: Mapping[str, object] | str) -> Law:
    """Rebuild a law from :meth:`Law.spec` output (what a saved fit stores) or a plain name.

    Raises
    ------
    LawError
        If a mapping has neither a ``name`` nor an ``expression``, or the name / options do not give a
        valid law (see :func:`get_law`). Its subclass `LawParseError` if an expression is rejected.
    """
    if isinstance(spec, str):
        return get_law(spec)
    spec = dict(spec)
    if "expression" in spec:
        from ._parse import parse_law

        bounds = spec.get("bounds") or None
        if bounds:
            bounds = {k: tuple(v) for k, v in bounds.items()}
        return parse_law(str(spec["expression"]), bounds=bounds, variables=spec.get("variables"),
                         target=str(spec.get("target", "loss")))
    name = spec.pop("name", None)
    if not isinstance(name, str):
        raise LawError(f"law spec needs a 'name' (or an 'expression'): {spec!r}")
    return get_law(name, **spec)
