"""Download helpers, exercised with local ``file://`` URLs only (never the network)."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile

import pytest

import attentrack.datasets.download as dl
from attentrack.tracker.errors import InputError

PAYLOAD = b"attentrack test payload\n" * 1000


@pytest.fixture
def served(tmp_path):
    src = tmp_path / "server" / "file.bin"
    src.parent.mkdir()
    src.write_bytes(PAYLOAD)
    return src.as_uri()


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if "partial" in p.name]


def test_download_url_verifies_and_renames(tmp_path, served):
    target = tmp_path / "out" / "file.bin"
    seen = []
    got = dl.download_url(served, target, md5=hashlib.md5(PAYLOAD).hexdigest(),
                          sha256=hashlib.sha256(PAYLOAD).hexdigest(),
                          progress=lambda done, total: seen.append((done, total)))
    assert got == target and target.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert _leftovers(target.parent) == []


def test_checksum_mismatch_leaves_nothing(tmp_path, served):
    target = tmp_path / "out" / "file.bin"
    with pytest.raises(InputError, match="checksum mismatch"):
        dl.download_url(served, target, md5="0" * 32)
    assert not target.exists() and _leftovers(target.parent) == []
    dl.download_url(served, target, md5="0" * 32, verify=False)  # verification off
    assert target.read_bytes() == PAYLOAD


def test_mirrors_tried_in_order(tmp_path, served):
    target = tmp_path / "file.bin"
    missing = (tmp_path / "nowhere.bin").as_uri()
    dl.download_url([missing, served], target, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert target.read_bytes() == PAYLOAD
    with pytest.raises(InputError, match="cannot download"):
        dl.download_url([missing], tmp_path / "other.bin")


def test_download_by_name(tmp_path, served, monkeypatch):
    entry = dl.RemoteFile(name="test/file", urls=(served,), filename="file.bin",
                          md5=hashlib.md5(PAYLOAD).hexdigest())
    monkeypatch.setitem(dl.DATASETS, "test/file", entry)
    dest = tmp_path / "data"
    path = dl.download("test/file", dest)
    assert path == dest / "file.bin" and path.read_bytes() == PAYLOAD
    # a corrupt copy is fetched again; a good one is kept
    path.write_bytes(b"corrupt")
    assert dl.download("test/file", dest).read_bytes() == PAYLOAD
    monkeypatch.setitem(dl.DATASETS, "test/file", dataclasses.replace(entry, md5="f" * 32))
    path.unlink()
    with pytest.raises(InputError, match="checksum mismatch"):
        dl.download("test/file", dest)
    assert not path.exists() and _leftovers(dest) == []


def test_zip_extraction_and_path_traversal(tmp_path, monkeypatch):
    good = tmp_path / "seq.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("Seq/groundtruth_rect.txt", "1,2,3,4\n")
    monkeypatch.setitem(dl.DATASETS, "test/zip", dl.RemoteFile(
        name="test/zip", urls=(good.as_uri(),), filename="seq.zip", archive=True))
    dl.download("test/zip", tmp_path / "data", verify=False, extract=True)
    assert (tmp_path / "data" / "Seq" / "groundtruth_rect.txt").read_text() == "1,2,3,4\n"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(InputError, match="outside"):
        dl.extract_zip(evil, tmp_path / "x")
    assert not (tmp_path / "escape.txt").exists()


def test_table():
    with pytest.raises(InputError, match="unknown dataset 'nope'"):
        dl.remote_file("nope")
    otb = dl.remote_file("otb/Crossing")
    assert otb.urls == ("http://cvlab.hanyang.ac.kr/tracker_benchmark/seq/Crossing.zip",)
    assert dl.DATASETS["mnist/t10k-images"].md5 == "9fb629c4189551a2d022fa330f9573f3"
    assert dl.DATASETS["mot15"].urls == ("https://motchallenge.net/data/MOT15.zip",)
    for entry in dl.DATASETS.values():
        assert entry.urls and entry.filename


@pytest.mark.data
def test_known_checksums_match_local_copies(data_dir):
    for name in ("t10k-images", "t10k-labels"):
        entry = dl.DATASETS[f"mnist/{name}"]
        path = data_dir / "digits" / entry.filename
        assert dl.file_digest(path, "md5") == entry.md5
        assert dl.file_digest(path, "sha256") == entry.sha256
