"""Counterfactual ground truth on synthetic faces: the renderer, and G(x) scored against the true
counterfactual with known answers (the truth itself, the input, a constant image, a grid point)."""

import dataclasses

import numpy as np
import pytest
import torch
from stub_model import StubModel

import csvae
from csvae.data.synthetic_faces import STYLE_FACTORS, render_counterfactuals
from csvae.evaluate.counterfactual import (
    GRID_VALUES,
    counterfactual_distances,
    counterfactual_report,
    nearest,
    style_grid,
    transfer_fidelity,
)
from csvae.evaluate.energy import energy_distance, energy_distances
from csvae.evaluate.styles import transfer_truth

SMALL = {"max_per_direction": 12, "n_boot": 200}


# ----- the renderer --------------------------------------------------------------------------------
def own_style(faces, rows, attribute):
    return {n: faces.factors[n][rows] for n in STYLE_FACTORS[faces.attribute_names[attribute]]}


def test_a_face_rendered_with_its_own_labels_and_styles_is_itself(faces):
    rows = faces.indices("test")[:40]
    for i, name in enumerate(faces.attribute_names):
        own = faces.y[rows, i]
        np.testing.assert_array_equal(render_counterfactuals(faces, rows, i, own), faces.x[rows])
        np.testing.assert_array_equal(render_counterfactuals(faces, rows, name, own, style=own_style(faces, rows, i)),
                                      faces.x[rows])
        has = rows[own == 1]
        np.testing.assert_array_equal(render_counterfactuals(faces, has, i, 1), faces.x[has])


def changed_rows(before, after):
    """The image rows (as fractions of the side, pixel centres) where any pixel differs."""
    side = before.shape[-1]
    changed = np.flatnonzero((before != after).any(axis=(0, 1, 3)))
    return (changed + 0.5) / side


# Vertical extent (fractions of the side) of what each attribute draws, from the renderer's
# geometry: face centre cy in 0.52 +- 0.04; glasses at cy - 0.07 with half-height <= 0.105 plus the
# frame; moustache from my - 0.06 (my = cy + 0.16) and the beard from cy + 0.08 down; mouth from
# my - 0.012 to my + 0.11; plus one 32-px pixel of margin for the box reduction.
REGIONS = {"glasses": (0.26, 0.64), "facial_hair": (0.52, 1.0), "smile": (0.59, 0.87)}


@pytest.mark.parametrize("attribute", ["glasses", "facial_hair", "smile"])
def test_a_flip_changes_only_the_attributes_region(faces, attribute):
    i = faces.attribute_names.index(attribute)
    rows = faces.indices("test")[:60]
    without, with_ = rows[faces.y[rows, i] == 0], rows[faces.y[rows, i] == 1]
    grid = style_grid(attribute)
    added = render_counterfactuals(faces, without, i, 1, style={n: v[-1] for n, v in grid.items()})
    removed = render_counterfactuals(faces, with_, i, 0)
    low, high = REGIONS[attribute]
    for before, after in ((faces.x[without], added), (faces.x[with_], removed)):
        where = changed_rows(before, after)
        assert len(where) >= 3, attribute  # the flip draws something
        assert where.min() >= low and where.max() <= high, (attribute, where.min(), where.max())


def test_a_style_changes_only_the_rows_that_have_the_attribute(faces):
    rows = faces.indices("test")[:30]
    i = faces.attribute_names.index("glasses")
    grid = style_grid("glasses")
    dark = render_counterfactuals(faces, rows, i, faces.y[rows, i],
                                  style={n: np.full(len(rows), v[0]) for n, v in grid.items()})
    has = faces.y[rows, i] == 1
    np.testing.assert_array_equal(dark[~has], faces.x[rows][~has])  # target 0: the style is unused
    assert (dark[has] != faces.x[rows][has]).any()


def test_transfer_truth_is_a_counterfactual_with_the_donors_style(faces):
    rows = faces.indices("test")
    a, b = rows[:20], rows[faces.y[rows, 1] == 1][:20]
    np.testing.assert_array_equal(transfer_truth(faces, a, b, 1),
                                  render_counterfactuals(faces, a, 1, 1, style=own_style(faces, b, 1)))


