"""Inference on the MNIST MLP: denseops' `model.predict` vs NumPy, ONNX Runtime, PyTorch.

    python benchmarks/predict.py --rounds 15
    python benchmarks/predict.py --threads 2 --only denseops,kernels,numpy

784 -> Dense(512, relu) -> Dense(10, softmax), float32, the same weights in
every library (numpy_mlp.py's seeded Glorot-uniform kernels, small random
biases), timed on one image, a batch of 128 and --images images (default
10000: the throughput case) of random pixels in [0, 1). The libraries
(`--only` takes these names):

    denseops     model.predict of a denseops.nn Sequential (its default batch_size)
    kernels      the same forward with denseops' raw kernels, whole input at once:
                 matmul, add, relu, matmul, add, softmax (what predict adds is the gap)
    matmuls      only the two bare denseops matmuls, x @ W1 @ W2: a lower bound for
                 any denseops forward (not in the default --only; checked against
                 the float64 product instead of the probabilities)
    numpy        by hand, numpy_mlp.py's forward: x @ W1 + b1, maximum, @ W2 + b2, softmax
    onnxruntime  a Gemm-Relu-Gemm-Softmax graph built with onnx.helper, one InferenceSession
                 (intra_op_num_threads=--threads, inter_op_num_threads=1, sequential)
    torch        torch_mlp.py's network and a softmax under torch.inference_mode

Each library runs in its own worker process (`denseops.bench_workers`),
built and warmed up once: threaded runtimes keep their workers spinning
after a call and would steal cores from the next library, and torch's
MKL/OpenMP slow NumPy in a shared process. Before any timing every worker
checks its probabilities against a float64 NumPy forward. Then, round after
round and case after case, the parent asks each worker in turn (the order
rotating every round) for one sample - enough calls to last ~10 ms,
`denseops.bench_timing`'s timer, with its idle pause when threads > 1 - and reports
each library's median time per call over the rounds and the median of its
per-round ratio to denseops' `model.predict`; on one thread also the same
samples in the worker's CPU time, which a busy machine inflates far less.
NumPy's worker runs with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (set on
some machines for older OpenBLAS builds, they make a current NumPy choose
slower kernels), and the script names the OpenBLAS kernel it then used.
"""

import argparse
import importlib.util
import statistics
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np

# numpy_mlp.py and torch_mlp.py live beside this script.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import denseops  # noqa: E402
from denseops import bench_machine, bench_timing, bench_workers  # noqa: E402
from denseops.bench_threads import threaded_environment  # noqa: E402
from denseops.mnist_mlp import CLASSES, HIDDEN, INPUTS  # noqa: E402

LIBRARIES = ("denseops", "kernels", "matmuls", "numpy", "onnxruntime", "torch")
DEFAULT_LIBRARIES = tuple(library for library in LIBRARIES if library != "matmuls")
HEADERS = {
    "denseops": "denseops predict",
    "kernels": "denseops kernels",
    "matmuls": "denseops matmuls",
    "numpy": "numpy",
    "onnxruntime": "onnxruntime",
    "torch": "torch",
}
REQUIRES = {
    "denseops": ("denseops",),
    "kernels": ("denseops",),
    "matmuls": ("denseops",),
    "numpy": ("numpy",),
    "onnxruntime": ("onnx", "onnxruntime"),
    "torch": ("torch",),
}
INSTALL_HINTS = {
    "onnxruntime": "pip install onnx onnxruntime, or the '.[bench]' extra",
    "torch": "pip install torch==2.13.0",
}
BASELINE = "denseops"
BATCH = 128
# ~10 ms per sample (hundreds of one-image calls; the 10000-image case is one
# call). On a loaded machine every such sample shares the core alike, so the
# ratios hold from run to run; 2 ms samples are either untouched or preempted,
# and their medians flipped between the two (NumPy's one-image ratio was 0.26
# in one run and 8.5 in the next, at a load average of 9 on 2 cores).
SAMPLE_NS = 10_000_000
# float32 through K=784 then K=512 and a softmax: rounding differences stay
# near 1e-7 (measured: ~2e-7 for every library); 1e-5 still flags any real bug.
TOLERANCE = 1e-5
ONNX_OPSET = 17
ONNX_IR_VERSION = 8  # what opset 17 needs; older runtimes reject newer IR versions


# ---------------------------------------------------------------- model and data


