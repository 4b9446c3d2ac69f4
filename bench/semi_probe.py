"""Probe a semi-supervised GAN recipe on one thread for a CPU budget, printing test accuracy every
60 CPU-seconds (the probes behind the task's defaults: bench/runs/semi/probes.json).

    python bench/semi_probe.py DATASET K MINUTES SEED [key=value ...]

keys: any SemiGAN option (width=500, lr=1e-3, ...), and three changes not in the task, tried and not
adopted: ent=W (the entropy of D's class probabilities on unlabeled images added to D's loss, as
in Dai et al. 2017), dema=DECAY (also score an exponential moving average of D's weights),
decay=1 (learning rates fall linearly to 0 over the budget), in_noise=STD (the noise on D's input),
shift=P (real images moved by up to P pixels), cons=W (a Pi-model consistency term on unlabeled
images), vat=EPS (virtual adversarial training on unlabeled images, radius EPS in [-1, 1] pixel
units), nogan=1 (no GAN terms: labels + the other terms only, the ablation), pseudo=W
(self-training: from pseudo_from=F of the budget on, every sixth of it, the unlabeled images D puts
in a class with probability >= 0.95, per class at most twice the median class's count or K, are
labeled so (pseudo_cap=N: only the N most confident per class), and D's loss adds W x the
cross-entropy of a batch of 100 of them), conv=C (a convolutional front end before D's MLP:
noise, a weight-normalized 5x5 conv of C channels with stride cstride=S (1 or 2), ReLU, max pooling
to 7x7, noise 0.5; with conv2=C2 instead: 5x5 stride 2 to C, then 3x3 stride 2 to C2, no pooling),
gw=W (G's hidden width), unsup=W (the weight of D's real-vs-fake loss)."""
import sys, time, json, copy, shutil
import torch
torch.set_num_threads(1)
import gankit.apps.semi as S
ds, K, minutes, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
opts = {}
for kv in sys.argv[5:]:
    k, v = kv.split("="); opts[k] = json.loads(v) if v[0].isdigit() or v[0] in "-[" else v
ent, dema, decay = opts.pop("ent", 0.0), opts.pop("dema", 0.0), opts.pop("decay", 0)
in_noise = opts.pop("in_noise", None)   # std of the noise on D's input (the task: 0.3)
shift, cons = opts.pop("shift", 0), opts.pop("cons", 0.0)
vat, nogan = opts.pop("vat", 0.0), opts.pop("nogan", 0)
pseudo, pseudo_from = opts.pop("pseudo", 0.0), opts.pop("pseudo_from", 0.5)
pseudo_cap = opts.pop("pseudo_cap", 0)   # > 0: at most this many per class, the most confident
conv, gw = opts.pop("conv", 0), opts.pop("gw", 0)   # conv front end channels; G's width
conv2 = opts.pop("conv2", 0)   # > 0: conv 5x5 stride 2 (conv), conv 3x3 stride 2 (conv2), no pool
cstride = opts.pop("cstride", 1)   # the conv's stride (2: 14x14 maps, then a 2x2 max pool)
unsup_w = opts.pop("unsup", 1.0)   # weight of D's real-vs-fake loss
PL = {"x": None, "y": None, "gen": torch.Generator().manual_seed(1234)}
def _unit(d):
    return d / (d.flatten(1).norm(dim=1).view(-1, *[1] * (d.dim() - 1)) + 1e-12)
def vat_loss(D, x, eps, xi=1e-6):
    """Virtual adversarial training (Miyato et al. 2018): KL(p(x) || p(x + r)) for the r of norm
    eps that most changes D's class distribution, found by one power iteration."""
    with torch.no_grad():
        logp = torch.log_softmax(D(x).float(), 1)
    d = (xi * _unit(torch.randn_like(x))).requires_grad_()
    kl = (logp.exp() * (logp - torch.log_softmax(D(x + d).float(), 1))).sum(1).mean()
    r = eps * _unit(torch.autograd.grad(kl, d)[0].detach())
    return (logp.exp() * (logp - torch.log_softmax(D(x + r).float(), 1))).sum(1).mean()
