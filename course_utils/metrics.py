"""What p(x) is good for, measured: the metrics of lesson 11's three uses of a generative model.

Derived in notebooks/11_three_uses.ipynb. Density estimation: AUROC of a score that should rank digits
above non-digits, the typicality test (Nalisnick et al. 2019) and the input-complexity correction (Serrà
et al. 2020). Representation learning: few-label linear probes, k-nearest neighbours and clustering on
frozen features. Generation: the Fréchet distance between Gaussians fitted to features, precision and recall
with k-NN balls (Kynkäänniemi et al. 2019), and nearest-neighbour distances for a memorization test.
scikit-learn (preinstalled in Colab) does the fitting; every function here is tested against a reference.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch

from .checks import check_count, flatten_pixels


def _scores(values, what: str) -> torch.Tensor:
    """A 1-D float64 tensor of finite scores (any sequence or tensor), ValueError otherwise."""
    values = torch.as_tensor(values).detach().cpu().double().flatten()
    if values.numel() == 0 or not torch.isfinite(values).all():
        raise ValueError(f"{what} must be a non-empty set of finite numbers; got {values.numel()} values, "
                         f"{int((~torch.isfinite(values)).sum())} of them NaN or infinite")
    return values


def auroc(scores_in, scores_out) -> float:
    """P(score of an in-distribution input > score of an OOD input), ties counted ½: Mann–Whitney's U / (n m).

    1 is a perfect detector, 0.5 a coin, below 0.5 a score that ranks the OOD inputs *above* the digits.
    """
    a, b = _scores(scores_in, "scores_in"), _scores(scores_out, "scores_out")
    both = torch.cat([a, b])
    ranks = torch.as_tensor(_average_ranks(both.numpy()))  # 1-based ranks, ties get the average of their ranks
    u = ranks[: len(a)].sum().item() - len(a) * (len(a) + 1) / 2  # pairs (in, out) with in ranked higher
    return u / (len(a) * len(b))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])  # first index of each tie
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)  # mean of ranks start+1 .. end
    return ranks


def auroc_null_se(num_in: int, num_out: int) -> float:
    """The standard error of the AUROC of two samples from one distribution (no ties): √((n+m+1) / (12 n m))."""
    check_count(num_in, "num_in")
    check_count(num_out, "num_out")
    return math.sqrt((num_in + num_out + 1) / (12 * num_in * num_out))


def typicality_score(nll, typical_nll) -> torch.Tensor:
    """|−log p(x) − the mean −log p of in-distribution data|: large in either direction means atypical."""
    return (_scores(nll, "nll") - _scores(typical_nll, "typical_nll").mean()).abs()


def compressed_nats(x: torch.Tensor) -> torch.Tensor:
    """L(x): the length of each binary 28×28 image as a PNG (zlib inside, from Pillow), in nats: 8 ln 2 per byte."""
    from PIL import Image

    rows = flatten_pixels(x, 784, "x").cpu()
    if not ((rows == 0) | (rows == 1)).all():
        raise ValueError("x must be binary images (0 or 1): binarize first, e.g. with binarize_dynamic")
    lengths = []
    for image in rows.view(-1, 28, 28).to(torch.uint8).numpy():
        buffer = io.BytesIO()
        Image.fromarray(image * 255).convert("1").save(buffer, format="PNG", optimize=True)
        lengths.append(len(buffer.getvalue()))
    return torch.tensor(lengths, dtype=torch.float64) * 8 * math.log(2)


def complexity_score(nll, x: torch.Tensor) -> torch.Tensor:
    """S(x) = −log p(x) − L(x) (Serrà et al. 2020): the nats the model needs beyond a generic compressor."""
    nll = _scores(nll, "nll")
    lengths = compressed_nats(x)
    if len(nll) != len(lengths):
        raise ValueError(f"nll has {len(nll)} values for {len(lengths)} images: score the same images")
    return nll - lengths


def _features(f, what: str) -> np.ndarray:
    f = torch.as_tensor(f).detach().cpu().double()
    if f.dim() != 2 or len(f) == 0 or not torch.isfinite(f).all():
        raise ValueError(f"{what} must be a finite (N, dim) matrix of features, one row per image; got shape "
                         f"{tuple(f.shape)}: flatten images with x.flatten(1)")
    return f.numpy()


def _pair(features, labels, what: str) -> tuple[np.ndarray, np.ndarray]:
    f = _features(features, f"{what}_features")
    y = torch.as_tensor(labels).cpu().numpy()
    if y.shape != (len(f),):
        raise ValueError(f"{what}_labels has shape {y.shape} for {len(f)} rows of {what}_features: one label per row")
    return f, y


def _checked(train_features, train_labels, test_features, test_labels):
    f, y = _pair(train_features, train_labels, "train")
    ft, yt = _pair(test_features, test_labels, "test")
    if f.shape[1] != ft.shape[1]:
        raise ValueError(f"train features have {f.shape[1]} dimensions, test features {ft.shape[1]}: "
                         "compute both with the same model")
    return f, y, ft, yt


def _label_draws(num_train: int, num_labels: int, draws: int, seed: int) -> list[np.ndarray]:
    check_count(num_labels, "num_labels")
    check_count(draws, "draws")
    if num_labels > num_train:
        raise ValueError(f"asked for {num_labels} labelled images but there are only {num_train}: "
                         f"ask for at most {num_train}")
    if num_labels == num_train:
        return [np.arange(num_train)]  # every label: one subset, whatever `draws` says
    rng = np.random.default_rng(seed)
    return [rng.choice(num_train, num_labels, replace=False) for _ in range(draws)]


def _summary(accuracies: list[float], num_test: int) -> tuple[float, float]:
    """Mean accuracy and its standard error: over draws, or the test set's binomial error for one draw."""
    mean = float(np.mean(accuracies))
    if len(accuracies) > 1:
        return mean, float(np.std(accuracies, ddof=1) / math.sqrt(len(accuracies)))
    return mean, math.sqrt(mean * (1 - mean) / num_test)


