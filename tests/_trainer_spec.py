"""A sweep spec of one tiny run whose trainer is a Python script: the fixture the external-trainer tests share."""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: this interpreter, as a TOML string
PY = json.dumps(sys.executable)


def trainer_spec(tmp_path: Path, script: str, *, name: str = "one", tokens: int = 1000, extra: str = "",
                 defaults: str = "", vocab: int = 64) -> Path:
    """A spec of one tiny run whose trainer is the Python ``script`` (written beside the spec as ``name.py``);
    ``extra`` lines go under ``[trainer]``, ``defaults`` under ``[defaults]``."""
    (tmp_path / f"{name}.py").write_text(script)
    p = tmp_path / f"{name}.toml"
    p.write_text(f"""
[sweep]
name = "{name}"
[defaults]
arch = {{ vocab_size = {vocab} }}
{defaults}
[[runs]]
arch = {{ n_layer = 1, d_model = 16, n_heads = 2 }}
tokens = {tokens}
[trainer]
command = [{PY}, "{name}.py"]
{extra}
""")
    return p


def checkpoint_trainer(*, sleep_s: float = 0.0, log_tokens: bool = False, final: str = "2.0 + start") -> str:
    """A trainer script of 10 steps that checkpoints every 3 (JSON), resumes from $SCALINGLAB_RESUME, exits 1 at
    step $FAIL_AT and finishes with the loss ``final`` (an expression of ``start``, the step it resumed from);
    ``sleep_s`` seconds per step; ``log_tokens``: each point carries 100 tokens per step and a val_loss."""
    point = "step=step, tokens=100 * step, loss=3.0, val_loss=3.0" if log_tokens else "step=step, loss=3.0"
    return f"""
import json, os, sys, time
from scalinglab import track
d = os.environ["SCALINGLAB_RUN_DIR"]
resume = os.environ.get("SCALINGLAB_RESUME") or ""
start = json.load(open(resume))["step"] if resume else 0
for step in range(start + 1, 11):
    time.sleep({sleep_s})
    track.log({point})
    if step % 3 == 0:
        path = os.path.join(d, f"ckpt_{{step}}.json")
        json.dump({{"step": step}}, open(path, "w"))
        track.checkpoint(path, step=step)
    if os.environ.get("FAIL_AT") == str(step):
        sys.exit(1)
track.finish(loss={final})
"""
