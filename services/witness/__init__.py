"""Witnesses (C2SP tlog-witness) and the checkpoint publisher (``coalchain witness`` / ``coalchain cosigner``)."""
