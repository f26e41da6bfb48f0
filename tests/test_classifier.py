"""course_utils.classifier: the MNIST classifier that lesson 11 uses to judge generated digits.

References: a forward pass written out through the model's own layers (the features are the ReLU layer), the
softmax's rows summing to one, one batch against many. Training is checked on a toy problem it must solve
exactly (ink in the left half of the image or in the right half) and for bit-for-bit reproducibility; the
shipped checkpoint against its specification (at least 99% right on the binarized test digits, seed 0) and
against the settings in benchmarks/train_classifier.py (SETTINGS, read from the script itself).
No check is stochastic: every draw is seeded, and the assertions are exact facts or the shipped model's bound.
"""

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from course_utils.classifier import (
    CHECKPOINT,
    FEATURE_DIM,
    FEATURE_LAYER,
    MNISTClassifier,
    accuracy,
    classifier_features,
    load_classifier,
    predict_proba,
    save_classifier,
    train_classifier,
)
from course_utils.data import binarize_dynamic, load_mnist

ROOT = Path(__file__).resolve().parent.parent


def _model(dropout: float = 0.0) -> MNISTClassifier:
    torch.manual_seed(0)
    return MNISTClassifier(dropout).eval()


def _digits(n: int = 7) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def _halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n binary images with random ink in the left half (label 0) or the right half (label 1)."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    ink = torch.bernoulli(torch.full((n, 1, 28, 14), 0.5), generator=generator)
    x = torch.zeros(n, 1, 28, 28)
    x[y == 0, :, :, :14] = ink[y == 0]
    x[y == 1, :, :, 14:] = ink[y == 1]
    return x, y


