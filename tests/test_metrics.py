"""course_utils.metrics and course_utils.ood against references: scikit-learn, closed forms, exact toy answers."""

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from course_utils import metrics, ood

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("levels", [2, 5, 1000])  # 2 and 5 levels: many ties, counted half
def test_auroc_is_sklearns_roc_auc_with_the_digits_as_positives(levels):
    g = torch.Generator().manual_seed(levels)
    scores_in = torch.randint(0, levels, (300,), generator=g).float() + 0.3
    scores_out = torch.randint(0, levels, (170,), generator=g).float()
    reference = roc_auc_score(np.r_[np.ones(300), np.zeros(170)], torch.cat([scores_in, scores_out]).numpy())
    assert metrics.auroc(scores_in, scores_out) == pytest.approx(reference, abs=1e-12)


def test_auroc_extremes_and_symmetry():
    assert metrics.auroc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert metrics.auroc([0.0, 1.0], [2.0, 3.0]) == 0.0
    assert metrics.auroc([1.0, 1.0], [1.0]) == 0.5  # all ties
    a, b = torch.randn(50, generator=torch.Generator().manual_seed(0)), torch.randn(40)
    assert metrics.auroc(a, b) + metrics.auroc(b, a) == pytest.approx(1.0)


def test_auroc_null_standard_error_matches_simulation():
    # Two samples of one continuous distribution: AUROC's exact null variance is (n + m + 1) / (12 n m).
    # 2000 simulated AUROCs: their sample variance has relative SE sqrt(2 / 1999) = 3.2%; 6 SEs is 19%.
    g = torch.Generator().manual_seed(0)
    values = torch.tensor([metrics.auroc(torch.rand(30, generator=g), torch.rand(20, generator=g))
                           for _ in range(2000)])
    assert values.var().item() == pytest.approx(metrics.auroc_null_se(30, 20) ** 2, rel=0.19)


def test_typicality_flags_both_directions():
    typical = torch.tensor([99.0, 100.0, 101.0])
    assert metrics.typicality_score([100.0, 90.0, 120.0], typical).tolist() == [0.0, 10.0, 20.0]


def test_compressed_length_is_a_png_length_and_simple_images_are_shorter():
    blank = torch.zeros(1, 784)
    noise = torch.bernoulli(torch.full((1, 784), 0.5), generator=torch.Generator().manual_seed(0))
    lengths = metrics.compressed_nats(torch.cat([blank, noise]))
    assert lengths[0] < lengths[1]
    assert (lengths / (8 * math.log(2))).round().eq(lengths / (8 * math.log(2))).all()  # whole bytes
    nll = torch.tensor([5.0, 7.0])
    assert metrics.complexity_score(nll, torch.cat([blank, noise])).tolist() == pytest.approx((nll - lengths).tolist())


def test_linear_probe_is_a_standardized_sklearn_logistic_regression():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(400, 6, generator=g), torch.randint(0, 3, (400,), generator=g)
    x[:, 0] += 2 * y  # class information in one coordinate
    xt, yt = x[300:], y[300:]
    mean, se = metrics.linear_probe(x[:300], y[:300], xt, yt, num_labels=300)
    reference = LogisticRegression(max_iter=1000).fit(StandardScaler().fit(x[:300]).transform(x[:300]), y[:300])
    expected = (reference.predict(StandardScaler().fit(x[:300]).transform(xt)) == yt.numpy()).mean()
    assert mean == pytest.approx(expected)
    assert se == pytest.approx(math.sqrt(expected * (1 - expected) / 100))  # one subset: the binomial error
    mean_few, se_few = metrics.linear_probe(x[:300], y[:300], xt, yt, num_labels=30, draws=5)
    assert 0 < mean_few <= 1 and se_few > 0


def test_knn_accuracy_is_sklearns():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(200, 3, generator=g), torch.randint(0, 2, (200,), generator=g)
    mean, _ = metrics.knn_accuracy(x[:150], y[:150], x[150:], y[150:], num_labels=150, k=3)
    expected = (KNeighborsClassifier(3).fit(x[:150], y[:150]).predict(x[150:]) == y[150:].numpy()).mean()
    assert mean == pytest.approx(expected)


