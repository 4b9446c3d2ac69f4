"""Uses of trained GANs, built on the core. The core reaches them only through `load_run`, which
hands runs of a translation task to `translate.load_translator`.

    augment    balanced synthetic labeled images from a conditional GAN, optionally filtered by a
               domain classifier, and a Dataset that mixes them with real labeled data
"""
