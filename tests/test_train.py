"""course_utils.train: learning on MNIST, faults (NaN, Ctrl-C, crashes while saving) and checkpoints."""

import math
from dataclasses import FrozenInstanceError, asdict

import pytest
import torch
import torch.nn.functional as F

from course_utils import checkpoint, train
from course_utils.data import load_mnist
from course_utils.models import VAE, Autoencoder, init_output_bias
from course_utils.objectives import LossTerms
from course_utils.train import (
    History,
    TrainConfig,
    TrainingDivergedError,
    evaluate,
    fit,
    load_checkpoint,
    load_pretrained,
    save_checkpoint,
)

pytestmark = pytest.mark.integration

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def _mnist(n_train, n_test):
    x, _ = load_mnist("train")
    x_test, _ = load_mnist("test")
    return x[:n_train], x_test[:n_test]


def _small_vae():
    torch.manual_seed(0)
    return VAE(784, 64, 4)


def _tiny_data(n=300):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def _fail_at(monkeypatch, call, error):
    """Make training step number `call` (counting from 1) return a NaN loss or raise `error`."""
    real, calls = VAE.loss_terms, []

    def patched(model, x, y=None, generator=None):
        terms = real(model, x, y, generator=generator)
        if model.training:
            calls.append(1)
            if len(calls) == call:
                if error is None:
                    return LossTerms.of(terms.recon * math.nan, terms.kl)
                raise error
        return terms

    monkeypatch.setattr(VAE, "loss_terms", patched)


def test_one_epoch_on_5000_images_learns_mnist():
    x, x_test = _mnist(5000, 1000)
    torch.manual_seed(0)
    model = VAE()
    init_output_bias(model, x)  # the course's recommended start (lesson 06), with lr 2e-3
    history = fit(model, x, epochs=1, batch_size=64, lr=2e-3, test_x=x_test, progress=False)
    assert len(history.test_loss) == len(history.seconds) == 1
    assert history.test_loss[0] < 200  # an untrained decoder scores about 543 nats (784 log 2)
    assert history.test_kl[0] > 0
    assert history.test_loss[0] == pytest.approx(history.test_recon[0] + history.test_kl[0])


def test_autoencoder_trains_on_reconstruction_alone():
    x, x_test = _mnist(2000, 500)
    torch.manual_seed(0)
    model = Autoencoder()
    before = evaluate(model, x_test)[0]
    history = fit(model, x, epochs=1, batch_size=64, test_x=x_test, progress=False)
    assert history.test_loss[0] < before - 100 and history.test_kl == [0.0]


@pytest.mark.parametrize("binarize", [None, "dynamic", "fixed"])
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_fit_runs_every_variant_and_is_reproducible(binarize, schedule):
    runs = []
    for _ in range(2):
        model = _small_vae()
        runs.append(fit(model, _tiny_data(), epochs=2, batch_size=100, test_x=_tiny_data(50),
                        binarize=binarize, schedule=schedule, seed=3, progress=False))
    assert runs[0].train_loss == runs[1].train_loss and runs[0].test_loss == runs[1].test_loss
    assert all(math.isfinite(v) for v in runs[0].train_loss + runs[0].test_loss)
    assert not model.training  # fit leaves the model ready for evaluation


def test_nan_loss_stops_naming_epoch_and_step_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "vae.pt"
    model = _small_vae()
    _fail_at(monkeypatch, call=5, error=None)  # 3 steps per epoch: call 5 is epoch 2, step 2
    with pytest.raises(TrainingDivergedError, match=r"nan at epoch 2, step 2 of 3.*vae\.pt was kept"):
        fit(model, _tiny_data(), epochs=3, batch_size=100, checkpoint_path=path, progress=False)
    saved, history = load_checkpoint(path)
    assert len(history.train_loss) == 1  # the checkpoint of epoch 1, the last good one
    assert all(torch.isfinite(p).all() for p in saved.parameters())
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_a_gpu_reads_no_loss_per_step_and_still_stops_on_nan(tmp_path, monkeypatch):
    # The GPU path, on a CPU: losses are checked on the device and read every SYNC_EVERY steps and at the end
    # of each epoch, never one value per step; a NaN still stops training, and the last good checkpoint stays.
    import course_utils.train as train

    monkeypatch.setattr(train, "_reads_every_step", lambda device: False)
    reads = []
    item = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda self: reads.append(1) or item(self))
    counts = []
    for epochs in (1, 3):
        reads.clear()
        fit(_small_vae(), _tiny_data(), epochs=epochs, batch_size=100, progress=False)
        counts.append(len(reads))
    assert counts[0] == counts[1]  # only the data check at the start reads a value: none per step or epoch
    path = tmp_path / "vae.pt"
    _fail_at(monkeypatch, call=5, error=None)  # 3 steps per epoch: call 5 is epoch 2, step 2
    with pytest.raises(TrainingDivergedError, match=r"NaN or infinite at epoch 2, by step 3 of 3.*vae\.pt was kept"):
        fit(_small_vae(), _tiny_data(), epochs=3, batch_size=100, checkpoint_path=path, progress=False)
    saved, history = load_checkpoint(path)
    assert len(history.train_loss) == 1 and all(torch.isfinite(p).all() for p in saved.parameters())


