"""Label exports: the pure, Django-free parts of a release.

* :mod:`.hdf5`: tracings resampled and padded to the CODE convention, written byte-reproducibly.
* :mod:`.files`: CSV/JSON formatting, pseudonyms, checksums, the dataset card.

The database side (which rows, in which order) lives in annotations.selectors.releases.export and
annotations.services.releases.export.
"""
