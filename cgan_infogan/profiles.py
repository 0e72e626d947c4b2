"""Every default of CGAN / InfoGAN training, by profile (smoke, quick, paper); flags override them."""
# Epochs over the training images. quick: 5 epochs of all 60k images (2,340 steps) per GAN, about
# 10 min each on an idle 2-core CPU; paper: the original's CONSTANTS.py (CGAN_EPOCH 500,
# INFO_GAN_EPOCH 100, batch 128, lr 2e-4). mapping_every: epochs between measurements of the
# InfoGAN's code -> digit mapping accuracy (infogan/mapping.csv; 0 = never; needs the cached
# reference MNIST classifier, trained once on first use).
PROFILES = {
    "smoke": dict(cgan_epochs=1, infogan_epochs=1, batch_size=32, train_limit=256, cgan_lr=2e-4,
                  infogan_variant="kalpak92", mapping_every=0),
    "quick": dict(cgan_epochs=5, infogan_epochs=5, batch_size=128, train_limit=None, cgan_lr=2e-4,
                  infogan_variant="kalpak92", mapping_every=1),
    "paper": dict(cgan_epochs=500, infogan_epochs=100, batch_size=128, train_limit=None, cgan_lr=2e-4,
                  infogan_variant="kalpak92", mapping_every=5),
}
