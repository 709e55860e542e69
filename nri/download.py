"""Fetch the real-data source files: ``python -m nri.download dataset=motion|sports``.

The motion-capture and basketball files are not part of this repository. This command takes them
byte for byte from the public repository snapshots below (``raw.githubusercontent.com`` at a fixed
commit), or from a copy you already have (``source=DIR``), checks every file against its SHA-256,
and writes them where ``dataset=motion`` / ``dataset=sports`` read them: ``dataset.source_dir``,
that is ``<paths.real_data_dir>/<dataset>`` (``dest=…`` to put them elsewhere). A file whose
checksum differs is refused with one line, and nothing is written until every file has passed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import hydra
from omegaconf import DictConfig

import nri.schema  # noqa: F401  (registers the structured configs the dataset group names)
from nri.cli import exits_on_user_error
from nri.conf_path import CONFIG_PATH

MOTION_FOLDER = "data/35/"
PROCESSED = "tests/artifacts/basketball/processed_data/"

MOTION_FILES = {
    f"{MOTION_FOLDER}35.asf": "9b4888836cbd13cdab14a86c53a6b7765ccae48ddc7075d8c5e03ac34bc08364",
    f"{MOTION_FOLDER}35_01.amc": "efe882ca211915da0c70d7a1ac565660c75e373171f64e199ede283b921850d3",
    f"{MOTION_FOLDER}35_02.amc": "d6fefd28756a979418b7bc09b6dc1020f3dc372f4c35e382d55026c74941e473",
    f"{MOTION_FOLDER}35_03.amc": "5f7fc7ede6fdd70ac312f0449e49cf4c8d0878ad31246b9e455a0420450d1761",
    f"{MOTION_FOLDER}35_04.amc": "c0ea194c1c7cc1807ff6c94212dd702777f8c96fdbc59656c5df7eded3009f1c",
    f"{MOTION_FOLDER}35_05.amc": "8421013452f0e904c8a31778a690cc76c4aa50a304ea927e7381d79c5958d435",
    f"{MOTION_FOLDER}35_06.amc": "b13b76a376129b460eae3d62b79d06a704663eec34123c9a61e0dad2775aa910",
    f"{MOTION_FOLDER}35_07.amc": "315f9ee6eefa2b54c380b1992034ab825f58f799084ed7680a4e2213e3846823",
    f"{MOTION_FOLDER}35_08.amc": "29fd9b64748295a5263f3fc69fb9c1c09ad828027569a79c39f0ef080c37d05e",
    f"{MOTION_FOLDER}35_09.amc": "43d92cd4d4397f996a40037955597334b04b6c09c0ad9288ef12f7ebb3bac5fc",
    f"{MOTION_FOLDER}35_10.amc": "d2948eb337fc2c395616881ad4d612780242e2923558774893b3db43a3ea8d62",
    f"{MOTION_FOLDER}35_11.amc": "15541226c2aae03a287f39ad70a21480df0e523f2c040838e76bb12b6e539349",
    f"{MOTION_FOLDER}35_12.amc": "eb6d224e450d0c4e4ec502edd7b671fa0f5119305b2c0105575cdeb48d53d84e",
    f"{MOTION_FOLDER}35_13.amc": "fe5572cce38f4bd4046b0f5d72741c351a8cfa7cf88b428feb85c56dc1130587",
    f"{MOTION_FOLDER}35_14.amc": "f3c584811a8370d8d627f6354706402931f7a599f3620a5abb26305aefd77432",
    f"{MOTION_FOLDER}35_15.amc": "cb50bf7c31fdfb4a0903ab64d91807aff775a483a028bdb0773af7752354d9fa",
    f"{MOTION_FOLDER}35_16.amc": "240e8d077d3be8e340bee6c465c59ed7320e53e4e529fd674fe7335e6d2c52af",
    f"{MOTION_FOLDER}35_28.amc": "e91c989fc8adbb2eff59e3e86f37ef114e82591e5961f22ea1eb0b9682a96ca6",
    f"{MOTION_FOLDER}35_29.amc": "48eb5a400085c6477698038767fa907d1f67b7ddd4e51c05366dae15cccd6ce5",
    f"{MOTION_FOLDER}35_30.amc": "6c34a093f1df7e5255352972e12e2648a7e50cc9261fe73183e9e77bd0ab326e",
    f"{MOTION_FOLDER}35_31.amc": "2b412cbd23c326d36f86ad86d41f500f4b3808f32fedad1b03b4652ea25efb80",
    f"{MOTION_FOLDER}35_32.amc": "6939e377574486c7ca2939f3f424fcf4cfac5f6ad28eeb71933e52b052bb19bc",
    f"{MOTION_FOLDER}35_33.amc": "d53fbc9c99944ad9cf36b7d6fafea029c7d7fa3b71fc70492248e7494eabaab1",
    f"{MOTION_FOLDER}35_34.amc": "484ee3fe1ca9a984c4363484972d3114c675a9207a5119aeebd6d7235038a421",
}
SPORTS_FILES = {
    "EXPORTED_DATA_README.md": "03caf4712c00cc690d575ea7dd46fc0108cdc8b45428edbef526db7a638a9d3f",
    f"{PROCESSED}ball_coords_test__with_5_games.npy": "a1ff77f80a184e8a8f4fa110024ef8e49fa56a905dd67b184ee784dc9a72c433",
    f"{PROCESSED}ball_coords_train__with_5_games.npy": "25cf351cd1e69e31ccdaf749cbd01121f183d2531f6267be6582eaaedd5b3ec6",
    f"{PROCESSED}ball_coords_val__with_4_games.npy": "42974b0792ff7ec14174658fc0cdaca8f171ddfc12bf77eb784b902f8612db87",
    f"{PROCESSED}data_sampling_config_dict.npz": "0e291cc24d1ef8bfdf33972e1cb1a94ca2d27174a6deb5ac880914fd717ad750",
    f"{PROCESSED}data_split_config_dict.npz": "bfd40094189ff5d4780e35e29569be1346de67214415faaa45ac858f29c4bd92",
    f"{PROCESSED}example_stop_idxs_test__with_5_games.npy": "c056f26f33bfac863ce36a933104231bbe90c9a20acef825b68f57d5f9cd39ac",
    f"{PROCESSED}example_stop_idxs_train__with_5_games.npy": "0dc92079c2becf66038e4769963e573b42105994ab32bf05033c4580ab95dda4",
    f"{PROCESSED}example_stop_idxs_val__with_4_games.npy": "20982a534e17630c0efdfaaba1e941caa340382f93758ca2c1940ce20c67f0ab",
    f"{PROCESSED}forecast_config_dict.npz": "ef40cc9f5c0efa3f0bd312f33d66a9f6109d3d7629b99b94ca60d0782a07ce42",
    f"{PROCESSED}play_start_stop_idxs_test__with_5_games.npy": "116c83992887f2c5aa855ca2c4980011e7f615581bf488620838c899c83f0fc5",
    f"{PROCESSED}play_start_stop_idxs_train__with_5_games.npy": "6f22c8484347f19155ac3f72a4f54817766361bf541df5e876408cd175d55599",
    f"{PROCESSED}play_start_stop_idxs_val__with_4_games.npy": "577eb794220ca721b9934e2519271d516ad652f529bdf6700c0d6155aa778324",
    f"{PROCESSED}player_coords_test__with_5_games.npy": "f5f45bb5bbe5e506352c1d40eb580f13368c1033914c77d61047346fec8a84e1",
    f"{PROCESSED}player_coords_train__with_5_games.npy": "4408c40f511ee17939f2e66602de95373c8ddc5be6d22e84cb1289c63ae83adb",
    f"{PROCESSED}player_coords_val__with_4_games.npy": "05b5dfd90120e58aa3d686f45b716efb72283c19316a4776e5b98c3adb240736",
    f"{PROCESSED}player_names_by_example_test__with_5_games.npy": "74dfc9c2a368cf887fe21c982b4b491abd5dd09950089eb022bb3c8f0034177a",
    f"{PROCESSED}player_names_by_example_train__with_5_games.npy": "ec2b74f4f2b83379cd619d81a142b3559c111067c267ae91c679fba3427f083e",
    f"{PROCESSED}player_names_by_example_val__with_4_games.npy": "3b588f7d5fce0f3a2a4eba603fdaff155c6dc8b583b4cf5263e59021135032f4",
    f"{PROCESSED}random_context_times.npy": "1dcf48d895c8503736dae2b7404100d78c0648140ecef98ea3886fa1375d4404",
}


@dataclass(frozen=True)
class Source:
    """One dataset's files in one snapshot of a public GitHub repository."""

    name: str                # the dataset, also the folder a local copy may keep them in
    repository: str          # owner/name
    commit: str
    files: dict[str, str]    # path in the repository -> SHA-256 of its bytes
    terms: str               # what the data's owners ask of its users, printed after a download

    def url(self, path: str) -> str:
        return f"https://raw.githubusercontent.com/{self.repository}/{self.commit}/{path}"


