"""Uses of trained GANs, built on the core (the core never imports them).

    augment   balanced synthetic labeled images from a conditional GAN, optionally filtered by a
              domain classifier, and a Dataset that mixes them with real labeled data
"""
