"""The scikit-learn estimators: scikit-learn's own conformance checks, meta-estimators, files, and the weighted
gradients against finite differences."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import deltaprop as dp
from conftest import central_differences, rel_err
from deltaprop.sklearn import DeltapropClassifier, DeltapropRegressor

SMALL = dict(hidden=(16,), epochs=100, batch_size=64, lr=0.01, random_state=0)

# Skipped by scikit-learn itself, not by us: the array-API check runs only with SCIPY_ARRAY_API=1 set before
# SciPy is imported, and the estimators compute with NumPy (they take any array-like and convert it).
EXPECTED_SKIPS = {"check_array_api_input"}


@pytest.mark.parametrize("est", [DeltapropClassifier(**SMALL), DeltapropRegressor(**SMALL)],
                         ids=["classifier", "regressor"])
def test_check_estimator(est):
    results = check_estimator(est, on_fail=None, on_skip=None)
    failed = [(r["check_name"], str(r["exception"])) for r in results if r["status"] == "failed"]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert not failed, failed
    assert skipped <= EXPECTED_SKIPS, skipped
    names = {r["check_name"] for r in results}
    # the checks that matter most for a trained network really ran
    assert {"check_fit_idempotent", "check_estimators_pickle", "check_sample_weight_equivalence_on_dense_data",
            "check_methods_subset_invariance", "check_transformer_general"} <= names


def test_sample_weight_full_batch_equivalence():
    """Integer weights equal repeated rows exactly when training is full-batch (the order of mini-batches is
    the only thing repeated rows change)."""
    X, y = load_iris(return_X_y=True)
    rng = np.random.default_rng(0)
    w = rng.integers(0, 3, len(y))
    settings = dict(hidden=(5,), epochs=30, batch_size=10_000, lr=0.05, random_state=3)
    a = DeltapropClassifier(**settings).fit(X, y, sample_weight=w)
    b = DeltapropClassifier(**settings).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-9, atol=1e-12)


def test_weighted_gradient_against_finite_differences():
    """One full-batch SGD step at two learning rates gives the initial weights θ₀ and the gradient g the
    estimator used; g must be ∂C/∂θ of C = Σ wₙ cₙ / Σ wₙ by central differences, on inputs standardized with
    the weighted mean and standard deviation (computed here, apart from the estimator)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12, 3)) * [1.0, 3.0, 0.5] + [0.0, 2.0, -1.0]
    y = rng.standard_normal(12)
    w = rng.uniform(0.1, 2.0, 12)
    eta = 1e-3
    kw = dict(hidden=(4,), activation="tanh", optimizer="sgd", epochs=1, batch_size=12, random_state=7)
    one = DeltapropRegressor(lr=eta, **kw).fit(X, y, sample_weight=w)
    two = DeltapropRegressor(lr=2 * eta, **kw).fit(X, y, sample_weight=w)
    p1, p2 = one.model_.net.params(), two.model_.net.params()
    theta0 = [2 * a - b for a, b in zip(p1, p2)]
    grads = [(a - b) / eta for a, b in zip(p1, p2)]
    mean = np.average(X, axis=0, weights=w)
    scale = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
    Xs = (X - mean) / scale
    t_mean = np.average(y, weights=w)
    t_scale = np.sqrt(np.average((y - t_mean) ** 2, weights=w))
    Ts = ((y - t_mean) / t_scale)[:, None]
    net = one.model_.net
    for k, p in enumerate(net.params()):
        for q, v in zip(net.params(), theta0):
            q[...] = v

        def cost(value, k=k):
            saved = net.params()[k].copy()
            net.params()[k][...] = value
            a = net.predict(Xs)
            net.params()[k][...] = saved
            return np.dot(w, 0.5 * ((a - Ts) ** 2).sum(axis=1)) / w.sum()

        assert rel_err(grads[k], central_differences(cost, theta0[k])) < 1e-5


def test_classifier_surface_and_files(tmp_path):
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = DeltapropClassifier(hidden=(8, 6), activation=["tanh", "z**2/(1 + z**2)"], epochs=60, lr=0.02,
                              batch_size=32, early_stopping=10, validation_fraction=0.2, random_state=0)
    clf.fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 4 and clf.score(X, names) > 0.9
    assert len(clf.loss_curve_) == clf.n_iter_ and len(clf.validation_loss_curve_) == clf.n_iter_
    assert 1 <= clf.best_epoch_ <= clf.n_iter_
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert clf.transform(X).shape == (150, 6) and clf.transform(X, layer=1).shape == (150, 8)
    # the hidden activations are the network's own: a = σ(z) of the standardized inputs
    net, m = clf.model_.net, clf.model_
    Xs = m.inputs(X)
    np.testing.assert_allclose(clf.transform(X, layer=1), np.tanh(Xs @ net.W[0].T + net.b[0]), rtol=1e-12)
    # pickle (scikit-learn's convention) keeps every prediction, formula activation included
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), P)
    # the formula activation cannot go into a model file (names only): refused before anything is written
    with pytest.raises(dp.DeltapropError, match="export it as TOML"):
        clf.save(tmp_path / "formula.npz")
    assert not (tmp_path / "formula.npz").exists()
    from deltaprop.interop import exchange

    exchange.export(clf.model_, tmp_path / "formula.toml")  # the TOML file holds formulas
    np.testing.assert_allclose(exchange.load_toml(tmp_path / "formula.toml").predict_proba(X), P, rtol=1e-14)
    clf2 = DeltapropClassifier(hidden=(8,), activation="relu", epochs=20, random_state=0).fit(X, names)
    for suffix in ("npz", "safetensors"):
        path = clf2.save(tmp_path / f"model.{suffix}")
        model = dp.load_model(path)
        np.testing.assert_array_equal(model.predict_proba(X), clf2.predict_proba(X))
        assert model.classes == ["setosa", "versicolor", "virginica"]
        again = DeltapropClassifier.from_model(path)  # the safe file back into an estimator
        np.testing.assert_array_equal(again.predict(X), clf2.predict(X))
        assert again.score(X, names) == clf2.score(X, names)


