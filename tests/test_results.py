"""`csvae results`: the results page from experiment folders written by hand (``make_experiment``,
as the report's tests do), its figures drawn by the report once per module."""

import json
import re
import shutil

import pytest
from experiment_helpers import make_experiment

from csvae.cli import main
from csvae.report import build_report
from csvae.results import ResultsError, build_results
from csvae.rundir import ExperimentDir
from csvae.safeio import LOCK_NAME

LINK = re.compile(r"!\[[^]]*\]\(([^)]+)\)")


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """Two experiments with their figures drawn: "demo" (swiss roll, CelebA-Glasses at 32 px) and
    "faces" (swiss roll, synthetic faces), with a distinct recon R² in demo's CelebA CSVAE."""
    root = tmp_path_factory.mktemp("drawn")
    demo = make_experiment(root / "demo", "demo", images="celeba-glasses", leakage={"vae": 0.83, "csvae": 0.57})
    faces = make_experiment(root / "faces", "faces", images="synthetic_faces")
    path = demo.run("celeba-glasses", "csvae", 0).evaluation
    path.write_text(json.dumps({**json.loads(path.read_text()), "recon_r2": 0.4321}))
    for exp in (demo, faces):
        build_report(exp.root)
    return root


@pytest.fixture
def folders(drawn, tmp_path):
    """A fresh copy of the two experiments (demo, faces), which a test may change."""
    shutil.copytree(drawn, tmp_path / "exp")
    return ExperimentDir(tmp_path / "exp" / "demo"), ExperimentDir(tmp_path / "exp" / "faces")


