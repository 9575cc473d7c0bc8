"""Puts the orq extension inside the package, built by the repository's own
`cargo build --release`.

The library is a plain SQLite loadable extension, not a CPython module, so it
needs no binding layer: building it exactly as `cargo build --release`,
`tests/run` and the Node package do keeps one build of it in target/release.
(setuptools-rust built it with other crate types, so every pip install and
every cargo build after it recompiled the extension.) Its file name starts
with "liborq.", from which SQLite derives the entry point sqlite3_orq_init
where a driver cannot name it (stdlib sqlite3 before Python 3.12).

$ORQ_LOADABLE_PATH, when set, is packaged instead of building.
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

REPO = Path(__file__).resolve().parent.parent.parent


class BuildPyWithExtension(build_py):
    def run(self):
        super().run()
        built = os.environ.get("ORQ_LOADABLE_PATH")
        if not built:
            if not (REPO / "ext" / "Cargo.toml").is_file():
                raise SystemExit(
                    f"cannot build the orq extension: {REPO} is not the orq repository; "
                    "install from a checkout (pip install ./bindings/python), or set "
                    "ORQ_LOADABLE_PATH to a liborq.so built with cargo build --release"
                )
            subprocess.run(["cargo", "build", "--release"], cwd=REPO, check=True)
            built = REPO / "target" / "release" / "liborq.so"
        destination = Path(self.build_lib) / "orq" / "liborq.so"
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, destination)


class WithNativeLibrary(Distribution):
    """The wheel carries a native library: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithExtension}, distclass=WithNativeLibrary)