def test_cluster_accuracies_on_a_known_labelling():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    clusters = torch.tensor([2, 2, 1, 0, 0, 1, 1, 1])  # cluster 2 -> 0, 0 -> 1, 1 -> 2 (one mistake)
    assert metrics.matched_cluster_accuracy(clusters, labels) == pytest.approx(7 / 8)
    # majority naming may give two clusters one label; the matching may not
    assert metrics.majority_label_accuracy(torch.tensor([0, 1, 1]), torch.tensor([5, 5, 5]), torch.tensor([0, 1]),
                                           torch.tensor([5, 5])) == 1.0
    assert metrics.matched_cluster_accuracy(torch.tensor([0, 1, 1]), torch.tensor([5, 5, 5])) == pytest.approx(2 / 3)


def test_kmeans_separates_two_far_blobs():
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(50, 2, generator=g), torch.randn(50, 2, generator=g) + 100])
    train_clusters, test_clusters = metrics.kmeans(x, 2, test_features=x[::10])
    assert metrics.matched_cluster_accuracy(train_clusters, torch.arange(100) >= 50) == 1.0
    assert (test_clusters == train_clusters[::10]).all()


def test_frechet_distance_closed_forms():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5000, 1, generator=g, dtype=torch.float64)
    b = 3 * torch.randn(5000, 1, generator=g, dtype=torch.float64) + 2
    # 1-D: (μ_a − μ_b)² + (σ_a − σ_b)², with the samples' own means and standard deviations
    expected = (a.mean() - b.mean()) ** 2 + (a.std() - b.std()) ** 2
    assert metrics.frechet_distance(a, b) == pytest.approx(expected.item(), rel=1e-9)
    # commuting (diagonal) covariances: ‖μ_a − μ_b‖² + Σ_i (√a_i − √b_i)²; samples made with exactly these moments
    def with_moments(mean, var, n=1000):
        z = torch.randn(n, len(mean), generator=g, dtype=torch.float64)
        z = z - z.mean(0)
        white = z @ torch.linalg.inv(torch.linalg.cholesky(torch.cov(z.T))).T  # exact identity covariance
        return white * var.sqrt() + mean
    mean_a, var_a = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 4.0, 0.25])
    mean_b, var_b = torch.tensor([1.0, 1.0, 0.0]), torch.tensor([9.0, 1.0, 0.25])
    expected = ((mean_a - mean_b) ** 2).sum() + ((var_a.sqrt() - var_b.sqrt()) ** 2).sum()
    value = metrics.frechet_distance(with_moments(mean_a, var_a), with_moments(mean_b, var_b))
    assert value == pytest.approx(expected.item(), rel=1e-9)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_matches_scipys_matrix_square_root():
    from scipy.linalg import sqrtm

    g = torch.Generator().manual_seed(2)
    a = torch.randn(300, 4, generator=g, dtype=torch.float64) @ torch.randn(4, 4, generator=g, dtype=torch.float64)
    b = torch.randn(200, 4, generator=g, dtype=torch.float64) + 0.5
    ca, cb = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum().item() + np.trace(ca + cb - 2 * sqrtm(ca @ cb).real)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_precision_recall_on_a_grid():
    real = torch.arange(100, dtype=torch.float64)[:, None]  # points 0..99, each 1 from its nearest neighbour
    assert metrics.precision_recall(real, real, k=1) == (1.0, 1.0)
    fake = real[:50]  # half the support: every fake is real-like; reals 0..50 lie within 1 of a fake
    assert metrics.precision_recall(real, fake, k=1) == (1.0, 51 / 100)
    far = real + 1000
    assert metrics.precision_recall(real, far, k=1) == (0.0, 0.0)


def test_nearest_distances():
    reference = torch.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    assert metrics.nearest_distances(torch.tensor([[0.0, 0.0]]), reference).tolist() == [0.0]
    assert metrics.nearest_distances(reference, reference, exclude_self=True).tolist() == [5.0, 5.0, 5.0]
    assert metrics.nearest_distances(torch.tensor([[0.0, 0.0]]), reference, k=3).tolist() == [10.0]