def section(text: str, title: str) -> str:
    """The text of the page's section ``title``, up to the next section."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def metrics(exp: ExperimentDir, data: str, variant: str) -> dict:
    return json.loads(exp.run(data, variant, 0).evaluation.read_text())


def test_a_section_per_data_set_in_a_fixed_order_with_the_runs_numbers(folders, tmp_path):
    demo, faces = folders
    out = tmp_path / "docs" / "results.md"
    build_results([demo.root, faces.root], out)  # demo first: the page's order is its own
    text = out.read_text()
    titles = re.findall(r"^## (.+)$", text, re.M)
    assert titles == ["Swiss roll and the toy sets", "Synthetic faces", "CelebA at 32 px"]
    toy, celeba = section(text, titles[0]), section(text, titles[2])
    assert "### swiss_roll (experiment `demo`, 1 seed)" in toy and "### swiss_roll (experiment `faces`, 1 seed)" in toy
    recon = metrics(demo, "celeba-glasses", "csvae")["recon_r2"]
    assert f"| csvae | {recon:.3f} |" in celeba and f"{recon:.3f}" not in toy
    vae, csvae = (metrics(demo, "swiss_roll", v) for v in ("vae", "csvae"))
    leak = f"CSVAE {csvae['z_label_accuracy_nonlinear'] - csvae['label_chance']:.3f}, " \
           f"VAE {vae['z_label_accuracy_nonlinear'] - vae['label_chance']:.3f}"
    assert f"- Supported: *z is (more) label-free in CSVAE* (nonlinear leakage above chance: {leak})" in toy
    assert "#### The paper's claims" in celeba  # the report's subsections, one level down
    assert "Not evaluated yet, so not in the tables: runs/swiss_roll/csvae/seed1." in toy
    assert f"csvae results {demo.root} {faces.root} --out {out}" in text


def test_figures_are_copied_and_linked_and_a_missing_one_is_said(folders, tmp_path):
    demo, faces = folders
    styles = demo.run("celeba-glasses", "csvae", 0).grid("styles", "smile")
    styles.unlink()
    out = tmp_path / "docs" / "results.md"
    written = build_results([demo.root, faces.root], out)
    text = out.read_text()
    links = LINK.findall(text)
    assert len(links) == len(written.figures) and len(links) > 6
    for link in links:
        copy = out.parent / link
        name = copy.relative_to(written.folder).parts
        assert copy.read_bytes() == (folders[name[0] == "faces"].root / "/".join(name[1:])).read_bytes(), link
    assert "results/demo/figures/celeba-glasses_manipulate_smile.png" in links
    assert "results/demo/runs/celeba-glasses/csvae/seed0/figures/transfer_smile.png" in links
    assert f"- (not shown: csvae style grid over W_smile: {styles} is missing" in section(text, "CelebA at 32 px")


def test_notes_go_under_their_section_and_a_section_without_runs_keeps_its_notes(folders, tmp_path):
    demo, _ = folders
    notes = tmp_path / "docs" / "results-notes"
    notes.mkdir(parents=True)
    (notes / "toy.md").write_text("Before the tables.\n\n<!-- generated results -->\n\nAfter the tables.\n")
    (notes / "celeba-64.md").write_text("The 64 px pilots, measured by hand.\n")
    (notes / "intro.md").write_text("How to read this page.\n")
    out = tmp_path / "docs" / "results.md"
    build_results([demo.root], out)
    text = out.read_text()
    toy = section(text, "Swiss roll and the toy sets")
    assert toy.index("Before the tables.") < toy.index("### swiss_roll") < toy.index("After the tables.")
    assert text.index("How to read this page.") < text.index("## Swiss roll")
    assert "The 64 px pilots, measured by hand.\n\n(No reference run of this section was given when this page " \
           "was generated: `csvae reproduce celeba` makes one.)" in section(text, "CelebA at 64 px")
    (notes / "celeba-128.md").write_text("no such section\n")
    with pytest.raises(ResultsError, match=r"celeba-128.md names no section of the results page; notes files are "
                                           r"celeba-32.md, celeba-64.md, .*toy.md"):
        build_results([demo.root], out)


@pytest.mark.parametrize("damage, message", [
    (lambda root: shutil.rmtree(root), "{root} is not a folder; csvae results reads experiment folders"),
    (lambda root: (root / "experiment.json").unlink(), "{root} is not an experiment folder: {root}/experiment.json "
                                                       "is missing"),
    (lambda root: [p.unlink() for p in root.rglob("metrics.json")], "{root} holds no evaluated run"),
])
def test_a_folder_that_is_not_an_evaluated_experiment_is_refused_and_the_old_page_stays(folders, tmp_path, capsys,
                                                                                        damage, message):
    demo, faces = folders
    out = tmp_path / "results.md"
    out.write_text("the old page\n")
    damage(faces.root)
    assert main(["results", str(demo.root), str(faces.root), "--out", str(out)]) == 1
    assert message.format(root=faces.root) in capsys.readouterr().err
    assert out.read_text() == "the old page\n" and not (tmp_path / "results").exists()


def test_a_failure_while_writing_leaves_the_old_page(folders, tmp_path):
    out = tmp_path / "results.md"
    out.write_text("the old page\n")
    (tmp_path / "figures").write_text("a file where the figures' folder goes")
    with pytest.raises(OSError):
        build_results([folders[0].root], out, figures=tmp_path / "figures")
    assert out.read_text() == "the old page\n"
    assert not list(tmp_path.glob(".results.md*"))


def test_figures_the_page_no_longer_links_are_removed_only_for_its_experiments(folders, tmp_path):
    figures = tmp_path / "docs" / "results"
    stale, other = figures / "demo" / "runs" / "old.png", figures / "other" / "kept.png"
    for path in (stale, other):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"png")
    written = build_results([folders[0].root], tmp_path / "docs" / "results.md")
    assert written.removed == [stale] and not stale.exists() and other.exists()


def snapshot(root):
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.rglob("*"))}


def test_the_folders_are_read_without_writing_or_locking_them(folders, tmp_path):
    demo, _ = folders
    before = snapshot(demo.root)
    build_results([demo.root], tmp_path / "results.md")
    assert snapshot(demo.root) == before and not (demo.root / LOCK_NAME).exists()


def test_an_experiment_another_process_writes_is_read_and_said_in_progress(folders, tmp_path, capsys):
    from test_folders import hold_lock

    demo, _ = folders
    holder = hold_lock(demo.root)
    try:
        lock = (demo.root / LOCK_NAME).read_bytes()
        assert main(["results", str(demo.root), "--out", str(tmp_path / "results.md")]) == 0
        assert (demo.root / LOCK_NAME).read_bytes() == lock
    finally:
        holder.kill()
        holder.wait()
    text = (tmp_path / "results.md").read_text()
    assert f"**In progress**: PID {holder.pid} on " in section(text, "CelebA at 32 px")
    assert f"read while in progress: {demo.root}: PID {holder.pid} on " in capsys.readouterr().err
    build_results([demo.root], tmp_path / "results.md")  # the holder is gone: its lock file is stale
    assert "In progress" not in (tmp_path / "results.md").read_text()


def test_the_partly_labelled_parts_have_a_section_of_their_own():
    from csvae.results.sections import section_of

    assert section_of("partly_labelled_0.05", 32).key == "partly-labelled"
    assert section_of("synthetic_faces", 32).key == "synthetic-faces"
