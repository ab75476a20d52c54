"""Each kernel's signature is written in three places; they must say the same.

The `m.def` lines of csrc/bindings.cpp (names, keyword-only marker and
defaults, which pybind11 states when a call does not fit), the first line of
each docstring in csrc/docstrings.hpp (from which denseops builds its Python
wrappers), and python/denseops/_kernels.pyi (what type checkers read). A
parameter renamed, reordered, made keyword-only or given another default in
one place and not the others fails here.
"""

import ast
import re
from pathlib import Path

import denseops
import pytest
from denseops import _kernels

STUB = Path(denseops.__file__).with_name("_kernels.pyi")
REQUIRED = "<required>"


def stub_functions():
    tree = ast.parse(STUB.read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def parameters(args):
    """[(name, keyword_only, default)] of an ast.arguments; REQUIRED where none."""
    positional = args.args
    defaults = [REQUIRED] * (len(positional) - len(args.defaults)) + [
        ast.literal_eval(d) for d in args.defaults
    ]
    keyword = [REQUIRED if d is None else ast.literal_eval(d) for d in args.kw_defaults]
    return [(a.arg, False, d) for a, d in zip(positional, defaults)] + [
        (a.arg, True, d) for a, d in zip(args.kwonlyargs, keyword)
    ]


def docstring_parameters(name):
    first_line = getattr(_kernels, name).__doc__.splitlines()[0]
    match = re.fullmatch(rf"{name}\((.*)\)", first_line)
    assert match, f"{name}'s docstring does not start with its signature: {first_line!r}"
    return parameters(ast.parse(f"def f({match.group(1)}): pass").body[0].args)


def binding_parameters(name):
    """The m.def signature, from the message pybind11 gives for a call that does not fit."""
    with pytest.raises(TypeError, match="incompatible function arguments") as raised:
        getattr(_kernels, name)(_no_such_parameter_=None)
    line = re.search(r"^\s*1\. \((.*)\) ->", str(raised.value), re.MULTILINE).group(1)
    result, keyword_only = [], False
    for item in filter(None, line.split(", ")):
        if item == "*":
            keyword_only = True
            continue
        declared, _, default = item.partition(" = ")
        result.append(
            (
                declared.split(":")[0],
                keyword_only,
                ast.literal_eval(default) if default else REQUIRED,
            )
        )
    return result


def compiled_functions():
    return sorted(n for n in dir(_kernels) if callable(getattr(_kernels, n)) and n[:2] != "__")


def test_the_stub_lists_every_compiled_function():
    assert sorted(stub_functions()) == compiled_functions()


@pytest.mark.parametrize("name", compiled_functions())
def test_binding_and_stub_have_the_same_parameters(name):
    assert binding_parameters(name) == parameters(stub_functions()[name].args)


@pytest.mark.parametrize("name", [n for n in compiled_functions() if getattr(_kernels, n).__doc__])
def test_docstring_signature_line_matches_the_binding(name):
    assert docstring_parameters(name) == binding_parameters(name)


def test_every_public_compiled_function_has_a_docstring():
    undocumented = [
        n for n in compiled_functions() if n[0] != "_" and not getattr(_kernels, n).__doc__
    ]
    assert undocumented == []
