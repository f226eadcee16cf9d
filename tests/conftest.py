"Shared pytest fixtures: tiny on-disk copies of every data set, each written by its spec's fixture writer (`cpc.datasets`)."
import pytest
from cpc.datasets import DATASETS

# Session-scoped and shared: tests must not modify these folders (copy them first, or write a fresh one).

def _written(tmp_path_factory, name):
    "The folder `DATASETS[name].fixture` writes: the data set in its real on-disk format."
    return DATASETS[name].fixture(tmp_path_factory.mktemp(name))

@pytest.fixture(scope='session')
def cifar10_dir(tmp_path_factory):
    "Root holding cifar-10-batches-py: 100 train (10 per class) and 20 test images."
    return _written(tmp_path_factory, 'cifar10')

@pytest.fixture(scope='session')
def cifar100_dir(tmp_path_factory):
    "Root holding cifar-100-python: 200 train (2 per class) and 100 test images."
    return _written(tmp_path_factory, 'cifar100')

@pytest.fixture(scope='session')
def fmnist_dir(tmp_path_factory):
    "Folder with the four Fashion-MNIST .gz files: 60 train (6 per class) and 20 test images."
    return _written(tmp_path_factory, 'fashion_mnist')

@pytest.fixture(scope='session')
def clothing1m_dir(tmp_path_factory):
    "Clothing1M root: 28 noisy train, 6 val, 6 test JPEGs (8x8) and the five label files."
    return _written(tmp_path_factory, 'clothing1m')

@pytest.fixture(scope='session')
def webvision_dir(tmp_path_factory):
    "WebVision root with 4 kept + 2 extra classes (3 train, 2 val each); ILSVRC12 val at imagenet/val."
    return _written(tmp_path_factory, 'webvision')

@pytest.fixture(scope='session')
def imagenet_val_dir(webvision_dir):
    "ILSVRC12 val by class folder (6 folders, 2 images each), written with the WebVision fixture."
    return webvision_dir/'imagenet'/'val'