def _script_settings() -> dict:
    """SETTINGS of benchmarks/train_classifier.py, read from the script (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location("train_classifier", ROOT / "benchmarks" / "train_classifier.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script.SETTINGS


@pytest.mark.unit
def test_the_layers_are_the_specified_ones():
    shapes = {name: tuple(p.shape) for name, p in _model().named_parameters()}
    assert shapes == {"conv1.weight": (32, 1, 3, 3), "conv1.bias": (32,), "conv2.weight": (64, 32, 3, 3),
                      "conv2.bias": (64,), "fc1.weight": (128, 64 * 7 * 7), "fc1.bias": (128,),
                      "fc2.weight": (10, 128), "fc2.bias": (10,)}
    assert FEATURE_DIM == 128 and "128" in FEATURE_LAYER and "penultimate" in FEATURE_LAYER


@pytest.mark.unit
@pytest.mark.parametrize("layout", [(784,), (28, 28), (1, 28, 28)], ids=str)
def test_every_layout_gives_the_same_shapes_and_numbers(layout):
    model, x = _model(), _digits()
    reshaped = x.reshape(len(x), *layout)
    assert model(reshaped).shape == (7, 10) and model.features(reshaped).shape == (7, FEATURE_DIM)
    probs = predict_proba(model, reshaped)
    assert probs.shape == (7, 10) and probs.dtype == torch.float32 and probs.device.type == "cpu"
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(7))
    torch.testing.assert_close(probs, F.softmax(model(x), dim=1))
    assert classifier_features(model, reshaped).shape == (7, FEATURE_DIM)


@pytest.mark.unit
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_features_are_the_relu_layer_before_the_logits(dropout):
    model, x = _model(dropout), _digits()
    h = F.max_pool2d(F.relu(model.conv1(x)), 2)
    h = F.max_pool2d(F.relu(model.conv2(h)), 2)
    features = F.relu(model.fc1(h.flatten(1)))  # written out through the model's own layers
    torch.testing.assert_close(model.features(x), features)
    torch.testing.assert_close(classifier_features(model, x), features)
    torch.testing.assert_close(model(x), model.fc2(features))  # eval mode: no dropout


BAD_INPUTS = [
    (lambda x: x * 255, r"must be in \[0, 1\].*divide 0–255 pixel values by 255"),
    (lambda x: x - 0.5, r"must be in \[0, 1\].*undo any normalization"),
    (lambda x: x.masked_fill(x > 0.9, float("nan")), r"must be in \[0, 1\], got values from nan.*NaN"),
    (lambda x: (x * 255).to(torch.uint8), r"got dtype torch.uint8: divide 0–255 pixel values by 255"),
    (lambda x: x.tolist(), "float tensor of images in \\[0, 1\\], got list"),
    (lambda x: x[0, 0], r"shape \(28, 28\).*\(N, 784\), \(N, 28, 28\) or \(N, 1, 28, 28\).*unsqueeze\(0\)"),
    (lambda x: x.reshape(-1)[:784], r"shape \(784,\): the classifier expects"),
    (lambda x: x[:, :, :27], r"shape \(7, 1, 27, 28\): .*28x28 MNIST digits"),
    (lambda x: x.repeat(1, 3, 1, 1), r"shape \(7, 3, 28, 28\)"),
    (lambda x: x.reshape(7, 1, 16, 49), r"shape \(7, 1, 16, 49\)"),
]


@pytest.mark.unit
@pytest.mark.parametrize(("spoil", "message"), BAD_INPUTS, ids=range(len(BAD_INPUTS)))
@pytest.mark.parametrize("call", ["forward", "features", "predict_proba", "classifier_features", "train"])
def test_bad_images_say_what_is_expected(spoil, message, call):
    model, x = _model(), spoil(_digits())
    run = {"forward": model, "features": model.features, "predict_proba": lambda x: predict_proba(model, x),
           "classifier_features": lambda x: classifier_features(model, x),
           "train": lambda x: train_classifier(x, torch.zeros(7, dtype=torch.long), epochs=1, batch_size=4, lr=1e-3)}
    with pytest.raises(ValueError, match=message):
        run[call](x)


@pytest.mark.unit
@pytest.mark.parametrize(("change", "message"), [
    ({"y": torch.full((7,), 10)}, r"labels must lie in \[0, 10\)"),
    ({"y": torch.zeros(6, dtype=torch.long)}, r"shape \(7,\)"),
    ({"epochs": 0}, "epochs must be a positive int"),
    ({"batch_size": 1.5}, "batch_size must be a positive int"),
    ({"lr": -1.0}, "lr must be a positive number"),
    ({"binarize": "fixed"}, "binarize must be 'dynamic'"),
    ({"schedule": "step"}, "schedule must be 'constant' or 'cosine'"),
    ({"dropout": 1.0}, r"dropout must be a probability in \[0, 1\)"),
    ({"test_x": torch.zeros(3, 784)}, "test_x and test_y together"),
    ({"test_x": torch.zeros(3, 784) + 2, "test_y": torch.zeros(3, dtype=torch.long)}, r"test_x: images must be in"),
    ({"test_x": torch.zeros(3, 784), "test_y": torch.zeros(2, dtype=torch.long)}, r"test_y must be .* shape \(3,\)"),
], ids=lambda v: next(iter(v)) if isinstance(v, dict) else "")
def test_bad_training_settings_say_what_is_wrong(change, message):
    args = {"x": _digits(), "y": torch.zeros(7, dtype=torch.long), "epochs": 1, "batch_size": 4, "lr": 1e-3, **change}
    with pytest.raises(ValueError, match=message):
        train_classifier(args.pop("x"), args.pop("y"), **args)


@pytest.mark.unit
@pytest.mark.parametrize("measure", [predict_proba, classifier_features])
def test_measures_are_batched_exactly_and_restore_the_models_mode(measure):
    model, x = _model(dropout=0.5), _digits(10)
    model.train()  # dropout active: a measure that forgot eval mode would give random numbers
    whole = measure(model, x)
    assert model.training, "the model must come back in the mode it had"
    torch.testing.assert_close(measure(model, x, batch_size=3), whole)  # batches of 3, 3, 3, 1
    model.eval()
    torch.testing.assert_close(measure(model, x), whole)
    assert not model.training
    assert measure(model, x[:0]).shape == (0, whole.shape[1])
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        measure(model, x, batch_size=0)


@pytest.mark.unit
def test_training_solves_a_separable_toy_problem_and_records_the_run(tmp_path):
    x, y = _halves(256, seed=0)
    x_test, y_test = _halves(200, seed=1)
    rng_before = torch.get_rng_state()
    model, info = train_classifier(x, y, epochs=2, batch_size=32, lr=1e-3, test_x=x_test, test_y=y_test)
    assert torch.equal(torch.get_rng_state(), rng_before), "training must leave the global random state alone"
    assert not model.training
    assert accuracy(model, x_test, y_test) == 1.0 and info["test_accuracy"][-1] == 1.0
    assert {k: info[k] for k in ("epochs", "batch_size", "lr", "binarize", "schedule", "dropout", "seed")} == {
        "epochs": 2, "batch_size": 32, "lr": 1e-3, "binarize": "dynamic", "schedule": "cosine", "dropout": 0.0,
        "seed": 0}
    assert info["train_size"] == 256 and info["test_size"] == 200 and info["threads"] == torch.get_num_threads()
    assert info["torch"] == str(torch.__version__)
    assert len(info["train_loss"]) == len(info["test_accuracy"]) == len(info["seconds"]) == 2
    assert info["train_loss"][1] < info["train_loss"][0]
    # The record is plain values: the checkpoint format reads back with weights_only=True.
    blob = torch.load(save_classifier(model, info, tmp_path / "toy.pt"), weights_only=True)
    assert blob["info"] == info and blob["state_dict"].keys() == model.state_dict().keys()


@pytest.mark.unit
@pytest.mark.parametrize("binarize", ["dynamic", None])
def test_training_is_bit_for_bit_reproducible_for_a_seed(binarize):
    x, y = _halves(64, seed=2)
    runs = [train_classifier(x, y, epochs=1, batch_size=16, lr=1e-3, binarize=binarize, dropout=0.25, seed=seed)
            for seed in (3, 3, 4)]
    (first, info), (again, info_again), (other, _) = runs
    for name, weight in first.state_dict().items():
        assert torch.equal(weight, again.state_dict()[name]), name
    assert info["train_loss"] == info_again["train_loss"]
    assert not torch.equal(first.fc2.weight, other.fc2.weight), "another seed must give another model"


@pytest.mark.integration
def test_the_shipped_classifier_meets_its_specification():
    blob = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)  # tensors and plain values only
    assert CHECKPOINT.stat().st_size < 3e6
    model, info = load_classifier("cpu")
    assert not model.training and info == blob["info"]
    settings = _script_settings()
    assert {k: info[k] for k in settings} == settings, "the checkpoint was made with other settings than the script's"
    assert info["train_size"] == 60_000 and info["test_size"] == 10_000
    x_test, y_test = load_mnist("test", device="cpu")
    x_binary = binarize_dynamic(x_test, torch.Generator().manual_seed(0))
    assert accuracy(model, x_binary, y_test) >= 0.99
