"""The InfoGAN variants (losses, rates, where the Q head trains) and the row a run was built with.
Kept free of TensorFlow: train.py's argument parser lists them before anything heavy is imported."""

# The InfoGAN variants overlaid on a profile (REFERENCE 3c, 7).
#   kalpak92: the reproduced repository (default): D and G/Q Adam(2e-4), CE + 0.1 NLL in the G/Q loss
#     only, Q head trained with G, learned variance of the continuous codes.
#   official: openai/InfoGAN (run_mnist_exp.py: generator_learning_rate 1e-3, discriminator 2e-4,
#     info_reg_coeff 1.0; infogan_trainer.py subtracts the MI estimate from both losses; the Q head is
#     built in the d_net scope, so D's optimizer (2e-4) trains it, not G's (1e-3): q_with "d";
#     Uniform(1, fix_std=True) codes; noise Uniform(62), i.e. z ~ U(-1, 1): z_prior; leaky_rectify's
#     leak 0.01 in D and Q (custom_ops.py): leak).
# openai_details (--openai-details, official only): the rest of openai's code, D on [0, 1] images,
#   truncated-normal conv init, G's last-layer bias, fresh codes for the G step; off in both rows,
#   so the runs measured before it reload as they were trained.
INFOGAN_VARIANTS = {
    "kalpak92": dict(d_lr=2e-4, g_lr=2e-4, cat_weight=1.0, cont_weight=0.1, info_in_d=False, q_with="g",
                     fixed_std=False, z_prior="normal", leak=0.1, openai_details=False),
    "official": dict(d_lr=2e-4, g_lr=1e-3, cat_weight=1.0, cont_weight=1.0, info_in_d=True, q_with="d",
                     fixed_std=True, z_prior="uniform", leak=0.01, openai_details=False),
}


def infogan_settings(config):
    """The InfoGAN variant's row, with --lr (if given) for both rates and --openai-details."""
    row = dict(INFOGAN_VARIANTS[config.get("infogan_variant", "kalpak92")])
    row["openai_details"] = bool(config.get("openai_details"))
    if config.get("lr"):
        row.update(d_lr=config["lr"], g_lr=config["lr"])
    return row


def variant_of(sub_config):
    """The variant row a trained InfoGAN run was built with (runs made before the variants are kalpak92)."""
    if "variant" not in sub_config:
        return dict(INFOGAN_VARIANTS["kalpak92"], d_lr=sub_config.get("lr", 2e-4), g_lr=sub_config.get("lr", 2e-4))
    # keys added later (z_prior, leak) take kalpak92's value, which every run made before them had
    return {k: sub_config.get(k, v) for k, v in INFOGAN_VARIANTS["kalpak92"].items()}
