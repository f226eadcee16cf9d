"Shared pytest fixtures: tiny on-disk copies of every data set, written by `cpc.data`'s fixture writers."
import pytest
from cpc.fixtures import write_cifar_fixture, write_fmnist_fixture, write_clothing1m_fixture, write_webvision_fixture

# Session-scoped and shared: tests must not modify these folders (copy them first, or write a fresh one).

@pytest.fixture(scope='session')
def cifar10_dir(tmp_path_factory):
    "Root holding cifar-10-batches-py: 100 train (10 per class) and 20 test images."
    return write_cifar_fixture(tmp_path_factory.mktemp('cifar10'), 'cifar10', n_train=100, n_test=20)

@pytest.fixture(scope='session')
def cifar100_dir(tmp_path_factory):
    "Root holding cifar-100-python: 200 train (2 per class) and 100 test images."
    return write_cifar_fixture(tmp_path_factory.mktemp('cifar100'), 'cifar100', n_train=200, n_test=100)

@pytest.fixture(scope='session')
def fmnist_dir(tmp_path_factory):
    "Folder with the four Fashion-MNIST .gz files: 60 train (6 per class) and 20 test images."
    return write_fmnist_fixture(tmp_path_factory.mktemp('fmnist'), n_train=60, n_test=20)

@pytest.fixture(scope='session')
def clothing1m_dir(tmp_path_factory):
    "Clothing1M root: 28 noisy train, 6 val, 6 test JPEGs (8x8) and the five label files."
    return write_clothing1m_fixture(tmp_path_factory.mktemp('clothing1m'))

@pytest.fixture(scope='session')
def webvision_dir(tmp_path_factory):
    "WebVision root with 4 kept + 2 extra classes (3 train, 2 val each); ILSVRC12 val at imagenet/val."
    return write_webvision_fixture(tmp_path_factory.mktemp('webvision'), num_classes=4, extra_classes=2)

@pytest.fixture(scope='session')
def imagenet_val_dir(webvision_dir):
    "ILSVRC12 val by class folder (6 folders, 2 images each), written with the WebVision fixture."
    return webvision_dir/'imagenet'/'val'
