"""Sub-commands of ``credit-dw``; each module registers itself (see ``credit_dw.cli``)."""
