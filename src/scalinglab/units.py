"""Parse and format quantities such as ``"70B"`` params, ``"1.4T"`` tokens or ``"3.14e23"`` FLOPs.

Accepted forms (case of the suffix matters only where it would be ambiguous):

* plain numbers: ``1400000``, ``1.4e12``, ``6.7E9``, ``1_000``; thousands separators ``1,000,000``, ``7,000M``
* SI-style count suffixes: ``k``/``K`` = 1e3, ``M`` = 1e6, ``B``/``G`` = 1e9, ``T`` = 1e12, ``P`` = 1e15,
  ``E`` = 1e18 (an ``e`` followed by digits is an exponent), optionally separated by a space: ``1.3 M``
* powers: ``2^20``, ``2**20``, ``10^23``
* an optional trailing unit word is ignored: ``"70B params"``, ``"300B tokens"``, ``"3e23 FLOPs"``
* a scale written out: ``"1.4 billion"``, ``"70 million tokens"``; ``Bn``/``mn``/``tn`` in any case
* money (`parse_money`): ``"$100k"``, ``"2.5 USD"``

Rejected as ambiguous: lower-case ``m`` (milli or million?), ``b`` (bit/byte?), two-letter suffixes
other than the listed ones, several suffixes (``1MB``), binary prefixes ``Ki``/``Mi`` (ask for ``2^10``).
"""

from __future__ import annotations

import math
import re

from ._errors import UnitError

__all__ = ["parse_quantity", "parse_money", "parse_assignments", "format_quantity", "SUFFIXES"]

SUFFIXES: dict[str, float] = {
    "k": 1e3, "K": 1e3,
    "M": 1e6,
    "B": 1e9, "G": 1e9, "bn": 1e9, "Bn": 1e9, "BN": 1e9,
    "mn": 1e6, "Mn": 1e6, "MN": 1e6,
    "T": 1e12, "tn": 1e12, "Tn": 1e12, "TN": 1e12,
    "P": 1e15,
    "E": 1e18,
}
_UNIT_WORDS = r"(?:params?|parameters?|tokens?|toks?|flops?|FLOPs?|FLOP|samples?|steps?|examples?)"
#: a plain number as tables write it: 3.1, .5, 1e-3, 1,000,000 (thousands commas), 1_000 (the one pattern
#: of a number; the cell readers of `scalinglab.data` use it too)
NUMBER = r"[+-]?(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QTY = re.compile(rf"^\s*(?P<num>{NUMBER})\s*(?P<suf>[A-Za-z]{{1,2}})?\s*(?:{_UNIT_WORDS})?\s*$")
#: a scale written out: 1.4 billion, 70 million tokens, 3 thousand
_SCALE_WORDS = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_WORDED = re.compile(rf"^\s*(?P<num>{NUMBER})\s*(?P<word>thousand|million|billion|trillion)s?\s*(?:{_UNIT_WORDS})?\s*$",
                     re.IGNORECASE)
_POW = re.compile(r"^\s*(?P<base>\d+(?:\.\d+)?)\s*(?:\^|\*\*)\s*(?P<exp>[+-]?\d+(?:\.\d+)?)\s*$")


