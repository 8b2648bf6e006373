"""ROI Align: bilinear features of each region on a fixed grid (Mask R-CNN)."""

import keras
from keras import ops

from dlsuite.layers import _roi


@keras.saving.register_keras_serializable(package="dlsuite")
class ROIAlign(keras.layers.Layer):
    """Pool each region of interest to a fixed ``pooled_size`` grid by
    bilinear interpolation, without rounding (He et al. 2017, "Mask R-CNN",
    section 3).

    A region ``(x1, y1, x2, y2)`` in input pixels is mapped to feature-map
    coordinates ``u = x * spatial_scale - 0.5`` (``aligned``: pixel centres
    sit at half-integers, as in Detectron2 and torchvision's
    ``roi_align(aligned=True)``) and cut into ``ph x pw`` bins. Each bin is
    the mean of ``s x s`` regularly spaced samples (``s = sampling_ratio``),
    each sample the bilinear interpolation of its four neighbouring cells::

        y_t = v1 + (t + 0.5) / s * (v2 - v1) / ph,   t = 0 .. ph * s - 1
        f(y, x) = sum over the 4 neighbours (i, j) of
                  (1 - |y - i|) (1 - |x - j|) F[i, j]
        out[r, a, b] = mean of f(y_t, x_u) over the s x s samples of bin (a, b)

    A sample more than one cell outside the map contributes zero; one
    within a cell of the border is clamped to it (Detectron's rule). With
    ``s = 1`` the samples are the bin centres, exactly the points
    TensorFlow's ``tf.image.crop_and_resize`` reads for the matching boxes
    (the test checks this). That op is TensorFlow's own; this layer is
    ``keras.ops`` gathers so that it runs on every backend, and its
    gradient reaches the features (not the boxes: Faster R-CNN's
    approximate joint training stops it there anyway).

    Example:

    >>> features = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> rois = np.array([[[0, 0, 4, 4]]], "float32")        # the whole 4x4 map
    >>> pooled = ROIAlign(pooled_size=2, spatial_scale=1.0, sampling_ratio=1)(
    ...     [features, rois])
    >>> keras.ops.convert_to_numpy(pooled)[0, 0, :, :, 0]    # centres of the 2x2 bins
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)

    Args:
        pooled_size: ``(ph, pw)`` bins per region (or one int).
        spatial_scale: Feature cells per input pixel (``1 / stride``).
        sampling_ratio: Samples per bin along each axis, ``s >= 1``.
        aligned: Shift by half a cell (pixel centres); ``False`` is the
            original Mask R-CNN mapping ``u = x * spatial_scale``.
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: ``[features (batch, H, W, C), rois (batch, R, 4)]``, rois
            as ``x1, y1, x2, y2`` in input pixels (float32 whatever the
            policy).

    Returns:
        ``(batch, R, ph, pw, C)`` in the compute dtype.
    """

    def __init__(self, pooled_size=7, spatial_scale=1.0, sampling_ratio=2, aligned=True,
                 **kwargs):
        super().__init__(**kwargs)
        self.pooled_size = _roi.check_pair(pooled_size, "pooled_size")
        self.spatial_scale = _roi.check_positive(spatial_scale, "spatial_scale")
        if not (isinstance(sampling_ratio, int) and sampling_ratio >= 1):
            raise ValueError(f"sampling_ratio must be an int >= 1. "
                             f"Received: sampling_ratio={sampling_ratio}")
        self.sampling_ratio = sampling_ratio
        if not isinstance(aligned, bool):
            raise ValueError(f"aligned must be True or False. Received: aligned={aligned}")
        self.aligned = aligned
        # The rois stay float32 under mixed policies (see _roi.split_inputs).
        self._convert_input_args = False

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(_roi.as_tensors(inputs), *args, **kwargs)

    def build(self, input_shape):
        _roi.check_input_shapes("ROIAlign", input_shape)

    def _axis(self, coords, size):
        """Neighbour indices and weights of ``coords`` along an axis of ``size``."""
        size = ops.cast(size, "float32")
        inside = ops.cast(ops.logical_and(coords >= -1.0, coords <= size), "float32")
        coords = ops.clip(coords, 0.0, size - 1.0)
        low = ops.floor(coords)
        high = ops.minimum(low + 1.0, size - 1.0)
        fraction = coords - low
        return (ops.cast(low, "int32"), ops.cast(high, "int32"),
                (1.0 - fraction) * inside, fraction * inside)

    def call(self, inputs):
        features, rois = _roi.split_inputs(self, inputs)
        rows, cols = self.pooled_size
        samples = self.sampling_ratio
        shape = ops.shape(features)
        batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        count = ops.shape(rois)[1]
        boxes = rois * self.spatial_scale - (0.5 if self.aligned else 0.0)
        x1, y1, x2, y2 = (boxes[..., i:i + 1] for i in range(4))
        if not self.aligned:
            x2, y2 = ops.maximum(x2, x1 + 1.0), ops.maximum(y2, y1 + 1.0)
        steps_y = (ops.arange(rows * samples, dtype="float32") + 0.5) / samples
        steps_x = (ops.arange(cols * samples, dtype="float32") + 0.5) / samples
        ys = y1 + steps_y * (y2 - y1) / rows             # (batch, R, rows * s)
        xs = x1 + steps_x * (x2 - x1) / cols             # (batch, R, cols * s)
        y_low, y_high, wy_low, wy_high = self._axis(ys, height)
        x_low, x_high, wx_low, wx_high = self._axis(xs, width)
        flat = ops.reshape(features, (-1, channels))
        base = ops.reshape(ops.arange(batch, dtype="int32") * height * width, (-1, 1, 1, 1))

        def corner(y_index, x_index, y_weight, x_weight):
            index = base + y_index[..., :, None] * width + x_index[..., None, :]
            values = ops.take(flat, ops.reshape(index, (-1,)), axis=0)
            values = ops.reshape(values, (batch, count, rows * samples, cols * samples,
                                          channels))
            weight = ops.cast(y_weight[..., :, None] * x_weight[..., None, :], values.dtype)
            return values * weight[..., None]

        pooled = (corner(y_low, x_low, wy_low, wx_low) + corner(y_low, x_high, wy_low, wx_high)
                  + corner(y_high, x_low, wy_high, wx_low)
                  + corner(y_high, x_high, wy_high, wx_high))
        pooled = ops.reshape(pooled, (batch, count, rows, samples, cols, samples, channels))
        return ops.mean(pooled, axis=(3, 5))

    def compute_output_shape(self, input_shape):
        features, rois = _roi.check_input_shapes("ROIAlign", input_shape)
        return _roi.output_shape(features, rois, self.pooled_size)

    def get_config(self):
        config = super().get_config()
        config.update({"pooled_size": list(self.pooled_size),
                       "spatial_scale": self.spatial_scale,
                       "sampling_ratio": self.sampling_ratio, "aligned": self.aligned})
        return config