def test_rendered_truths_are_remembered_per_data_set_and_request(faces, monkeypatch):
    from csvae.config import DataConfig
    from csvae.data.synthetic_faces import load_synthetic_faces
    from csvae.evaluate import truths

    renders = []

    def counted(*args, **kwargs):
        renders.append(args[1:3])
        return render_counterfactuals(*args, **kwargs)

    monkeypatch.setattr(truths, "render_counterfactuals", counted)
    truths.clear()
    rows = faces.indices("test")[:16]
    style = {"smile.curvature": 0.5, "smile.width": np.linspace(0, 1, 16)}
    first = truths.render(faces, rows, 2, 1, style=style)
    np.testing.assert_array_equal(first, render_counterfactuals(faces, rows, 2, 1, style=style))
    first[:] = 0  # the caller's own copy: what the next caller gets is unchanged
    again = truths.render(faces, rows.copy(), 2, 1, style={**style, "smile.width": np.linspace(0, 1, 16)})
    np.testing.assert_array_equal(again, render_counterfactuals(faces, rows, 2, 1, style=style))
    assert len(renders) == 1  # the same request, rendered once
    other_style = truths.render(faces, rows, 2, 1, style={**style, "smile.width": np.linspace(1, 0, 16)})
    assert not np.array_equal(other_style, again) and len(renders) == 2
    truths.render(faces, rows, 2, 0), truths.render(faces, rows, 1, 0)  # attribute and target in the key
    assert len(renders) == 4
    other_data = load_synthetic_faces(DataConfig(name="synthetic_faces", n_samples=200, image_size=32, seed=1))
    other_rows = other_data.indices("test")[:16]
    np.testing.assert_array_equal(truths.render(other_data, other_rows, 2, 0),
                                  render_counterfactuals(other_data, other_rows, 2, 0))
    assert len(renders) == 5
    monkeypatch.setattr(truths, "CACHE_BYTES", again.nbytes)  # room for one request: the oldest go
    truths.render(faces, rows[:8], 2, 0)
    truths.render(faces, rows[:8], 2, 0)
    truths.render(faces, rows, 2, 1, style=style)
    assert len(renders) == 7
    truths.clear()


def test_renderer_errors_name_the_argument(faces):
    rows = faces.indices("test")[:10]
    lacking = rows[faces.y[rows, 0] == 0]
    with pytest.raises(ValueError, match="lack 'glasses'.*give it in style"):
        render_counterfactuals(faces, lacking, 0, 1)
    with pytest.raises(ValueError, match="style names \\['smile.width'\\] are not style factors of 'glasses'"):
        render_counterfactuals(faces, rows, 0, 1, style={"smile.width": 0.5})
    with pytest.raises(ValueError, match="target must be 0 or 1"):
        render_counterfactuals(faces, rows, 0, 2)
    with pytest.raises(ValueError, match="attribute 'beard' is not one of"):
        render_counterfactuals(faces, rows, "beard", 0)
    with pytest.raises(ValueError, match="attribute must be a name in .* or an index 0..2"):
        render_counterfactuals(faces, rows, 3, 0)
    with pytest.raises(ValueError, match="rows must be a non-empty 1-D array"):
        render_counterfactuals(faces, rows[:0], 0, 0)
    with pytest.raises(ValueError, match="style\\['glasses.tint'\\] must be a scalar or \\(10,\\)"):
        render_counterfactuals(faces, rows, 0, 1, style={"glasses.size": 0.5, "glasses.roundness": 0.5,
                                                         "glasses.tint": np.zeros(3)})
    with pytest.raises(ValueError, match="factors is None"):
        render_counterfactuals(dataclasses.replace(faces, factors=None), rows, 0, 0)


# ----- the grid and the nearest candidate ----------------------------------------------------------
def test_style_grid_covers_every_combination():
    for attribute, names in STYLE_FACTORS.items():
        grid = style_grid(attribute)
        assert set(grid) == set(names)
        points = np.stack([grid[n] for n in names], 1)
        assert len(points) == len(GRID_VALUES) ** len(names) == len(np.unique(points, axis=0))
        assert set(np.unique(points)) == set(GRID_VALUES)
    with pytest.raises(ValueError, match="grid values must be"):
        style_grid("smile", [0.5, 1.5])
    with pytest.raises(ValueError, match="'beard' is not a synthetic-face attribute"):
        style_grid("beard")


