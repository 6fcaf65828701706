"""Download public data sets (for users with internet access; tests never download).

:data:`DATASETS` lists the files attentrack knows, each with its mirrors and, where it
is known for certain, its checksum. :func:`download` streams a file to a temporary
``.partial`` name beside the target, checks its size and checksum, and only then renames
it, so an interrupted or corrupt download never leaves a file that looks complete.

Checksums: the MNIST files have well-known MD5 sums (the SHA-256 of the two test files
was computed from copies whose MD5 matched). The MOTChallenge, KITTI, OTB and OpenCV
files have no published checksum we can vouch for; their entries hold ``None`` and
:func:`download` skips verification for them (it logs a warning and still checks the
length against ``Content-Length``).

OTB sequences are named ``otb/<Sequence>`` (``otb/Crossing``); any OTB-2015 sequence
name works, fetched from the benchmark's site.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from attentrack.tracker.atomic import AtomicPath
from attentrack.tracker.errors import InputError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
"""Bytes read per network read (1 MiB)."""

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
OTB_URL = "http://cvlab.hanyang.ac.kr/tracker_benchmark/seq/{name}.zip"


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file.

    Attributes:
        name: the key in :data:`DATASETS` (``"mnist/t10k-images"``).
        urls: mirrors, tried in order.
        filename: the name it is saved under.
        md5: expected MD5 hex digest, or ``None`` when not known for certain.
        sha256: expected SHA-256 hex digest, or ``None``.
        description: what it holds.
        licence: its terms of use.
        archive: True for a zip archive that :func:`download` can extract.
    """

    name: str
    urls: tuple[str, ...]
    filename: str
    md5: str | None = None
    sha256: str | None = None
    description: str = ""
    licence: str = ""
    archive: bool = False


def _mnist(stem: str, md5: str, sha256: str | None, what: str) -> RemoteFile:
    filename = f"{stem}.gz"
    return RemoteFile(
        name=f"mnist/{stem.split('-idx')[0]}",
        urls=tuple(m + filename for m in MNIST_MIRRORS),
        filename=filename, md5=md5, sha256=sha256, description=what, licence="MNIST (LeCun, Cortes, Burges)",
    )


def _mot(year: int, what: str) -> RemoteFile:
    return RemoteFile(
        name=f"mot{year % 100:02d}", urls=(f"https://motchallenge.net/data/MOT{year % 100:02d}.zip",),
        filename=f"MOT{year % 100:02d}.zip", description=what, licence="CC BY-NC-SA 3.0", archive=True,
    )


_ENTRIES = [
    _mot(15, "2D MOT 2015: 11 train and 11 test sequences, frames and ground truth"),
    _mot(16, "MOT16: 7 train and 7 test sequences with DPM detections"),
    _mot(17, "MOT17: MOT16 sequences with DPM, FRCNN and SDP detections"),
    _mot(20, "MOT20: 4 train and 4 test crowded sequences"),
    _mnist("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873", None,
           "MNIST training images, 60,000 x 28x28"),
    _mnist("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432", None,
           "MNIST training labels"),
    _mnist("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3",
           "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
           "MNIST test images, 10,000 x 28x28"),
    _mnist("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c",
           "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
           "MNIST test labels"),
    RemoteFile(
        name="opencv/digits", filename="digits.png",
        urls=("https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/digits.png",),
        description="5,000 handwritten digits, 20x20 cells on a 2000x1000 sheet", licence="BSD",
    ),
    RemoteFile(
        name="kitti/tracking-images", filename="data_tracking_image_2.zip",
        urls=("https://s3.eu-central-1.amazonaws.com/avg-kitti/data_tracking_image_2.zip",),
        description="KITTI tracking left colour images (a large archive)", licence="CC BY-NC-SA 3.0",
        archive=True,
    ),
    RemoteFile(
        name="kitti/tracking-labels", filename="data_tracking_label_2.zip",
        urls=("https://s3.eu-central-1.amazonaws.com/avg-kitti/data_tracking_label_2.zip",),
        description="KITTI tracking training labels", licence="CC BY-NC-SA 3.0", archive=True,
    ),
]

DATASETS: dict[str, RemoteFile] = {e.name: e for e in _ENTRIES}
"""Known downloads by name; OTB sequences are resolved by :func:`remote_file`."""


def remote_file(name: str) -> RemoteFile:
    """The entry for ``name``: a key of :data:`DATASETS` or ``otb/<Sequence>``.

    Raises:
        InputError: an unknown name (the message lists the known ones).
    """
    if name in DATASETS:
        return DATASETS[name]
    if name.lower().startswith("otb/") and len(name) > 4:
        seq = name[4:]
        return RemoteFile(
            name=f"otb/{seq}", urls=(OTB_URL.format(name=seq),), filename=f"{seq}.zip",
            description=f"OTB sequence {seq}", licence="research use", archive=True,
        )
    known = ", ".join(sorted(DATASETS)) + ", otb/<Sequence>"
    raise InputError(f"unknown dataset {name!r}; known: {known}")


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _checksum_problem(digests: dict[str, str], md5: str | None, sha256: str | None) -> str | None:
    for algo, expected in (("md5", md5), ("sha256", sha256)):
        if expected is not None and digests[algo].lower() != expected.lower():
            return f"{algo} {digests[algo]} != expected {expected}"
    return None