import torch.nn.functional as F
def translate(x, p):
    """Each image moved by a random whole number of pixels in -p..p on each axis, blank (-1) fill."""
    n, H, W = x.shape[0], x.shape[-2], x.shape[-1]
    xp = F.pad(x, (p, p, p, p), value=-1.0)
    dy, dx = torch.randint(0, 2 * p + 1, (n,)), torch.randint(0, 2 * p + 1, (n,))
    rows = (dy[:, None] + torch.arange(H))[:, :, None]; cols = (dx[:, None] + torch.arange(W))[:, None, :]
    return xp[torch.arange(n)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
orig = S.SemiTask.d_loss
def d_loss(self, batch):
    if shift:
        xu, xl, yl = batch; batch = (translate(xu, shift), translate(xl, shift), yl)
    if nogan:
        xu, xl, yl = batch; ll = self.D(xl).float(); loss = F.cross_entropy(ll, yl)
        stats = {"d_sup": loss, "train_acc": (ll.argmax(1) == yl).float().mean()}
    else:
        loss, stats = orig(self, batch)
        if unsup_w != 1.0:
            loss = stats["d_sup"] + unsup_w * stats["d_unsup"]
    if vat:
        v = vat_loss(self.D, batch[0], vat); stats["vat"] = v; loss = loss + v
    if cons:
        xu = batch[0]; v = translate(xu, shift) if shift else xu
        p1 = torch.softmax(self.D(xu).float(), 1); p2 = torch.softmax(self.D(v).float(), 1)
        c = ((p1 - p2) ** 2).sum(1).mean(); stats["cons"] = c; loss = loss + cons * c
    if pseudo and PL["x"] is not None:
        i = torch.randint(0, len(PL["x"]), (100,), generator=PL["gen"])
        c = F.cross_entropy(self.D(PL["x"][i]).float(), PL["y"][i]); stats["pseudo"] = c
        loss = loss + pseudo * c
    if ent:
        lu = self.D(batch[0]).float(); p = torch.softmax(lu, 1)
        h = -(p * torch.log_softmax(lu, 1)).sum(1).mean(); stats["ent"] = h; loss = loss + ent * h
    return loss, stats
S.SemiTask.d_loss = d_loss
if nogan:   # no generator: its step costs nothing and changes nothing
    S.SemiTask.g_loss = lambda self, batch: (torch.zeros((), requires_grad=True), {})
out = f"/tmp/gankit-probe-{'-'.join(sys.argv[1:])}".replace("=", "")[:200]
shutil.rmtree(out, ignore_errors=True)
clf = S.SemiGAN(ds, labels_per_class=K, seed=seed, out=out, log_every=10**6, sample_every=10**9, checkpoint_every=10**9, checkpoint_minutes=0, **opts)
if in_noise is not None:
    from gankit.nets.semi import noise_layers
    noise_layers(clf.task.D)[0].std = in_noise
if conv or gw:   # swap in other nets (same seed), with fresh optimizers
    from torch import nn
    from torch.nn.utils.parametrizations import weight_norm
    from gankit.nets.semi import GaussianNoise, SemiClassifier, SemiGenerator, noise_layers
    from gankit.train.optim import adam_for
    cfg, task = clf.run.config, clf.task
    torch.manual_seed(seed)
    if conv:   # D's input noise, the conv layers to 7x7 maps, D's hidden noise, then D's MLP
        c_in = cfg.data_shape[0]
        in_std, hidden_std = (layer.std for layer in noise_layers(task.D)[:2])
        D = SemiClassifier((conv2 or conv, 7, 7), len(clf.classes))   # first: the seed's weights
        if conv2:   # 5x5 stride 2 to `conv` channels, 3x3 stride 2 to `conv2`, no pooling
            front = [weight_norm(nn.Conv2d(c_in, conv, 5, 2, 2)), nn.ReLU(),
                     weight_norm(nn.Conv2d(conv, conv2, 3, 2, 1)), nn.ReLU()]
        else:   # 5x5 of `conv` channels at stride cstride, max pooling to 7x7
            front = [weight_norm(nn.Conv2d(c_in, conv, 5, cstride, 2)), nn.ReLU(),
                     nn.MaxPool2d(4 // cstride)]
        D.body = nn.Sequential(GaussianNoise(in_std), *front, nn.Flatten(), GaussianNoise(hidden_std),
                               *D.body[2:])
        task.D = task.nets["D"] = D
        for layer in noise_layers(D):
            layer.generator = task.generators["aux"]
    if gw:
        task.G = task.nets["G"] = SemiGenerator(cfg.data_shape, cfg.model.z_dim, gw)
    task.optimizers = adam_for(task.nets, cfg.train)
tr = clf.run.trainer
D_ema = copy.deepcopy(clf.task.D) if dema else None
base_lr = [g["lr"] for o in clf.task.optimizers.values() for g in o.param_groups]
t0 = time.process_time(); log = []; nxt = 30
def acc(net):
    D = clf.task.D; clf.task.D = net; a = clf.evaluate()["accuracy"]; clf.task.D = D; return a
budget = minutes * 60
if pseudo:
    unl = clf.semi.labels < 0
    x_unl = clf.semi.x[unl]
    x_unl = x_unl.float() / 127.5 - 1 if x_unl.dtype == torch.uint8 else x_unl.float()
    from gankit.data import load_dataset
    truth = load_dataset(ds, "train").labels[unl]
next_pl = pseudo_from * budget
while True:
    used = time.process_time() - t0
    if used >= budget: break
    if pseudo and used >= next_pl:
        next_pl = used + budget / 6
        p, pred = clf.predict_proba(x_unl).max(1)
        sure = p >= 0.95
        counts = torch.bincount(pred[sure], minlength=len(clf.classes))
        cap = pseudo_cap or max(int(2 * counts.float().median()), K)
        idx = torch.cat([i[p[i].argsort(descending=True)[:cap]] for i in
                         (torch.nonzero(sure & (pred == c)).flatten() for c in range(len(clf.classes)))])
        PL["x"], PL["y"] = x_unl[idx], pred[idx]
        print(("pseudo", round(used), len(idx), round(float((pred[idx] == truth[idx]).float().mean()), 3) if len(idx) else None), flush=True)
        if not len(idx): PL["x"] = None
    if decay:
        f = max(1 - used / budget, 0.0)
        for o, lr0 in zip([g for o in clf.task.optimizers.values() for g in o.param_groups], base_lr): o["lr"] = lr0 * f
    tr.train_step()
    if D_ema is not None:
        with torch.no_grad():
            for pe, p in zip(D_ema.parameters(), clf.task.D.parameters()): pe.lerp_(p, 1 - dema)
    if used > nxt:
        nxt += 60; row = (round(used), tr.step, round(acc(clf.task.D), 4)) + ((round(acc(D_ema), 4),) if D_ema is not None else ())
        log.append(row); print(row, flush=True)
final = {"acc": acc(clf.task.D), "acc_ema": acc(D_ema) if D_ema is not None else None}
print(json.dumps({"args": sys.argv[1:], "steps": tr.step, **final, "log": log}), flush=True)