def test_partial_fit_continues():
    X, y = load_iris(return_X_y=True)
    clf = DeltapropClassifier(hidden=(8,), lr=0.01, batch_size=16, random_state=0)
    for _ in range(30):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 30 and clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match="not fitted on"):
        clf.partial_fit(X, y + 5)


def test_regressor_multi_output_and_pipeline():
    X, Y = make_regression(n_samples=120, n_features=5, n_targets=2, noise=0.1, random_state=0)
    reg = DeltapropRegressor(hidden=(16,), epochs=150, lr=0.01, batch_size=32, random_state=0).fit(X, Y * 100)
    assert reg.predict(X).shape == (120, 2) and reg.score(X, Y * 100) > 0.95
    one = DeltapropRegressor(hidden=(8,), epochs=50, random_state=0).fit(X, Y[:, 0])
    assert one.predict(X).shape == (120,)


def test_pipeline_column_transformer_cross_val_and_grid_search():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n = 150
    df = pd.DataFrame({"x1": rng.standard_normal(n), "x2": rng.standard_normal(n),
                       "colour": rng.choice(["red", "green", "blue"], n)})
    y = ((df.x1 + (df.colour == "red") * 1.5 - df.x2) > 0).map({True: "yes", False: "no"})
    pre = ColumnTransformer([("num", StandardScaler(), ["x1", "x2"]),
                             ("cat", OneHotEncoder(), ["colour"])])
    pipe = Pipeline([("pre", pre), ("net", DeltapropClassifier(hidden=(8,), epochs=60, lr=0.02, batch_size=32,
                                                               random_state=0))])
    scores = cross_val_score(pipe, df, y, cv=3)
    assert scores.mean() > 0.85
    grid = GridSearchCV(pipe, {"net__hidden": [(4,), (8,)], "net__lr": [0.01, 0.03]}, cv=3).fit(df, y)
    assert set(grid.best_params_) == {"net__hidden", "net__lr"} and grid.best_score_ > 0.85
    fitted = grid.best_estimator_.fit(df, y)
    twin = clone(fitted)  # unfitted, same settings
    assert twin.get_params()["net__hidden"] == fitted.get_params()["net__hidden"]
    assert not hasattr(twin.named_steps["net"], "model_")
    # the estimator as a transformer: its hidden layer as features for another model
    feats = Pipeline([("net", DeltapropRegressor(hidden=(6,), epochs=20, random_state=0)), ("lin", StandardScaler())])
    assert feats.fit_transform(df[["x1", "x2"]], df.x1 * 2).shape == (n, 6)


def test_feature_names_are_kept():
    pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = DeltapropClassifier(hidden=(4,), epochs=10, random_state=0).fit(X, y)
    assert list(clf.feature_names_in_) == list(X.columns)
    assert clf.model_.feature_names == list(X.columns)


def test_bad_settings_are_one_clear_error():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(dp.DeltapropError, match="hidden must list"):
        DeltapropClassifier(hidden=(0,)).fit(X, y)
    with pytest.raises(dp.DeltapropError, match="unknown optimizer"):
        DeltapropClassifier(optimizer="lbfgs", epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="two classes"):
        DeltapropClassifier(epochs=1).fit(X, np.zeros(len(y)))


@pytest.mark.parametrize("settings", [dict(optimizer="adam"), dict(optimizer="sgd", lr=0.1),
                                      dict(optimizer="momentum", lr=0.05),
                                      dict(optimizer="adamw", weight_decay=0.01, schedule="cosine"),
                                      dict(optimizer="adam", early_stopping=3, validation_fraction=0.2)])
def test_the_estimator_trains_as_dp_fit(settings):
    """random_state=k with the same settings gives dp.fit(seed=k)'s weights bit for bit: the estimator runs the
    training loop's recipe (split, standardisation, seeded streams, mini-batches, the optimizer's own update
    with plain SGD's fused step, early stopping)."""
    X, y = load_iris(return_X_y=True)
    common = dict(hidden=[7], activation="tanh", epochs=25, batch_size=16, **{"lr": 0.01, **settings})
    val = common.pop("validation_fraction", 0.0)
    run = dp.fit((X, y), **common, val_split=val, test_split=0.0, seed=3, dtype="float64")
    est = dict(common, hidden=(7,), validation_fraction=val or 0.1)
    clf = DeltapropClassifier(**est, random_state=3).fit(X, y)
    for a, b in zip(run.model.net.params(), clf.model_.net.params()):
        np.testing.assert_array_equal(a, b)
    assert clf.n_iter_ == run.metrics["epochs_run"]
    np.testing.assert_allclose(clf.loss_curve_, [r["train_loss"] for r in run.history], rtol=1e-12)
