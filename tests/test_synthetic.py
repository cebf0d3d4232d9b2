"""Tests of resnet_lessons.synthetic: shapes, determinism, prefixes, and that the set is neither trivial nor random."""

import time
import types

import numpy as np
import pytest

from resnet_lessons import data, synthetic


def generate(*args, **kwargs):
    """``synthetic.load_data``'s arrays, class names and description, as attributes."""
    (x_train, y_train), (x_test, y_test), class_names, description = synthetic.load_data(*args, **kwargs)
    return types.SimpleNamespace(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                                 class_names=class_names, description=description)


def test_shapes_dtypes_and_names():
    dataset = generate(num_train=40, num_test=20)
    assert dataset.x_train.shape == (40, 32, 32, 3) and dataset.x_test.shape == (20, 32, 32, 3)
    assert dataset.x_train.dtype == np.uint8 and dataset.y_train.dtype == np.int32
    assert len(dataset.class_names) == 10 and len(set(dataset.class_names)) == 10
    assert dataset.class_names == synthetic.CLASS_NAMES
    assert dataset.description.startswith("synthetic CIFAR-shaped data (procedurally generated, seed 0; 40 train / 20 test")
    # the images use the whole range of pixel values, not a few flat colours
    assert dataset.x_train.min() < 30 and dataset.x_train.max() > 225
    assert len(np.unique(dataset.x_train[0].reshape(-1, 3), axis=0)) > 500


def test_same_arguments_give_identical_bytes():
    first = generate(num_train=50, num_test=30, seed=5)
    second = generate(num_train=50, num_test=30, seed=5)
    assert first.x_train.tobytes() == second.x_train.tobytes()
    assert first.y_train.tobytes() == second.y_train.tobytes()
    assert first.x_test.tobytes() == second.x_test.tobytes()


def test_seeds_and_splits_differ():
    seed_zero = generate(num_train=50, num_test=50, seed=0)
    seed_one = generate(num_train=50, num_test=50, seed=1)
    assert not np.array_equal(seed_zero.x_train, seed_one.x_train)
    assert not np.array_equal(seed_zero.x_train, seed_zero.x_test)


def test_prefixes_do_not_depend_on_the_total():
    # 2,100 spans three chunks; the shorter requests end inside the first and second
    large = generate(num_train=2_100, num_test=1_001)
    for num_train, num_test in ((7, 3), (1_500, 1_000)):
        small = generate(num_train=num_train, num_test=num_test)
        np.testing.assert_array_equal(small.x_train, large.x_train[:num_train])
        np.testing.assert_array_equal(small.y_train, large.y_train[:num_train])
        np.testing.assert_array_equal(small.x_test, large.x_test[:num_test])
        np.testing.assert_array_equal(small.y_test, large.y_test[:num_test])


def test_labels_are_balanced_in_every_full_chunk():
    dataset = generate(num_train=2_000, num_test=1_000)
    assert np.bincount(dataset.y_train, minlength=10).tolist() == [200] * 10
    assert np.bincount(dataset.y_test, minlength=10).tolist() == [100] * 10
    # and shuffled, not in class order
    assert len(set(dataset.y_train[:10].tolist())) > 3


def test_other_image_sizes():
    dataset = generate(num_train=10, num_test=10, image_size=16)
    assert dataset.x_train.shape == (10, 16, 16, 3)
    np.testing.assert_array_equal(
        dataset.y_train, generate(num_train=10, num_test=10).y_train
    )


def test_generation_is_fast():
    start = time.perf_counter()
    generate(num_train=5_000, num_test=1_000)
    # about 0.5 s on 2 CPU cores; the bound leaves room for a busy machine
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"num_train": 0}, "num_train must be a positive int"),
        ({"num_test": -3}, "num_test must be a positive int"),
        ({"num_train": 2.0}, "num_train must be a positive int"),
        ({"seed": -1}, "seed must be a non-negative int"),
        ({"image_size": 4}, "image_size must be an int of at least 8"),
    ],
)
def test_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        generate(**arguments)


def mean_colour_classifier_accuracy(dataset):
    """Test accuracy of a softmax regression on each image's mean colour (and its squares and products)."""

    def features(images):
        mean_colour = images.reshape(len(images), -1, 3).mean(axis=1) / 255.0
        products = mean_colour[:, [0, 0, 1]] * mean_colour[:, [1, 2, 2]]
        return np.concatenate([mean_colour, np.square(mean_colour), products, np.ones((len(images), 1))], axis=1)

    train_features, test_features = features(dataset.x_train), features(dataset.x_test)
    scale = train_features.std(axis=0) + 1e-6
    scale[-1] = 1.0
    train_features, test_features = train_features / scale, test_features / scale
    one_hot = np.eye(10)[dataset.y_train]
    weights = np.zeros((train_features.shape[1], 10))
    for _ in range(500):  # plain gradient descent on the cross-entropy
        logits = train_features @ weights
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        weights -= 0.5 * train_features.T @ (probabilities - one_hot) / len(train_features)
    return float(np.mean(np.argmax(test_features @ weights, axis=1) == dataset.y_test))


def test_mean_colour_says_nothing_about_the_class():
    dataset = generate(num_train=3_000, num_test=2_000)
    accuracy = mean_colour_classifier_accuracy(dataset)
    # chance is 0.10; 2,000 test images give a standard error of about 0.007
    assert accuracy < 0.14


def test_a_small_conv_net_learns_it_but_not_instantly():
    import keras
    from keras import layers

    dataset = data.resize(data.load_dataset("synthetic", num_train=2_048, num_test=500, verbose=False), 16)
    mean, std = data.channel_statistics(dataset.x_train)
    x_train = (dataset.x_train.astype(np.float32) - mean) / std
    x_test = (dataset.x_test.astype(np.float32) - mean) / std
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    features = inputs
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        features = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(features)
        features = layers.BatchNormalization()(features)
        features = layers.ReLU()(features)
    outputs = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, dataset.y_train, batch_size=64, epochs=1, verbose=0)
    train_accuracy_after_one_epoch = model.evaluate(x_train, dataset.y_train, verbose=0)[1]
    model.fit(x_train, dataset.y_train, batch_size=64, epochs=9, verbose=0)
    test_accuracy = model.evaluate(x_test, dataset.y_test, verbose=0)[1]
    assert train_accuracy_after_one_epoch < 0.5
    # chance is 0.10
    assert test_accuracy > 0.3
