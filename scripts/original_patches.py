"""Make a temporary copy of a user's clone of the original NRI code run under torch 2.x.

The original (github.com/ethanfetaya/NRI) was written for torch 0.3. The benchmark never ships its
code: it copies the user's clone to a temporary directory and applies the edits below there, each a
plain text substitution that must match its stated number of times, so that a different revision
of the original stops the benchmark with one line instead of being measured half-patched.

    git clone https://github.com/ethanfetaya/NRI ../NRI   # the revision measured: e63fcb0
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


class PatchError(RuntimeError):
    """A patch did not find its text the stated number of times."""


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` by ``new`` in ``file``; ``old`` must occur exactly ``count`` times."""

    file: str
    old: str
    new: str
    count: int = 1
    why: str = ""


# The torch 2.x compatibility edits: nothing else in the original is changed.
TORCH2_PATCHES = (
    Patch("train.py", ".data[0]", ".item()", count=9,
          why="indexing a 0-dim tensor fails since torch 0.4"),
    Patch("utils.py", "np.float(", "float(", why="numpy 1.24 removed np.float"),
    Patch("modules.py", "nn.init.xavier_normal(", "nn.init.xavier_normal_(", count=3,
          why="the in-place name; the old one is deprecated"),
    # my_softmax moves the softmax axis to dim 0 and relied on torch 0.3's implicit dim for 3-d
    # input, which was dim 0; stated explicitly, the function computes what it computed then.
    Patch("utils.py", "F.softmax(trans_input)", "F.softmax(trans_input, dim=0)",
          why="the implicit softmax dim is deprecated"),
)

# Measurement only: print how long the training loop of an epoch took, before its validation, so
# that the original's train phase and its whole epoch ('time: …s') are both read off its output.
TRAIN_PHASE_PATCH = Patch(
    "train.py", "    nll_val = []\n",
    "    print('train_phase: {:.4f}s'.format(time.time() - t))\n    nll_val = []\n",
    why="times the training loop alone")

ORIGINAL_PATCHES = (*TORCH2_PATCHES, TRAIN_PHASE_PATCH)


def apply_patches(root: Path, patches: tuple[Patch, ...] = ORIGINAL_PATCHES) -> None:
    """Apply ``patches`` to the files under ``root`` in place; every check runs before any write."""
    texts: dict[str, str] = {}
    for patch in patches:
        path = root / patch.file
        if patch.file not in texts:
            if not path.is_file():
                raise PatchError(f"{path} is missing: is {root} a clone of the original NRI code?")
            texts[patch.file] = path.read_text()
        found = texts[patch.file].count(patch.old)
        if found != patch.count:
            raise PatchError(f"{patch.file}: expected {patch.count} occurrence(s) of {patch.old!r} "
                             f"({patch.why}), found {found}; the benchmark is written for the "
                             f"original at commit e63fcb0")
        texts[patch.file] = texts[patch.file].replace(patch.old, patch.new)
    for name, text in texts.items():
        (root / name).write_text(text)


def patched_copy(clone: Path, dest: Path, patches: tuple[Patch, ...] = ORIGINAL_PATCHES) -> Path:
    """Copy ``clone`` (without .git, logs or data arrays) to ``dest`` and patch the copy."""
    if not (clone / "train.py").is_file():
        raise PatchError(f"{clone} has no train.py; give the directory of a clone of the original "
                         "NRI code (git clone https://github.com/ethanfetaya/NRI)")
    shutil.copytree(clone, dest, ignore=shutil.ignore_patterns(".git", "logs", "*.npy"))
    apply_patches(dest, patches)
    (dest / "logs").mkdir(exist_ok=True)  # train.py saves into logs/exp<time>/ and does not make logs/
    (dest / "data").mkdir(exist_ok=True)
    return dest