def test_training_is_bit_for_bit_what_bce_with_logits_gives(monkeypatch):
    # bernoulli_nll computes its value with softplus_sum but takes BCE-with-logits' gradient, σ(l) − x, as
    # is: the same seed gives the same weights, bit for bit, and losses equal to float32 rounding.
    import course_utils.objectives as objectives

    runs = []
    for nll in (objectives.bernoulli_nll,
                lambda logits, x: F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)):
        monkeypatch.setattr(objectives, "bernoulli_nll", nll)
        model = _small_vae()
        runs.append((model, fit(model, _tiny_data(), epochs=2, batch_size=100, binarize="dynamic", progress=False)))
    (fast, fast_history), (plain, plain_history) = runs
    assert all(torch.equal(a, b) for a, b in zip(fast.parameters(), plain.parameters(), strict=True))
    assert fast_history.train_loss == pytest.approx(plain_history.train_loss, rel=1e-6)


def test_keyboard_interrupt_returns_history_so_far(tmp_path, monkeypatch):
    path = tmp_path / "vae.pt"
    model = _small_vae()
    _fail_at(monkeypatch, call=5, error=KeyboardInterrupt())  # epoch 2, step 2
    history = fit(model, _tiny_data(), epochs=3, batch_size=100, test_x=_tiny_data(50),
                  checkpoint_path=path, progress=False)
    assert history.interrupted and len(history.train_loss) == len(history.test_loss) == 1
    assert not model.training
    assert all(math.isfinite(v) for v in evaluate(model, _tiny_data(50)))  # the model is still usable
    _, saved = load_checkpoint(path)
    assert saved.train_loss == history.train_loss  # the checkpoint holds the last finished epoch


def test_checkpoint_loads_a_new_model_onto_the_course_device_and_leaves_a_given_one_where_it_is(
        tmp_path, monkeypatch):
    path = save_checkpoint(_small_vae(), tmp_path / "vae.pt")
    monkeypatch.setattr(checkpoint, "get_device", lambda: torch.device("meta"))  # stands in for a GPU
    new, _ = load_checkpoint(path)
    assert next(new.parameters()).device.type == "meta"
    into = VAE(784, 64, 4)
    load_checkpoint(path, model=into)
    assert next(into.parameters()).device.type == "cpu"
    load_checkpoint(path, model=into, device="meta")
    assert next(into.parameters()).device.type == "meta"


def test_checkpoint_keeps_the_training_settings_and_the_facts_it_is_given(tmp_path):
    model = _small_vae()
    history = fit(model, _tiny_data(), epochs=2, batch_size=100, lr=2e-3, schedule="cosine", beta=0.5,
                  warmup_epochs=1, binarize="dynamic", seed=4, test_x=_tiny_data(50), progress=False)
    expected = TrainConfig(epochs=2, batch_size=100, lr=2e-3, schedule="cosine", beta=0.5, warmup_epochs=1,
                           binarize="dynamic", seed=4, train_size=300, test_size=50)
    assert history.config == expected
    path = save_checkpoint(model, tmp_path / "vae.pt", history, facts={"script": "x.py", "threads": 1})
    assert torch.load(path, weights_only=True)["train_config"] == {**asdict(expected), "script": "x.py", "threads": 1}
    _, loaded = load_checkpoint(path, device="cpu")
    assert loaded.config == expected and loaded == history  # History says which run it came from
    with pytest.raises(ValueError, match="overwrite"):
        save_checkpoint(model, tmp_path / "bad.pt", history, facts={"lr": 1.0})
    with pytest.raises(ValueError, match="plain str"):  # would make a checkpoint torch.load cannot read
        save_checkpoint(model, tmp_path / "bad.pt", history, facts={"torch": torch.__version__})
    assert not (tmp_path / "bad.pt").exists()
    with pytest.raises(FrozenInstanceError):
        expected.lr = 1.0  # frozen: a run's settings cannot change after the fact