@pytest.mark.parametrize("call, message", [
    (lambda: metrics.auroc([], [1.0]), "non-empty"),
    (lambda: metrics.auroc([float("nan")], [1.0]), "NaN"),
    (lambda: metrics.frechet_distance(torch.randn(10, 3), torch.randn(10, 4)), "same feature layer"),
    (lambda: metrics.precision_recall(torch.randn(10, 3), torch.randn(10, 2)), "same layer"),
    (lambda: metrics.linear_probe(torch.randn(10, 3), torch.zeros(10), torch.randn(5, 3), torch.zeros(5), 11),
     "only 10"),
    (lambda: metrics.linear_probe(torch.randn(10, 3), torch.zeros(9), torch.randn(5, 3), torch.zeros(5), 5),
     "one label per row"),
    (lambda: metrics.knn_accuracy(torch.randn(10, 3), torch.zeros(10), torch.randn(5, 2), torch.zeros(5), 5),
     "same model"),
    (lambda: metrics.compressed_nats(torch.full((1, 784), 1.5)), r"\[0, 1\]"),
    (lambda: metrics.compressed_nats(torch.full((1, 784), 0.5)), "binary"),
    (lambda: metrics.complexity_score([1.0, 2.0], torch.zeros(1, 784)), "same images"),
    (lambda: metrics.nearest_distances(torch.randn(2, 2), torch.randn(1, 2), exclude_self=True), "too few"),
    (lambda: ood.ood_sets(torch.rand(5, 1, 28, 28), torch.Generator(), num_images=10), "fewer than"),
    (lambda: ood.ood_sets(torch.rand(5, 1, 28, 28) * 2, torch.Generator(), num_images=5), r"\[0, 1\]"),
])
def test_bad_input_says_what_to_do(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_ood_sets_are_binary_images_of_the_right_kind():
    g = torch.Generator().manual_seed(0)
    grey = torch.zeros(20, 1, 28, 28)
    grey[:, :, 4:24, 10:14] = 1.0  # a vertical bar, fully inked: its binarizations are exact
    sets = ood.ood_sets(grey, g, num_images=20)
    for name, x in sets.items():
        assert x.shape[1] == 784 and ((x == 0) | (x == 1)).all(), name
    bar = grey[0, 0]
    assert torch.equal(sets["rotated 90°"][0].view(28, 28), torch.rot90(bar, 1))
    assert torch.equal(sets["shifted 4 px"][0].view(28, 28), torch.roll(bar, 4, dims=1))
    assert torch.equal(sets["inverted"][0].view(28, 28), 1 - bar)
    assert sets["blank"].sum() == 0 and len(sets["letters"]) == 26 * len(ood.FONTS)
    assert len(sets["sklearn digits (8×8)"]) == 20


def test_sklearn_digits_sit_in_mnists_box():
    x, y = ood.sklearn_digits_28()
    assert x.shape == (1797, 1, 28, 28) and y.shape == (1797,) and set(y.tolist()) == set(range(10))
    assert x[:, :, :4].sum() == 0 and x[:, :, :, 24:].sum() == 0  # the 4-pixel frame stays blank
    assert 0 <= x.min() and x.max() <= 1


def test_coordinate_label_information_exact_cases():
    y = torch.arange(1000) % 10
    codes = torch.stack([y.double() + torch.rand(1000, dtype=torch.float64) * 0.5,  # the label, spread in its bin
                         torch.randn(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)], 1)
    info = metrics.coordinate_label_information(codes, y, bins=10)
    assert info[0].item() == pytest.approx(math.log(10), rel=1e-12)  # ten equal-count bins = the ten labels
    # An independent coordinate: the plug-in estimate's bias is about (10 − 1)(10 − 1) / (2 · 1000) = 0.04 nats;
    # 2 N I is approximately χ² with 81 degrees of freedom (mean 81, sd 12.7), so I > 0.2 (χ² > 400) has p < 1e-6.
    assert 0 <= info[1].item() < 0.2
