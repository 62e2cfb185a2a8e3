"""Per-category thresholds (rewrite, block) on calibrated probabilities,
chosen on the tune split (the validation mix), for make_model.py and the
n-gram head (ngram.py) alike.

rewrite: the lowest threshold that flags at most ANSWER_BUDGET of the clean
  chat-model answers of the tune split and at most HARD_NEGATIVE_BUDGET of
  its hard negatives (identity mentions, counter-speech, support talk,
  history, refusals: train/sources.tsv), and not below the tune F1 optimum
  (nor below 0.2);
block: the lowest threshold reaching BLOCK_PRECISION on the tune split, not
  below rewrite.
"""

import numpy as np

import metrics

ANSWER_BUDGET = 0.0015        # per head: about 1% of clean answers for all six
HARD_NEGATIVE_BUDGET = 0.03   # per head, on the tune split's hard negatives
BLOCK_PRECISION = 0.85


def budget_threshold(scores, budget):
    """The lowest threshold at which at most budget of scores reach it."""
    cs = np.sort(scores)[::-1]
    k = int(np.floor(budget * len(cs)))
    return float(cs[k]) + 1e-6 if len(cs) > k else 0.0


def choose_thresholds(labels, probs, rows, clean_mask):
    """probs [n, L] for rows; clean_mask: the clean chat-model answers among
    rows; the hard negatives are the rows of role hard_negative (none in
    user data).  Returns the lists (rewrite, block), one value per label."""
    hard_mask = np.array([e.get("role") == "hard_negative" for e in rows], dtype=bool)
    rew, blk = [], []
    for j, c in enumerate(labels):
        t_fpr = budget_threshold(probs[clean_mask, j], ANSWER_BUDGET) if clean_mask.any() else 0.5
        if hard_mask.any():
            t_fpr = max(t_fpr, budget_threshold(probs[hard_mask, j], HARD_NEGATIVE_BUDGET))
        idx = [i for i, e in enumerate(rows) if c in e["labels"]]
        y = np.array([rows[i]["labels"][c] for i in idx])
        s = probs[idx, j]
        t_f1, best, t_prec = 0.5, -1, None
        if len(y) and y.sum():
            for t in np.unique(np.round(s, 4)):
                p, r, f = metrics.prf(y, s, t)
                if f > best:
                    best, t_f1 = f, float(t)
                if t_prec is None and p >= BLOCK_PRECISION and r > 0:
                    t_prec = float(t)
        t_r = min(0.99, max(t_fpr, t_f1, 0.2))
        t_b = min(0.995, max(t_r, t_prec if t_prec is not None else (1 + t_r) / 2))
        rew.append(round(t_r, 4))
        blk.append(round(t_b, 4))
    return rew, blk
