"""The line network alone: its input, its layers and its CTC loss, in numpy and Keras.

Nothing here needs OpenCV or TensorFlow, so the line model trains on any Keras backend, on a GPU
machine that has only JAX (`hcrbatch.train.gpulines`); `hcrbatch.lineengine` reads with it and
`hcrbatch.train.lines` trains it here.
"""

from __future__ import annotations

import numpy as np

LINE_HEIGHT = 64  # the line model's input height
DOWNSAMPLE = 4  # input columns per output step

# What the manifest says of each sequence head; benchmarks/RESULTS.md has what each measured.
HEADS = {
    "conv": "three dilated 1-D convolutions (fully convolutional: each output column sees about 110 px "
    "of the line around it; the fastest on a CPU)",
    "lstm": "a bidirectional LSTM of 128 units (each output column sees the whole line; a little slower "
    "to train on a CPU); compare held_out with initialised_from's where it was put on another head's backbone",
    "lstm2": "two stacked bidirectional LSTMs of 256 units (more capacity where one LSTM of 128 underfitted: its "
    "training loss stayed within reach of its validation loss; slower per step)",
}

# Training batches are padded to a multiple of this width: each new input shape makes TensorFlow
# trace the training step again, which cost more than the step itself when every batch had its own.
TRAIN_WIDTH_STEP = 128


def make_batch(
    images: list[np.ndarray], labels: list[list[int]] | None = None, label_width: int = 0, pad_to: int = DOWNSAMPLE
):
    """Images padded to a common width (a multiple of `pad_to`); with labels, also labels padded by 0."""
    width = max(img.shape[1] for img in images)
    width += -width % pad_to
    x = np.zeros((len(images), LINE_HEIGHT, width, 1), np.float32)
    for i, img in enumerate(images):
        x[i, :, : img.shape[1], 0] = img
    if labels is None:
        return x
    y = np.zeros((len(labels), max(label_width, 1, *(len(lab) for lab in labels))), np.int32)
    for i, lab in enumerate(labels):
        y[i, : len(lab)] = lab
    return x, y


