"""Security: hostile law strings are rejected without executing anything, the source tree holds no unsafe
deserialisation or code execution, spec files are read with safe loaders, and store passwords never show.

(The HTML report's escaping of user text is tested in tests/test_report.py and, in a real browser, in
tests/test_report_browser.py.)
"""

from __future__ import annotations

import ast
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_parse import HOSTILE, no_execution

from scalinglab import ScalingLabError
from scalinglab._errors import LawParseError
from scalinglab.laws import parse_law
from scalinglab.laws._parse import MAX_LENGTH

SRC = Path(__file__).resolve().parents[1] / "src"

# ------------------------------------------------------------------------------------------ audit hook
# Audit hooks cannot be removed; this one only records while ``_AUDIT.active`` is set (in this thread).
_DANGEROUS_EVENTS = ("exec", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "subprocess.Popen",
                     "open", "os.remove", "os.rename", "shutil.", "socket.", "ctypes.", "builtins.input",
                     "pickle.find_class", "marshal.loads", "urllib.")
_AUDIT = threading.local()


def _audit_hook(event: str, args) -> None:
    if getattr(_AUDIT, "active", False) and event.startswith(_DANGEROUS_EVENTS):
        _AUDIT.events.append(event)


sys.addaudithook(_audit_hook)


@contextmanager
def audited():
    """Record every dangerous audit event (process creation, exec of code, file opens...) in the block."""
    _AUDIT.events, _AUDIT.active = [], True
    try:
        yield _AUDIT.events
    finally:
        _AUDIT.active = False