def download_url(urls: str | tuple[str, ...] | list[str], target: str | os.PathLike, *,
                 md5: str | None = None, sha256: str | None = None, verify: bool = True,
                 timeout: float = 60.0,
                 progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Fetch a URL (trying mirrors in order) into ``target`` atomically.

    The data is streamed to a ``.partial`` file beside ``target`` while it is hashed;
    the file is renamed to ``target`` only when its length matches ``Content-Length``
    and (with ``verify``) its checksums match. Any ``urllib`` URL works, including
    ``file://`` ones.

    Args:
        urls: one URL or mirrors to try in order.
        target: the final file path (parent folders are created).
        md5: expected MD5 hex digest, or ``None``.
        sha256: expected SHA-256 hex digest, or ``None``.
        verify: check the checksums that are given.
        timeout: seconds to wait for the server on each read.
        progress: called as ``progress(bytes_done, bytes_total_or_None)`` after each chunk.

    Returns:
        ``target``.

    Raises:
        InputError: when every mirror fails (the message gives the last reason).
    """
    mirrors = (urls,) if isinstance(urls, str) else tuple(urls)
    if not mirrors:
        raise InputError("no URL to download from")
    target = Path(target)
    last = "no mirror tried"
    for url in mirrors:
        ap = AtomicPath(target)
        try:
            hashes = {"md5": hashlib.md5(), "sha256": hashlib.sha256()}
            req = urllib.request.Request(url, headers={"User-Agent": "attentrack-downloader"})
            with urllib.request.urlopen(req, timeout=timeout) as resp, open(ap.tmp, "wb") as out:
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                done = 0
                for chunk in iter(lambda: resp.read(CHUNK), b""):
                    out.write(chunk)
                    for h in hashes.values():
                        h.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
            if total is not None and done != total:
                raise ValueError(f"truncated: got {done} of {total} bytes")
            if verify:
                problem = _checksum_problem({k: h.hexdigest() for k, h in hashes.items()}, md5, sha256)
                if problem:
                    raise ValueError(f"checksum mismatch: {problem}")
            ap.commit()
            return target
        except (OSError, ValueError) as exc:  # URLError is an OSError
            ap.abort()
            last = f"{url}: {getattr(exc, 'reason', None) or exc}"
            log.warning("download failed, %s", last)
        except BaseException:  # Ctrl-C: leave no partial file behind
            ap.abort()
            raise
    raise InputError(f"cannot download {target.name}: {last}")


def extract_zip(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a zip archive into ``dest``, refusing members that would land outside it.

    Raises:
        InputError: a corrupt archive, or a member path such as ``../x`` or ``/etc/x``.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                out = (root / member).resolve()
                if out != root and root not in out.parents:
                    raise InputError(f"{archive}: member {member!r} would be written outside {dest}")
            zf.extractall(root)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{archive}: corrupt zip archive ({exc})") from None
    return dest


def download(name: str, dest: str | os.PathLike, verify: bool = True, *, extract: bool = False,
             overwrite: bool = False, timeout: float = 60.0,
             progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Download a known data set file into the folder ``dest``.

    A file already present is kept when its checksum matches (or none is known) unless
    ``overwrite``; a present file with a wrong checksum is downloaded again.

    Args:
        name: a key of :data:`DATASETS` (``"mnist/t10k-images"``, ``"mot15"``) or
            ``"otb/<Sequence>"``.
        dest: the folder to save into (created when missing).
        verify: check the known checksum; entries without one are not verified (a warning
            is logged).
        extract: unzip archives into ``dest`` after the download.
        overwrite: download even when the file is present.
        timeout: seconds to wait for the server on each read.
        progress: ``progress(bytes_done, bytes_total_or_None)`` callback.

    Returns:
        The downloaded file (``dest / filename``).

    Raises:
        InputError: an unknown name, or a download that fails on every mirror or does not
            match its checksum.
    """
    entry = remote_file(name)
    target = Path(dest) / entry.filename
    known = entry.md5 is not None or entry.sha256 is not None
    if verify and not known:
        log.warning("no checksum known for %s; the download is not verified", entry.name)
    if target.is_file() and not overwrite:
        if not (verify and known):
            log.info("%s already present: %s", entry.name, target)
            return _maybe_extract(entry, target, dest, extract)
        digests = {"md5": file_digest(target, "md5"), "sha256": file_digest(target, "sha256")}
        if _checksum_problem(digests, entry.md5, entry.sha256) is None:
            return _maybe_extract(entry, target, dest, extract)
        log.warning("%s has a wrong checksum; downloading it again", target)
    download_url(entry.urls, target, md5=entry.md5, sha256=entry.sha256, verify=verify,
                 timeout=timeout, progress=progress)
    return _maybe_extract(entry, target, dest, extract)


def _maybe_extract(entry: RemoteFile, target: Path, dest, extract: bool) -> Path:
    if extract and entry.archive:
        extract_zip(target, dest)
    return target