def mlp_weights(seed=0, inputs=INPUTS, hidden=HIDDEN, classes=CLASSES):
    """(W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)) float32, the same in every process.

    The kernels are numpy_mlp.py's seeded Glorot-uniform ones; the biases are
    small random values rather than zeros, so the agreement check covers the
    bias adds too.
    """
    from numpy_mlp import NumpyMLP

    W1, _, W2, _ = NumpyMLP(inputs, hidden, classes, seed=seed).weights
    rng = np.random.default_rng(seed + 1)
    b1 = rng.uniform(-0.1, 0.1, hidden).astype(np.float32)
    b2 = rng.uniform(-0.1, 0.1, classes).astype(np.float32)
    return W1, b1, W2, b2


def make_images(n, inputs=INPUTS, seed=0):
    """n flattened images (n, D) of random float32 pixels in [0, 1), as MNIST's scaled pixels."""
    return np.random.default_rng(seed + 2).random((n, inputs), dtype=np.float32)


def cases(images):
    """(name, number of images) of every timed case."""
    return [("1 image", 1), (f"batch of {BATCH}", BATCH), (f"{images} images", images)]


def reference_probabilities(weights, x):
    """The forward in float64 NumPy: what every library's float32 output is checked against."""
    W1, b1, W2, b2 = (w.astype(np.float64) for w in weights)
    h = np.maximum(x.astype(np.float64) @ W1 + b1, 0)
    z = h @ W2 + b2
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def reference_matmuls(weights, x):
    """x @ W1 @ W2 in float64: what the bare matmuls are checked against."""
    W1, _, W2, _ = (w.astype(np.float64) for w in weights)
    return x.astype(np.float64) @ W1 @ W2


def onnx_model(weights):
    """The MLP as an ONNX graph: Gemm -> Relu -> Gemm -> Softmax, the weights as initializers.

    Input "x" (batch, D) float32, output "probabilities" (batch, C); batch is
    a symbolic dimension, so one session serves every case.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    W1, _, W2, _ = weights
    initializers = [
        numpy_helper.from_array(w, name) for w, name in zip(weights, ("W1", "b1", "W2", "b2"))
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["z1"]),
        helper.make_node("Relu", ["z1"], ["h"]),
        helper.make_node("Gemm", ["h", "W2", "b2"], ["z2"]),
        helper.make_node("Softmax", ["z2"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mnist_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", W1.shape[0]])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", W2.shape[1]])],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        producer_name="denseops benchmarks/predict.py",
    )
    model.ir_version = ONNX_IR_VERSION
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------- one library each

# prepare turns a NumPy batch into the library's input (outside the timing),
# predict(prepared) is the timed call, about says which version and path ran,
# expected(weights, x) is the float64 result it is checked against.
Predictor = namedtuple(
    "Predictor", "prepare predict about expected", defaults=(reference_probabilities,)
)


def _same(x):
    return x


def _denseops_about():
    return f"denseops {denseops.__version__}, path {denseops.get_arch()}"


def _denseops_predictor(weights, threads):
    from denseops.mnist_mlp import build_mlp

    denseops.set_num_threads(threads)
    W1, b1, W2, b2 = weights
    model = build_mlp(W1.shape[1], W2.shape[1])
    model.build(W1.shape[0])
    for layer, (kernel, bias) in zip(model.layers, ((W1, b1), (W2, b2))):
        layer.kernel[...] = kernel
        layer.bias[...] = bias
    return Predictor(_same, model.predict, _denseops_about())


def _kernels_predictor(weights, threads):
    denseops.set_num_threads(threads)
    W1, b1, W2, b2 = weights

    def predict(x):
        h = denseops.matmul(x, W1)  # (B, H)
        denseops.relu(denseops.add(h, b1, out=h), out=h)
        z = denseops.matmul(h, W2)  # (B, C)
        return denseops.softmax(denseops.add(z, b2, out=z), out=z)

    return Predictor(_same, predict, _denseops_about())


def _matmuls_predictor(weights, threads):
    denseops.set_num_threads(threads)
    W1, _, W2, _ = weights

    def predict(x):
        return denseops.matmul(denseops.matmul(x, W1), W2)

    return Predictor(_same, predict, _denseops_about(), reference_matmuls)


def _numpy_predictor(weights, threads):
    from numpy_mlp import NumpyMLP
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    W1, _, W2, _ = weights
    model = NumpyMLP(W1.shape[0], W1.shape[1], W2.shape[1])
    model.W1, model.b1, model.W2, model.b2 = weights
    return Predictor(
        _same,
        model.forward,
        f"numpy {np.__version__}, BLAS {bench_machine.blas_summary(bench_machine.machine_info())}",
    )


def _onnxruntime_predictor(weights, threads):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(
        onnx_model(weights).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )

    def predict(x):
        return session.run(None, {"x": x})[0]

    return Predictor(
        _same,
        predict,
        f"onnxruntime {onnxruntime.__version__}, opset {ONNX_OPSET}, {session.get_providers()[0]}",
    )


def _torch_predictor(weights, threads):
    import torch
    from torch_mlp import TorchMLP

    torch.set_num_threads(threads)
    W1, b1, W2, b2 = weights
    net = TorchMLP(W1.shape[0], W1.shape[1], W2.shape[1]).model
    with torch.no_grad():
        for layer, (kernel, bias) in zip((net[0], net[2]), ((W1, b1), (W2, b2))):
            layer.weight.copy_(torch.from_numpy(kernel.T))  # Linear keeps (out, in)
            layer.bias.copy_(torch.from_numpy(bias))
    net.eval()

    def predict(x):
        with torch.inference_mode():
            return torch.softmax(net(x), dim=1)

    return Predictor(torch.from_numpy, predict, f"torch {torch.__version__}")


def make_predictor(library, weights, threads=1):
    """A Predictor for `library` (one of LIBRARIES) holding `weights`, on `threads` threads."""
    build = {
        "denseops": _denseops_predictor,
        "kernels": _kernels_predictor,
        "matmuls": _matmuls_predictor,
        "numpy": _numpy_predictor,
        "onnxruntime": _onnxruntime_predictor,
        "torch": _torch_predictor,
    }
    return build[library](weights, threads)


# ---------------------------------------------------------------- worker


def worker(args):
    """Build one library's predictor, check it, then answer bench_workers requests.

    Its calls are named by the index of their case in cases(); the "info"
    request returns the library's description and its largest difference
    from the float64 result on each case.
    """
    pause_s = bench_timing.IDLE_PAUSE_S if args.threads > 1 else 0.0
    return bench_workers.serve(lambda: checked_calls(args), pause_s)


def checked_calls(args):
    """The worker's calls (by case index) and its "info" handler, after checking its output."""
    weights = mlp_weights(args.seed)
    timed = cases(args.images)
    x = make_images(max(n for _, n in timed), seed=args.seed)
    predictor = make_predictor(args.worker, weights, args.threads)
    expected = predictor.expected(weights, x)
    calls, max_abs_diff = {}, {}
    for i, (name, n) in enumerate(timed):
        batch = predictor.prepare(x[:n])
        p = np.asarray(predictor.predict(batch), dtype=np.float64)
        max_abs_diff[name] = (
            float(np.abs(p - expected[:n]).max()) if p.shape == expected[:n].shape else float("inf")
        )
        calls[str(i)] = lambda batch=batch: predictor.predict(batch)
    info = {"library": args.worker, "about": predictor.about, "max_abs_diff": max_abs_diff}
    return calls, {"info": lambda: info}