def test_nearest_picks_the_candidate_an_output_equals():
    rng = np.random.default_rng(0)
    candidates = rng.random((9, 20, 12))
    pick = rng.integers(0, 9, 20)
    distance, index = nearest(candidates[pick, np.arange(20)], candidates)
    np.testing.assert_array_equal(index, pick)
    np.testing.assert_array_equal(distance, 0.0)
    shifted, index = nearest(candidates[pick, np.arange(20)] + 0.01, candidates)
    np.testing.assert_array_equal(index, pick)
    np.testing.assert_allclose(shifted, 0.01 * np.sqrt(12))


# ----- the metric with known answers ---------------------------------------------------------------
class Lookup(StubModel):
    """Stub models that know the data set row of each input image; reconstructions are exact."""

    def __init__(self, faces):
        self.faces = faces
        self.row = {faces.x[i].tobytes(): i for i in range(len(faces.x))}

    def rows(self, x):
        return np.array([self.row[image.tobytes()] for image in x.numpy()])

    def reconstruct(self, x, y, batch_size=256):
        return x.astype(np.float32) / 255


class Truth(Lookup):
    """G(x) = the true counterfactual; an added attribute gets the style ``point`` (a grid point by
    default); transfer renders a with b's style."""

    def __init__(self, faces, point=0.5):
        super().__init__(faces)
        self.point = point

    def manipulate(self, x, y, target_y, style=None, generator=None):
        rows, out = self.rows(x), x.float() / 255
        for i, name in enumerate(self.faces.attribute_names):
            flip = (target_y[:, i] != y[:, i]).numpy()
            if flip.any():
                value = int(target_y[flip, i][0])
                style = {n: self.point for n in STYLE_FACTORS[name]} if value else None
                out[flip] = torch.from_numpy(render_counterfactuals(self.faces, rows[flip], i, value, style)) / 255
        return out

    def transfer(self, x, y, reference_x, reference_y, attributes):
        truth = transfer_truth(self.faces, self.rows(x), self.rows(reference_x), attributes[0])
        return torch.from_numpy(truth).float() / 255


class Keep(Lookup):
    """G(x) = x: a reconstruction that changes nothing."""

    def manipulate(self, x, y, target_y, style=None, generator=None):
        return x.float() / 255


class Constant(Lookup):
    def manipulate(self, x, y, target_y, style=None, generator=None):
        return torch.full(x.shape, 0.5)


def test_the_truth_scores_zero(faces, judge):
    report = counterfactual_report(Truth(faces), judge, faces, n_pairs=20, **SMALL)
    assert set(report["directions"]) == {f"{a}: {s}->{1 - s}" for a in faces.attribute_names for s in (0, 1)}
    for name, row in report["directions"].items():
        assert row["n"] == 12
        grid = len(GRID_VALUES) ** len(STYLE_FACTORS[row["attribute"]])
        assert row["candidates"] == (1 if name.endswith("1->0") else grid)
        assert row["pixel"] == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}, name
        assert row["feature"]["mean"] == pytest.approx(0.0, abs=1e-4) and row["feature"]["ci_high"] < 1e-4
        assert row["reference"]["input"]["pixel"] > 0.01  # doing nothing is not the counterfactual
    for t in report["transfer"].values():
        assert t["n"] == 20 and t["pixel"]["transfer"]["mean"] == 0.0
        assert t["feature"]["transfer"]["mean"] == pytest.approx(0.0, abs=1e-4)
        # the flip adds the grid's middle style, not the donor's: it misses wherever a lacks the attribute
        assert t["pixel"]["label_flip"]["mean"] > 0.0


def test_off_grid_styles_are_scored_against_the_closest_grid_point(faces, judge):
    on_grid = counterfactual_distances(Truth(faces, point=GRID_VALUES[0]), judge, faces, **SMALL)
    off_grid = counterfactual_distances(Truth(faces, point=0.3), judge, faces, **SMALL)
    coarse = counterfactual_distances(Truth(faces, point=GRID_VALUES[0]), judge, faces, grid_values=[0.9], **SMALL)
    for name, row in on_grid.items():
        if name.endswith("0->1"):
            assert row["pixel"]["mean"] == 0.0
            assert 0.0 < off_grid[name]["pixel"]["mean"] < coarse[name]["pixel"]["mean"], name
            assert coarse[name]["candidates"] == 1
        else:
            assert off_grid[name] == row  # 1->0 has one truth, whatever the style


