"""Ranking and threshold metrics (numpy only), shared by training and eval."""

import numpy as np


def auprc(y, s):
    """Average precision (area under the precision-recall curve, step
    interpolation as in scikit-learn).  None when y has no positive."""
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    P = y.sum()
    if P == 0 or P == len(y):
        return None
    o = np.argsort(-s, kind="mergesort")
    y, s = y[o], s[o]
    # group ties: evaluate at the last index of each distinct score
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    prec = tp / (tp + fp)
    rec = tp / P
    prev = np.r_[0.0, rec[:-1]]
    return float(np.sum((rec - prev) * prec))


def roc_auc(y, s):
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    P = y.sum()
    N = len(y) - P
    if P == 0 or N == 0:
        return None
    # rank-based (Mann-Whitney), ties get average ranks
    o = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ss = s[o]
    i = 0
    while i < len(ss):
        j = i
        while j + 1 < len(ss) and ss[j + 1] == ss[i]:
            j += 1
        ranks[o[i:j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - P * (P + 1) / 2) / (P * N))


def prf(y, s, t):
    y = np.asarray(y) > 0.5
    p = np.asarray(s) >= t
    tp = float(np.sum(y & p))
    fp = float(np.sum(~y & p))
    fn = float(np.sum(y & ~p))
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1


def report(labels, rows_labels, scores, thresholds=None):
    """rows_labels: list of dicts (missing = unknown); scores: [n, L] array.
    Returns {"per_label": {c: {...}}, "any": {...}}."""
    scores = np.asarray(scores)
    out = {"per_label": {}, "n": len(rows_labels)}
    for j, c in enumerate(labels):
        idx = [i for i, l in enumerate(rows_labels) if c in l]
        y = np.array([rows_labels[i][c] for i in idx])
        s = scores[idx, j] if idx else np.array([])
        r = {"n": len(idx), "pos": int(y.sum()) if len(y) else 0,
             "auprc": auprc(y, s) if len(y) else None,
             "roc_auc": roc_auc(y, s) if len(y) else None}
        if thresholds is not None and len(y):
            r["threshold"] = thresholds[j]
            r["precision"], r["recall"], r["f1"] = prf(y, s, thresholds[j])
        out["per_label"][c] = r
    # any category: positive if any known label is 1; negative if every
    # label is known 0 (rows with only unknowns and zeros left out)
    ya, sa, ia = [], [], []
    for i, l in enumerate(rows_labels):
        if any(v == 1 for v in l.values()):
            ya.append(1)
        elif len(l) == len(labels) and all(v == 0 for v in l.values()):
            ya.append(0)
        else:
            continue
        ia.append(i)
    if ia:
        sa = scores[ia].max(axis=1)
        ya = np.array(ya)
        r = {"n": len(ia), "pos": int(ya.sum()), "auprc": auprc(ya, sa),
             "roc_auc": roc_auc(ya, sa)}
        if thresholds is not None:
            flag = (scores[ia] >= np.asarray(thresholds)[None, :]).any(axis=1)
            tp = float(np.sum(flag & (ya == 1)))
            fp = float(np.sum(flag & (ya == 0)))
            fn = float(np.sum(~flag & (ya == 1)))
            p = tp / (tp + fp) if tp + fp else 0.0
            rc = tp / (tp + fn) if tp + fn else 0.0
            r["precision"], r["recall"] = p, rc
            r["f1"] = 2 * p * rc / (p + rc) if p + rc else 0.0
        out["any"] = r
    return out


def fit_platt(z, y, iters=200):
    """Logistic regression of y on a single logit z: returns (scale, bias)."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(z) == 0 or y.sum() == 0 or y.sum() == len(y):
        return 1.0, 0.0
    # Platt's smoothed targets
    P, N = y.sum(), len(y) - y.sum()
    t = np.where(y > 0.5, (P + 1) / (P + 2), 1 / (N + 2))
    a, b = 1.0, 0.0
    for _ in range(iters):     # Newton steps
        p = 1 / (1 + np.exp(-(a * z + b)))
        g = np.array([np.sum((p - t) * z), np.sum(p - t)])
        w = p * (1 - p) + 1e-9
        H = np.array([[np.sum(w * z * z), np.sum(w * z)],
                      [np.sum(w * z), np.sum(w)]]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(H, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-9:
            break
    if a <= 0:            # never invert a head
        return 1.0, 0.0
    return float(a), float(b)