def fits_ctc(image_width: int, label: list[int]) -> bool:
    """Whether CTC can align `label` to the line's output steps: one step per character, plus a blank
    between each pair of equal neighbours."""
    repeats = sum(a == b for a, b in zip(label, label[1:]))
    return len(label) + repeats <= -(-image_width // DOWNSAMPLE)


def width_buckets(widths: list[int], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of lines of similar width (little padding), in random order."""
    order = np.argsort(widths, kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def width_bucketed_batches(images, labels, batch_size: int, seed: int, transform=None):
    """A Keras dataset of (images, labels padded by 0) batches of lines of similar width, in a new
    order each epoch; `transform(image, rng)` (augmentation) is applied anew each epoch where given."""
    import keras

    widths = [img.shape[1] for img in images]
    label_width = max(len(lab) for lab in labels)  # one width for all batches: Keras fixes it from the first

    class Lines(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.order = width_buckets(widths, batch_size, np.random.default_rng([seed, 0]))

        def __len__(self):
            return len(self.order)

        def batch(self, index):
            rows = self.order[index]
            picked = [images[i] for i in rows]
            if transform is not None:
                rng = np.random.default_rng([seed, self.epoch, index])
                picked = [transform(image, rng) for image in picked]
            return make_batch(picked, [labels[i] for i in rows], label_width, pad_to=TRAIN_WIDTH_STEP)

        def __getitem__(self, index):
            x, y = self.batch(index)
            if index == 1 and x.shape[2] == self.batch(0)[0].shape[2]:
                # Keras fixes every batch's shape from the first two (NUM_BATCHES_FOR_TENSOR_SPEC): two
                # of one width would fix the width, and the first batch of another would stop the fit
                x = np.pad(x, ((0, 0), (0, 0), (0, TRAIN_WIDTH_STEP), (0, 0)))
            return x, y

        def on_epoch_end(self):
            self.epoch += 1
            self.order = width_buckets(widths, batch_size, np.random.default_rng([seed, self.epoch]))

    return Lines()


def build_line_model(n_labels: int, head: str = "conv"):
    """Outputs per-step softmax over the blank (index 0) and the charset (1..n)."""
    import keras
    from keras import layers

    def conv(x, filters, kernel=3):
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        return layers.Activation("relu")(x)

    inputs = keras.Input((LINE_HEIGHT, None, 1), name="line")
    # Halve the resolution at once and keep the early layers thin: full-resolution layers cost most
    # and see little more than stroke edges (3x faster per step than 32/64/96-filter blocks, measured).
    x = conv(inputs, 16)
    x = layers.MaxPooling2D((2, 2))(x)
    x = conv(x, 32)
    x = layers.MaxPooling2D((2, 2))(x)
    for filters in (64, 96, 128):
        x = conv(conv(x, filters), filters)
        x = layers.MaxPooling2D((2, 1))(x)
    x = layers.Dropout(0.2)(x)
    # height 64 / 32 = 2 rows left: fold them into the features of each column
    x = layers.Permute((2, 1, 3))(x)
    x = layers.Reshape((-1, 2 * 128), name="features")(x)  # end of the backbone: what --init-from copies across heads
    if head == "lstm":
        x = layers.Bidirectional(layers.LSTM(128, return_sequences=True, dropout=0.2))(x)
    elif head == "lstm2":
        for _ in range(2):
            x = layers.Bidirectional(layers.LSTM(256, return_sequences=True, dropout=0.2))(x)
    else:
        for rate in (1, 2, 4):
            x = layers.Conv1D(256, 3, padding="same", dilation_rate=rate, activation="relu")(x)
            x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(n_labels + 1, activation="softmax", dtype="float32", name="ctc")(x)
    return keras.Model(inputs, outputs, name=f"lines_{head}")


def ctc_loss(y_true, y_pred):
    """CTC with labels padded by 0 (the blank); every output step counts (padding reads as blank).

    On TensorFlow, written with its sparse-label CTC kernel rather than `keras.ops.ctc_loss`: Keras
    passes dense labels, for which TensorFlow runs a step-by-step graph that took 1.17 s of a 1.5 s
    training step on this CPU; the sparse kernel computes the same loss in 0.02 s. That kernel
    wants the blank last, so labels shift down by one and the blank's column moves to the end. On
    any other backend (JAX on a GPU machine without TensorFlow), `keras.ops.ctc_loss`, the same loss
    (tests/test_lines.py checks the two agree)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return keras_ctc_loss(y_true, y_pred)
    import tensorflow as tf

    labels = tf.sparse.from_dense(tf.cast(y_true, tf.int32))
    labels = tf.SparseTensor(labels.indices, labels.values - 1, labels.dense_shape)
    log_probs = tf.math.log(tf.cast(y_pred, tf.float32) + 1e-8)
    log_probs = tf.concat([log_probs[..., 1:], log_probs[..., :1]], axis=-1)
    batch, steps = tf.shape(y_pred)[0], tf.shape(y_pred)[1]
    return tf.compat.v1.nn.ctc_loss(
        labels, log_probs, tf.fill([batch], steps), time_major=False, ignore_longer_outputs_than_inputs=True
    )


def keras_ctc_loss(y_true, y_pred):
    """`ctc_loss` in Keras ops only: the label's length is its count of non-zero entries, the blank is 0."""
    from keras import ops

    labels = ops.cast(y_true, "int32")
    label_lengths = ops.sum(ops.cast(ops.not_equal(labels, 0), "int32"), axis=-1)
    steps = ops.shape(y_pred)[1]
    output_lengths = ops.full((ops.shape(y_pred)[0],), steps, dtype="int32")
    probabilities = ops.cast(y_pred, "float32") + 1e-8
    return ops.ctc_loss(labels, ops.log(probabilities), label_lengths, output_lengths, mask_index=0)