@contextmanager
def hang_guard(seconds: int = 20):
    """Fail instead of hanging forever (an exponent bomb that is evaluated would never return)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def boom(*_):
        raise AssertionError(f"still running after {seconds} s: the input is being evaluated")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------------------------------ hostile laws
#: Hostile law strings NOT already in tests/test_parse.py (that file has ~100 more).
MORE_HOSTILE = [
    # attribute access / dunder walks to builtins
    "exp(N).__class__", "max.__self__", "max.__self__.open", "exp.__code__", "log.__module__", "(1).__class__",
    "1 .__class__", "N.__class__.__base__", "N.real.imag", "N.__getattribute__", "sigmoid.__call__(N)",
    "__loader__", "__spec__", "__name__ + N", "__debug__ * N", "N + __file__", "_ + N",
    # builtins and modules by name
    "dir()", "help(N)", "type(N)", "setattr(N, D, 1)", "delattr(N, D)", "os.system(N)", "sys.exit(1)",
    "np.load(N)", "numpy.frombuffer(N)", "object.__subclasses__()", "memoryview(N)", "hasattr(N, D)",
    "iter(N)", "next(N)", "range(N)", "reload(N)", "exit()", "quit()", "super()",
    # lambdas, comprehensions, walrus, f-strings, literals
    "lambda *a: a", "(lambda: N)()", "[N for N in range(10**9)]", "{N: D for N in D}", "{N for N in D}",
    "(N := 10**10)", "[(y := N)]", "max((y := N), D)", "f'{N.__class__}'", "rf'{N}'", "F'{N}'",
    "u'N'", "'\\x5f\\x5fimport\\x5f\\x5f'", "exp(N, *D)", "min(**N)", "N[::-1]", "N(D)", "(N)(D)",
    "[N, D]", "N, D", "{N}", "N if N > D else D",
    # statements
    "async def f(): pass", "class X: pass", "def f(): pass", "del N", "assert N", "raise SystemExit",
    "global N", "with N as f: pass", "try: N\nexcept: pass", "from os import system", "import subprocess",
    "N\rimport os", "N;", "N = 1", "N += 1", "pass", "return N",
    # exponent / overflow bombs (constant folding must reject, never compute a huge integer)
    "9**9**9**9**9", "N**(9**9**9)", "(10**10)**(10**10)", "exp(1e6) * N", "exp(exp(exp(exp(10)))) * N",
    "1/0 * N", "log(0) + N", "sqrt(-1) + N", "10**309 * N", "1e308 * 1e308 * N", "N ** -9**9**9",
    "2**2**2**2**2**2 * N", "99999999999**99999999999 + N", "max(9**9**9, N)",
    # very long / deep inputs
    "x" * 5000, "(" * 10_000 + ")" * 10_000, "+" * 200 + "N", "exp(" * 60 + "N" + ")" * 60,
    "A*N+" * (MAX_LENGTH // 4 + 1) + "N", "1" * 100_000 + " * N", "N" + " " * 3000,
    # control characters and look-alikes
    "\x00N", "N\x1b[31m", "\uff50\uff52\uff49\uff4e\uff54(N)", "\U0001d41e\U0001d42f\U0001d41a\U0001d425(N)",
    "N\u202e + D", "\ufeffN + A",
]


def test_more_hostile_strings_are_new_and_many():
    known = {h.replace("{{", "{").replace("}}", "}") for h in HOSTILE}
    assert len(MORE_HOSTILE) == len(set(MORE_HOSTILE))
    assert len(set(MORE_HOSTILE) - known) >= 50, "extend the list with strings test_parse.py lacks"


@pytest.mark.parametrize("expr", MORE_HOSTILE, ids=lambda e: repr(e[:40]))
def test_hostile_law_rejected_without_executing(expr):
    calls: list[str] = []
    error = None
    with hang_guard(), audited() as events, no_execution(calls):
        try:
            parse_law(expr)
        except LawParseError as exc:
            error = exc
    assert error is not None, f"accepted {expr[:80]!r}"
    assert str(error).startswith("invalid law expression")
    assert calls == [] and events == [], (calls, events)


def test_audit_hook_would_see_execution(tmp_path):
    """The detector itself works: a real exec/open inside the block is recorded."""
    with audited() as events:
        code = "1 + 1"
        exec(compile(code, "<t>", "eval"))  # noqa: S102 - the point of this test
        (tmp_path / "f").write_text("x")
    assert "exec" in events and "open" in events


def test_lookalike_function_names_do_not_escape_the_whitelist():
    """NFKC folds mathematical letters to ASCII: 𝐞𝐱𝐩 is exp (allowed), 𝐞𝐯𝐚𝐥 is eval (rejected)."""
    law = parse_law("A * \U0001d41e\U0001d431\U0001d429(-N) + E")
    assert set(law.variables) == {"N"}
    with pytest.raises(LawParseError, match="unknown function"):
        parse_law("\U0001d41e\U0001d42f\U0001d41a\U0001d425(N)")


# ------------------------------------------------------------------------------------------ source scan
def _call_name(func: ast.AST) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def _is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def unsafe_calls(source: str, filename: str = "<src>") -> list[str]:
    """Every unsafe call in ``source``: eval/exec/compile-to-code, pickle/marshal/shelve loads, yaml.load
    without a safe loader, torch.load without weights_only=True, shell=True, os.system/popen,
    np.load(allow_pickle=True), pandas read_pickle. Method calls such as ``model.eval()`` are fine."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node.func)
        last = name.rsplit(".", 1)[-1]
        where = f"{filename}:{node.lineno}: {name}("
        if name in ("eval", "exec", "__import__", "builtins.eval", "builtins.exec"):
            found.append(where)
        elif name == "compile":
            flags = node.args[3] if len(node.args) > 3 else _kw(node, "flags")
            if flags is None or "PyCF_ONLY_AST" not in ast.unparse(flags):
                found.append(where)
        elif name.split(".")[0] in ("pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib") \
                and last in ("load", "loads", "open", "Unpickler"):
            found.append(where)
        elif last in ("read_pickle", "unsafe_load", "full_load"):
            found.append(where)
        elif name in ("yaml.load", "yaml.load_all"):
            loader = _kw(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is None or "Safe" not in ast.unparse(loader):
                found.append(where)
        elif name == "torch.load" or (last == "load" and name.startswith("torch.")):
            if not _is_true(_kw(node, "weights_only")):
                found.append(where)
        elif name in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"):
            found.append(where)
        elif last == "load" and name.split(".")[0] in ("np", "numpy") and _is_true(_kw(node, "allow_pickle")):
            found.append(where)
        if _is_true(_kw(node, "shell")):
            found.append(f"{filename}:{node.lineno}: shell=True")
    return found


def test_scanner_catches_every_pattern():
    bad = """
import pickle, yaml, torch, subprocess, os, numpy as np, pandas as pd, marshal
eval(s); exec(s); compile(s, "f", "exec"); __import__("os")
pickle.load(f); pickle.loads(b); marshal.loads(b)
yaml.load(t); yaml.load(t, Loader=yaml.Loader); yaml.unsafe_load(t)
torch.load(p); torch.load(p, weights_only=False)
subprocess.run(c, shell=True); os.system(c); os.popen(c)
np.load(p, allow_pickle=True); pd.read_pickle(p)
"""
    assert len(unsafe_calls(bad)) == 17, unsafe_calls(bad)
    good = """
import ast, yaml, torch, numpy as np
model.eval(); ast.parse(s, mode="eval"); compile(s, "f", "eval", ast.PyCF_ONLY_AST)
yaml.safe_load(t); yaml.load(t, Loader=yaml.SafeLoader); torch.load(p, weights_only=True)
np.load(p); subprocess.run([c], shell=False); json.loads(s)
"""
    assert unsafe_calls(good) == []


def test_source_tree_has_no_unsafe_execution_or_deserialisation():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 30
    found = [hit for f in files for hit in unsafe_calls(f.read_text(encoding="utf-8"), str(f.relative_to(SRC)))]
    assert found == [], "unsafe calls in src/:\n" + "\n".join(found)


def test_torch_checkpoints_are_loaded_with_weights_only():
    text = (SRC / "scalinglab" / "runner" / "train.py").read_text()
    assert "torch.load(" in text and "weights_only=True" in text


# ------------------------------------------------------------------------------------------ safe spec files
@pytest.mark.parametrize("payload", [
    "!!python/object/apply:os.system ['touch {sentinel}']",
    "sweep: !!python/object/apply:os.system ['touch {sentinel}']\n",
    "x: !!python/name:os.system\n",
    "x: !!python/object/new:subprocess.Popen [['touch', '{sentinel}']]\n",
])
def test_yaml_spec_tags_are_not_constructed(tmp_path, payload):
    from scalinglab.runner.spec import SpecError, load_spec

    sentinel = tmp_path / "pwned"
    spec = tmp_path / "spec.yaml"
    spec.write_text(payload.replace("{sentinel}", str(sentinel)))
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    assert str(spec) in str(info.value)
    assert not sentinel.exists()


def test_toml_spec_is_data_only(tmp_path):
    from scalinglab.runner.spec import SpecError, load_spec

    spec = tmp_path / "spec.toml"
    spec.write_text("[sweep]\nkind = \"__import__('os').system('id')\"\n")
    with pytest.raises(SpecError, match="sweep.kind"):
        load_spec(spec)


# ------------------------------------------------------------------------------------------ secrets
SECRET_URL = "postgresql+psycopg://user:s3cret@localhost:1/db"


def test_mask_url_hides_password():
    from scalinglab.store import mask_url

    assert "s3cret" not in mask_url(SECRET_URL) and "user" in mask_url(SECRET_URL)
    assert "s3cret" not in mask_url("postgresql://u:s3cret@h/db?sslmode=require")
    assert "s3cret" not in mask_url("://u:s3cret@")  # unparseable: still nothing leaked


def test_store_errors_and_repr_never_show_the_password():
    from scalinglab.store import Store

    with pytest.raises(ScalingLabError) as info:  # no driver / no server: a StoreError, password hidden
        Store(SECRET_URL, busy_timeout_s=1)
    assert "s3cret" not in str(info.value)
    assert "s3cret" not in repr(info.value)


def test_store_repr_masks_password(tmp_path):
    """A Store built on SQLite but carrying a URL with a password (as a PostgreSQL one would)."""
    from sqlalchemy.engine import make_url

    from scalinglab.store import Store

    st = Store(tmp_path / "r.db")
    try:
        url = make_url(f"sqlite:///{tmp_path / 'r.db'}").set(username="user", password="s3cret")
        st.url = url
        assert "s3cret" not in repr(st) and "s3cret" not in str(st)
        assert "***" in repr(st)
    finally:
        st.close()


@pytest.mark.parametrize("argv", [["runs", "list"], ["runs", "show", "abc"], ["runs", "export", "--json"]])
def test_cli_never_prints_store_password(argv, monkeypatch):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    # nothing listens there: the store retries a refused connection, for 1 s here instead of the default 300 s
    monkeypatch.setenv("SCALINGLAB_STORE_RETRY_S", "1")
    res = CliRunner().invoke(app, [*argv, "--store", SECRET_URL])
    assert res.exit_code == 2, res.output
    text = (res.stdout or "") + (res.stderr or "")
    assert "s3cret" not in text and "Traceback" not in text
    assert text.strip()


def test_run_task_repr_hides_password():
    pytest.importorskip("torch")
    from scalinglab.runner.executor import RunTask

    task = RunTask({}, SECRET_URL, "/tmp/ckpt")
    assert "s3cret" not in repr(task) and "s3cret" not in str(task)


AT_URL = "postgresql+psycopg://lab:s3cr@tPW@127.0.0.1:1/scalinglab"  # a password with an unencoded '@'


def test_mask_url_hides_a_password_holding_an_at_sign():
    from sqlalchemy.engine import make_url

    from scalinglab.store import mask_url

    assert mask_url(AT_URL) == "postgresql+psycopg://lab:***@127.0.0.1:1/scalinglab"
    assert mask_url(make_url(AT_URL)) == "postgresql+psycopg://lab:***@127.0.0.1:1/scalinglab"  # parsed at the 1st '@'
    # a path argument collapses '//': still masked
    assert mask_url("postgresql+psycopg:/lab:s3cret@h:1/db") == "postgresql+psycopg:/lab:***@h:1/db"
    assert mask_url("runs.db") == "runs.db" and mask_url("postgresql://u@h/db") == "postgresql://u@h/db"


@pytest.mark.parametrize("argv, says", [
    (["validate", SECRET_URL], "a run store URL; this command reads a run table file"),
    (["convert", SECRET_URL, "x.csv"], "a run store URL; this command reads a run table file"),
    (["fit", SECRET_URL, "--drop-missing-loss"], "--drop-missing-loss applies to a run table file"),
    # before the store is opened (a refused option used to wait for the store's curves first)
    (["report", SECRET_URL, "--column", "foo=bar", "-o", "r.html"], "--column applies to a run table file"),
    (["report", SECRET_URL, "--drop-missing-loss", "-o", "r.html"], "--drop-missing-loss applies")])
def test_table_commands_never_print_a_store_password(argv, says, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCALINGLAB_STORE_RETRY_S", "1")
    res = CliRunner().invoke(app, argv)
    text = (res.stdout or "") + (res.stderr or "")
    assert res.exit_code == 2, text
    assert "s3cret" not in text and "user:***@localhost:1/db" in text and says in text, text
    assert text.count("error:") == 1 and not list(tmp_path.iterdir())


def test_a_password_with_an_at_sign_is_not_shown_and_the_error_says_to_encode_it(monkeypatch):
    pytest.importorskip("psycopg")
    from typer.testing import CliRunner

    from scalinglab.cli import app

    monkeypatch.setenv("SCALINGLAB_STORE_RETRY_S", "1")
    res = CliRunner().invoke(app, ["runs", "list", "--store", AT_URL])
    text = (res.stdout or "") + (res.stderr or "")
    assert res.exit_code == 2, text
    assert "s3cr" not in text and "tPW" not in text, text
    assert "Store('postgresql+psycopg://lab:***@127.0.0.1:1/scalinglab')" in text
    assert "URL-encode special characters in the password (%40 for @" in text


def test_masking_reads_only_the_authority():
    """An '@' in the query or a SQLite path was taken for a password's: a query was masked, and every error of a
    store whose file path held two '@' turned into the URL-encoding hint."""
    from scalinglab._urls import mask_url, several_ats

    assert mask_url("postgresql://db:5432/runs?application_name=a@b") == "postgresql://db:5432/runs?application_name=a@b"
    assert mask_url("postgresql+psycopg://lab:s3cr@t@db:5432/runs") == "postgresql+psycopg://lab:***@db:5432/runs"
    assert mask_url("postgresql://lab:p/w@db/x") == "postgresql://lab:***@db/x"
    assert several_ats("postgresql+psycopg://lab:s3cr@t@db:5432/runs")
    assert not several_ats("sqlite:////data/team@x/runs@v2.db")
    assert not several_ats("postgresql://lab:pw@db/x?application_name=a@b")
