"""Datasets: MNIST / Fashion-MNIST (IDX files, md5-checked), a bundled MNIST sample, and toy data."""

from .mnist import MNIST, FashionMNIST, ImageDataset, mnist_sample, read_idx
from .toy import make_moons, make_regression, make_spirals

__all__ = ["MNIST", "FashionMNIST", "ImageDataset", "mnist_sample", "read_idx", "make_moons", "make_spirals",
           "make_regression"]
