"""MLPClassifier and MLPRegressor: scikit-learn's estimators, trained by denseops kernels.

The structure follows scikit-learn 1.9's ``_multilayer_perceptron.py`` step
for step (parameter checks, label binarisation, weight initialisation and
random-number use, batches, learning-rate schedules, ``tol`` /
``n_iter_no_change`` / early stopping, L-BFGS), so that the same
``random_state`` gives the same initial weights and the same batches as
scikit-learn. The numbers themselves are computed by ``_network.Network``.
"""

import inspect
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.optimize
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d, gen_batches
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.fixes import parse_version, sp_version
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

import denseops as ops
from denseops.sklearn._network import Network
from denseops.sklearn._solvers import AdamSolver, SGDSolver
from denseops.sklearn._versions import VersionedPickle

_STOCHASTIC_SOLVERS = ("sgd", "adam")


def _signature_with_first(init, name, default):
    """``init``'s signature with one more positional ``name=default`` right after ``self``."""
    signature = inspect.signature(init)
    self_parameter, *rest = signature.parameters.values()
    first = inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
    return signature.replace(parameters=[self_parameter, first, *rest])


class _BaseMLP(VersionedPickle, BaseEstimator):
    """What MLPClassifier and MLPRegressor share (scikit-learn's BaseMultilayerPerceptron)."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        # denseops' own: the training dtype and the kernels' thread cap.
        "dtype": [None, StrOptions({"float32", "float64", "mixed_bfloat16"}), type, np.dtype],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
    }

    # MLPClassifier's signature, scikit-learn's with denseops' two additions;
    # MLPRegressor puts its loss in front of it.
    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype=None,
        n_threads=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.n_threads = n_threads

    # ------------------------------------------------------------ dtype and network

    def _training_dtype(self, X_original):
        """float64 when asked or when X is float64; float32 otherwise (the fast path)."""
        if isinstance(self.dtype, str) and self.dtype == "mixed_bfloat16":
            return np.dtype(np.float32)  # float32 coefficients, bfloat16 products
        if self.dtype is not None:
            dtype = np.dtype(self.dtype)
            if dtype not in (np.float32, np.float64):
                raise ValueError(
                    f"dtype must be float32, float64 or None. Received: dtype={self.dtype!r}"
                )
            return dtype
        given = getattr(X_original, "dtype", None)
        if isinstance(given, np.dtype) and given != np.float64:
            return np.dtype(np.float32)
        return np.dtype(np.float64)

    def _network(self):
        dtype = self.coefs_[0].dtype
        # Users may replace coefs_ / intercepts_ entries; the kernels need
        # C-contiguous arrays of one dtype, so the lists are normalised in place.
        for params in (self.coefs_, self.intercepts_):
            for i, p in enumerate(params):
                if not (
                    isinstance(p, np.ndarray)
                    and p.dtype == dtype
                    and p.flags.c_contiguous
                    and p.flags.writeable
                ):
                    params[i] = np.array(p, dtype=dtype, order="C")
        mixed = isinstance(self.dtype, str) and self.dtype == "mixed_bfloat16"
        return Network(
            self.coefs_,
            self.intercepts_,
            self.activation,
            self.out_activation_,
            policy="mixed_bfloat16" if mixed and dtype == np.float32 else None,
        )

    def _input(self, X, reset=False):
        X = validate_data(self, X, dtype=self.coefs_[0].dtype, reset=reset)
        return np.ascontiguousarray(X)

    def _forward_pass_fast(self, X, check_input=True):
        if check_input:
            X = self._input(X)
        else:
            X = np.ascontiguousarray(X, dtype=self.coefs_[0].dtype)
        with ops.local_threads(self.n_threads):
            return self._network().predict(X)

    # ------------------------------------------------------------ initialisation

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not isinstance(self, ClassifierMixin):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        self.coefs_ = []
        self.intercepts_ = []
        for i in range(self.n_layers_ - 1):
            coef_init, intercept_init = self._init_coef(layer_units[i], layer_units[i + 1], dtype)
            self.coefs_.append(coef_init)
            self.intercepts_.append(intercept_init)
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _init_coef(self, fan_in, fan_out, dtype):
        # Glorot's uniform initialisation, drawn in scikit-learn's order so
        # that one random_state gives both libraries the same weights.
        factor = 2.0 if self.activation == "logistic" else 6.0
        init_bound = np.sqrt(factor / (fan_in + fan_out))
        coef_init = self._random_state.uniform(-init_bound, init_bound, (fan_in, fan_out))
        intercept_init = self._random_state.uniform(-init_bound, init_bound, fan_out)
        return (
            np.ascontiguousarray(coef_init, dtype=dtype),
            np.ascontiguousarray(intercept_init, dtype=dtype),
        )

    # ------------------------------------------------------------ fit

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden_layer_sizes = self.hidden_layer_sizes
        if not hasattr(hidden_layer_sizes, "__iter__"):
            hidden_layer_sizes = [hidden_layer_sizes]
        hidden_layer_sizes = list(hidden_layer_sizes)
        if np.any(np.array(hidden_layer_sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden_layer_sizes}.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)

        dtype = self._training_dtype(X) if first_pass else self.coefs_[0].dtype
        X, y = self._validate_input(X, y, incremental, reset=first_pass, dtype=dtype)
        X = np.ascontiguousarray(X)
        n_samples, n_features = X.shape
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(
                _check_sample_weight(sample_weight, X), dtype=dtype
            )
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        y = np.ascontiguousarray(y, dtype=dtype)
        self.n_outputs_ = y.shape[1]
        layer_units = [n_features] + hidden_layer_sizes + [self.n_outputs_]

        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, dtype)

        with ops.local_threads(self.n_threads):
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(X, y, sample_weight, incremental)
            else:
                self._fit_lbfgs(X, y, sample_weight)

        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        return self

    def _fit_lbfgs(self, X, y, sample_weight):
        network = self._network()
        params = network.params
        shapes = [p.shape for p in params]
        bounds = np.cumsum([0] + [p.size for p in params])

        def loss_grad(packed):
            # L-BFGS works on one float64 vector; the network on its own arrays.
            for p, start, end, shape in zip(params, bounds[:-1], bounds[1:], shapes):
                p[...] = packed[start:end].reshape(shape)
            loss = network.loss_grad(X, y, self.alpha, sample_weight)
            return loss, np.concatenate([g.ravel() for g in network.grads]).astype(np.float64)

        iprint = 1 if (self.verbose is True or self.verbose >= 1) else -1
        packed = np.concatenate([p.ravel() for p in params]).astype(np.float64)
        result = scipy.optimize.minimize(
            loss_grad,
            packed,
            method="L-BFGS-B",
            jac=True,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
                # SciPy 1.15 deprecated L-BFGS-B's iprint; older SciPy needs it to stay quiet.
                **({} if sp_version >= parse_version("1.15") else {"iprint": iprint}),
            },
        )
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = result.fun
        for p, start, end, shape in zip(params, bounds[:-1], bounds[1:], shapes):
            p[...] = result.x[start:end].reshape(shape)

    def _new_solver(self):
        if self.solver == "sgd":
            return SGDSolver(
                self.learning_rate_init,
                self.learning_rate,
                self.momentum,
                self.nesterovs_momentum,
                self.power_t,
            )
        return AdamSolver(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)

    def _fit_stochastic(self, X, y, sample_weight, incremental):
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._new_solver()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            # Classes are stratified, except for multi-label targets.
            stratify = y if isinstance(self, ClassifierMixin) and self.n_outputs_ == 1 else None
            if sample_weight is None:
                X_train, X_val, y_train, y_val = train_test_split(
                    X,
                    y,
                    random_state=self._random_state,
                    test_size=self.validation_fraction,
                    stratify=stratify,
                )
                sample_weight_train = sample_weight_val = None
            else:
                (X_train, X_val, y_train, y_val, sample_weight_train, sample_weight_val) = (
                    train_test_split(
                        X,
                        y,
                        sample_weight,
                        random_state=self._random_state,
                        test_size=self.validation_fraction,
                        stratify=stratify,
                    )
                )
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
            if isinstance(self, ClassifierMixin):
                y_val = self._label_binarizer.inverse_transform(y_val)
        else:
            X_train, y_train, sample_weight_train = X, y, sample_weight
            X_val = y_val = sample_weight_val = None

        n_samples = X_train.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than "
                    "sample size. It is going to be clipped",
                    stacklevel=2,
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        network = self._network()
        params, grads = network.params, network.grads
        # Gathered batches land in buffers allocated once.
        x_buffer = np.empty((batch_size, X_train.shape[1]), X_train.dtype)
        y_buffer = np.empty((batch_size, y_train.shape[1]), y_train.dtype)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    # sklearn.utils.shuffle(sample_idx, random_state=...) draws
                    # exactly this permutation, without its per-call overhead.
                    order = np.arange(n_samples)
                    self._random_state.shuffle(order)
                    sample_idx = sample_idx[order]
                accumulated_loss = 0.0
                for batch_slice in gen_batches(n_samples, batch_size):
                    if self.shuffle:
                        batch_idx = sample_idx[batch_slice]
                        rows = len(batch_idx)
                        X_batch = np.take(X_train, batch_idx, axis=0, out=x_buffer[:rows])
                        y_batch = np.take(y_train, batch_idx, axis=0, out=y_buffer[:rows])
                    else:
                        batch_idx = batch_slice
                        X_batch, y_batch = X_train[batch_slice], y_train[batch_slice]
                    sw_batch = (
                        None
                        if sample_weight_train is None
                        else np.ascontiguousarray(sample_weight_train[batch_idx])
                    )
                    batch_loss = network.loss_grad(X_batch, y_batch, self.alpha, sw_batch)
                    accumulated_loss += batch_loss * (batch_slice.stop - batch_slice.start)
                    self._optimizer.update_params(params, grads)

                self.n_iter_ += 1
                self.loss_ = accumulated_loss / X_train.shape[0]
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")

                self._update_no_improvement_count(early_stopping, X_val, y_val, sample_weight_val)
                self._optimizer.iteration_ends(self.t_)

                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            f"Validation score did not improve more than tol={self.tol:f} for "
                            f"{self.n_iter_no_change} consecutive epochs."
                        )
                    else:
                        msg = (
                            f"Training loss did not improve more than tol={self.tol:f} for "
                            f"{self.n_iter_no_change} consecutive epochs."
                        )
                    if self._optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0

                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                        "reached and the "
                        "optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=2)

        if early_stopping:
            # The best weights are copied back into the arrays the caller holds.
            for current, best in zip(
                self.coefs_ + self.intercepts_, self._best_coefs + self._best_intercepts
            ):
                current[...] = best

    def _update_no_improvement_count(self, early_stopping, X, y, sample_weight):
        if early_stopping:
            val_score = self._score(X, y, sample_weight=sample_weight)
            self.validation_scores_.append(val_score)
            if self.verbose:
                print(f"Validation score: {self.validation_scores_[-1]:f}")
            last_valid_score = self.validation_scores_[-1]
            if last_valid_score < (self.best_validation_score_ + self.tol):
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last_valid_score > self.best_validation_score_:
                self.best_validation_score_ = last_valid_score
                self._best_coefs = [c.copy() for c in self.coefs_]
                self._best_intercepts = [i.copy() for i in self.intercepts_]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Args:
            X: array-like of shape (n_samples, n_features).
            y: (n_samples,) or (n_samples, n_outputs): class labels or real targets.
            sample_weight: array-like of shape (n_samples,), default None.

        Returns:
            self: the fitted model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The kernels take dense arrays; sparse input is refused with
        # scikit-learn's own message (use X.toarray()).
        tags.input_tags.sparse = False
        return tags


_COMMON_DOC = """
    Same parameters, defaults, attributes and methods as scikit-learn's
    ``sklearn.neural_network.{name}`` (1.9); see its documentation. With the
    same ``random_state`` the initial weights and the batches are the same
    as scikit-learn's, so the loss curves agree to float tolerance.

    denseops adds two keyword parameters:

    dtype : {{None, "float32", "float64", "mixed_bfloat16"}}, default=None
        The training dtype. None: float64 when X is float64 (scikit-learn's
        choice for array-likes such as lists), float32 otherwise (integers,
        uint8 images, float32), which is about twice as fast.
        "mixed_bfloat16": float32 coefficients, the products in bfloat16 with
        float32 sums (Keras's mixed precision; AMX or AVX512-BF16 where the
        CPU has them).
    n_threads : int or None, default=None
        Threads of the kernels during this estimator's fit and predict, in
        the calling thread only (``denseops.local_threads``): concurrent
        calls with other counts and the process default are unaffected.
        None: the calling thread's current count (``get_num_threads()``).

    Differences: input must be dense (sparse matrices are refused with
    scikit-learn's message); the maths runs in denseops' C++ kernels.
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = (
        "Multi-layer perceptron classifier (log loss), on denseops kernels.\n"
        + _COMMON_DOC.format(name="MLPClassifier")
    )

    loss = "log_loss"

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(self, X, y, multi_output=True, dtype=dtype, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # incremental warm_start classes_ defined -> action (as scikit-learn):
        # no classes_ or a fresh fit: define classes_; warm_start: same classes
        # required; partial_fit: y's classes must be among classes_.
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    def predict(self, X):
        """Predicted classes: (n_samples,) or (n_samples, n_outputs) for multi-label."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(
            X, y, sample_weight=sample_weight, score_function=accuracy_score
        )

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y). ``classes`` (all labels) is required on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Class probabilities, (n_samples, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = (
        "Multi-layer perceptron regressor (half squared error or half Poisson "
        "deviance), on denseops kernels.\n" + _COMMON_DOC.format(name="MLPRegressor")
    )

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", **params
    ):
        self.loss = loss
        super().__init__(hidden_layer_sizes, activation, **params)

    # scikit-learn reads the parameters off the signature (get_params, clone,
    # repr): it shows _BaseMLP's keyword-only parameters after these three.
    # (inspect's documented override; mypy does not model attributes on functions)
    __init__.__signature__ = _signature_with_first(  # type: ignore[attr-defined]
        _BaseMLP.__init__, "loss", "squared_error"
    )

    def predict(self, X):
        """Predicted values: (n_samples,) or (n_samples, n_outputs)."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight=sample_weight, score_function=r2_score)

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=dtype, reset=reset
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y)."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
