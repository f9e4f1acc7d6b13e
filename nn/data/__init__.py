"""Data pipeline: datasets, minibatch loading and numpy image transforms."""

from . import transforms
from .dataset import Dataset, Subset, TensorDataset, as_numpy, random_split
from .loader import DataLoader, default_collate

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "as_numpy", "DataLoader", "default_collate",
           "transforms"]
