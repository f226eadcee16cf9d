"""Does torch.compile pay? SGD steps of a model, eager against torch.compile, timed in one process and given as a ratio.

Each variant gets its own copy of the same initial weights and the same batches; the compiled one is warmed up (the
compile itself is timed separately) before its steps are timed. A ratio below 1 means compile is faster.

  python bench/bench_compile.py [model=cnn_fc] [batch=64] [steps=30] [device=cpu] [size=28] [channels=1]
"""
import copy, sys, time
import torch, torch.nn.functional as F
from cpc.bench import _clock
from cpc.models import create_model

def step_fn(net, opt):
    "One SGD step of cross-entropy on (x, y), as the warm-up does."
    def step(x, y):
        logits, _ = net(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        return loss
    return step

def timed(step, batches, device)->float:
    "Seconds per step over `batches` (CUDA is synchronised before each clock reading)."
    t0 = _clock(device)
    for x, y in batches: step(x, y)
    return (_clock(device) - t0) / len(batches)

def main(model='cnn_fc', batch=64, steps=30, device='cpu', size=28, channels=1):
    device, batch, steps, size, channels = torch.device(device), int(batch), int(steps), int(size), int(channels)
    torch.manual_seed(0)
    base = create_model(model, 10, in_channels=channels).to(device)
    batches = [(torch.randn(batch, channels, size, size, device=device), torch.randint(0, 10, (batch,), device=device))
               for _ in range(steps)]
    res = {}
    for name in ('eager', 'compile'):
        net = copy.deepcopy(base)
        opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
        if name == 'compile': net = torch.compile(net)
        step = step_fn(net, opt)
        t0 = time.perf_counter()
        for x, y in batches[:3]: step(x, y)  # warm-up: compiles (both modes get the same three steps)
        warm = time.perf_counter() - t0
        res[name] = (timed(step, batches, device), warm)
    (e, ew), (c, cw) = res['eager'], res['compile']
    print(f"model={model} batch={batch} device={device} torch={torch.__version__} threads={torch.get_num_threads()}")
    print(f"eager   {e * 1e3:8.1f} ms/step (first 3 steps {ew:.1f} s)")
    print(f"compile {c * 1e3:8.1f} ms/step (first 3 steps, compiling, {cw:.1f} s)")
    print(f"compile / eager = {c / e:.2f}; the compile pays for itself after {max(cw - ew, 0) / max(e - c, 1e-9):.0f} steps" if c < e
          else f"compile / eager = {c / e:.2f}: compile does not pay here")

if __name__ == '__main__': main(*sys.argv[1:])
