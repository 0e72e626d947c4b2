"""Every default of BAGAN training, by profile (paper, quick, smoke); flags override them."""
# Every default in one place. paper = IBM/BAGAN's run.sh (-u 0.05 -c 0 -e 150, Adam 5e-5, batch 128,
# AE epochs = GAN epochs, no early stopping); quick = a CPU budget; smoke = seconds, for tests.
# ae_patience: stop the autoencoder after this many epochs without a validation-loss improvement
# of more than ae_min_improvement (relative) and restore its best epoch; None = a fixed ae_epochs.
# The original's flags' defaults (-D -d -g) and its loss, in every profile
SHARED = dict(dataset="MNIST", dmode="uniform", gmode="uniform", loss="clipped")
PROFILES = {
    "paper": dict(SHARED, epochs=150, ae_epochs=150, ae_patience=None, ae_min_improvement=0.0,
                  real_sampling="natural", ms_lambda=0.0, batch_size=128, lr=5e-5, unbalance=0.05,
                  target_class=0, width=1.0, train_limit=None, test_limit=None, sample_every=10),
    # 1/4-width networks (1/8 gave blurred, collapsed digits), the original's lr 5e-5 (2e-4
    # collapsed the minority class within one epoch); the autoencoder to convergence (a 3-epoch one
    # starts the GAN from blurred digits), at most 40 epochs; class-balanced real batches for D: with
    # the natural ones (0.4 minority images per batch) D's minority probability on real minority
    # images fell from 0.09 to 0.02 in the first adversarial epoch and G's minority images stopped
    # being that class (reference accuracy 0.97 -> 0.13); MSGAN's mode-seeking term (ms_lambda 1):
    # without it every class's generated images narrow to one style in the first adversarial epoch
    # and stay so (pairwise SSIM of generated zeros 0.33 -> 0.51 -> 0.55 over 6 epochs), with it 0.28
    # after 2 epochs at reference accuracy 0.975. See docs/results-log.md, issue #20.
    "quick": dict(SHARED, epochs=4, ae_epochs=40, ae_patience=2, ae_min_improvement=0.01,
                  real_sampling="balanced", ms_lambda=1.0, batch_size=64, lr=5e-5, unbalance=0.05,
                  target_class=0, width=0.25, train_limit=24000, test_limit=1024, sample_every=1),
    "smoke": dict(SHARED, epochs=1, ae_epochs=1, ae_patience=None, ae_min_improvement=0.0,
                  real_sampling="natural", ms_lambda=0.0, batch_size=16, lr=5e-5, unbalance=0.05,
                  target_class=0, width=0.125, train_limit=256, test_limit=32, sample_every=1),
}
# What a --variant changes in every profile (flags still override): BAGAN-GP's paper settings
VARIANTS = {"bagan": {}, "gp": dict(lr=2e-4, critic_steps=5, gp_weight=10.0)}
