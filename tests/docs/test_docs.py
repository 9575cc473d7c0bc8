"""Runs every example of README.md and docs/, and checks every output shown.

Conventions (docs/README.md repeats them for contributors):

- A fenced block whose language is `sql`, `sh`, `python` or `js` is an
  example, and it is run.
- A fenced block right after an example (nothing but blank lines between)
  whose language is anything else (`text`, `json`, `ini`, ...) is that
  example's exact output: stdout and stderr as they came, trailing whitespace
  and trailing blank lines ignored. A line that is exactly `...` matches any
  number of lines (times, pids, durations).
- An sql example without an output block must print nothing. An sh, python or
  js example without one is checked for its exit status only. Every example
  must exit 0 (write `cmd || true` or `cmd; echo "exit $?"` for one that
  fails on purpose).
- A block whose language is `signature` is a function's or command's synopsis,
  and is not run. Any other fenced block (no language, or an output block
  that follows no example) fails the test: no example escapes it.

How a page of docs/ runs: in a fresh temporary directory, examples in the
order of the page.
- sql: every sql block of the page in ONE `sqlite3` shell (Debian's
  /usr/bin/sqlite3, `-batch -init /dev/null`) on `orq.db` in that directory,
  liborq loaded, the connection's clock fixed with `orq_clock(1800000000)`,
  `.mode box --wrap 0` and `.nullvalue NULL`, all before the first block and
  printing nothing. Each block is `.read` from a file of its own, so an
  error's "near line N" counts lines of the block.
- sh: `bash` with `set -euo pipefail`, `target/bundled/release` first on
  PATH (so `orq` is the CLI just built); `orq` uses `./orq.db`, the sql
  blocks' database. ```` ```sh background ```` starts the block, gives it a
  second, and leaves it running until the page ends (`orq serve`, `orq
  worker`); then its process group is killed. A background block has no
  output block.
- python: target/pyenv/bin/python (pytest, apsw and the orq package), the
  script on stdin (tracebacks say `<stdin>`).
- js: node, the script on stdin, `require('orq')` resolving to bindings/node.

README.md runs literally, at the repository root, in order, as a newcomer
would type it (test_readme_literally): its sh blocks with ~/.cargo/bin on
PATH, its sql blocks in one plain `sqlite3` shell (nothing loaded, nothing
fixed: the tour loads the extension itself), its python blocks with
`.venv/bin/python` (the venv the README's install line makes) and its js
blocks with node in `node-demo/` (where the README's npm line installs). The
Python steps (sh blocks that mention python3 or .venv, and the python
blocks) run twice: with `python3` being Debian's /usr/bin/python3, then
pyenv's python3 (skipped, saying why, where pyenv is absent); `.venv` is
removed before each. The line `tests/run` is not run: this harness is part
of it.

ORQ_BLESS=1 rewrites every output block that does not match with the real
output (and adds one after an sql example that printed without one); read
the diff before committing it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "target" / "release" / "liborq"
CLI_DIR = ROOT / "target" / "bundled" / "release"
PYTHON = ROOT / "target" / "pyenv" / "bin" / "python"
NODE_PACKAGE = ROOT / "bindings" / "node"
EXAMPLE_LANGUAGES = {"sql", "sh", "python", "js"}
CLOCK = 1800000000
TIMEOUT = 600  # seconds one example may take (the README's first builds orq)
BLESS = os.environ.get("ORQ_BLESS") == "1"
FENCE = re.compile(r"^(`{3,}|~{3,})\s*(.*)$")


@dataclass
class Block:
    info: str
    body: str
    first: int  # line index of the opening fence
    last: int  # line index of the closing fence

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info else ""

    @property
    def flags(self) -> list[str]:
        return self.info.split()[1:]


@dataclass
class Example:
    code: Block
    output: Block | None = None
    page: Path = field(default=ROOT)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.code.first + 1}"


def fenced_blocks(lines: list[str]) -> list[Block]:
    blocks, opened, body = [], None, []
    for i, line in enumerate(lines):
        match = FENCE.match(line)
        if opened is None:
            if match:
                opened, body = (i, match.group(1), match.group(2).strip()), []
        elif match and match.group(1).startswith(opened[1]) and not match.group(2):
            blocks.append(Block(opened[2], "".join(l + "\n" for l in body), opened[0], i))
            opened = None
        else:
            body.append(line)
    if opened is not None:
        raise AssertionError(f"line {opened[0] + 1}: a fenced block that never closes")
    return blocks


def examples(page: Path) -> list[Example]:
    """The page's examples with their output blocks; fails on any block that
    is neither an example, its output, nor a signature."""
    lines = page.read_text().splitlines()
    found: list[Example] = []
    previous: Block | None = None
    for block in fenced_blocks(lines):
        where = f"{page.relative_to(ROOT)}:{block.first + 1}"
        follows = previous is not None and all(not l.strip() for l in lines[previous.last + 1 : block.first])
        if block.language in EXAMPLE_LANGUAGES:
            found.append(Example(block, page=page))
        elif block.language == "signature":
            pass
        elif not block.language:
            raise AssertionError(f"{where}: a fenced block without a language (sql, sh, python, js, signature, or an output block's)")
        elif follows and found and found[-1].code is previous and found[-1].output is None:
            if "background" in previous.flags:
                raise AssertionError(f"{where}: a background block has no output block")
            found[-1].output = block
        else:
            raise AssertionError(f"{where}: a ```{block.language} block that is neither an example nor right after one")
        previous = block
    return found


def matches(expected: str, got: str) -> bool:
    """Line by line, trailing whitespace ignored; a line `...` matches any
    number of lines."""
    want, have = normalize(expected), normalize(got)

    def match(w: int, h: int) -> bool:
        if w == len(want):
            return h == len(have)
        if want[w] == "...":
            return any(match(w + 1, k) for k in range(h, len(have) + 1))
        return h < len(have) and want[w] == have[h] and match(w + 1, h + 1)

    return match(0, 0)


def normalize(text: str) -> list[str]:
    lines = [l.rstrip() for l in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


class SqlShell:
    """One sqlite3 shell for a page: blocks go in through `.read`, and the
    output of each ends at a marker the shell prints after it."""

    MARKER = "@@orq-docs-end-of-block@@"

    def __init__(self, cwd: Path, scratch: Path, args: list[str], prelude: str):
        self.scratch, self.count = scratch, 0
        # stdbuf: stdout unbuffered, so errors (stderr, same pipe) land in order.
        self.process = subprocess.Popen(
            ["stdbuf", "-o0", "-e0", "sqlite3", "-batch", "-init", "/dev/null", *args],
            cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if prelude:
            out = self.run(prelude)
            assert out == "", f"the sql prelude printed: {out}"

    def run(self, sql: str) -> str:
        self.count += 1
        path = self.scratch / f"block-{self.count}.sql"
        path.write_text(sql)
        self.process.stdin.write(f".read {path}\n.print {self.MARKER}\n")
        self.process.stdin.flush()
        out = []
        for line in self.process.stdout:
            if line.rstrip("\n") == self.MARKER:
                return "".join(out)
            out.append(line)
        raise AssertionError("the sqlite3 shell ended early:\n" + "".join(out))

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


class Page:
    """Runs one page's examples in order and collects what went wrong."""

    def __init__(self, page: Path, cwd: Path, scratch: Path, env: dict, sql_args: list[str], sql_prelude: str):
        self.page, self.cwd, self.scratch, self.env = page, cwd, scratch, env
        self.sql_args, self.sql_prelude = sql_args, sql_prelude
        self.shell: SqlShell | None = None
        self.background: list[subprocess.Popen] = []
        self.failures: list[str] = []
        self.blessed: list[tuple[Example, str]] = []

    def run(self, example: Example, python: str = str(PYTHON), node_cwd: Path | None = None) -> None:
        language, code = example.code.language, example.code.body
        if language == "sql":
            if self.shell is None:
                self.shell = SqlShell(self.cwd, self.scratch, self.sql_args, self.sql_prelude)
            got, status = self.shell.run(code), 0
        elif language == "sh" and "background" in example.code.flags:
            self.start_background(code)
            return
        elif language == "sh":
            got, status = self.process(["bash", "-c", "set -euo pipefail\n" + code], None, self.cwd)
        elif language == "python":
            got, status = self.process([python, "-"], code, self.cwd)
        else:
            got, status = self.process(["node", "-"], code, node_cwd or self.cwd)
        self.check(example, got, status)

    def process(self, argv: list[str], stdin: str | None, cwd: Path) -> tuple[str, int]:
        done = subprocess.run(
            argv, input=stdin if stdin is not None else "", cwd=cwd, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT,
        )
        return done.stdout, done.returncode

    def start_background(self, code: str) -> None:
        log = open(self.scratch / f"background-{len(self.background)}.log", "w")
        self.background.append(subprocess.Popen(
            ["bash", "-c", "set -euo pipefail\n" + code], cwd=self.cwd, env=self.env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))
        time.sleep(1)

    def check(self, example: Example, got: str, status: int) -> None:
        if status != 0:
            self.failures.append(f"{example.where}: exit status {status}\n--- output\n{got}")
            return
        if example.output is None:
            if example.code.language == "sql" and normalize(got):
                self.mismatch(example, "(nothing)", got)
            return
        if not matches(example.output.body, got):
            self.mismatch(example, example.output.body, got)

    def mismatch(self, example: Example, expected: str, got: str) -> None:
        if BLESS:
            self.blessed.append((example, got))
        else:
            self.failures.append(f"{example.where}:\n--- expected\n{expected}--- got\n{got}")

    def close(self) -> None:
        if self.shell is not None:
            self.shell.close()
        for process in self.background:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.blessed:
            bless(self.page, self.blessed)


