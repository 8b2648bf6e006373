"""Shared kits: what two or more apps share, one floor below the apps.

An app imports the runtime, the data sources and these kits, never another
app (the import contracts in pyproject.toml check it):

- :mod:`.vision`: backbones from the cnn app's architectures, image reading
  and preparation, augmentation;
- :mod:`.detection`: boxes, the pycocotools evaluator, figures, the
  ``detect`` export and the :class:`DetectionApp` base of yolo and the R-CNN
  family;
- :mod:`.generative`: the config, image data, noise and sample-quality
  evaluator of the image-generating apps;
- :mod:`.recurrent`: the three recurrent cells.
"""
