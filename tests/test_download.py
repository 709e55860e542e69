"""nri.download: every file checked against its SHA-256, from a local copy or (faked) network."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from nri import download
from nri.download import SOURCES, DownloadError, Source, fetch, sha256

ROOT = Path(__file__).resolve().parents[1]
FILES = {"a/one.txt": b"first file\n", "a/two.bin": bytes(range(256)), "README.md": b"# card\n"}


def fake_source(files: dict[str, bytes] = FILES) -> Source:
    return Source("fake", "owner/repo", "0" * 40, {path: sha256(data) for path, data in files.items()},
                  "be nice")


def write_copy(folder: Path, files: dict[str, bytes] = FILES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        (folder / Path(path).name).write_bytes(data)
    return folder


def test_copies_a_checked_local_copy_and_keeps_it_on_a_second_run(tmp_path):
    local = write_copy(tmp_path / "copy")
    dest = tmp_path / "dest"
    how = fetch(fake_source(), dest, local=local, link=False, timeout_s=1)
    assert how == {"one.txt": "copied", "two.bin": "copied", "README.md": "copied"}
    for path, data in FILES.items():
        assert (dest / Path(path).name).read_bytes() == data
    assert set(fetch(fake_source(), dest, local=None, link=False, timeout_s=1).values()) == {"kept"}


def test_a_copy_inside_the_dataset_folder_is_found_and_can_be_linked(tmp_path):
    local = write_copy(tmp_path / "root" / "fake")
    dest = tmp_path / "dest"
    fetch(fake_source(), dest, local=tmp_path / "root", link=True, timeout_s=1)
    assert (dest / "two.bin").is_symlink()
    assert (dest / "two.bin").resolve() == (local / "two.bin").resolve()


def test_a_corrupt_file_is_refused_with_one_line_and_nothing_is_written(tmp_path):
    local = write_copy(tmp_path / "copy")
    (local / "two.bin").write_bytes(b"not the bytes")
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError) as err:
        fetch(fake_source(), dest, local=local, link=False, timeout_s=1)
    message = str(err.value)
    assert "\n" not in message
    assert "two.bin" in message and sha256(FILES["a/two.bin"])[:16] in message
    assert not dest.exists() or not any(dest.iterdir())


def test_a_changed_file_already_in_dest_is_refused(tmp_path):
    dest = write_copy(tmp_path / "dest")
    (dest / "one.txt").write_bytes(b"edited\n")
    with pytest.raises(DownloadError, match=r"one\.txt.*already there"):
        fetch(fake_source(), dest, local=write_copy(tmp_path / "copy"), link=False, timeout_s=1)


def test_downloads_from_the_snapshot_urls(tmp_path, monkeypatch):
    source = fake_source()
    served = {source.url(path): data for path, data in FILES.items()}
    asked = []

    def urlopen(url, timeout):
        asked.append(url)
        return io.BytesIO(served[url])

    monkeypatch.setattr(download.urllib.request, "urlopen", urlopen)
    how = fetch(source, tmp_path, local=None, link=False, timeout_s=5)
    assert set(how.values()) == {"downloaded"}
    assert sorted(asked) == sorted(served)
    assert all(url.startswith("https://raw.githubusercontent.com/owner/repo/" + "0" * 40 + "/")
               for url in asked)
    assert (tmp_path / "one.txt").read_bytes() == FILES["a/one.txt"]


def test_the_manifest_holds_every_file_the_real_datasets_read():
    motion = OmegaConf.load(ROOT / "conf" / "dataset" / "motion.yaml")
    names = {Path(path).name for path in SOURCES["motion"].files}
    trials = [t for split in motion.trials.values() for t in split]
    assert {f"{motion.subject}.asf", *(f"{motion.subject}_{t:02d}.amc" for t in trials)} <= names
    sports = OmegaConf.load(ROOT / "conf" / "dataset" / "sports.yaml")
    names = {Path(path).name for path in SOURCES["sports"].files}
    for split, games in {"train": sports.games.train, "val": sports.games.valid,
                         "test": sports.games.test}.items():
        for kind in ("player_coords", "ball_coords", "example_stop_idxs"):
            assert f"{kind}_{split}__with_{games}_games.npy" in names
    assert all(len(digest) == 64 for source in SOURCES.values() for digest in source.files.values())


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nri.download", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_cli_refuses_a_corrupt_local_copy_with_one_line(tmp_path):
    local = tmp_path / "copy"
    local.mkdir()
    (local / "35.asf").write_text("not the skeleton\n")
    proc = _cli("dataset=motion", f"source={local}", f"dest={tmp_path / 'dest'}", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "35.asf" in proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["copy"]  # no dest, no log file, no .hydra/


def test_cli_refuses_a_simulated_dataset(tmp_path):
    proc = _cli("dataset=springs", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == proc.stderr.strip().splitlines()[0]
    assert "nri.generate" in proc.stderr


REAL = Path(os.environ.get("NRI_REAL_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.mark.skipif(not (REAL / "motion").is_dir() or not (REAL / "sports").is_dir(),
                    reason="no local copy of the real data")
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_real_local_copy_passes_every_checksum(name, tmp_path):
    how = fetch(SOURCES[name], tmp_path, local=REAL, link=True, timeout_s=1)
    assert set(how.values()) == {"linked"} and len(how) == len(SOURCES[name].files)