def bless(page: Path, blessed: list[tuple[Example, str]]) -> None:
    """Writes the real outputs into the page, from the bottom up so that line
    numbers above stay true."""
    lines = page.read_text().splitlines()
    for example, got in sorted(blessed, key=lambda e: -e[0].code.first):
        new = ["```text", *normalize(got), "```"]
        if example.output is not None:
            lines[example.output.first : example.output.last + 1] = [f"```{example.output.info}", *normalize(got), "```"]
        else:
            lines[example.code.last + 1 : example.code.last + 1] = new
    page.write_text("\n".join(lines) + "\n")


def tool_env(first_on_path: list[Path]) -> dict:
    env = dict(os.environ)
    env.pop("ORQ_DB", None)
    env["PATH"] = os.pathsep.join([*map(str, first_on_path), env.get("PATH", "")])
    env["NODE_PATH"] = str(NODE_PACKAGE / "node_modules")
    return env


DOC_PAGES = sorted((ROOT / "docs").rglob("*.md"))


@pytest.mark.parametrize("page", DOC_PAGES, ids=[str(p.relative_to(ROOT / "docs")) for p in DOC_PAGES])
def test_page(page: Path) -> None:
    found = examples(page)
    with tempfile.TemporaryDirectory(prefix="orq-docs-") as cwd, tempfile.TemporaryDirectory() as scratch:
        node_modules = Path(cwd) / "node_modules"
        node_modules.mkdir()
        (node_modules / "orq").symlink_to(NODE_PACKAGE)
        prelude = (
            f".load {EXTENSION}\n.output /dev/null\nSELECT orq_clock({CLOCK});\n.output\n"
            ".mode box --wrap 0\n.nullvalue NULL\n"
        )
        runner = Page(page, Path(cwd), Path(scratch), tool_env([CLI_DIR]), ["orq.db"], prelude)
        try:
            for example in found:
                runner.run(example)
        finally:
            runner.close()
    assert not runner.failures, "\n".join(runner.failures)


