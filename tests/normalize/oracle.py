"""Brute-force oracle for RankNormalizer: plain lists, linear counting, Python round()."""

from __future__ import annotations

import numpy as np


class OracleNormalizer:
    def __init__(self, num_metrics, window, ties="right", decimals=None, prefill=0,
                 prefill_value=0.0, dtype="float64", empty_rank=0.5):  # fmt: skip
        self.k = num_metrics
        self.cap = window
        self.ties = ties
        self.decimals = decimals
        self.dtype = np.dtype(dtype)
        self.empty_rank = empty_rank
        self.windows = [[] for _ in range(num_metrics)]
        self.staged = []
        if prefill:
            self.update(np.full((prefill, num_metrics), prefill_value))

    def _rows(self, values):
        v = np.asarray(values, dtype=np.float64)
        return v.reshape(-1, self.k).astype(self.dtype)

    def rank(self, values):
        rows = self._rows(values)
        out = np.empty(rows.shape)
        for i in range(rows.shape[0]):
            for k in range(self.k):
                w = self.windows[k]
                n = len(w)
                if n == 0:
                    out[i, k] = self.empty_rank
                    continue
                x = rows[i, k]
                lt = sum(1 for v in w if v < x)
                le = sum(1 for v in w if v <= x)
                if self.ties == "right":
                    q = le / n
                elif self.ties == "left":
                    q = lt / n
                else:
                    q = (lt + le) / (2 * n)
                out[i, k] = q if self.decimals is None else round(q, self.decimals)
        return out

    def update(self, values):
        for row in self._rows(values):
            for k in range(self.k):
                self.windows[k].append(row[k])
                if len(self.windows[k]) > self.cap:
                    self.windows[k].pop(0)

    def update_and_rank(self, values):
        r = self.rank(values)
        self.update(values)
        return r

    def stage(self, values):
        self.staged.append(self._rows(values))

    def commit(self):
        for s in self.staged:
            self.update(s)
        self.staged = []

    def window(self):
        return np.array(self.windows, dtype=self.dtype).reshape(self.k, -1).T
