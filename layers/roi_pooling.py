"""ROI pooling: max over a fixed grid of bins of each region (Fast R-CNN)."""

import keras
from keras import ops

from dlsuite.layers import _roi


@keras.saving.register_keras_serializable(package="dlsuite")
class ROIPooling(keras.layers.Layer):
    """Max-pool each region of interest to a fixed ``ph x pw`` grid
    (Girshick 2015, "Fast R-CNN", section 2.1).

    A region ``(x1, y1, x2, y2)`` in input pixels covers the feature cells
    ``[floor(x1 s), ceil(x2 s))`` with ``s = spatial_scale`` (quantised to
    whole cells, the rounding ROI Align later removed), ``w = max(ceil(x2 s)
    - floor(x1 s), 1)`` cells wide. Bin ``j`` of ``pw`` spans the cells::

        [floor(x1 s) + floor(j w / pw),  floor(x1 s) + ceil((j + 1) w / pw))

    clipped to the map, and likewise for rows; the output of a bin is the
    maximum of the features over its cells, per channel, and 0 for a bin
    that falls wholly outside the map. Bins may overlap by a cell when
    ``w`` is not a multiple of ``pw`` (as in the paper's Caffe layer).
    Max over a rectangle is a max over rows of a max over columns, so the
    layer takes the two maxima in turn (``keras.ops`` only; memory
    ``batch x R x pw x H x W x C`` for the first). Keras has no ROI
    pooling layer, hence this one; its gradient goes to the arg-max cell of
    each bin.

    Example:

    >>> features = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> rois = np.array([[[0, 0, 4, 4]]], "float32")
    >>> pooled = ROIPooling(pooled_size=2, spatial_scale=1.0)([features, rois])
    >>> keras.ops.convert_to_numpy(pooled)[0, 0, :, :, 0]   # max of each 2x2 quarter
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)

    Args:
        pooled_size: ``(ph, pw)`` bins per region (or one int).
        spatial_scale: Feature cells per input pixel (``1 / stride``).
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: ``[features (batch, H, W, C), rois (batch, R, 4)]``, rois
            as ``x1, y1, x2, y2`` in input pixels (float32 whatever the
            policy).

    Returns:
        ``(batch, R, ph, pw, C)`` in the compute dtype.
    """

    def __init__(self, pooled_size=7, spatial_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.pooled_size = _roi.check_pair(pooled_size, "pooled_size")
        self.spatial_scale = _roi.check_positive(spatial_scale, "spatial_scale")
        self._convert_input_args = False

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(_roi.as_tensors(inputs), *args, **kwargs)

    def build(self, input_shape):
        _roi.check_input_shapes("ROIPooling", input_shape)

    def _bins(self, low, high, bins, size):
        """``(batch, R, bins, size)`` membership of each cell in each bin."""
        start = ops.cast(ops.floor(low * self.spatial_scale), "int32")
        extent = ops.maximum(ops.cast(ops.ceil(high * self.spatial_scale), "int32") - start, 1)
        # Whole cells in integer arithmetic: in a compiled graph TensorFlow
        # turns a float ``x / 7`` into ``x * (1 / 7)``, and ``ceil(7 * 3 / 7)``
        # became 4, so eager calls, ``fit`` and the SavedModel pooled
        # different cells. ``(a + b - 1) // b`` is ``ceil(a / b)``.
        index = ops.arange(bins, dtype="int32")
        first = start[..., None] + ops.floor_divide(index * extent[..., None], bins)
        last = start[..., None] + ops.floor_divide((index + 1) * extent[..., None] + bins - 1,
                                                   bins)
        cells = ops.arange(size, dtype="int32")
        return ops.logical_and(cells >= first[..., None], cells < last[..., None])

    def call(self, inputs):
        features, rois = _roi.split_inputs(self, inputs)
        rows, cols = self.pooled_size
        shape = ops.shape(features)
        in_cols = self._bins(rois[..., 0], rois[..., 2], cols, shape[2])   # (B, R, pw, W)
        in_rows = self._bins(rois[..., 1], rois[..., 3], rows, shape[1])   # (B, R, ph, H)
        lowest = ops.cast(-65504.0 if features.dtype == "float16" else -3.0e38, features.dtype)
        # Columns: (B, 1, 1, H, W, C) against (B, R, pw, 1, W, 1) -> (B, R, pw, H, C).
        masked = ops.where(in_cols[:, :, :, None, :, None], features[:, None, None], lowest)
        by_column = ops.max(masked, axis=4)
        # Rows: (B, R, 1, pw, H, C) against (B, R, ph, 1, H, 1) -> (B, R, ph, pw, C).
        masked = ops.where(in_rows[:, :, :, None, :, None], by_column[:, :, None], lowest)
        pooled = ops.max(masked, axis=4)
        filled = ops.logical_and(ops.any(in_rows, axis=-1)[:, :, :, None],
                                 ops.any(in_cols, axis=-1)[:, :, None, :])
        return ops.where(filled[..., None], pooled, ops.zeros_like(pooled))

    def compute_output_shape(self, input_shape):
        features, rois = _roi.check_input_shapes("ROIPooling", input_shape)
        return _roi.output_shape(features, rois, self.pooled_size)

    def get_config(self):
        config = super().get_config()
        config.update({"pooled_size": list(self.pooled_size),
                       "spatial_scale": self.spatial_scale})
        return config
