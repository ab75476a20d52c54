"""The documentation site (mkdocs.yml, docs/): every public name has its page.

`mkdocs build --strict` itself runs in .ci/run (it needs the [docs] extra);
the site's examples run in test_readme.py with the README's.
"""

import importlib
import pathlib
import re

import denseops
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
API_PAGES = sorted((ROOT / "docs" / "api").glob("*.md"))
DIRECTIVE = re.compile(r"^::: ([\w.]+)\s*$", flags=re.M)


def documented_objects():
    """Every object an API page renders (its ``::: dotted.path`` directives)."""
    found = []
    for page in API_PAGES:
        for path in DIRECTIVE.findall(page.read_text()):
            module, _, name = path.rpartition(".")
            try:
                found.append((path, importlib.import_module(path)))
            except ModuleNotFoundError:
                found.append((path, getattr(importlib.import_module(module), name)))
    return found


def public_names():
    from denseops import nn, sklearn

    for module in (denseops, nn, sklearn):
        for name in module.__all__:
            if name != "__version__":
                yield module.__name__, name, getattr(module, name)


@pytest.mark.parametrize(("module", "name", "obj"), list(public_names()), ids=lambda v: str(v))
def test_every_public_name_has_a_documented_page(module, name, obj):
    pytest.importorskip("sklearn", reason="denseops.sklearn needs scikit-learn")
    pages = [path for path, documented in documented_objects() if documented is obj]
    assert pages, (
        f"{module}.{name} is public but no page of docs/api renders it (::: {module}.{name})"
    )


def test_every_directive_names_an_object_that_exists():
    assert API_PAGES, "docs/api has no pages"
    for path, obj in documented_objects():
        assert obj is not None, path


def test_every_page_in_docs_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in (ROOT / "docs").rglob("*.md"):
        relative = page.relative_to(ROOT / "docs").as_posix()
        assert f": {relative}" in nav, f"docs/{relative} is not in mkdocs.yml's nav"
