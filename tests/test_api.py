"The public API as the docs render it: every exported signature resolves its type hints and types its None defaults."
import importlib, inspect, typing
from pathlib import Path
import pytest
import cpc

MODULES = sorted(p.stem for p in Path(cpc.__file__).parent.glob('*.py') if not p.stem.startswith('_'))  # every module nbdev exports

def exported_functions():
    "(qualified name, function) of every exported function and every method of every exported class."
    for m in MODULES:
        mod = importlib.import_module(f'cpc.{m}')
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj): yield f'{m}.{name}', obj
            elif inspect.isclass(obj):
                yield from ((f'{m}.{name}.{k}', v) for k, v in vars(obj).items() if inspect.isfunction(v))

@pytest.mark.parametrize('name, fn', list(exported_functions()), ids=lambda x: x if isinstance(x, str) else '')
def test_signature_renders(name, fn):
    typing.get_type_hints(fn)  # a name the annotation uses but the module does not define fails here
    untyped = [p.name for p in inspect.signature(fn).parameters.values() if p.default is None and p.annotation is inspect._empty]
    assert not untyped, f"{name}: parameters {untyped} default to None without a type (the docs would show 'NoneType')"