def linear_probe(train_features, train_labels, test_features, test_labels, num_labels: int, *, draws: int = 5,
                 seed: int = 0, max_iter: int = 1000) -> tuple[float, float]:
    """Test accuracy of a logistic regression on `num_labels` random labelled training rows (standardized
    features, scikit-learn's default L2 penalty, C = 1), mean ± standard error over `draws` subsets."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    f, y, ft, yt = _checked(train_features, train_labels, test_features, test_labels)
    accuracies = []
    for rows in _label_draws(len(f), num_labels, draws, seed):
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
        probe.fit(f[rows], y[rows])
        accuracies.append(float((probe.predict(ft) == yt).mean()))
    return _summary(accuracies, len(yt))


def knn_accuracy(train_features, train_labels, test_features, test_labels, num_labels: int, *, k: int = 5,
                 draws: int = 5, seed: int = 0) -> tuple[float, float]:
    """Test accuracy of a k-nearest-neighbour vote (Euclidean) among `num_labels` labelled training rows."""
    from sklearn.neighbors import KNeighborsClassifier

    f, y, ft, yt = _checked(train_features, train_labels, test_features, test_labels)
    check_count(k, "k")
    accuracies = []
    for rows in _label_draws(len(f), num_labels, draws, seed):
        knn = KNeighborsClassifier(n_neighbors=min(k, len(rows))).fit(f[rows], y[rows])
        accuracies.append(float((knn.predict(ft) == yt).mean()))
    return _summary(accuracies, len(yt))


def majority_label_accuracy(train_clusters, train_labels, test_clusters, test_labels) -> float:
    """Lesson 01's protocol: name each cluster by its most common training label, score the test clusters."""
    c, y = (torch.as_tensor(v).cpu().long() for v in (train_clusters, train_labels))
    ct, yt = (torch.as_tensor(v).cpu().long() for v in (test_clusters, test_labels))
    if c.shape != y.shape or ct.shape != yt.shape:
        raise ValueError("give one cluster and one label per image, for the training and the test images")
    num_clusters = int(max(c.max(), ct.max())) + 1
    counts = torch.zeros(num_clusters, int(y.max()) + 1, dtype=torch.long).index_put_((c, y), torch.ones_like(c),
                                                                                      accumulate=True)
    return (counts.argmax(1)[ct] == yt).double().mean().item()  # a cluster no training image chose gets label 0


def matched_cluster_accuracy(clusters, labels) -> float:
    """Accuracy under the best one-to-one matching of clusters to labels (Hungarian algorithm)."""
    from scipy.optimize import linear_sum_assignment

    c, y = (torch.as_tensor(v).cpu().long() for v in (clusters, labels))
    if c.shape != y.shape or c.dim() != 1:
        raise ValueError(f"clusters {tuple(c.shape)} and labels {tuple(y.shape)} must be 1-D, one per image")
    counts = torch.zeros(int(c.max()) + 1, int(y.max()) + 1, dtype=torch.long).index_put_((c, y), torch.ones_like(c),
                                                                                          accumulate=True)
    rows, cols = linear_sum_assignment(counts.numpy(), maximize=True)
    return counts[rows, cols].sum().item() / len(c)