class Blurry(Truth):
    """The truth as a blurry decoder would draw it: a 3x3 box blur."""

    def manipulate(self, x, y, target_y, style=None, generator=None):
        sharp = super().manipulate(x, y, target_y, style, generator)
        return torch.nn.functional.avg_pool2d(sharp, 3, stride=1, padding=1, count_include_pad=False)


def test_a_constant_image_scores_worse_than_a_reconstruction(faces, judge):
    blurry = counterfactual_distances(Blurry(faces), judge, faces, **SMALL)
    keep = counterfactual_distances(Keep(faces), judge, faces, **SMALL)
    constant = counterfactual_distances(Constant(faces), judge, faces, **SMALL)
    for name, row in blurry.items():
        assert row["pixel"]["mean"] > 0 and row["feature"]["mean"] > 0
        assert row["pixel"]["ci_low"] <= row["pixel"]["mean"] <= row["pixel"]["ci_high"]
        assert constant[name]["pixel"]["ci_low"] > row["pixel"]["ci_high"], name
        assert constant[name]["feature"]["ci_low"] > row["feature"]["ci_high"], name
        # G(x) = x is exactly the "input" reference (here also the "reconstruction" one); in pixels
        # it beats a constant image, as it differs from the truth only where the attribute is drawn.
        # (Not always in judge features: they weigh the attribute itself heavily.)
        unchanged = keep[name]
        assert unchanged["pixel"]["mean"] == pytest.approx(unchanged["reference"]["input"]["pixel"], abs=1e-6)
        assert unchanged["reference"]["reconstruction"] == unchanged["reference"]["input"]
        assert constant[name]["pixel"]["ci_low"] > unchanged["pixel"]["ci_high"], name


def test_transfer_fidelity_of_baselines_is_their_label_flip(faces, judge):
    keep = transfer_fidelity(Keep(faces), judge, faces, "facial_hair", n_pairs=30, n_boot=100)
    assert set(keep["pixel"]) == set(keep["feature"]) == {"label_flip"}  # no transfer(): a label flip only
    assert 0 < keep["n_add"] < 30
    truth = transfer_fidelity(Truth(faces), judge, faces, "facial_hair", n_pairs=30, n_boot=100)
    assert truth["pixel"]["transfer"]["mean"] == 0.0 < keep["pixel"]["label_flip"]["ci_low"]


def test_real_models_end_to_end(faces, judge):
    small = {"n_pairs": 6, "max_per_direction": 5, "n_boot": 50}
    model = csvae.build_model("csvae", x_shape=(3, 32, 32), y_dim=3, z_dim=4, w_dim=2, conv_channels=[8, 8, 8],
                              conv_dense=16, head_hidden=8, adversary_hidden=[8], seed=0)
    report = counterfactual_report(model, judge, faces, **small)
    assert model.training  # evaluation leaves the mode as it found it
    assert report["grid"] == {"values": list(GRID_VALUES), "size": {"glasses": 27, "facial_hair": 27, "smile": 9}}
    assert set(report["transfer"]["smile"]["pixel"]) == {"label_flip", "transfer"}
    assert all(row["pixel"]["mean"] > 0 for row in report["directions"].values())
    vae = csvae.build_model("vae", x_shape=(3, 32, 32), y_dim=3, z_dim=4, conv_channels=[8, 8, 8], conv_dense=16,
                            head_hidden=8, seed=0)
    assert set(counterfactual_report(vae, judge, faces, **small)["transfer"]["glasses"]["feature"]) == {"label_flip"}


def test_report_refusals_name_the_problem(faces, judge):
    with pytest.raises(ValueError, match="factors is None"):
        counterfactual_report(Keep(faces), judge, dataclasses.replace(faces, factors=None))
    with pytest.raises(ValueError, match="need binary attributes"):
        counterfactual_report(Keep(faces), judge, dataclasses.replace(faces, label_kind="categorical"))
    with pytest.raises(ValueError, match="cannot score these images"):
        counterfactual_report(Keep(faces), judge, dataclasses.replace(faces, info={"name": "celeba"}))
    with pytest.raises(ValueError, match="'beard' is not one of"):
        transfer_fidelity(Keep(faces), judge, faces, "beard")


