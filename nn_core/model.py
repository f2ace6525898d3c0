"""The MLP: a stack of Dense layers (with optional Dropout) over one flat parameter buffer.

All weights live in `params_flat[:n_weights]` and all biases after them, with each layer's W and b
as views; gradients mirror that layout in `grads_flat`. An optimizer step, L2 or weight decay is
then a few vector operations on two arrays, and outside code still reaches every array in order
through `parameters()` and `gradients()` ([W0, b0, W1, b1, ...]).
"""

import json

import numpy as np

from .activations import ACTIVATIONS
from .initializers import INITIALIZERS
from .layers import Dense, Dropout
from .losses import LOSSES
from .regularizers import LabelSmoothing

EVAL_BATCH = 4096  # rows per forward pass when predicting; bounds memory, amortizes BLAS calls


def one_hot(y, n_classes, dtype=np.float32):
    """Integer labels (n,) -> one-hot rows (n, n_classes)."""
    Y = np.zeros((len(y), n_classes), dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


class MLP:
    """Multi-layer perceptron.

    Parameters
    ----------
    sizes : list of int
        Layer widths including input and output, e.g. [784, 256, 128, 10].
    rng : np.random.Generator
        Draws the initial weights.
    activation : str
        Hidden activation (ACTIVATIONS). The output layer is linear; its nonlinearity is in the loss.
    activation_params : dict or None
        The activation's constructor arguments, e.g. {"slope": 0.1} for leaky_relu.
    loss : str
        Output + loss (LOSSES), fused on the logits.
    dropout : float
        Inverted-dropout rate after each hidden activation (0 disables it).
    input_dropout : float
        Inverted-dropout rate on the input features (0 disables it; Srivastava et al. 2014 use 0.2
        on MNIST pixels).
    label_smoothing : float
        Training targets (1 - eps) one_hot + eps / k (softmax_cross_entropy only). `evaluate`
        reports plain cross-entropy, so validation losses compare across eps.
    init : str or None
        Hidden-layer initializer (INITIALIZERS); None takes the activation's default. The output
        layer uses glorot_uniform.
    dtype : numpy dtype
        float32 for training, float64 for gradient checks.
    """

    def __init__(
        self,
        sizes,
        rng,
        activation="relu",
        loss="softmax_cross_entropy",
        dropout=0.0,
        init=None,
        dtype=np.float32,
        input_dropout=0.0,
        label_smoothing=0.0,
        activation_params=None,
    ):
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise ValueError(f"sizes must list at least 2 positive widths, got {sizes}")
        self.config = dict(
            sizes=[int(s) for s in sizes],
            activation=activation,
            loss=loss,
            dropout=float(dropout),
            init=init,
            dtype=np.dtype(dtype).name,
            input_dropout=float(input_dropout),
            label_smoothing=float(label_smoothing),
            activation_params=dict(activation_params or {}),
        )
        self.dtype = np.dtype(dtype)
        conflict = LabelSmoothing.conflict({"label_smoothing": label_smoothing, "loss": loss})
        if conflict:
            raise ValueError(conflict)
        self.eval_loss = LOSSES.create(loss)  # what `evaluate` reports
        self.loss = (
            LOSSES.create(loss, label_smoothing=label_smoothing)
            if label_smoothing
            else self.eval_loss
        )  # what training minimizes
        hidden_init = INITIALIZERS[init or ACTIVATIONS[activation].default_init]
        shapes = list(zip(sizes[:-1], sizes[1:]))
        self.n_weights = sum(i * o for i, o in shapes)
        n_params = self.n_weights + sum(o for _, o in shapes)
        self.params_flat = np.zeros(n_params, self.dtype)
        self.grads_flat = np.zeros(n_params, self.dtype)

        self.layers = [Dropout(input_dropout)] if input_dropout > 0 else []
        self.first_dense_at = len(self.layers)  # backward stops there: inputs need no gradient
        self.dense = []
        w_at, b_at = 0, self.n_weights
        for index, (d_in, d_out) in enumerate(shapes):
            is_output = index == len(shapes) - 1
            w_views = [
                buf[w_at : w_at + d_in * d_out].reshape(d_in, d_out)
                for buf in (self.params_flat, self.grads_flat)
            ]
            b_views = [buf[b_at : b_at + d_out] for buf in (self.params_flat, self.grads_flat)]
            w_at, b_at = w_at + d_in * d_out, b_at + d_out
            initializer = INITIALIZERS["glorot_uniform"] if is_output else hidden_init
            w_views[0][...] = initializer(d_in, d_out, rng, self.dtype)
            layer = Dense(
                w_views[0],
                b_views[0],
                w_views[1],
                b_views[1],
                ACTIVATIONS.create("identity")
                if is_output
                else ACTIVATIONS.create(activation, **self.config["activation_params"]),
            )
            self.layers.append(layer)
            self.dense.append(layer)
            if dropout > 0 and not is_output:
                self.layers.append(Dropout(dropout))

    @property
    def weights_flat(self):
        """Every weight matrix, flattened and concatenated (a view): what L2 and decay act on."""
        return self.params_flat[: self.n_weights]

    @property
    def weight_grads_flat(self):
        return self.grads_flat[: self.n_weights]

    @property
    def biases_flat(self):
        """Every bias vector, concatenated after the weights (a view): never decayed."""
        return self.params_flat[self.n_weights :]

    @property
    def bias_grads_flat(self):
        return self.grads_flat[self.n_weights :]

    @property
    def n_params(self):
        return self.params_flat.size

    def parameters(self):
        """[W0, b0, W1, b1, ...] as views: writing into them sets the model's weights."""
        return [p for layer in self.dense for p in (layer.W, layer.b)]

    def gradients(self):
        """[dW0, db0, dW1, db1, ...] from the last `backward`, in the order of `parameters()`."""
        return [g for layer in self.dense for g in (layer.dW, layer.db)]

    def forward(self, X, rng=None):
        """X (n, d_in) -> logits (n, d_out). Passing `rng` means training mode (dropout active)."""
        a = X
        for layer in self.layers:
            a = layer.forward(a, rng) if isinstance(layer, Dropout) else layer.forward(a)
        return a

    def backward(self, dlogits):
        """Backpropagate dLoss/dlogits (n, d_out) from the last forward into `grads_flat`."""
        da = dlogits
        first = self.first_dense_at
        for index in range(len(self.layers) - 1, first - 1, -1):
            da = self.layers[index].backward(da, need_dx=index > first)

    def loss_and_grad(self, X, Y):
        """Forward (eval mode, no dropout) and backward on (X, Y); returns the batch-mean loss."""
        loss, dlogits = self.loss.loss_and_grad(self.forward(X), Y)
        self.backward(dlogits)
        return loss

    def _batched_logits(self, X):
        for start in range(0, len(X), EVAL_BATCH):
            yield start, self.forward(np.asarray(X[start : start + EVAL_BATCH], self.dtype))

    def predict_proba(self, X):
        """Output probabilities (n, k): softmax or sigmoid of the logits (identity for MSE)."""
        return np.concatenate([self.loss.output(z) for _, z in self._batched_logits(X)])

    def predict(self, X):
        """Predicted class per row, shape (n,)."""
        return np.concatenate([z.argmax(axis=1) for _, z in self._batched_logits(X)])

    def evaluate(self, X, y):
        """Return (mean loss, accuracy) on integer labels y (n,), in eval mode."""
        k = self.config["sizes"][-1]
        loss_sum, correct = 0.0, 0
        for start, logits in self._batched_logits(X):
            labels = np.asarray(y[start : start + len(logits)])
            loss_sum += self.eval_loss.loss(logits, one_hot(labels, k, self.dtype)) * len(logits)
            correct += int((logits.argmax(axis=1) == labels).sum())
        return loss_sum / len(X), correct / len(X)

    def save(self, path):
        """Write the config and parameters to an .npz file (no pickle)."""
        arrays = {f"param_{i}": p for i, p in enumerate(self.parameters())}
        np.savez(path, config=np.array(json.dumps(self.config)), **arrays)

    @classmethod
    def load(cls, path):
        """Rebuild a model written by `save`."""
        with np.load(path, allow_pickle=False) as f:
            config = json.loads(str(f["config"]))
            model = cls(config.pop("sizes"), np.random.default_rng(0), **config)
            for i, p in enumerate(model.parameters()):
                p[...] = f[f"param_{i}"]
        return model
