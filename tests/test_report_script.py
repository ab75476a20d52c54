"""benchmarks/report.py, which writes every figures block: each section lives in
exactly one document, and a run on one CPU class never touches another's block."""

import re

import pytest
from helpers import BENCHMARKS, load_benchmark_script

SCRIPT = BENCHMARKS / "report.py"


@pytest.fixture(scope="module")
def report():
    return load_benchmark_script("report")


def test_every_section_has_its_markers_in_exactly_one_document(report):
    for name in report.SECTIONS:
        document = report.document_with(name)
        assert f"<!-- figures:{name}:" in document.read_text()


TEXT = """intro
<!-- figures:peak:avx2:begin -->
old avx2
<!-- figures:peak:avx2:end -->
middle
"""


def test_a_run_replaces_only_its_own_cpu_class_block(report):
    once = report.replace_section(TEXT, "peak", "new avx512", "avx512")
    assert "old avx2" in once and "new avx512" in once
    assert once.index("old avx2") < once.index("new avx512") < once.index("middle")
    twice = report.replace_section(once, "peak", "newer avx512", "avx512")
    assert "new avx512\n" not in twice and "newer avx512" in twice and "old avx2" in twice
    again = report.replace_section(twice, "peak", "new avx2", "avx2")
    assert "old avx2" not in again and "new avx2" in again and "newer avx512" in again


def test_a_section_without_markers_is_an_error(report):
    with pytest.raises(ValueError, match="figures:epoch:CLASS"):
        report.replace_section(TEXT, "epoch", "body", "avx2")


def test_the_ladder_plot_is_one_file_per_cpu_class(report):
    shown, argv = report.SECTIONS["ladder"]
    assert argv[-1] == f"docs/bench-{report.CPU}.png"
    assert shown.endswith(argv[-1])
    assert report.FIGURES["ladder"].endswith(f"(bench-{report.CPU}.png)")


def test_every_image_the_documents_show_exists(report):
    for document in report.DOCUMENTS:
        images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", document.read_text())
        assert images, f"{document.name} shows no image"
        for image in images:
            assert (document.parent / image).is_file(), f"{document.name}: {image} is missing"
