"""A deterministic, procedurally generated stand-in for CIFAR-10, for machines that cannot get it.

Chapter 0: when CIFAR-10 cannot be had, the book trains on this set: CIFAR-10's shapes (32x32 RGB uint8, 10 classes,
50,000 train / 10,000 test images), built to need what CIFAR-10 needs from a network: local, oriented features found
anywhere in the image among clutter. Each class is a texture family, five shapes in two frequency bands:

    horizontal stripes, vertical stripes, diagonal stripes (either diagonal), checks, rings
    x coarse (about 2.5-3.5 cycles across the image) or fine (about 4.5-6 cycles)

Each image shows its class's texture (random phase, small tilt, colour, contrast) in a soft window at a random place,
on a random, linearly shaded background, with a weaker texture of another class in a second window and pixel noise.
The mean colour says nothing about the class, and horizontal flips (the paper's augmentation) keep every class itself.
A small conv net learns it, slowly and not to 100%, so depth and residual connections have room to make a difference.

Determinism: chunk ``k`` of split ``s`` (0 train, 1 test) of 1,000 images comes from ``np.random.default_rng([seed,
s, k])``, so the same arguments give byte-identical arrays and the first N images of a split are the same whatever
total is asked for. Labels are balanced in every full chunk.
"""

import numpy as np

from resnet_lessons import arguments

CLASS_NAMES = tuple(f"{shape}-{band}" for shape in ("horizontal-stripes", "vertical-stripes", "diagonal-stripes",
                                                    "checks", "rings") for band in ("coarse", "fine"))
NUM_CLASSES = len(CLASS_NAMES)
# Images per chunk; every chunk draws from its own generator, so prefixes do not depend on the total.
CHUNK_SIZE = 1_000

_TRAIN_SPLIT_ID, _TEST_SPLIT_ID = 0, 1  # split ids in the generator seeds

# The texture of class c is shape c // 2 in frequency band c % 2.
_HORIZONTAL, _VERTICAL, _DIAGONAL, _CHECKS, _RINGS = range(5)
# Cycles per unit length, with the image spanning [-1, 1] (2 units): coarse ~2.5-3.5, fine ~4.5-6 cycles per image.
_FREQUENCY_BANDS = ((1.25, 1.75), (2.25, 3.0))
_MAX_TILT_RADIANS = np.deg2rad(12.0)

# Appearance, in [0, 255] pixel units and image-relative lengths.
_BACKGROUND_RANGE = (50.0, 205.0)
_SHADING_AMPLITUDE = 30.0
_CONTRAST_RANGE = (45.0, 90.0)
_DISTRACTOR_CONTRAST_RATIO = (0.3, 0.55)
_WINDOW_CENTRE_RANGE = 0.45
_WINDOW_WIDTH_RANGE = (0.35, 0.6)
_NOISE_STANDARD_DEVIATION = 12.0


def load_data(num_train: int = 50_000, num_test: int = 10_000, seed: int = 0, image_size: int = 32):
    """Generate the first ``num_train`` and ``num_test`` images of the synthetic CIFAR-shaped data set.

    The book must run (and show the degradation problem of deep plain nets) where CIFAR-10 cannot be had; this set
    is deterministic, quick to make, learnable by a conv net and far from trivial. Textures are defined in
    image-relative units, so an ``image_size`` (at least 8) other than 32 renders the same scenes. Returns
    ``(x_train, y_train), (x_test, y_test), class_names, description``, as ``cifar10.load_data`` does.
    """
    num_train = arguments.positive_int(num_train, "num_train")
    num_test = arguments.positive_int(num_test, "num_test")
    seed = arguments.non_negative_int(seed, "seed")
    arguments.require(arguments.is_int(image_size) and image_size >= 8, "image_size", image_size,
                      "an int of at least 8")
    image_size = int(image_size)
    description = (f"synthetic CIFAR-shaped data (procedurally generated, seed {seed}; {num_train:,} train / "
                   f"{num_test:,} test images, {image_size}x{image_size})")
    return (_generate_split(num_train, seed, _TRAIN_SPLIT_ID, image_size),
            _generate_split(num_test, seed, _TEST_SPLIT_ID, image_size), CLASS_NAMES, description)


def _generate_split(num_images, seed, split_id, image_size):
    """The first ``num_images`` images (uint8) and labels (int32) of one split, chunk by chunk."""
    images = np.empty((num_images, image_size, image_size, 3), dtype=np.uint8)
    labels = np.empty((num_images,), dtype=np.int32)
    for chunk_index, start in enumerate(range(0, num_images, CHUNK_SIZE)):
        count = min(CHUNK_SIZE, num_images - start)
        rng = np.random.default_rng([seed, split_id, chunk_index])
        images[start : start + count], labels[start : start + count] = _generate_chunk(rng, count, image_size)
    return images, labels


