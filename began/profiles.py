"""Every default of BEGAN training, by profile (smoke, quick, paper); flags override them."""
# Learning rate: carpedm20's step schedule by default (halve every lr_step updates, floor 2e-5).
# carpedm20 halves every 100,000 of its 500,000 steps, i.e. after each fifth of the run; the stall
# rule ("plateau") is an option whose window is as long as lr_step (carpedm20's commented-out rule
# averaged M over lr_update_step steps), i.e. thousands of steps, never a 2-epoch window.
SHARED = dict(dataset="celeba", gamma=0.5, lambda_k=0.001, lr=1e-4, lr_decay="step",
              lr_min_delta=0.01, lr_patience=1, lr_step=100000, lr_window=100000, lr_floor=2e-5,
              train_limit=None, shared_z=False)
PROFILES = {
    # seconds: checks that everything runs (halvings every 4 steps so that the schedule acts)
    "smoke": dict(SHARED, image_size=32, num_filters=8, hidden=16, batch_size=8, epochs=1,
                  train_limit=64, lr_step=4, lr_window=4),
    # ~40 min on an idle 2-core CPU (~75 images/s): 32x32 faces, the 4,560 training images of the
    # CelebA subset, n = 16, one z for both losses (carpedm20) to save a quarter of the work. 40
    # epochs, not 8: at 8 the samples are still one face (FID 223), at 40 they vary (FID 105), which
    # the de-biasing pipeline needs (docs/RESULTS.md). 40 x 285 = 11,400 steps; lr_step 2,280 = a
    # fifth of them, carpedm20's proportion, so the rate halves at 20/40/60/80 % of the run (1e-4,
    # 5e-5, 2.5e-5, then the 2e-5 floor) instead of stepping to the floor within a few epochs.
    "quick": dict(SHARED, image_size=32, num_filters=16, hidden=64, batch_size=16, epochs=40,
                  lr_step=2280, lr_window=2280, shared_z=True),
    # the published settings: 64 px, n = 128, batch 16, ~500k steps (carpedm20's max_step) on the
    # 4,560 training images = 285 steps per epoch; halvings every 100,000 steps (lr_update_step)
    "paper": dict(SHARED, image_size=64, num_filters=128, hidden=64, batch_size=16, epochs=1755),
}
