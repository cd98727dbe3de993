"""Opening files from strangers: nothing is run, and nothing is allocated before its size is checked.

Every file a user names goes through here. :func:`regular_file` refuses what is not a plain file (a FIFO would
block for ever, ``/dev/zero`` never ends) and files over a limit; :func:`read_npz` reads each array's header
first and refuses pickled objects and declared sizes beyond the limit *before* NumPy allocates anything
(``np.load`` would otherwise allocate whatever shape a header claims); :func:`parse_json` and
:func:`parse_toml` turn a parser's RecursionError or ValueError on hostile nesting or huge integers into a
clear :class:`DeltapropError`.

Writing is the other half of safety: :func:`write_atomic` (and :func:`save_npz`, :func:`write_text_atomic`)
write a temporary file beside the target, flushed and fsynced, then rename it over the target, so a kill at any
moment leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
import tomllib
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DeltapropError
from ..limits import NPZ_ARRAYS

Array = np.ndarray


def regular_file(path: str | Path, what: str, max_bytes: int) -> Path:
    """``path`` if it is an existing plain file (links followed) of at most ``max_bytes`` bytes."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DeltapropError(f"{path}: no such {what} file") from None
    except OSError as e:
        raise DeltapropError(f"{path}: cannot read {what} file ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise DeltapropError(f"{path}: not a regular file; a {what} file must be a plain file")
    if st.st_size > max_bytes:
        raise DeltapropError(f"{path}: {what} file is {st.st_size} bytes; the limit is {max_bytes}")
    return path


def read_npz(path: str | Path, what: str, max_bytes: int, numeric: bool = True) -> dict[str, Array]:
    """The arrays of an .npz, each header checked before its data is read: no pickled objects, no member
    that is not an .npy array, no declared size beyond ``max_bytes`` in all or beyond its stored bytes."""
    path = regular_file(path, what, max_bytes)
    total = 0
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > NPZ_ARRAYS:
                raise DeltapropError(f"{path}: {len(infos)} arrays; {what} files hold at most {NPZ_ARRAYS}")
            for info in infos:
                name = info.filename
                if not name.endswith(".npy"):
                    raise DeltapropError(f"{path}: member {name!r} is not an .npy array")
                with z.open(info) as f:
                    shape, dtype = _npy_header(f, f"{path}: array {name[:-4]!r}")
                nbytes = math.prod(shape) * dtype.itemsize
                total += nbytes
                if nbytes > info.file_size or total > max_bytes:
                    raise DeltapropError(f"{path}: array {name[:-4]!r} declares shape {shape} ({nbytes} bytes); "
                                         f"the file holds {info.file_size} and the limit is {max_bytes}")
                if dtype.hasobject:
                    raise DeltapropError(f"{path}: array {name[:-4]!r} holds pickled Python objects, which are "
                                         "never loaded (they could run code)")
                if numeric and dtype.kind not in "biuf":
                    raise DeltapropError(f"{path}: array {name[:-4]!r} has dtype {dtype}; {what} files hold numbers only")
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as e:
        if isinstance(e, DeltapropError):
            raise
        raise DeltapropError(f"{path}: not a {what} file (an .npz without pickled objects): {e}") from None


def _npy_header(f, where: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an .npy header, read without touching the data (NumPy's own header parser,
    which evaluates nothing: it reads a Python literal and refuses headers over 10 kB)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise DeltapropError(f"{where}: unsupported .npy format version {version}")
    return tuple(shape), dtype


def parse_json(raw: bytes, where: str):
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DeltapropError(f"{where}: not valid UTF-8 JSON (not UTF-8 text)") from None
    except RecursionError:
        raise DeltapropError(f"{where}: JSON nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, or an integer of more than 4300 digits
        raise DeltapropError(f"{where}: not valid UTF-8 JSON ({e})") from None


def parse_toml(text: str, where: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DeltapropError(f"{where}: invalid TOML: {e}") from None
    except RecursionError:
        raise DeltapropError(f"{where}: TOML nested too deeply") from None
    except ValueError as e:  # an integer of more than 4300 digits
        raise DeltapropError(f"{where}: invalid TOML: {e}") from None


def read_text(path: str | Path, what: str, max_bytes: int) -> str:
    path = regular_file(path, what, max_bytes)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DeltapropError(f"{path}: not a UTF-8 text file") from None
    except OSError as e:
        raise DeltapropError(f"{path}: cannot read {what} file ({e.strerror})") from None


# --- writing ---------------------------------------------------------------------------------------------------


def write_atomic(path: str | Path, write, mode: str) -> None:
    """``write(f)`` into a temporary file beside ``path``, flushed and fsynced, then renamed over it: a kill at
    any moment leaves either the old file or the new one, never a torn one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def save_npz(path: str | Path, arrays: dict[str, Array]) -> None:
    """Write an .npz atomically."""
    write_atomic(path, lambda f: np.savez(f, **arrays), "wb")


def write_text_atomic(path: str | Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text), "w")


def fsync_dir(path: Path) -> None:
    """Make a rename durable: fsync the directory entry (not possible on every platform)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_partial_writes(folder: Path) -> None:
    """Delete the temporary files a kill in the middle of :func:`write_atomic` left in ``folder``."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