def parse_quantity(text: str | float | int, *, what: str = "value") -> float:
    """Return the float value of ``text`` (a number or a unit string).

    ``what`` names the quantity in error messages. Raises :class:`UnitError` for anything that is not
    exactly one understood quantity; never guesses.

    >>> parse_quantity("70B"), parse_quantity("1.4T"), parse_quantity("2^20")
    (70000000000.0, 1400000000000.0, 1048576.0)
    """
    if isinstance(text, bool):
        raise UnitError(f"{what}: expected a number, got a boolean")
    if isinstance(text, int | float):
        return float(text)
    if not isinstance(text, str):
        raise UnitError(f"{what}: expected a number or a string such as '70B', got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise UnitError(f"{what}: empty value")
    m = _POW.match(s)
    if m:
        base, exp = float(m["base"]), float(m["exp"])
        if abs(exp) > 400:
            raise UnitError(f"{what}: exponent too large in {text!r}")
        try:
            value = base**exp
        except OverflowError:
            raise UnitError(f"{what}: {text!r} overflows a float") from None
        except ZeroDivisionError:
            raise UnitError(f"{what}: {text!r} divides by zero") from None
        return _finite(value, text, what)
    m = _WORDED.match(s)
    if m:
        return _finite(float(m["num"].replace("_", "").replace(",", "")) * _SCALE_WORDS[m["word"].lower()], text, what)
    m = _QTY.match(s)
    if not m:
        raise UnitError(f"{what}: cannot parse {text!r}; use a number (3.14e23) or a suffix k/M/B/T (70B, 1.4T)")
    num = float(m["num"].replace("_", "").replace(",", ""))
    suf = m["suf"]
    if suf is None:
        return _finite(num, text, what)
    if suf not in SUFFIXES:
        hint = " ('m' could be milli or million: write M)" if suf == "m" else ""
        hint = hint or (" ('b' could be bits or bytes: write B for billions)" if suf == "b" else "")
        raise UnitError(f"{what}: unknown or ambiguous suffix {suf!r} in {text!r}{hint}")
    return _finite(num * SUFFIXES[suf], text, what)


def parse_money(text: str | float | int, *, what: str = "amount (USD)") -> float:
    """`parse_quantity` for US dollars: a leading ``$`` or a trailing ``USD`` / ``$`` is read past
    (``"$100k"``, ``"2.5 USD"``, ``"$1.2M"``).

    >>> parse_money("$100k"), parse_money("2.5 USD")
    (100000.0, 2.5)
    """
    if isinstance(text, str):
        s = text.strip()
        s = s[1:] if s.startswith("$") else s
        s = re.sub(r"\s*(?:USD|\$)\s*$", "", s, flags=re.IGNORECASE)
        return parse_quantity(s, what=what)
    return parse_quantity(text, what=what)


def scale_suffix(text: str) -> str | None:
    """The scale suffix a unit string carries (``"70M"`` -> ``"M"``, ``"1.4 T tokens"`` -> ``"T"``); None for
    a plain number or anything `parse_quantity` would not read with a suffix.

    >>> scale_suffix("70M"), scale_suffix("3.2e9"), scale_suffix("70 params")
    ('M', None, None)
    """
    m = _QTY.match(str(text))
    return m["suf"] if m and m["suf"] in SUFFIXES else None


def _finite(value: float, text: str, what: str) -> float:
    if not math.isfinite(value):
        raise UnitError(f"{what}: {text!r} is not a finite number")
    return value


def format_quantity(value: float, *, digits: int = 3) -> str:
    """Format a count with a suffix: ``70000000000`` → ``"70B"``, ``1.4e12`` → ``"1.4T"``; tiny or huge
    values (< 1e3 or ≥ 1e18) use scientific notation.

    >>> format_quantity(7e10), format_quantity(1.4e12), format_quantity(3.14e23)
    ('70B', '1.4T', '3.14e+23')
    """
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    for suffix, scale in (("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if 1e3 > a / scale >= 1:
            return f"{v / scale:.{digits}g}{suffix}"
    return f"{v:.{digits}g}"


def parse_assignments(text: str, *, what: str = "point", example: str = "N=70B,D=1.4T") -> dict[str, str]:
    """``"N=70B,D=1.4T"`` (pairs separated by commas, or by spaces before the next ``VAR=``) ->
    ``{"N": "70B", "D": "1.4T"}``: the
    ``VAR=VALUE`` text of a prediction point, in order, values left as text (parse each with
    `parse_quantity`).

    Raises
    ------
    InputError
        If a part is not ``VAR=VALUE``, or a variable is given twice; the message names ``what`` and shows
        ``example``.
    """
    import re

    from ._errors import InputError

    out: dict[str, str] = {}
    # commas separate pairs; so does whitespace before the next ``VAR=`` (a value may hold a space: "70 B")
    for part in re.split(r"\s*,\s*|\s+(?=[A-Za-z_][\w.]*\s*=)", str(text).strip()):
        if not part:
            continue
        if "=" not in part:
            raise InputError(f"{what} {text!r}: expected VAR=VALUE pairs such as {example}, got {part!r}")
        k, v = part.split("=", 1)
        if k.strip() in out:
            raise InputError(f"{what} {text!r}: {k.strip()} is given twice ({out[k.strip()]} and {v.strip()})")
        out[k.strip()] = v.strip()
    return out
