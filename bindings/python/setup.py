"""Builds the `chatsync` wheel: the UniFFI-generated module plus the native library.

`pip install bindings/python` runs `bindings/scripts/generate.sh` (cargo build of
chatsync-ffi and library-mode generation) and packs `chatsync_ffi.py` and
`libchatsync_ffi.so` into the `chatsync` package. Set CHATSYNC_FFI_RELEASE=1 for
an optimized build of the library (default: the dev build, fast to rebuild).
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


class BuildWithNativeLibrary(build_py):
    """build_py that adds the generated bindings and the library to the package."""

    def run(self):
        super().run()
        args = [str(ROOT / "bindings" / "scripts" / "generate.sh")]
        if os.environ.get("CHATSYNC_FFI_RELEASE") == "1":
            args.append("--release")
        out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True).stdout
        generated = Path(out.strip().splitlines()[-1])
        package_dir = Path(self.build_lib) / "chatsync"
        package_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(generated / "python" / "chatsync_ffi.py", package_dir)
        for library in (generated / "lib").iterdir():
            shutil.copy2(library, package_dir)


class BinaryDistribution(Distribution):
    """The wheel carries a native library, so it is platform-specific."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithNativeLibrary}, distclass=BinaryDistribution)
