"""show_config, the SIMD path switch, and the installed package seen from outside the repo."""

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import denseops
import pytest
from helpers import ALL_ARCHS, available_archs, fastest_arch

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
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
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


def test_show_config_names_the_simd_path_of_each_kernel(capsys, arch):
    arch_name = arch
    text = config_text(capsys)
    assert line_value(text, "simd path").split()[0] == arch_name
    for label in (
        "elementwise",
        "reductions",
        "loss, softmax",
        "optimizers",
        "matmul float32",
        "matmul float64",
    ):
        value = line_value(text, label)
        assert value.startswith(arch_name + ":"), (
            f"{label} line does not name {arch_name}: {value!r}"
        )


def test_set_arch_generic_is_always_available():
    denseops.set_arch("generic")
    assert denseops.get_arch() == "generic"


def test_set_arch_auto_picks_the_fastest_available_path():
    denseops.set_arch("generic")
    denseops.set_arch("auto")
    assert denseops.get_arch() == fastest_arch()


@pytest.mark.parametrize("name", ["gneric", "AVX2", "avx-512", ""])
def test_set_arch_rejects_unknown_names(name):
    with pytest.raises(
        ValueError,
        match=r"set_arch: expected one of 'auto', 'avx512', 'avx2', "
        rf"'generic' .*got '{name}'",
    ):
        denseops.set_arch(name)


def test_set_arch_to_a_path_this_cpu_cannot_run_is_an_error():
    unrunnable = [name for name in ("avx2", "avx512") if name not in available_archs()]
    if not unrunnable:
        pytest.skip("this CPU runs both the avx2 and the avx512 path: none to refuse here")
    for arch_name in unrunnable:
        with pytest.raises(ValueError, match=f"set_arch: .*cannot run the '{arch_name}' path"):
            denseops.set_arch(arch_name)


@pytest.mark.parametrize("arch_name", ALL_ARCHS)
def test_denseops_arch_environment_variable_forces_each_path(tmp_path, arch_name):
    if arch_name not in available_archs():
        pytest.skip(f"this CPU (or its OS) cannot run the {arch_name} path")
    out = run_python(
        "import denseops; print(denseops.get_arch())", tmp_path, DENSEOPS_ARCH=arch_name
    )
    assert out.strip() == arch_name


def test_unknown_denseops_arch_is_an_import_error_naming_the_allowed_values(tmp_path):
    code = "import denseops"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "DENSEOPS_ARCH": "gneric"},
        timeout=60,
    )
    assert done.returncode != 0
    assert (
        "ValueError: DENSEOPS_ARCH='gneric': expected one of 'auto', 'avx512', 'avx2', "
        "'generic'" in done.stderr
    ), done.stderr


def test_set_arch_rejects_non_strings():
    with pytest.raises(TypeError):
        denseops.set_arch(2)


def test_show_config_works_from_outside_the_repo(tmp_path):
    out = run_python(
        "from denseops import relu, add, dot, matmul, show_config; show_config()", tmp_path
    )
    assert f"denseops {denseops.__version__}" in out
    assert line_value(out, "openmp") in ("on", "off")


def test_package_imported_outside_the_repo_is_the_installed_one(tmp_path):
    # The tests must exercise the installed wheel, not python/denseops in the
    # source tree (which has no compiled modules).
    location = Path(run_python("import denseops; print(denseops.__file__)", tmp_path).strip())
    assert REPO not in location.resolve().parents, f"imported from the source tree: {location}"
    assert REPO not in Path(denseops.__file__).resolve().parents, (
        f"the test session imported denseops from the source tree: {denseops.__file__}"
    )