def test_a_checkpoint_from_before_training_settings_still_loads_with_a_note(tmp_path):
    model = _small_vae()
    history = fit(model, _tiny_data(), epochs=1, batch_size=100, progress=False)
    old = {"config": {k: v for k, v in asdict(model.config).items() if k != "num_classes"},  # the old layout
           "state_dict": model.state_dict(), "history": {k: v for k, v in asdict(history).items() if k != "config"}}
    torch.save(old, tmp_path / "old.pt")
    with pytest.warns(UserWarning, match="old.pt was saved before checkpoints recorded their training settings"):
        loaded, loaded_history = load_checkpoint(tmp_path / "old.pt", device="cpu")
    assert loaded_history.config is None and loaded_history.train_loss == history.train_loss
    torch.testing.assert_close(loaded.state_dict(), model.state_dict(), rtol=0, atol=0)


def test_checkpoint_round_trip(tmp_path):
    model = _small_vae()
    history = fit(model, _tiny_data(), epochs=1, batch_size=100, progress=False, device="cpu")
    path = save_checkpoint(model, tmp_path / "sub" / "vae.pt", history=history)
    loaded, loaded_history = load_checkpoint(path, device="cpu")  # rebuilt from the saved config
    assert isinstance(loaded, VAE) and loaded.config == model.config and not loaded.training
    assert loaded_history == history
    x = _tiny_data(5)
    torch.testing.assert_close(loaded.encode(x), model.encode(x), rtol=0, atol=0)
    into = VAE(784, 64, 4)
    assert load_checkpoint(path, model=into)[0] is into
    torch.testing.assert_close(into.decode(torch.ones(1, 4)), model.decode(torch.ones(1, 4)), rtol=0, atol=0)


def test_loading_into_another_shape_names_both_shapes(tmp_path):
    path = save_checkpoint(VAE(784, 64, 20), tmp_path / "vae.pt")
    with pytest.raises(ValueError, match=r"shape \(20, 64\) in the checkpoint .* but shape \(2, 64\) in the model"):
        load_checkpoint(path, model=VAE(784, 64, 2))
    with pytest.raises(ValueError, match="does not fit"):
        load_checkpoint(path, model=Autoencoder(784, 64, 20))
    with pytest.raises(ValueError, match=r"num_layers=1, num_classes=0\)\) but .* num_layers=2, num_classes=0\)\)"):
        load_checkpoint(path, model=VAE(784, 64, 20, num_layers=2))


def test_a_failed_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(_small_vae(), tmp_path / "vae.pt")
    saved = path.read_bytes()

    def crash(obj, f):
        open(f, "wb").write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(VAE(784, 64, 4), path)
    assert path.read_bytes() == saved and list(tmp_path.iterdir()) == [path]


def test_fit_says_what_is_wrong():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit(_small_vae(), _tiny_data() * 255, epochs=1, progress=False)
    with pytest.raises(ValueError, match="binarize"):
        fit(_small_vae(), _tiny_data(), epochs=1, binarize="yes", progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(_small_vae(), _tiny_data(), epochs=0, progress=False)


def test_shipped_checkpoints_load():
    # the generative models; lesson 11's classifier (mnist_classifier.pt) is checked in tests/test_classifier.py
    shipped = sorted(p.stem for p in train.CHECKPOINTS.glob("*.pt") if p.stem != "mnist_classifier")
    for name in shipped:
        model, history = load_pretrained(name, device="cpu")
        # training lowers the test -ELBO; at beta = 1 below 160 nats (a beta > 1 model trades it for a smaller KL)
        bound = 160 if history.config.beta == 1 else math.inf
        assert isinstance(history, History) and history.test_loss[-1] < min(history.test_loss[0], bound), name
        assert history.config is not None and history.config.epochs == len(history.train_loss), name
        if model.config.kind == "vae":  # autoencoders are shipped too (lesson 07); they have no prior to sample
            assert model.sample(2)[0].shape == (2, model.config.input_dim)
        elif model.config.kind == "cvae":
            assert model.sample(y=torch.tensor([3, 7]))[0].shape == (2, model.config.input_dim)
        else:
            assert model.decode(torch.zeros(2, model.config.latent_dim)).shape == (2, model.config.input_dim)
    with pytest.raises(ValueError, match="available"):
        load_pretrained("no_such_model")
    with pytest.raises(ValueError, match="load_classifier"):
        load_pretrained("mnist_classifier")


@needs_cuda
def test_fit_on_gpu():
    model = _small_vae()
    history = fit(model, _tiny_data(), epochs=2, batch_size=100, test_x=_tiny_data(50),
                  binarize="dynamic", device="cuda", progress=False)
    assert next(model.parameters()).device.type == "cuda"
    assert all(math.isfinite(v) for v in history.train_loss + history.test_loss)
    assert model.sample(3)[0].device.type == "cuda"