def test_readme_blocks_are_all_examples() -> None:
    """Cheap: every fenced block of README.md is classified (no run)."""
    assert examples(ROOT / "README.md")


def readme_is_python_step(example: Example) -> bool:
    code = example.code
    return code.language == "python" or (code.language == "sh" and ("python3" in code.body or ".venv" in code.body))


def pyenv_python3() -> str | None:
    shim = Path.home() / ".pyenv" / "shims" / "python3"
    if shim.exists():
        return str(shim)
    found = shutil.which("pyenv")
    if found:
        done = subprocess.run([found, "which", "python3"], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.strip()
    return None


def test_readme_literally(tmp_path: Path) -> None:
    """README.md top to bottom at the repository root, as a newcomer types it."""
    readme = ROOT / "README.md"
    found = examples(readme)
    cargo_bin = Path.home() / ".cargo" / "bin"
    # `python3` on PATH is the interpreter under test: a directory holding
    # only a link to it comes first.
    chosen = tmp_path / "python3-under-test"
    chosen.mkdir()

    def use_python(interpreter: str) -> None:
        link = chosen / "python3"
        link.unlink(missing_ok=True)
        link.symlink_to(interpreter)
        shutil.rmtree(ROOT / ".venv", ignore_errors=True)

    runner = Page(readme, ROOT, tmp_path, tool_env([chosen, cargo_bin]), [], "")
    skipped = []
    try:
        use_python("/usr/bin/python3")
        for example in found:
            run_readme_example(runner, example)
        pyenv = pyenv_python3()
        if pyenv is None:
            skipped.append("pyenv is not installed: the Python lines ran with /usr/bin/python3 only")
        else:
            use_python(pyenv)
            for example in filter(readme_is_python_step, found):
                run_readme_example(runner, example)
    finally:
        runner.close()
    for reason in skipped:
        print(reason)
    assert not runner.failures, "\n".join(runner.failures)


def run_readme_example(runner: Page, example: Example) -> None:
    if example.code.language == "sh":
        lines = example.code.body.splitlines(keepends=True)
        # The test command is not run: this harness is part of it.
        kept = "".join(l for l in lines if l.strip() != "tests/run")
        if not kept.strip() or all(l.strip().startswith("#") or not l.strip() for l in kept.splitlines()):
            return
        example = Example(Block(example.code.info, kept, example.code.first, example.code.last), example.output, example.page)
    runner.run(example, python=str(ROOT / ".venv" / "bin" / "python"), node_cwd=ROOT / "node-demo")


LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's ids of a page's headings."""
    found = set()
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


# The pages that link into the docs: the README, docs/, and the READMEs of
# the packages and examples.
LINKING_PAGES = [ROOT / "README.md", *DOC_PAGES, *sorted(ROOT.glob("bindings/*/README.md")), ROOT / "examples" / "README.md"]


@pytest.mark.parametrize("page", LINKING_PAGES, ids=[str(p.relative_to(ROOT)) for p in LINKING_PAGES])
def test_links_resolve(page: Path) -> None:
    """Every relative link of those pages names a file that exists, and a
    heading of it when it has an anchor."""
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {broken}"
