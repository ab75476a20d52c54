"""show_config, the SIMD path switch, and the installed package seen from outside the repo."""

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import available_archs

import denseops

REPO = Path(__file__).resolve().parents[1]
CONFIG = denseops._kernels._config()


def config_text(capsys):
    assert denseops.show_config() is None
    return capsys.readouterr().out


def line_value(text, label):
    """The value printed after `label` at the start of a line of show_config."""
    found = re.search(rf"^\s*{re.escape(label)}\s+(.+?)\s*$", text, re.M)
    assert found, f"no line starting with {label!r} in:\n{text}"
    return found.group(1)


def run_python(code, cwd, **env_changes):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "DENSEOPS_"))}
    env.update(env_changes)
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_version_matches_the_installed_distribution():
    assert denseops.__version__ == importlib.metadata.version("denseops")


def test_show_config_names_the_version(capsys):
    assert re.search(rf"^denseops {re.escape(denseops.__version__)}\b", config_text(capsys), re.M)


def test_show_config_names_the_compiler(capsys):
    compiler = line_value(config_text(capsys), "compiler")
    assert compiler == CONFIG["compiler"]
    assert re.search(r"\d+\.\d+", compiler), f"no compiler version in {compiler!r}"


def test_show_config_says_whether_openmp_is_on(capsys):
    assert line_value(config_text(capsys), "openmp") == ("on" if CONFIG["openmp"] else "off")


@pytest.mark.parametrize("n", [1, 3])
def test_show_config_prints_the_current_thread_count(capsys, n):
    denseops.set_num_threads(n)
    assert line_value(config_text(capsys), "threads") == str(n)


@pytest.mark.parametrize("arch_name", ["generic", "avx2"])
def test_show_config_names_the_simd_path_of_each_kernel(capsys, arch_name):
    if arch_name not in available_archs():
        pytest.skip(f"{arch_name} kernels are not available here")
    denseops.set_arch(arch_name)
    text = config_text(capsys)
    assert line_value(text, "simd path").split()[0] == arch_name
    for kernel in ("relu", "add", "dot", "matmul float32", "matmul float64"):
        lines = [line for line in text.splitlines()
                 if re.match(rf"\s*{re.escape(kernel)}\b", line) or f"/{kernel}" in line]
        assert lines, f"show_config has no line for {kernel}:\n{text}"
        assert arch_name in lines[0], f"{kernel} line does not name {arch_name}: {lines[0]!r}"


def test_set_arch_generic_is_always_available():
    denseops.set_arch("generic")
    assert denseops.get_arch() == "generic"


def test_set_arch_auto_picks_the_fastest_available_path():
    denseops.set_arch("generic")
    denseops.set_arch("auto")
    assert denseops.get_arch() == available_archs()[-1]


def test_set_arch_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"set_arch: expected one of 'auto', 'generic', 'avx2', "
                                         r"got 'avx512'"):
        denseops.set_arch("avx512")


def test_set_arch_rejects_non_strings():
    with pytest.raises(TypeError):
        denseops.set_arch(2)


@pytest.mark.skipif("avx2" in available_archs(), reason="this machine has AVX2+FMA kernels")
def test_set_arch_avx2_without_avx2_is_an_error():
    with pytest.raises(ValueError, match="set_arch: .*no AVX2"):
        denseops.set_arch("avx2")


def test_denseops_arch_environment_variable_forces_the_generic_path(tmp_path):
    out = run_python("import denseops; print(denseops.get_arch())", tmp_path,
                     DENSEOPS_ARCH="generic")
    assert out.strip() == "generic"


def test_show_config_works_from_outside_the_repo(tmp_path):
    out = run_python("from denseops import relu, add, dot, matmul, show_config; show_config()",
                     tmp_path)
    assert f"denseops {denseops.__version__}" in out
    assert line_value(out, "openmp") in ("on", "off")


def test_package_imported_outside_the_repo_is_the_installed_one(tmp_path):
    # The tests must exercise the installed wheel, not python/denseops in the
    # source tree (which has no compiled modules).
    location = Path(run_python("import denseops; print(denseops.__file__)", tmp_path).strip())
    assert REPO not in location.resolve().parents, f"imported from the source tree: {location}"
    assert REPO not in Path(denseops.__file__).resolve().parents, (
        f"the test session imported denseops from the source tree: {denseops.__file__}")