def kmeans(train_features, num_clusters: int, *, seed: int = 0, restarts: int = 4, test_features=None):
    """k-means (scikit-learn) on the features as they are: (training clusters, test clusters or None).

    Not standardized: scaling every coordinate to unit variance would blow a VAE's inactive units (means
    near 0 for every image) up into noise that the clustering then follows.
    """
    from sklearn.cluster import KMeans

    f = _features(train_features, "train_features")
    check_count(num_clusters, "num_clusters")
    model = KMeans(num_clusters, n_init=restarts, random_state=seed).fit(f)
    test = None if test_features is None else model.predict(_features(test_features, "test_features"))
    return model.labels_, test


def frechet_distance(features_a, features_b) -> float:
    """‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a^½ Σ_b Σ_a^½)^½): the Fréchet (2-Wasserstein²) distance of the Gaussians
    fitted to two sets of features, as in FID (Heusel et al. 2017)."""
    a, b = _features(features_a, "features_a"), _features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"features_a has {a.shape[1]} dimensions, features_b {b.shape[1]}: use the same feature layer")
    if min(len(a), len(b)) < 2:
        raise ValueError("each set needs at least 2 rows to estimate a covariance")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T  # Σ_a^½, symmetric
    # Tr (Σ_a Σ_b)^½ = Tr (Σ_a^½ Σ_b Σ_a^½)^½, a symmetric PSD matrix: the sum of the roots of its eigenvalues
    cross = np.sqrt(np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def nearest_distances(queries, reference, *, k: int = 1, exclude_self: bool = False,
                      batch_size: int = 1024) -> torch.Tensor:
    """Euclidean distance from each query row to its k-th nearest reference row (skipping itself if asked), (N,)."""
    q = torch.as_tensor(_features(queries, "queries"))
    r = torch.as_tensor(_features(reference, "reference"))
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} dimensions, reference {r.shape[1]}: use the same features")
    check_count(k, "k")
    if k + exclude_self > len(r):
        raise ValueError(f"the reference has {len(r)} rows, too few for the {k}-th neighbour")
    out = []
    for chunk in q.split(batch_size):
        d = torch.cdist(chunk, r)  # (B, M)
        out.append(d.topk(k + exclude_self, dim=1, largest=False).values[:, -1])
    return torch.cat(out).float()


def precision_recall(real_features, fake_features, *, k: int = 3) -> tuple[float, float]:
    """Kynkäänniemi et al.'s (2019) precision (fakes inside a real k-NN ball) and recall (reals inside a fake one)."""
    real = _features(real_features, "real_features")
    fake = _features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real features have {real.shape[1]} dimensions, fake {fake.shape[1]}: same layer for both")
    real_radii = nearest_distances(real, real, k=k, exclude_self=True).double()
    fake_radii = nearest_distances(fake, fake, k=k, exclude_self=True).double()
    return _covered(fake, real, real_radii), _covered(real, fake, fake_radii)


def _covered(points: np.ndarray, centres: np.ndarray, radii: torch.Tensor, batch_size: int = 1024) -> float:
    """The fraction of `points` within distance radii[j] of some centre j."""
    p, c = torch.as_tensor(points), torch.as_tensor(centres)
    inside = [(torch.cdist(chunk, c) <= radii).any(1) for chunk in p.split(batch_size)]
    return torch.cat(inside).double().mean().item()


def coordinate_label_information(codes, labels, *, bins: int = 20) -> torch.Tensor:
    """I(z_j; y) in nats for each coordinate j of the codes (N, d), each cut into `bins` equal-count bins.

    The plug-in estimate from the (bin, label) counts; with N codes it is biased upwards by about
    (bins − 1)(classes − 1) / (2N) nats (Miller 1955).
    """
    z = torch.as_tensor(_features(codes, "codes"))
    y = torch.as_tensor(labels).cpu().long()
    if y.shape != (len(z),):
        raise ValueError(f"labels has shape {tuple(y.shape)} for {len(z)} codes: one label per code")
    check_count(bins, "bins")
    ranks = z.argsort(0).argsort(0)  # (N, d): each code's rank along each coordinate
    binned = ranks * bins // len(z)  # equal-count bins 0 .. bins − 1
    classes = int(y.max()) + 1
    p_y = torch.bincount(y, minlength=classes).double() / len(y)
    info = []
    for j in range(z.shape[1]):
        joint = torch.zeros(bins, classes, dtype=torch.float64).index_put_(
            (binned[:, j], y), torch.ones(len(y), dtype=torch.float64), accumulate=True) / len(y)
        outer = joint.sum(1, keepdim=True) * p_y  # p(bin) p(y)
        nonzero = joint > 0
        info.append((joint[nonzero] * (joint[nonzero] / outer[nonzero]).log()).sum())
    return torch.stack(info)