# ---------------------------------------------------------------- parent


def child_env(library, threads):
    """The worker's environment: every thread pool sized alike, NumPy's BLAS unpinned."""
    env = threaded_environment(threads)
    return bench_machine.without_openblas_overrides(env) if library == "numpy" else env


def start_worker(library, args):
    """Start `library`'s worker, calibrate its calls to ~SAMPLE_NS; return it and its info."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", library]
    for flag in ("threads", "images", "seed"):
        argv += [f"--{flag}", str(getattr(args, flag))]
    worker = bench_workers.Worker(argv, env=child_env(library, args.threads))
    try:
        info = worker.ask("info")
        for i in range(len(cases(args.images))):
            worker.calibrate(str(i), SAMPLE_NS)
    except BaseException:
        worker.close()
        raise
    return worker, info


def unavailable_reason(library):
    """Why `library` cannot run here, or None."""
    for module in REQUIRES[library]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            hint = INSTALL_HINTS.get(library)
            return f"{module} is not importable" + (f" ({hint})" if hint else "")
    return None


def medians(samples):
    """Per library, the median over rounds of each case's seconds per call."""
    return {
        library: [statistics.median(case) for case in zip(*rounds)]
        for library, rounds in samples.items()
    }


def paired_ratios(samples, baseline=BASELINE):
    """Per library but the baseline, the median over rounds of each case's time / the
    baseline's time in the same round; empty without the baseline.

    A case's samples of one round run back to back, tens of milliseconds
    apart, so a drift in the machine's load (other people's builds) moves
    these far less than it moves a ratio of two medians.
    """
    if baseline not in samples:
        return {}
    return {
        library: [
            statistics.median(ours / base for ours, base in zip(case, base_case))
            for case, base_case in zip(zip(*rounds), zip(*samples[baseline]))
        ]
        for library, rounds in samples.items()
        if library != baseline
    }