# ----- the energy distance ------------------------------------------------------------------------
def test_energy_distance_by_hand_and_against_its_closed_form():
    # draws {0, 0} against truths {1, 3}: 2 * mean(1, 3, 1, 3) - 0 - |1 - 3| = 2
    assert energy_distance(np.zeros((2, 1, 1)), np.array([1.0, 3.0]).reshape(2, 1, 1)) == pytest.approx([2.0])
    # N(0, 1) against N(mu, 1) in one dimension: 2 E|X - Y| - 2 E|X - X'| with X - Y ~ N(-mu, 2) and
    # E|N(m, s^2)| = s sqrt(2 / pi) exp(-m^2 / 2 s^2) + m (1 - 2 Phi(-m / s)); E|X - X'| = 2 / sqrt(pi)
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    for mu in (0.0, 1.5):
        s = np.sqrt(2.0)
        cross = s * np.sqrt(2 / np.pi) * np.exp(-mu ** 2 / (2 * s ** 2)) + mu * (1 - 2 * norm.cdf(-mu / s))
        expected = 2 * cross - 2 * (2 / np.sqrt(np.pi))
        draws, truths = rng.normal(0, 1, (8, 20000, 1)), rng.normal(mu, 1, (8, 20000, 1))
        assert energy_distance(draws, truths).mean() == pytest.approx(expected, abs=0.02)
    with pytest.raises(ValueError, match="at least 2 draws and 2 truths"):
        energy_distance(np.zeros((1, 3, 2)), np.zeros((4, 3, 2)))


class Sampler(Truth):
    """A perfect sampler: G(x) is the true counterfactual, an added attribute in the style of a
    random face that shows it (drawn with the call's generator)."""

    def manipulate(self, x, y, target_y, style=None, generator=None):
        rows, out = self.rows(x), x.float() / 255
        for i, name in enumerate(self.faces.attribute_names):
            flip = (target_y[:, i] != y[:, i]).numpy()
            if flip.any() and int(target_y[flip, i][0]) == 1:
                donors = np.flatnonzero(self.faces.y[:, i] == 1)
                picked = donors[torch.randint(len(donors), (int(flip.sum()),), generator=generator).numpy()]
                own = {n: self.faces.factors[n][picked] for n in STYLE_FACTORS[name]}
                out[flip] = torch.from_numpy(render_counterfactuals(self.faces, rows[flip], i, 1, own)) / 255
            elif flip.any():
                out[flip] = super().manipulate(x[flip], y[flip], target_y[flip])
        return out


def test_the_energy_distance_ranks_a_sampler_of_true_styles_above_one_style(faces, judge):
    small = {"max_per_direction": 40, "n_boot": 200}
    one_style = Truth(faces)  # adds the grid's middle style: 0 on the grid distance
    grid_one, grid_sampler = (counterfactual_distances(m, judge, faces, **small) for m in (one_style, Sampler(faces)))
    energy_one, energy_sampler = (energy_distances(m, judge, faces, n_draws=6, **small)
                                  for m in (one_style, Sampler(faces)))
    for name, row in energy_sampler.items():
        assert row["n"] == 40 and row["draws"] == 6
        if name.endswith("1->0"):  # one truth, drawn exactly
            assert row["pixel"] == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}
            assert row["feature"]["mean"] == pytest.approx(0.0, abs=1e-4)
            continue
        for metric in ("pixel", "feature"):
            # the grid distance prefers one style; the energy distance the sampler, whose score is ~0
            assert grid_one[name][metric]["mean"] < grid_sampler[name][metric]["mean"], (name, metric)
            assert row[metric]["ci_high"] < energy_one[name][metric]["ci_low"], (name, metric)
            assert abs(row[metric]["mean"]) < 0.2 * energy_one[name][metric]["mean"], (name, metric)
    with pytest.raises(ValueError, match="n_draws must be an integer >= 2"):
        energy_distances(one_style, judge, faces, n_draws=1)