SOURCES = {
    # CMU Graphics Lab Motion Capture Database, subject 35 (walking), as committed with LF line
    # endings; this commit has every trial complete (a later one cut frames from several).
    "motion": Source(
        "motion", "KseniiaCheloshkina/amc", "4668be3ad8973478e962e6622f3572d948de44eb", MOTION_FILES,
        "CMU: free for research; do not resell the data. Acknowledge: \"The data used in this project "
        "was obtained from mocap.cs.cmu.edu. The database was created with funding from NSF "
        "EIA-0196217.\""),
    # NBA SportVU 2015-16, processed arrays of the team-dynamics-time-series project.
    "sports": Source(
        "sports", "tufts-ml/team-dynamics-time-series", "b4d7c4c23c1999b188173ea5a93e9c00d4455be3", SPORTS_FILES,
        "The terms for redistributing the SportVU logs are unclear: research use only, do not "
        "republish the files."),
}


class DownloadError(Exception):
    """A file could not be fetched or has the wrong checksum (one line, for the user)."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_local(name: str, folder: Path, dataset: str) -> tuple[bytes, Path]:
    for candidate in (folder / name, folder / dataset / name):
        if candidate.is_file():
            return candidate.read_bytes(), candidate
    raise DownloadError(f"{name} is in neither {folder} nor {folder / dataset}; give the folder "
                        "that holds the files")


def _read_remote(url: str, timeout_s: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"could not fetch {url} ({reason}); pass source=DIR with a copy of the "
                            "files") from None


def _check(name: str, data: bytes, expected: str, origin: str) -> None:
    found = sha256(data)
    if found != expected:
        raise DownloadError(f"{origin}: SHA-256 {found[:16]}… is not the expected "
                            f"{expected[:16]}… for {name}; the file is corrupt or another version")


def _write_atomic(target: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, target)


def fetch(source: Source, dest: str | Path, *, local: str | Path | None, link: bool,
          timeout_s: float) -> dict[str, str]:
    """Bring every file of ``source`` into ``dest``, checked; returns {file name: how it came}.

    Files already in ``dest`` with the right checksum are kept. ``local`` is a folder with a copy
    (the files in it, or in its ``<dataset>/``); ``link`` symlinks them instead of copying.
    """
    dest = Path(dest).resolve()
    local_dir = None if local is None else Path(local).resolve()
    pending: dict[Path, bytes | Path] = {}
    how: dict[str, str] = {}
    for path, expected in source.files.items():
        name = Path(path).name
        target = dest / name
        if target.is_file():
            _check(name, target.read_bytes(), expected, f"{target} (already there; delete it to fetch "
                                                        "it again)")
            how[name] = "kept"
            continue
        if local_dir is None:
            data, origin = _read_remote(source.url(path), timeout_s), source.url(path)
            pending[target] = data
            how[name] = "downloaded"
        else:
            data, found = _read_local(name, local_dir, source.name)
            origin = str(found)
            pending[target] = found if link else data
            how[name] = "linked" if link else "copied"
        _check(name, data, expected, origin)
    dest.mkdir(parents=True, exist_ok=True)
    for target, content in pending.items():
        if isinstance(content, Path):
            target.symlink_to(content)
        else:
            _write_atomic(target, content)
    return how


def run(cfg: DictConfig) -> dict[str, str]:
    name = cfg.dataset.name
    if name not in SOURCES:
        raise DownloadError(f"dataset={name} has no files to fetch (simulations are made by "
                            f"python -m nri.generate); choose one of {', '.join(SOURCES)}")
    if cfg.link and cfg.source is None:
        raise DownloadError("link=true needs source=DIR (a local copy to link to)")
    how = fetch(SOURCES[name], cfg.dest, local=cfg.source, link=bool(cfg.link),
                timeout_s=float(cfg.timeout_s))
    counts = {kind: sum(v == kind for v in how.values()) for kind in dict.fromkeys(how.values())}
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    print(f"[nri] {name}: {len(how)} files with the expected SHA-256 in {Path(cfg.dest).resolve()} "
          f"({summary})")
    print(f"[nri] {SOURCES[name].terms}")
    return how


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="download")
@exits_on_user_error(DownloadError)
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
