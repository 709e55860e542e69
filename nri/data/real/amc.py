"""Read ASF skeletons and AMC motions (CMU motion capture) and run forward kinematics.

Conventions (those of the AMCParser reader the NRI/dNRI motion data were made with):

* Joint 0 is the root; joints 1… are the ASF bones in file order. A bone's joint is its far
  end, so a skeleton with B bones has B + 1 joints.
* A bone's ``axis a1 a2 a3 ORDER`` gives its local frame ``C``; an AMC frame's dof values give
  the motion rotation ``R`` (missing dofs are 0). Both are Euler rotations composed in
  ``ORDER``: for ``XYZ`` the matrix is ``Rz @ Ry @ Rx`` (x applied first).
* Global rotation: ``L_child = L_parent @ C @ R @ C⁻¹``; the root's is ``C @ R @ C⁻¹`` with
  ``C`` from the root ``orientation``. Joint position: ``p_child = p_parent + length ·
  L_child @ direction``; the root's position is its AMC translation.
* Positions are in the ASF's own length units (CMU: ``length 0.45``, i.e. 1/0.45 inch;
  × 0.056444 gives metres).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nri.data.errors import MocapFormatError

_AXES = "XYZ"
_ROT_DOFS = ("rx", "ry", "rz")
_ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")


@dataclass(frozen=True)
class Skeleton:
    """An ASF skeleton.

    Shapes:
        directions: [J, 3] unit rest direction of each joint's bone (root: zeros).
        lengths: [J] bone lengths (root: 0).
        axes: [J, 3] bone frame angles in degrees (root: its ``orientation``).
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]  # parent joint index; -1 for the root
    directions: np.ndarray
    lengths: np.ndarray
    axes: np.ndarray
    axis_orders: tuple[str, ...]
    dofs: tuple[tuple[str, ...], ...]  # AMC channel names per joint, in file order
    length_unit: float  # the ASF ``:units length`` value
    angles_in_degrees: bool

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) joint index pairs, one per bone."""
        return [(p, c) for c, p in enumerate(self.parents) if p >= 0]

    def adjacency(self) -> np.ndarray:
        """Symmetric 0/1 bone adjacency.

        Shapes:
            returns: [J, J] int64, ``A[i, j] = A[j, i] = 1`` for every bone.
        """
        adj = np.zeros((self.num_joints, self.num_joints), dtype=np.int64)
        for p, c in self.bones():
            adj[p, c] = adj[c, p] = 1
        return adj

    def fk_order(self) -> list[int]:
        """Joint indices with every parent before its children."""
        children: dict[int, list[int]] = {}
        for c, p in enumerate(self.parents):
            children.setdefault(p, []).append(c)
        order, stack = [], [0]
        while stack:
            j = stack.pop()
            order.append(j)
            stack.extend(reversed(children.get(j, [])))
        return order


def _floats(path, lineno: int, tokens: list[str], count: int, what: str) -> np.ndarray:
    if len(tokens) < count:
        raise MocapFormatError(path, lineno, f"{what} needs {count} numbers, got {len(tokens)}")
    try:
        return np.array([float(t) for t in tokens[:count]], dtype=np.float64)
    except ValueError as err:
        raise MocapFormatError(path, lineno, f"{what}: {err}") from None


def _axis_order(path, lineno: int, token: str) -> str:
    order = token.upper()
    if sorted(order) != list(_AXES):
        raise MocapFormatError(path, lineno, f"axis order {token!r} is not a permutation of XYZ")
    return order


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"motion capture file not found: {path}")
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read().splitlines()


def _sections(path: Path, lines: list[str]) -> dict[str, list[tuple[int, str]]]:
    """Split an ASF into ``:keyword`` sections of (line number, stripped text)."""
    sections: dict[str, list[tuple[int, str]]] = {}
    current: list[tuple[int, str]] | None = None
    for lineno, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        if text.startswith(":"):
            keyword, _, rest = text[1:].partition(" ")
            current = sections.setdefault(keyword.lower(), [])
            if rest.strip():
                current.append((lineno, rest.strip()))
        elif current is not None:
            current.append((lineno, text))
        else:
            raise MocapFormatError(path, lineno, "text before the first :section")
    return sections


def parse_asf(path: str | os.PathLike) -> Skeleton:
    """Parse an ASF skeleton file; raises :class:`MocapFormatError` naming file and line."""
    path = Path(path)
    sections = _sections(path, _read_lines(path))
    for required in ("root", "bonedata", "hierarchy"):
        if required not in sections:
            raise MocapFormatError(path, None, f"no :{required} section")

    length_unit, in_degrees = 1.0, True
    for lineno, text in sections.get("units", []):
        key, *vals = text.split()
        if key == "length":
            length_unit = float(_floats(path, lineno, vals, 1, "units length")[0])
        elif key == "angle":
            if not vals or vals[0] not in ("deg", "rad"):
                raise MocapFormatError(path, lineno, "units angle must be deg or rad")
            in_degrees = vals[0] == "deg"

    root_axis_order, root_orientation, root_channels = "XYZ", np.zeros(3), _ROOT_CHANNELS
    for lineno, text in sections["root"]:
        key, *vals = text.split()
        if key == "axis":
            root_axis_order = _axis_order(path, lineno, vals[0] if vals else "")
        elif key == "orientation":
            root_orientation = _floats(path, lineno, vals, 3, "root orientation")
        elif key == "order":
            root_channels = tuple(v.upper() for v in vals)
            if sorted(root_channels) != sorted(_ROOT_CHANNELS):
                raise MocapFormatError(path, lineno, f"root order {vals} is not TX TY TZ RX RY RZ")

    names, directions, lengths, axes, orders, dofs = (
        ["root"],
        [np.zeros(3)],
        [0.0],
        [root_orientation],
        [root_axis_order],
        [root_channels],
    )
    bone: dict | None = None
    for lineno, text in sections["bonedata"]:
        key, *vals = text.split()
        if key == "begin":
            bone = {"line": lineno}
            continue
        if bone is None:
            raise MocapFormatError(path, lineno, f"{key!r} outside a begin … end block")
        if key == "end":
            for field in ("name", "direction", "length", "axis"):
                if field not in bone:
                    raise MocapFormatError(path, bone["line"], f"bone block has no {field!r}")
            norm = np.linalg.norm(bone["direction"])
            if norm == 0 and bone["length"] != 0:
                raise MocapFormatError(path, bone["line"], f"bone {bone['name']!r}: zero direction")
            names.append(bone["name"])
            directions.append(bone["direction"] / (norm if norm > 0 else 1.0))
            lengths.append(bone["length"])
            axes.append(bone["axis"])
            orders.append(bone["order"])
            dofs.append(bone.get("dof", ()))
            bone = None
        elif key == "name":
            bone["name"] = vals[0] if vals else ""
        elif key == "direction":
            bone["direction"] = _floats(path, lineno, vals, 3, "direction")
        elif key == "length":
            bone["length"] = float(_floats(path, lineno, vals, 1, "length")[0])
        elif key == "axis":
            bone["axis"] = _floats(path, lineno, vals, 3, "axis")
            bone["order"] = _axis_order(path, lineno, vals[3] if len(vals) > 3 else "")
        elif key == "dof":
            bad = [v for v in vals if v.lower() not in _ROT_DOFS]
            if bad:
                raise MocapFormatError(path, lineno, f"unsupported dof {bad} (only rx ry rz)")
            bone["dof"] = tuple(v.lower() for v in vals)
    if bone is not None:
        raise MocapFormatError(path, bone["line"], "bone block without 'end'")
    if len(names) == 1:
        raise MocapFormatError(path, None, ":bonedata defines no bones")
    if len(set(names)) != len(names):
        raise MocapFormatError(path, None, "duplicate bone names in :bonedata")

    index = {n: i for i, n in enumerate(names)}
    parents = [-2] * len(names)
    parents[0] = -1
    for lineno, text in sections["hierarchy"]:
        if text in ("begin", "end"):
            continue
        parent, *children = text.split()
        for name in [parent, *children]:
            if name not in index:
                raise MocapFormatError(path, lineno, f"unknown bone {name!r} in :hierarchy")
        for child in children:
            if parents[index[child]] != -2 or child == "root":
                raise MocapFormatError(path, lineno, f"bone {child!r} given a second parent")
            parents[index[child]] = index[parent]
    orphans = [n for n, p in zip(names, parents, strict=True) if p == -2]
    if orphans:
        raise MocapFormatError(path, None, f"bones missing from :hierarchy: {orphans}")

    skeleton = Skeleton(
        names=tuple(names),
        parents=tuple(parents),
        directions=np.stack(directions),
        lengths=np.asarray(lengths, dtype=np.float64),
        axes=np.stack(axes),
        axis_orders=tuple(orders),
        dofs=tuple(dofs),
        length_unit=length_unit,
        angles_in_degrees=in_degrees,
    )
    if len(skeleton.fk_order()) != skeleton.num_joints:
        raise MocapFormatError(path, None, ":hierarchy has a cycle or bones not below the root")
    return skeleton


def parse_amc(path: str | os.PathLike, skeleton: Skeleton) -> dict[str, np.ndarray]:
    """Parse an AMC motion against ``skeleton``; every frame must list every joint with dofs.

    Frames must be numbered 1, 2, … in order. Raises :class:`MocapFormatError` naming the
    file and line for a wrong value count, an unknown or repeated joint, a missing joint or
    a frame number out of sequence.

    Shapes:
        returns: joint name -> [F, len(dofs)] channel values in file order (angles as stored).
    """
    path = Path(path)
    lines = _read_lines(path)
    expected = {n: len(d) for n, d in zip(skeleton.names, skeleton.dofs, strict=True) if d}
    values: dict[str, list[list[float]]] = {n: [] for n in expected}
    frame, frame_line, seen = 0, 0, set()

    def close_frame(lineno: int) -> None:
        missing = [n for n in expected if n not in seen]
        if missing:
            raise MocapFormatError(
                path,
                frame_line,
                f"frame {frame} has {len(seen)} channel lines, expected {len(expected)} "
                f"(missing {missing}; frame ends before line {lineno})",
            )

    for lineno, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#") or text.startswith(":"):
            continue
        tokens = text.split()
        if len(tokens) == 1 and tokens[0].isdigit():
            if frame:
                close_frame(lineno)
            if int(tokens[0]) != frame + 1:
                raise MocapFormatError(
                    path, lineno, f"frame number {tokens[0]} follows frame {frame}"
                )
            frame, frame_line, seen = frame + 1, lineno, set()
            continue
        name = tokens[0]
        if not frame:
            raise MocapFormatError(path, lineno, f"channel line {name!r} before the first frame")
        if name not in expected:
            raise MocapFormatError(path, lineno, f"joint {name!r} has no dofs in the skeleton")
        if name in seen:
            raise MocapFormatError(path, lineno, f"joint {name!r} repeated in frame {frame}")
        if len(tokens) - 1 != expected[name]:
            raise MocapFormatError(
                path,
                lineno,
                f"joint {name!r} has {len(tokens) - 1} values, expected {expected[name]}",
            )
        try:
            values[name].append([float(t) for t in tokens[1:]])
        except ValueError as err:
            raise MocapFormatError(path, lineno, f"joint {name!r}: {err}") from None
        seen.add(name)
    if not frame:
        raise MocapFormatError(path, None, "no frames")
    close_frame(len(lines) + 1)
    return {n: np.asarray(v, dtype=np.float64) for n, v in values.items()}


def euler_matrices(angles: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """Rotation matrices from Euler angles in radians, composed in ``order`` (first applied first).

    Shapes:
        angles: [..., 3] rotations about x, y, z (by axis, not by order).
        returns: [..., 3, 3]; for ``XYZ`` it is ``Rz @ Ry @ Rx``.
    """
    angles = np.asarray(angles, dtype=np.float64)
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for axis_name in order:
        k = _AXES.index(axis_name)
        c, s = np.cos(angles[..., k]), np.sin(angles[..., k])
        rot = np.zeros(angles.shape[:-1] + (3, 3))
        i, j = [a for a in range(3) if a != k]
        rot[..., k, k] = 1.0
        rot[..., i, i] = c
        rot[..., j, j] = c
        # right-handed: about x (i=y, j=z), about y (i=x, j=z, sign flips), about z (i=x, j=y)
        sign = -1.0 if k == 1 else 1.0
        rot[..., i, j] = -sign * s
        rot[..., j, i] = sign * s
        out = rot @ out
    return out


def forward_kinematics(skeleton: Skeleton, motion: dict[str, np.ndarray]) -> np.ndarray:
    """Global joint positions for every frame.

    Shapes:
        motion: output of :func:`parse_amc`, joint name -> [F, ndof].
        returns: [F, J, 3] float64 positions in ASF length units, joint order ``skeleton.names``.
    """
    to_rad = np.deg2rad if skeleton.angles_in_degrees else (lambda a: np.asarray(a, float))
    num_frames = len(next(iter(motion.values())))
    positions = np.zeros((num_frames, skeleton.num_joints, 3))
    globals_ = [np.empty(0)] * skeleton.num_joints
    for j in skeleton.fk_order():
        angles = np.zeros((num_frames, 3))
        channels = motion.get(skeleton.names[j])
        for col, dof in enumerate(skeleton.dofs[j]):
            dof = dof.lower()
            if dof in _ROT_DOFS:
                angles[:, _ROT_DOFS.index(dof)] = channels[:, col]
            elif j == 0:
                positions[:, 0, _AXES.index(dof[1].upper())] = channels[:, col]
        c = euler_matrices(to_rad(skeleton.axes[j]), skeleton.axis_orders[j])
        local = c @ euler_matrices(to_rad(angles), skeleton.axis_orders[j]) @ c.T
        parent = skeleton.parents[j]
        if parent < 0:
            globals_[j] = local
            continue
        globals_[j] = globals_[parent] @ local
        bone = skeleton.lengths[j] * skeleton.directions[j]
        positions[:, j] = positions[:, parent] + globals_[j] @ bone
    return positions