# ----- the report's tables and claims --------------------------------------------------------------
DIRECTIONS = ("glasses: 0->1", "glasses: 1->0")


def scored(mean, half=0.01):
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half}


def run_metrics(distance, transfer=None, flip=0.2, energy=None):
    """metrics.json of one run: every direction at ``distance`` (a number, or direction -> number or
    None for no inputs), the transfer at ``transfer`` (None: no transfer), the label flip at ``flip``
    and, unless None, every direction's energy distance at ``energy``."""
    at = distance if isinstance(distance, dict) else dict.fromkeys(DIRECTIONS, distance)
    directions = {d: {"attribute": "glasses", "source": int(d[-4]), "target": int(d[-1]), "n": 50 if at[d] else 0,
                      "candidates": 27 if d.endswith("0->1") else 1,
                      "pixel": scored(at[d]) if at[d] else None, "feature": scored(10 * at[d]) if at[d] else None,
                      "reference": {"reconstruction": {"pixel": 0.3, "feature": 3.0}, "input": {"pixel": 0.1,
                                                                                               "feature": 2.0}}}
                  for d in DIRECTIONS}
    methods = {"label_flip": flip, **({"transfer": transfer} if transfer is not None else {})}
    transfers = {"glasses": {"n": 40, "n_add": 20, "pixel": {k: scored(v) for k, v in methods.items()},
                             "feature": {k: scored(10 * v) for k, v in methods.items()}}}
    metrics = {"label_chance": 0.5, "z_label_accuracy_nonlinear": 0.6,
               "counterfactual": {"style": "sample", "split": "test",
                                  "grid": {"values": list(GRID_VALUES), "size": {"glasses": 27}},
                                  "directions": directions, "transfer": transfers}}
    if energy is not None:
        metrics["counterfactual"]["energy"] = {d: {"n": 50, "draws": 8, "pixel": scored(energy),
                                                   "feature": scored(10 * energy)} for d in DIRECTIONS}
    return metrics


def test_claims_hold_only_when_every_interval_lies_below():
    from csvae.report import claims, counterfactual_claims

    runs = {"csvae": {0: run_metrics(0.05, transfer=0.1)}, "vae": {0: run_metrics(0.2)},
            "condvae": {0: run_metrics(0.1)}}
    supported = [c.line() for c in counterfactual_claims(runs)]
    # pixels and judge features separately, for the counterfactual distance and the transfer
    assert len(supported) == 4 and all(line.startswith("- Supported") for line in supported)
    assert "distance in pixels" in supported[0] and "distance in judge features" in supported[1]
    assert "closer in pixels" in supported[2] and "closer in judge features" in supported[3]
    assert "all 4 comparisons hold: 2 directions × models × seeds, in pixels" in supported[0]  # 2 x 2 baselines
    assert all(line in [c.line() for c in claims(runs, image=True)] for line in supported)
    # a peer cannot draw styles: its label flip is what CSVAE's transfer is compared with; one closer
    # to the truth than CSVAE is named with its numbers
    peer = {**runs, "msp": {0: run_metrics(0.03, flip=0.3)}}
    lines = [c.line() for c in counterfactual_claims(peer)]
    assert lines[0].startswith("- Not supported") and "fails in 2 of 6 comparisons" in lines[0]
    assert "vs msp, seed 0: CSVAE 0.050 [0.040, 0.060], msp 0.030 [0.020, 0.040]" in lines[0]
    assert "label flip of every baseline and peer (they cannot draw styles)" in lines[2]
    assert lines[2].startswith("- Supported") and "all 3 comparisons hold" in lines[2]

    runs["condvae"] = {0: run_metrics({"glasses: 0->1": 0.1, "glasses: 1->0": 0.06}, flip=0.105)}
    lines = [c.line() for c in counterfactual_claims(runs)]
    assert lines[0].startswith("- Not supported") and "fails in 1 of 4 comparisons, in 1 of 2 directions" in lines[0]
    assert ("glasses: 1->0: vs condvae, seed 0: CSVAE 0.050 [0.040, 0.060], condvae 0.060 [0.050, 0.070]"
            in lines[0])
    # judge features: 0.5 [0.49, 0.51] against 0.6 [0.59, 0.61] do not overlap, so that verdict holds
    assert lines[1].startswith("- Supported")
    assert lines[2].startswith("- Not supported") and "1 of 1 attributes" in lines[2]
    # the transfer in pixels: 0.100 [0.090, 0.110] against the flip's 0.105 [0.095, 0.115] overlap; in
    # judge features 1.00 [0.99, 1.01] against 1.05 [1.04, 1.06] do not
    assert "CSVAE 0.100 [0.090, 0.110], condvae 0.105 [0.095, 0.115]" in lines[2]
    assert lines[3].startswith("- Supported")

    runs["csvae"] = {0: run_metrics({"glasses: 0->1": 0.05, "glasses: 1->0": None}, transfer=0.1)}
    runs["condvae"] = {0: run_metrics(0.2)}
    lines = [c.line() for c in counterfactual_claims(runs)]
    assert "glasses: 1->0: vs vae, seed 0: CSVAE no inputs" in lines[0] and "(+1 more)" in lines[0]
    assert "glasses: 1->0: vs vae, seed 0: CSVAE no inputs" in lines[1]
    assert counterfactual_claims({"csvae": runs["csvae"]}) == []  # no baseline, no claim


