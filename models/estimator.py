"""The escalation-risk classifier: feature dicts in, probabilities out (scikit-learn API).

``EscalationRiskModel`` takes a batch of feature dicts (``domain.risk.features.case_features``) and
builds one sparse design matrix from three blocks:

* numeric: counts and money as ``log1p``, then standardised (``StandardScaler``);
* categorical: category, township and status, one-hot (unknown values are ignored);
* text: character 1-2-grams of the records, hashed (``models.text.CharNgramHasher``; no word
  segmenter needed for Chinese) with learned tf-idf weights;

and fits a ``LogisticRegression`` on it.  Being linear, every score splits exactly into
per-column contributions (``contributions``), which ``models.explain`` turns into words.
Calibration on a later time slice is done outside (``models.train``) with
``CalibratedClassifierCV(FrozenEstimator(model))``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from domain.risk.features import CATEGORICAL_FEATURES, LOG_FEATURES, NUMERIC_FEATURES, TEXT_FEATURE
from models.snapshot_table import FeatureColumns
from models.text import CharNgramHasher

Rows = Sequence[Mapping[str, Any]]


class EscalationRiskModel(ClassifierMixin, BaseEstimator):
    """Logistic regression on structured case features plus Chinese character n-grams.

    Parameters
    ----------
    C : inverse regularisation strength of the logistic regression.
    text_ngram_range : character n-gram lengths of the text block.
    text_n_features : size of the hashed text space.
    text_weight : multiplies the text block (0 switches text off).
    max_iter : iterations of the lbfgs solver.
    class_weight : passed to ``LogisticRegression``.
    """

    def __init__(
        self,
        C: float = 0.1,
        text_ngram_range: tuple[int, int] = (1, 2),
        text_n_features: int = 2**16,
        text_weight: float = 1.0,
        max_iter: int = 500,
        class_weight: str | None = None,
    ) -> None:
        self.C = C
        self.text_ngram_range = text_ngram_range
        self.text_n_features = text_n_features
        self.text_weight = text_weight
        self.max_iter = max_iter
        self.class_weight = class_weight

    # ---- design matrix ----------------------------------------------------------------------
    def _numeric(self, X: Rows | FeatureColumns) -> np.ndarray:
        names = self.numeric_features_
        if isinstance(X, FeatureColumns):
            out = X.numeric[:, [NUMERIC_FEATURES.index(n) for n in names]]
        else:
            out = np.array(
                [[float(row.get(n, 0.0) or 0.0) for n in names] for row in X], dtype=float
            ).reshape(len(X), len(names))
        logged = [j for j, name in enumerate(names) if name in LOG_FEATURES]
        out[:, logged] = np.log1p(np.maximum(out[:, logged], 0.0))
        return out

    def _categorical(self, X: Rows | FeatureColumns) -> np.ndarray:
        names = self.categorical_features_
        if isinstance(X, FeatureColumns):
            return X.categorical[:, [CATEGORICAL_FEATURES.index(n) for n in names]]
        out = np.array([[str(row.get(n, "unknown")) for n in names] for row in X], dtype=object)
        return out.reshape(len(X), len(names))

    def _hashed_text(self, X: Rows | FeatureColumns) -> sp.csr_matrix:
        """Hashed n-gram counts; each distinct text is analysed once per batch."""
        if isinstance(X, FeatureColumns):
            texts = [str(t or "") for t in X.text]
        else:
            texts = [str(row.get(TEXT_FEATURE, "") or "") for row in X]
        index: dict[str, int] = {}
        inverse = np.fromiter(
            (index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts)
        )
        unique = self.hasher_.transform(list(index))
        return unique[inverse]

    def _design(
        self, X: Rows | FeatureColumns, fitting: bool = False
    ) -> sp.csr_matrix | np.ndarray:
        """The design matrix: dense when there is no text block (text switched off), which
        is what a large training set fits fastest on; sparse with it.  A design matrix given
        in place of the rows (``design_matrix``) is taken as it is."""
        if not fitting and (sp.issparse(X) or isinstance(X, np.ndarray)):
            expected = getattr(self, "n_design_features_", X.shape[1])
            if X.ndim != 2 or X.shape[1] != expected:
                raise ValueError(
                    f"this model's design matrix has {expected} columns; one of shape "
                    f"{X.shape} was given"
                )
            return X
        if fitting:
            self.text_columns_ = self.text_n_features if self.text_weight else 0
            self.numeric_features_ = list(NUMERIC_FEATURES)
            self.categorical_features_ = list(CATEGORICAL_FEATURES)
            self.hasher_ = CharNgramHasher(
                ngram_range=tuple(self.text_ngram_range), n_features=self.text_n_features
            )
        num = self._numeric(X)
        cat = self._categorical(X)
        if fitting:
            self.scaler_ = StandardScaler().fit(num)
            self.onehot_ = OneHotEncoder(handle_unknown="ignore").fit(cat)
        width = getattr(self, "text_columns_", self.text_n_features)  # older models: always
        if self.text_weight:
            text = self._hashed_text(X)
            if fitting:
                self.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(text)
            text_block = self.tfidf_.transform(text) * float(self.text_weight)
        else:  # text switched off: an empty block (models fitted before the dense design)
            text_block = sp.csr_matrix((len(X), width))
        scaled = self.scaler_.transform(num, copy=False)
        onehot = self.onehot_.transform(cat).tocoo()
        if width == 0:  # one dense matrix, filled in place
            design = np.zeros((len(X), scaled.shape[1] + onehot.shape[1]))
            design[:, : scaled.shape[1]] = scaled
            design[onehot.row, scaled.shape[1] + onehot.col] = onehot.data
            blocks: list[Any] = [scaled, onehot, text_block]
        else:
            blocks = [sp.csr_matrix(scaled), sp.csr_matrix(onehot), text_block]
        if fitting:
            widths = [b.shape[1] for b in blocks]
            edges = np.cumsum([0, *widths])
            self.blocks_ = {
                name: (int(edges[i]), int(edges[i + 1]))
                for i, name in enumerate(("numeric", "categorical", "text"))
            }
        if width == 0:
            return design
        return sp.hstack(blocks, format="csr")

    # ---- estimator API ----------------------------------------------------------------------
    def fit(self, X: Rows | FeatureColumns, y: Sequence[int] | np.ndarray) -> EscalationRiskModel:
        """Fit on a batch of feature dicts (or ``FeatureColumns``) and 0/1 labels; returns
        self."""
        y = np.asarray(y)
        design = self._design(X, fitting=True)
        self.classifier_ = LogisticRegression(
            C=self.C, max_iter=self.max_iter, class_weight=self.class_weight
        ).fit(design, y)
        self.classes_ = self.classifier_.classes_
        self.n_design_features_ = design.shape[1]
        self.column_means_ = np.asarray(design.mean(axis=0)).ravel()  # the average case
        return self

    def design_matrix(self, X: Rows | FeatureColumns) -> sp.csr_matrix | np.ndarray:
        """The design matrix the classifier sees (dense for a model without text).  Every
        method here takes it in place of the rows, so a batch that is both scored and
        explained builds it once: ``predict_proba(design)``, then ``explain_rows``."""
        check_is_fitted(self, "classifier_")
        return self._design(X)

    def transform_design(self, X: Rows | FeatureColumns) -> sp.csr_matrix:
        """The design matrix the classifier sees, sparse."""
        return sp.csr_matrix(self.design_matrix(X))

    def decision_function(self, X: Rows | FeatureColumns) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        return self.classifier_.decision_function(self._design(X))

    def predict_proba(self, X: Rows | FeatureColumns) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict_proba(self._design(X))

    def predict(self, X: Rows) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def contributions(self, X: Rows) -> tuple[sp.csr_matrix, float]:
        """Per design column, each row's contribution to the log-odds (coefficient x value),
        and the intercept.  Subtract ``reference()`` to measure against the average case."""
        return self.contributions_in(self.transform_design(X))

    def contributions_in(self, design: sp.csr_matrix) -> tuple[sp.csr_matrix, float]:
        """``contributions`` for rows whose design matrix (``transform_design``) is at hand."""
        coef = self.classifier_.coef_.ravel()
        return sp.csr_matrix(design.multiply(coef)), float(self.classifier_.intercept_[0])

    def reference(self) -> np.ndarray:
        """Per design column, the average training case's contribution: a row's contribution
        minus this is what the row adds over the average case (the common reference)."""
        coef = self.classifier_.coef_.ravel()
        means = getattr(self, "column_means_", None)
        return coef * means if means is not None else np.zeros_like(coef)

    def design_column(self, j: int) -> tuple[str, str]:
        """(block, what) of design column ``j``: a feature name, ``name=value``, or a hash slot."""
        for block, (lo, hi) in self.blocks_.items():
            if lo <= j < hi:
                k = j - lo
                if block == "numeric":
                    return block, self.numeric_features_[k]
                if block == "categorical":
                    return block, str(
                        self.onehot_.get_feature_names_out(self.categorical_features_)[k]
                    )
                return block, str(k)
        raise IndexError(j)


def base_model(model: Any) -> EscalationRiskModel:
    """The ``EscalationRiskModel`` inside a model (itself, or inside a calibration wrapper)."""
    seen = model
    for _ in range(5):
        if isinstance(seen, EscalationRiskModel):
            return seen
        if hasattr(seen, "calibrated_classifiers_"):
            seen = seen.calibrated_classifiers_[0].estimator
        elif hasattr(seen, "estimator"):
            seen = seen.estimator
        else:
            break
    raise TypeError(f"no EscalationRiskModel inside {type(model).__name__}")
