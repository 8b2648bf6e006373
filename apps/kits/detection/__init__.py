"""Shared by every detection app (``yolo``, the R-CNN family): box
operations, the pycocotools evaluator and error analysis, figures, the
``detect`` export convention and the :class:`DetectionApp` base."""