def test_energy_claims_and_table_appear_when_every_run_has_the_energy_distance():
    from csvae.report import counterfactual_claims, counterfactual_section

    runs = {"csvae": {0: run_metrics(0.05, transfer=0.1, energy=0.02)}, "vae": {0: run_metrics(0.2, energy=0.1)},
            "condvae": {0: run_metrics(0.1, energy=0.025)}}
    lines = [c.line() for c in counterfactual_claims(runs)]
    assert len(lines) == 6 and "by the energy distance in pixels" in lines[4]
    # pixels: 0.020 [0.010, 0.030] against condvae's 0.025 [0.015, 0.035] overlap; features do not
    assert lines[4].startswith("- Not supported") and "CSVAE 0.020 [0.010, 0.030], condvae 0.025" in lines[4]
    assert lines[5].startswith("- Supported") and "by the energy distance in judge features" in lines[5]
    table = counterfactual_section(runs)
    assert "### Energy distance to the true counterfactuals" in table
    assert "| csvae | glasses: 0->1 | 50 | 8 | 0.020 | [0.010, 0.030] | 0.200 | [0.190, 0.210] |" in table
    runs["vae"] = {0: run_metrics(0.2)}  # evaluated before the energy distance: neither claim nor its row
    assert len(counterfactual_claims(runs)) == 4
    table = counterfactual_section(runs)
    assert "| condvae | glasses: 0->1 | 50 | 8 | 0.025 | [0.015, 0.035] | 0.250 | [0.240, 0.260] |" in table
    assert not any(line.startswith("| vae | glasses: 0->1 | 50 | 8 |") for line in table)


def test_report_tables_list_every_variant_and_direction():
    from csvae.report import counterfactual_section

    runs = {"vae": {0: run_metrics(0.2), 1: run_metrics(0.3)}, "csvae": {0: run_metrics(0.05, transfer=0.1)}}
    lines = counterfactual_section(runs)
    assert "### Counterfactual distance against the rendered truth" in lines
    assert "### Transfer fidelity against the rendered truth" in lines
    assert ("| vae | glasses: 0->1 | 50 | 27 | 0.250 ± 0.071 | [0.190, 0.210] | 2.500 ± 0.707 | [1.990, 2.010] | "
            "0.300 ± 0.000 | 0.100 ± 0.000 |") in lines
    assert ("| csvae | glasses: 1->0 | 50 | 1 | 0.050 | [0.040, 0.060] | 0.500 | [0.490, 0.510] | 0.300 | 0.100 |"
            in lines)
    assert "| vae | glasses | 40 | – | – | 0.200 ± 0.000 | [0.190, 0.210] | – | – | 2.000 ± 0.000 | [1.990, 2.010] |" \
        in lines
    assert "| csvae | glasses | 40 | 0.100 | [0.090, 0.110] | 0.200 | [0.190, 0.210] | 1.000 | [0.990, 1.010] | " \
           "2.000 | [1.990, 2.010] |" in lines
    assert counterfactual_section({"vae": {0: {"label_chance": 0.5}}}) == []
