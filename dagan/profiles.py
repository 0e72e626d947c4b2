"""Every default of DAGAN training, by profile (smoke, quick, paper); flags override them."""
# critic_dropout 0.5: both originals; ms_lambda 0: no mode-seeking term, as the originals;
# ms_dropout "independent": MSGAN as published (matters only with ms_lambda > 0); mismatch 0: the
# critic sees no real pairs of different characters, as the originals; mismatch_gp False: the penalty
# only on the lines to G's images (as before the option existed)
SHARED = dict(dataset="omniglot", image_size=None, train_classes=None, val_classes=None, z_dim=100,
              dropout=0.5, critic_dropout=0.5, critic_steps=5, gp_weight=10.0, gp_axes="sample", lr=1e-4,
              ms_lambda=0.0, ms_dropout="independent", mismatch=0.0, mismatch_gp=False, rotate=False, wide_connections=False,
              steps_per_epoch=None)
PROFILES = {
    # seconds: checks that everything runs
    "smoke": dict(SHARED, widths=(4, 4, 8, 8), generator_inner_layers=0, critic_inner_layers=0,
                  z_dim=8, batch_size=4, epochs=1, steps_per_epoch=2, batch_renorm=False),
    # a 2-core CPU in ~5 min: narrow networks, 1 inner layer, 1,000 iterations (5,000 critic updates;
    # 280 s measured at 3.6 iterations/s, docs/results-log.md)
    "quick": dict(SHARED, widths=(16, 16, 32, 32), generator_inner_layers=1, critic_inner_layers=1,
                  batch_size=16, epochs=20, steps_per_epoch=50, batch_renorm=False),
    # TF original + README: widths 64-128, 3 (G) / 5 (D) inner layers, batch renorm, batch 32,
    # 200 epochs of N_train / 32 iterations (each 5 critic + 1 generator update)
    "paper": dict(SHARED, widths=(64, 64, 128, 128), generator_inner_layers=3, critic_inner_layers=5,
                  batch_size=32, epochs=200, batch_renorm=True),
}
