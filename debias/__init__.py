"""GAN latent-space de-biasing (Ramaswamy, Kim, Russakovsky, CVPR 2021): fair attribute classifiers
trained on real images plus generated pairs (G(z), G(z')) that keep the target attribute and flip the
protected one. Steps: train, generate, hallucinate, hyperplane, evaluate; `debias.pipeline` runs all."""