def _generate_chunk(rng, count, image_size):
    """Draw the parameters of a full chunk from ``rng``, then render only its first ``count`` images.

    Every random draw has the size of a full chunk, so the first images do not depend on ``count``.
    """
    # (CHUNK_SIZE,) balanced labels in random order
    labels = rng.permutation(np.arange(CHUNK_SIZE) % NUM_CLASSES).astype(np.int32)
    distractor_labels = (labels + rng.integers(1, NUM_CLASSES, size=CHUNK_SIZE)) % NUM_CLASSES
    main_texture = _draw_texture_parameters(rng, labels)
    distractor_texture = _draw_texture_parameters(rng, distractor_labels)
    distractor_texture["contrast"] *= rng.uniform(*_DISTRACTOR_CONTRAST_RATIO, size=CHUNK_SIZE)
    background = rng.uniform(*_BACKGROUND_RANGE, size=(CHUNK_SIZE, 3)).astype(np.float32)
    shading = rng.uniform(-_SHADING_AMPLITUDE, _SHADING_AMPLITUDE, size=(CHUNK_SIZE, 2, 3)).astype(np.float32)
    # uniform pixel noise with the chosen standard deviation (uniform draws are ~4x faster than normal ones)
    noise = rng.random((CHUNK_SIZE, image_size, image_size, 3), dtype=np.float32)

    keep = slice(0, count)
    # pixel centres in image-relative coordinates [-1, 1]; (1, size, 1) rows and (1, 1, size) columns
    coordinates = ((np.arange(image_size, dtype=np.float32) + 0.5) / image_size * 2.0 - 1.0).astype(np.float32)
    rows = coordinates[None, :, None]
    columns = coordinates[None, None, :]
    # (count, size, size, 3)
    images = noise[keep] - np.float32(0.5)
    images *= np.float32(_NOISE_STANDARD_DEVIATION * np.sqrt(12.0))
    images += background[keep, None, None, :]
    images += shading[keep, 0, None, None, :] * columns[..., None]
    images += shading[keep, 1, None, None, :] * rows[..., None]
    for texture in (main_texture, distractor_texture):
        images += _render_texture({name: value[keep] for name, value in texture.items()}, rows, columns)
    np.clip(images + np.float32(0.5), 0, 255, out=images)  # + 0.5 then truncation rounds to nearest
    return images.astype(np.uint8), labels[keep]


def _draw_texture_parameters(rng, labels):
    """Draw the random appearance of one texture per label: frequency, tilt, phases, window, colour, contrast."""
    size = len(labels)
    bands = np.asarray(_FREQUENCY_BANDS)[labels % 2]  # (size, 2)
    colour = rng.uniform(-1.0, 1.0, size=(size, 3))
    colour /= np.maximum(np.abs(colour).max(axis=1, keepdims=True), 1e-6)  # strongest channel at +-1
    return {
        "shape": labels // 2,
        "frequency": rng.uniform(bands[:, 0], bands[:, 1]),
        "tilt": rng.uniform(-_MAX_TILT_RADIANS, _MAX_TILT_RADIANS, size=size),
        "diagonal_sign": rng.choice(np.array([-1.0, 1.0]), size=size),
        "phase": rng.uniform(0.0, 2.0 * np.pi, size=(size, 2)),
        "centre": rng.uniform(-_WINDOW_CENTRE_RANGE, _WINDOW_CENTRE_RANGE, size=(size, 2)),
        "width": rng.uniform(*_WINDOW_WIDTH_RANGE, size=size),
        "colour": colour,
        "contrast": rng.uniform(*_CONTRAST_RANGE, size=size),
    }


def _per_image(values):
    """(n,) parameters as float32 (n, 1, 1), to broadcast against (n, size, size) pixel grids."""
    return np.asarray(values, dtype=np.float32)[:, None, None]


def _render_texture(texture, rows, columns):
    """One windowed, coloured texture per image of ``texture`` (from :func:`_draw_texture_parameters`).

    ``rows`` are (1, size, 1) and ``columns`` (1, 1, size) coordinates; returns float32 (n, size, size, 3) to add to
    the images, zero-mean-ish, in pixel units.
    """
    shapes = texture["shape"]
    # rotate by the shape's base angle plus a small tilt; diagonals lean either way
    base_angle = np.select(
        [shapes == _VERTICAL, shapes == _DIAGONAL], [np.pi / 2, texture["diagonal_sign"] * np.pi / 4], default=0.0
    )
    angle = base_angle + texture["tilt"]
    # (n, size, 1) and (n, 1, size) coordinates relative to the window centre
    relative_rows = rows - _per_image(texture["centre"][:, 0])
    relative_columns = columns - _per_image(texture["centre"][:, 1])
    # the Gaussian window is separable: (n, size, 1) * (n, 1, size)
    inverse_width = 1.0 / (np.sqrt(2.0) * _per_image(texture["width"]))
    window = np.exp(-np.square(relative_rows * inverse_width)) * np.exp(-np.square(relative_columns * inverse_width))
    amplitude = window * _per_image(texture["contrast"])  # (n, size, size)

    # each shape family is computed only for its own images
    for shape in (_HORIZONTAL, _VERTICAL, _DIAGONAL, _CHECKS, _RINGS):
        members = np.flatnonzero(shapes == shape)
        if members.size == 0:
            continue
        member_rows, member_columns = relative_rows[members], relative_columns[members]
        cos_angle, sin_angle = _per_image(np.cos(angle[members])), _per_image(np.sin(angle[members]))
        two_pi_frequency = _per_image(2.0 * np.pi * texture["frequency"][members])
        phase_a = _per_image(texture["phase"][members, 0])
        if shape == _RINGS:
            radius = np.sqrt(np.square(member_rows) + np.square(member_columns))
            pattern = np.sin(two_pi_frequency * radius + phase_a)
        else:
            along = cos_angle * member_rows + sin_angle * member_columns
            pattern = np.sin(two_pi_frequency * along + phase_a)
            if shape == _CHECKS:
                across = cos_angle * member_columns - sin_angle * member_rows
                # a product of two gratings has half the power of one; sqrt(2) makes their contrasts comparable
                phase_b = _per_image(texture["phase"][members, 1])
                pattern *= np.float32(np.sqrt(2.0)) * np.sin(two_pi_frequency * across + phase_b)
        amplitude[members] *= pattern
    return amplitude[..., None] * np.asarray(texture["colour"], dtype=np.float32)[:, None, None, :]
