#!/usr/bin/env python3
"""Tests of bench/quality_tables.py (ctest: bench.quality_tables), on small work directories made here.

The AUCs are checked against a count over every positive-negative pair, the standardisation against the
bins' AUCs weighted by hand, the error of an AUC against a bootstrap, the draws' summary against its
definition. The standard library only, as quality.sh's /usr/bin/python3.
"""
import csv, json, os, random, sys, tempfile, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality_tables as qt  # noqa: E402

TRUTH = "id,target,snr,drift,signal,interference,energy,signal_params,interference_params"


def pair_auc(pairs):  # the AUC by its definition: P(positive > negative), ties counting half
    pos = [s for s, y in pairs if y == 1]
    neg = [s for s, y in pairs if y == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")


def make_run(work, data, row, train, test, oof_auc=None, test_auc=None):
    """A run directory and its data: train/test are (id, target, snr, energy, score) tuples."""
    run = os.path.join(work, "run-" + row)
    os.makedirs(run, exist_ok=True)
    os.makedirs(data, exist_ok=True)
    truth = lambda rows: [(i, t, snr if t else "", "0.001" if t else "", "straight+pulsed+box" if t else "", "",
                           e if t else "", "", "") for i, t, snr, e, _ in rows]
    write_csv(os.path.join(data, "train_signals.csv"), TRUTH, truth(train))
    write_csv(os.path.join(data, "test_labels.csv"), TRUTH, truth(test))
    write_csv(os.path.join(run, "oof.csv"), "id,target,prediction,fold", [(i, t, s, 0) for i, t, _, _, s in train])
    write_csv(os.path.join(run, "submission.csv"), "id,target", [(i, s) for i, _, _, _, s in test])
    oof_auc = pair_auc([(s, t) for _, t, _, _, s in train]) if oof_auc is None else oof_auc
    test_auc = pair_auc([(s, t) for _, t, _, _, s in test]) if test_auc is None else test_auc
    for name, value in (("cv.json", {"oof_auc": oof_auc, "fold_auc": [oof_auc]}),
                        ("predict.json", {"test ROC AUC (test_labels.csv)": test_auc}),
                        ("wall.json", {"row": row, "what": row, "wall_s": 1.0})):
        with open(os.path.join(run, name), "w") as f:
            json.dump(value, f)


def draw_set(rng, prefix, n_neg, positives):
    """Negatives scored N(0, 1), positives (snr, energy, shift) scored N(shift, 1)."""
    rows = [("%s%04d" % (prefix, k), 0, 0, 0, round(rng.gauss(0, 1), 4)) for k in range(n_neg)]
    for k, (snr, energy, shift) in enumerate(positives):
        rows.append(("%sp%03d" % (prefix, k), 1, snr, energy, round(rng.gauss(shift, 1), 4)))
    return rows


class AucTest(unittest.TestCase):
    def test_rank_auc_is_the_pair_count_ties_included(self):
        rng = random.Random(1)
        for _ in range(20):
            pairs = [(rng.choice([0.1, 0.2, 0.3, rng.random()]), rng.randint(0, 1)) for _ in range(40)]
            if len({y for _, y in pairs}) < 2:
                continue
            self.assertAlmostEqual(qt.rank_auc(pairs), pair_auc(pairs), places=12)
        self.assertIsNone(qt.rank_auc([(0.1, 1), (0.2, 1)]))

    def test_hanley_mcneil_agrees_with_a_bootstrap(self):
        rng = random.Random(2)
        pairs = [(rng.gauss(1.2, 1), 1) for _ in range(60)] + [(rng.gauss(0, 1), 0) for _ in range(300)]
        a = qt.rank_auc(pairs)
        boot = []
        for _ in range(400):
            pos = [rng.choice(pairs[:60]) for _ in range(60)]
            neg = [rng.choice(pairs[60:]) for _ in range(300)]
            boot.append(qt.rank_auc(pos + neg))
        m = sum(boot) / len(boot)
        sd = (sum((b - m) ** 2 for b in boot) / (len(boot) - 1)) ** 0.5
        self.assertLess(abs(qt.hanley_mcneil(a, 60, 300) / sd - 1), 0.25)


class MatchedEnergyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.work = self.tmp.name
        self.data = os.path.join(self.work, "data")
        rng = random.Random(3)
        # training positives: 30 in 3-5, 10 in 10-15 (weights 3/4, 1/4); test: 10 in 3-5 (fainter scores), 20 in
        # 10-15, 8 pulsed ones at SNR 12 with energy 0.2 (2.4: below the training set's least SNR, no weight)
        self.train = draw_set(rng, "a", 200, [(4, 1, 1.0)] * 30 + [(12, 1, 3.0)] * 10)
        self.test = draw_set(rng, "b", 200, [(4.5, 1, 0.5)] * 10 + [(11, 1, 3.0)] * 20 + [(12, 0.2, -1.0)] * 8)
        make_run(self.work, self.data, "r", self.train, self.test)

    def tearDown(self):
        self.tmp.cleanup()

    def bin_auc(self, rows, lo, hi):
        return pair_auc([(s, t) for _, t, snr, e, s in rows if t == 0 or lo <= snr * e < hi])

    def test_each_side_is_its_bins_weighted_by_the_training_shares(self):
        oof, test, se = qt.matched_energy(self.work, self.data, "r")
        self.assertAlmostEqual(oof, 0.75 * self.bin_auc(self.train, 3, 5) + 0.25 * self.bin_auc(self.train, 10, 15), 12)
        self.assertAlmostEqual(test, 0.75 * self.bin_auc(self.test, 3, 5) + 0.25 * self.bin_auc(self.test, 10, 15), 12)
        self.assertGreater(se, 0.01)
        self.assertLess(se, 0.2)

    def test_positives_fainter_than_the_training_set_carry_no_weight(self):
        before = qt.matched_energy(self.work, self.data, "r")
        self.assertIsNotNone(before)
        raised = [(i, t, snr, e, s + 10 if e == 0.2 else s) for i, t, snr, e, s in self.test]
        make_run(self.work, self.data, "r", self.train, raised)
        self.assertEqual(qt.matched_energy(self.work, self.data, "r"), before)
        # while the plain test AUC counts them
        self.assertNotAlmostEqual(pair_auc([(s, t) for _, t, _, _, s in raised]),
                                  pair_auc([(s, t) for _, t, _, _, s in self.test]), 3)

    def test_a_bin_the_training_set_fills_and_the_test_set_does_not_gives_no_number(self):
        self.assertIsNotNone(qt.matched_energy(self.work, self.data, "r"))  # before: a number
        make_run(self.work, self.data, "r", self.train, [r for r in self.test if not (r[1] and r[2] == 4.5)])
        self.assertIsNone(qt.matched_energy(self.work, self.data, "r"))

    def test_a_truth_file_without_energy_gives_no_number(self):
        self.assertIsNotNone(qt.matched_energy(self.work, self.data, "r"))  # before: a number
        path = os.path.join(self.data, "test_labels.csv")
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        write_csv(path, ",".join(rows[0][:6]), [r[:6] for r in rows[1:]])
        self.assertIsNone(qt.matched_energy(self.work, self.data, "r"))


class DrawsTest(unittest.TestCase):
    def test_the_mean_gap_and_its_error_over_draws(self):
        with tempfile.TemporaryDirectory() as root:
            rng = random.Random(4)
            for name in ("shift", "shift2", "shift3"):
                work = os.path.join(root, name)
                train = draw_set(rng, "a", 150, [(5, 1, 1.5)] * 20)
                test = draw_set(rng, "b", 150, [(5, 1, 1.0)] * 20 + [(6, 0.3, 0.0)] * 5)
                make_run(work, os.path.join(work, "data"), "r", train, test)
            out = os.path.join(root, "q.md")
            with open(out, "w") as f:
                f.write("# doc\n\nbefore\n")
            qt.draws(out, root, ["r", "absent"], "data")
            doc = qt.read_text(out)
            self.assertTrue(doc.startswith("# doc\n\nbefore\n"))
            line = [l for l in doc.splitlines() if l.startswith("| r |")]
            self.assertEqual(len(line), 1)
            self.assertNotIn("| absent |", doc)
            cells = [c.strip() for c in line[0].strip("|").split("|")]
            self.assertEqual(cells[1], "3")
            gaps, errors, tests, matched = [], [], [], []
            for name in ("shift", "shift2", "shift3"):
                work = os.path.join(root, name)
                cv, pr = qt.load(work, "r", "cv.json"), qt.load(work, "r", "predict.json")
                t = pr["test ROC AUC (test_labels.csv)"]
                tests.append(t)
                gaps.append(cv["oof_auc"] - t)
                errors.append(qt.gap_se(work, os.path.join(work, "data"), "r", cv["oof_auc"], t))
                matched.append(qt.matched_energy(work, os.path.join(work, "data"), "r"))
            def spread(x):  # the standard deviation of the draws' values over the root of their count
                m = sum(x) / len(x)
                return (sum((v - m) ** 2 for v in x) / (len(x) - 1)) ** 0.5 / len(x) ** 0.5
            self.assertEqual(cells[2], "%.4f" % (sum(tests) / 3))
            self.assertEqual(cells[3], "%+.4f ± %.3f; ± %.3f" % (sum(gaps) / 3, sum(e * e for e in errors) ** 0.5 / 3,
                                                               spread(gaps)))
            m_gaps = [o - t for o, t, _ in matched]
            self.assertEqual(cells[4], "%+.4f ± %.3f; ± %.3f" % (sum(m_gaps) / 3, sum(e * e for _, _, e in matched) ** 0.5 / 3,
                                                               spread(m_gaps)))
            # the positives below every training positive carry no weight: the matched gap is not the raw one
            self.assertNotEqual(cells[3].split()[0], cells[4].split()[0])
            # written again: the block is replaced, not added
            qt.draws(out, root, ["r"], "data")
            self.assertEqual(qt.read_text(out).count("<!-- quality.sh draws: begin -->"), 1)


if __name__ == "__main__":
    unittest.main()
