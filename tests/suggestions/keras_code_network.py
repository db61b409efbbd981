"""Run in .venv-convert (make convert-venv), never in the main venv: builds, saves and runs a network of
the architecture of Ribeiro et al. 2020 ("Automatic diagnosis of the 12-lead ECG using a deep neural
network", repository antonior92/automatic-ecg-diagnosis, model.py) with random weights, so that the Keras
-> ONNX conversion can be checked without the published weights.

    python keras_code_network.py INPUT.npy MODEL.hdf5 KERAS_SCORES.npy [--seed N]

INPUT.npy is the network input the ONNX provider builds, (N, 4096, 12) float32. The model is saved as
the paper's train.py saved it (Keras 2 `model.save` to a .hdf5 name, compiled with its loss and
optimizer), then loaded back from that file as its predict.py loads it, and its predictions on INPUT are
written to KERAS_SCORES.npy.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter hides real errors

import numpy as np
import tf_keras as keras  # Keras 2: the published weights were saved by it
from tf_keras import layers

KERNEL = 16
INIT = "he_normal"
# (samples out, filters out) of the four residual blocks, as in the paper's model.py.
BLOCKS = ((1024, 128), (256, 196), (64, 256), (16, 320))
DROPOUT = 0.2
N_CLASSES = 6


def conv(filters: int, size: int, strides: int = 1) -> layers.Conv1D:
    return layers.Conv1D(
        filters, size, strides=strides, padding="same", use_bias=False, kernel_initializer=INIT
    )


def bn_relu(x):
    return layers.Activation("relu")(layers.BatchNormalization()(x))


def residual_block(x, y, samples_out: int, filters_out: int):
    """Pre-activation residual unit; the skip is max-pooled, and 1x1-convolved when the width changes."""
    downsample = y.shape[1] // samples_out
    if downsample > 1:
        y = layers.MaxPooling1D(downsample, strides=downsample, padding="same")(y)
    if y.shape[2] != filters_out:
        y = conv(filters_out, 1)(y)
    x = layers.Dropout(DROPOUT)(bn_relu(conv(filters_out, KERNEL)(x)))
    x = layers.Add()([conv(filters_out, KERNEL, strides=downsample)(x), y])
    return layers.Dropout(DROPOUT)(bn_relu(x)), x


def build() -> keras.Model:
    signal = layers.Input(shape=(4096, 12), dtype="float32", name="signal")
    x = bn_relu(conv(64, KERNEL)(signal))
    y = x
    for samples_out, filters_out in BLOCKS:
        x, y = residual_block(x, y, samples_out, filters_out)
    scores = layers.Dense(N_CLASSES, activation="sigmoid", kernel_initializer=INIT)(layers.Flatten()(x))
    return keras.Model(signal, scores)


def randomise_batch_norms(model: keras.Model, rng: np.random.Generator) -> None:
    """Fresh batch norms are the identity; random statistics make the conversion fold real ones."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            width = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, width),
                    rng.normal(0.0, 0.1, width),
                    rng.normal(0.0, 0.1, width),
                    rng.uniform(0.5, 2.0, width),
                ]
            )


def spread_scores(model: keras.Model, x: np.ndarray) -> None:
    """Rescale the last layer so that the scores on x spread over (0, 1): a random network's sigmoid
    saturates at 0 or 1, where any conversion error would vanish from the comparison."""
    dense = model.layers[-1]
    features = keras.Model(model.input, dense.input).predict(x, verbose=0).astype(np.float64)
    kernel, _ = dense.get_weights()
    logits = features @ kernel
    spread = np.maximum(logits.std(axis=0), 1e-12)
    new_kernel = kernel / spread * 2.0
    new_bias = -(features @ new_kernel).mean(axis=0)
    dense.set_weights([new_kernel.astype(np.float32), new_bias.astype(np.float32)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("scores", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    x = np.load(args.input)
    model = build()
    randomise_batch_norms(model, np.random.default_rng(args.seed))
    spread_scores(model, x)
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(0.001))
    model.save(args.model)
    reloaded = keras.models.load_model(args.model, compile=False)
    np.save(args.scores, reloaded.predict(x, verbose=0))


if __name__ == "__main__":
    main()
