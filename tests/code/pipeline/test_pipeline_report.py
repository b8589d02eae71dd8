"""The run report's ROC plot."""

from __future__ import annotations

import numpy as np


def test_tied_scores_plot_the_diagonal_not_a_staircase(tmp_path, monkeypatch):
    import matplotlib.axes

    from amlstack.pipeline.report import plot_roc

    curves = []
    real_plot = matplotlib.axes.Axes.plot

    def recording_plot(self, *args, **kwargs):
        if kwargs.get("label") == "challenger":
            curves.append((np.asarray(args[0]), np.asarray(args[1])))
        return real_plot(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", recording_plot)
    scores = tmp_path / "scores.npz"
    # One score for every row: the model cannot rank, so its ROC is the chance diagonal.
    np.savez(scores, y=np.array([1, 0, 1, 0, 1, 0]), challenger=np.full(6, 0.5))
    assert plot_roc(scores, tmp_path / "roc.png") == tmp_path / "roc.png"
    (fpr, tpr) = curves[0]
    np.testing.assert_allclose(fpr, [0, 1])
    np.testing.assert_allclose(tpr, [0, 1])
    assert (tmp_path / "roc.png").stat().st_size > 0
