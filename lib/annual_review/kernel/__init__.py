"""What runs inside a warm kernel around each section: the warm-up, the questions after a section and the reset
that follows them (see :mod:`annual_review.kernel.session`, the engine's contract with the kernel)."""
