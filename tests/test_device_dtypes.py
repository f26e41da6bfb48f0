"""Training uses only dtypes every device has: Apple's MPS has no float64, so fit and evaluate must create none.

No Mac here: every tensor that fit and evaluate create is watched (a TorchFunctionMode sees each torch call
and its result) while they train on the CPU, and any float64 tensor on the training device fails the test.
That is what would crash on MPS, where the same code runs with device="mps".
"""

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from course_utils.models import VAE, Autoencoder
from course_utils.train import evaluate, fit

pytestmark = pytest.mark.unit


class Float64Watch(TorchFunctionMode):
    """Records every torch call that returns a float64 tensor on `device`."""

    def __init__(self, device: torch.device):
        super().__init__()
        self.device, self.calls = device, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and leaf.dtype == torch.float64 and leaf.device.type == self.device.type:
                self.calls.append(getattr(func, "__name__", str(func)))
        return out


def test_the_watch_sees_a_float64_tensor_on_the_device():
    with Float64Watch(torch.device("cpu")) as watch:
        torch.zeros(3, dtype=torch.float32).double()
        torch.zeros(3, dtype=torch.float64)
    assert len(watch.calls) == 2, watch.calls


@pytest.mark.parametrize(("make_model", "binarize"), [(lambda: VAE(784, 32, 4), "dynamic"),
                                                       (lambda: Autoencoder(784, 32, 4), None)],
                         ids=["vae-dynamic", "autoencoder-grey"])
def test_fit_and_evaluate_create_no_float64_on_the_training_device(make_model, binarize):
    assert torch.get_default_dtype() == torch.float32
    torch.manual_seed(0)
    model = make_model()
    x = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    device = torch.device("cpu")
    with Float64Watch(device) as watch:
        history = fit(model, x[:200], epochs=2, batch_size=64, device=device, test_x=x[200:], binarize=binarize,
                      progress=False)
        terms = evaluate(model, x[200:], generator=torch.Generator().manual_seed(1))
    assert not watch.calls, f"float64 tensors on the training device (MPS has none), made by: {watch.calls}"
    # the per-epoch numbers are still plain, finite Python floats
    assert len(history.train_loss) == 2 and all(isinstance(v, float) for v in (*history.test_loss, *terms))


def test_evaluate_averages_exactly_over_uneven_batches():
    # per-batch sums of float32 terms, added in Python: the mean over 300 images in batches of 64 (the last
    # one short) equals one pass over all 300 images, to float32 rounding
    torch.manual_seed(0)
    model = Autoencoder(784, 32, 4)
    x = torch.rand(300, 784, generator=torch.Generator().manual_seed(0))
    batched, whole = evaluate(model, x, batch_size=64), evaluate(model, x, batch_size=300)
    assert batched == pytest.approx(whole, rel=1e-6)


@pytest.mark.unit
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU: a CPU generator with a model on another device")
def test_a_cpu_generator_gives_the_same_draws_whatever_device_the_model_is_on():
    """The one policy (checks.draw_device): draw where the generator lives, then move the draws to the data."""
    from course_utils import evaluation, gradients
    from course_utils.data import binarize_dynamic

    torch.manual_seed(0)
    model, x = VAE(784, 32, 4), torch.rand(5, 784)
    on_gpu = VAE(784, 32, 4).cuda()
    on_gpu.load_state_dict(model.state_dict())
    mu, logvar = torch.randn(5, 4), torch.randn(5, 4)
    seed = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(gradients.reparameterize(mu.cuda(), logvar.cuda(), seed()).cpu(),
                       gradients.reparameterize(mu, logvar, seed()))
    assert torch.equal(binarize_dynamic(x.cuda(), seed()).cpu(), binarize_dynamic(x, seed()))
    assert torch.equal(on_gpu.sample(4, seed())[1].cpu(), model.sample(4, seed())[1])
    binary = binarize_dynamic(x, seed())
    torch.testing.assert_close(evaluation.iw_log_likelihood(on_gpu, binary.cuda(), 20, generator=seed()).cpu(),
                               evaluation.iw_log_likelihood(model, binary, 20, generator=seed()))  # GPU matmuls round
    torch.testing.assert_close(torch.tensor(evaluate(on_gpu, x, generator=seed())),
                               torch.tensor(evaluate(model, x, generator=seed())))
