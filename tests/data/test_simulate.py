"""The simulators: reference physics, determinism, batching, conservation laws, statistics."""

from __future__ import annotations

import numpy as np
import pytest

from nri.data.sim import simulate as sim

DT = 0.001


# --------------------------------------------------------------------------------------------
# A one-simulation transcription of the reference integrator (REFERENCE.md §1.1), written for
# clarity, not speed: dense N x N pair terms, the walls as two masked passes.


def _reference_run(loc0, vel0, edges, length, sample_freq, kind, box_size=5.0, strength=None):
    num_atoms = loc0.shape[1]
    strength = strength if strength is not None else (0.1 if kind == "springs" else 1.0)
    loc, vel = loc0.copy(), vel0.copy()
    frames = length // sample_freq - 1
    hits = [0]
    out_loc, out_vel = np.zeros((frames, 2, num_atoms)), np.zeros((frames, 2, num_atoms))

    def clamp():
        over = loc > box_size
        hits[0] += over.sum() + (loc < -box_size).sum()
        loc[over] = 2 * box_size - loc[over]
        vel[over] = -np.abs(vel[over])
        under = loc < -box_size
        loc[under] = -2 * box_size - loc[under]
        vel[under] = np.abs(vel[under])

    def force():
        diff = loc[:, :, None] - loc[:, None, :]  # [2, N, N]: x_i - x_j
        if kind == "springs":
            size = -strength * edges
        else:
            dist2 = (diff**2).sum(0)
            np.fill_diagonal(dist2, 1.0)
            size = strength * edges / dist2**1.5
        size = size.copy()
        np.fill_diagonal(size, 0.0)
        return np.clip((size[None] * diff).sum(-1), -0.1 / DT, 0.1 / DT)

    clamp()
    vel += DT * force()
    counter = 0
    for step in range(1, length):
        loc += DT * vel
        clamp()
        if step % sample_freq == 0:
            out_loc[counter], out_vel[counter] = loc, vel
            counter += 1
        vel += DT * force()
    return out_loc, out_vel, hits[0]


# Same operations up to the order of the force sum, so equal to rounding; charged trajectories
# amplify rounding differences in close encounters, hence the looser tolerance there.
@pytest.mark.parametrize("kind, box, loc_std, vel_norm, atol", [
    ("springs", 0.5, 0.3, 0.5, 1e-12),
    ("charged", 2.0, 0.8, 1.0, 1e-9),
])
def test_matches_reference_integrator_with_wall_hits(kind, box, loc_std, vel_norm, atol):
    init = sim.springs_initial_state if kind == "springs" else sim.charged_initial_state
    run = sim.run_springs if kind == "springs" else sim.run_charged
    loc0, vel0, edges = init(4, 5, np.random.default_rng(3), loc_std=loc_std, vel_norm=vel_norm)
    loc, vel = run(loc0, vel0, edges, 2000, 100, box_size=box)
    for s in range(4):
        ref_loc, ref_vel, hits = _reference_run(loc0[s], vel0[s], edges[s], 2000, 100, kind,
                                                box_size=box)
        assert hits > 0  # the box is small enough that every trajectory meets a wall
        np.testing.assert_allclose(loc[s], ref_loc, rtol=0, atol=atol)
        np.testing.assert_allclose(vel[s], ref_vel, rtol=0, atol=atol)


# --------------------------------------------------------------------------------------------
# Determinism and batching


@pytest.mark.parametrize("fn", [sim.simulate_springs, sim.simulate_charged])
def test_same_seed_same_bytes_particles(fn):
    a = fn(16, 5, 1000, 100, np.random.default_rng(7), noise_var=0.01)
    b = fn(16, 5, 1000, 100, np.random.default_rng(7), noise_var=0.01)
    c = fn(16, 5, 1000, 100, np.random.default_rng(8), noise_var=0.01)
    for x, y in zip(a, b, strict=True):
        assert x.tobytes() == y.tobytes()
    assert a[0].tobytes() != c[0].tobytes()