def format_table(case_names, seconds, ratios):
    """A Markdown table: one row per case, per library its time and (ratio) to the baseline.

    `seconds` maps each library (in column order) to its seconds per call per
    case, `ratios` some of them to their ratio per case.
    """
    libraries = list(seconds)

    def cell(library, i):
        us = seconds[library][i] * 1e6
        text = f"{us:.0f} us" if us >= 100 else f"{us:.1f} us"
        if library in ratios:
            text += f" ({ratios[library][i]:.2f})"
        return text

    header = ["case"] + [HEADERS[library] for library in libraries]
    body = [
        [name] + [cell(library, i) for library in libraries] for i, name in enumerate(case_names)
    ]
    widths = [max(len(row[c]) for row in [header] + body) for c in range(len(header))]

    def line(cells):
        return (
            "| "
            + " | ".join(
                c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(cells, widths))
            )
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 1) + (":" if k else "-") for k, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule] + [line(row) for row in body])


def parse_libraries(text):
    libraries = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in libraries if name not in LIBRARIES]
    if unknown or not libraries:
        raise ValueError(
            f"--only takes a comma-separated subset of {','.join(LIBRARIES)}. Received: {text!r}"
        )
    return [name for name in LIBRARIES if name in libraries]  # columns in a fixed order


def parent(args):
    libraries = parse_libraries(args.only)
    print(
        bench_machine.heading(
            f"MNIST MLP {INPUTS}-{HIDDEN}(relu)-{CLASSES}(softmax), float32, the same weights "
            f"in every library; {args.threads} thread(s), {args.rounds} rounds, "
            "each library in its own process",
            unset_for_numpy=True,
        )
    )
    for library in list(libraries):
        reason = unavailable_reason(library)
        if reason:
            print(f"skipping  : {library}: {reason}")
            libraries.remove(library)
    if not libraries:
        raise SystemExit("no library left to time")
    workers, infos = {}, {}
    print("libraries :")
    try:
        for library in libraries:
            workers[library], infos[library] = start_worker(library, args)
            print(f"  {HEADERS[library]:<17} {infos[library]['about']}", flush=True)
        diffs = {library: max(info["max_abs_diff"].values()) for library, info in infos.items()}
        print(
            "check     : max |p - p_ref| over every case, p_ref a float64 NumPy forward: "
            + ", ".join(f"{library} {d:.1e}" for library, d in diffs.items())
        )
        bad = {
            library: infos[library]["max_abs_diff"]
            for library, d in diffs.items()
            if not d <= TOLERANCE
        }
        if bad:
            raise SystemExit(f"outputs disagree (tolerance {TOLERANCE}), not timing: {bad}")
        names = [name for name, _ in cases(args.images)]
        elapsed, cpu = bench_workers.time_in_rounds(
            workers, [str(i) for i in range(len(names))], args.rounds
        )
    finally:
        for w in workers.values():
            w.close()
    seconds = medians(elapsed)
    print()
    print(format_table(names, seconds, paired_ratios(elapsed)))
    print()
    print(
        f"throughput, {args.images} images: "
        + ", ".join(
            f"{library} {args.images / seconds[library][-1]:,.0f}/s" for library in libraries
        )
    )
    print(
        f"Median over {args.rounds} rounds of the time per call (perf_counter_ns); (x): median "
        f"over rounds of this library's time / {HEADERS[BASELINE]}'s in the same round, above "
        f"1 means {HEADERS[BASELINE]} is faster. {HEADERS['denseops']} uses its default "
        f"batch_size; the others take the whole input at once. Every library agrees with the "
        f"float64 forward within {TOLERANCE:g}."
    )
    if args.threads == 1:
        # One thread does all the work in every library, so the process's CPU
        # time leaves out the time other programs held the core.
        print()
        print(
            "The same samples in CPU time of each worker process (process_time_ns): on one "
            "thread it leaves out the time other programs held the core, so on a busy "
            "machine it is the steadier comparison."
        )
        print()
        print(format_table(names, medians(cpu), paired_ratios(cpu)))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=9, help="alternating rounds (default 9)")
    p.add_argument("--threads", type=int, default=1, help="threads for every library (default 1)")
    p.add_argument(
        "--only",
        default=",".join(DEFAULT_LIBRARIES),
        help=f"comma-separated libraries to time, of {','.join(LIBRARIES)} "
        f"(default: {','.join(DEFAULT_LIBRARIES)})",
    )
    p.add_argument(
        "--images", type=int, default=10000, help="images in the throughput case (default 10000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and images")
    p.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if min(args.rounds, args.threads, args.images) < 1:
        p.error(
            f"--rounds, --threads and --images must be >= 1. Received: --rounds "
            f"{args.rounds} --threads {args.threads} --images {args.images}"
        )
    if args.worker:
        return worker(args)
    try:
        parse_libraries(args.only)
    except ValueError as error:
        p.error(str(error))
    return parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
