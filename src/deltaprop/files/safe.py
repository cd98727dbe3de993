"""Opening files from strangers: nothing is run, and nothing is allocated before its size is checked.

Every file a user names goes through here. :func:`regular_file` refuses what is not a plain file (a FIFO would
block for ever, ``/dev/zero`` never ends) and files over a limit; :func:`read_npz` checks every member of an
.npz before any array is read (no duplicate names, none outside the kind's manifest, only .npy arrays, no
pickled objects, no negative or oversized declared shapes) and then inflates each array by streaming into an
array of its declared size, never past it; :func:`parse_json` and :func:`parse_toml` turn a parser's
RecursionError or ValueError on hostile nesting or huge integers into a clear :class:`DeltapropError`.

Writing is the other half of safety: :func:`write_atomic` (and :func:`save_npz`, :func:`write_text_atomic`,
:func:`write_bytes_atomic`) write a temporary file beside the target, created exclusively (``O_EXCL |
O_NOFOLLOW``) and named by its owner (a run's id: :func:`temp_name`), flushed and fsynced, then rename it over
the target, so a kill at any moment leaves the old file or the new one, never half of one, and a symlink
planted at the target is replaced, never followed. :func:`append_line` appends without following a link;
:func:`remove_partial_writes` removes one owner's temporary files only.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import stat
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..checks import path_arg
from ..errors import DeltapropError
from .. import limits
from ..limits import NPZ_ARRAYS

Array = np.ndarray


def regular_file(path: str | Path, what: str, max_bytes: int) -> Path:
    """``path`` if it is an existing plain file (links followed) of at most ``max_bytes`` bytes."""
    path = Path(path_arg(path, f"the {what} file"))
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


def read_npz(path: str | Path, what: str, max_bytes: int, numeric: bool = True,
             manifest: Callable[[str], bool] | None = None) -> dict[str, Array]:
    """The arrays of an .npz, every member checked before any array is read: no two members of one name (NumPy
    would silently take the last), none outside ``manifest`` (the names this kind of file holds), only .npy
    arrays, no pickled objects; then each header's declared size against ``max_bytes`` in all. Each array is
    then inflated by streaming into an array of its declared size, never past it: a member whose compressed
    data inflate to more than its header declares is refused, so what is allocated is bounded by the headers,
    and the headers by ``max_bytes``."""
    path = regular_file(path, what, max_bytes)
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > NPZ_ARRAYS:
                raise DeltapropError(f"{path}: {len(infos)} arrays; {what} files hold at most {NPZ_ARRAYS}")
            seen = set()
            for info in infos:
                name = info.filename
                if name in seen:
                    raise DeltapropError(f"{path}: member {name!r} appears twice; a {what} file names each "
                                         "array once")
                seen.add(name)
                if not name.endswith(".npy"):
                    raise DeltapropError(f"{path}: member {name!r} is not an .npy array")
                if manifest is not None and not manifest(name[:-4]):
                    raise DeltapropError(f"{path}: member {name!r} is not an array a {what} file holds")
            headers, total = [], 0
            for info in infos:
                name = info.filename
                with z.open(info) as f:
                    shape, fortran, dtype = _npy_header(f, f"{path}: array {name[:-4]!r}")
                nbytes = math.prod(shape) * dtype.itemsize
                total += nbytes
                if any(d < 0 for d in shape) or nbytes > info.file_size or total > max_bytes:
                    raise DeltapropError(f"{path}: array {name[:-4]!r} declares shape {shape} ({nbytes} bytes); "
                                         f"the file holds {info.file_size} and the limit is {max_bytes}")
                if dtype.hasobject:
                    raise DeltapropError(f"{path}: array {name[:-4]!r} holds pickled Python objects, which are "
                                         "never loaded (they could run code)")
                if numeric and dtype.kind not in "biuf":
                    raise DeltapropError(f"{path}: array {name[:-4]!r} has dtype {dtype}; {what} files hold numbers only")
                headers.append((info, shape, fortran, dtype))
            return {info.filename[:-4]: _read_member(z, info, shape, fortran, dtype, path)
                    for info, shape, fortran, dtype in headers}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as e:
        if isinstance(e, DeltapropError):
            raise
        raise DeltapropError(f"{path}: not a {what} file (an .npz without pickled objects): {e}") from None


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple, fortran: bool, dtype: np.dtype,
                 path) -> Array:
    """One member's array, inflated chunk by chunk into an array of its declared size (checked by the
    caller), and refused if its data end early or go on past that size."""
    where = f"{path}: array {info.filename[:-4]!r}"
    arr = np.empty(math.prod(shape), dtype=dtype)
    view = memoryview(arr.view(np.uint8))
    with z.open(info) as f:
        _npy_header(f, where)
        filled = 0
        while filled < len(view):
            n = f.readinto(view[filled:filled + _CHUNK])
            if not n:
                raise DeltapropError(f"{where}: data end after {filled} of its {len(view)} bytes")
            filled += n
        if f.read(1):
            raise DeltapropError(f"{where}: more data than its header's shape {shape} declares")
    return arr.reshape(shape, order="F" if fortran else "C")


_CHUNK = 2**22  # bytes inflated at a time


def _npy_header(f, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from an .npy header, read without touching the data (NumPy's own header
    parser, which evaluates nothing: it reads a Python literal and refuses headers over 10 kB)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise DeltapropError(f"{where}: unsupported .npy format version {version}")
    return tuple(shape), bool(fortran), dtype


def parse_json(raw: bytes, where: str):
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DeltapropError(f"{where}: not valid UTF-8 JSON (not UTF-8 text)") from None
    except RecursionError:
        raise DeltapropError(f"{where}: JSON nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, or an integer of more than 4300 digits
        raise DeltapropError(f"{where}: not valid UTF-8 JSON ({e})") from None


_TOML_SKIP = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*+"|\'[^\'\n]*+\'|#[^\n]*+|[\[\]{}]')
_TOML_STRINGS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*+"|\'[^\'\n]*+\'|#[^\n]*+')
_KEY_PART = r'(?:[A-Za-z0-9_-]++|"(?:[^"\\\n]|\\.)*+"|\'[^\'\n]*+\')'


def toml_budget(text: str, where: str) -> None:
    """Refuse, before the parser sees it, TOML that would cost it more than seconds or gigabytes: more items
    (keys, values, tables) than the ``toml_items`` budget, or nesting (dotted keys, table headers, arrays, inline
    tables) deeper than ``toml_depth``. Python's parser is linear in neither: a key dotted 100 000 levels deep
    took 69 s and 5.9 GB. Every count here is a C-speed scan or a loop over at most ``toml_items`` tokens."""
    items = (text.count("=") + text.count(",") + text.count("[") + text.count("{")
             + 10 * (text.count("\n[") + text.startswith("[")))  # a table costs the parser ~10 values
    limits.check("toml_items", items, where, "the TOML items (keys, values, tables; a table counts 10)")
    depth = limits.value("toml_depth")
    if text.count(".") >= depth:
        dotted = re.compile(rf"(?<![\w.\"'-]){_KEY_PART}(?:[ \t]*+\.[ \t]*+{_KEY_PART}){{{depth},}}")
        # found: look again with every string emptied and every comment dropped ("a.a.a…" in a string is no key)
        if dotted.search(text) and dotted.search(_TOML_STRINGS.sub(lambda m: "" if m[0][0] == "#" else '""', text)):
            raise DeltapropError(f"{where}: TOML nested too deeply: a dotted key of more than {depth} parts "
                                 f"(the toml_depth limit; raise it with --limit toml_depth=N)")
    if text.count("[") + text.count("{") > depth:
        level = 0
        for m in _TOML_SKIP.finditer(text):
            c = m.group()
            if c in "[{":
                level += 1
                if level > depth:
                    raise DeltapropError(f"{where}: TOML nested too deeply: arrays or tables more than {depth} "
                                         "deep (the toml_depth limit; raise it with --limit toml_depth=N)")
            elif c in "]}":
                level = max(level - 1, 0)


def parse_toml(text: str, where: str) -> dict:
    toml_budget(text, where)
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


def temp_name(path: Path, owner: str | None = None) -> Path:
    """The temporary file beside ``path`` that :func:`write_atomic` writes first: ``.NAME.OWNER-XXXXXXXX.tmp``,
    named by its owner (a run's id), so that a run only ever removes its own (:func:`remove_partial_writes`)."""
    return path.with_name(f".{path.name}.{owner or 'w'}-{secrets.token_hex(4)}.tmp")


def write_atomic(path: str | Path, write, mode: str, owner: str | None = None) -> None:
    """``write(f)`` into a temporary file beside ``path``, flushed and fsynced, then renamed over it: a kill at
    any moment leaves either the old file or the new one, never a torn one.

    The temporary file is created exclusively (``O_EXCL``: never a file or a link that was there before; see
    :func:`temp_name`), and the rename replaces ``path`` itself: a symlink planted at ``path`` is replaced, the
    file it points to is never written."""
    path = Path(path)
    tmp = temp_name(path, owner)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def save_npz(path: str | Path, arrays: dict[str, Array], owner: str | None = None) -> None:
    """Write an .npz atomically."""
    write_atomic(path, lambda f: np.savez(f, **arrays), "wb", owner)


def write_text_atomic(path: str | Path, text: str, owner: str | None = None) -> None:
    write_atomic(path, lambda f: f.write(text), "w", owner)


def write_bytes_atomic(path: str | Path, data: bytes, owner: str | None = None) -> None:
    write_atomic(path, lambda f: f.write(data), "wb", owner)


def append_line(path: str | Path, line: str) -> None:
    """Append one line with a single ``write`` (a kill leaves whole lines, or a torn last one); the file must
    exist and is never followed if it is a symlink (``O_NOFOLLOW``)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | _NOFOLLOW | _CLOEXEC)
    try:
        data = line.encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


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


def remove_partial_writes(folder: Path, owner: str) -> list[Path]:
    """Delete the temporary files that a kill in the middle of :func:`write_atomic` left in ``folder`` for
    ``owner`` (``.NAME.OWNER-XXXXXXXX.tmp``); anyone else's ``.*.tmp`` files are left alone. Returns them."""
    pattern = re.compile(rf"\..+\.{re.escape(owner)}-[0-9a-f]{{8}}\.tmp")
    gone = []
    for tmp in Path(folder).iterdir():
        if pattern.fullmatch(tmp.name) and not tmp.is_dir():
            tmp.unlink(missing_ok=True)
            gone.append(tmp)
    return gone