def test_same_seed_same_bytes_kuramoto():
    a = sim.simulate_kuramoto(16, 5, 200, 10, np.random.default_rng(7))
    b = sim.simulate_kuramoto(16, 5, 200, 10, np.random.default_rng(7))
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()


@pytest.mark.parametrize("kind", ["springs", "charged"])
def test_batched_run_equals_single_runs(kind):
    init = sim.springs_initial_state if kind == "springs" else sim.charged_initial_state
    run = sim.run_springs if kind == "springs" else sim.run_charged
    loc0, vel0, edges = init(6, 4, np.random.default_rng(0))
    loc, vel = run(loc0, vel0, edges, 2000, 100)
    for s in range(6):
        one_loc, one_vel = run(loc0[s:s + 1], vel0[s:s + 1], edges[s:s + 1], 2000, 100)
        np.testing.assert_allclose(one_loc[0], loc[s], rtol=0, atol=1e-12)
        np.testing.assert_allclose(one_vel[0], vel[s], rtol=0, atol=1e-12)


def test_batched_kuramoto_equals_single_runs():
    phase0, omega, edges = sim.kuramoto_initial_state(5, 4, np.random.default_rng(0))
    feat = sim.run_kuramoto(phase0, omega, edges, 300, 10)
    for s in range(5):
        one = sim.run_kuramoto(phase0[s:s + 1], omega[s:s + 1], edges[s:s + 1], 300, 10)
        np.testing.assert_allclose(one[0], feat[s], rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Shapes, frame indexing, graphs


def test_shapes_and_frame_count():
    loc, vel, edges = sim.simulate_springs(3, 4, 5000, 100, np.random.default_rng(0))
    assert loc.shape == vel.shape == (3, 49, 2, 4) and edges.shape == (3, 4, 4)
    loc, vel, edges = sim.simulate_charged(3, 4, 10000, 100, np.random.default_rng(0))
    assert loc.shape == (3, 99, 2, 4)
    feat, edges = sim.simulate_kuramoto(3, 4, 500, 10, np.random.default_rng(0))
    assert feat.shape == (3, 4, 49, 3) and edges.shape == (3, 4, 4)


def test_first_frame_is_step_sample_freq():
    # Free balls in a huge box move in straight lines: frame k is at t = (k+1) * sample_freq * dt.
    loc0, vel0, edges = sim.springs_initial_state(5, 3, np.random.default_rng(1))
    loc, vel = sim.run_springs(loc0, vel0, edges, 1000, 100, box_size=1e6,
                               interaction_strength=0.0)
    times = (np.arange(9) + 1) * 100 * DT
    expected = loc0[:, None] + times[None, :, None, None] * vel0[:, None]
    np.testing.assert_allclose(loc, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(vel, np.broadcast_to(vel0[:, None], vel.shape))


def test_springs_edges_symmetric_binary_zero_diagonal():
    _, _, edges = sim.springs_initial_state(200, 6, np.random.default_rng(0))
    np.testing.assert_array_equal(edges, edges.transpose(0, 2, 1))
    assert set(np.unique(edges)) == {0.0, 1.0}
    assert (np.diagonal(edges, axis1=1, axis2=2) == 0).all()


def test_charged_edges_are_charge_products():
    _, _, edges = sim.charged_initial_state(200, 5, np.random.default_rng(0))
    signed = edges[:, 0, :]  # q_0 q_j; (q_0 q_i)(q_0 q_j) = q_i q_j
    np.testing.assert_array_equal(edges, signed[:, :, None] * signed[:, None, :])
    assert set(np.unique(edges)) == {-1.0, 1.0}
    assert (np.diagonal(edges, axis1=1, axis2=2) == 1).all()


def test_initial_speed_is_exactly_vel_norm():
    _, vel0, _ = sim.charged_initial_state(100, 5, np.random.default_rng(0), vel_norm=0.7)
    np.testing.assert_allclose(np.sqrt((vel0**2).sum(axis=1)), 0.7, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Physics


def _springs_energy(loc, vel, edges, strength=0.1):
    """Kinetic + spring energy per frame, the reference's ``_energy``. Shapes: [S, T]."""
    kinetic = 0.5 * (vel**2).sum(axis=(2, 3))
    diff = loc[..., :, None] - loc[..., None, :]  # [S, T, 2, N, N]
    potential = 0.25 * strength * (edges[:, None] * (diff**2).sum(axis=2)).sum(axis=(2, 3))
    return kinetic + potential


def test_springs_energy_conserved_without_walls():
    # Saved velocities lag the positions by half a kick, so the frame energy carries an O(dt)
    # wobble of relative size ~ dt |F| |v| / E ≈ 1e-4; it must not drift beyond 1e-3.
    loc0, vel0, edges = sim.springs_initial_state(20, 5, np.random.default_rng(2))
    loc, vel = sim.run_springs(loc0, vel0, edges, 10000, 100, box_size=1e6)
    energy = _springs_energy(loc, vel, edges)
    assert np.abs(energy / energy[:, :1] - 1).max() < 1e-3


@pytest.mark.parametrize("same_sign, closer", [(False, True), (True, False)])
def test_charged_two_body(same_sign, closer):
    loc0 = np.array([[[-1.0, 1.0], [0.0, 0.0]]])  # [1, 2, 2]: balls at x = -1 and x = +1
    vel0 = np.zeros_like(loc0)
    q = np.array([1.0, 1.0 if same_sign else -1.0])
    edges = (q[:, None] * q[None, :])[None]
    loc, vel = sim.run_charged(loc0, vel0, edges, 1000, 100, box_size=1e6)
    gap = loc[0, :, 0, 1] - loc[0, :, 0, 0]
    steps = np.diff(np.concatenate([[2.0], gap]))
    assert (steps < 0).all() if closer else (steps > 0).all()
    np.testing.assert_allclose(loc[0, :, 1], 0.0, atol=1e-15)  # the motion stays on the axis
    np.testing.assert_allclose(vel[0].sum(axis=-1), 0.0, atol=1e-12)  # momentum conserved


def test_walls_keep_every_ball_in_the_box():
    for init, run in ((sim.springs_initial_state, sim.run_springs),
                      (sim.charged_initial_state, sim.run_charged)):
        loc0, vel0, edges = init(50, 5, np.random.default_rng(4), loc_std=0.2, vel_norm=2.0)
        loc, _ = run(loc0, vel0, edges, 5000, 10, box_size=0.5)
        assert np.abs(loc).max() <= 0.5
        assert np.abs(loc).max() > 0.45  # the balls do reach the walls


def test_wall_escape_beyond_three_boxes_raises():
    loc0 = np.zeros((1, 2, 2))
    vel0 = np.array([[[1000.0, 0.0], [0.0, 0.0]]])  # 1.0 per step: 5 half-widths in one drift
    edges = np.zeros((1, 2, 2))
    with pytest.raises(FloatingPointError, match="left the box"):
        sim.run_springs(loc0, vel0, edges, 200, 100, box_size=0.2)


def test_kuramoto_uncoupled_phases_advance_at_omega():
    phase0, omega, edges = sim.kuramoto_initial_state(8, 5, np.random.default_rng(0),
                                                      coupling_prob=0.0)
    assert not edges.any()
    feat = sim.run_kuramoto(phase0, omega, edges, 500, 10, dt=0.01)
    times = (np.arange(49) + 1) * 10 * 0.01
    np.testing.assert_allclose(feat[..., 0], np.broadcast_to(omega[:, :, None], (8, 5, 49)))
    np.testing.assert_allclose(feat[..., 1], np.sin(phase0[:, :, None] + omega[:, :, None] * times),
                               atol=1e-9)
    np.testing.assert_array_equal(feat[..., 2], np.broadcast_to(omega[:, :, None], (8, 5, 49)))


def test_kuramoto_edge_direction_row_is_receiver():
    phase0 = np.array([[0.0, 1.0]])
    omega = np.array([[2.0, 7.0]])
    edges = np.array([[[0.0, 1.0], [0.0, 0.0]]])  # edges[0, 0, 1]: oscillator 1 drives 0
    feat = sim.run_kuramoto(phase0, omega, edges, 500, 10)
    np.testing.assert_allclose(feat[0, 1, :, 0], 7.0)  # the driver runs free
    assert np.ptp(feat[0, 0, :, 0]) > 1.0  # the receiver's rate swings by about ±1


def test_kuramoto_matches_direct_rk4():
    phase0, omega, edges = sim.kuramoto_initial_state(3, 4, np.random.default_rng(5))
    feat = sim.run_kuramoto(phase0, omega, edges, 200, 10, dt=0.01, coupling_strength=1.5)

    def rate(phase, s):
        return omega[s] + 1.5 * (edges[s] * np.sin(phase[None, :] - phase[:, None])).sum(-1)

    for s in range(3):
        phase = phase0[s].copy()
        for step in range(1, 191):
            k1 = rate(phase, s)
            k2 = rate(phase + 0.005 * k1, s)
            k3 = rate(phase + 0.005 * k2, s)
            k4 = rate(phase + 0.01 * k3, s)
            phase = phase + 0.01 / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            if step % 10 == 0:
                k = step // 10 - 1
                np.testing.assert_allclose(feat[s, :, k, 0], rate(phase, s), atol=1e-10)
                np.testing.assert_allclose(feat[s, :, k, 1], np.sin(phase), atol=1e-10)


def test_kuramoto_rate_scaled_per_oscillator_over_the_test_window():
    rng = np.random.default_rng(3)
    feat, edges = sim.simulate_kuramoto(20, 5, 500, 10, rng, scaling_length=1000)
    raw = sim.simulate_kuramoto(20, 5, 1000, 10, np.random.default_rng(3), rate_scaling="none")[0]
    long = sim.simulate_kuramoto(20, 5, 1000, 10, np.random.default_rng(3))[0]
    np.testing.assert_array_equal(feat, long[:, :, :49])  # train = start of a test-length run
    driven = edges.sum(2) > 0  # [S, N]: oscillators with at least one driver
    assert driven.any() and (~driven).any()
    # over the 99-frame window each driven rate spans exactly [-1, 1]; undriven ones are 0
    np.testing.assert_allclose(long[..., 0].min(-1)[driven], -1.0)
    np.testing.assert_allclose(long[..., 0].max(-1)[driven], 1.0)
    assert (long[..., 0][~driven] == 0).all()
    # the scaling is affine per oscillator: raw = a * scaled + b
    s, i = np.argwhere(driven)[0]
    a, b = np.polyfit(long[s, i, :, 0], raw[s, i, :, 0], 1)
    np.testing.assert_allclose(a * long[s, i, :, 0] + b, raw[s, i, :, 0], atol=1e-9)
    np.testing.assert_array_equal(long[..., 1:], raw[..., 1:])  # sin φ and ω untouched


def test_kuramoto_with_phase_adds_the_scaled_phase_before_omega():
    feat, _ = sim.simulate_kuramoto(6, 4, 300, 10, np.random.default_rng(1), scaling_length=300,
                                    with_phase=True)
    plain, _ = sim.simulate_kuramoto(6, 4, 300, 10, np.random.default_rng(1), scaling_length=300)
    assert feat.shape == (6, 4, 29, 4)
    np.testing.assert_array_equal(feat[..., [0, 1, 3]], plain)
    np.testing.assert_allclose(feat[..., 2].min(-1), -1.0)
    np.testing.assert_allclose(feat[..., 2].max(-1), 1.0)
    # unwrapped, not taken mod 2π: it rises nearly everywhere (ω ≥ 1 mostly outweighs coupling)
    assert (np.diff(feat[..., 2], axis=-1) > 0).mean() > 0.9


def test_kuramoto_rate_scaling_rejects_unknown_kind():
    with pytest.raises(ValueError, match="rate_scaling"):
        sim.simulate_kuramoto(2, 3, 100, 10, np.random.default_rng(0), rate_scaling="global")


def test_kuramoto_graphs():
    _, _, directed = sim.kuramoto_initial_state(300, 5, np.random.default_rng(0))
    assert (np.diagonal(directed, axis1=1, axis2=2) == 0).all()
    assert (directed != directed.transpose(0, 2, 1)).any()
    off = directed[:, ~np.eye(5, dtype=bool)]
    assert 0.46 < off.mean() < 0.54  # 6000 Bernoulli(0.5) draws: ±0.04 is 6 standard deviations
    _, _, undirected = sim.kuramoto_initial_state(50, 5, np.random.default_rng(0),
                                                  directed=False)
    np.testing.assert_array_equal(undirected, undirected.transpose(0, 2, 1))


# --------------------------------------------------------------------------------------------
# Statistics of a small springs set against what the reference physics implies


def test_springs_statistics():
    num_sims, num_atoms, loc_std, vel_norm, strength = 1000, 5, 0.5, 0.5, 0.1
    loc0, vel0, edges = sim.springs_initial_state(num_sims, num_atoms, np.random.default_rng(11))
    loc, vel = sim.run_springs(loc0, vel0, edges, 5000, 100)

    # Edge density: 10 000 Bernoulli(0.5) pairs, standard deviation 0.005.
    density = edges[:, ~np.eye(num_atoms, dtype=bool)].mean()
    assert 0.47 < density < 0.53

    # Speed: exactly vel_norm at t = 0; spring forces (~0.1) change it by ~1% by the first frame.
    speed = np.sqrt((vel**2).sum(axis=2))
    assert 0.48 < speed[:, 0].mean() < 0.52
    # Energy flows into the springs as balls separate, so balls slow down on average.
    assert 0.3 < speed.mean() < vel_norm

    # Energy: E = N v²/2 + Σ_springs (k/2) |r|², E|r|² = 4 loc_std², 5 springs on average
    # -> 0.625 + 5 * 0.05 * 1 = 0.875; then conserved by the integrator and the elastic walls.
    energy = _springs_energy(loc, vel, edges, strength)
    expected = num_atoms * vel_norm**2 / 2 + 10 * 0.5 * strength / 2 * 4 * loc_std**2
    assert abs(energy[:, 0].mean() / expected - 1) < 0.05
    assert np.abs(energy / energy[:, :1] - 1).max() < 2e-3

    # Spread: internal forces cancel, so the centre of mass drifts ballistically:
    # Var(cm) = loc_std²/N + vel_norm² t² / (2N) per coordinate (0.650 at t = 4.9).
    t_last = 4900 * DT
    cm_var = loc[:, -1].mean(axis=-1).var()
    predicted = loc_std**2 / num_atoms + vel_norm**2 * t_last**2 / (2 * num_atoms)
    assert abs(cm_var / predicted - 1) < 0.15

    # Wall hits change the total momentum. Balls start within ~1.5 of the centre and drift less
    # than 2.5 in 4.9 time units, so a train-length trajectory almost never reaches |x| = 5.
    momentum = vel.sum(axis=-1)
    hit = (np.abs(momentum - momentum[:, :1]) > 1e-9).any(axis=(1, 2))
    assert hit.mean() < 0.01
    assert np.abs(loc).max() < 5.0


def test_free_balls_hit_walls_at_the_ballistic_rate():
    # Without springs a ball's velocity changes only at a wall, and a straight line from x0
    # reaches the wall before t iff |x0 + v t| > box in some coordinate.
    loc0, vel0, edges = sim.springs_initial_state(1000, 5, np.random.default_rng(12),
                                                  edge_prob=0.0)
    _, vel = sim.run_springs(loc0, vel0, edges, 10000, 100)
    hit = (vel != vel0[:, None]).any(axis=(1, 2)).mean()  # per ball, 5000 balls
    t_last = 9900 * DT
    rng = np.random.default_rng(0)
    start = rng.standard_normal((400_000, 2)) * 0.5
    angle = rng.uniform(0, 2 * np.pi, 400_000)
    end = start + 0.5 * t_last * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    expected = (np.abs(end) > 5.0).any(axis=1).mean()  # ≈ 0.21
    assert abs(hit - expected) < 5 * np.sqrt(expected * (1 - expected) / 5000)
