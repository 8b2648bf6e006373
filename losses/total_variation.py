"""Total variation: a smoothness cost on images."""

import keras

from dlsuite.layers.feature_maps import float32_maps


def total_variation(images):
    """Per-example squared total variation of images ``(batch, H, W, C)``.

    Mahendran and Vedaldi, "Understanding Deep Image Representations by
    Inverting Them" (2015), the regulariser with beta = 2 that Johnson et
    al. (2016) add to style transfer. The squared differences of vertically
    and horizontally neighbouring pixels, averaged over the image's size::

        TV(x) = 1 / (H * W * C) * ( sum_{i,j,k} (x[i+1, j, k] - x[i, j, k]) ** 2
                                  + sum_{i,j,k} (x[i, j+1, k] - x[i, j, k]) ** 2 )

    ``tf.image.total_variation`` is the absolute-value form, summed, so its
    scale grows with the image and its gradient jumps at zero; the squared,
    size-averaged form keeps one weight right for every image size.
    Computed in float32.

    Example:

    >>> stripes = np.zeros((1, 2, 2, 1), "float32")
    >>> stripes[0, :, 1] = 1.0           # one vertical edge, two rows long
    >>> float(total_variation(stripes)[0])   # 2 horizontal differences / 4
    0.5

    Args:
        images: Tensor ``(batch, H, W, C)``.

    Returns:
        Float32 tensor ``(batch,)``.
    """
    images = float32_maps(images, "total_variation", "images")
    vertical = keras.ops.sum(keras.ops.square(images[:, 1:] - images[:, :-1]), axis=(1, 2, 3))
    horizontal = keras.ops.sum(keras.ops.square(images[:, :, 1:] - images[:, :, :-1]),
                               axis=(1, 2, 3))
    shape = keras.ops.shape(images)
    size = keras.ops.cast(shape[1] * shape[2] * shape[3], "float32")
    return (vertical + horizontal) / size
