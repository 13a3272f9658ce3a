#!/usr/bin/python3
"""Golden data for stages/eval: lightly's knn_predict (verbatim logic, torch)
and scikit-learn's logistic regression on a seeded synthetic feature set.

Writes golden.bin (float32 little-endian: train [NTRAIN, D] then test
[NTEST, D]) and golden.json (sizes, labels, kNN predictions for several
(k, t), the linear reference accuracy). Regenerate:
    cd stages/eval/testdata && /usr/bin/python3 make_golden.py
"""
import json

import numpy as np
import torch
import torch.nn.functional as F

NTRAIN, NTEST, D, C = 1500, 400, 16, 10


def knn_predict(feature, feature_bank, feature_labels, num_classes, knn_k=200, knn_t=0.1):
    # lightly/utils/benchmarking/knn.py
    sim_matrix = torch.mm(feature, feature_bank)
    sim_weight, sim_indices = sim_matrix.topk(k=knn_k, dim=-1)
    sim_labels = torch.gather(feature_labels.expand(feature.size(0), -1), dim=-1, index=sim_indices)
    sim_weight = (sim_weight / knn_t).exp()
    one_hot_label = torch.zeros(feature.size(0) * knn_k, num_classes, device=sim_labels.device)
    one_hot_label = one_hot_label.scatter(dim=-1, index=sim_labels.view(-1, 1), value=1.0)
    pred_scores = torch.sum(one_hot_label.view(feature.size(0), -1, num_classes) * sim_weight.unsqueeze(dim=-1), dim=1)
    return pred_scores.argsort(dim=-1, descending=True), pred_scores


def main():
    rng = np.random.default_rng(20261127)
    means = rng.normal(0, 1.0, (C, D)) + 0.5  # an offset, so normalization matters
    ytr = rng.integers(0, C, NTRAIN)
    yte = rng.integers(0, C, NTEST)
    xtr = (means[ytr] + rng.normal(0, 1.1, (NTRAIN, D)) * rng.uniform(0.5, 2, (NTRAIN, 1))).astype(np.float32)
    xte = (means[yte] + rng.normal(0, 1.1, (NTEST, D)) * rng.uniform(0.5, 2, (NTEST, 1))).astype(np.float32)
    with open("golden.bin", "wb") as f:
        f.write(xtr.astype("<f4").tobytes())
        f.write(xte.astype("<f4").tobytes())

    bank = F.normalize(torch.from_numpy(xtr), dim=1).t().contiguous()
    q = F.normalize(torch.from_numpy(xte), dim=1)
    labels = torch.from_numpy(ytr)
    knn = []
    for k, t in ((200, 0.1), (20, 0.07), (1, 0.1)):
        pred, scores = knn_predict(q, bank, labels, C, k, t)
        top = scores.topk(2, dim=1).values
        margin = ((top[:, 0] - top[:, 1]) / top[:, 0]).min().item()
        p1 = pred[:, 0].numpy()
        knn.append({"k": k, "t": t, "pred": p1.tolist(), "top1": float((p1 == yte).mean()),
                    "min_relative_margin": margin})

    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    sc = StandardScaler().fit(xtr)
    lr = LogisticRegression(max_iter=2000).fit(sc.transform(xtr), ytr)
    lin = float((lr.predict(sc.transform(xte)) == yte).mean())

    json.dump({"ntrain": NTRAIN, "ntest": NTEST, "dim": D, "classes": C, "train_labels": ytr.tolist(),
               "test_labels": yte.tolist(), "knn": knn, "linear_sklearn_top1": lin,
               "torch": torch.__version__}, open("golden.json", "w"))
    print({e["k"]: (e["top1"], e["min_relative_margin"]) for e in knn}, "linear", lin)


if __name__ == "__main__":
    main()
