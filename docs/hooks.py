"""MkDocs hook: generate the pages that must never drift from the code, at build time.

* ``cli.md`` — the CLI reference, walked from the Typer app (:mod:`gen_cli`).
* ``reference/presets.md`` — every published preset with its constants, source and conventions
  (from ``scalinglab.laws.list_presets()``).
* ``examples/<name>.md`` + ``examples/figures/<name>.png`` — each worked example in ``examples/``: its
  docstring, the output of a fast run and the figure it draws (generated now, not committed), and its
  source. ``own_ladder`` trains models, so it is shown but not run. Set ``SCALINGLAB_DOCS_RUN_EXAMPLES=0``
  to skip running the examples (faster local previews; pages then show the source only).

Nothing is written into ``docs/``: files are added to the build in memory (``File.generated``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import sys
import tempfile
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DOCS = Path(__file__).resolve().parent
#: examples in the order the site lists them (every ``examples/*.py`` not starting with "_" must be here).
EXAMPLE_ORDER = ("kaplan_vs_chinchilla", "chinchilla_vs_gopher", "gpt3_compute_cost", "llama3_overtraining",
                 "emergence_mirage", "repeated_sampling", "data_wall", "broken_power_law", "own_ladder", "toy_emergence")
NOT_RUN = {"own_ladder": "This example trains models (a few CPU-minutes), so the documentation build does "
                         "not run it; the numbers above are what `scalinglab demo --quick` prints."}


def _rst_to_md(text: str) -> str:
    """Docstrings use reST roles (:func:`x`) and ``literals``; turn them into Markdown code spans."""
    text = re.sub(r":(?:func|class|mod|meth|attr|data|obj):`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _load(name: str):
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _example_page(name: str, run: bool, tmp: Path) -> tuple[str, bytes | None]:
    source = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
    module = _load(name)
    doc = _rst_to_md((module.__doc__ or name).strip())
    title, _, body = doc.partition("\n\n")
    lines = [f"# {title.strip()}", "", body.strip(), ""]
    output, figure = "", None
    if run and name not in NOT_RUN:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            result = module.main(fast=True, out=tmp)
        output = buf.getvalue().replace(str(tmp), "examples/out")
        fig_path = Path(result.get("figure") or "")
        if fig_path.is_file():
            figure = fig_path.read_bytes()
    lines += ["## Run it", "", "```bash", f"python examples/{name}.py            # or add --fast, --out DIR",
              "```", ""]
    if output:
        lines += ["## Output", "", "Produced by `--fast` at documentation build time:", "", "```text",
                  output.rstrip(), "```", ""]
    if figure is not None:
        lines += [f"![{title.strip()}](figures/{name}.png)", ""]
    if name in NOT_RUN:
        lines += ["!!! note", f"    {NOT_RUN[name]}", ""]
    lines += ["## Source", "", f"```python title=\"examples/{name}.py\"", source.rstrip(), "```", ""]
    return "\n".join(lines), figure


def _presets_page() -> str:
    from scalinglab.laws import list_presets

    lines = ["# Published presets", "",
             "Generated from `scalinglab.laws.list_presets()` at build time. Constants are only valid under the "
             "conventions they were fitted with: compare a preset's prediction with your runs only after "
             "converting to the same parameter count, FLOP convention, tokenizer and loss unit "
             "(see [Units and conventions](../concepts.md)).", "",
             "| preset | law | params | FLOPs | loss | dataset |", "|---|---|---|---|---|---|"]
    presets = list_presets()
    for p in presets:
        c = p.get("conventions") or {}
        lines.append(f"| [`{p['name']}`](#{p['name']}) | `{p['law']}` | {c.get('params', '')} | "
                     f"{c.get('flops', '')} | {c.get('loss', c.get('output', ''))} | {c.get('dataset', '')} |")
    lines.append("")
    for p in presets:
        values = ", ".join(f"{k} = {v:.6g}" for k, v in p["values"].items())
        lines += [f"## {p['name']}", "", f"Law `{p['law']}`: {values}.", "", f"**Source.** {p['source']}", ""]
        if p.get("stderr"):
            lines += ["**Standard errors.** " + ", ".join(f"{k} {v:g}" for k, v in p["stderr"].items()), ""]
        if p.get("notes"):
            lines += [f"**Notes.** {p['notes']}", ""]
        conv = p.get("conventions") or {}
        if conv:
            lines += ["**Conventions.** " + "; ".join(f"{k}: {v}" for k, v in conv.items()), ""]
    return "\n".join(lines)


def on_files(files: Files, config) -> Files:
    sys.path.insert(0, str(DOCS))
    try:
        from gen_cli import cli_markdown
    finally:
        sys.path.remove(str(DOCS))
    files.append(File.generated(config, "cli.md", content=cli_markdown()))
    files.append(File.generated(config, "reference/presets.md", content=_presets_page()))
    present = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_"))
    missing = sorted(set(present) - set(EXAMPLE_ORDER))
    if missing:
        raise RuntimeError(f"docs/hooks.py: add these examples to EXAMPLE_ORDER: {', '.join(missing)}")
    run = os.environ.get("SCALINGLAB_DOCS_RUN_EXAMPLES", "1") != "0"
    import matplotlib

    matplotlib.use("Agg")
    with tempfile.TemporaryDirectory(prefix="scalinglab-docs-") as tmp:
        for name in EXAMPLE_ORDER:
            if name not in present:
                continue
            page, figure = _example_page(name, run, Path(tmp))
            files.append(File.generated(config, f"examples/{name}.md", content=page))
            if figure is not None:
                files.append(File.generated(config, f"examples/figures/{name}.png", content=figure))
    return files
