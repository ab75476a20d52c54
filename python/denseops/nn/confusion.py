"""Confusion counts at thresholds and the areas Keras 3 computes from them,
for the AUC, Precision and Recall metrics (keras/src/metrics/metrics_utils.py
and confusion_metrics.py).

Vectorized NumPy over a batch, no loop over elements: the predictions are
sorted once and every threshold finds its place by binary search, so a batch
of N predictions costs O(N log N) whatever the number of thresholds.
"""

import numpy as np

NEG_INF = -1e10  # Keras's stand-in for the predictions top_k drops
EPSILON = 1e-7  # Keras's backend.epsilon(): AUC's end thresholds sit this far outside [0, 1]


def evenly_distributed(thresholds):
    """Keras's test for thresholds i / (T - 1) (within epsilon), T >= 3. Keras
    then buckets the predictions after clipping them to [0, 1]; the counts
    are those of ``pred > threshold`` for predictions inside [0, 1]."""
    t = np.asarray(thresholds, np.float64)
    if len(t) < 3:
        return False
    even = np.arange(len(t), dtype=np.float32) / (len(t) - 1)
    return bool(np.allclose(t, even, atol=EPSILON))


def keep_top_k(pred, k):
    """Keras's _filter_top_k: the k largest of each row stay, the rest become
    NEG_INF (ties go to the lower index, as ops.top_k's)."""
    order = np.argsort(-pred, axis=-1, kind="stable")[..., :k]
    kept = np.full_like(pred, NEG_INF)
    np.put_along_axis(kept, order, np.take_along_axis(pred, order, axis=-1), axis=-1)
    return kept


def counts(labels, pred, weights, thresholds):
    """Weighted (tp, fp, tn, fn) at each threshold, each of shape (T,).

    Args:
        labels: bool array, true where the target is positive (nonzero).
        pred: predictions of the same shape.
        weights: per-entry weights of the same shape.
        thresholds: (T,) values; a prediction counts as positive when ``> t``.
    """
    labels, pred, weights = labels.ravel(), pred.ravel(), weights.ravel()
    order = np.argsort(pred, kind="stable")
    sorted_pred = pred[order]
    positive_w = np.where(labels, weights, 0.0)[order]
    negative_w = np.where(labels, 0.0, weights)[order]
    # cum[i]: weight of the i smallest predictions (cum[0] = 0).
    cum_pos = np.concatenate([[0.0], np.cumsum(positive_w)])
    cum_neg = np.concatenate([[0.0], np.cumsum(negative_w)])
    at_or_below = np.searchsorted(sorted_pred, thresholds, side="right")
    fn, tn = cum_pos[at_or_below], cum_neg[at_or_below]
    tp, fp = cum_pos[-1] - fn, cum_neg[-1] - tn
    return tp, fp, tn, fn


def divide_no_nan(a, b):
    """a / b, 0 where b is 0 (Keras's ops.divide_no_nan)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def interpolated_pr_auc(tp, fp, fn):
    """Keras's AUC.interpolate_pr_auc (Davis & Goadrich): precision varying
    along each interval as TP and TP + FP vary linearly. Arrays (T, ...)."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = divide_no_nan(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
    with np.errstate(divide="ignore"):
        log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
    return divide_no_nan(slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))


def riemann_auc(tp, fp, tn, fn, curve, summation_method):
    """Keras's AUC.result for everything but PR with interpolation: the
    curve's points at the thresholds, joined by trapezoids (interpolation),
    lower steps (minoring) or upper steps (majoring). Arrays (T, ...)."""
    recall = divide_no_nan(tp, tp + fn)
    if curve == "ROC":
        x, y = divide_no_nan(fp, fp + tn), recall
    elif curve == "PR":
        x, y = recall, divide_no_nan(tp, tp + fp)
    else:  # PRGAIN
        scale = divide_no_nan(tp + fn, tn + fp)
        recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * divide_no_nan(fn, tp))
        x = np.maximum(recall_gain, 0.0)
        y = np.where(tp == 0, 1.0, 1.0 - scale * divide_no_nan(fp, tp))
    if summation_method == "interpolation":
        heights = (y[:-1] + y[1:]) / 2
    elif summation_method == "minoring":
        heights = np.minimum(y[:-1], y[1:])
    else:
        heights = np.maximum(y[:-1], y[1:])
    return (x[:-1] - x[1:]) * heights
