"""Short, precise errors for arguments that do not fit: the kernels' and ``denseops.nn``'s.

Kernel calls.

pybind11 answers a missing or mistyped argument with "incompatible function
arguments ... Invoked with: <the repr of every argument>", which for arrays
is pages of numbers and never says which argument is wrong. Each kernel
exported by ``denseops`` is therefore a plain Python function with the
signature written on the first line of its docstring, forwarding every
argument to the compiled kernel:

- a missing or unknown argument is Python's own error, raised before the
  kernel is reached: "matmul() missing 1 required positional argument: 'b'";
- a value pybind11 cannot convert (``learning_rate="x"``) is rewritten to
  "sgd_update(): learning_rate must be float, got str".

The functions are generated (as ``dataclasses`` and ``namedtuple`` do) so
that the signature is a real one: forwarding named parameters costs about
nothing, where ``*args, **kwargs`` would add ~0.3 us to every call.

Sizes and counts in ``denseops.nn`` (``units``, ``batch_size``, ``epochs``...)
go through ``check_count``, so every one says the same thing, the Keras way:
"units must be a positive integer. Received: units=-3".
"""

import re

import numpy as np

_PYBIND11_MISMATCH = "incompatible function arguments"
# What pybind11 converts to each C++ scalar type, to tell which argument was wrong.
_ACCEPTS = {
    "bool": (bool, np.bool_),
    "int": (int, np.integer),
    "float": (int, float, np.integer, np.floating),
    "str": (str,),
}


# One parameter of a documented signature: a name, and a literal default
# (None, True, False, a number or a plain string) if any. The docstring line
# is data, never evaluated; a regex also keeps `ast` out of the import.
_PARAMETER = re.compile(r"(\w+)(?:=(?:None|True|False|-?\d+(?:\.\d+)?(?:e-?\d+)?|'[\w-]*'))?")


def parameters_from_docstring(function):
    """(positional, keyword_only) parameter names and the parameter list's source.

    Read from the first line of ``function.__doc__``, e.g.
    ``matmul(a, b, out=None, *, trans_a=False, trans_b=False)``; only plain
    and keyword-only parameters with literal defaults are allowed.
    """
    name = function.__name__
    first_line = (function.__doc__ or "").splitlines()[0] if function.__doc__ else ""
    match = re.fullmatch(rf"{name}\((.*)\)", first_line)
    if not match:
        raise ValueError(f"{name}'s docstring does not start with its signature: {first_line!r}")
    positional, keyword_only, after_star = [], [], False
    for item in (part.strip() for part in match.group(1).split(",") if part.strip()):
        if item == "*" and not after_star:
            after_star = True
            continue
        parameter = _PARAMETER.fullmatch(item)
        if not parameter:
            raise ValueError(
                f"{name}: only plain and keyword-only parameters with literal defaults are "
                f"supported. Received: {item!r}"
            )
        (keyword_only if after_star else positional).append(parameter.group(1))
    return positional, keyword_only, match.group(1)


def _declared_types(message):
    """{parameter: type name} from pybind11's "1. (a: object, n: int = 1) -> ..." line."""
    match = re.search(r"^\s*1\. \((.*)\)", message, re.MULTILINE)
    if not match:
        return {}
    declared = dict(re.findall(r"(\w+): ([\w.]+)", match.group(1)))
    # Newer pybind11 writes typing.SupportsFloat / SupportsInt for what accepts float / int.
    return {
        p: {"typing.SupportsFloat": "float", "typing.SupportsInt": "int"}.get(t, t)
        for p, t in declared.items()
    }


def describe_mismatch(name, message, arguments):
    """A short message for pybind11's argument mismatch ``message`` on ``name``'s call."""
    declared = _declared_types(message)
    typed = {p: v for p, v in arguments.items() if declared.get(p, "object") != "object"}
    wrong = {
        p: v
        for p, v in typed.items()
        if declared[p] in _ACCEPTS and not isinstance(v, _ACCEPTS[declared[p]])
    } or typed
    details = (
        "; ".join(f"{p} must be {declared[p]}, got {type(v).__name__}" for p, v in wrong.items())
        or "an argument has a type it does not accept"
    )
    return f"{name}(): {details}"


def explain_argument_errors(function, module="denseops"):
    """A Python function with ``function``'s documented signature that forwards to it."""
    name = function.__name__
    positional, keyword_only, parameters = parameters_from_docstring(function)
    call = ", ".join(positional + [f"{k}={k}" for k in keyword_only])
    arguments = "{" + ", ".join(f"{p!r}: {p}" for p in positional + keyword_only) + "}"
    # Other TypeErrors (the kernels' own dtype errors) are re-raised untouched; the
    # rewritten one is raised outside the except block, so it chains nothing and
    # no frame holding the arguments stays alive in a reference cycle.
    source = (
        f"def {name}({parameters}):\n"
        f"    try:\n"
        f"        return _function({call})\n"
        f"    except TypeError as error:\n"
        f"        if {_PYBIND11_MISMATCH!r} not in str(error):\n"
        f"            raise\n"
        f"        message = _describe({name!r}, str(error), {arguments})\n"
        f"    raise TypeError(message)\n"
    )
    namespace = {"_function": function, "_describe": describe_mismatch}
    exec(compile(source, f"<denseops.{name}>", "exec"), namespace)  # noqa: S102 - see above
    wrapper = namespace[name]
    wrapper.__doc__ = function.__doc__
    wrapper.__module__ = module  # pickle finds denseops.<name>: this very function
    return wrapper


def check_count(argument, value, minimum=1):
    """``value`` as an int if it is an integer >= ``minimum`` (bools are not), else a ValueError.

    The error names the argument and echoes the value, as Keras's do.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{argument} must be {kind}. Received: {argument}={value!r}")
    return int(value)


def kernel_dtype(dtype):
    """``dtype`` as a NumPy dtype when the kernels compute in it (float32 or
    float64), else None, for the caller to raise its own error."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        return None
    return resolved if resolved in (np.float32, np.float64) else None
